ALTER TABLE orders RENAME COLUMN total_amount TO total;

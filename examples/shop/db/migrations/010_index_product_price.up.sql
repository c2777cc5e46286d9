-- Built without blocking writes on a live table.
CREATE INDEX CONCURRENTLY idx_products_price ON products (price);

DROP INDEX CONCURRENTLY idx_products_price;

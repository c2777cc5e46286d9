DROP INDEX idx_customers_unverified;

CREATE INDEX idx_customers_unverified ON customers (id) WHERE NOT email_verified;

-- confiture:no-transaction
CREATE INDEX CONCURRENTLY i ON t (id);

ALTER TABLE customers DROP COLUMN email_verified;
ALTER TABLE customers ALTER COLUMN email TYPE text;

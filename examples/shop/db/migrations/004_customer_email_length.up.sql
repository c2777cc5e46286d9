-- Bound e-mail addresses to RFC 5321's 320 characters and track
-- verification.
ALTER TABLE customers
    ALTER COLUMN email TYPE varchar(320);
ALTER TABLE customers ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

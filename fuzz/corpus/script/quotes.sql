DO $$ BEGIN RAISE NOTICE 'x;'; END $$;
/* a; */ SELECT E'\'';' -- ;
\i other.sql

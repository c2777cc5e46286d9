--
-- PostgreSQL database dump
--

\restrict 6lsMVUNIw6cvcdWx3RgyhD3beccEH5jU8LzwuyvStATf2WfQ0XY96a5o8aLVRUD

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: f(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.f() RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 SELECT 1;
 SELECT 2;
END;


ALTER FUNCTION public.f() OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: t; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.t (
    id integer,
    s text
);


ALTER TABLE public.t OWNER TO postgres;

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.t (id, s) FROM stdin;
1	a\\b
2	x\ty
\.


--
-- Name: t r; Type: RULE; Schema: public; Owner: postgres
--

CREATE RULE r AS
    ON INSERT TO public.t DO ( SELECT 1 AS "?column?";
 SELECT 2 AS "?column?";
);


--
-- PostgreSQL database dump complete
--

\unrestrict 6lsMVUNIw6cvcdWx3RgyhD3beccEH5jU8LzwuyvStATf2WfQ0XY96a5o8aLVRUD


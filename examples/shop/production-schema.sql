-- Example "production" schema for the shop project: pg_dump --schema-only of a
-- database where migrations 001-003 were applied, plus hand-made hotfixes
-- (a view on customers.email, an index on orders.status, an extra column).
-- Owners and grants name roles that exist only in production.
--
-- PostgreSQL database dump
--


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

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: customers; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.customers (
    id bigint NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE public.customers OWNER TO shop_owner;

--
-- Name: customer_emails; Type: VIEW; Schema: public; Owner: postgres
--

CREATE VIEW public.customer_emails AS
 SELECT customers.id,
    customers.email
   FROM public.customers;


ALTER TABLE public.customer_emails OWNER TO shop_owner;

--
-- Name: customers_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.customers ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.customers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: orders; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.orders (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    total numeric(12,2) NOT NULL,
    status text DEFAULT 'new'::text NOT NULL,
    legacy_ref text
);


ALTER TABLE public.orders OWNER TO shop_owner;

--
-- Name: orders_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.orders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: products; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.products (
    id bigint NOT NULL,
    sku text NOT NULL,
    price numeric(12,2) NOT NULL
);


ALTER TABLE public.products OWNER TO shop_owner;

--
-- Name: products_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.products ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.products_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: tb_confiture; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.tb_confiture (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    pk_confiture bigint NOT NULL,
    slug text NOT NULL,
    version character varying(255) NOT NULL,
    name character varying(255) NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    execution_time_ms integer,
    checksum character varying(64)
);


ALTER TABLE public.tb_confiture OWNER TO shop_owner;

--
-- Name: tb_confiture_pk_confiture_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.tb_confiture ALTER COLUMN pk_confiture ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.tb_confiture_pk_confiture_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);


--
-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);


--
-- Name: products products_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.products
    ADD CONSTRAINT products_pkey PRIMARY KEY (id);


--
-- Name: products products_sku_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.products
    ADD CONSTRAINT products_sku_key UNIQUE (sku);


--
-- Name: tb_confiture tb_confiture_pk_confiture_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.tb_confiture
    ADD CONSTRAINT tb_confiture_pk_confiture_key UNIQUE (pk_confiture);


--
-- Name: tb_confiture tb_confiture_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.tb_confiture
    ADD CONSTRAINT tb_confiture_pkey PRIMARY KEY (id);


--
-- Name: tb_confiture tb_confiture_slug_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.tb_confiture
    ADD CONSTRAINT tb_confiture_slug_key UNIQUE (slug);


--
-- Name: tb_confiture tb_confiture_version_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.tb_confiture
    ADD CONSTRAINT tb_confiture_version_key UNIQUE (version);


--
-- Name: idx_orders_status; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX idx_orders_status ON public.orders USING btree (status);


--
-- Name: idx_tb_confiture_applied_at; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX idx_tb_confiture_applied_at ON public.tb_confiture USING btree (applied_at DESC);


--
-- Name: idx_tb_confiture_pk_confiture; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX idx_tb_confiture_pk_confiture ON public.tb_confiture USING btree (pk_confiture);


--
-- Name: idx_tb_confiture_slug; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX idx_tb_confiture_slug ON public.tb_confiture USING btree (slug);


--
-- Name: idx_tb_confiture_version; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX idx_tb_confiture_version ON public.tb_confiture USING btree (version);


--
-- Name: orders orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);


--
-- PostgreSQL database dump complete
--


--
-- Privileges (roles that exist only in production)
--

GRANT SELECT ON TABLE public.customer_emails TO reporting;
GRANT SELECT,INSERT,UPDATE ON TABLE public.orders TO shop_app;


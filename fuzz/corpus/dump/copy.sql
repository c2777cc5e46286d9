COPY s TO STDOUT;
COPY t (a, b) FROM stdin;
1	\\x
\.

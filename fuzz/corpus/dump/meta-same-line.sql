CREATE TABLE a (id int); \! id

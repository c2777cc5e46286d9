CREATE FUNCTION f() RETURNS int LANGUAGE sql
BEGIN ATOMIC
 SELECT 1;
 SELECT CASE WHEN true THEN 2 END;
END;
CREATE RULE r AS ON INSERT TO t DO ( SELECT 1;
 SELECT 2;
);
SELECT $q$ a $b$ \! $q$, E'a\''
'b\'', U&'\0041', B'1' /* x /* y */ */ -- z
;

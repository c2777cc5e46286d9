CREATE VIEW order_summary AS
SELECT c.id AS customer_id, count(o.id) AS orders, sum(o.total_amount) AS spent
  FROM customers c
  LEFT JOIN orders o ON o.customer_id = c.id
 GROUP BY c.id;

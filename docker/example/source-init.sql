-- Example source for the compose setup: a small customers table of made-up people.
CREATE TABLE customers (
    customer_id integer PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    plan text NOT NULL,
    monthly_spend numeric(10, 2) NOT NULL,
    gender text NOT NULL,
    age integer NOT NULL,
    churned boolean NOT NULL
);

INSERT INTO customers
SELECT i,
       'Customer ' || i,
       'customer' || i || '@example.com',
       (ARRAY['free', 'pro', 'enterprise'])[1 + i % 3],
       round((random() * 200)::numeric, 2),
       (ARRAY['female', 'male'])[1 + i % 2],
       18 + (i * 7) % 70,
       random() < 0.2
FROM generate_series(1, 2000) AS i;

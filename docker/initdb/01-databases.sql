-- Run once by the postgres image on an empty data volume (docker-compose.yaml mounts this folder
-- at /docker-entrypoint-initdb.d). One database per concern, the same set as the embedded server
-- (assay.config.EMBEDDED_DATABASES). \gexec makes each CREATE conditional, so the script also works
-- when POSTGRES_USER or POSTGRES_DB already named one of them.
SELECT 'CREATE DATABASE airflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow')\gexec
SELECT 'CREATE DATABASE assay' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'assay')\gexec
SELECT 'CREATE DATABASE mlflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
SELECT 'CREATE DATABASE shop' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shop')\gexec

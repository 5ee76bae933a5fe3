-- Creates the two databases of MCS on a new PostgreSQL server (design section 2):
--   airflow  Airflow's metadata; its tables come from `airflow db migrate`
--   mcs      MCS's own tables; they come from `mcs db upgrade`
--
-- The postgres image runs this once, when its data volume is empty, as POSTGRES_USER, who then owns
-- both, with the names AIRFLOW_DB_NAME and MCS_DB_NAME that docker-compose.yaml passes from .env
-- (`airflow` and `mcs` when unset). For a server you already run, the same script works with psql 15
-- or later:
--
--   AIRFLOW_DB_NAME=airflow MCS_DB_NAME=mcs psql -h db.example.internal -U USER -d postgres -f deploy/postgres/init.sql
--
-- A database that exists already is left as it is, so running it twice does no harm. UTF8 with
-- template0 so that workflow names and keys can be Chinese whatever the server's default encoding.

\set ON_ERROR_STOP on

\getenv airflow_db AIRFLOW_DB_NAME
\if :{?airflow_db}
\else
\set airflow_db airflow
\endif

\getenv mcs_db MCS_DB_NAME
\if :{?mcs_db}
\else
\set mcs_db mcs
\endif

SELECT format('CREATE DATABASE %I ENCODING %L TEMPLATE template0', name, 'UTF8')
FROM (VALUES (:'airflow_db'), (:'mcs_db')) AS wanted (name)
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = wanted.name)
\gexec

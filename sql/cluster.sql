--
-- cluster: one engine serves every database of the cluster.  The foreign
-- tables of every database that installs the extension show the same data;
-- a database whose encoding is not UTF8 is refused (the engine's text is
-- UTF-8, and every database reads it); DROP EXTENSION keeps the data.
--
-- Keys used here start with 'cl-'; databases are regress_ts_*; everything
-- is dropped at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY default
INSERT INTO treestore.documents (policy_id, title) VALUES ('cl-1', 'written in contrib_regression: Grüße, naïve, 東京');

-- ===================================================================
-- a second database sees the same rows, and its writes are seen here
-- ===================================================================
CREATE DATABASE regress_ts_other TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_ts_other
SET client_min_messages = warning;
CREATE EXTENSION treestore_fdw;
RESET client_min_messages;
SELECT policy_id, title, octet_length(title) AS bytes FROM treestore.documents WHERE policy_id LIKE 'cl-%';
INSERT INTO treestore.documents (policy_id, title) VALUES ('cl-2', 'written in regress_ts_other');
\c contrib_regression
SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'cl-%' ORDER BY 1;

-- ===================================================================
-- a database that is not UTF8: refused at CREATE EXTENSION (0A000) and at
-- first use
-- ===================================================================
CREATE DATABASE regress_ts_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_ts_latin1
CREATE EXTENSION treestore_fdw;
\echo :SQLSTATE
SELECT count(*) FROM pg_namespace WHERE nspname = 'treestore';
-- the library's functions called without the extension: refused too
CREATE FUNCTION ts_checkpoint() RETURNS void AS 'treestore_fdw', 'treestore_checkpoint' LANGUAGE C;
SELECT ts_checkpoint();
\echo :SQLSTATE
CREATE FUNCTION ts_health() RETURNS jsonb AS 'treestore_fdw', 'treestore_health' LANGUAGE C;
SELECT ts_health()->>'status' AS status;
\c contrib_regression

-- ===================================================================
-- DROP EXTENSION leaves the engine's data in place: CREATE EXTENSION
-- brings the rows back
-- ===================================================================
DROP EXTENSION treestore_fdw;
SELECT count(*) FROM pg_namespace WHERE nspname = 'treestore';
SET client_min_messages = warning;
CREATE EXTENSION treestore_fdw;
RESET client_min_messages;
SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'cl-%' ORDER BY 1;

-- ===================================================================
-- clean up
-- ===================================================================
DROP DATABASE regress_ts_latin1;
DROP DATABASE regress_ts_other;
DELETE FROM treestore.documents WHERE policy_id LIKE 'cl-%';
SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'cl-%';

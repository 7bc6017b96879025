--
-- privileges: the foreign tables and functions are usable by their owner
-- until granted; nothing in schema treestore runs as its owner.
--
-- Keys used here start with 'pv-'; roles are regress_ts_*; everything is
-- dropped at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY terse

-- nothing in schema treestore is SECURITY DEFINER (or leaks its owner's rights)
SELECT count(*) AS security_definer FROM pg_proc
 WHERE pronamespace = 'treestore'::regnamespace AND prosecdef;
-- no grants to PUBLIC beyond USAGE on the schema
SELECT has_schema_privilege('public', 'treestore', 'USAGE') AS schema_usage,
       has_schema_privilege('public', 'treestore', 'CREATE') AS schema_create,
       has_server_privilege('public', 'treestore', 'USAGE') AS server_usage,
       has_foreign_data_wrapper_privilege('public', 'treestore_fdw', 'USAGE') AS fdw_usage;
SELECT c.relname, a.grantee::regrole, a.privilege_type
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace = 'treestore'::regnamespace AND a.grantee <> c.relowner;
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.oid IN ('treestore.health()'::regprocedure, 'treestore.checkpoint()'::regprocedure)
 ORDER BY 1;

CREATE ROLE regress_ts_user;
-- the eight tables, each with a non-key column to update
CREATE TABLE pv_tables (t text, c text);
INSERT INTO pv_tables VALUES ('documents', 'title'), ('versions', 'doc_name'), ('nodes', 'title'),
  ('cross_references', 'context'), ('tool_results', 'tool_name'), ('trajectories', 'action'),
  ('prompts', 'name'), ('prompt_usage', 'response');
GRANT SELECT ON pv_tables TO regress_ts_user;
INSERT INTO treestore.documents (policy_id, title) VALUES ('pv-1', 'owner wrote this');

-- ===================================================================
-- without grants: 42501 everywhere
-- ===================================================================
SET ROLE regress_ts_user;
-- pv_try(sql): runs sql, returns 'ok' or the SQLSTATE and message of its error
CREATE FUNCTION pg_temp.pv_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT t AS "table",
       pg_temp.pv_try(format('SELECT count(*) FROM treestore.%I', t)) AS "select",
       pg_temp.pv_try(format('INSERT INTO treestore.%I DEFAULT VALUES', t)) AS "insert",
       pg_temp.pv_try(format('UPDATE treestore.%I SET %I = NULL', t, c)) AS "update",
       pg_temp.pv_try(format('DELETE FROM treestore.%I', t)) AS "delete"
  FROM pv_tables;
SELECT count(*) FROM treestore.documents;
\echo :SQLSTATE
INSERT INTO treestore.documents (policy_id) VALUES ('pv-2');
\echo :SQLSTATE
SELECT treestore.health();
\echo :SQLSTATE
SELECT treestore.checkpoint();
\echo :SQLSTATE
-- nor can the role get at the data through a foreign table of its own
RESET ROLE;
CREATE SCHEMA regress_ts_schema AUTHORIZATION regress_ts_user;
SET ROLE regress_ts_user;
CREATE FOREIGN TABLE regress_ts_schema.my_documents (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
\echo :SQLSTATE
RESET ROLE;
-- not even with USAGE on the server (an administrator might grant it): only
-- the extension's own tables map the engine's tables
GRANT USAGE ON FOREIGN SERVER treestore TO regress_ts_user;
SET ROLE regress_ts_user;
\set VERBOSITY default
CREATE FOREIGN TABLE regress_ts_schema.my_documents (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
\echo :SQLSTATE
CREATE FOREIGN TABLE regress_ts_schema.documents (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore;
\echo :SQLSTATE
\set VERBOSITY terse
SELECT count(*) FROM pg_class WHERE relnamespace = 'regress_ts_schema'::regnamespace;
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER treestore FROM regress_ts_user;

-- ===================================================================
-- after GRANT: it works
-- ===================================================================
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA treestore TO regress_ts_user;
GRANT EXECUTE ON FUNCTION treestore.health(), treestore.checkpoint() TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT t AS "table",
       pg_temp.pv_try(format('SELECT count(*) FROM treestore.%I', t)) AS "select",
       pg_temp.pv_try(format('UPDATE treestore.%I SET %I = %I WHERE false', t, c, c)) AS "update",
       pg_temp.pv_try(format('DELETE FROM treestore.%I WHERE false', t)) AS "delete"
  FROM pv_tables;
INSERT INTO treestore.documents (policy_id, title) VALUES ('pv-2', 'granted user wrote this');
UPDATE treestore.documents SET title = title || ' (edited)' WHERE policy_id = 'pv-1';
SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'pv-%' ORDER BY 1;
DELETE FROM treestore.documents WHERE policy_id = 'pv-2' RETURNING policy_id;
SELECT treestore.health()->>'status' AS status;
SELECT treestore.checkpoint();
-- still no foreign tables of its own: the server is not granted
CREATE FOREIGN TABLE regress_ts_schema.my_documents (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
\echo :SQLSTATE
RESET ROLE;

-- ===================================================================
-- column privileges and REVOKE
-- ===================================================================
REVOKE ALL ON ALL TABLES IN SCHEMA treestore FROM regress_ts_user;
GRANT SELECT (policy_id, title), UPDATE (title) ON treestore.documents TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'pv-%';
SELECT * FROM treestore.documents WHERE policy_id LIKE 'pv-%';
\echo :SQLSTATE
SELECT metadata FROM treestore.documents WHERE policy_id = 'pv-1';
\echo :SQLSTATE
UPDATE treestore.documents SET title = 'column grant' WHERE policy_id = 'pv-1';
UPDATE treestore.documents SET version_count = 1 WHERE policy_id = 'pv-1';
\echo :SQLSTATE
INSERT INTO treestore.documents (policy_id) VALUES ('pv-3');
\echo :SQLSTATE
SELECT count(*) FROM treestore.nodes;
\echo :SQLSTATE
RESET ROLE;
SELECT policy_id, title, version_count FROM treestore.documents WHERE policy_id LIKE 'pv-%';
REVOKE EXECUTE ON FUNCTION treestore.health(), treestore.checkpoint() FROM regress_ts_user;
SET ROLE regress_ts_user;
SELECT treestore.health();
\echo :SQLSTATE
RESET ROLE;

-- ===================================================================
-- the functions check the privileges on the tables they touch, as if the
-- user ran the SQL (table or all-column grants); EXECUTE alone is not enough
-- ===================================================================
SELECT treestore.store_document('pv-doc', 'v1',
  '[{"title": "Root", "node_id": "0001", "start_index": 1, "end_index": 2, "text": "secret text",
     "nodes": [{"title": "Child", "node_id": "0002", "start_index": 2, "end_index": 2, "text": "child text"}]}]'::jsonb,
  DATE '2024-01-01') AS nodes;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA treestore TO regress_ts_user;
CREATE TABLE pv_calls (f text, sql text);
INSERT INTO pv_calls VALUES
  ('get_document', $$SELECT treestore.get_document('pv-doc', include_text => true)$$),
  ('get_node', $$SELECT * FROM treestore.get_node('pv-doc', '0001')$$),
  ('get_children', $$SELECT * FROM treestore.get_children('pv-doc', '0001')$$),
  ('get_subtree', $$SELECT * FROM treestore.get_subtree('pv-doc')$$),
  ('get_ancestors', $$SELECT * FROM treestore.get_ancestors('pv-doc', '0002')$$),
  ('nodes_by_page', $$SELECT * FROM treestore.nodes_by_page('pv-doc', 2)$$),
  ('version_as_of', $$SELECT * FROM treestore.version_as_of('pv-doc', DATE '2024-06-01')$$),
  ('list_versions', $$SELECT * FROM treestore.list_versions('pv-doc')$$),
  ('get_cross_references', $$SELECT * FROM treestore.get_cross_references('pv-doc')$$),
  ('search', $$SELECT * FROM treestore.search('secret')$$),
  ('store_document', $$SELECT treestore.store_document('pv-doc2', 'v1', '[{"title": "T", "node_id": "0001"}]')$$),
  ('delete_document', $$SELECT treestore.delete_document('pv-doc2')$$),
  ('store_tool_result', $$SELECT treestore.store_tool_result('pv-case', 'tool', '{}')$$);
GRANT SELECT ON pv_calls TO regress_ts_user;
-- no table privileges: 42501 from every function that touches a table
SET ROLE regress_ts_user;
SELECT f, pg_temp.pv_try(sql) AS result FROM pv_calls;
RESET ROLE;
-- column grants that leave out the text: the readers of nodes still fail
GRANT SELECT ON treestore.versions, treestore.cross_references TO regress_ts_user;
GRANT SELECT (policy_id, version_id, node_id, title) ON treestore.nodes TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT f, pg_temp.pv_try(sql) AS result FROM pv_calls;
RESET ROLE;
-- SELECT on the tables: the readers work, the writers still fail
GRANT SELECT ON treestore.nodes, treestore.documents TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT f, pg_temp.pv_try(sql) AS result FROM pv_calls;
RESET ROLE;
-- the writers' privileges: INSERT for store_document and store_tool_result
-- (UPDATE too: a document row is refreshed), DELETE for delete_document
GRANT INSERT, UPDATE ON treestore.documents, treestore.versions, treestore.nodes TO regress_ts_user;
GRANT INSERT ON treestore.tool_results TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT f, pg_temp.pv_try(sql) AS result FROM pv_calls WHERE f IN ('store_document', 'store_tool_result', 'delete_document');
RESET ROLE;
GRANT DELETE ON treestore.documents, treestore.versions, treestore.nodes TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT f, pg_temp.pv_try(sql) AS result FROM pv_calls WHERE f = 'delete_document';
RESET ROLE;
SELECT treestore.delete_document('pv-doc') AS removed;
DELETE FROM treestore.tool_results WHERE case_id = 'pv-case';
REVOKE ALL ON ALL TABLES IN SCHEMA treestore FROM regress_ts_user;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA treestore FROM regress_ts_user;
DROP TABLE pv_calls;

-- ===================================================================
-- a view owned by a privileged role gives exactly what it selects
-- ===================================================================
CREATE VIEW pv_titles AS
  SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'pv-%';
GRANT SELECT ON pv_titles TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT * FROM pv_titles;
RESET ROLE;
DROP VIEW pv_titles;

-- ===================================================================
-- in-doubt transactions by hand: superuser only (test/pg_crash makes a
-- real one and resolves it)
-- ===================================================================
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'treestore'::regnamespace
   AND p.proname IN ('prepared_transactions', 'resolve_prepared')
 ORDER BY 1;
-- nothing is in doubt
SELECT * FROM treestore.prepared_transactions();
\set VERBOSITY default
-- a gid that is not in doubt: 42704
SELECT treestore.resolve_prepared('pg:1', true);
\echo :SQLSTATE
SELECT treestore.resolve_prepared('no such transaction', false);
\echo :SQLSTATE
SELECT treestore.resolve_prepared('', false);
\echo :SQLSTATE
\set VERBOSITY terse
-- no EXECUTE
SET ROLE regress_ts_user;
SELECT * FROM treestore.prepared_transactions();
\echo :SQLSTATE
SELECT treestore.resolve_prepared('pg:1', true);
\echo :SQLSTATE
RESET ROLE;
-- EXECUTE is not enough: the functions check for a superuser
GRANT EXECUTE ON FUNCTION treestore.prepared_transactions(),
  treestore.resolve_prepared(text, boolean) TO regress_ts_user;
SET ROLE regress_ts_user;
SELECT * FROM treestore.prepared_transactions();
\echo :SQLSTATE
SELECT treestore.resolve_prepared('pg:1', true);
\echo :SQLSTATE
RESET ROLE;
REVOKE EXECUTE ON FUNCTION treestore.prepared_transactions(),
  treestore.resolve_prepared(text, boolean) FROM regress_ts_user;

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.documents WHERE policy_id LIKE 'pv-%';
REVOKE ALL ON treestore.documents FROM regress_ts_user;
DROP FUNCTION pg_temp.pv_try(text);
DROP TABLE pv_tables;
DROP SCHEMA regress_ts_schema;
DROP ROLE regress_ts_user;
-- only the owner's privileges are left
SELECT c.relname, a.grantee::regrole, a.privilege_type
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace = 'treestore'::regnamespace AND a.grantee <> c.relowner;

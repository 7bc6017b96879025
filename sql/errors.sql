--
-- errors: option validation, foreign tables that do not match their
-- treestore table, keys too long, what foreign tables cannot do.
--
-- Keys used here start with 'er-'; everything is dropped at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY default

-- ===================================================================
-- option validation
-- ===================================================================
-- a misspelt option
CREATE FOREIGN TABLE er_docs (policy_id text) SERVER treestore OPTIONS (tabel 'documents');
\echo :SQLSTATE
-- a table treestore does not have
CREATE FOREIGN TABLE er_docs (policy_id text) SERVER treestore OPTIONS (table 'no_such_table');
\echo :SQLSTATE
ALTER FOREIGN TABLE treestore.documents OPTIONS (SET table 'no_such_table');
\echo :SQLSTATE
-- options of the server, the wrapper, user mappings
CREATE SERVER er_server FOREIGN DATA WRAPPER treestore_fdw OPTIONS (host 'localhost');
\echo :SQLSTATE
ALTER SERVER treestore OPTIONS (ADD table 'documents');
\echo :SQLSTATE
ALTER FOREIGN DATA WRAPPER treestore_fdw OPTIONS (ADD debug 'on');
\echo :SQLSTATE
CREATE USER MAPPING FOR CURRENT_USER SERVER treestore OPTIONS (user 'someone');
\echo :SQLSTATE
-- column options: none
CREATE FOREIGN TABLE er_docs (policy_id text OPTIONS (column_name 'id')) SERVER treestore;
\echo :SQLSTATE
-- nothing was created
SELECT count(*) FROM pg_class WHERE relname = 'er_docs';
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'treestore';
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'treestore.documents'::regclass;

-- ===================================================================
-- foreign tables of one's own: the columns must match the treestore table
-- ===================================================================
\set VERBOSITY terse
-- the columns in another order, the table named by the option: fine
CREATE FOREIGN TABLE er_docs (
	metadata jsonb, updated_at timestamptz, title text, policy_id text,
	version_count integer, latest_version_id text, created_at timestamptz
) SERVER treestore OPTIONS (table 'documents');
INSERT INTO er_docs (policy_id, title, version_count, metadata) VALUES ('er-1', 'via er_docs', 7, '{"a": 1}');
SELECT policy_id, title, version_count, metadata FROM treestore.documents WHERE policy_id = 'er-1';
SELECT policy_id, title, version_count, metadata FROM er_docs WHERE policy_id = 'er-1';
UPDATE er_docs SET title = 'updated via er_docs' WHERE policy_id = 'er-1';
SELECT title FROM treestore.documents WHERE policy_id = 'er-1';
-- without the option, the foreign table's own name is the treestore table's
CREATE SCHEMA er_schema;
CREATE FOREIGN TABLE er_schema.documents (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore;
SELECT policy_id, title FROM er_schema.documents WHERE policy_id = 'er-1';
CREATE FOREIGN TABLE er_schema.no_such_table (policy_id text) SERVER treestore;
SELECT * FROM er_schema.no_such_table;
\echo :SQLSTATE
INSERT INTO er_schema.no_such_table VALUES ('er-x');
\echo :SQLSTATE
-- a column of the wrong type: an error on use, naming the column
CREATE FOREIGN TABLE er_badtype (
	policy_id text, title text, latest_version_id text, version_count bigint,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
SELECT * FROM er_badtype;
\echo :SQLSTATE
INSERT INTO er_badtype (policy_id) VALUES ('er-2');
\echo :SQLSTATE
UPDATE er_badtype SET title = 'x' WHERE policy_id = 'er-1';
\echo :SQLSTATE
DELETE FROM er_badtype WHERE policy_id = 'er-1';
\echo :SQLSTATE
-- json instead of jsonb, varchar instead of text
CREATE FOREIGN TABLE er_json (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata json
) SERVER treestore OPTIONS (table 'documents');
SELECT count(*) FROM er_json;
\echo :SQLSTATE
CREATE FOREIGN TABLE er_varchar (
	policy_id varchar, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
SELECT count(*) FROM er_varchar;
\echo :SQLSTATE
-- a missing column
CREATE FOREIGN TABLE er_missing (policy_id text, title text) SERVER treestore OPTIONS (table 'documents');
SELECT * FROM er_missing;
\echo :SQLSTATE
INSERT INTO er_missing VALUES ('er-3', 'x');
\echo :SQLSTATE
-- a missing key column: UPDATE and DELETE cannot identify rows
CREATE FOREIGN TABLE er_nokey (
	title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
SELECT * FROM er_nokey;
\echo :SQLSTATE
DELETE FROM er_nokey;
\echo :SQLSTATE
-- a column treestore does not have; fine again once it is dropped
CREATE FOREIGN TABLE er_extra (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb, extra integer
) SERVER treestore OPTIONS (table 'documents');
SELECT * FROM er_extra;
\echo :SQLSTATE
ALTER FOREIGN TABLE er_extra DROP COLUMN extra;
SELECT policy_id, title FROM er_extra WHERE policy_id = 'er-1';
-- a column renamed: an error again
ALTER FOREIGN TABLE er_extra RENAME COLUMN title TO headline;
SELECT * FROM er_extra;
\echo :SQLSTATE
-- the data was never touched by any of this
SELECT policy_id, title, version_count FROM treestore.documents WHERE policy_id LIKE 'er-%';

-- ===================================================================
-- keys too long: 54000
-- ===================================================================
\set VERBOSITY default
INSERT INTO treestore.documents (policy_id) VALUES (repeat('k', 2000));
\echo :SQLSTATE
INSERT INTO treestore.nodes (policy_id, version_id, node_id)
VALUES (repeat('p', 400), repeat('v', 400), repeat('n', 400));
\echo :SQLSTATE
UPDATE treestore.documents SET policy_id = repeat('k', 2000) WHERE policy_id = 'er-1';
\echo :SQLSTATE
\set VERBOSITY terse
-- long, but not too long
INSERT INTO treestore.documents (policy_id, title) VALUES ('er-' || repeat('k', 500), 'long key');
SELECT length(policy_id), title FROM treestore.documents WHERE policy_id = 'er-' || repeat('k', 500);
-- a key too long to be stored cannot be found either: no rows, no error
SELECT count(*) FROM treestore.documents WHERE policy_id = repeat('k', 2000);
SELECT count(*) FROM treestore.nodes
 WHERE policy_id = repeat('p', 400) AND version_id = repeat('v', 400) AND node_id = repeat('n', 400);
SELECT count(*) FROM treestore.documents WHERE policy_id IN (repeat('k', 2000), 'er-1');
-- long values in other columns are fine
INSERT INTO treestore.documents (policy_id, title) VALUES ('er-long-title', repeat('t', 1000000));
SELECT length(title) FROM treestore.documents WHERE policy_id = 'er-long-title';

-- ===================================================================
-- values treestore cannot store
-- ===================================================================
INSERT INTO treestore.prompts (prompt_id, version, variables) VALUES ('er-prompt', 1, '{{a,b},{c,d}}');
\echo :SQLSTATE
SELECT count(*) FROM treestore.prompts WHERE prompt_id = 'er-prompt';

-- ===================================================================
-- what foreign tables do not do
-- ===================================================================
ANALYZE treestore.documents;
COPY treestore.documents TO stdout;
\echo :SQLSTATE
INSERT INTO treestore.documents (policy_id) VALUES ('er-1') ON CONFLICT (policy_id) DO NOTHING;
\echo :SQLSTATE
CREATE INDEX ON treestore.documents (title);
\echo :SQLSTATE
-- (COPY ... TO the query form works)
COPY (SELECT policy_id, title FROM treestore.documents WHERE policy_id = 'er-1') TO stdout;

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.documents WHERE policy_id LIKE 'er-%';
SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'er-%';
DROP FOREIGN TABLE er_docs, er_badtype, er_json, er_varchar, er_missing, er_nokey, er_extra;
DROP FOREIGN TABLE er_schema.documents, er_schema.no_such_table;
DROP SCHEMA er_schema;

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
-- options of the server, the wrapper, user mappings
CREATE SERVER er_server FOREIGN DATA WRAPPER treestore_fdw OPTIONS (host 'localhost');
\echo :SQLSTATE
ALTER SERVER treestore OPTIONS (ADD table 'documents');
\echo :SQLSTATE
ALTER FOREIGN DATA WRAPPER treestore_fdw OPTIONS (ADD debug 'on');
\echo :SQLSTATE
CREATE USER MAPPING FOR CURRENT_USER SERVER treestore OPTIONS (user 'someone');
\echo :SQLSTATE
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'treestore';

-- ===================================================================
-- foreign tables of one's own: refused (42501), even to a superuser;
-- only the extension's own tables map the engine's tables
-- ===================================================================
CREATE FOREIGN TABLE er_docs (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore OPTIONS (table 'documents');
\echo :SQLSTATE
-- without the option (the foreign table's own name would be the table's)
CREATE SCHEMA er_schema;
CREATE FOREIGN TABLE er_schema.documents (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER treestore;
\echo :SQLSTATE
-- a misspelt option, a table treestore does not have: refused all the same
CREATE FOREIGN TABLE er_docs (policy_id text) SERVER treestore OPTIONS (tabel 'documents');
\echo :SQLSTATE
CREATE FOREIGN TABLE er_docs (policy_id text) SERVER treestore OPTIONS (table 'no_such_table');
\echo :SQLSTATE
-- on another server of the wrapper
CREATE SERVER er_server FOREIGN DATA WRAPPER treestore_fdw;
CREATE FOREIGN TABLE er_docs (
	policy_id text, title text, latest_version_id text, version_count integer,
	created_at timestamptz, updated_at timestamptz, metadata jsonb
) SERVER er_server OPTIONS (table 'documents');
\echo :SQLSTATE
DROP SERVER er_server;
-- nor can the extension's tables be pointed elsewhere
ALTER FOREIGN TABLE treestore.documents OPTIONS (SET table 'versions');
\echo :SQLSTATE
-- nothing was created or changed
SELECT count(*) FROM pg_class WHERE relname = 'er_docs' OR relnamespace = 'er_schema'::regnamespace;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'treestore.documents'::regclass;
-- a foreign table that is not the extension's (one made before this rule,
-- here one taken out of the extension): refused on use
ALTER EXTENSION treestore_fdw DROP FOREIGN TABLE treestore.prompts;
\c
SELECT count(*) FROM treestore.prompts;
\echo :SQLSTATE
INSERT INTO treestore.prompts (prompt_id, version) VALUES ('er-p', 1);
\echo :SQLSTATE
ALTER EXTENSION treestore_fdw ADD FOREIGN TABLE treestore.prompts;
\c
SELECT count(*) FROM treestore.prompts WHERE prompt_id = 'er-p';

-- ===================================================================
-- the extension's tables must match their treestore table: an owner who
-- alters one gets an error naming the column (each in a transaction
-- rolled back)
-- ===================================================================
\set VERBOSITY terse
INSERT INTO treestore.documents (policy_id, title, version_count) VALUES ('er-1', 'er one', 7);
-- a column of the wrong type: an error on use, naming the column
BEGIN;
ALTER FOREIGN TABLE treestore.documents ALTER COLUMN version_count TYPE bigint;
SELECT * FROM treestore.documents;
ROLLBACK;
BEGIN;
ALTER FOREIGN TABLE treestore.documents ALTER COLUMN version_count TYPE bigint;
INSERT INTO treestore.documents (policy_id) VALUES ('er-2');
ROLLBACK;
BEGIN;
ALTER FOREIGN TABLE treestore.documents ALTER COLUMN version_count TYPE bigint;
UPDATE treestore.documents SET title = 'x' WHERE policy_id = 'er-1';
ROLLBACK;
BEGIN;
ALTER FOREIGN TABLE treestore.documents ALTER COLUMN version_count TYPE bigint;
DELETE FROM treestore.documents WHERE policy_id = 'er-1';
ROLLBACK;
-- json instead of jsonb, varchar instead of text
BEGIN;
ALTER FOREIGN TABLE treestore.documents ALTER COLUMN metadata TYPE json;
SELECT count(*) FROM treestore.documents;
ROLLBACK;
BEGIN;
ALTER FOREIGN TABLE treestore.documents ALTER COLUMN title TYPE varchar;
SELECT count(*) FROM treestore.documents;
ROLLBACK;
-- a missing column
BEGIN;
ALTER FOREIGN TABLE treestore.documents DROP COLUMN metadata;
SELECT * FROM treestore.documents;
ROLLBACK;
-- a missing key column: UPDATE and DELETE cannot identify rows
BEGIN;
ALTER FOREIGN TABLE treestore.documents DROP COLUMN policy_id;
DELETE FROM treestore.documents;
ROLLBACK;
-- a column treestore does not have; a column renamed
BEGIN;
ALTER FOREIGN TABLE treestore.documents ADD COLUMN extra integer;
SELECT * FROM treestore.documents;
ROLLBACK;
BEGIN;
ALTER FOREIGN TABLE treestore.documents RENAME COLUMN title TO headline;
SELECT * FROM treestore.documents;
ROLLBACK;
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
DROP SCHEMA er_schema;

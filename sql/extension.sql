--
-- extension: CREATE EXTENSION treestore_fdw and what it creates
--
-- The first test of the schedule (test/pg/schedule): the tests after it use
-- the extension created here.
--

-- ===================================================================
-- create the extension
-- ===================================================================
CREATE EXTENSION treestore_fdw;

-- the foreign data wrapper and its server
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
  FROM pg_foreign_data_wrapper WHERE fdwname = 'treestore_fdw';
SELECT s.srvname, w.fdwname, s.srvoptions
  FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
 WHERE s.srvname = 'treestore';

-- ===================================================================
-- the eight foreign tables of the contract: schema treestore, server
-- treestore, option table = their own name
-- ===================================================================
SELECT c.relname, c.relkind, s.srvname, ft.ftoptions
  FROM pg_foreign_table ft
  JOIN pg_class c ON c.oid = ft.ftrelid
  JOIN pg_foreign_server s ON s.oid = ft.ftserver
 WHERE c.relnamespace = 'treestore'::regnamespace
 ORDER BY c.relname;

-- nothing else in the schema is a relation
SELECT relname, relkind FROM pg_class
 WHERE relnamespace = 'treestore'::regnamespace AND relkind <> 'f';

-- their columns, in order, with types and NOT NULL (the keys come first)
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'treestore'::regnamespace AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum;

-- every one is writable (INSERT, UPDATE and DELETE)
SELECT c.relname,
       pg_relation_is_updatable(c.oid, false) & 28 AS ins_upd_del  -- 4|8|16
  FROM pg_class c
 WHERE c.relnamespace = 'treestore'::regnamespace
 ORDER BY c.relname;

-- ===================================================================
-- functions (those of this test; others may be added: not listed here)
-- ===================================================================
SELECT f, p.oid IS NOT NULL AS exists, p.prorettype::regtype AS returns
  FROM unnest(ARRAY['treestore.health()', 'treestore.checkpoint()',
                    'treestore.fdw_handler()', 'treestore.fdw_validator(text[],oid)']) AS f
  LEFT JOIN pg_proc p ON p.oid = to_regprocedure(f);

-- the extension owns its schema, wrapper, server and the eight tables
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'treestore_fdw')
   AND classid <> 'pg_proc'::regclass
 ORDER BY 1;

-- ===================================================================
-- health(): the worker is up and answers
-- ===================================================================
SELECT h->>'status' AS status,
       (h->>'worker_pid')::int > 0 AS has_worker_pid,
       (h->>'uptime_seconds')::float8 >= 0 AS has_uptime,
       jsonb_typeof(h->'engine') AS engine,
       jsonb_typeof(h->'wal') AS wal
  FROM treestore.health() AS h;

-- the worker is a process of this server
SELECT count(*) FROM pg_stat_activity
 WHERE pid = (treestore.health()->>'worker_pid')::int;

-- checkpoint() runs
SELECT treestore.checkpoint();
SELECT treestore.health()->>'status' AS status;

-- a fresh instance: every table starts empty
SELECT 'documents' AS t, count(*) FROM treestore.documents
UNION ALL SELECT 'versions', count(*) FROM treestore.versions
UNION ALL SELECT 'nodes', count(*) FROM treestore.nodes
UNION ALL SELECT 'cross_references', count(*) FROM treestore.cross_references
UNION ALL SELECT 'tool_results', count(*) FROM treestore.tool_results
UNION ALL SELECT 'trajectories', count(*) FROM treestore.trajectories
UNION ALL SELECT 'prompts', count(*) FROM treestore.prompts
UNION ALL SELECT 'prompt_usage', count(*) FROM treestore.prompt_usage;

-- ===================================================================
-- the extension cannot be created twice
-- ===================================================================
\set VERBOSITY terse
CREATE EXTENSION treestore_fdw;
\echo :SQLSTATE
\set VERBOSITY default

-- ===================================================================
-- DROP DATABASE waits for every process, the worker included, to absorb
-- a barrier: it must not hang
-- ===================================================================
CREATE DATABASE ts_extension_dropme;
DROP DATABASE ts_extension_dropme;

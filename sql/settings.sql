--
-- settings: the treestore.* settings (src/settings.c; README.md,
-- "Settings"): names, defaults, units, bounds, contexts; what a session may
-- change and what it may not.  That the server-start ones take effect
-- (data_directory, cache_size) and request_timeout against a stopped worker
-- need restarts and signals: test/pg_crash/test_pg_crash.py (the operator's
-- cases).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY terse

SELECT name, setting, unit, context, vartype, min_val, max_val, boot_val
  FROM pg_settings WHERE name LIKE 'treestore.%' ORDER BY name;
SHOW treestore.data_directory;
SHOW treestore.cache_size;
SHOW treestore.checkpoint_timeout;
SHOW treestore.checkpoint_wal_size;
SHOW treestore.wal_segment_size;
SHOW treestore.wal_keep_segments;
SHOW treestore.synchronous_commit;
SHOW treestore.max_transaction_size;
SHOW treestore.request_timeout;
SHOW treestore.startup_timeout;
-- the worker opened the engine in data_directory (relative: in the
-- cluster's data directory)
SELECT treestore.stats()->'data'->>'directory' = current_setting('data_directory') || '/treestore'
  AS engine_in_data_directory;

-- ===================================================================
-- server start only: a session cannot change them (55P02)
-- ===================================================================
SET treestore.data_directory = '/tmp';
\echo :SQLSTATE
SET treestore.cache_size = '1GB';
\echo :SQLSTATE
SET treestore.checkpoint_timeout = '1min';
\echo :SQLSTATE
SET treestore.checkpoint_wal_size = '1GB';
\echo :SQLSTATE
SET treestore.wal_segment_size = '10MB';
\echo :SQLSTATE
SET treestore.wal_keep_segments = 5;
\echo :SQLSTATE
SET treestore.synchronous_commit = off;
\echo :SQLSTATE
-- max_transaction_size: the configuration file (reload), not a session
SET treestore.max_transaction_size = '10MB';
\echo :SQLSTATE
ALTER SYSTEM SET treestore.max_transaction_size = '65GB';
\echo :SQLSTATE
ALTER SYSTEM SET treestore.cache_size = '0';
\echo :SQLSTATE
ALTER SYSTEM SET treestore.wal_segment_size = '2GB';
\echo :SQLSTATE

-- ===================================================================
-- per session: request_timeout (100 ms .. 10 min), startup_timeout
-- (0 .. 10 min)
-- ===================================================================
SET treestore.request_timeout = '2s';
SHOW treestore.request_timeout;
SELECT count(*) >= 0 AS works FROM treestore.documents;
SET treestore.request_timeout = '99ms';
\echo :SQLSTATE
SET treestore.request_timeout = '601s';
\echo :SQLSTATE
SET treestore.request_timeout = '10min';
SHOW treestore.request_timeout;
RESET treestore.request_timeout;
SET treestore.startup_timeout = 0;
SHOW treestore.startup_timeout;
SET treestore.startup_timeout = '601s';
\echo :SQLSTATE
RESET treestore.startup_timeout;
-- an ordinary role may change them, not debug_fault (superuser only)
CREATE ROLE regress_ts_settings;
SET ROLE regress_ts_settings;
SET treestore.request_timeout = '5s';
SHOW treestore.request_timeout;
SET treestore.debug_fault = 'commit';
\echo :SQLSTATE
RESET ROLE;
DROP ROLE regress_ts_settings;
-- the prefix is treestore's: no made-up settings
SET treestore.no_such_setting = 1;
\echo :SQLSTATE
RESET treestore.request_timeout;

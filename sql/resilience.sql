--
-- resilience: the worker and the transaction callbacks on their worst day.
--   * an ERROR inside the COMMIT or ABORT callback (after PostgreSQL's
--     commit record it would be a PANIC) is caught and logged as a WARNING;
--     the worker settles the engine transaction by the commit log;
--   * the settings that bound a wait have a sane maximum;
--   * pg_terminate_backend on the worker: it comes back by itself.
--
-- Keys used here start with 'rs-'; everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;

-- rs_wait(sql): poll a boolean query for up to 30 s, true once it is true
CREATE FUNCTION rs_wait(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
  FOR i IN 1..300 LOOP
    BEGIN
      EXECUTE q INTO ok;
    EXCEPTION WHEN OTHERS THEN ok := false;
    END;
    IF ok THEN RETURN true; END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END $$;

-- ===================================================================
-- an error in the COMMIT callback: a WARNING, the commit stands
-- ===================================================================
SET treestore.debug_fault = 'commit';
BEGIN;
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9101, 'rs-case', 'commit-fault');
COMMIT;
RESET treestore.debug_fault;
-- the worker settles it by the commit log (the resolve never came)
SELECT rs_wait($$SELECT count(*) = 1 FROM treestore.tool_results WHERE result_id = -9101$$) AS settled;
SELECT case_id, tool_name FROM treestore.tool_results WHERE result_id = -9101;
-- and the session goes on
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9102, 'rs-case', 'after');
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';

-- ===================================================================
-- an error in the ABORT callback: a WARNING, the writes are gone
-- ===================================================================
SET treestore.debug_fault = 'abort';
BEGIN;
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9103, 'rs-case', 'abort-fault');
ROLLBACK;
RESET treestore.debug_fault;
SELECT count(*) FROM treestore.tool_results WHERE result_id = -9103;
-- an error ends the transaction the same way (the callback's WARNING is
-- not shown: psql prints it before or after the ERROR depending on when
-- it arrives)
SET treestore.debug_fault = 'abort';
SET client_min_messages = error;
BEGIN;
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9104, 'rs-case', 'abort-fault');
SELECT 1 / 0;
ROLLBACK;
RESET client_min_messages;
RESET treestore.debug_fault;
SELECT count(*) FROM treestore.tool_results WHERE result_id = -9104;

-- only a superuser may inject faults
CREATE ROLE rs_user;
SET ROLE rs_user;
SET treestore.debug_fault = 'commit';
RESET ROLE;
DROP ROLE rs_user;

-- ===================================================================
-- bounded waits: request_timeout and startup_timeout have a maximum
-- ===================================================================
SET treestore.request_timeout = '1d';
SET treestore.startup_timeout = '1d';
SET treestore.request_timeout = '10min';
SET treestore.startup_timeout = '10min';
SHOW treestore.request_timeout;
RESET treestore.request_timeout;
RESET treestore.startup_timeout;

-- ===================================================================
-- an ERROR in the worker is contained: to the request (its error), to
-- the read-ahead (undone), to one session (its channel and transaction),
-- or to one round of reaping or settling -- never the worker's FATAL
-- ===================================================================
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT 'rs-case', 't', g, repeat('x', 50) FROM generate_series(1, 5000) g;
SELECT treestore.store_document('rs-doc', 'v1',
  '[{"title": "Root", "node_id": "0001", "text": "root text",
     "nodes": [{"title": "Child", "node_id": "0002", "text": "child text"}]}]'::jsonb) AS nodes;
CREATE TEMP TABLE rs_worker AS SELECT (treestore.health()->>'worker_pid')::int AS pid;
\set VERBOSITY terse
-- (reads through the worker: a backend would read these itself)
SET treestore.backend_reads = off;
-- a request: that request fails
SET treestore.debug_fault = 'worker-request';
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'rs-case';
RESET treestore.debug_fault;
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'rs-case';
-- a row of a document query, raised while the engine walks its index
SET treestore.debug_fault = 'worker-query-row';
SELECT node_id FROM treestore.get_subtree('rs-doc');
RESET treestore.debug_fault;
SELECT node_id FROM treestore.get_subtree('rs-doc');
-- the read-ahead of a scan: undone, the answer is whole
SET treestore.debug_fault = 'worker-read-ahead';
SELECT count(*), sum(step_number) FROM treestore.trajectories WHERE case_id = 'rs-case';
RESET treestore.debug_fault;
-- responding: the session's channel goes (08006), the next call makes a new one
SET treestore.debug_fault = 'worker-respond';
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
RESET treestore.debug_fault;
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
-- in a transaction that wrote: the rest of it fails, nothing of it commits
BEGIN;
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9105, 'rs-case', 'lost');
SET LOCAL treestore.debug_fault = 'worker-respond';
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
ROLLBACK;
BEGIN;
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9106, 'rs-case', 'lost');
SAVEPOINT s;
SET LOCAL treestore.debug_fault = 'worker-respond';
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
ROLLBACK TO SAVEPOINT s;
RESET treestore.debug_fault;
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
COMMIT;
SELECT count(*) FROM treestore.tool_results WHERE result_id IN (-9105, -9106);
-- attaching a new channel (made after the failure above)
SET treestore.debug_fault = 'worker-respond';
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
SET treestore.debug_fault = 'worker-attach';
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
RESET treestore.debug_fault;
SELECT count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
-- reaping and settling, which run every 100 ms and every second
SET treestore.debug_fault = 'worker-reap';
SELECT pg_sleep(0.3);
SET treestore.debug_fault = 'worker-settle';
SELECT pg_sleep(1.5);
RESET treestore.debug_fault;
\set VERBOSITY default
-- the same worker throughout
SELECT (treestore.health()->>'worker_pid')::int = pid AS same_worker FROM rs_worker;

-- ===================================================================
-- memory: a session's buffers shrink back after a large answer, and a
-- transaction's write set has a limit (treestore.max_transaction_size)
-- ===================================================================
SELECT treestore.store_document('rs-big', 'v1',
  (SELECT jsonb_agg(jsonb_build_object('title', 'n' || g, 'node_id', lpad(g::text, 4, '0'),
                                       'text', repeat('lorem ipsum ', 333)))
     FROM generate_series(1, 1000) g)) AS nodes;
CREATE TEMP TABLE rs_mem AS
  SELECT (treestore.stats()->'memory'->>'worker_bytes')::bigint AS before;
SELECT count(*), sum(length(text)) FROM treestore.get_subtree('rs-big');
SELECT count(*), sum(length(text)) FROM treestore.nodes WHERE policy_id = 'rs-big';
SELECT (treestore.stats()->'memory'->>'worker_bytes')::bigint - before < 1024 * 1024 AS shrunk_back
  FROM rs_mem;
SELECT treestore.delete_document('rs-big') AS removed;
ALTER SYSTEM SET treestore.max_transaction_size = '1MB';
SELECT pg_reload_conf();
SELECT rs_wait($$SELECT (treestore.stats()->'limits'->>'max_transaction_size')::bigint = 1048576$$)
  AS limit_applied;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT 'rs-limit', 't', g, repeat('z', 1000) FROM generate_series(1, 3000) g;
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'rs-limit';
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT 'rs-limit', 't', g, repeat('z', 1000) FROM generate_series(1, 100) g;
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'rs-limit';
ALTER SYSTEM RESET treestore.max_transaction_size;
SELECT pg_reload_conf();
SELECT rs_wait($$SELECT (treestore.stats()->'limits'->>'max_transaction_size')::bigint = 1073741824$$)
  AS limit_reset;
DELETE FROM treestore.trajectories WHERE case_id = 'rs-limit';

-- ===================================================================
-- a dropped channel frees its queue handles and their receive buffers on
-- both sides (100 channels dropped after a scan each; before, about 1 kB
-- leaked per channel in the backend and in the worker)
-- ===================================================================
CREATE TEMP TABLE rs_leak AS
  SELECT total_bytes AS backend_before,
         (treestore.stats()->'memory'->>'worker_bytes')::bigint AS worker_before
    FROM pg_backend_memory_contexts WHERE name = 'TopMemoryContext';
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM count(*) FROM treestore.trajectories WHERE case_id = 'rs-case';
    COMMIT;
    PERFORM set_config('treestore.debug_fault', 'worker-respond', false);
    BEGIN
      PERFORM count(*) FROM treestore.tool_results WHERE case_id = 'rs-case';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    PERFORM set_config('treestore.debug_fault', '', false);
    COMMIT;
  END LOOP;
END $$;
SELECT total_bytes - backend_before < 32 * 1024 AS backend_flat,
       (treestore.stats()->'memory'->>'worker_bytes')::bigint - worker_before < 32 * 1024 AS worker_flat
  FROM pg_backend_memory_contexts, rs_leak WHERE name = 'TopMemoryContext';

-- ===================================================================
-- pg_terminate_backend on the worker: a new one comes back by itself
-- ===================================================================
CREATE TEMP TABLE rs_old AS
  SELECT pid FROM pg_stat_activity WHERE backend_type = 'treestore';
SELECT count(*) AS workers FROM rs_old;
SELECT pg_terminate_backend(pid) FROM rs_old;
SELECT rs_wait($$SELECT treestore.health()->>'status' = 'ok'
                   AND (treestore.health()->>'worker_pid')::int NOT IN (SELECT pid FROM rs_old)$$)
  AS back_within_30s;
-- the data is all there
SELECT result_id, tool_name FROM treestore.tool_results WHERE case_id = 'rs-case' ORDER BY result_id;

-- clean up
DELETE FROM treestore.tool_results WHERE case_id = 'rs-case';
DELETE FROM treestore.trajectories WHERE case_id = 'rs-case';
SELECT treestore.delete_document('rs-doc') > 0 AS deleted;
RESET treestore.backend_reads;

-- ===================================================================
-- a session's channel starts small (80 kB of dynamic shared memory) and
-- grows to 1 MB + 64 kB once an answer fills half of it (Docker's 64 MB
-- /dev/shm would otherwise hold about 60 sessions)
-- ===================================================================
\c
-- (reads through the worker: a backend would read these itself)
SET treestore.backend_reads = off;
-- (the session before this one has gone: this one's channel is the only one)
SELECT rs_wait($$SELECT (treestore.stats()->>'sessions')::int = 1$$) AS alone;
SELECT (treestore.stats()->'memory'->>'channels_bytes')::bigint AS channel_bytes_at_first;
SELECT count(*) FROM treestore.get_subtree('no-such-policy');
SELECT (treestore.stats()->'memory'->>'channels_bytes')::bigint AS channel_bytes_small_answers;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT 'rs-chan', 't', g, repeat('c', 200) FROM generate_series(1, 2000) g;
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'rs-chan';
SELECT (treestore.stats()->'memory'->>'channels_bytes')::bigint AS channel_bytes_after_a_scan;
DELETE FROM treestore.trajectories WHERE case_id = 'rs-chan';
DROP FUNCTION rs_wait(text);

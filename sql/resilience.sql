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
-- an error ends the transaction the same way
SET treestore.debug_fault = 'abort';
BEGIN;
INSERT INTO treestore.tool_results (result_id, case_id, tool_name) VALUES (-9104, 'rs-case', 'abort-fault');
SELECT 1 / 0;
ROLLBACK;
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
DROP FUNCTION rs_wait(text);

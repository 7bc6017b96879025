--
-- modify: COPY into a foreign table, ON CONFLICT DO NOTHING, INSERT ...
-- SELECT from the table itself, assigned ids after explicit ones (insert and
-- update), the server option batch_size.
--
-- Keys used here start with 'md-' (assigned ids: 2000000 and up); everything
-- is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;

-- ===================================================================
-- COPY FROM (rows arrive through BeginForeignInsert)
-- ===================================================================
COPY treestore.documents (policy_id, title) FROM stdin;
md-copy-1	first
md-copy-2	second
md-copy-3	third
\.
SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'md-copy-%' ORDER BY 1;
-- a duplicate key inside COPY fails the whole COPY
\set VERBOSITY terse
COPY treestore.documents (policy_id, title) FROM stdin;
md-copy-4	new
md-copy-1	duplicate
\.
\set VERBOSITY default
SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'md-copy-%';

-- ===================================================================
-- ON CONFLICT DO NOTHING: existing keys are skipped, not counted
-- ===================================================================
INSERT INTO treestore.documents (policy_id, title)
VALUES ('md-copy-1', 'skipped'), ('md-oc-1', 'inserted')
ON CONFLICT DO NOTHING;
INSERT INTO treestore.documents (policy_id, title)
VALUES ('md-copy-2', 'skipped'), ('md-oc-2', 'inserted')
ON CONFLICT DO NOTHING RETURNING policy_id, title;
SELECT policy_id, title FROM treestore.documents WHERE policy_id LIKE 'md-%' ORDER BY 1;
-- DO UPDATE is refused
\set VERBOSITY terse
INSERT INTO treestore.documents (policy_id, title) VALUES ('md-oc-1', 'x')
ON CONFLICT (policy_id) DO UPDATE SET title = 'y';
\set VERBOSITY default

-- ===================================================================
-- INSERT ... SELECT from the same table: the scan never sees the rows the
-- statement itself inserts (2,500 rows: more than one batch each way)
-- ===================================================================
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, action)
SELECT 'md-case', 't1', g, 'step ' || g FROM generate_series(1, 2500) g;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, action)
SELECT case_id, trajectory_id, step_number + 2500, action
FROM treestore.trajectories WHERE case_id = 'md-case';
SELECT count(*), min(step_number), max(step_number)
FROM treestore.trajectories WHERE case_id = 'md-case';
-- ===================================================================
-- assigned ids move past explicit ones, given by INSERT or by UPDATE
-- ===================================================================
INSERT INTO treestore.prompt_usage (usage_id, case_id) VALUES (2000000, 'md-u');
INSERT INTO treestore.prompt_usage (case_id) VALUES ('md-u') RETURNING usage_id - 2000000 AS after_explicit;
UPDATE treestore.prompt_usage SET usage_id = 2000005 WHERE usage_id = 2000001;
INSERT INTO treestore.prompt_usage (case_id) VALUES ('md-u') RETURNING usage_id - 2000000 AS after_update;
SELECT usage_id - 2000000 AS id FROM treestore.prompt_usage WHERE case_id = 'md-u' ORDER BY 1;

-- ===================================================================
-- the server option batch_size
-- ===================================================================
ALTER SERVER treestore OPTIONS (ADD batch_size '7');
EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO treestore.documents (policy_id) SELECT 'md-b-' || g FROM generate_series(1, 20) g;
INSERT INTO treestore.documents (policy_id) SELECT 'md-b-' || g FROM generate_series(1, 20) g;
SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'md-b-%';
ALTER SERVER treestore OPTIONS (DROP batch_size);
\set VERBOSITY terse
CREATE SERVER md_bad FOREIGN DATA WRAPPER treestore_fdw OPTIONS (batch_size '0');
CREATE SERVER md_bad FOREIGN DATA WRAPPER treestore_fdw OPTIONS (batch_size 'ten');
\set VERBOSITY default

-- ===================================================================
-- a writing statement reads its rows first, whole, into a tuplestore:
-- linear in the rows, spilled to disk past work_mem (the backend's peak
-- resident set stays small), and its own writes never feed its scan
-- ===================================================================
CREATE FUNCTION pg_temp.md_peak_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint
$$;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT 'md-mat', 't', g, repeat('m', 300) FROM generate_series(1, 50000) g;
CREATE TEMP TABLE md_peak AS SELECT pg_temp.md_peak_kb() AS before;
SET work_mem = '1MB';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE treestore.trajectories SET thought = 'u' || thought WHERE case_id = 'md-mat';
RESET work_mem;
SELECT pg_temp.md_peak_kb() - before < 100 * 1024 AS peak_under_100mb FROM md_peak;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE treestore.trajectories SET thought = 'v' || thought
 WHERE case_id = 'md-mat' AND trajectory_id = 't' AND step_number <= 10;
SELECT count(*), min(left(thought, 2)), max(left(thought, 2)) FROM treestore.trajectories WHERE case_id = 'md-mat';
-- INSERT ... SELECT from the same table ends: its own rows do not feed it
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT case_id, 'copy', step_number, thought FROM treestore.trajectories
 WHERE case_id = 'md-mat' AND step_number <= 1000;
SELECT trajectory_id, count(*) FROM treestore.trajectories WHERE case_id = 'md-mat' GROUP BY 1 ORDER BY 1;
DELETE FROM treestore.trajectories WHERE case_id = 'md-mat';
DROP TABLE md_peak;

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.documents WHERE policy_id LIKE 'md-%';
DELETE FROM treestore.trajectories WHERE case_id = 'md-case';
DELETE FROM treestore.prompt_usage WHERE case_id = 'md-u';

--
-- pushdown: which WHERE clauses narrow a scan to key ranges (EXPLAIN shows
-- "Access" and "Key Conditions"), round trips, and that every answer is the
-- one PostgreSQL gives on the same rows in ordinary tables.
--
-- Every qual also stays a local filter (the "Filter:" line), so a key range
-- can only save work.  Keys used here start with 'pd-' (tool_results: ids
-- 1 to 500); everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;

-- ===================================================================
-- the same rows in ordinary tables (schema pd_native) and in treestore
-- ===================================================================
CREATE SCHEMA pd_native;
CREATE TABLE pd_native.nodes (LIKE treestore.nodes);
CREATE TABLE pd_native.trajectories (LIKE treestore.trajectories);
CREATE TABLE pd_native.prompts (LIKE treestore.prompts);
CREATE TABLE pd_native.tool_results (LIKE treestore.tool_results);

-- 20 policies x 2 versions x 50 nodes, and policy 'pd-p0' whose id is a
-- prefix of the others', with versions '', 'v' and 'v1' (prefixes too)
INSERT INTO pd_native.nodes
SELECT 'pd-p' || lpad(p::text, 2, '0'), 'v' || v, 'n' || lpad(n::text, 3, '0'),
       CASE WHEN n > 1 THEN 'n001' END, n - 1, 1 + (n > 1)::int, 'section ' || n,
       'title ' || n, n, n + p % 3, NULL, 'summary ' || n, repeat('t', n),
       md5(n::text), jsonb_build_object('n', n)
  FROM generate_series(1, 20) p, generate_series(1, 2) v, generate_series(1, 50) n;
INSERT INTO pd_native.nodes (policy_id, version_id, node_id, title)
SELECT 'pd-p0', v, n, 'prefix ' || v || '/' || n
  FROM unnest(ARRAY['', 'v', 'v1']) v, unnest(ARRAY['', 'n', 'n0', 'n001']) n;
-- 5 cases x 2 trajectories x steps -5 .. 100
INSERT INTO pd_native.trajectories
SELECT 'pd-c' || c, 't' || t, s, 'tool', 'act ' || s, NULL, NULL, NULL
  FROM generate_series(1, 5) c, generate_series(1, 2) t, generate_series(-5, 100) s;
-- versions at the ends of the integer range too
INSERT INTO pd_native.prompts (prompt_id, version, name, variables)
SELECT 'pd-pr-' || p, v, 'prompt ' || v, ARRAY[v::text]
  FROM unnest(ARRAY['a', 'b']) p,
       unnest(ARRAY[-2147483648, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 10, 20, 30, 2147483647]) v;
INSERT INTO pd_native.tool_results (result_id, case_id, tool_name, success)
SELECT i, 'pd-case-' || (i % 10), 'tool-' || (i % 3), i % 2 = 0
  FROM generate_series(1, 500) i;

INSERT INTO treestore.nodes SELECT * FROM pd_native.nodes;
INSERT INTO treestore.trajectories SELECT * FROM pd_native.trajectories;
INSERT INTO treestore.prompts SELECT * FROM pd_native.prompts;
INSERT INTO treestore.tool_results SELECT * FROM pd_native.tool_results;

-- pd_check(query): runs the query on treestore and, with "treestore."
-- replaced by "pd_native.", on the ordinary tables; 'same, N rows' when both
-- give the same rows (EXCEPT ALL both ways).
CREATE FUNCTION pd_check(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  nq text := replace(q, 'treestore.', 'pd_native.');
  extra bigint;
  missing bigint;
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', q, nq) INTO extra;
  EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) x', nq, q) INTO missing;
  EXECUTE format('SELECT count(*) FROM (%s) x', q) INTO n;
  IF extra = 0 AND missing = 0 THEN
    RETURN format('same, %s rows', n);
  END IF;
  RETURN format('DIFFERENT: %s rows not in the ordinary table, %s missing', extra, missing);
END $$;

-- pd_access(query): the "Access:" line of the query's plan (where the
-- Key Conditions line would list conditions that do not narrow the scan;
-- see the report)
CREATE FUNCTION pd_access(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  line text;
  acc text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
    IF line LIKE '%Access:%' THEN
      acc := acc || btrim(line);
    END IF;
  END LOOP;
  RETURN acc;
END $$;

-- the whole tables first
SELECT pd_check('SELECT * FROM treestore.nodes');
SELECT pd_check('SELECT * FROM treestore.trajectories');
SELECT pd_check('SELECT * FROM treestore.prompts');
SELECT pd_check('SELECT * FROM treestore.tool_results');

-- a new session: the planner's idea of the tables' sizes is fresh
\c

-- ===================================================================
-- full key equality: a point lookup
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p03' AND version_id = 'v2' AND node_id = 'n017';
SELECT policy_id, version_id, node_id, title, page_start, page_end
  FROM treestore.nodes WHERE policy_id = 'pd-p03' AND version_id = 'v2' AND node_id = 'n017';
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p03' AND version_id = 'v2' AND node_id = 'n017'$$);
-- in any order, with other quals
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id FROM treestore.nodes
 WHERE node_id = 'n017' AND title LIKE 'title%' AND 'v2' = version_id AND policy_id = 'pd-p03';
SELECT pd_check($$SELECT node_id FROM treestore.nodes WHERE node_id = 'n017' AND title LIKE 'title%' AND 'v2' = version_id AND policy_id = 'pd-p03'$$);
-- a key that is not there
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p03' AND version_id = 'v2' AND node_id = 'n999'$$);
-- keys that are prefixes of other keys
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p0' AND version_id = '' AND node_id = ''$$);
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p0' AND version_id = 'v' AND node_id = 'n0'$$);
-- single-column keys
EXPLAIN (VERBOSE, COSTS OFF)
SELECT case_id FROM treestore.tool_results WHERE result_id = 42::bigint;
SELECT pd_check($$SELECT * FROM treestore.tool_results WHERE result_id = 42::bigint$$);
-- (an int4 constant against the bigint key: same answer)
SELECT pd_check($$SELECT * FROM treestore.tool_results WHERE result_id = 42$$);
SELECT pd_check($$SELECT * FROM treestore.tool_results WHERE result_id = 4200000000$$);

-- ===================================================================
-- key prefixes: the leading key columns
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'pd-p07';
SELECT pd_check($$SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'pd-p07'$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'pd-p07' AND version_id = 'v1';
SELECT pd_check($$SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'pd-p07' AND version_id = 'v1'$$);
-- 'pd-p0' must not take in 'pd-p01' .. 'pd-p09', nor version 'v' take in 'v1'
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p0'$$);
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p0' AND version_id = 'v'$$);
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p0' AND version_id = ''$$);
SELECT version_id, node_id FROM treestore.nodes WHERE policy_id = 'pd-p0' AND version_id = 'v'
 ORDER BY node_id;
-- a gap in the key (node_id without version_id): a prefix on policy_id only
SELECT pd_access($$SELECT version_id FROM treestore.nodes WHERE policy_id = 'pd-p07' AND node_id = 'n010'$$);
SELECT pd_check($$SELECT version_id FROM treestore.nodes WHERE policy_id = 'pd-p07' AND node_id = 'n010'$$);
-- no condition on the first key column: a full scan
SELECT pd_access($$SELECT policy_id FROM treestore.nodes WHERE version_id = 'v1' AND node_id = 'n010'$$);
SELECT pd_check($$SELECT policy_id FROM treestore.nodes WHERE version_id = 'v1' AND node_id = 'n010'$$);
-- a parameter of a generic plan, and an initplan's result
SET plan_cache_mode = force_generic_plan;
PREPARE pd_q1(text, text) AS
  SELECT node_id FROM treestore.nodes WHERE policy_id = $1 AND version_id = $2 AND node_id <= 'n003';
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE pd_q1('pd-p11', 'v2');
EXECUTE pd_q1('pd-p11', 'v2');
EXECUTE pd_q1('pd-p12', 'v9');
DEALLOCATE pd_q1;
RESET plan_cache_mode;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM treestore.nodes WHERE policy_id = (SELECT 'pd-p' || '13');
SELECT pd_check($$SELECT count(*) FROM treestore.nodes WHERE policy_id = (SELECT 'pd-p' || '13')$$);

-- ===================================================================
-- IN lists (= ANY): one key range per value
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT policy_id, node_id FROM treestore.nodes
 WHERE policy_id IN ('pd-p01', 'pd-p05', 'pd-p99') AND version_id = 'v1';
SELECT pd_check($$SELECT policy_id, node_id FROM treestore.nodes WHERE policy_id IN ('pd-p01', 'pd-p05', 'pd-p99') AND version_id = 'v1'$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id FROM treestore.nodes
 WHERE policy_id = 'pd-p02' AND version_id = 'v2' AND node_id IN ('n050', 'n001', 'n010', 'nope', 'n001');
SELECT pd_check($$SELECT node_id FROM treestore.nodes WHERE policy_id = 'pd-p02' AND version_id = 'v2' AND node_id IN ('n050', 'n001', 'n010', 'nope', 'n001')$$);
-- two IN lists: every combination
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id IN ('pd-p0', 'pd-p01', 'pd-p20') AND version_id IN ('', 'v', 'v2')$$);
-- NULL in the list, an empty list, a NULL array
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p04' AND version_id = 'v1' AND node_id = ANY (ARRAY['n002', NULL])$$);
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = ANY ('{}'::text[])$$);
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id = ANY (NULL::text[])$$);
SELECT pd_check($$SELECT * FROM treestore.tool_results WHERE result_id = ANY (ARRAY[1, 250, 500, 501, -1]::bigint[])$$);
-- NOT IN and <> ALL narrow nothing
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM treestore.nodes WHERE policy_id NOT IN ('pd-p01', 'pd-p02');
SELECT pd_check($$SELECT * FROM treestore.nodes WHERE policy_id NOT IN ('pd-p01', 'pd-p02')$$);

-- ===================================================================
-- ranges on an integer key column after the equal ones
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT version, name FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version BETWEEN 2 AND 5;
SELECT version, name FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version BETWEEN 2 AND 5
 ORDER BY version;
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version BETWEEN 2 AND 5$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version > 5$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version >= 5$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-b' AND version < 0$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-b' AND version <= 0$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-b' AND version > -3 AND version < 3$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-b' AND 3 >= version$$);
-- the ends of the type's range, empty ranges
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version >= 2147483647$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version <= -2147483648$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version > 2147483647$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version < -2147483648$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version > 5 AND version < 3$$);
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version > 4 AND version < 5$$);
-- two bounds on the same side: both are filters, whichever narrows
SELECT pd_check($$SELECT * FROM treestore.prompts WHERE prompt_id = 'pd-pr-a' AND version > 1 AND version > 4 AND version < 20 AND version <= 10$$);
-- a range on the second key column without the first: a full scan
SELECT pd_access($$SELECT prompt_id, version FROM treestore.prompts WHERE version >= 20$$);
SELECT pd_check($$SELECT prompt_id, version FROM treestore.prompts WHERE version >= 20$$);
-- a range on the first key column
EXPLAIN (VERBOSE, COSTS OFF)
SELECT case_id FROM treestore.tool_results WHERE result_id > 490::bigint;
SELECT pd_check($$SELECT * FROM treestore.tool_results WHERE result_id > 490::bigint$$);
SELECT pd_check($$SELECT * FROM treestore.tool_results WHERE result_id BETWEEN 100 AND 120$$);
-- trajectories: case and trajectory equal, a range of steps
EXPLAIN (VERBOSE, COSTS OFF)
SELECT step_number FROM treestore.trajectories
 WHERE case_id = 'pd-c2' AND trajectory_id = 't1' AND step_number > 95;
SELECT step_number FROM treestore.trajectories
 WHERE case_id = 'pd-c2' AND trajectory_id = 't1' AND step_number > 95 ORDER BY 1;
SELECT pd_check($$SELECT * FROM treestore.trajectories WHERE case_id = 'pd-c2' AND trajectory_id = 't1' AND step_number > 95$$);
SELECT pd_check($$SELECT * FROM treestore.trajectories WHERE case_id = 'pd-c2' AND trajectory_id = 't1' AND step_number <= 0$$);
SELECT pd_check($$SELECT * FROM treestore.trajectories WHERE case_id = 'pd-c3' AND trajectory_id IN ('t1', 't2', 't3') AND step_number BETWEEN 10 AND 12$$);
-- a range after a gap (no trajectory_id) narrows nothing: a prefix on case_id
SELECT pd_access($$SELECT trajectory_id, step_number FROM treestore.trajectories WHERE case_id = 'pd-c4' AND step_number < -3$$);
SELECT pd_check($$SELECT trajectory_id, step_number FROM treestore.trajectories WHERE case_id = 'pd-c4' AND step_number < -3$$);

-- ===================================================================
-- what is not pushed: text ranges (text order follows the collation, the
-- engine's is bytewise), LIKE, OR, non-key columns, volatile values
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
SELECT policy_id, node_id FROM treestore.nodes WHERE policy_id > 'pd-p18';
SELECT pd_check($$SELECT policy_id, node_id FROM treestore.nodes WHERE policy_id > 'pd-p18'$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id FROM treestore.nodes WHERE policy_id = 'pd-p04' AND version_id >= 'v2';
SELECT pd_check($$SELECT node_id FROM treestore.nodes WHERE policy_id = 'pd-p04' AND version_id >= 'v2'$$);
SELECT pd_check($$SELECT node_id FROM treestore.nodes WHERE policy_id BETWEEN 'pd-p0' AND 'pd-p02'$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id FROM treestore.nodes WHERE policy_id LIKE 'pd-p1%';
SELECT pd_check($$SELECT node_id FROM treestore.nodes WHERE policy_id LIKE 'pd-p1%'$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT node_id FROM treestore.nodes WHERE policy_id = 'pd-p01' OR policy_id = 'pd-p02';
SELECT pd_check($$SELECT node_id FROM treestore.nodes WHERE policy_id = 'pd-p01' OR policy_id = 'pd-p02'$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT policy_id FROM treestore.nodes WHERE title = 'title 7' AND page_start = 7;
SELECT pd_check($$SELECT policy_id FROM treestore.nodes WHERE title = 'title 7' AND page_start = 7$$);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM treestore.nodes
 WHERE policy_id = 'pd-p01' AND version_id = 'v1' AND node_id = 'n00' || (random() * 0 + 1)::int;

-- ===================================================================
-- joins: a parameterized scan, one keyed lookup per outer row
-- ===================================================================
CREATE TABLE pd_wanted (policy_id text, version_id text, node_id text);
INSERT INTO pd_wanted VALUES ('pd-p01', 'v1', 'n001'), ('pd-p02', 'v2', 'n050'),
  ('pd-p03', 'v1', 'nope'), (NULL, 'v1', 'n001'), ('pd-p0', 'v', 'n0'), ('pd-p01', 'v1', 'n001');
ANALYZE pd_wanted;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
-- pd_explain(query): EXPLAIN (VERBOSE, COSTS OFF) without "Key Conditions"
-- lines that show no parameter (see the report: parameterized key
-- conditions print as "(expression)" instead of $n)
CREATE FUNCTION pd_explain(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
    IF line NOT LIKE '%Key Conditions:%(expression)%' THEN
      RETURN NEXT line;
    END IF;
  END LOOP;
END $$;
SELECT pd_explain($$
SELECT w.policy_id, w.version_id, w.node_id, n.title
  FROM pd_wanted w JOIN treestore.nodes n USING (policy_id, version_id, node_id)$$);
SELECT w.policy_id, w.version_id, w.node_id, n.title
  FROM pd_wanted w JOIN treestore.nodes n USING (policy_id, version_id, node_id)
 ORDER BY 1, 2, 3;
SELECT pd_check($$SELECT w.policy_id, w.version_id, w.node_id, n.title FROM pd_wanted w JOIN treestore.nodes n USING (policy_id, version_id, node_id)$$);
-- a prefix per outer row
SELECT pd_explain($$
SELECT w.policy_id, n.node_id FROM pd_wanted w
  JOIN treestore.nodes n ON n.policy_id = w.policy_id AND n.version_id = w.version_id$$);
SELECT pd_check($$SELECT w.policy_id, n.node_id FROM pd_wanted w JOIN treestore.nodes n ON n.policy_id = w.policy_id AND n.version_id = w.version_id$$);
-- outer join: unmatched rows keep NULLs
SELECT pd_check($$SELECT w.*, n.title FROM pd_wanted w LEFT JOIN treestore.nodes n ON n.policy_id = w.policy_id AND n.version_id = w.version_id AND n.node_id = w.node_id$$);
-- LATERAL: the outer values are parameters ($n)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT w.policy_id, x.node_id FROM pd_wanted w,
  LATERAL (SELECT node_id FROM treestore.nodes n
            WHERE n.policy_id = w.policy_id AND n.version_id = w.version_id
            ORDER BY node_id DESC LIMIT 2) x;
SELECT pd_check($$SELECT w.policy_id, x.node_id FROM pd_wanted w, LATERAL (SELECT node_id FROM treestore.nodes n WHERE n.policy_id = w.policy_id AND n.version_id = w.version_id ORDER BY node_id DESC LIMIT 2) x$$);
-- a join between two treestore tables
SELECT pd_check($$SELECT t.case_id, t.step_number, r.result_id FROM treestore.trajectories t JOIN treestore.tool_results r ON r.result_id = t.step_number WHERE t.case_id = 'pd-c1' AND t.trajectory_id = 't2'$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;

-- ===================================================================
-- EXPLAIN ANALYZE: round trips and rows fetched
-- ===================================================================
-- a point lookup: one round trip, one row
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p03' AND version_id = 'v2' AND node_id = 'n017';
-- a missing key: one round trip, nothing fetched
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p03' AND version_id = 'v2' AND node_id = 'n999';
-- a prefix: only its rows are fetched
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p05';
-- a range: the rows of the range only; the filter keeps them all
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.trajectories WHERE case_id = 'pd-c2' AND trajectory_id = 't1' AND step_number > 95;
-- a text range: every row fetched, the filter removes most
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.trajectories WHERE case_id > 'pd-c4';
-- a full scan of 1060 small rows: batches of up to 1000 rows
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.trajectories;
-- IN list: three values, two present
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM treestore.tool_results WHERE result_id = ANY (ARRAY[7, 8, 9999]::bigint[]);
-- a parameterized scan: one round trip per outer row with a non-NULL key
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
CREATE FUNCTION pd_explain_analyze(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF line NOT LIKE '%Key Conditions:%(expression)%' THEN
      RETURN NEXT line;
    END IF;
  END LOOP;
END $$;
SELECT pd_explain_analyze($$
SELECT n.title FROM pd_wanted w JOIN treestore.nodes n USING (policy_id, version_id, node_id)$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;

-- ===================================================================
-- UPDATE and DELETE find their rows the same way
-- ===================================================================
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE treestore.nodes SET title = 'changed' WHERE policy_id = 'pd-p06' AND version_id = 'v1' AND node_id = 'n002';
UPDATE treestore.nodes SET title = 'changed' WHERE policy_id = 'pd-p06' AND version_id = 'v1' AND node_id = 'n002';
UPDATE pd_native.nodes SET title = 'changed' WHERE policy_id = 'pd-p06' AND version_id = 'v1' AND node_id = 'n002';
EXPLAIN (VERBOSE, COSTS OFF)
DELETE FROM treestore.prompts WHERE prompt_id = 'pd-pr-b' AND version > 5;
DELETE FROM treestore.prompts WHERE prompt_id = 'pd-pr-b' AND version > 5;
DELETE FROM pd_native.prompts WHERE prompt_id = 'pd-pr-b' AND version > 5;
SELECT pd_check('SELECT * FROM treestore.nodes');
SELECT pd_check('SELECT * FROM treestore.prompts');

-- ===================================================================
-- collations: the engine compares text bytewise, so "=" on text is pushed
-- down only under a deterministic collation; under a case-insensitive one
-- every matching row must still be found (filtered locally)
-- ===================================================================
CREATE COLLATION pd_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT pd_check($$SELECT policy_id, node_id FROM treestore.nodes
                  WHERE policy_id = 'PD-P06' COLLATE pd_ci$$);
SELECT count(*) FROM treestore.nodes WHERE policy_id = 'PD-P06' COLLATE pd_ci;
SELECT pd_check($$SELECT policy_id, node_id FROM treestore.nodes
                  WHERE policy_id COLLATE pd_ci IN ('PD-P06', 'Pd-P07')$$);
SELECT pd_access($$SELECT * FROM treestore.nodes WHERE policy_id = 'PD-P06' COLLATE pd_ci$$);
SELECT pd_access($$SELECT * FROM treestore.nodes WHERE policy_id COLLATE pd_ci IN ('PD-P06', 'Pd-P07')$$);
-- a deterministic collation other than the default still narrows the scan
SELECT pd_access($$SELECT * FROM treestore.nodes WHERE policy_id = 'pd-p06' COLLATE "C"$$);
SELECT pd_check($$SELECT policy_id, node_id FROM treestore.nodes WHERE policy_id = 'pd-p06' COLLATE "C"$$);
DROP COLLATION pd_ci;

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.nodes WHERE policy_id LIKE 'pd-%';
DELETE FROM treestore.trajectories WHERE case_id LIKE 'pd-%';
DELETE FROM treestore.prompts WHERE prompt_id LIKE 'pd-%';
DELETE FROM treestore.tool_results WHERE case_id LIKE 'pd-%';
SELECT count(*) FROM treestore.nodes;
SET client_min_messages = warning;
DROP SCHEMA pd_native CASCADE;
RESET client_min_messages;
DROP TABLE pd_wanted;
DROP FUNCTION pd_check(text);
DROP FUNCTION pd_explain(text);
DROP FUNCTION pd_access(text);
DROP FUNCTION pd_explain_analyze(text);

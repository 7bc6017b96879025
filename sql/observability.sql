--
-- observability: treestore.stats(), treestore.metrics() and
-- treestore.metrics_text() (src/metrics.c).  Only stable facts: keys,
-- types, names, and row counts as differences around known writes.
--
-- Keys used here start with 'ob-'; the role is regress_ts_obs; everything
-- is deleted or dropped at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;

-- ===================================================================
-- stats(): keys and their types
-- ===================================================================
SELECT s->>'status' AS status FROM treestore.stats() AS s;
SELECT k, jsonb_typeof(s->k) AS type
  FROM treestore.stats() AS s,
       unnest(ARRAY['status', 'worker_pid', 'uptime_seconds', 'documents', 'versions', 'nodes',
                    'tables', 'data', 'wal', 'cache', 'transactions', 'checkpoints',
                    'sessions', 'requests']) AS k
 ORDER BY k;
-- nested objects: every key a number (cache.hit_ratio: a number or null)
SELECT o, k, jsonb_typeof(s->o->k) AS type
  FROM treestore.stats() AS s,
       (VALUES ('data', 'bytes'), ('data', 'pages'), ('data', 'free_pages'),
               ('data', 'dirty_pages'), ('data', 'disk_free_bytes'),
               ('wal', 'bytes'), ('wal', 'segments'), ('wal', 'flushes'),
               ('cache', 'hits'), ('cache', 'misses'), ('cache', 'pages'),
               ('transactions', 'commits'), ('transactions', 'conflicts'),
               ('transactions', 'prepared'), ('transactions', 'active'),
               ('checkpoints', 'count'), ('checkpoints', 'last_age_seconds')) AS v(o, k)
 ORDER BY o, k;
SELECT jsonb_typeof(s->'data'->'directory') AS directory,
       jsonb_typeof(s->'cache'->'hit_ratio') IN ('number', 'null') AS hit_ratio
  FROM treestore.stats() AS s;
-- one count per table, the eight of them
SELECT k, jsonb_typeof(v) AS type
  FROM treestore.stats() AS s, jsonb_each(s->'tables') AS t(k, v)
 ORDER BY k;
-- plausible values: the worker is this server's, the data file has pages,
-- the log has a segment, the data file is its pages
SELECT (s->>'worker_pid')::int = (treestore.health()->>'worker_pid')::int AS same_worker,
       (s->>'uptime_seconds')::float8 >= 0 AS uptime,
       (s->'data'->>'pages')::bigint > 0 AS pages,
       (s->'data'->>'bytes')::bigint = (s->'data'->>'pages')::bigint * 4096 AS bytes,
       (s->'wal'->>'segments')::bigint >= 1 AS wal_segments,
       (s->'checkpoints'->>'last_age_seconds')::float8 >= 0 AS checkpoint_age,
       (s->>'sessions')::int >= 1 AS sessions,
       (s->>'documents')::bigint = (s->'tables'->>'documents')::bigint AS documents_agree
  FROM treestore.stats() AS s;

-- ===================================================================
-- row counts: committed rows, no scan
-- ===================================================================
CREATE TEMP TABLE ob_before AS
  SELECT (s->>'documents')::bigint AS documents, (s->>'versions')::bigint AS versions,
         (s->>'nodes')::bigint AS nodes,
         (s->'tables'->>'trajectories')::bigint AS trajectories,
         (s->'transactions'->>'commits')::bigint AS commits
    FROM treestore.stats() AS s;
INSERT INTO treestore.documents (policy_id, title) VALUES ('ob-1', 'one'), ('ob-2', 'two');
INSERT INTO treestore.versions (policy_id, version_id)
  VALUES ('ob-1', 'v1'), ('ob-1', 'v2'), ('ob-2', 'v1');
INSERT INTO treestore.nodes (policy_id, version_id, node_id, title)
  SELECT 'ob-1', 'v1', lpad(g::text, 4, '0'), 'node ' || g FROM generate_series(1, 5) g;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number)
  SELECT 'ob-case', 't', g FROM generate_series(1, 7) g;
SELECT (s->>'documents')::bigint - b.documents AS documents,
       (s->>'versions')::bigint - b.versions AS versions,
       (s->>'nodes')::bigint - b.nodes AS nodes,
       (s->'tables'->>'trajectories')::bigint - b.trajectories AS trajectories,
       (s->'transactions'->>'commits')::bigint - b.commits >= 4 AS commits
  FROM treestore.stats() AS s, ob_before AS b;
-- metrics() counts the same rows
SELECT m.labels->>'table' AS "table", m.value::bigint - b.n AS added
  FROM treestore.metrics() AS m
  JOIN (SELECT 'documents' AS t, documents AS n FROM ob_before
        UNION ALL SELECT 'versions', versions FROM ob_before
        UNION ALL SELECT 'nodes', nodes FROM ob_before) AS b ON b.t = m.labels->>'table'
 WHERE m.name = 'treestore_rows'
 ORDER BY 1;
-- rows written by an open transaction are not counted until it commits
BEGIN;
INSERT INTO treestore.nodes (policy_id, version_id, node_id) VALUES ('ob-1', 'v1', '0006');
SELECT (s->>'nodes')::bigint - b.nodes AS nodes FROM treestore.stats() AS s, ob_before AS b;
COMMIT;
SELECT (s->>'nodes')::bigint - b.nodes AS nodes FROM treestore.stats() AS s, ob_before AS b;
-- and deletes take them off again
DELETE FROM treestore.nodes WHERE policy_id = 'ob-1';
DELETE FROM treestore.versions WHERE policy_id IN ('ob-1', 'ob-2');
DELETE FROM treestore.documents WHERE policy_id IN ('ob-1', 'ob-2');
DELETE FROM treestore.trajectories WHERE case_id = 'ob-case';
SELECT (s->>'documents')::bigint - b.documents AS documents,
       (s->>'versions')::bigint - b.versions AS versions,
       (s->>'nodes')::bigint - b.nodes AS nodes,
       (s->'tables'->>'trajectories')::bigint - b.trajectories AS trajectories
  FROM treestore.stats() AS s, ob_before AS b;

-- ===================================================================
-- metrics(): names, types, labels
-- ===================================================================
SELECT name, type, count(*) AS samples,
       bool_and(value >= 0) AS non_negative,
       string_agg(DISTINCT (SELECT string_agg(k, ',') FROM jsonb_object_keys(labels) k), ',') AS label_keys
  FROM treestore.metrics()
 GROUP BY name, type
 ORDER BY name;
-- naming rules: the prefix, counters end in _total, gauges do not
SELECT count(*) FILTER (WHERE name !~ '^treestore_[a-z_]+$') AS bad_names,
       count(*) FILTER (WHERE type NOT IN ('counter', 'gauge')) AS bad_types,
       count(*) FILTER (WHERE (type = 'counter') <> (name ~ '_total$')) AS bad_suffixes,
       count(*) FILTER (WHERE jsonb_typeof(labels) <> 'object') AS bad_labels
  FROM treestore.metrics();
-- the worker is up and ready
SELECT name, labels, value FROM treestore.metrics()
 WHERE name IN ('treestore_up', 'treestore_worker_state', 'treestore_engine_poisoned')
 ORDER BY name, labels->>'state';
SELECT labels->>'table' AS "table" FROM treestore.metrics()
 WHERE name = 'treestore_rows' ORDER BY 1;
-- one sample per name and labels
SELECT name, labels, count(*) FROM treestore.metrics() GROUP BY 1, 2 HAVING count(*) > 1;

-- ===================================================================
-- metrics_text(): the Prometheus text exposition format
-- ===================================================================
CREATE TEMP TABLE ob_text AS SELECT treestore.metrics_text() AS t;
CREATE TEMP TABLE ob_lines AS
  SELECT l, n FROM ob_text, regexp_split_to_table(rtrim(t, E'\n'), E'\n') WITH ORDINALITY AS x(l, n);
-- ends with a newline, has no empty line
SELECT right(t, 1) = E'\n' AS ends_with_newline, t !~ E'\n\n' AS no_empty_line FROM ob_text;
-- every line is a comment (# HELP / # TYPE) or a sample
SELECT l AS bad_line FROM ob_lines
 WHERE l !~ '^# (HELP|TYPE) treestore_[a-z_]+ '
   AND l !~ '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*")*\})? (NaN|[+-]Inf|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$';
-- each metric: exactly one # HELP then one # TYPE, before its samples,
-- which come together
CREATE TEMP TABLE ob_samples AS
  SELECT substring(l FROM '^[a-zA-Z_:][a-zA-Z0-9_:]*') AS name,
         substring(l FROM '^(.*) [^ ]+$') AS series, n
    FROM ob_lines WHERE l !~ '^#';
SELECT s.name,
       (SELECT count(*) FROM ob_lines WHERE l ~ ('^# HELP ' || s.name || ' ')) AS help,
       (SELECT count(*) FROM ob_lines WHERE l ~ ('^# TYPE ' || s.name || ' (counter|gauge)$')) AS type,
       (SELECT n FROM ob_lines WHERE l ~ ('^# HELP ' || s.name || ' ')) + 1 =
       (SELECT n FROM ob_lines WHERE l ~ ('^# TYPE ' || s.name || ' ')) AS help_then_type,
       (SELECT n FROM ob_lines WHERE l ~ ('^# TYPE ' || s.name || ' ')) + 1 = min(s.n) AS type_then_samples,
       max(s.n) - min(s.n) + 1 = count(*) AS together
  FROM ob_samples s
 GROUP BY s.name
HAVING (SELECT count(*) FROM ob_lines WHERE l ~ ('^# HELP ' || s.name || ' ')) <> 1
    OR (SELECT count(*) FROM ob_lines WHERE l ~ ('^# TYPE ' || s.name || ' (counter|gauge)$')) <> 1
    OR (SELECT n FROM ob_lines WHERE l ~ ('^# HELP ' || s.name || ' ')) + 1 <>
       (SELECT n FROM ob_lines WHERE l ~ ('^# TYPE ' || s.name || ' '))
    OR (SELECT n FROM ob_lines WHERE l ~ ('^# TYPE ' || s.name || ' ')) + 1 <> min(s.n)
    OR max(s.n) - min(s.n) + 1 <> count(*);
-- the same series and types as metrics(), one sample each
CREATE TEMP TABLE ob_rows AS
  SELECT m.name || coalesce((SELECT '{' || string_agg(format('%s="%s"', k,
                                   replace(replace(replace(v, '\', '\\'), '"', '\"'), E'\n', '\n')), ',')
                                   || '}'
                               FROM jsonb_each_text(m.labels) AS x(k, v)), '') AS series,
         m.name, m.type
    FROM treestore.metrics() AS m;
SELECT (SELECT count(*) FROM ob_samples) = (SELECT count(*) FROM ob_rows) AS same_count,
       (SELECT count(*) FROM ob_samples s FULL JOIN ob_rows r USING (series)
         WHERE s.series IS NULL OR r.series IS NULL) AS unmatched,
       (SELECT count(*) FROM (SELECT DISTINCT name, type FROM ob_rows) r
         WHERE NOT EXISTS (SELECT FROM ob_lines
                           WHERE l = '# TYPE ' || r.name || ' ' || r.type)) AS type_mismatches;
-- a label value with a space, as metrics() has it
SELECT l FROM ob_lines WHERE l ~ '^treestore_worker_state\{state="(not started|ready)"\}' ORDER BY l;
SELECT l FROM ob_lines WHERE l IN ('treestore_up 1', '# TYPE treestore_rows gauge',
                                   '# TYPE treestore_commits_total counter')
 ORDER BY l;
DROP TABLE ob_text, ob_lines, ob_samples, ob_rows, ob_before;

-- ===================================================================
-- privileges: not for PUBLIC; a role needs EXECUTE
-- ===================================================================
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.oid IN ('treestore.stats()'::regprocedure, 'treestore.metrics()'::regprocedure,
                 'treestore.metrics_text()'::regprocedure)
 ORDER BY p.proname;
CREATE ROLE regress_ts_obs;
SET ROLE regress_ts_obs;
CREATE FUNCTION pg_temp.ob_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT f, pg_temp.ob_try('SELECT ' || f) AS result
  FROM unnest(ARRAY['treestore.stats()', 'count(*) FROM treestore.metrics()',
                    'treestore.metrics_text()']) AS f;
RESET ROLE;
GRANT EXECUTE ON FUNCTION treestore.stats(), treestore.metrics(), treestore.metrics_text()
  TO regress_ts_obs;
SET ROLE regress_ts_obs;
SELECT f, pg_temp.ob_try('SELECT ' || f) AS result
  FROM unnest(ARRAY['treestore.stats()', 'count(*) FROM treestore.metrics()',
                    'treestore.metrics_text()']) AS f;
SELECT treestore.stats()->>'status' AS status;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION treestore.stats(), treestore.metrics(), treestore.metrics_text()
  FROM regress_ts_obs;
DROP FUNCTION pg_temp.ob_try(text);
DROP ROLE regress_ts_obs;

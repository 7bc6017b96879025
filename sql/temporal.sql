--
-- temporal: the temporal rule's edges (CONTRACT.md section 3) through
-- version_as_of and every node function taking as_of (get_node,
-- get_children, get_subtree, get_ancestors, nodes_by_page, get_document),
-- and what delete_document does to the versions.
--
-- A version is in force from its effective_from (inclusive) until the
-- effective_from of the next version of the policy, or its own effective_to
-- (exclusive) when set, whichever is earlier.  version_id wins; else the
-- version in force at as_of; else the version in force today, or, when none
-- is, the one with the latest effective_from.
--
-- Every version's nodes carry its name in their titles ("v1:root"), so a
-- row of tp_probe shows which version each function answered from: "v1 x3"
-- = 3 rows, all of v1; "-" = no row.  Dates around today are relative to
-- current_date and shown as labels.  Keys start with 'tp-'; everything is
-- deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY terse

-- a version's tree: root r (pages 1-3) > child c (page 2) > leaf l (pages 2-4)
CREATE FUNCTION tp_tree(v text, leaf boolean DEFAULT true) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('doc_name', v || ' edition', 'structure', jsonb_build_array(
           jsonb_build_object('title', v || ':root', 'node_id', 'r', 'start_index', 1, 'end_index', 3,
             'nodes', jsonb_build_array(
               jsonb_build_object('title', v || ':child', 'node_id', 'c', 'page_index', 2)
               || CASE WHEN leaf THEN jsonb_build_object('nodes', jsonb_build_array(
                    jsonb_build_object('title', v || ':leaf', 'node_id', 'l', 'start_index', 2, 'end_index', 4)))
                  ELSE '{}' END))))
$$;
-- "v1 x3": the versions named by the titles of the rows, and how many
CREATE FUNCTION tp_tags(titles text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN coalesce(cardinality(titles), 0) = 0 THEN '-'
              ELSE (SELECT string_agg(DISTINCT split_part(t, ':', 1), '+') FROM unnest(titles) t)
                   || ' x' || cardinality(titles) END
$$;
-- what every function answers for (policy, as_of, version_id)
CREATE FUNCTION tp_probe(p text, d date, v text DEFAULT NULL)
RETURNS TABLE (version_as_of text, get_node text, get_children text, get_subtree text,
               get_ancestors text, nodes_by_page text, get_document text)
LANGUAGE sql AS $$
  SELECT CASE WHEN d IS NULL OR v IS NOT NULL THEN '(n/a)'
              ELSE coalesce((SELECT x.version_id FROM treestore.version_as_of(p, d) x), '-') END,
         tp_tags(ARRAY(SELECT title FROM treestore.get_node(p, 'l', v, d))),
         tp_tags(ARRAY(SELECT title FROM treestore.get_children(p, NULL, v, d))),
         tp_tags(ARRAY(SELECT title FROM treestore.get_subtree(p, NULL, NULL, v, d))),
         tp_tags(ARRAY(SELECT title FROM treestore.get_ancestors(p, 'l', v, d))),
         tp_tags(ARRAY(SELECT title FROM treestore.nodes_by_page(p, 2, v, d))),
         coalesce(treestore.get_document(p, v, d)->>'doc_name', '-')
$$;

-- ===================================================================
-- tp-a: consecutive versions, effective_to, gaps, a future and an
-- undated version
-- ===================================================================
--   v1    from 2020-01-01, effective_to 2025-01-01 (after v2 starts: v2 ends it)
--   v2    from 2021-01-01, effective_to 2021-06-01 (a gap until v3)
--   v3    from 2022-07-01, effective_to 2023-01-01 (a gap until v4)
--   v4    from 2024-01-01, open; its tree has no leaf l
--   v5    from 2999-01-01 (in the future)
--   draft no effective_from
SELECT v, treestore.store_document('tp-a', v, tp_tree(v, v <> 'v4'), f) AS stored
  FROM (VALUES ('v1', DATE '2020-01-01'), ('v2', '2021-01-01'), ('v3', '2022-07-01'),
               ('v4', '2024-01-01'), ('v5', '2999-01-01'), ('draft', NULL)) AS s(v, f);
UPDATE treestore.versions SET effective_to = DATE '2025-01-01' WHERE policy_id = 'tp-a' AND version_id = 'v1';
UPDATE treestore.versions SET effective_to = DATE '2021-06-01' WHERE policy_id = 'tp-a' AND version_id = 'v2';
UPDATE treestore.versions SET effective_to = DATE '2023-01-01' WHERE policy_id = 'tp-a' AND version_id = 'v3';
-- list_versions: by effective_from, undated last
SELECT version_id, effective_from, effective_to, doc_name, node_count FROM treestore.list_versions('tp-a');
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'tp-a';

-- every function, day by day
SELECT e.what, e.d AS as_of, p.*
  FROM (VALUES (DATE '2019-12-31', 'the day before v1'),
               ('2020-01-01', 'v1: first day'),
               ('2020-12-31', 'v1: last day (v2 starts next)'),
               ('2021-01-01', 'v2: first day (v1 ended)'),
               ('2021-05-31', 'v2: last day (effective_to next)'),
               ('2021-06-01', 'v2: effective_to, exclusive'),
               ('2022-06-30', 'gap: last day'),
               ('2022-07-01', 'v3: first day'),
               ('2022-12-31', 'v3: last day'),
               ('2023-01-01', 'v3: effective_to, exclusive'),
               ('2023-12-31', 'gap: last day'),
               ('2024-01-01', 'v4: first day, no leaf'),
               ('2998-12-31', 'v4: last day'),
               ('2999-01-01', 'v5: first day'),
               ('9999-12-31', 'v5: far'),
               (NULL, 'no as_of: today''s, v4')) AS e(d, what),
       LATERAL tp_probe('tp-a', e.d) p
 ORDER BY e.d NULLS LAST;
-- version_as_of returns the versions row, whole
SELECT policy_id, version_id, effective_from, effective_to, doc_name, node_count
  FROM treestore.version_as_of('tp-a', DATE '2021-05-31');
-- a NULL as_of (version_as_of is STRICT), an unknown policy: no row
SELECT (SELECT count(*) FROM treestore.version_as_of('tp-a', NULL)) AS null_as_of,
       (SELECT count(*) FROM treestore.version_as_of('tp-none', DATE '2021-05-31')) AS unknown_policy;

-- version_id wins over as_of: also a version not in force then, the
-- undated one; an unknown version_id does not fall back to as_of
SELECT e.what, p.*
  FROM (VALUES (1, 'v3', DATE '2021-03-01', 'v3 at a day of v2'),
               (2, 'v2', '2022-01-01', 'v2 in the gap after it'),
               (3, 'v1', '2019-01-01', 'v1 before its first day'),
               (4, 'v5', NULL, 'v5 (future), no as_of'),
               (5, 'draft', '2021-03-01', 'the undated version'),
               (6, 'nope', '2021-03-01', 'unknown version_id, as_of of v2'),
               (7, 'nope', NULL, 'unknown version_id, no as_of')) AS e(i, v, d, what),
       LATERAL tp_probe('tp-a', e.d, e.v) p
 ORDER BY e.i;

-- writes to treestore.versions move the boundaries at once, also inside a
-- transaction, and ROLLBACK moves them back
BEGIN;
UPDATE treestore.versions SET effective_from = DATE '2019-06-01' WHERE policy_id = 'tp-a' AND version_id = 'v1';
UPDATE treestore.versions SET effective_to = NULL WHERE policy_id = 'tp-a' AND version_id = 'v2';
SELECT e.d AS as_of, p.version_as_of, p.get_subtree
  FROM unnest(ARRAY[DATE '2019-05-31', '2019-06-01', '2021-06-01', '2022-06-30']) AS e(d),
       LATERAL tp_probe('tp-a', e.d) p ORDER BY 1;
ROLLBACK;
SELECT e.d AS as_of, p.version_as_of, p.get_subtree
  FROM unnest(ARRAY[DATE '2019-05-31', '2019-06-01', '2021-06-01', '2022-06-30']) AS e(d),
       LATERAL tp_probe('tp-a', e.d) p ORDER BY 1;

-- ===================================================================
-- two policies are independent
-- ===================================================================
--   tp-x: v1 from 2020-01-01, v2 from 2022-01-01
--   tp-y: v1 from 2021-01-01, effective_to 2021-06-01
SELECT treestore.store_document('tp-x', 'v1', tp_tree('x1'), DATE '2020-01-01') +
       treestore.store_document('tp-x', 'v2', tp_tree('x2'), DATE '2022-01-01') +
       treestore.store_document('tp-y', 'v1', tp_tree('y1'), DATE '2021-01-01') AS stored;
UPDATE treestore.versions SET effective_to = DATE '2021-06-01' WHERE policy_id = 'tp-y' AND version_id = 'v1';
SELECT e.d AS as_of, x.version_as_of AS x_version, x.get_subtree AS x_subtree, x.get_document AS x_document,
       y.version_as_of AS y_version, y.get_subtree AS y_subtree, y.get_document AS y_document
  FROM unnest(ARRAY[DATE '2020-06-01', '2021-01-01', '2021-03-01', '2021-06-01', '2022-01-01', NULL]) AS e(d),
       LATERAL tp_probe('tp-x', e.d) x, LATERAL tp_probe('tp-y', e.d) y
 ORDER BY e.d NULLS LAST;

-- ===================================================================
-- versions of one day; a version ending the day it starts; an
-- effective_to before the effective_from
-- ===================================================================
-- tp-tie: v9 and v10 both from 2020-01-01: the greatest version_id
-- (bytewise: 'v9' > 'v10') is in force, documents.c's choice; when v9
-- ends, v10 does not come back (it never was in force)
SELECT treestore.store_document('tp-tie', 'v10', tp_tree('v10'), DATE '2020-01-01') +
       treestore.store_document('tp-tie', 'v9', tp_tree('v9'), DATE '2020-01-01') AS stored;
UPDATE treestore.versions SET effective_to = DATE '2020-06-01' WHERE policy_id = 'tp-tie' AND version_id = 'v9';
SELECT e.d AS as_of, p.version_as_of, p.get_node, p.get_subtree, p.get_document
  FROM unnest(ARRAY[DATE '2019-12-31', '2020-01-01', '2020-05-31', '2020-06-01']) AS e(d),
       LATERAL tp_probe('tp-tie', e.d) p ORDER BY 1;
SELECT version_id FROM treestore.list_versions('tp-tie');
-- tp-zero: v1 from 2019-01-01; v2 from 2020-01-01 with effective_to
-- 2020-01-01 (never in force, but it ends v1); v3 from 2021-01-01 with
-- effective_to 2020-01-01 (never in force)
SELECT treestore.store_document('tp-zero', 'v1', tp_tree('v1'), DATE '2019-01-01') +
       treestore.store_document('tp-zero', 'v2', tp_tree('v2'), DATE '2020-01-01') +
       treestore.store_document('tp-zero', 'v3', tp_tree('v3'), DATE '2021-01-01') AS stored;
UPDATE treestore.versions SET effective_to = DATE '2020-01-01' WHERE policy_id = 'tp-zero' AND version_id IN ('v2', 'v3');
SELECT e.d AS as_of, p.version_as_of, p.get_node, p.get_subtree, p.get_document
  FROM unnest(ARRAY[DATE '2019-12-31', '2020-01-01', '2020-06-01', '2021-01-01', '2030-01-01']) AS e(d),
       LATERAL tp_probe('tp-zero', e.d) p ORDER BY 1;
-- no as_of: none in force today, so the latest effective_from: v3
SELECT * FROM tp_probe('tp-zero', NULL);

-- ===================================================================
-- no as_of: today's version, else the latest effective_from
-- ===================================================================
-- tp-future: every version in the future (and an undated one)
SELECT treestore.store_document('tp-future', 'v1', tp_tree('v1'), current_date + 10) +
       treestore.store_document('tp-future', 'v2', tp_tree('v2'), current_date + 100) +
       treestore.store_document('tp-future', 'u', tp_tree('u')) AS stored;
SELECT e.what, p.*
  FROM (VALUES (1, NULL::date, 'no as_of: none today, the latest: v2'),
               (2, current_date, 'today: none'),
               (3, current_date + 9, 'today+9: none'),
               (4, current_date + 10, 'today+10: v1'),
               (5, current_date + 99, 'today+99: v1'),
               (6, current_date + 100, 'today+100: v2')) AS e(i, d, what),
       LATERAL tp_probe('tp-future', e.d) p
 ORDER BY e.i;
-- tp-today: v1 from today-100, v2 from tomorrow; v1's effective_to moved
-- around today
SELECT treestore.store_document('tp-today', 'v1', tp_tree('v1'), current_date - 100) +
       treestore.store_document('tp-today', 'v2', tp_tree('v2'), current_date + 1) AS stored;
CREATE TEMP TABLE tp_steps (i int, what text, to_days int, from_days int);
INSERT INTO tp_steps VALUES
  (1, 'v1 open: v1 today', NULL, -100),
  (2, 'v1 to tomorrow (exclusive): v1 today', 1, -100),
  (3, 'v1 to today (exclusive): none today, the latest: v2', 0, -100),
  (4, 'v1 to yesterday: v2', -1, -100),
  (5, 'v1 open from today: v1', NULL, 0),
  (6, 'v1 from tomorrow too: none today; the latest, of one day: v2', NULL, 1),
  (7, 'v1 from the day after tomorrow: none today, the latest: v1', NULL, 2);
CREATE FUNCTION tp_step(s tp_steps) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  answer text;
BEGIN
  UPDATE treestore.versions SET effective_to = current_date + s.to_days, effective_from = current_date + s.from_days
   WHERE policy_id = 'tp-today' AND version_id = 'v1';
  SELECT concat_ws(' / ', p.get_node, p.get_subtree, p.get_document, t.version_as_of) INTO answer
    FROM tp_probe('tp-today', NULL) p, tp_probe('tp-today', current_date) t;
  RETURN answer;
END $$;
SELECT s.i, s.what, tp_step(s) AS "no as_of: node / subtree / document; version_as_of(today)"
  FROM tp_steps s ORDER BY s.i;
-- as_of today and no as_of agree whenever a version is in force today
UPDATE treestore.versions SET effective_from = current_date - 100, effective_to = NULL
 WHERE policy_id = 'tp-today' AND version_id = 'v1';
SELECT (SELECT (p.get_node, p.get_children, p.get_subtree, p.get_ancestors, p.nodes_by_page, p.get_document)
          FROM tp_probe('tp-today', NULL) p)
       = (SELECT (p.get_node, p.get_children, p.get_subtree, p.get_ancestors, p.nodes_by_page, p.get_document)
            FROM tp_probe('tp-today', current_date) p) AS same_answers,
       (SELECT get_subtree FROM tp_probe('tp-today', NULL)) AS today;

-- ===================================================================
-- versions without effective_from
-- ===================================================================
-- tp-undated: only undated versions: never in force; no as_of: the
-- greatest version_id (documents.c's choice among equals)
SELECT treestore.store_document('tp-undated', 'a', tp_tree('a')) +
       treestore.store_document('tp-undated', 'b', tp_tree('b')) AS stored;
SELECT e.what, p.*
  FROM (VALUES (1, NULL::date, NULL, 'no as_of'), (2, DATE '2020-01-01', NULL, 'as_of 2020-01-01'),
               (3, current_date, NULL, 'as_of today'), (4, DATE '2020-01-01', 'a', 'version a')) AS e(i, d, v, what),
       LATERAL tp_probe('tp-undated', e.d, e.v) p
 ORDER BY e.i;
-- a dated version that ended: still the latest (undated ones have no
-- effective_from at all)
SELECT treestore.store_document('tp-undated', 'c', tp_tree('c'), DATE '2020-01-01') AS stored;
UPDATE treestore.versions SET effective_to = DATE '2021-01-01' WHERE policy_id = 'tp-undated' AND version_id = 'c';
SELECT e.what, p.*
  FROM (VALUES (1, NULL::date, 'no as_of: c'), (2, DATE '2020-06-01', 'in force: c'),
               (3, DATE '2021-01-01', 'ended: none')) AS e(i, d, what),
       LATERAL tp_probe('tp-undated', e.d) p
 ORDER BY e.i;
SELECT version_id, effective_from FROM treestore.list_versions('tp-undated');
SELECT latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'tp-undated';

-- ===================================================================
-- delete_document and the versions
-- ===================================================================
-- deleting v2 (3 nodes + its row): v1 is in force again until v3 starts
-- (its own effective_to, 2025-01-01, is later)
SELECT treestore.delete_document('tp-a', 'v2') AS removed;
SELECT e.d AS as_of, p.version_as_of, p.get_node, p.get_subtree, p.get_document
  FROM unnest(ARRAY[DATE '2020-12-31', '2021-01-01', '2021-06-01', '2022-06-30', '2022-07-01']) AS e(d),
       LATERAL tp_probe('tp-a', e.d) p ORDER BY 1;
SELECT * FROM tp_probe('tp-a', DATE '2021-03-01', 'v2');
SELECT version_id FROM treestore.list_versions('tp-a');
-- an unknown version: nothing removed, nothing changes
SELECT treestore.delete_document('tp-a', 'nope') AS removed, treestore.delete_document('tp-none') AS removed_policy;
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'tp-a';
-- deleting the latest (v5): the documents row follows
SELECT treestore.delete_document('tp-a', 'v5') AS removed;
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'tp-a';
SELECT * FROM tp_probe('tp-a', DATE '2999-01-01');
-- deleting today's version (v4) in a transaction: no as_of then gives the
-- latest effective_from (v3, ended); ROLLBACK brings v4 back
BEGIN;
SELECT treestore.delete_document('tp-a', 'v4') AS removed;
SELECT * FROM tp_probe('tp-a', NULL);
SELECT latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'tp-a';
ROLLBACK;
SELECT * FROM tp_probe('tp-a', NULL);
SELECT latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'tp-a';
-- stored again under a deleted id with another date
SELECT treestore.store_document('tp-a', 'v2', tp_tree('v2bis'), DATE '2022-01-01') AS stored;
SELECT e.d AS as_of, p.version_as_of, p.get_subtree, p.get_document
  FROM unnest(ARRAY[DATE '2021-03-01', '2021-12-31', '2022-01-01', '2022-07-01']) AS e(d),
       LATERAL tp_probe('tp-a', e.d) p ORDER BY 1;
-- the last version of a policy: its documents row goes too (3 nodes + 1
-- version + 1 document)
SELECT treestore.delete_document('tp-y', 'v1') AS removed;
SELECT count(*) AS documents_rows FROM treestore.documents WHERE policy_id = 'tp-y';
SELECT * FROM tp_probe('tp-y', NULL);
SELECT count(*) AS versions FROM treestore.list_versions('tp-y');
-- a whole policy: its nodes (v1 3, v3 3, v4 2, v2 3, draft 3), its 5
-- versions, its documents row
SELECT treestore.delete_document('tp-a') AS removed;
SELECT * FROM tp_probe('tp-a', NULL);
SELECT * FROM tp_probe('tp-a', DATE '2020-06-01', 'v1');
SELECT (SELECT count(*) FROM treestore.list_versions('tp-a')) AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id = 'tp-a') AS documents;

-- ===================================================================
-- clean up
-- ===================================================================
SELECT sum(treestore.delete_document(p)) AS removed
  FROM unnest(ARRAY['tp-x', 'tp-tie', 'tp-zero', 'tp-future', 'tp-today', 'tp-undated']) AS p;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'tp-%') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id LIKE 'tp-%') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'tp-%') AS documents;
DROP FUNCTION tp_step(tp_steps);
DROP FUNCTION tp_probe(text, date, text);
DROP FUNCTION tp_tags(text[]);
DROP FUNCTION tp_tree(text, boolean);

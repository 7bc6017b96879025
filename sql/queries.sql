--
-- queries: treestore.get_node, get_children, get_subtree, get_ancestors,
-- nodes_by_page, version_as_of, list_versions, get_cross_references and
-- store_tool_result (CONTRACT.md sections 3 and 4, issue 5 "Queries").
--
-- Every answer is compared with the same question answered by plain SQL
-- over the foreign tables (recursive CTEs): the rows, whole, and their
-- order (ordinality against row_number), EXCEPT ALL both ways.
--
-- Documents: synthetic trees stored inline (node ids not in document
-- order, so key order is not the answer), two PageIndex samples of
-- test/data/pageindex/ (copied by test/pg/run_regress.sh to data/pageindex/
-- beside sql/), a wide and a 10,000-level document.  Keys used here start
-- with 'qy-'; everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY default
\getenv abs_srcdir PG_ABS_SRCDIR
\set pidir :abs_srcdir '/data/pageindex/'

-- the functions: not SECURITY DEFINER, not executable by PUBLIC, reads STABLE
SELECT p.oid::regprocedure AS function, p.prorettype::regtype AS returns, p.proretset AS setof,
       p.provolatile, p.proisstrict, p.prosecdef,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'treestore'::regnamespace
   AND p.proname IN ('get_node', 'get_children', 'get_subtree', 'get_ancestors', 'nodes_by_page',
                     'version_as_of', 'list_versions', 'get_cross_references', 'store_tool_result')
 ORDER BY p.proname;

-- ===================================================================
-- the documents
-- ===================================================================
-- qy-syn: three versions (v3 in the future); v1's ids are not in document
-- order (n00 is the last top-level node, n05 after n10)
SELECT treestore.store_document('qy-syn', 'v1', '[
  {"title": "Intro", "node_id": "n01", "start_index": 1, "end_index": 2},
  {"title": "Part", "node_id": "n02", "start_index": 3, "end_index": 9, "nodes": [
    {"title": "P.a", "node_id": "n10", "start_index": 3, "end_index": 5, "nodes": [
      {"title": "P.a.i", "node_id": "n20", "start_index": 3, "end_index": 3},
      {"title": "P.a.ii", "node_id": "n21", "start_index": 4, "end_index": 5, "nodes": [
        {"title": "deepest", "node_id": "n30", "page_index": 5, "summary": "s"}]}]},
    {"title": "P.b", "node_id": "n05", "start_index": 6, "end_index": 9}]},
  {"title": "Annex", "node_id": "n00", "start_index": 10, "end_index": 10}]'::jsonb,
  DATE '2024-01-01') AS stored;
SELECT treestore.store_document('qy-syn', 'v2', '[
  {"title": "Intro (v2)", "node_id": "n01", "nodes": [{"title": "only child", "node_id": "m2"}]}]'::jsonb,
  DATE '2024-06-01') AS stored;
SELECT treestore.store_document('qy-syn', 'v3', '[{"title": "Future", "node_id": "f1"}]'::jsonb,
  DATE '2099-01-01') AS stored;
-- a node whose parent is missing (written through the table): top level
INSERT INTO treestore.nodes (policy_id, version_id, node_id, parent_id, ordinal, depth, title)
VALUES ('qy-syn', 'v1', 'orphan', 'no-such-parent', 0, 1, 'orphan');
-- qy-gap: v1 in force [2024-01-01, 2024-03-01), v2 [2024-05-01, 2024-12-31)
SELECT treestore.store_document('qy-gap', 'v1', '[{"title": "g1", "node_id": "g1"}]'::jsonb, DATE '2024-01-01') AS stored;
SELECT treestore.store_document('qy-gap', 'v2', '[{"title": "g2", "node_id": "g2"}]'::jsonb, DATE '2024-05-01') AS stored;
UPDATE treestore.versions SET effective_to = DATE '2024-03-01' WHERE policy_id = 'qy-gap' AND version_id = 'v1';
UPDATE treestore.versions SET effective_to = DATE '2024-12-31' WHERE policy_id = 'qy-gap' AND version_id = 'v2';
-- qy-und: undated versions only (never in force; "latest": greatest version_id)
SELECT treestore.store_document('qy-und', 'a', '[{"title": "ua", "node_id": "ua"}]'::jsonb) AS stored;
SELECT treestore.store_document('qy-und', 'b', '[{"title": "ub", "node_id": "ub"}]'::jsonb) AS stored;
-- qy-wide: 120 siblings under one node; ids run against the ordinals
SELECT treestore.store_document('qy-wide', 'v1', jsonb_build_array(jsonb_build_object(
         'title', 'root', 'node_id', 'root',
         'nodes', (SELECT jsonb_agg(jsonb_build_object('title', 'c' || i, 'node_id', 'w' || (1000 - i),
                                                       'start_index', i, 'end_index', i + 1) ORDER BY i)
                     FROM generate_series(1, 120) i))), DATE '2024-01-01') AS stored;
-- two PageIndex samples
SELECT treestore.store_document('qy-pi-' || f, 'v1', pg_read_file(:'pidir' || f)::jsonb, DATE '2024-01-01') AS stored
  FROM unnest(ARRAY['PRML_structure.json',
                    'Regulation Best Interest_Interpretive release_structure.json']) AS f
 ORDER BY f;

-- ===================================================================
-- the same questions in plain SQL over the foreign tables
-- ===================================================================
-- every node of the documents above with its level below the top, its
-- chain of ids from the top and its rank in document order (siblings by
-- ordinal, then node_id bytewise); a node whose parent is missing is top level
CREATE TEMP TABLE qtree AS
WITH RECURSIVE t AS (
  SELECT n.policy_id, n.version_id, n.node_id, n.parent_id, 0 AS level,
         ARRAY[n.node_id] AS ids,
         ARRAY[lpad(n.ordinal::text, 10, '0') || '/' || n.node_id] AS path
    FROM treestore.nodes n
   WHERE n.policy_id LIKE 'qy-%'
     AND (n.parent_id IS NULL
          OR NOT EXISTS (SELECT 1 FROM treestore.nodes p
                          WHERE p.policy_id = n.policy_id AND p.version_id = n.version_id
                            AND p.node_id = n.parent_id))
  UNION ALL
  SELECT c.policy_id, c.version_id, c.node_id, c.parent_id, t.level + 1,
         t.ids || c.node_id, t.path || (lpad(c.ordinal::text, 10, '0') || '/' || c.node_id)
    FROM t JOIN treestore.nodes c
      ON c.policy_id = t.policy_id AND c.version_id = t.version_id AND c.parent_id = t.node_id
)
SELECT t.policy_id, t.version_id, t.node_id, t.parent_id, t.level, t.ids,
       row_number() OVER (PARTITION BY t.policy_id, t.version_id ORDER BY t.path COLLATE "C") AS doc_order
  FROM t;
-- every stored node is reached once
SELECT (SELECT count(*) FROM qtree) AS reached,
       (SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'qy-%') AS stored,
       (SELECT count(DISTINCT (policy_id, version_id, node_id)) FROM qtree) AS distinct_reached;
SELECT policy_id, version_id, count(*) AS nodes, max(level) AS max_level
  FROM qtree GROUP BY 1, 2 ORDER BY 1, 2;

-- expected answers: (ord, policy_id, version_id, node_id)
CREATE FUNCTION exp_subtree(p text, v text, x text, md int)
RETURNS TABLE (ord bigint, policy_id text, version_id text, node_id text) LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY d.doc_order), d.policy_id, d.version_id, d.node_id
    FROM qtree d
   WHERE d.policy_id = p AND d.version_id = v
     AND (x IS NULL AND (md IS NULL OR d.level <= md)
          OR EXISTS (SELECT 1 FROM qtree s
                      WHERE s.policy_id = p AND s.version_id = v AND s.node_id = x
                        AND d.ids[1:cardinality(s.ids)] = s.ids
                        AND (md IS NULL OR d.level - s.level <= md)))
$$;
CREATE FUNCTION exp_children(p text, v text, x text)
RETURNS TABLE (ord bigint, policy_id text, version_id text, node_id text) LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY n.ordinal, n.node_id COLLATE "C"), n.policy_id, n.version_id, n.node_id
    FROM treestore.nodes n JOIN qtree d USING (policy_id, version_id, node_id)
   WHERE n.policy_id = p AND n.version_id = v
     AND (x IS NULL AND d.level = 0 OR x IS NOT NULL AND d.level > 0 AND n.parent_id = x)
$$;
-- ancestors: walk up parent_id
CREATE FUNCTION exp_ancestors(p text, v text, x text)
RETURNS TABLE (ord bigint, policy_id text, version_id text, node_id text) LANGUAGE sql AS $$
  WITH RECURSIVE up AS (
    SELECT n.node_id, n.parent_id, 0 AS steps FROM treestore.nodes n
     WHERE n.policy_id = p AND n.version_id = v AND n.node_id = x
    UNION ALL
    SELECT n.node_id, n.parent_id, up.steps + 1 FROM up JOIN treestore.nodes n
      ON n.policy_id = p AND n.version_id = v AND n.node_id = up.parent_id
  )
  SELECT row_number() OVER (ORDER BY steps DESC), p, v, node_id FROM up
$$;
CREATE FUNCTION exp_page(p text, v text, pg int)
RETURNS TABLE (ord bigint, policy_id text, version_id text, node_id text) LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY d.doc_order), n.policy_id, n.version_id, n.node_id
    FROM treestore.nodes n JOIN qtree d USING (policy_id, version_id, node_id)
   WHERE n.policy_id = p AND n.version_id = v
     AND pg BETWEEN n.page_start AND coalesce(n.page_end, n.page_start)
$$;

-- a call's rows (whole, with their order) against expected ids: rows
-- returned, and rows in one and not the other (EXCEPT ALL both ways)
CREATE FUNCTION q_nodes(call text, expected text, OUT n bigint, OUT diff bigint)
LANGUAGE plpgsql AS $f$
BEGIN
  EXECUTE format($q$
    WITH got AS (SELECT g.ordinality AS ord, to_jsonb(g) - 'ordinality' AS r
                   FROM ROWS FROM (%s) WITH ORDINALITY AS g),
         exp AS (SELECT e.ord, to_jsonb(n) AS r
                   FROM (%s) e JOIN treestore.nodes n USING (policy_id, version_id, node_id))
    SELECT (SELECT count(*) FROM got),
           (SELECT count(*) FROM ((SELECT * FROM got EXCEPT ALL SELECT * FROM exp)
                                  UNION ALL (SELECT * FROM exp EXCEPT ALL SELECT * FROM got)) d)
  $q$, call, expected) INTO n, diff;
END $f$;

-- ===================================================================
-- get_subtree
-- ===================================================================
-- qy-syn v1 whole, in document order (key order would differ)
SELECT node_id, parent_id, ordinal, depth, title FROM treestore.get_subtree('qy-syn', version_id => 'v1');
-- node, max_depth 0 / 1 / 2 / NULL, for top-level, inner, leaf, deepest and missing nodes
SELECT x, md, c.*
  FROM unnest(ARRAY['n02', 'n10', 'n21', 'n30', 'n01', 'orphan', 'nope', NULL]) AS x,
       unnest(ARRAY[0, 1, 2, NULL]) AS md,
       LATERAL q_nodes(format('treestore.get_subtree(%L, %L, %s, %L)', 'qy-syn', x, coalesce(md::text, 'NULL'), 'v1'),
                       format('SELECT * FROM exp_subtree(%L, %L, %L, %s)', 'qy-syn', 'v1', x, coalesce(md::text, 'NULL'))) c
 ORDER BY x NULLS LAST, md NULLS LAST;
-- the ids of a few of them
SELECT string_agg(node_id, ' ' ORDER BY o) AS n02_depth_1
  FROM treestore.get_subtree('qy-syn', 'n02', 1, 'v1') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o);
SELECT string_agg(node_id, ' ') AS whole_depth_0 FROM treestore.get_subtree('qy-syn', NULL, 0, 'v1');
-- every node of every document, unbounded and at max_depth 1
SELECT t.policy_id, t.version_id, count(*) AS calls, sum(c.n) AS rows, sum(c.diff) AS diffs
  FROM qtree t, unnest(ARRAY[NULL, 1]) AS md,
       LATERAL q_nodes(format('treestore.get_subtree(%L, %L, %s, %L)', t.policy_id, t.node_id, coalesce(md::text, 'NULL'), t.version_id),
                       format('SELECT * FROM exp_subtree(%L, %L, %L, %s)', t.policy_id, t.version_id, t.node_id, coalesce(md::text, 'NULL'))) c
 GROUP BY 1, 2 ORDER BY 1, 2;
-- whole documents
SELECT p.policy_id, p.version_id, c.*
  FROM (SELECT DISTINCT policy_id, version_id FROM qtree) p,
       LATERAL q_nodes(format('treestore.get_subtree(%L, NULL, NULL, %L)', p.policy_id, p.version_id),
                       format('SELECT * FROM exp_subtree(%L, %L, NULL, NULL)', p.policy_id, p.version_id)) c
 ORDER BY 1, 2;
-- a negative max_depth is refused
SELECT * FROM treestore.get_subtree('qy-syn', 'n02', -1);

-- ===================================================================
-- get_children
-- ===================================================================
SELECT node_id, ordinal FROM treestore.get_children('qy-syn', NULL, 'v1');
SELECT node_id, ordinal FROM treestore.get_children('qy-syn', 'n02', 'v1');
SELECT x, c.*
  FROM unnest(ARRAY['n02', 'n10', 'n21', 'n30', 'n00', 'nope', NULL]) AS x,
       LATERAL q_nodes(format('treestore.get_children(%L, %L, %L)', 'qy-syn', x, 'v1'),
                       format('SELECT * FROM exp_children(%L, %L, %L)', 'qy-syn', 'v1', x)) c
 ORDER BY x NULLS LAST;
-- 120 siblings by ordinal (their ids run the other way)
SELECT c.*, (SELECT string_agg(title, ' ') FROM (SELECT title FROM treestore.get_children('qy-wide', 'root') LIMIT 12) s) AS first_titles
  FROM q_nodes($$treestore.get_children('qy-wide', 'root')$$,
               $$SELECT * FROM exp_children('qy-wide', 'v1', 'root')$$) c;
SELECT t.policy_id, t.version_id, count(*) AS calls, sum(c.n) AS rows, sum(c.diff) AS diffs
  FROM (SELECT policy_id, version_id, node_id FROM qtree
        UNION ALL SELECT DISTINCT policy_id, version_id, NULL FROM qtree) t,
       LATERAL q_nodes(format('treestore.get_children(%L, %L, %L)', t.policy_id, t.node_id, t.version_id),
                       format('SELECT * FROM exp_children(%L, %L, %L)', t.policy_id, t.version_id, t.node_id)) c
 GROUP BY 1, 2 ORDER BY 1, 2;

-- ===================================================================
-- get_ancestors and get_node
-- ===================================================================
SELECT node_id, depth FROM treestore.get_ancestors('qy-syn', 'n30', 'v1');
SELECT node_id, depth FROM treestore.get_ancestors('qy-syn', 'orphan', 'v1');
SELECT x, c.*
  FROM unnest(ARRAY['n30', 'n21', 'n02', 'n00', 'orphan', 'nope', NULL]) AS x,
       LATERAL q_nodes(format('treestore.get_ancestors(%L, %L, %L)', 'qy-syn', x, 'v1'),
                       format('SELECT * FROM exp_ancestors(%L, %L, %L)', 'qy-syn', 'v1', x)) c
 ORDER BY x NULLS LAST;
SELECT t.policy_id, t.version_id, count(*) AS calls, sum(c.n) AS rows, sum(c.diff) AS diffs
  FROM qtree t,
       LATERAL q_nodes(format('treestore.get_ancestors(%L, %L, %L)', t.policy_id, t.node_id, t.version_id),
                       format('SELECT * FROM exp_ancestors(%L, %L, %L)', t.policy_id, t.version_id, t.node_id)) c
 GROUP BY 1, 2 ORDER BY 1, 2;
-- get_node: the stored row, whole
SELECT t.policy_id, t.version_id, count(*) AS calls, sum(c.n) AS rows, sum(c.diff) AS diffs
  FROM qtree t,
       LATERAL q_nodes(format('treestore.get_node(%L, %L, %L)', t.policy_id, t.node_id, t.version_id),
                       format('SELECT 1::bigint AS ord, %L AS policy_id, %L AS version_id, %L AS node_id', t.policy_id, t.version_id, t.node_id)) c
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT node_id, title, page_start, page_end, summary FROM treestore.get_node('qy-syn', 'n30', 'v1');
-- missing node, version, policy; NULL node: no rows
SELECT (SELECT count(*) FROM treestore.get_node('qy-syn', 'nope', 'v1')) AS missing_node,
       (SELECT count(*) FROM treestore.get_node('qy-syn', 'n30', 'v9')) AS missing_version,
       (SELECT count(*) FROM treestore.get_node('qy-none', 'n30')) AS missing_policy,
       (SELECT count(*) FROM treestore.get_node('qy-syn', NULL, 'v1')) AS null_node,
       (SELECT count(*) FROM treestore.get_subtree('qy-none')) AS subtree_missing_policy,
       (SELECT count(*) FROM treestore.get_children('qy-syn', NULL, 'v9')) AS children_missing_version,
       (SELECT count(*) FROM treestore.get_ancestors('qy-none', 'n30')) AS ancestors_missing_policy,
       (SELECT count(*) FROM treestore.nodes_by_page('qy-none', 1)) AS pages_missing_policy;
-- a NULL policy_id is refused (as get_document does)
SELECT * FROM treestore.get_node(NULL, 'n30');

-- ===================================================================
-- nodes_by_page: page_start <= page <= coalesce(page_end, page_start)
-- ===================================================================
SELECT string_agg(node_id, ' ') AS page_5 FROM treestore.nodes_by_page('qy-syn', 5, 'v1');
SELECT pg, c.*
  FROM generate_series(0, 11) AS pg,
       LATERAL q_nodes(format('treestore.nodes_by_page(%L, %s, %L)', 'qy-syn', pg, 'v1'),
                       format('SELECT * FROM exp_page(%L, %L, %s)', 'qy-syn', 'v1', pg)) c
 ORDER BY pg;
SELECT p.policy_id, count(*) AS calls, sum(c.n) AS rows, sum(c.diff) AS diffs
  FROM (SELECT DISTINCT policy_id FROM qtree WHERE policy_id IN ('qy-wide') OR policy_id LIKE 'qy-pi-%') p,
       generate_series(-1, 130) AS pg,
       LATERAL q_nodes(format('treestore.nodes_by_page(%L, %s, %L)', p.policy_id, pg, 'v1'),
                       format('SELECT * FROM exp_page(%L, %L, %s)', p.policy_id, 'v1', pg)) c
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS null_page FROM treestore.nodes_by_page('qy-syn', NULL, 'v1');

-- ===================================================================
-- the temporal rule: version_as_of, list_versions, and the node functions
-- ===================================================================
-- edges: before the first day, first day, last day, effective_to (exclusive), gaps, future
SELECT p, d, (SELECT version_id FROM treestore.version_as_of(p, d)) AS version_id
  FROM (VALUES ('qy-syn', DATE '2023-12-31'), ('qy-syn', '2024-01-01'), ('qy-syn', '2024-05-31'),
               ('qy-syn', '2024-06-01'), ('qy-syn', '2098-12-31'), ('qy-syn', '2099-01-01'),
               ('qy-gap', '2023-12-31'), ('qy-gap', '2024-01-01'), ('qy-gap', '2024-02-29'),
               ('qy-gap', '2024-03-01'), ('qy-gap', '2024-04-30'), ('qy-gap', '2024-05-01'),
               ('qy-gap', '2024-12-30'), ('qy-gap', '2024-12-31'), ('qy-gap', '2030-01-01'),
               ('qy-und', '2024-01-01'), ('qy-none', '2024-01-01')) AS e(p, d);
-- every day of 2023-12-01 .. 2025-02-01 and a few far ones, against the
-- rule in SQL: the latest effective_from <= d (ties: greatest version_id)
-- unless its effective_to <= d
SELECT p, count(*) AS days, count(got.version_id) AS days_in_force,
       count(*) FILTER (WHERE got.version_id IS DISTINCT FROM exp.version_id
                           OR to_jsonb(got) IS DISTINCT FROM to_jsonb(exp)) AS mismatches
  FROM unnest(ARRAY['qy-syn', 'qy-gap', 'qy-und']) AS p,
       (SELECT generate_series(DATE '2023-12-01', DATE '2025-02-01', interval '1 day')::date AS d
        UNION ALL VALUES (DATE '2098-12-31'), (DATE '2099-01-01'), (DATE '2200-01-01')) AS days
       LEFT JOIN LATERAL treestore.version_as_of(p, d) got ON true
       LEFT JOIN LATERAL (SELECT * FROM (SELECT * FROM treestore.versions v
                                          WHERE v.policy_id = p AND v.effective_from <= d
                                          ORDER BY v.effective_from DESC, v.version_id COLLATE "C" DESC
                                          LIMIT 1) l
                           WHERE l.effective_to IS NULL OR l.effective_to > d) exp ON true
 GROUP BY p ORDER BY p;
SELECT count(*) AS null_as_of FROM treestore.version_as_of('qy-syn', NULL);
-- list_versions: by effective_from (undated last), whole rows
SELECT policy_id, version_id, effective_from, effective_to, node_count
  FROM treestore.list_versions('qy-syn');
SELECT policy_id, version_id, effective_from, effective_to FROM treestore.list_versions('qy-gap');
SELECT policy_id, version_id, effective_from FROM treestore.list_versions('qy-und');
SELECT count(*) AS missing_policy FROM treestore.list_versions('qy-none');
SELECT p, (SELECT count(*) FROM ((SELECT o, to_jsonb(l) - 'o' FROM treestore.list_versions(p) WITH ORDINALITY AS l(policy_id, version_id, effective_from, effective_to, doc_name, doc_description, pageindex_doc_id, pdf_sha256, source_url, node_count, created_at, metadata, o)
                                   EXCEPT ALL
                                   SELECT row_number() OVER (ORDER BY effective_from NULLS LAST, version_id COLLATE "C"), to_jsonb(v)
                                     FROM treestore.versions v WHERE v.policy_id = p)
                                  UNION ALL
                                  (SELECT row_number() OVER (ORDER BY effective_from NULLS LAST, version_id COLLATE "C"), to_jsonb(v)
                                     FROM treestore.versions v WHERE v.policy_id = p
                                   EXCEPT ALL
                                   SELECT o, to_jsonb(l) - 'o' FROM treestore.list_versions(p) WITH ORDINALITY AS l(policy_id, version_id, effective_from, effective_to, doc_name, doc_description, pageindex_doc_id, pdf_sha256, source_url, node_count, created_at, metadata, o))) d) AS diffs
  FROM unnest(ARRAY['qy-syn', 'qy-gap', 'qy-und', 'qy-wide']) AS p ORDER BY p;
-- the node functions resolve the same way: version_id, else as_of, else
-- today's version (qy-syn: v2, v3 is in the future), else the latest
SELECT string_agg(node_id, ' ') AS v1_by_as_of FROM treestore.get_subtree('qy-syn', as_of => DATE '2024-05-31');
SELECT string_agg(node_id, ' ') AS v2_by_as_of FROM treestore.get_subtree('qy-syn', as_of => DATE '2024-06-01');
SELECT string_agg(node_id, ' ') AS v3_by_as_of FROM treestore.get_subtree('qy-syn', as_of => DATE '2099-01-01');
SELECT string_agg(node_id, ' ') AS today FROM treestore.get_subtree('qy-syn');
SELECT string_agg(node_id, ' ') AS version_wins FROM treestore.get_subtree('qy-syn', version_id => 'v3', as_of => DATE '2024-01-01');
SELECT count(*) AS before_first_day FROM treestore.get_subtree('qy-syn', as_of => DATE '2023-12-31');
SELECT count(*) AS in_gap FROM treestore.get_children('qy-gap', NULL, as_of => DATE '2024-03-01');
SELECT string_agg(node_id, ' ') AS gap_today_latest FROM treestore.get_children('qy-gap', NULL);
SELECT string_agg(node_id, ' ') AS undated_latest FROM treestore.get_children('qy-und', NULL);
SELECT title FROM treestore.get_node('qy-syn', 'n01');
SELECT title FROM treestore.get_node('qy-syn', 'n01', as_of => DATE '2024-01-01');
SELECT node_id FROM treestore.get_ancestors('qy-syn', 'm2');
SELECT node_id FROM treestore.nodes_by_page('qy-syn', 3, as_of => DATE '2024-02-01');

-- ===================================================================
-- deep: 10,000 levels (no recursion in the functions)
-- ===================================================================
SET max_stack_depth = '7MB';
CREATE TEMP TABLE qy_deep AS
SELECT ('[' || repeat('{"title": "d", "nodes": [', 9999) || '{"title": "leaf"}' || repeat(']}', 9999) || ']')::jsonb AS doc;
RESET max_stack_depth;
SELECT treestore.store_document('qy-deep', 'v1', doc) AS stored FROM qy_deep;
-- in order: the n-th row is at depth n, its parent the row before
SELECT count(*) AS rows, count(*) FILTER (WHERE depth = o) AS at_their_depth,
       count(*) FILTER (WHERE parent_id IS NOT DISTINCT FROM prev) AS after_their_parent,
       min(node_id) AS first, max(node_id) AS last
  FROM (SELECT g.*, lag(node_id) OVER (ORDER BY o) AS prev
          FROM treestore.get_subtree('qy-deep') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o)) s;
SELECT count(*) AS rows, count(*) FILTER (WHERE depth = o) AS at_their_depth, max(node_id) AS last
  FROM treestore.get_ancestors('qy-deep', '9999') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o);
SELECT string_agg(node_id, ' ') AS from_5000_depth_2 FROM treestore.get_subtree('qy-deep', '5000', 2);
SELECT string_agg(node_id, ' ') AS children_of_9998 FROM treestore.get_children('qy-deep', '9998');
SELECT count(*) AS deep_subtree_from_9990 FROM treestore.get_subtree('qy-deep', '9990');

-- ===================================================================
-- a parent cycle (possible only through the table): never reached from the
-- top level, and no walk visits a node twice
-- ===================================================================
SELECT treestore.store_document('qy-cyc', 'v1', '[{"title": "r", "node_id": "r"}]'::jsonb) AS stored;
INSERT INTO treestore.nodes (policy_id, version_id, node_id, parent_id, ordinal, depth, title)
VALUES ('qy-cyc', 'v1', 'c1', 'c2', 0, 1, 'c1'), ('qy-cyc', 'v1', 'c2', 'c1', 0, 2, 'c2');
SELECT string_agg(node_id, ' ') AS whole FROM treestore.get_subtree('qy-cyc');
SELECT string_agg(node_id, ' ') AS from_c1 FROM treestore.get_subtree('qy-cyc', 'c1');
SELECT string_agg(node_id, ' ') AS ancestors_of_c1 FROM treestore.get_ancestors('qy-cyc', 'c1');
SELECT string_agg(node_id, ' ') AS children_of_c2 FROM treestore.get_children('qy-cyc', 'c2');

-- ===================================================================
-- in a transaction: the functions see its own writes, and not after ROLLBACK
-- ===================================================================
BEGIN;
SELECT treestore.store_document('qy-tx', 'v1', '[{"title": "t", "node_id": "t1", "nodes": [{"title": "u", "node_id": "t2"}]}]'::jsonb) AS stored;
SELECT string_agg(node_id, ' ') AS own_writes FROM treestore.get_subtree('qy-tx');
ROLLBACK;
SELECT count(*) AS after_rollback FROM treestore.get_subtree('qy-tx');

-- ===================================================================
-- get_cross_references
-- ===================================================================
INSERT INTO treestore.cross_references (source_policy_id, source_node_id, target_policy_id, target_node_id, reference_type, context, confidence)
VALUES ('qy-syn', 'n10', 'qy-syn', 'n30', 'see', 'see below', 0.5),
       ('qy-syn', 'n10', 'qy-other', 'x1', 'cites', NULL, NULL),
       ('qy-syn', 'n20', 'qy-syn', 'n20', 'self', NULL, 1),
       ('qy-other', 'x1', 'qy-syn', 'n10', 'cites', NULL, NULL),
       ('qy-other', 'x2', 'qy-syn', 'n01', 'amends', NULL, NULL),
       ('qy-other', 'x2', 'qy-other', 'x1', 'see', NULL, NULL);
SELECT source_policy_id, source_node_id, target_policy_id, target_node_id, reference_type, context, confidence
  FROM treestore.get_cross_references('qy-syn');
SELECT source_policy_id, source_node_id, target_policy_id, target_node_id, reference_type
  FROM treestore.get_cross_references('qy-syn', 'n10', 'incoming');
SELECT source_policy_id, source_node_id, target_policy_id, target_node_id, reference_type
  FROM treestore.get_cross_references('qy-syn', 'n20', 'both');
-- every policy x node x direction, against SQL
SELECT dir, count(*) AS calls, sum(n) AS rows, sum(diff) AS diffs
  FROM (SELECT dir,
               (SELECT count(*) FROM treestore.get_cross_references(p, x, dir)) AS n,
               (SELECT count(*) FROM (
                  (SELECT to_jsonb(g) FROM treestore.get_cross_references(p, x, dir) g
                   EXCEPT ALL
                   SELECT to_jsonb(r) FROM treestore.cross_references r
                    WHERE (dir IN ('outgoing', 'both') AND r.source_policy_id = p AND (x IS NULL OR r.source_node_id = x))
                       OR (dir IN ('incoming', 'both') AND r.target_policy_id = p AND (x IS NULL OR r.target_node_id = x)))
                  UNION ALL
                  (SELECT to_jsonb(r) FROM treestore.cross_references r
                    WHERE (dir IN ('outgoing', 'both') AND r.source_policy_id = p AND (x IS NULL OR r.source_node_id = x))
                       OR (dir IN ('incoming', 'both') AND r.target_policy_id = p AND (x IS NULL OR r.target_node_id = x))
                   EXCEPT ALL
                   SELECT to_jsonb(g) FROM treestore.get_cross_references(p, x, dir) g)) d) AS diff
          FROM unnest(ARRAY['qy-syn', 'qy-other', 'qy-none']) AS p,
               unnest(ARRAY[NULL, 'n10', 'n20', 'n01', 'x1', 'x2', 'nope']) AS x,
               unnest(ARRAY['outgoing', 'incoming', 'both']) AS dir) s
 GROUP BY dir ORDER BY dir;
SELECT * FROM treestore.get_cross_references('qy-syn', NULL, 'sideways');
SELECT * FROM treestore.get_cross_references('qy-syn', NULL, NULL);

-- ===================================================================
-- store_tool_result: ids assigned by the engine, increasing; the row reads back
-- ===================================================================
SELECT treestore.store_tool_result('qy-case', 'get_subtree', '{"nodes": 7}') AS id1 \gset
SELECT treestore.store_tool_result('qy-case', 'search', '{"hits": []}', input => '{"q": "x"}',
         criterion_id => 'c-1', policy_id => 'qy-syn', version_id => 'v1', node_id => 'n10',
         success => false, error_message => 'none found', latency_ms => 12.5) AS id2 \gset
SELECT :id2 > :id1 AS increasing;
SELECT result_id = :id1 AS is_id1, case_id, criterion_id, tool_name, policy_id, version_id, node_id,
       input, output, success, error_message, latency_ms, created_at IS NOT NULL AS has_created_at
  FROM treestore.tool_results WHERE case_id = 'qy-case' ORDER BY result_id;
-- in a transaction: created_at is now(), and ROLLBACK takes it back
BEGIN;
SELECT treestore.store_tool_result('qy-case', 'rolled back', '{}') > :id2 AS id3_increasing;
SELECT count(*) FILTER (WHERE created_at = now()) AS created_now, count(*) AS rows
  FROM treestore.tool_results WHERE case_id = 'qy-case';
ROLLBACK;
SELECT count(*) AS after_rollback FROM treestore.tool_results WHERE case_id = 'qy-case';

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.tool_results WHERE case_id = 'qy-case';
DELETE FROM treestore.cross_references WHERE source_policy_id LIKE 'qy-%';
CREATE TEMP TABLE qy_policies AS
SELECT DISTINCT policy_id FROM treestore.versions WHERE policy_id LIKE 'qy-%';
SELECT sum(treestore.delete_document(policy_id)) AS removed FROM qy_policies;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'qy-%') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id LIKE 'qy-%') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'qy-%') AS documents,
       (SELECT count(*) FROM treestore.cross_references WHERE source_policy_id LIKE 'qy-%') AS cross_references,
       (SELECT count(*) FROM treestore.tool_results WHERE case_id = 'qy-case') AS tool_results;
SELECT count(*) AS subtree_after_delete FROM treestore.get_subtree('qy-syn', version_id => 'v1');
DROP FUNCTION q_nodes(text, text);
DROP FUNCTION exp_subtree(text, text, text, int);
DROP FUNCTION exp_children(text, text, text);
DROP FUNCTION exp_ancestors(text, text, text);
DROP FUNCTION exp_page(text, text, int);

--
-- documents: treestore.store_document, get_document and delete_document
-- (CONTRACT.md sections 3 and 4, issue 5): the PageIndex samples of
-- test/data/pageindex/ stored and read back, every shape, the derived
-- columns, errors naming JSON paths, replace, atomicity, deep and wide
-- documents, the temporal rule, delete counts.
--
-- The samples are copied by test/pg/run_regress.sh to data/pageindex/ beside
-- sql/ (PG_ABS_SRCDIR).  Keys used here start with 'dc-'; everything is
-- deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY default
\getenv abs_srcdir PG_ABS_SRCDIR
\set pidir :abs_srcdir '/data/pageindex/'

-- the functions: not SECURITY DEFINER, not executable by PUBLIC
SELECT p.oid::regprocedure AS function, p.prorettype::regtype AS returns, p.prosecdef,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'treestore'::regnamespace
   AND p.proname IN ('store_document', 'get_document', 'delete_document')
 ORDER BY p.proname;

-- a helper of this test: a tree without its node ids (recursive: the
-- samples are 5 levels deep at most)
CREATE FUNCTION dc_strip_ids(j jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF jsonb_typeof(j) = 'array' THEN
    RETURN (SELECT coalesce(jsonb_agg(dc_strip_ids(e) ORDER BY i), '[]')
              FROM jsonb_array_elements(j) WITH ORDINALITY a(e, i));
  ELSIF jsonb_typeof(j) = 'object' THEN
    RETURN (SELECT coalesce(jsonb_object_agg(k, CASE WHEN k IN ('structure', 'nodes', 'child_nodes')
                                                      THEN dc_strip_ids(v) ELSE v END), '{}')
              FROM jsonb_each(j) e(k, v) WHERE k <> 'node_id');
  END IF;
  RETURN j;
END $$;

-- ===================================================================
-- the PageIndex samples: stored, and the same JSON value back
-- ===================================================================
CREATE TEMP TABLE dc_files AS
SELECT f AS file, pg_read_file(:'pidir' || f)::jsonb AS doc
  FROM pg_ls_dir(:'pidir') AS f
 WHERE f LIKE '%.json';
SELECT file, treestore.store_document('dc-' || file, 'v1', doc, DATE '2024-01-01') AS nodes
  FROM dc_files ORDER BY file;
SELECT file, treestore.get_document('dc-' || file) = doc AS round_trip
  FROM dc_files ORDER BY file;
-- their versions and documents rows
SELECT v.policy_id, v.version_id, v.effective_from, v.node_count, v.doc_name,
       v.doc_description IS NOT NULL AS has_description, v.metadata,
       d.title = v.doc_name AS title_is_doc_name, d.latest_version_id, d.version_count
  FROM treestore.versions v JOIN treestore.documents d USING (policy_id)
 WHERE v.policy_id LIKE 'dc-%' ORDER BY 1;

-- every derived column, against the same derivation in SQL over the files
-- (content_hash: sha256 of the node's jsonb text without node_id and children)
CREATE TEMP TABLE dc_expect AS
WITH RECURSIVE walk AS (
  SELECT f.file, e.value AS n, (e.ordinality - 1)::int AS ordinal, 1 AS depth,
         NULL::text AS parent_id, e.value->>'title' AS path
    FROM dc_files f, jsonb_array_elements(f.doc->'structure') WITH ORDINALITY e
  UNION ALL
  SELECT w.file, c.value, (c.ordinality - 1)::int, w.depth + 1, w.n->>'node_id',
         w.path || ' > ' || (c.value->>'title')
    FROM walk w, jsonb_array_elements(w.n->'nodes') WITH ORDINALITY c
)
SELECT 'dc-' || file AS policy_id, n->>'node_id' AS node_id, parent_id, ordinal, depth,
       path AS section_path, n->>'title' AS title, (n->>'start_index')::int AS page_start,
       (n->>'end_index')::int AS page_end, NULL::int AS line_num, n->>'summary' AS summary,
       NULL::text AS text,
       encode(sha256(convert_to((n - 'node_id' - 'nodes' - 'child_nodes')::text, 'UTF8')), 'hex') AS content_hash,
       '{}'::jsonb AS metadata
  FROM walk;
CREATE TEMP TABLE dc_stored AS
SELECT policy_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end,
       line_num, summary, text, content_hash, metadata
  FROM treestore.nodes WHERE policy_id LIKE 'dc-%';
SELECT (SELECT count(*) FROM dc_expect) AS expected,
       (SELECT count(*) FROM dc_stored) AS stored,
       (SELECT count(*) FROM (SELECT * FROM dc_expect EXCEPT SELECT * FROM dc_stored) x) AS missing,
       (SELECT count(*) FROM (SELECT * FROM dc_stored EXCEPT SELECT * FROM dc_expect) x) AS unexpected;
-- the samples' quirks are kept as they are: children outside their parent's
-- page range, siblings sharing pages, repeated titles
SELECT c.policy_id,
       count(*) FILTER (WHERE c.page_start < p.page_start OR c.page_end > p.page_end) AS outside_parent
  FROM dc_stored c JOIN dc_stored p ON p.policy_id = c.policy_id AND p.node_id = c.parent_id
 GROUP BY 1 ORDER BY 1;
SELECT a.policy_id, count(*) AS siblings_sharing_a_page
  FROM dc_stored a JOIN dc_stored b ON b.policy_id = a.policy_id
   AND b.parent_id IS NOT DISTINCT FROM a.parent_id AND b.ordinal = a.ordinal + 1
   AND b.page_start <= a.page_end
 GROUP BY 1 ORDER BY 1;
SELECT policy_id, title, count(*) FROM dc_stored GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2;

-- without their node ids: numbered in pre-order as PageIndex did
SELECT file, treestore.store_document('dc-noid-' || file, 'v1', dc_strip_ids(doc)) AS nodes
  FROM dc_files ORDER BY file;
SELECT file, treestore.get_document('dc-noid-' || file) = doc AS same_ids
  FROM dc_files ORDER BY file;
-- as a bare list: the wrapper comes back without doc_name
SELECT treestore.store_document('dc-bare', 'v1', doc->'structure') AS nodes
  FROM dc_files WHERE file = 'earthmover_structure.json';
SELECT treestore.get_document('dc-bare') = jsonb_build_object('structure', doc->'structure') AS round_trip
  FROM dc_files WHERE file = 'earthmover_structure.json';
SELECT doc_name, doc_description, node_count FROM treestore.versions WHERE policy_id = 'dc-bare';
SELECT title FROM treestore.documents WHERE policy_id = 'dc-bare';

-- ===================================================================
-- shapes
-- ===================================================================
-- a markdown tree: line_num, prefix_summary on parents, text, child_nodes,
-- no node ids (pre-order: Guide 0000, Install 0001, Use 0002, Flags 0003,
-- Appendix 0004)
\set md '{"doc_name": "guide.md", "structure": [{"title": "Guide", "line_num": 1, "prefix_summary": "All of it.", "text": "# Guide", "child_nodes": [{"title": "Install", "line_num": 3, "summary": "How to install.", "text": "## Install\\nrun make"}, {"title": "Use", "line_num": 9, "prefix_summary": "How to use.", "text": "## Use", "child_nodes": [{"title": "Flags", "line_num": 12, "summary": "Flags.", "text": "### Flags"}]}]}, {"title": "Appendix", "line_num": 20, "summary": "Extra.", "text": "# Appendix"}]}'
SELECT treestore.store_document('dc-md', 'v1', :'md');
SELECT node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end,
       line_num, summary, text, metadata
  FROM treestore.nodes WHERE policy_id = 'dc-md' ORDER BY node_id;
-- text only with include_text
SELECT jsonb_pretty(treestore.get_document('dc-md'));
SELECT dc_strip_ids(treestore.get_document('dc-md', include_text => true)) = :'md'::jsonb AS round_trip;
SELECT jsonb_path_query_array(treestore.get_document('dc-md'), 'strict $.**.node_id') AS ids_in_order;

-- pages as page_index; an empty children list; start/end with page_index;
-- an open range
\set pi '[{"title": "Cover", "page_index": 1, "node_id": "c"}, {"title": "Body", "page_index": 2, "node_id": "b", "nodes": []}, {"title": "Both", "start_index": 3, "end_index": 4, "page_index": 3, "node_id": "x"}, {"title": "Open", "start_index": 5, "node_id": "o"}, {"title": "Float", "start_index": 6.0, "end_index": 7, "node_id": "f"}]'
SELECT treestore.store_document('dc-pi', 'v1', :'pi');
SELECT node_id, ordinal, page_start, page_end, metadata
  FROM treestore.nodes WHERE policy_id = 'dc-pi' ORDER BY ordinal;
SELECT treestore.get_document('dc-pi') = jsonb_build_object('structure', :'pi'::jsonb) AS round_trip;
SELECT treestore.get_document('dc-pi');

-- keys without a column are kept (in nodes.metadata, the wrapper's in
-- versions.metadata), nulls included; summary and prefix_summary together;
-- a node's own "__pageindex" key; one node without an id among given ones
\set ex '{"doc_name": "x.pdf", "doc_description": null, "pageindex_version": 2, "structure": [{"title": "A", "node_id": "a", "start_index": 1, "end_index": null, "summary": null, "prefix_summary": "P", "text": 7, "physical_index": "<physical_index_1>", "tags": ["x", {"deep": [1, 2]}], "__pageindex": "mine", "nodes": null}, {"title": "B", "node_id": "b", "summary": "S", "prefix_summary": "P2", "nodes": [{"title": "B1"}]}]}'
SELECT treestore.store_document('dc-extra', 'v1', :'ex', metadata => '{"source": "test", "__pageindex": 1}');
SELECT node_id, parent_id, page_start, page_end, summary, text, metadata
  FROM treestore.nodes WHERE policy_id = 'dc-extra' ORDER BY node_id;
SELECT doc_name, doc_description, metadata FROM treestore.versions WHERE policy_id = 'dc-extra';
SELECT treestore.get_document('dc-extra', include_text => true)
       = jsonb_set(:'ex'::jsonb, '{structure,1,nodes,0,node_id}', '"0002"') AS round_trip;
-- without include_text, "text" goes even when it is not a string
SELECT treestore.get_document('dc-extra')->'structure'->0 ? 'text' AS has_text;
SELECT content_hash = encode(sha256(convert_to(((:'ex'::jsonb->'structure'->0) - 'node_id' - 'nodes')::text, 'UTF8')), 'hex')
       AS hash_of_a
  FROM treestore.nodes WHERE policy_id = 'dc-extra' AND node_id = 'a';
-- titles and texts of any Unicode
SELECT treestore.store_document('dc-uni', 'v1', '[{"title": "Überblick — 概要 🌳", "text": "ℵ₀ \"quoted\" \\ back", "nodes": [{"title": "Ωmega"}]}]');
SELECT node_id, section_path, text FROM treestore.nodes WHERE policy_id = 'dc-uni' ORDER BY node_id;
SELECT treestore.get_document('dc-uni', include_text => true);

-- ===================================================================
-- bad input: 22023 naming the node's JSON path; nothing stored
-- ===================================================================
SELECT treestore.store_document('dc-err', 'v1', '"a string"');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '42');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '{"doc_name": "no structure"}');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '{"structure": {"title": "not a list"}}');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a"}, "b"]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '{"structure": [{"title": "a"}, {"title": "b", "nodes": [{"title": "c"}, {"summary": "no title"}]}]}');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": null}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": ["a"]}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "node_id": "x", "nodes": [{"title": "b", "node_id": "x"}]}]');
\echo :SQLSTATE
-- of several duplicates, the first node in document order that repeats an id
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "node_id": "y", "nodes": [{"title": "b", "node_id": "x"}, {"title": "c", "node_id": "y"}]}, {"title": "d", "node_id": "x"}]');
\echo :SQLSTATE
-- an assigned id (pre-order position) that a later node also has
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a"}, {"title": "b", "node_id": "0000"}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "node_id": 7}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '{"structure": [{"title": "a", "start_index": "3", "end_index": 4}]}');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "nodes": [{"title": "b", "start_index": 1, "end_index": 1.5}]}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "page_index": 1e10}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "page_index": true}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "line_num": "12"}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '{"structure": [{"title": "a", "child_nodes": [{"title": "b"}, {"title": "c", "child_nodes": [42]}]}]}');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "nodes": {"title": "b"}}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a", "nodes": [], "child_nodes": []}]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a"}]', metadata => '[1]');
\echo :SQLSTATE
SELECT treestore.store_document(NULL, 'v1', '[]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', NULL, '[]');
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', NULL);
\echo :SQLSTATE
SELECT treestore.store_document('dc-err', 'v1', jsonb_build_array(jsonb_build_object('title', 'a', 'node_id', repeat('x', 1000))));
\echo :SQLSTATE
-- not in a read-only transaction
BEGIN READ ONLY;
SELECT treestore.store_document('dc-err', 'v1', '[{"title": "a"}]');
\echo :SQLSTATE
ROLLBACK;
BEGIN READ ONLY;
SELECT treestore.delete_document('dc-err');
\echo :SQLSTATE
ROLLBACK;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id = 'dc-err') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id = 'dc-err') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id = 'dc-err') AS documents;
-- an empty document is no error
SELECT treestore.store_document('dc-empty', 'v1', '{"doc_name": "empty", "structure": []}');
SELECT treestore.get_document('dc-empty');

-- ===================================================================
-- replace
-- ===================================================================
SELECT treestore.store_document('dc-rep', 'v1', '{"doc_name": "first", "structure": [{"title": "old a", "node_id": "a"}, {"title": "old b", "node_id": "b"}]}',
                                DATE '2024-01-01', '{"n": 1}');
UPDATE treestore.versions SET effective_to = DATE '2030-01-01', source_url = 'https://example.org/p.pdf'
 WHERE policy_id = 'dc-rep' AND version_id = 'v1';
-- an existing version without replace: 23505, and nothing changes
SELECT treestore.store_document('dc-rep', 'v1', '[{"title": "new"}]');
\echo :SQLSTATE
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'dc-rep' ORDER BY 1;
-- with replace: all of its nodes go first; what describes the version
-- (effective_from when not given, effective_to, source_url) stays
SELECT treestore.store_document('dc-rep', 'v1', '{"doc_name": "second", "structure": [{"title": "new c", "node_id": "c"}]}',
                                metadata => '{"n": 2}', replace => true);
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'dc-rep' ORDER BY 1;
SELECT version_id, effective_from, effective_to, doc_name, source_url, node_count, metadata
  FROM treestore.versions WHERE policy_id = 'dc-rep';
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'dc-rep';
-- the same node id again, a new effective_from
SELECT treestore.store_document('dc-rep', 'v1', '[{"title": "newer c", "node_id": "c"}]', DATE '2024-06-01', replace => true);
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'dc-rep' ORDER BY 1;
SELECT version_id, effective_from, doc_name, node_count FROM treestore.versions WHERE policy_id = 'dc-rep';
-- replace => true for a version not stored yet: it is stored
SELECT treestore.store_document('dc-rep', 'v2', '{"doc_name": "v2", "structure": [{"title": "v2"}]}', DATE '2025-01-01', replace => true);
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'dc-rep';
-- a replace rolled back leaves the old version
BEGIN;
SELECT treestore.store_document('dc-rep', 'v1', '[{"title": "gone soon", "node_id": "g"}]', replace => true);
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'dc-rep' AND version_id = 'v1';
ROLLBACK;
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'dc-rep' AND version_id = 'v1';
SELECT version_id, doc_name, node_count FROM treestore.versions WHERE policy_id = 'dc-rep' ORDER BY 1;

-- ===================================================================
-- atomicity: an error in the middle of a document leaves nothing of it
-- ===================================================================
-- a stray nodes row (written through the table) makes the 1,201st node's
-- INSERT fail after the first 1,000 nodes were sent to the engine
INSERT INTO treestore.nodes (policy_id, version_id, node_id, title) VALUES ('dc-atom', 'v1', '1200', 'stray');
SELECT treestore.store_document('dc-atom', 'v1', (SELECT jsonb_agg(jsonb_build_object('title', 'n' || g)) FROM generate_series(0, 1499) g));
\echo :SQLSTATE
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id = 'dc-atom') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id = 'dc-atom') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id = 'dc-atom') AS documents;
-- the same inside a transaction, rolled back to a savepoint
BEGIN;
SELECT treestore.store_document('dc-atom2', 'v1', '[{"title": "kept"}]');
SAVEPOINT s;
SELECT treestore.store_document('dc-atom', 'v1', (SELECT jsonb_agg(jsonb_build_object('title', 'n' || g)) FROM generate_series(0, 1499) g));
ROLLBACK TO SAVEPOINT s;
SELECT policy_id, count(*) FROM treestore.nodes WHERE policy_id IN ('dc-atom', 'dc-atom2') GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT policy_id, count(*) FROM treestore.nodes WHERE policy_id IN ('dc-atom', 'dc-atom2') GROUP BY 1 ORDER BY 1;
SELECT policy_id, latest_version_id, version_count FROM treestore.documents WHERE policy_id IN ('dc-atom', 'dc-atom2');

-- ===================================================================
-- deep: depth 10,000 (PostgreSQL's own JSON parser needs a deeper stack
-- to read such a value; store_document and get_document do not)
-- ===================================================================
SET max_stack_depth = '7MB';
CREATE TEMP TABLE dc_deep AS
SELECT ('[' || repeat('{"title": "d", "nodes": [', 9999) || '{"title": "leaf"}' || repeat(']}', 9999) || ']')::jsonb AS doc,
       ('[' || (SELECT string_agg(format('{"title": "d", "node_id": "%s", "nodes": [', lpad(i::text, 4, '0')), '' ORDER BY i)
                  FROM generate_series(0, 9998) i)
            || '{"title": "leaf", "node_id": "9999"}' || repeat(']}', 9999) || ']')::jsonb AS expected;
RESET max_stack_depth;
SHOW max_stack_depth;
SELECT treestore.store_document('dc-deep', 'v1', doc) FROM dc_deep;
SELECT node_count FROM treestore.versions WHERE policy_id = 'dc-deep';
SELECT node_id, parent_id, ordinal, depth, length(section_path), right(section_path, 12)
  FROM treestore.nodes WHERE policy_id = 'dc-deep' AND node_id IN ('0000', '0001', '9998', '9999') ORDER BY 1;
SELECT treestore.get_document('dc-deep')->'structure' = expected AS round_trip FROM dc_deep;

-- ===================================================================
-- wide: 100,000 nodes (1,000 sections of 99 items, with text)
-- ===================================================================
CREATE TEMP TABLE dc_wide AS
SELECT jsonb_build_object('doc_name', 'wide.pdf', 'structure',
         (SELECT jsonb_agg(jsonb_build_object('title', 'Section ' || s, 'start_index', s, 'end_index', s + 1,
                   'summary', 'Summary of section ' || s,
                   'nodes', (SELECT jsonb_agg(jsonb_build_object('title', 'Item ' || s || '.' || c,
                                      'page_index', s, 'text', repeat('x', 50)) ORDER BY c)
                               FROM generate_series(1, 99) c)) ORDER BY s)
            FROM generate_series(1, 1000) s)) AS doc;
SELECT treestore.store_document('dc-wide', 'v1', doc) FROM dc_wide;
SELECT dc_strip_ids(treestore.get_document('dc-wide', include_text => true)) = doc AS round_trip FROM dc_wide;
SELECT node_count FROM treestore.versions WHERE policy_id = 'dc-wide';
SELECT node_id, parent_id, ordinal, depth, section_path, page_start, page_end
  FROM treestore.nodes WHERE policy_id = 'dc-wide' AND node_id IN ('0000', '0001', '0099', '0100', '99999') ORDER BY 1;

-- ===================================================================
-- the temporal rule
-- ===================================================================
SELECT treestore.store_document('dc-time', 'v2020', '{"doc_name": "2020 edition", "structure": [{"title": "old"}]}', DATE '2020-01-01');
SELECT treestore.store_document('dc-time', 'v2022', '{"doc_name": "2022 edition", "structure": [{"title": "current"}]}', DATE '2022-01-01');
SELECT treestore.store_document('dc-time', 'v2999', '{"doc_name": "future edition", "structure": [{"title": "future"}]}', DATE '2999-01-01');
-- latest_version_id: the latest effective_from
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'dc-time';
SELECT d AS as_of, treestore.get_document('dc-time', as_of => d)->>'doc_name' AS doc_name
  FROM unnest(ARRAY[DATE '2019-12-31', '2020-01-01', '2021-12-31', '2022-01-01', '2998-12-31', '2999-01-01']) AS d;
-- today: the version in force
SELECT treestore.get_document('dc-time')->>'doc_name' AS today;
-- version_id wins over as_of; unknown versions and policies: NULL
SELECT treestore.get_document('dc-time', 'v2020', DATE '2022-06-01')->>'doc_name' AS by_id,
       treestore.get_document('dc-time', 'nope') IS NULL AS unknown_version,
       treestore.get_document('dc-nope') IS NULL AS unknown_policy;
-- effective_to ends v2022 early: a gap, and today none is in force, so
-- the one with the latest effective_from
UPDATE treestore.versions SET effective_to = DATE '2023-01-01' WHERE policy_id = 'dc-time' AND version_id = 'v2022';
SELECT d AS as_of, treestore.get_document('dc-time', as_of => d)->>'doc_name' AS doc_name
  FROM unnest(ARRAY[DATE '2022-12-31', '2023-01-01']) AS d;
SELECT treestore.get_document('dc-time')->>'doc_name' AS today;
-- a version without effective_from: never in force, but the latest when alone
SELECT treestore.store_document('dc-undated', 'v1', '[{"title": "undated"}]');
SELECT treestore.get_document('dc-undated')->'structure'->0->>'title' AS today,
       treestore.get_document('dc-undated', as_of => DATE '2024-01-01') IS NULL AS none_as_of;

-- ===================================================================
-- delete_document: rows removed
-- ===================================================================
SELECT treestore.delete_document('dc-time', 'v2999') AS removed;	-- 1 node, 1 version
SELECT title, latest_version_id, version_count FROM treestore.documents WHERE policy_id = 'dc-time';
SELECT treestore.delete_document('dc-time', 'nope') AS removed;
SELECT treestore.delete_document('dc-time') AS removed;	-- 2 nodes, 2 versions, the document
SELECT treestore.delete_document('dc-time') AS removed;
-- the last version: its document goes too
SELECT treestore.delete_document('dc-undated', 'v1') AS removed;
SELECT count(*) FROM treestore.documents WHERE policy_id = 'dc-undated';
-- the wide one inside a transaction, rolled back
BEGIN;
SELECT treestore.delete_document('dc-wide') AS removed;
SELECT count(*) FROM treestore.versions WHERE policy_id = 'dc-wide';
ROLLBACK;
SELECT node_count FROM treestore.versions WHERE policy_id = 'dc-wide';
-- nodes without a version (the stray row) go with their policy
SELECT treestore.delete_document('dc-atom') AS removed;

-- ===================================================================
-- clean up
-- ===================================================================
CREATE TEMP TABLE dc_policies AS
SELECT policy_id FROM treestore.documents WHERE policy_id LIKE 'dc-%';
SELECT sum(treestore.delete_document(policy_id)) AS removed FROM dc_policies;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'dc-%') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id LIKE 'dc-%') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'dc-%') AS documents;
DROP FUNCTION dc_strip_ids(jsonb);

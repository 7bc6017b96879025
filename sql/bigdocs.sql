--
-- bigdocs: deep, wide and large documents through store_document,
-- get_document and the query functions (CONTRACT.md section 4): a chain
-- 10,000 levels deep, a node with 20,000 children, a document of 100,000
-- nodes, titles and texts of any Unicode, a 10 MB text; and bad input
-- (22023 naming the node's JSON path) that documents.sql does not cover,
-- with nothing stored after a failed call.
--
-- Node ids are given out of document order (d<(i * 7919) mod 10007>) where
-- they are given, so key order is not the answer.  Keys start with 'bd-';
-- everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY terse

-- store_document in a subtransaction: 'stored N' or 'SQLSTATE: message /
-- detail' (long ones shortened, with their length)
CREATE FUNCTION bd_short(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN length(s) > 300 THEN left(s, 100) || ' ... ' || right(s, 60) || ' (' || length(s) || ' characters)'
              ELSE s END
$$;
CREATE FUNCTION bd_store(doc jsonb, p text DEFAULT 'bd-err', rep boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  st text;
  msg text;
  det text;
BEGIN
  RETURN 'stored ' || treestore.store_document(p, 'v1', doc, replace => rep);
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || bd_short(msg) || coalesce(' / ' || bd_short(nullif(det, '')), '');
END $$;

-- ===================================================================
-- a chain 10,000 levels deep (PostgreSQL's JSON parser needs a deeper
-- stack to read it; the treestore functions do not).  Titles are short:
-- section_path grows with the depth (level i: about 4i bytes), and every
-- call still reads the whole version (src/queries.c, first slice)
-- ===================================================================
SET max_stack_depth = '7MB';
CREATE TEMP TABLE bd_chain AS
SELECT ('[' || string_agg(format('{"title": "x", "node_id": "d%s", "start_index": %s, "end_index": 20000, "nodes": [',
                                 (i * 7919) % 10007, i + 1), '' ORDER BY i)
            || '{"title": "bottom", "node_id": "bottom", "start_index": 10000, "end_index": 20000}'
            || repeat(']}', 9999) || ']')::jsonb AS doc
  FROM generate_series(0, 9998) i;
RESET max_stack_depth;
SELECT treestore.store_document('bd-chain', 'v1', doc) AS stored FROM bd_chain;
-- section_path is quadratic in the depth: a document's paths total at most
-- 256 MB (the chain above: about 200 MB).  3,000 levels of 400-byte titles
-- (a 1.2 MB document) would make 1.8 GB: refused, nothing written
SELECT bd_store(('[' || repeat('{"title": "' || repeat('t', 400) || '", "nodes": [', 3000)
                 || '{"title": "bottom"}' || repeat(']}', 3000) || ']')::jsonb, 'bd-deep-titles') AS deep_titles;
SELECT count(*) FROM treestore.nodes WHERE policy_id = 'bd-deep-titles';
-- get_subtree: 10,000 rows, each at its depth, each after its parent
SELECT count(*) AS rows, count(*) FILTER (WHERE depth = o) AS at_their_depth,
       count(*) FILTER (WHERE parent_id IS NOT DISTINCT FROM prev) AS after_their_parent,
       count(*) FILTER (WHERE node_id = CASE WHEN o < 10000 THEN 'd' || ((o - 1) * 7919) % 10007 ELSE 'bottom' END)
         AS ids_in_order,
       min(node_id) FILTER (WHERE o = 1) AS first, min(node_id) FILTER (WHERE o = 10000) AS last
  FROM (SELECT g.*, lag(node_id) OVER (ORDER BY o) AS prev
          FROM treestore.get_subtree('bd-chain') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o)) s;
-- get_ancestors of the bottom: 10,000 rows, top first, the node last
SELECT count(*) AS rows, count(*) FILTER (WHERE depth = o) AS at_their_depth,
       count(*) FILTER (WHERE parent_id IS NOT DISTINCT FROM prev) AS after_their_parent,
       min(node_id) FILTER (WHERE o = 1) AS first, min(node_id) FILTER (WHERE o = 10000) AS last,
       min(length(section_path)) FILTER (WHERE o = 10000) AS last_section_path_length
  FROM (SELECT g.*, lag(node_id) OVER (ORDER BY o) AS prev
          FROM treestore.get_ancestors('bd-chain', 'bottom') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o)) s;
-- from the middle (level 5000: d(5000 * 7919 mod 10007) = d7308), two levels
SELECT string_agg(node_id || ' at depth ' || depth, ', ') AS level_5000_max_depth_2
  FROM treestore.get_subtree('bd-chain', 'd' || (5000 * 7919) % 10007, 2);
SELECT string_agg(node_id, ' ') AS children_of_level_9998 FROM treestore.get_children('bd-chain', 'd' || (9998 * 7919) % 10007);
-- pages: level i holds pages i+1 .. 20000
SELECT count(*) AS page_5000, min(depth) AS min_depth, max(depth) AS max_depth
  FROM treestore.nodes_by_page('bd-chain', 5000);
SELECT node_id, depth FROM treestore.get_node('bd-chain', 'd' || (9998 * 7919) % 10007);
-- get_document: the same JSON value back
SELECT treestore.get_document('bd-chain')->'structure' = doc AS round_trip FROM bd_chain;

-- ===================================================================
-- a node with 20,000 children (ids out of order)
-- ===================================================================
CREATE TEMP TABLE bd_wide AS
SELECT jsonb_build_array(jsonb_build_object('title', 'parent', 'node_id', 'parent', 'nodes',
         (SELECT jsonb_agg(jsonb_build_object('title', 'child ' || i, 'node_id', 'c' || (i * 7919) % 20011,
                                              'page_index', 1 + i / 100) ORDER BY i)
            FROM generate_series(0, 19999) i)),
         jsonb_build_object('title', 'sibling', 'node_id', 'sibling')) AS doc;
SELECT treestore.store_document('bd-wide', 'v1', doc) AS stored FROM bd_wide;
SELECT count(*) AS children, count(*) FILTER (WHERE ordinal = o - 1) AS ordinal_in_order,
       count(*) FILTER (WHERE title = 'child ' || (o - 1)) AS titles_in_order,
       count(*) FILTER (WHERE node_id = 'c' || ((o - 1) * 7919) % 20011) AS ids_in_order,
       count(*) FILTER (WHERE parent_id = 'parent' AND depth = 2) AS under_parent,
       count(*) FILTER (WHERE node_id < prev) AS ids_going_down
  FROM (SELECT g.*, lag(node_id) OVER (ORDER BY o) AS prev
          FROM treestore.get_children('bd-wide', 'parent') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o)) s;
SELECT string_agg(node_id, ' ') AS top_level FROM treestore.get_children('bd-wide', NULL);
SELECT count(*) AS subtree, count(*) FILTER (WHERE o = 1 AND node_id = 'parent') AS parent_first,
       count(*) FILTER (WHERE o = 20002 AND node_id = 'sibling') AS sibling_last
  FROM treestore.get_subtree('bd-wide') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o);
SELECT count(*) AS max_depth_0 FROM treestore.get_subtree('bd-wide', 'parent', 0);
-- page 7: children 600-699, in their order
SELECT count(*) AS page_7, min(title) FILTER (WHERE o = 1) AS first, min(title) FILTER (WHERE o = 100) AS last,
       count(*) FILTER (WHERE title = 'child ' || (599 + o)) AS in_order
  FROM treestore.nodes_by_page('bd-wide', 7) WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o);
SELECT string_agg(node_id, ' ') AS ancestors_of_the_last_child
  FROM treestore.get_ancestors('bd-wide', 'c' || (19999 * 7919) % 20011);
SELECT treestore.get_document('bd-wide') = jsonb_build_object('structure', doc) AS round_trip FROM bd_wide;

-- ===================================================================
-- 100,000 nodes: 100 chapters of 9 sections of 110 items, ids assigned
-- in pre-order ("0000" ... "9999", "10000" ... "99999")
-- ===================================================================
-- chapter c (1-100) is node (c-1)*1000, pages 10c .. 10c+9; its section s
-- (1-9) node (c-1)*1000 + 1 + (s-1)*111, page 10c+s; its item i (1-110)
-- the section's node + i, page 10c+s
CREATE TEMP TABLE bd_big AS
SELECT jsonb_build_object('doc_name', 'big.pdf', 'structure',
         (SELECT jsonb_agg(jsonb_build_object('title', 'Chapter ' || c, 'start_index', c * 10, 'end_index', c * 10 + 9,
                   'summary', 'About chapter ' || c,
                   'nodes', (SELECT jsonb_agg(jsonb_build_object('title', 'Section ' || c || '.' || s,
                                      'start_index', c * 10 + s, 'end_index', c * 10 + s,
                                      'nodes', (SELECT jsonb_agg(jsonb_build_object('title', 'Item ' || c || '.' || s || '.' || i,
                                                         'page_index', c * 10 + s, 'text', 'item text ' || i) ORDER BY i)
                                                  FROM generate_series(1, 110) i)) ORDER BY s)
                               FROM generate_series(1, 9) s)) ORDER BY c)
            FROM generate_series(1, 100) c)) AS doc;
SELECT treestore.store_document('bd-big', 'v1', doc, DATE '2024-01-01') AS stored FROM bd_big;
SELECT node_count FROM treestore.versions WHERE policy_id = 'bd-big';
-- the whole document in pre-order: the n-th row is node n-1
SELECT count(*) AS rows,
       count(*) FILTER (WHERE node_id = lpad((o - 1)::text, greatest(4, length((o - 1)::text)), '0')) AS ids_in_preorder,
       count(*) FILTER (WHERE depth = 1) AS chapters, count(*) FILTER (WHERE depth = 2) AS sections,
       count(*) FILTER (WHERE depth = 3) AS items
  FROM treestore.get_subtree('bd-big') WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o);
SELECT (SELECT count(*) FROM treestore.get_subtree('bd-big', NULL, 0)) AS max_depth_0,
       (SELECT count(*) FROM treestore.get_subtree('bd-big', NULL, 1)) AS max_depth_1,
       (SELECT count(*) FROM treestore.get_subtree('bd-big', '49000')) AS chapter_50,
       (SELECT count(*) FROM treestore.get_subtree('bd-big', '49445', 1)) AS section_50_5,
       (SELECT count(*) FROM treestore.get_children('bd-big', NULL)) AS top_level,
       (SELECT count(*) FROM treestore.get_children('bd-big', '49445')) AS items_of_50_5;
-- a statement that fails while the rows of a subtree stream in (its
-- tuplestore outgrows temp_file_limit): the parts it left unread are never
-- taken for the next statement's answer
SET work_mem = '64kB';
SET temp_file_limit = '1MB';
SELECT count(*) FROM treestore.get_subtree('bd-big');
RESET temp_file_limit;
RESET work_mem;
SELECT count(*) AS chapter_50 FROM treestore.get_subtree('bd-big', '49000');
SELECT node_id, title, page_start, page_end, summary FROM treestore.get_node('bd-big', '10000');
SELECT node_id, title, section_path FROM treestore.get_ancestors('bd-big', '99999');
-- page 505: chapter 50, section 50.5 and its 110 items, in document order
SELECT count(*) AS page_505, string_agg(title, ', ' ORDER BY o) FILTER (WHERE o <= 4) AS first_four,
       count(*) FILTER (WHERE o > 2 AND title = 'Item 50.5.' || (o - 2)) AS items_in_order
  FROM treestore.nodes_by_page('bd-big', 505) WITH ORDINALITY AS g(policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end, line_num, summary, text, content_hash, metadata, o);
SELECT jsonb_array_length(d->'structure') AS chapters, d->>'doc_name' AS doc_name,
       d->'structure'->99->'nodes'->8->'nodes'->109 AS last_item
  FROM (SELECT treestore.get_document('bd-big', include_text => true) AS d OFFSET 0) s;

-- ===================================================================
-- titles and texts of any Unicode, and node ids that differ only in
-- their normalization
-- ===================================================================
CREATE TEMP TABLE bd_strings (i int, node_id text, title text, text text);
INSERT INTO bd_strings VALUES
  (1, U&'\00E9', 'Emoji 🌳🚀 family ' || U&'\+01F469\200D\+01F469\200D\+01F467\200D\+01F466' || ' flag 🇺🇦 thumb 👍🏽',
      'Text 😀 ' || U&'\+01F9D1\200D\+01F4BB'),
  (2, U&'e\0301', 'CJK 漢字 ひらがな カタカナ 한국어 𠜎𠮷 (plane 2)', '中文文本。日本語の文章。'),
  (3, '🌳', U&'Combining: e\0301 a\0300\0323 Z\0334\0321\031B n\0303\0308', U&'o\0308\0304 u\031B\0309'),
  (4, 'עברית', U&'RTL: \200Fالعربية עברית\200E mixed \202Eoverride\202C', U&'\200Fשלום עולם\200F السلام عليكم'),
  (5, '漢字', U&'Zero width: a\200Bb\FEFFc\2060d\200Ce\200Df', U&'\FEFFstarts with a BOM'),
  (6, ' lead space', U&'Math \+01D518\+01D52B\+01D526 ∀x∈ℝ: x² ≥ 0', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢'),
  (7, E'tab\tid', E'Controls: tab\tnewline\ncr\r\u0001\u001f "quoted" \\backslash /slash', E'line 1\nline 2\r\n\u0007bell'),
  (8, 'seps', U&'Separators \2028 \2029 replacement \FFFD noncharacter \FFFF last plane \+10FFFD', U&'\+10FFFF');
CREATE TEMP TABLE bd_uni AS
SELECT jsonb_build_object('doc_name', 'Ünïcødé 📄 ' || U&'\200Fעברית', 'doc_description', 'descr 說明',
         'structure', jsonb_build_array(jsonb_build_object('title', 'Wurzel 根 🌱', 'node_id', 'root', 'start_index', 1, 'end_index', 9,
           'nodes', (SELECT jsonb_agg(jsonb_build_object('title', title, 'node_id', node_id, 'text', text, 'page_index', i,
                                                         'summary', reverse(title)) ORDER BY i)
                       FROM bd_strings)))) AS doc;
SELECT treestore.store_document('bd-uni', 'v1', doc) AS stored FROM bd_uni;
SELECT treestore.get_document('bd-uni', include_text => true) = doc AS round_trip FROM bd_uni;
-- every string back through get_node, the section path, the content hash
SELECT count(*) AS strings,
       count(*) FILTER (WHERE n.title = s.title AND n.text = s.text AND n.summary = reverse(s.title)) AS same,
       count(*) FILTER (WHERE n.section_path = 'Wurzel 根 🌱 > ' || s.title) AS same_section_path,
       count(*) FILTER (WHERE n.content_hash = encode(sha256(convert_to(((SELECT e FROM bd_uni, jsonb_array_elements(doc->'structure'->0->'nodes') e
                                                                          WHERE e->>'node_id' = s.node_id) - 'node_id')::text, 'UTF8')), 'hex'))
         AS same_content_hash
  FROM bd_strings s LEFT JOIN LATERAL treestore.get_node('bd-uni', s.node_id) n ON true;
-- U+00E9 and e + U+0301 are two nodes
SELECT s.i, octet_length(s.node_id) AS id_bytes, n.title = s.title AS its_own
  FROM bd_strings s, treestore.get_node('bd-uni', s.node_id) n WHERE s.i IN (1, 2) ORDER BY s.i;
SELECT string_agg(a.node_id, ' > ') AS ancestors, string_agg(a.title, ' | ') AS titles
  FROM treestore.get_ancestors('bd-uni', '🌳') a;
SELECT node_id, title FROM treestore.get_children('bd-uni', 'root') WHERE node_id IN ('漢字', '🌳', 'עברית') ORDER BY ordinal;
SELECT count(*) AS page_4, min(title) FILTER (WHERE node_id = 'עברית') = (SELECT title FROM bd_strings WHERE i = 4) AS rtl_title
  FROM treestore.nodes_by_page('bd-uni', 4);
SELECT doc_name, doc_description FROM treestore.versions WHERE policy_id = 'bd-uni';

-- ===================================================================
-- a 10 MB text (multi-byte characters throughout)
-- ===================================================================
CREATE TEMP TABLE bd_huge AS
SELECT t, octet_length(t) AS bytes, length(t) AS chars, md5(t) AS md5
  FROM (SELECT repeat(u, (10 * 1024 * 1024) / octet_length(u) + 1) AS t
          FROM (VALUES (E'Größe 漢字 😀 \u200Fעב line\n')) v(u)) s;
SELECT bytes >= 10 * 1024 * 1024 AS ten_mb, bytes > chars AS multi_byte FROM bd_huge;
SELECT treestore.store_document('bd-huge', 'v1',
         jsonb_build_array(jsonb_build_object('title', 'small', 'node_id', 's', 'text', 'x'),
                           jsonb_build_object('title', 'huge', 'node_id', 'h', 'text', t, 'page_index', 3))) AS stored
  FROM bd_huge;
SELECT octet_length(n.text) = h.bytes AS same_bytes, md5(n.text) = h.md5 AS same_md5,
       n.content_hash = encode(sha256(convert_to(jsonb_build_object('title', 'huge', 'text', h.t, 'page_index', 3)::text, 'UTF8')), 'hex')
         AS same_content_hash
  FROM bd_huge h, treestore.get_node('bd-huge', 'h') n;
SELECT md5(text) = (SELECT md5 FROM bd_huge) AS through_the_table FROM treestore.nodes WHERE policy_id = 'bd-huge' AND node_id = 'h';
SELECT count(*) AS subtree, sum(octet_length(text)) = (SELECT bytes + 1 FROM bd_huge) AS texts
  FROM treestore.get_subtree('bd-huge');
SELECT md5(n.text) = (SELECT md5 FROM bd_huge) AS by_page FROM treestore.nodes_by_page('bd-huge', 3) n;
SELECT md5(treestore.get_document('bd-huge', include_text => true)->'structure'->1->>'text') = md5 AS round_trip,
       treestore.get_document('bd-huge')->'structure'->1 AS without_text
  FROM bd_huge;

-- ===================================================================
-- bad input: 22023 naming the node's JSON path, nothing stored
-- (what documents.sql does not cover)
-- ===================================================================
SELECT n, bd_store(doc::jsonb) AS result
  FROM (VALUES
    -- not an object or list
    (1, 'null'), (2, 'true'), (3, '3.5'), (4, '{"structure": null}'), (5, '{"structure": "a"}'),
    (6, '{"doc_name": "n", "structure": [null]}'), (7, '[[{"title": "a list in a list"}]]'),
    (8, '[{"title": "a", "nodes": "b"}]'), (9, '[{"title": "a", "child_nodes": 5}]'),
    -- a node without a title deep in the tree
    (10, '{"structure": [{"title": "a"}, {"title": "b"}, {"title": "c", "nodes": [{"title": "c0"}, {"title": "c1", "child_nodes": [{"title": "c1a", "nodes": [{"title": "x"}, {"title": "y"}, {"title": "z"}, {"summary": "untitled", "start_index": 3}]}]}]}]}'),
    (11, '[{"title": "a", "nodes": [{"title": "b", "nodes": [{"title": {"not": "a string"}}]}]}]'),
    -- a duplicate node_id: far apart, deeper than the first
    (12, '[{"title": "a", "node_id": "dup"}, {"title": "b", "nodes": [{"title": "b0", "nodes": [{"title": "b00", "nodes": [{"title": "b000", "node_id": "dup"}]}]}]}]'),
    (13, '[{"title": "a", "node_id": "é"}, {"title": "b", "node_id": "é"}]'),
    -- a page range that is not numbers
    (14, '[{"title": "a", "nodes": [{"title": "b", "start_index": 1, "end_index": "7"}]}]'),
    (15, '[{"title": "a", "start_index": [1], "end_index": 2}]'),
    (16, '{"structure": [{"title": "a"}, {"title": "b", "page_index": {"n": 2}}]}'),
    (17, '[{"title": "a", "start_index": 1, "end_index": false}]')) AS c(n, doc)
 ORDER BY n;
-- given "10000" vs the id assigned to the 10,001st node
SELECT bd_store((SELECT jsonb_agg(CASE WHEN i = 0 THEN jsonb_build_object('title', 't0', 'node_id', '10000')
                                       ELSE jsonb_build_object('title', 't' || i) END ORDER BY i)
                   FROM generate_series(0, 10000) i)) AS assigned_10000;
-- the bottom of a 10,000-level chain without a title: the whole path
SET max_stack_depth = '7MB';
CREATE TEMP TABLE bd_bad_chain AS
SELECT ('[' || repeat('{"title": "d", "nodes": [', 9999) || '{"summary": "no title"}' || repeat(']}', 9999) || ']')::jsonb AS doc;
RESET max_stack_depth;
SELECT bd_store(doc) AS deep_untitled,
       bd_store(doc) = '22023: ' || bd_short('invalid document at $[0]' || repeat('.nodes[0]', 9999) || ': the node has no "title"')
         AS names_the_whole_path
  FROM bd_bad_chain;
-- nothing of any of these was stored
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id = 'bd-err') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id = 'bd-err') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id = 'bd-err') AS documents;
-- the 100,000-node document with its last item untitled: as a new policy,
-- and replacing bd-big's v1; bd-big stays as it was
CREATE TEMP TABLE bd_bad_big AS
SELECT jsonb_set(doc, '{structure,99,nodes,8,nodes,109}', (doc #> '{structure,99,nodes,8,nodes,109}') - 'title') AS doc
  FROM bd_big;
SELECT bd_store(doc, 'bd-err') AS new_policy, bd_store(doc, 'bd-big', true) AS replacing FROM bd_bad_big;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id = 'bd-err') AS err_nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id = 'bd-err') AS err_versions,
       (SELECT count(*) FROM treestore.get_subtree('bd-big')) AS big_nodes,
       (SELECT node_count FROM treestore.versions WHERE policy_id = 'bd-big') AS big_node_count,
       (SELECT effective_from FROM treestore.versions WHERE policy_id = 'bd-big') AS big_effective_from,
       (SELECT title FROM treestore.get_node('bd-big', '99999')) AS big_last_item;
-- a failed call inside a transaction (its own subtransaction) leaves the
-- transaction's earlier store
BEGIN;
SELECT treestore.store_document('bd-err', 'v0', '[{"title": "kept"}]') AS stored;
SELECT bd_store('[{"title": "a"}, {"nodes": []}]') AS failed;
SELECT version_id, node_id, title FROM treestore.nodes WHERE policy_id = 'bd-err';
COMMIT;
SELECT version_id, node_id, title FROM treestore.nodes WHERE policy_id = 'bd-err';

-- ===================================================================
-- clean up
-- ===================================================================
SELECT treestore.delete_document('bd-big') AS big_removed;	-- 100,000 nodes, 1 version, 1 document
SELECT sum(treestore.delete_document(p)) AS removed
  FROM unnest(ARRAY['bd-chain', 'bd-wide', 'bd-uni', 'bd-huge', 'bd-err']) AS p;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'bd-%') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id LIKE 'bd-%') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'bd-%') AS documents;
DROP FUNCTION bd_store(jsonb, text, boolean);
DROP FUNCTION bd_short(text);

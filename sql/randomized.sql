--
-- randomized: every query function against the same data answered by plain
-- SQL over ordinary tables (CONTRACT.md sections 3 and 4; the choices of
-- src/queries.c and src/documents.c).
--
-- With a fixed seed: random PageIndex trees (wide, deep up to depth 30,
-- random recursive, bushy, tiny and empty; node ids given, assigned in
-- pre-order, or mixed; pages as start/end, page_index, open ranges,
-- line_num or none) over 1-3 versions of 15 policies (random
-- effective_from, ties, undated ones, some effective_to), stored with
-- treestore.store_document AND flattened from the same jsonb into the
-- ordinary table rt_nodes by plain SQL (never read from treestore.nodes;
-- the two are cross-checked).  Cross references go into
-- treestore.cross_references and an ordinary copy.
--
-- Then, for random (policy, node, version_id, as_of, page, max_depth,
-- direction) choices, every function's rows -- whole, in their order --
-- are compared with the answer of recursive CTEs and the temporal rule
-- written in SQL (rt_resolve), in four phases:
--   A  as stored;
--   B  after delete_document of versions and of whole policies,
--      store_document with replace => true and new versions;
--   C1 inside a transaction, after a version copied in with INSERT ...
--      SELECT and random writes through the foreign tables (UPDATE
--      treestore.nodes of ordinal, parent_id, title, pages and node_id;
--      DELETE of single nodes, orphaning their children; INSERT of nodes;
--      UPDATE / DELETE / INSERT of versions and cross references) applied
--      to the ordinary tables too, and more writes rolled back to a
--      savepoint (the functions must follow the writes of their own
--      transaction, and not the rolled-back ones);
--   C2 the same after COMMIT.
-- The output is one line per phase and function: calls | mismatches (and
-- whether at least a fifth of the calls had a non-empty answer); a second
-- query lists the first failing calls (expected: none), the last line the
-- number of checks.  Keys start with 'rt-'; everything is deleted at the
-- end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY terse
SELECT setseed(0.2718281828) AS seeded;

-- ===================================================================
-- the ordinary tables
-- ===================================================================
CREATE TEMP TABLE rt_docs (			-- the stored trees (phases A, B)
  policy_id text, version_id text, tree jsonb,
  PRIMARY KEY (policy_id, version_id));
CREATE TEMP TABLE rt_ver (			-- treestore.versions as it should be
  policy_id text, version_id text, effective_from date, effective_to date,
  doc_name text, doc_description text, node_count int,
  PRIMARY KEY (policy_id, version_id));
CREATE TEMP TABLE rt_nodes (		-- treestore.nodes as it should be (without metadata)
  policy_id text, version_id text, node_id text, parent_id text, ordinal int, depth int,
  section_path text, title text, page_start int, page_end int, line_num int,
  summary text, text text, content_hash text,
  PRIMARY KEY (policy_id, version_id, node_id));
CREATE INDEX ON rt_nodes (policy_id, version_id, parent_id);
CREATE TEMP TABLE rt_xref (			-- treestore.cross_references as it should be
  source_policy_id text, source_node_id text, target_policy_id text, target_node_id text,
  reference_type text, context text, confidence real, created_at timestamptz,
  PRIMARY KEY (source_policy_id, source_node_id, target_policy_id, target_node_id, reference_type));
CREATE TEMP TABLE rt_pols (policy_id text PRIMARY KEY);	-- every policy ever used, and one never stored
CREATE TEMP TABLE rt_checks (
  id serial PRIMARY KEY, phase text, fn text, policy_id text, node_id text, version_id text,
  as_of date, page int, max_depth int, direction text);
CREATE TEMP TABLE rt_results (phase text, id int, got jsonb[], exp jsonb[]);

-- ===================================================================
-- random trees
-- ===================================================================
-- n nodes; shape: deep (mostly a chain, restarting at depth 30), wide (half
-- of the nodes at the top level, many under the first), bushy (a ternary
-- heap), anything else a random recursive tree; idmode: given (unique ids
-- whose order is not document order), none (assigned in pre-order), mixed
CREATE FUNCTION rt_tree(n int, shape text, idmode text) RETURNS jsonb LANGUAGE plpgsql AS $f$
DECLARE
  par int[] := '{}';
  dep int[] := '{}';
  node jsonb[] := '{}';
  kids jsonb[] := array_fill(NULL::jsonb, ARRAY[n + 1]);	-- kids[i + 1]: children of node i; kids[1]: top level
  prefixes text[] := ARRAY['a', 'm', 'z', 'K', 'é', '節', 'x/', 'Q.', '_', 'n-'];
  titles text[] := ARRAY['Scope', 'Definitions', 'Coverage criteria', 'Exclusions', 'Überblick',
                         '概要 🌳', 'مقدمة السياسة', 'étude (e + U+0301)', 'Appendix', 'Prior authorization'];
  p int;
  o jsonb;
  r float8;
  s int;
BEGIN
  FOR i IN 1..n LOOP
    r := random();
    p := CASE shape
           WHEN 'deep' THEN CASE WHEN r < 0.85 THEN i - 1 ELSE floor(random() * i)::int END
           WHEN 'wide' THEN CASE WHEN r < 0.5 THEN 0 WHEN r < 0.8 THEN least(i - 1, 1) ELSE floor(random() * i)::int END
           WHEN 'bushy' THEN i / 3
           ELSE floor(random() * i)::int END;
    IF p > 0 AND dep[p] >= 30 THEN
      p := 0;
    END IF;
    par[i] := p;
    dep[i] := CASE WHEN p = 0 THEN 1 ELSE dep[p] + 1 END;
    o := jsonb_build_object('title', titles[1 + floor(random() * 10)::int] || ' ' || i);
    r := random();
    IF idmode = 'given' OR (idmode = 'mixed' AND r < 0.5) THEN
      o := o || jsonb_build_object('node_id', prefixes[1 + floor(random() * 10)::int] || i);
    ELSIF idmode = 'mixed' AND r < 0.6 THEN
      o := o || '{"node_id": null}';
    END IF;
    r := random();
    s := 1 + floor(random() * 50)::int;
    IF r < 0.35 THEN
      o := o || jsonb_build_object('start_index', s, 'end_index', s + floor(random() * 6)::int);
    ELSIF r < 0.55 THEN
      o := o || jsonb_build_object('page_index', s);
    ELSIF r < 0.62 THEN
      o := o || jsonb_build_object('start_index', s);
    ELSIF r < 0.72 THEN
      o := o || jsonb_build_object('line_num', s * 7);
    END IF;
    r := random();
    IF r < 0.3 THEN
      o := o || jsonb_build_object('summary', 'summary of ' || i);
    ELSIF r < 0.45 THEN
      o := o || jsonb_build_object('prefix_summary', 'prefix summary of ' || i);
    END IF;
    IF random() < 0.2 THEN
      o := o || jsonb_build_object('text', repeat('text ' || i || ' ', 1 + floor(random() * 20)::int));
    END IF;
    node[i] := o;
  END LOOP;
  -- children lists, from the last node back: siblings in the order made
  FOR i IN REVERSE n..1 LOOP
    o := node[i];
    IF kids[i + 1] IS NOT NULL THEN
      o := o || jsonb_build_object(CASE WHEN random() < 0.15 THEN 'child_nodes' ELSE 'nodes' END, kids[i + 1]);
    ELSIF random() < 0.05 THEN
      o := o || '{"nodes": []}';
    END IF;
    kids[par[i] + 1] := jsonb_build_array(o) || coalesce(kids[par[i] + 1], '[]');
  END LOOP;
  RETURN coalesce(kids[1], '[]');
END $f$;

-- a document: the wrapper or a bare list
CREATE FUNCTION rt_doc(p text, v text) RETURNS jsonb LANGUAGE plpgsql AS $f$
DECLARE
  shape text := (ARRAY['deep', 'wide', 'random', 'bushy', 'random', 'tiny'])[1 + floor(random() * 6)::int];
  n int := CASE shape WHEN 'deep' THEN 40 + floor(random() * 100)::int
                      WHEN 'wide' THEN 50 + floor(random() * 350)::int
                      WHEN 'tiny' THEN floor(random() * 3)::int
                      ELSE 10 + floor(random() * 200)::int END;
  t jsonb := rt_tree(n, shape, (ARRAY['given', 'none', 'mixed'])[1 + floor(random() * 3)::int]);
BEGIN
  IF random() < 0.5 THEN
    RETURN t;
  END IF;
  RETURN jsonb_build_object('doc_name', 'Doc ' || p || ' ' || v, 'structure', t)
         || CASE WHEN random() < 0.5 THEN jsonb_build_object('doc_description', 'about ' || p) ELSE '{}' END;
END $f$;

-- a random date of the policy's boundaries (effective_from - 1, + 0, + 1,
-- effective_to - 1, + 0), today, or any day of 2017-2033
CREATE FUNCTION rt_date(p text) RETURNS date LANGUAGE plpgsql AS $f$
DECLARE
  r float8 := random();
  d date;
BEGIN
  IF r < 0.6 THEN
    SELECT b INTO d
      FROM (SELECT effective_from + k AS b FROM rt_ver, generate_series(-1, 1) k
             WHERE policy_id = p AND effective_from IS NOT NULL
            UNION ALL
            SELECT effective_to + k FROM rt_ver, generate_series(-1, 0) k
             WHERE policy_id = p AND effective_to IS NOT NULL) x
     ORDER BY random() LIMIT 1;
  ELSIF r < 0.65 THEN
    d := current_date;
  END IF;
  RETURN coalesce(d, DATE '2017-01-01' + floor(random() * 6000)::int);
END $f$;

-- rt_nodes from rt_docs: the PageIndex tree flattened in plain SQL (ids
-- assigned in pre-order where missing, as "0000", "0001", ...)
CREATE FUNCTION rt_flatten() RETURNS bigint LANGUAGE sql AS $f$
  DELETE FROM rt_nodes;
  WITH RECURSIVE walk AS (
    SELECT d.policy_id, d.version_id, e.value AS n, ARRAY[e.ordinality::int] AS pos, e.value->>'title' AS path
      FROM rt_docs d,
           jsonb_array_elements(CASE jsonb_typeof(d.tree) WHEN 'array' THEN d.tree ELSE d.tree->'structure' END)
             WITH ORDINALITY e
    UNION ALL
    SELECT w.policy_id, w.version_id, c.value, w.pos || c.ordinality::int, w.path || ' > ' || (c.value->>'title')
      FROM walk w, jsonb_array_elements(coalesce(w.n->'nodes', w.n->'child_nodes')) WITH ORDINALITY c
  ), ided AS (
    SELECT w.*, coalesce(w.n->>'node_id',
                         lpad(x::text, greatest(4, length(x::text)), '0')) AS node_id
      FROM (SELECT w.*, row_number() OVER (PARTITION BY w.policy_id, w.version_id ORDER BY w.pos) - 1 AS x
              FROM walk w) w
  )
  INSERT INTO rt_nodes
  SELECT c.policy_id, c.version_id, c.node_id, p.node_id, c.pos[cardinality(c.pos)] - 1, cardinality(c.pos),
         c.path, c.n->>'title',
         coalesce((c.n->>'start_index')::int, (c.n->>'page_index')::int),
         coalesce((c.n->>'end_index')::int, (c.n->>'page_index')::int),
         (c.n->>'line_num')::int, coalesce(c.n->>'summary', c.n->>'prefix_summary'), c.n->>'text',
         encode(sha256(convert_to((c.n - 'node_id' - 'nodes' - 'child_nodes')::text, 'UTF8')), 'hex')
    FROM ided c LEFT JOIN ided p
      ON p.policy_id = c.policy_id AND p.version_id = c.version_id AND p.pos = c.pos[1:cardinality(c.pos) - 1];
  UPDATE rt_ver v SET node_count = (SELECT count(*) FROM rt_nodes n
                                     WHERE n.policy_id = v.policy_id AND n.version_id = v.version_id)
   WHERE (v.policy_id, v.version_id) IN (SELECT policy_id, version_id FROM rt_docs);
  SELECT count(*) FROM rt_nodes;
$f$;

-- ===================================================================
-- the answers in plain SQL
-- ===================================================================
-- the temporal rule as CONTRACT.md section 3 words it: a version is in
-- force from its effective_from until the next version's effective_from
-- or its own effective_to, whichever is earlier (versions of one day: by
-- version_id, the greatest wins); "latest": the latest effective_from
-- (undated lowest), then the greatest version_id
CREATE FUNCTION rt_in_force(p text, d date) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT s.version_id
    FROM (SELECT r.version_id, r.effective_from, r.effective_to,
                 lead(r.effective_from) OVER (ORDER BY r.effective_from, r.version_id COLLATE "C") AS next_from
            FROM rt_ver r WHERE r.policy_id = p AND r.effective_from IS NOT NULL) s
   WHERE s.effective_from <= d AND (s.next_from IS NULL OR d < s.next_from)
     AND (s.effective_to IS NULL OR d < s.effective_to)
$f$;
CREATE FUNCTION rt_resolve(p text, v text, d date) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE
           WHEN v IS NOT NULL THEN (SELECT r.version_id FROM rt_ver r WHERE r.policy_id = p AND r.version_id = v)
           WHEN d IS NOT NULL THEN rt_in_force(p, d)
           ELSE coalesce(rt_in_force(p, current_date),
                         (SELECT r.version_id FROM rt_ver r WHERE r.policy_id = p
                           ORDER BY r.effective_from DESC NULLS LAST, r.version_id COLLATE "C" DESC LIMIT 1))
         END
$f$;
-- a node's row as the functions return it, without metadata
CREATE FUNCTION rt_exp_node(p text, v text, x text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(to_jsonb(n)), '{}') FROM rt_nodes n
   WHERE n.policy_id = p AND n.version_id = v AND n.node_id = x
$f$;
-- a sibling's sort key: (ordinal, node_id bytewise); a NULL ordinal
-- (possible through the table) counts as 0, src/queries.c's choice
CREATE FUNCTION rt_key(ordinal int, node_id text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT lpad((coalesce(ordinal, 0)::bigint + 2147483648)::text, 10, '0') || '/' || node_id
$f$;
-- pre-order from x (NULL: from every top-level node: parent_id NULL or
-- naming no node of the version), siblings by rt_key, at most md levels
-- below the start
CREATE FUNCTION rt_exp_subtree(p text, v text, x text, md int) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  WITH RECURSIVE walk AS (
    SELECT n.node_id, 0 AS lvl,
           ARRAY[CASE WHEN x IS NULL THEN rt_key(n.ordinal, n.node_id) ELSE '' END] AS path
      FROM rt_nodes n
     WHERE n.policy_id = p AND n.version_id = v
       AND (x IS NULL AND (n.parent_id IS NULL
                           OR NOT EXISTS (SELECT 1 FROM rt_nodes q WHERE q.policy_id = p AND q.version_id = v
                                                                     AND q.node_id = n.parent_id))
            OR n.node_id = x)
    UNION ALL
    SELECT c.node_id, w.lvl + 1, w.path || rt_key(c.ordinal, c.node_id)
      FROM walk w JOIN rt_nodes c ON c.policy_id = p AND c.version_id = v AND c.parent_id = w.node_id
     WHERE md IS NULL OR w.lvl < md
  )
  SELECT coalesce(array_agg(to_jsonb(n) ORDER BY w.path COLLATE "C"), '{}')
    FROM walk w JOIN rt_nodes n ON n.policy_id = p AND n.version_id = v AND n.node_id = w.node_id
$f$;
-- children of x (NULL: the top level) by rt_key; an unknown x has none,
-- even when orphans name it as their parent
CREATE FUNCTION rt_exp_children(p text, v text, x text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(to_jsonb(n) ORDER BY coalesce(n.ordinal, 0), n.node_id COLLATE "C"), '{}')
    FROM rt_nodes n
   WHERE n.policy_id = p AND n.version_id = v
     AND (x IS NULL AND (n.parent_id IS NULL
                         OR NOT EXISTS (SELECT 1 FROM rt_nodes q WHERE q.policy_id = p AND q.version_id = v
                                                                   AND q.node_id = n.parent_id))
          OR n.parent_id = x AND EXISTS (SELECT 1 FROM rt_nodes q WHERE q.policy_id = p AND q.version_id = v
                                                                   AND q.node_id = x))
$f$;
-- up the parent_id chain, top first, the node last
CREATE FUNCTION rt_exp_ancestors(p text, v text, x text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  WITH RECURSIVE up AS (
    SELECT n.node_id, n.parent_id, 0 AS steps FROM rt_nodes n
     WHERE n.policy_id = p AND n.version_id = v AND n.node_id = x
    UNION ALL
    SELECT n.node_id, n.parent_id, up.steps + 1
      FROM up JOIN rt_nodes n ON n.policy_id = p AND n.version_id = v AND n.node_id = up.parent_id
  )
  SELECT coalesce(array_agg(to_jsonb(n) ORDER BY up.steps DESC), '{}')
    FROM up JOIN rt_nodes n ON n.policy_id = p AND n.version_id = v AND n.node_id = up.node_id
$f$;
-- page_start <= pg <= coalesce(page_end, page_start), in document order
CREATE FUNCTION rt_exp_page(p text, v text, pg int) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(e ORDER BY o), '{}')
    FROM unnest(rt_exp_subtree(p, v, NULL, NULL)) WITH ORDINALITY u(e, o)
   WHERE (e->>'page_start')::int <= pg AND pg <= coalesce((e->>'page_end')::int, (e->>'page_start')::int)
$f$;
-- get_document's answer, reduced to doc_name and the (node_id, title) of
-- every node in document order; NULL: no document
CREATE FUNCTION rt_doc_ids(doc jsonb) RETURNS jsonb[] LANGUAGE sql IMMUTABLE AS $f$
  WITH RECURSIVE walk AS (
    SELECT e.value AS n, ARRAY[e.ordinality::int] AS pos
      FROM jsonb_array_elements(doc->'structure') WITH ORDINALITY e
    UNION ALL
    SELECT c.value, w.pos || c.ordinality::int
      FROM walk w, jsonb_array_elements(coalesce(w.n->'nodes', w.n->'child_nodes')) WITH ORDINALITY c
  )
  SELECT CASE WHEN doc IS NOT NULL THEN
           ARRAY[jsonb_build_object('doc_name', doc->'doc_name')]
           || (SELECT coalesce(array_agg(jsonb_build_object('node_id', n->'node_id', 'title', n->'title') ORDER BY pos), '{}')
                 FROM walk) END
$f$;
CREATE FUNCTION rt_exp_doc_ids(p text, v text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT CASE WHEN v IS NOT NULL THEN
           ARRAY[jsonb_build_object('doc_name', (SELECT doc_name FROM rt_ver WHERE policy_id = p AND version_id = v))]
           || (SELECT coalesce(array_agg(jsonb_build_object('node_id', e->'node_id', 'title', e->'title') ORDER BY o), '{}')
                 FROM unnest(rt_exp_subtree(p, v, NULL, NULL)) WITH ORDINALITY u(e, o)) END
$f$;
CREATE FUNCTION rt_exp_version(p text, v text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(to_jsonb(r)), '{}') FROM rt_ver r WHERE r.policy_id = p AND r.version_id = v
$f$;
CREATE FUNCTION rt_exp_list_versions(p text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(to_jsonb(r) ORDER BY r.effective_from NULLS LAST, r.version_id COLLATE "C"), '{}')
    FROM rt_ver r WHERE r.policy_id = p
$f$;
-- cross references: outgoing (source is the policy / node), incoming
-- (target is), both (either; once); key order
CREATE FUNCTION rt_exp_xref(p text, x text, dir text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(to_jsonb(r) ORDER BY r.source_policy_id COLLATE "C", r.source_node_id COLLATE "C",
                                                  r.target_policy_id COLLATE "C", r.target_node_id COLLATE "C",
                                                  r.reference_type COLLATE "C"), '{}')
    FROM rt_xref r
   WHERE (dir IN ('outgoing', 'both') AND r.source_policy_id = p AND (x IS NULL OR r.source_node_id = x))
      OR (dir IN ('incoming', 'both') AND r.target_policy_id = p AND (x IS NULL OR r.target_node_id = x))
$f$;
-- the documents row: title (the latest version's doc_name, else the
-- policy id), latest_version_id, version_count; none without versions
CREATE FUNCTION rt_exp_document(p text) RETURNS jsonb[] LANGUAGE sql STABLE AS $f$
  SELECT coalesce(array_agg(jsonb_build_object('policy_id', p, 'title', coalesce(l.doc_name, p),
                                               'latest_version_id', l.version_id, 'version_count', l.n)), '{}')
    FROM (SELECT r.doc_name, r.version_id, count(*) OVER () AS n FROM rt_ver r WHERE r.policy_id = p
           ORDER BY r.effective_from DESC NULLS LAST, r.version_id COLLATE "C" DESC LIMIT 1) l
$f$;

-- ===================================================================
-- random calls, and the comparison
-- ===================================================================
CREATE FUNCTION rt_make_checks(ph text, k int) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  pols text[] := (SELECT array_agg(policy_id ORDER BY policy_id) FROM rt_pols);
  fname text;
  p text;
  x text;
  v text;
  rv text;
  d date;
  r float8;
BEGIN
  FOREACH fname IN ARRAY ARRAY['get_node', 'get_children', 'get_subtree', 'get_ancestors', 'nodes_by_page',
                               'get_document', 'version_as_of', 'get_cross_references'] LOOP
    FOR i IN 1..k LOOP
      p := pols[1 + floor(random() * cardinality(pols))::int];
      -- the version: by id (one of the policy's, or unknown), by id and
      -- as_of, by as_of, or neither (today's, else the latest)
      r := random();
      v := NULL;
      d := NULL;
      IF r < 0.3 THEN
        v := (SELECT version_id FROM rt_ver WHERE policy_id = p ORDER BY random() LIMIT 1);
      ELSIF r < 0.35 THEN
        v := 'v-none';
      ELSIF r < 0.45 THEN
        v := (SELECT version_id FROM rt_ver WHERE policy_id = p ORDER BY random() LIMIT 1);
        d := rt_date(p);
      ELSIF r < 0.8 OR fname = 'version_as_of' THEN
        d := rt_date(p);
      END IF;
      IF fname = 'version_as_of' AND random() < 0.03 THEN
        d := NULL;
      END IF;
      -- the node: unknown, NULL, one of the cross references, a parent of
      -- the resolved version, any of its nodes, any node of the policy
      rv := rt_resolve(p, v, d);
      r := random();
      IF r < 0.05 THEN
        x := 'nope';
      ELSIF r < 0.2 THEN
        x := NULL;
      ELSIF fname = 'get_cross_references' AND r < 0.6 THEN
        x := (SELECT y FROM (SELECT source_node_id FROM rt_xref WHERE source_policy_id = p
                             UNION ALL SELECT target_node_id FROM rt_xref WHERE target_policy_id = p) z(y)
               ORDER BY random() LIMIT 1);
      ELSIF fname IN ('get_children', 'get_subtree') AND r < 0.5 THEN
        x := (SELECT parent_id FROM rt_nodes WHERE policy_id = p AND version_id = rv AND parent_id IS NOT NULL
               ORDER BY random() LIMIT 1);
      ELSIF r < 0.85 THEN
        x := (SELECT node_id FROM rt_nodes WHERE policy_id = p AND version_id = rv ORDER BY random() LIMIT 1);
      ELSE
        x := (SELECT node_id FROM rt_nodes WHERE policy_id = p ORDER BY random() LIMIT 1);
      END IF;
      INSERT INTO rt_checks (phase, fn, policy_id, node_id, version_id, as_of, page, max_depth, direction)
      VALUES (ph, fname, p, x, v, d, floor(random() * 61)::int - 3,
              CASE WHEN random() < 0.4 THEN NULL ELSE floor(random() * 5)::int END,
              (ARRAY['outgoing', 'incoming', 'both'])[1 + floor(random() * 3)::int]);
    END LOOP;
  END LOOP;
  -- every policy once; the documents row only where store_document and
  -- delete_document made it (writes to treestore.versions through the
  -- table do not recompute it: documents.c)
  INSERT INTO rt_checks (phase, fn, policy_id)
  SELECT ph, u2.fn, u1.pol
    FROM unnest(pols) u1(pol), unnest(ARRAY['list_versions', 'documents']) u2(fn)
   WHERE u2.fn <> 'documents' OR ph NOT LIKE 'C%'
   ORDER BY 2, 3;
END $f$;

-- got: the function's rows in their order, whole (nodes: without
-- metadata); exp: the plain SQL answer
CREATE FUNCTION rt_compare(ph text) RETURNS TABLE (func text, calls bigint, mismatches bigint, nonempty bigint)
LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - 'ordinality' - 'metadata' ORDER BY g.ordinality), '{}')
            FROM treestore.get_node(c.policy_id, c.node_id, c.version_id, c.as_of) WITH ORDINALITY g),
         rt_exp_node(c.policy_id, rt_resolve(c.policy_id, c.version_id, c.as_of), c.node_id)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'get_node';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - 'ordinality' - 'metadata' ORDER BY g.ordinality), '{}')
            FROM treestore.get_children(c.policy_id, c.node_id, c.version_id, c.as_of) WITH ORDINALITY g),
         rt_exp_children(c.policy_id, rt_resolve(c.policy_id, c.version_id, c.as_of), c.node_id)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'get_children';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - 'ordinality' - 'metadata' ORDER BY g.ordinality), '{}')
            FROM treestore.get_subtree(c.policy_id, c.node_id, c.max_depth, c.version_id, c.as_of) WITH ORDINALITY g),
         rt_exp_subtree(c.policy_id, rt_resolve(c.policy_id, c.version_id, c.as_of), c.node_id, c.max_depth)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'get_subtree';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - 'ordinality' - 'metadata' ORDER BY g.ordinality), '{}')
            FROM treestore.get_ancestors(c.policy_id, c.node_id, c.version_id, c.as_of) WITH ORDINALITY g),
         rt_exp_ancestors(c.policy_id, rt_resolve(c.policy_id, c.version_id, c.as_of), c.node_id)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'get_ancestors';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - 'ordinality' - 'metadata' ORDER BY g.ordinality), '{}')
            FROM treestore.nodes_by_page(c.policy_id, c.page, c.version_id, c.as_of) WITH ORDINALITY g),
         rt_exp_page(c.policy_id, rt_resolve(c.policy_id, c.version_id, c.as_of), c.page)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'nodes_by_page';
  INSERT INTO rt_results
  SELECT ph, c.id,
         rt_doc_ids(treestore.get_document(c.policy_id, c.version_id, c.as_of)),
         rt_exp_doc_ids(c.policy_id, rt_resolve(c.policy_id, c.version_id, c.as_of))
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'get_document';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - ARRAY['ordinality', 'pageindex_doc_id', 'pdf_sha256', 'source_url',
                                                        'created_at', 'metadata'] ORDER BY g.ordinality), '{}')
            FROM treestore.version_as_of(c.policy_id, c.as_of) WITH ORDINALITY g),
         CASE WHEN c.as_of IS NULL THEN '{}' ELSE rt_exp_version(c.policy_id, rt_in_force(c.policy_id, c.as_of)) END
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'version_as_of';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - ARRAY['ordinality', 'pageindex_doc_id', 'pdf_sha256', 'source_url',
                                                        'created_at', 'metadata'] ORDER BY g.ordinality), '{}')
            FROM treestore.list_versions(c.policy_id) WITH ORDINALITY g),
         rt_exp_list_versions(c.policy_id)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'list_versions';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(g) - 'ordinality' ORDER BY g.ordinality), '{}')
            FROM treestore.get_cross_references(c.policy_id, c.node_id, c.direction) WITH ORDINALITY g),
         rt_exp_xref(c.policy_id, c.node_id, c.direction)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'get_cross_references';
  INSERT INTO rt_results
  SELECT ph, c.id,
         (SELECT coalesce(array_agg(to_jsonb(d) - ARRAY['created_at', 'updated_at', 'metadata']), '{}')
            FROM treestore.documents d WHERE d.policy_id = c.policy_id),
         rt_exp_document(c.policy_id)
    FROM rt_checks c WHERE c.phase = ph AND c.fn = 'documents';
  RETURN QUERY
  SELECT c.fn, count(*), count(*) FILTER (WHERE r.got IS DISTINCT FROM r.exp),
         count(*) FILTER (WHERE cardinality(r.exp) > CASE c.fn WHEN 'get_document' THEN 1 ELSE 0 END)
    FROM rt_checks c JOIN rt_results r ON r.id = c.id AND r.phase = ph
   WHERE c.phase = ph GROUP BY c.fn ORDER BY c.fn;
END $f$;

-- the first failing calls: their arguments, the ids (or versions) both
-- ways and the first row that differs
CREATE TEMP VIEW rt_failures AS
SELECT r.phase, c.fn, c.policy_id, c.node_id, c.version_id, c.as_of, c.page, c.max_depth, c.direction,
       (SELECT array_agg(coalesce(e->>'node_id', e->>'version_id', e->>'source_node_id', e::text)) FROM unnest(r.got) e) AS got_ids,
       (SELECT array_agg(coalesce(e->>'node_id', e->>'version_id', e->>'source_node_id', e::text)) FROM unnest(r.exp) e) AS exp_ids,
       (SELECT jsonb_build_array(u.o, u.g, u.e) FROM unnest(r.got, r.exp) WITH ORDINALITY u(g, e, o)
         WHERE u.g IS DISTINCT FROM u.e ORDER BY u.o LIMIT 1) AS first_difference
  FROM rt_results r JOIN rt_checks c ON c.id = r.id
 WHERE r.got IS DISTINCT FROM r.exp;

-- treestore.nodes against rt_nodes: rows in one and not the other
CREATE FUNCTION rt_table_diff() RETURNS bigint LANGUAGE sql AS $f$
  SELECT count(*) FROM (
    (SELECT policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end,
            line_num, summary, text, content_hash FROM treestore.nodes WHERE policy_id LIKE 'rt-%'
     EXCEPT ALL SELECT * FROM rt_nodes)
    UNION ALL
    (SELECT * FROM rt_nodes
     EXCEPT ALL
     SELECT policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start, page_end,
            line_num, summary, text, content_hash FROM treestore.nodes WHERE policy_id LIKE 'rt-%')) d
$f$;

-- ===================================================================
-- the data: 15 policies of 1-3 versions each, and one more
-- ===================================================================
DO $$
DECLARE
  vids text[] := ARRAY['v1', 'v2', 'v10', 'Va'];
  nv int;
  p text;
  v text;
  f date;
  prev date;
  r float8;
BEGIN
  FOR i IN 1..15 LOOP
    p := 'rt-p' || lpad(i::text, 2, '0');
    INSERT INTO rt_pols VALUES (p);
    nv := 1 + floor(random() * 3)::int;
    prev := NULL;
    FOR k IN 1..nv LOOP
      v := vids[1 + (k + i) % 4];
      r := random();
      f := CASE WHEN r < 0.1 THEN NULL
                WHEN r < 0.25 AND prev IS NOT NULL THEN prev			-- a tie
                ELSE DATE '2018-01-01' + floor(random() * 5200)::int END;
      prev := coalesce(f, prev);
      INSERT INTO rt_docs VALUES (p, v, rt_doc(p, v));
      INSERT INTO rt_ver (policy_id, version_id, effective_from, effective_to, doc_name, doc_description)
      SELECT p, v, f, CASE WHEN f IS NOT NULL AND random() < 0.3 THEN f + 30 + floor(random() * 900)::int END,
             tree->>'doc_name', tree->>'doc_description'
        FROM rt_docs WHERE policy_id = p AND version_id = v;
    END LOOP;
  END LOOP;
  -- and surely an empty document and a single page_index node
  INSERT INTO rt_pols VALUES ('rt-p16'), ('rt-none');
  INSERT INTO rt_docs VALUES ('rt-p16', 'v1', '{"doc_name": "empty", "structure": []}'),
                             ('rt-p16', 'v2', '[{"title": "one", "page_index": 7}]');
  INSERT INTO rt_ver (policy_id, version_id, effective_from, doc_name)
  VALUES ('rt-p16', 'v1', DATE '2020-01-01', 'empty'), ('rt-p16', 'v2', DATE '2023-01-01', NULL);
END $$;
SELECT rt_flatten() AS nodes;
SELECT count(*) AS versions, count(*) FILTER (WHERE effective_from IS NULL) AS undated,
       count(*) FILTER (WHERE effective_to IS NOT NULL) AS with_effective_to,
       count(*) FILTER (WHERE node_count = 0) AS empty,
       (SELECT max(depth) FROM rt_nodes) AS max_depth,
       (SELECT max(c) FROM (SELECT count(*) AS c FROM rt_nodes GROUP BY policy_id, version_id, parent_id) s) AS max_siblings
  FROM rt_ver;
SELECT count(*) AS nodes,
       count(*) FILTER (WHERE node_id ~ '^[0-9]{4}$') AS assigned_ids,
       count(*) FILTER (WHERE page_start IS NOT NULL AND page_end IS NULL) AS open_ranges,
       count(*) FILTER (WHERE page_start = page_end) AS single_pages,
       count(*) FILTER (WHERE page_start IS NULL) AS without_pages,
       count(*) FILTER (WHERE line_num IS NOT NULL) AS with_line_num
  FROM rt_nodes;

-- stored with store_document; effective_to through the table
SELECT count(*) AS calls, sum(treestore.store_document(d.policy_id, d.version_id, d.tree, v.effective_from)) AS stored
  FROM (SELECT * FROM rt_docs ORDER BY policy_id, version_id) d JOIN rt_ver v USING (policy_id, version_id);
UPDATE treestore.versions t SET effective_to = r.effective_to
  FROM rt_ver r WHERE t.policy_id = r.policy_id AND t.version_id = r.version_id AND r.effective_to IS NOT NULL;
-- the flattening agrees with what store_document derived
SELECT rt_table_diff() AS nodes_table_diff;

-- cross references: between nodes of the policies (any version), of a
-- policy never stored, and of nodes that do not exist
DO $$
DECLARE
  pols text[] := (SELECT array_agg(policy_id ORDER BY policy_id) FROM rt_pols WHERE policy_id <> 'rt-none')
                 || ARRAY['rt-ext'];
  sp text;
  tp text;
BEGIN
  FOR i IN 1..200 LOOP
    sp := pols[1 + floor(random() * cardinality(pols))::int];
    tp := CASE WHEN random() < 0.3 THEN sp ELSE pols[1 + floor(random() * cardinality(pols))::int] END;
    INSERT INTO rt_xref
    VALUES (sp, coalesce((SELECT node_id FROM rt_nodes WHERE policy_id = sp ORDER BY random() LIMIT 1), 'ext' || i % 5),
            tp, coalesce((SELECT node_id FROM rt_nodes WHERE policy_id = tp ORDER BY random() LIMIT 1), 'ext' || i % 7),
            (ARRAY['see', 'cites', 'amends', 'see also'])[1 + floor(random() * 4)::int],
            CASE WHEN random() < 0.5 THEN 'context ' || i END,
            CASE WHEN random() < 0.7 THEN round(random()::numeric, 3)::real END,
            TIMESTAMPTZ '2024-01-01 00:00:00+00' + floor(random() * 1e8) * interval '1 second')
    ON CONFLICT DO NOTHING;
  END LOOP;
END $$;
INSERT INTO treestore.cross_references SELECT * FROM rt_xref;

-- ===================================================================
-- phase A: as stored
-- ===================================================================
SELECT rt_make_checks('A', 300);
SELECT func, calls, mismatches, nonempty * 5 >= calls AS enough_nonempty FROM rt_compare('A');
SELECT * FROM rt_failures WHERE phase = 'A' LIMIT 5;

-- ===================================================================
-- phase B: delete_document, replace, new versions
-- ===================================================================
-- (seeded again: the calls above depend on today's date, the data below
-- must not)
SELECT setseed(0.1414213562) AS seeded;
-- delete_document of 6 versions and of 2 whole policies: the rows removed
-- (nodes, the version, the documents row with the last version)
CREATE FUNCTION rt_delete(p text, v text) RETURNS boolean LANGUAGE plpgsql AS $f$
DECLARE
  expected bigint := (SELECT count(*) FROM rt_nodes WHERE policy_id = p AND (v IS NULL OR version_id = v))
                     + (SELECT count(*) FROM rt_ver WHERE policy_id = p AND (v IS NULL OR version_id = v));
BEGIN
  IF expected > 0 AND NOT EXISTS (SELECT 1 FROM rt_ver WHERE policy_id = p AND (v IS NOT NULL AND version_id <> v)) THEN
    expected := expected + 1;
  END IF;
  DELETE FROM rt_docs WHERE policy_id = p AND (v IS NULL OR version_id = v);
  DELETE FROM rt_nodes WHERE policy_id = p AND (v IS NULL OR version_id = v);
  DELETE FROM rt_ver WHERE policy_id = p AND (v IS NULL OR version_id = v);
  RETURN treestore.delete_document(p, v) = expected;
END $f$;
CREATE TEMP TABLE rt_del AS SELECT policy_id, version_id FROM rt_ver ORDER BY random() LIMIT 6;
INSERT INTO rt_del SELECT policy_id, NULL FROM (SELECT DISTINCT policy_id FROM rt_ver) p
                    WHERE policy_id NOT IN (SELECT policy_id FROM rt_del) ORDER BY random() LIMIT 2;
INSERT INTO rt_del VALUES ('rt-none', NULL), ('rt-p01', 'v-none');
SELECT count(*) AS deletes, count(*) FILTER (WHERE ok) AS counts_right
  FROM (SELECT rt_delete(policy_id, version_id) AS ok FROM (SELECT * FROM rt_del ORDER BY policy_id, version_id NULLS LAST) d) s;
-- replace => true of 3 versions with new trees (effective_from and
-- effective_to kept)
CREATE TEMP TABLE rt_rep AS
SELECT policy_id, version_id, rt_doc(policy_id, version_id) AS tree FROM rt_ver ORDER BY random() LIMIT 3;
UPDATE rt_docs d SET tree = r.tree FROM rt_rep r WHERE d.policy_id = r.policy_id AND d.version_id = r.version_id;
UPDATE rt_ver v SET doc_name = r.tree->>'doc_name', doc_description = r.tree->>'doc_description'
  FROM rt_rep r WHERE v.policy_id = r.policy_id AND v.version_id = r.version_id;
SELECT count(*) AS replaced FROM (SELECT treestore.store_document(policy_id, version_id, tree, replace => true)
                                    FROM (SELECT * FROM rt_rep ORDER BY 1, 2) r) s;
-- new versions: one the same day as another version of its policy, one
-- undated, one in the future; one of a policy deleted above
CREATE TEMP TABLE rt_new AS
SELECT policy_id, 'v-new' || row_number() OVER (ORDER BY policy_id) AS version_id, NULL::date AS effective_from
  FROM (SELECT policy_id FROM (SELECT DISTINCT policy_id FROM rt_ver) q ORDER BY random() LIMIT 3) p;
UPDATE rt_new n SET effective_from = (SELECT max(effective_from) FROM rt_ver v WHERE v.policy_id = n.policy_id)
 WHERE version_id = 'v-new1';
UPDATE rt_new SET effective_from = current_date + 400 WHERE version_id = 'v-new3';
INSERT INTO rt_new SELECT policy_id, 'v-again', current_date - 5 FROM rt_del WHERE version_id IS NULL AND policy_id <> 'rt-none'
  ORDER BY policy_id LIMIT 1;
INSERT INTO rt_docs SELECT policy_id, version_id, rt_doc(policy_id, version_id) FROM rt_new;
INSERT INTO rt_ver (policy_id, version_id, effective_from, doc_name, doc_description)
SELECT n.policy_id, n.version_id, n.effective_from, d.tree->>'doc_name', d.tree->>'doc_description'
  FROM rt_new n JOIN rt_docs d USING (policy_id, version_id);
SELECT count(*) AS new_versions
  FROM (SELECT treestore.store_document(n.policy_id, n.version_id, d.tree, n.effective_from)
          FROM rt_new n JOIN rt_docs d USING (policy_id, version_id)) s;
SELECT rt_flatten() > 0 AS flattened;
SELECT rt_table_diff() AS nodes_table_diff;
SELECT rt_make_checks('B', 300);
SELECT func, calls, mismatches, nonempty * 5 >= calls AS enough_nonempty FROM rt_compare('B');
SELECT * FROM rt_failures WHERE phase = 'B' LIMIT 5;

-- ===================================================================
-- phase C: writes through the foreign tables
-- ===================================================================
-- is a an ancestor of x (or x itself)?  (no parent cycles are made)
CREATE FUNCTION rt_is_ancestor(p text, v text, a text, x text) RETURNS boolean LANGUAGE sql STABLE AS $f$
  WITH RECURSIVE up AS (
    SELECT n.node_id, n.parent_id FROM rt_nodes n WHERE n.policy_id = p AND n.version_id = v AND n.node_id = x
    UNION ALL
    SELECT n.node_id, n.parent_id FROM up JOIN rt_nodes n
      ON n.policy_id = p AND n.version_id = v AND n.node_id = up.parent_id
  )
  SELECT EXISTS (SELECT 1 FROM up WHERE node_id = a)
$f$;
-- nops random writes through treestore's tables, and (plain) the same to
-- the ordinary tables; salt keeps new keys apart
CREATE FUNCTION rt_mutate(nops int, plain boolean, salt text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  n rt_nodes;
  x rt_xref;
  r float8;
  o int;
  np text;
  ps int;
  pe int;
  d1 date;
  d2 date;
  done int[] := '{0,0,0,0,0,0,0,0}';
BEGIN
  FOR i IN 1..nops LOOP
    SELECT * INTO n FROM rt_nodes ORDER BY random() LIMIT 1;
    r := random();
    o := CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 7)::int - 1 END;	-- -1 .. 5 and NULL: siblings share them
    IF r < 0.22 THEN				-- a new ordinal
      UPDATE treestore.nodes SET ordinal = o
       WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      IF plain THEN
        UPDATE rt_nodes SET ordinal = o
         WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      END IF;
      done[1] := done[1] + 1;
    ELSIF r < 0.42 THEN				-- a new parent: another node, none, or a missing one
      r := random();
      IF r < 0.2 THEN
        np := NULL;
      ELSIF r < 0.35 THEN
        np := 'gone-' || salt || i;
      ELSE
        SELECT c.node_id INTO np FROM rt_nodes c
         WHERE c.policy_id = n.policy_id AND c.version_id = n.version_id
           AND NOT rt_is_ancestor(n.policy_id, n.version_id, n.node_id, c.node_id)
         ORDER BY random() LIMIT 1;
      END IF;
      UPDATE treestore.nodes SET parent_id = np, ordinal = o
       WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      IF plain THEN
        UPDATE rt_nodes SET parent_id = np, ordinal = o
         WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      END IF;
      done[2] := done[2] + 1;
    ELSIF r < 0.55 THEN				-- title and pages
      -- also ranges ending before they start, an end without a start,
      -- pages down to -2
      ps := CASE WHEN random() < 0.8 THEN floor(random() * 53)::int - 2 END;
      pe := CASE WHEN random() < 0.7 THEN coalesce(ps, floor(random() * 50)::int) + floor(random() * 7)::int - 2 END;
      UPDATE treestore.nodes SET title = 'renamed ' || salt || i, page_start = ps, page_end = pe
       WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      IF plain THEN
        UPDATE rt_nodes SET title = 'renamed ' || salt || i, page_start = ps, page_end = pe
         WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      END IF;
      done[3] := done[3] + 1;
    ELSIF r < 0.68 THEN				-- delete the node: its children become orphans
      DELETE FROM treestore.nodes
       WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      IF plain THEN
        DELETE FROM rt_nodes
         WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      END IF;
      done[4] := done[4] + 1;
    ELSIF r < 0.8 THEN				-- a new node under the node or beside it
      np := CASE WHEN random() < 0.7 THEN n.node_id ELSE n.parent_id END;
      ps := 1 + floor(random() * 50)::int;
      INSERT INTO treestore.nodes (policy_id, version_id, node_id, parent_id, ordinal, depth, title, page_start, page_end)
      VALUES (n.policy_id, n.version_id, 'new-' || salt || i, np, o, 0, 'new ' || i, ps, ps + 1);
      IF plain THEN
        INSERT INTO rt_nodes (policy_id, version_id, node_id, parent_id, ordinal, depth, title, page_start, page_end)
        VALUES (n.policy_id, n.version_id, 'new-' || salt || i, np, o, 0, 'new ' || i, ps, ps + 1);
      END IF;
      done[5] := done[5] + 1;
    ELSIF r < 0.88 THEN				-- a new node_id (a key update): its children become orphans
      UPDATE treestore.nodes SET node_id = 'moved-' || salt || i
       WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      IF plain THEN
        UPDATE rt_nodes SET node_id = 'moved-' || salt || i
         WHERE policy_id = n.policy_id AND version_id = n.version_id AND node_id = n.node_id;
      END IF;
      done[6] := done[6] + 1;
    ELSIF r < 0.94 THEN				-- the version's dates
      d1 := CASE WHEN random() < 0.9 THEN DATE '2018-01-01' + floor(random() * 5200)::int END;
      d2 := CASE WHEN random() < 0.4 THEN d1 + 1 + floor(random() * 700)::int END;
      UPDATE treestore.versions SET effective_from = d1, effective_to = d2
       WHERE policy_id = n.policy_id AND version_id = n.version_id;
      IF plain THEN
        UPDATE rt_ver SET effective_from = d1, effective_to = d2
         WHERE policy_id = n.policy_id AND version_id = n.version_id;
      END IF;
      done[7] := done[7] + 1;
    ELSE					-- cross references: one deleted, one changed, one new
      SELECT * INTO x FROM rt_xref ORDER BY random() LIMIT 1;
      DELETE FROM treestore.cross_references
       WHERE source_policy_id = x.source_policy_id AND source_node_id = x.source_node_id
         AND target_policy_id = x.target_policy_id AND target_node_id = x.target_node_id
         AND reference_type = x.reference_type;
      IF plain THEN
        DELETE FROM rt_xref
         WHERE source_policy_id = x.source_policy_id AND source_node_id = x.source_node_id
           AND target_policy_id = x.target_policy_id AND target_node_id = x.target_node_id
           AND reference_type = x.reference_type;
      END IF;
      SELECT * INTO x FROM rt_xref ORDER BY random() LIMIT 1;
      UPDATE treestore.cross_references SET context = 'changed ' || salt || i, confidence = 0.25
       WHERE source_policy_id = x.source_policy_id AND source_node_id = x.source_node_id
         AND target_policy_id = x.target_policy_id AND target_node_id = x.target_node_id
         AND reference_type = x.reference_type;
      IF plain THEN
        UPDATE rt_xref SET context = 'changed ' || salt || i, confidence = 0.25
         WHERE source_policy_id = x.source_policy_id AND source_node_id = x.source_node_id
           AND target_policy_id = x.target_policy_id AND target_node_id = x.target_node_id
           AND reference_type = x.reference_type;
      END IF;
      INSERT INTO treestore.cross_references
      VALUES (n.policy_id, n.node_id, 'rt-ext', 'new-' || salt || i, 'see', NULL, NULL, TIMESTAMPTZ '2025-01-01 00:00:00+00');
      IF plain THEN
        INSERT INTO rt_xref
        VALUES (n.policy_id, n.node_id, 'rt-ext', 'new-' || salt || i, 'see', NULL, NULL, TIMESTAMPTZ '2025-01-01 00:00:00+00');
      END IF;
      done[8] := done[8] + 1;
    END IF;
  END LOOP;
  RETURN array_to_string(done, ' ');
END $f$;

SELECT setseed(0.1732050808) AS seeded;
BEGIN;
-- a version migrated with INSERT ... SELECT from ordinary tables: the
-- largest version copied under a new policy
CREATE TEMP TABLE rt_mig AS SELECT policy_id, version_id FROM rt_ver ORDER BY node_count DESC, policy_id, version_id LIMIT 1;
INSERT INTO rt_pols VALUES ('rt-p17');
INSERT INTO rt_ver
SELECT 'rt-p17', 'mig', v.effective_from, v.effective_to, v.doc_name, v.doc_description, v.node_count
  FROM rt_ver v JOIN rt_mig USING (policy_id, version_id);
INSERT INTO rt_nodes
SELECT 'rt-p17', 'mig', n.node_id, n.parent_id, n.ordinal, n.depth, n.section_path, n.title, n.page_start, n.page_end,
       n.line_num, n.summary, n.text, n.content_hash
  FROM rt_nodes n JOIN rt_mig USING (policy_id, version_id);
INSERT INTO treestore.versions (policy_id, version_id, effective_from, effective_to, doc_name, doc_description, node_count)
SELECT * FROM rt_ver WHERE policy_id = 'rt-p17';
INSERT INTO treestore.nodes (policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title, page_start,
                             page_end, line_num, summary, text, content_hash)
SELECT * FROM rt_nodes WHERE policy_id = 'rt-p17';
-- random writes
SELECT rt_mutate(250, true, 'a') AS "ordinal parent title+pages delete insert node_id dates xrefs";
-- a version row deleted through the table (its nodes stay, unreachable),
-- and an empty version inserted through it
CREATE TEMP TABLE rt_vdel AS SELECT policy_id, version_id FROM rt_ver ORDER BY random() LIMIT 1;
DELETE FROM treestore.versions t USING rt_vdel d WHERE t.policy_id = d.policy_id AND t.version_id = d.version_id;
DELETE FROM rt_ver t USING rt_vdel d WHERE t.policy_id = d.policy_id AND t.version_id = d.version_id;
INSERT INTO treestore.versions (policy_id, version_id, effective_from, doc_name, node_count)
SELECT policy_id, 'v-empty', DATE '2025-06-01', 'empty', 0 FROM rt_ver ORDER BY random() LIMIT 1
RETURNING policy_id IS NOT NULL AS inserted;
INSERT INTO rt_ver (policy_id, version_id, effective_from, doc_name, node_count)
SELECT policy_id, version_id, effective_from, doc_name, node_count FROM treestore.versions
 WHERE policy_id LIKE 'rt-%' AND version_id = 'v-empty';
-- more writes, rolled back
SAVEPOINT s;
SELECT rt_mutate(80, false, 'b') IS NOT NULL AS mutated;
DELETE FROM treestore.versions WHERE policy_id LIKE 'rt-%' AND version_id = 'v2';
DELETE FROM treestore.nodes WHERE policy_id = (SELECT min(policy_id) FROM rt_ver);
ROLLBACK TO SAVEPOINT s;
SELECT rt_table_diff() AS nodes_table_diff;
SELECT rt_make_checks('C1', 250);
SELECT func, calls, mismatches, nonempty * 5 >= calls AS enough_nonempty FROM rt_compare('C1');
SELECT * FROM rt_failures WHERE phase = 'C1' LIMIT 5;
COMMIT;

-- phase C2: the same, committed (new random calls)
SELECT (SELECT count(*) FROM rt_nodes n WHERE n.parent_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM rt_nodes p WHERE p.policy_id = n.policy_id AND p.version_id = n.version_id
                                                    AND p.node_id = n.parent_id)) > 10 AS orphans,
       (SELECT count(*) FROM (SELECT 1 FROM rt_nodes GROUP BY policy_id, version_id, parent_id, ordinal
                               HAVING count(*) > 1) s) > 10 AS shared_ordinals;
SELECT rt_table_diff() AS nodes_table_diff;
SELECT rt_make_checks('C2', 250);
SELECT func, calls, mismatches, nonempty * 5 >= calls AS enough_nonempty FROM rt_compare('C2');
SELECT * FROM rt_failures WHERE phase = 'C2' LIMIT 5;

-- all phases
SELECT count(*) AS checks, count(*) FILTER (WHERE got IS DISTINCT FROM exp) AS mismatches FROM rt_results;

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.cross_references WHERE source_policy_id LIKE 'rt-%';
SELECT sum(treestore.delete_document(policy_id)) > 0 AS removed FROM rt_pols;
SELECT (SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'rt-%') AS nodes,
       (SELECT count(*) FROM treestore.versions WHERE policy_id LIKE 'rt-%') AS versions,
       (SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'rt-%') AS documents,
       (SELECT count(*) FROM treestore.cross_references
         WHERE source_policy_id LIKE 'rt-%' OR target_policy_id LIKE 'rt-%') AS cross_references;
DROP VIEW rt_failures;
DROP FUNCTION rt_tree(int, text, text), rt_doc(text, text), rt_date(text), rt_flatten(), rt_key(int, text),
              rt_in_force(text, date), rt_resolve(text, text, date), rt_exp_node(text, text, text),
              rt_exp_subtree(text, text, text, int), rt_exp_children(text, text, text),
              rt_exp_ancestors(text, text, text), rt_exp_page(text, text, int), rt_doc_ids(jsonb),
              rt_exp_doc_ids(text, text), rt_exp_version(text, text), rt_exp_list_versions(text),
              rt_exp_xref(text, text, text), rt_exp_document(text), rt_make_checks(text, int),
              rt_compare(text), rt_table_diff(), rt_delete(text, text), rt_is_ancestor(text, text, text, text),
              rt_mutate(int, boolean, text);

--
-- search: treestore.search (CONTRACT.md section 4; issue 5 "Search").
--
-- Which nodes match is compared with plain SQL over the foreign tables:
-- the nodes of the resolved version whose
--   to_tsvector('english', title) || to_tsvector('english', summary || ' ' || text)
-- matches ANY of the query's lexemes.  The ranking (BM25, title weighted)
-- is checked by its properties: scores descending, a title match above the
-- same word in a body, rarer words weigh more, top_k keeps the best.  The
-- index follows every write path: store_document, INSERT / UPDATE / DELETE
-- on treestore.nodes, ROLLBACK, ROLLBACK TO SAVEPOINT, TRUNCATE is not used
-- here (it would empty other tests' tables).  Keys start with 'se-'.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY default
\getenv abs_srcdir PG_ABS_SRCDIR
\set pidir :abs_srcdir '/data/pageindex/'

SELECT p.oid::regprocedure AS function, p.prorettype::regtype AS returns, p.proretset AS setof,
       p.provolatile, p.proisstrict, p.prosecdef,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'treestore'::regnamespace AND p.proname = 'search';

-- the documents: two PageIndex samples, and a policy with two versions
SELECT treestore.store_document('se-fed', 'v1',
         pg_read_file(:'pidir' || '2023-annual-report_structure.json')::jsonb, '2024-01-01');
SELECT treestore.store_document('se-prml', 'v1',
         pg_read_file(:'pidir' || 'PRML_structure.json')::jsonb, '2024-01-01');
SELECT treestore.store_document('se-pol', 'old', '[
  {"title": "Coverage Rationale", "summary": "Knee arthroscopy is covered.",
   "text": "Arthroscopic surgery of the knee is medically necessary when conservative therapy failed."},
  {"title": "Definitions", "text": "Conservative therapy means physical therapy for six weeks."}
]'::jsonb, '2020-01-01');
SELECT treestore.store_document('se-pol', 'new', '[
  {"title": "Coverage Rationale", "summary": "Knee arthroscopy is not covered.",
   "text": "Arthroscopic debridement of the knee is not medically necessary for osteoarthritis.", "nodes": [
     {"title": "Knee Osteoarthritis", "text": "Osteoarthritis of the knee: see the applicable codes."}]},
  {"title": "Applicable Codes", "text": "CPT 29880 and 29881 describe knee arthroscopy with meniscectomy."},
  {"title": "Policy History", "text": "Revised the knee criteria; arthroscopy wording clarified."}
]'::jsonb, '2023-01-01');

-- the answer's shape
SELECT policy_id, version_id, node_id, title, section_path, score > 0 AS positive, snippet
  FROM treestore.search('osteoarthritis', 'se-pol');

-- a match in the title ranks above the same word only in a body; stemming
-- (PostgreSQL's english: "codes" finds "Code"), best first
SELECT node_id, title, round(score::numeric, 4) AS score
  FROM treestore.search('codes', 'se-pol');
SELECT node_id, title
  FROM treestore.search('knee', 'se-pol');

-- the resolved version only: today 'new'; as_of / version_id pick 'old'
SELECT version_id, node_id FROM treestore.search('conservative therapy', 'se-pol');
SELECT version_id, node_id FROM treestore.search('conservative therapy', 'se-pol', as_of => '2021-06-01');
SELECT version_id, node_id FROM treestore.search('conservative therapy', 'se-pol', version_id => 'old');
SELECT count(*) FROM treestore.search('conservative therapy', 'se-pol', as_of => '2019-12-31');

-- scores descending, top_k bounds the rows and keeps the best
SELECT bool_and(ok) AS descending, count(*) AS n
  FROM (SELECT score <= lag(score, 1, score) OVER (ORDER BY ord) AS ok
          FROM treestore.search('distribution models learning', 'se-prml', top_k => 50)
               WITH ORDINALITY AS s(policy_id, version_id, node_id, title, section_path, score, snippet, ord)) x;
SELECT (SELECT array_agg(node_id ORDER BY ord) FROM treestore.search('gaussian', 'se-prml', top_k => 3)
          WITH ORDINALITY AS s(policy_id, version_id, node_id, title, section_path, score, snippet, ord))
     = (SELECT (array_agg(node_id ORDER BY ord))[1:3] FROM treestore.search('gaussian', 'se-prml', top_k => 1000)
          WITH ORDINALITY AS s(policy_id, version_id, node_id, title, section_path, score, snippet, ord))
       AS top3_is_prefix;

-- across every policy's resolved version
SELECT policy_id, version_id, count(*)
  FROM treestore.search('policy', top_k => 1000) WHERE policy_id LIKE 'se-%' GROUP BY 1, 2 ORDER BY 1, 2;

-- which nodes match, against plain SQL over the resolved versions
CREATE TEMP TABLE se_queries(q text);
INSERT INTO se_queries VALUES ('policy'), ('gaussian distribution'), ('knee arthroscopy'),
  ('monetary policy federal reserve'), ('neural networks'), ('the of and'), ('zzzznotaword');
CREATE FUNCTION se_expected(q text, pol text) RETURNS TABLE(policy_id text, version_id text, node_id text)
LANGUAGE sql AS $$
  WITH v AS (
    SELECT DISTINCT ON (v.policy_id) v.policy_id, v.version_id
      FROM treestore.versions v
     WHERE v.policy_id LIKE 'se-%' AND (pol IS NULL OR v.policy_id = pol)
       AND v.effective_from <= current_date AND (v.effective_to IS NULL OR v.effective_to > current_date)
     ORDER BY v.policy_id, v.effective_from DESC, v.version_id DESC),
  tq AS (SELECT nullif(replace(plainto_tsquery('english', q)::text, ' & ', ' | '), '')::tsquery AS tq)
  SELECT n.policy_id, n.version_id, n.node_id
    FROM treestore.nodes n JOIN v USING (policy_id, version_id), tq
   WHERE tq.tq IS NOT NULL
     AND (to_tsvector('english', coalesce(n.title, '')) ||
          to_tsvector('english', coalesce(n.summary, '') || ' ' || coalesce(n.text, ''))) @@ tq.tq
$$;
SELECT q, pol,
       (SELECT count(*) FROM se_expected(q, pol)) AS expected,
       (SELECT count(*) FROM (SELECT policy_id, version_id, node_id FROM treestore.search(q, pol, top_k => 100000)
                              EXCEPT ALL SELECT * FROM se_expected(q, pol)) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM se_expected(q, pol)
                              EXCEPT ALL SELECT policy_id, version_id, node_id
                                FROM treestore.search(q, pol, top_k => 100000)
                               WHERE policy_id LIKE 'se-%') d) AS missing
  FROM se_queries, (VALUES ('se-fed'), ('se-prml'), ('se-pol'), (NULL)) p(pol)
 ORDER BY q, pol NULLS LAST;

-- writes through the foreign table are searchable in the same transaction,
-- and gone after ROLLBACK
BEGIN;
INSERT INTO treestore.nodes (policy_id, version_id, node_id, ordinal, depth, title, text)
VALUES ('se-pol', 'new', 'x1', 9, 1, 'Zygomycosis', 'Antifungal xylophagous treatment.');
SELECT node_id, title FROM treestore.search('zygomycosis xylophagous', 'se-pol');
ROLLBACK;
SELECT count(*) FROM treestore.search('zygomycosis xylophagous', 'se-pol');

-- committed: found; UPDATE replaces the terms; a savepoint rolled back
-- restores them; DELETE removes them
INSERT INTO treestore.nodes (policy_id, version_id, node_id, ordinal, depth, title, text)
VALUES ('se-pol', 'new', 'x1', 9, 1, 'Zygomycosis', 'Antifungal treatment.');
SELECT node_id FROM treestore.search('zygomycosis', 'se-pol');
UPDATE treestore.nodes SET title = 'Mucormycosis' WHERE policy_id = 'se-pol' AND node_id = 'x1';
SELECT count(*) AS old_word FROM treestore.search('zygomycosis', 'se-pol');
SELECT node_id FROM treestore.search('mucormycosis', 'se-pol');
BEGIN;
SAVEPOINT s1;
UPDATE treestore.nodes SET text = 'Echinocandin therapy.' WHERE policy_id = 'se-pol' AND node_id = 'x1';
SELECT count(*) AS in_savepoint FROM treestore.search('echinocandin', 'se-pol');
ROLLBACK TO SAVEPOINT s1;
SELECT count(*) AS after_rollback_to FROM treestore.search('echinocandin', 'se-pol');
SELECT count(*) AS antifungal_back FROM treestore.search('antifungal', 'se-pol');
COMMIT;
DELETE FROM treestore.nodes WHERE policy_id = 'se-pol' AND node_id = 'x1';
SELECT count(*) FROM treestore.search('mucormycosis antifungal', 'se-pol');

-- replacing a version replaces its terms
SELECT treestore.store_document('se-pol', 'new', '[{"title": "Replaced", "text": "Lumbar fusion."}]'::jsonb,
                                replace => true);
SELECT node_id, title FROM treestore.search('knee lumbar', 'se-pol');

-- edges: NULL query, stop words only, an unknown policy, top_k
SELECT count(*) FROM treestore.search(NULL);
SELECT count(*) FROM treestore.search('the and of');
SELECT count(*) FROM treestore.search('knee', 'se-nope');
SELECT count(*) FROM treestore.search('policy', 'se-fed', top_k => NULL);
SELECT treestore.search('knee', top_k => 0);
\echo :SQLSTATE

-- clean up
SELECT treestore.delete_document('se-fed') + treestore.delete_document('se-prml')
     + treestore.delete_document('se-pol') AS removed;
SELECT count(*) FROM treestore.search('policy gaussian knee lumbar');
DROP FUNCTION se_expected(text, text);

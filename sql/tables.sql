--
-- tables: INSERT / SELECT / UPDATE / DELETE (with RETURNING) on each of the
-- eight foreign tables, every column type, NULLs, keys (23505, 23502),
-- assigned ids, INSERT ... SELECT.
--
-- Keys used here start with 'tb-' (ids of tool_results and prompt_usage:
-- whatever is assigned; explicit ones are 1000000 and up); everything is
-- deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET extra_float_digits = 0;

-- ===================================================================
-- documents [policy_id]
-- ===================================================================
INSERT INTO treestore.documents
VALUES ('tb-doc-1', 'Policy one', 'v2', 2,
        '2024-01-01 10:00:00+00', '2024-03-01 12:30:45.123456+00',
        '{"tags": ["a", "b"], "n": 1.5, "nested": {"x": null, "ok": true}}')
RETURNING *;
-- every non-key column NULL (explicit NULLs override the defaults)
INSERT INTO treestore.documents
VALUES ('tb-doc-2', NULL, NULL, NULL, NULL, NULL, NULL)
RETURNING *;
-- text values: empty (not NULL), unicode, tab and newline, quotes
INSERT INTO treestore.documents (policy_id, title, latest_version_id, metadata)
VALUES ('tb-doc-3', '', E'line1\nline2\ttab', '"a json string"'),
       ('tb-doc-4', 'ünïcødé ✓ 😀', 'it''s "quoted"', '[]'),
       ('tb-doc-5', repeat('long title ', 1000), NULL, '{}')
RETURNING policy_id, length(title) AS title_len, latest_version_id, metadata;
-- the defaults of the foreign table apply (now() for the times, '{}')
BEGIN;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tb-doc-6', 'defaults')
RETURNING policy_id, created_at = now() AS created_now,
          updated_at = now() AS updated_now, metadata;
SELECT policy_id, created_at = now() AS created_now, metadata
  FROM treestore.documents WHERE policy_id = 'tb-doc-6';
COMMIT;

-- read back exactly what was written
SELECT policy_id, title, latest_version_id, version_count, created_at, updated_at, metadata
  FROM treestore.documents WHERE policy_id IN ('tb-doc-1', 'tb-doc-2')
 ORDER BY policy_id;
SELECT policy_id, title, latest_version_id, version_count, metadata,
       created_at IS NOT NULL AND created_at = updated_at AS default_times
  FROM treestore.documents WHERE policy_id IN ('tb-doc-3', 'tb-doc-4')
 ORDER BY policy_id;
SELECT policy_id, title IS NULL AS title_null, title = '' AS title_empty,
       version_count IS NULL AS count_null, metadata IS NULL AS metadata_null
  FROM treestore.documents WHERE policy_id IN ('tb-doc-2', 'tb-doc-3')
 ORDER BY policy_id;
SELECT title = repeat('long title ', 1000) AS same FROM treestore.documents
 WHERE policy_id = 'tb-doc-5';
SELECT metadata->'nested'->>'ok' AS ok, metadata->'tags'->>1 AS tag,
       jsonb_typeof(metadata->'nested'->'x') AS x
  FROM treestore.documents WHERE policy_id = 'tb-doc-1';
SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'tb-%';

-- UPDATE of non-key columns
UPDATE treestore.documents SET title = 'Policy one (rev)', version_count = version_count + 1,
       metadata = metadata || '{"rev": 2}'
 WHERE policy_id = 'tb-doc-1'
RETURNING policy_id, title, version_count, metadata;
UPDATE treestore.documents SET title = 'was null' WHERE policy_id = 'tb-doc-2'
RETURNING policy_id, title, latest_version_id;
-- no row matches: UPDATE 0
UPDATE treestore.documents SET title = 'nobody' WHERE policy_id = 'tb-doc-none';
SELECT policy_id, title, version_count, metadata FROM treestore.documents
 WHERE policy_id IN ('tb-doc-1', 'tb-doc-2') ORDER BY 1;

-- UPDATE of the key: the row moves, the old key is gone
UPDATE treestore.documents SET policy_id = 'tb-doc-1-moved' WHERE policy_id = 'tb-doc-1'
RETURNING policy_id, title, version_count;
SELECT policy_id, title FROM treestore.documents
 WHERE policy_id IN ('tb-doc-1', 'tb-doc-1-moved') ORDER BY 1;
-- a key update keeps the other columns
SELECT policy_id, created_at, updated_at, metadata FROM treestore.documents
 WHERE policy_id = 'tb-doc-1-moved';

-- DELETE
DELETE FROM treestore.documents WHERE policy_id = 'tb-doc-3'
RETURNING policy_id, title, latest_version_id, version_count, metadata;
DELETE FROM treestore.documents WHERE policy_id = 'tb-doc-3';
SELECT policy_id FROM treestore.documents WHERE policy_id LIKE 'tb-%' ORDER BY 1;

-- key violations
\set VERBOSITY default
INSERT INTO treestore.documents (policy_id, title) VALUES ('tb-doc-2', 'duplicate');
\echo :SQLSTATE
-- a duplicate within one statement
INSERT INTO treestore.documents (policy_id) VALUES ('tb-doc-7'), ('tb-doc-7');
\echo :SQLSTATE
UPDATE treestore.documents SET policy_id = 'tb-doc-2' WHERE policy_id = 'tb-doc-4';
\echo :SQLSTATE
INSERT INTO treestore.documents (policy_id, title) VALUES (NULL, 'no key');
\echo :SQLSTATE
INSERT INTO treestore.documents (title) VALUES ('key left out');
\echo :SQLSTATE
UPDATE treestore.documents SET policy_id = NULL WHERE policy_id = 'tb-doc-4';
\echo :SQLSTATE
\set VERBOSITY terse
-- the failed statements changed nothing
SELECT policy_id, left(title, 22) AS title FROM treestore.documents WHERE policy_id LIKE 'tb-%' ORDER BY 1;

-- ===================================================================
-- versions [policy_id, version_id]: date columns
-- ===================================================================
INSERT INTO treestore.versions
VALUES ('tb-pol', 'v1', '2023-01-01', '2023-12-31', 'Doc v1', 'first', 'pi-1',
        repeat('ab', 32), 'https://example.org/v1.pdf', 12,
        '2023-01-01 00:00:00+00', '{"k": "v1"}'),
       ('tb-pol', 'v2', '2024-02-29', NULL, 'Doc v2', NULL, NULL, NULL, NULL, 0,
        '2024-02-29 23:59:59.999999+00', '{}'),
       ('tb-pol', 'v3', 'infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL),
       ('tb-pol-b', 'v1', '-infinity', '0044-03-15 BC', NULL, NULL, NULL, NULL, NULL, -1,
        '-infinity', NULL)
RETURNING *;
SELECT * FROM treestore.versions WHERE policy_id LIKE 'tb-%' ORDER BY policy_id, version_id;
-- dates compare as dates
SELECT policy_id, version_id FROM treestore.versions
 WHERE policy_id LIKE 'tb-%' AND effective_from <= '2024-06-01' ORDER BY 1, 2;
UPDATE treestore.versions SET effective_to = effective_from + 366, node_count = 13
 WHERE policy_id = 'tb-pol' AND version_id = 'v2'
RETURNING policy_id, version_id, effective_from, effective_to, node_count;
-- move a version to another policy (first key column) and rename one (second)
UPDATE treestore.versions SET policy_id = 'tb-pol-b' WHERE policy_id = 'tb-pol' AND version_id = 'v3'
RETURNING policy_id, version_id, effective_from;
UPDATE treestore.versions SET version_id = 'v1.1' WHERE policy_id = 'tb-pol' AND version_id = 'v1'
RETURNING policy_id, version_id, doc_name, metadata;
SELECT policy_id, version_id, effective_from, effective_to, node_count FROM treestore.versions
 WHERE policy_id LIKE 'tb-%' ORDER BY 1, 2;
\set VERBOSITY default
INSERT INTO treestore.versions (policy_id, version_id) VALUES ('tb-pol', 'v2');
\echo :SQLSTATE
INSERT INTO treestore.versions (policy_id, version_id) VALUES ('tb-pol', NULL);
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.versions WHERE policy_id = 'tb-pol-b'
RETURNING policy_id, version_id, effective_from, effective_to;
SELECT policy_id, version_id FROM treestore.versions WHERE policy_id LIKE 'tb-%' ORDER BY 1, 2;

-- ===================================================================
-- nodes [policy_id, version_id, node_id]: integers, long text
-- ===================================================================
INSERT INTO treestore.nodes
VALUES ('tb-pol', 'v2', '0000', NULL, 0, 1, 'Intro', 'Intro', 1, 2, NULL,
        'summary 0', 'text 0', md5('text 0'), '{}'),
       ('tb-pol', 'v2', '0001', '0000', 0, 2, 'Intro > Scope', 'Scope', 2, 2, 17,
        NULL, repeat('x', 100000), NULL, '{"pages": [2]}'),
       ('tb-pol', 'v2', '0002', '0000', 1, 2, 'Intro > Limits', 'Limits',
        -2147483648, 2147483647, 0, '', NULL, NULL, NULL)
RETURNING policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title,
          page_start, page_end, line_num, summary, length(text) AS text_len, content_hash, metadata;
SELECT policy_id, version_id, node_id, parent_id, ordinal, depth, section_path, title,
       page_start, page_end, line_num, summary, length(text) AS text_len, text = repeat('x', 100000) AS is_long_text,
       content_hash, metadata
  FROM treestore.nodes WHERE policy_id = 'tb-pol' ORDER BY node_id;
UPDATE treestore.nodes SET text = text || '!', summary = 'changed'
 WHERE policy_id = 'tb-pol' AND version_id = 'v2' AND node_id = '0001'
RETURNING node_id, length(text) AS text_len, summary;
UPDATE treestore.nodes SET node_id = '0003', ordinal = 2 WHERE node_id = '0002' AND policy_id = 'tb-pol'
RETURNING node_id, parent_id, ordinal, page_start, page_end;
SELECT node_id, ordinal, length(text) AS text_len, summary FROM treestore.nodes
 WHERE policy_id = 'tb-pol' ORDER BY node_id;
\set VERBOSITY default
INSERT INTO treestore.nodes (policy_id, version_id, node_id) VALUES ('tb-pol', 'v2', '0000');
\echo :SQLSTATE
INSERT INTO treestore.nodes (policy_id, version_id, node_id) VALUES ('tb-pol', 'v2', NULL);
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.nodes WHERE policy_id = 'tb-pol' AND node_id <> '0000'
RETURNING node_id, parent_id, length(text) AS text_len;
SELECT node_id FROM treestore.nodes WHERE policy_id = 'tb-pol';

-- ===================================================================
-- cross_references [source_policy_id, source_node_id, target_policy_id,
-- target_node_id, reference_type]: real
-- ===================================================================
INSERT INTO treestore.cross_references
VALUES ('tb-pol', '0000', 'tb-other', '0007', 'cites', 'see section 7', 0.75, '2024-05-05 05:05:05+00'),
       ('tb-pol', '0000', 'tb-other', '0007', 'amends', NULL, 1, NULL),
       ('tb-pol', '0000', 'tb-other', '0008', 'cites', '', 0.1, NULL),
       ('tb-pol', '0001', 'tb-pol', '0000', 'parent', NULL, NULL, NULL),
       ('tb-pol', '0002', 'tb-x', '1', 'cites', NULL, 'NaN', NULL),
       ('tb-pol', '0003', 'tb-x', '1', 'cites', NULL, '-Infinity', NULL),
       ('tb-pol', '0004', 'tb-x', '1', 'cites', NULL, 3.4e38, NULL)
RETURNING *;
SELECT * FROM treestore.cross_references WHERE source_policy_id = 'tb-pol'
 ORDER BY source_node_id, target_policy_id, target_node_id, reference_type;
-- real values come back as the same real
SELECT count(*) FROM treestore.cross_references
 WHERE source_policy_id = 'tb-pol' AND confidence IN (0.75::real, 0.1::real, 1::real, 3.4e38::real);
UPDATE treestore.cross_references SET confidence = confidence / 2, context = 'halved'
 WHERE source_policy_id = 'tb-pol' AND source_node_id = '0000' AND reference_type = 'cites'
RETURNING target_node_id, confidence, context;
-- the last key column
UPDATE treestore.cross_references SET reference_type = 'supersedes'
 WHERE source_policy_id = 'tb-pol' AND reference_type = 'amends'
RETURNING source_node_id, target_node_id, reference_type, confidence;
\set VERBOSITY default
UPDATE treestore.cross_references SET reference_type = 'cites'
 WHERE source_policy_id = 'tb-pol' AND reference_type = 'supersedes';
\echo :SQLSTATE
INSERT INTO treestore.cross_references (source_policy_id, source_node_id, target_policy_id, target_node_id)
VALUES ('tb-pol', '0000', 'tb-other', '0007');
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.cross_references WHERE source_policy_id = 'tb-pol' AND confidence IS NULL
RETURNING source_node_id, target_policy_id, target_node_id, reference_type;
SELECT source_node_id, target_node_id, reference_type, confidence FROM treestore.cross_references
 WHERE source_policy_id = 'tb-pol' ORDER BY 1, 2, 3;

-- ===================================================================
-- tool_results [result_id, assigned when NULL]: bool, float8, jsonb
-- ===================================================================
-- result_id left out or NULL: assigned, increasing, shown by RETURNING
CREATE TEMP TABLE tb_ids (n int, id bigint);
WITH ins AS (
  INSERT INTO treestore.tool_results (case_id, criterion_id, tool_name, policy_id, version_id,
                                      node_id, input, output, success, error_message,
                                      latency_ms, created_at)
  VALUES ('tb-case-1', 'crit-1', 'search', 'tb-pol', 'v2', '0000', '{"q": "scope"}',
          '{"hits": [{"node": "0001", "score": 0.5}]}', true, NULL, 12.5,
          '2024-06-01 08:00:00+00')
  RETURNING result_id, case_id)
INSERT INTO tb_ids SELECT 1, result_id FROM ins;
WITH ins AS (
  INSERT INTO treestore.tool_results (result_id, case_id, tool_name, output, success,
                                      error_message, latency_ms, created_at)
  VALUES (NULL, 'tb-case-1', 'fetch', NULL, false, 'timeout', 'Infinity', NULL),
         (NULL, 'tb-case-2', 'fetch', 'null', NULL, NULL, 1e-300, NULL)
  RETURNING result_id, case_id)
INSERT INTO tb_ids SELECT 1 + row_number() OVER (ORDER BY case_id), result_id FROM ins;
-- three ids, all different, increasing in insertion order (n: 1, 2, 3)
SELECT count(*) AS ids, count(DISTINCT id) AS distinct_ids,
       bool_and(id IS NOT NULL) AS all_set,
       (SELECT array_agg(n ORDER BY id) FROM tb_ids) AS order_by_id
  FROM tb_ids;
-- the rows carry them
SELECT t.n, r.case_id, r.tool_name, r.input, r.output, r.success, r.error_message,
       r.latency_ms, r.created_at, r.criterion_id, r.policy_id, r.version_id, r.node_id
  FROM tb_ids t JOIN treestore.tool_results r ON r.result_id = t.id ORDER BY t.n;
SELECT output IS NULL AS sql_null, output = 'null'::jsonb AS json_null
  FROM treestore.tool_results r JOIN tb_ids t ON r.result_id = t.id WHERE t.n IN (2, 3) ORDER BY t.n;
-- an explicit id is kept; ids assigned later are above it
INSERT INTO treestore.tool_results (result_id, case_id) VALUES (1000000, 'tb-case-explicit')
RETURNING result_id, case_id;
INSERT INTO treestore.tool_results (case_id) VALUES ('tb-case-after')
RETURNING result_id > 1000000 AS above_explicit, case_id;
-- float8 values come back exactly
SELECT latency_ms = 1e-300 AS tiny, latency_ms::text FROM treestore.tool_results
 WHERE case_id = 'tb-case-2';
UPDATE treestore.tool_results SET success = NOT coalesce(success, false),
       output = jsonb_set(coalesce(output, '{}'), '{retried}', 'true')
 WHERE case_id = 'tb-case-1'
RETURNING (SELECT n FROM tb_ids WHERE id = result_id) AS n, success, output;
-- moving a row to another id
UPDATE treestore.tool_results SET result_id = 1000005 WHERE result_id = 1000000
RETURNING result_id, case_id;
SELECT result_id, case_id FROM treestore.tool_results WHERE result_id IN (1000000, 1000005);
\set VERBOSITY default
INSERT INTO treestore.tool_results (result_id, case_id) VALUES (1000005, 'tb-dup');
\echo :SQLSTATE
UPDATE treestore.tool_results SET result_id = NULL WHERE result_id = 1000005;
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.tool_results WHERE case_id LIKE 'tb-case-%'
RETURNING (SELECT n FROM tb_ids WHERE id = result_id) AS n, case_id, tool_name, success;
SELECT count(*) FROM treestore.tool_results WHERE case_id LIKE 'tb-%';

-- ===================================================================
-- trajectories [case_id, trajectory_id, step_number]
-- ===================================================================
INSERT INTO treestore.trajectories
VALUES ('tb-case-1', 'traj-1', 1, 'search', 'search("scope")', 'look for scope', '3 hits',
        '2024-06-01 08:00:01+00'),
       ('tb-case-1', 'traj-1', 2, 'get_node', 'get_node("0001")', NULL, NULL, NULL),
       ('tb-case-1', 'traj-1', 10, NULL, NULL, NULL, NULL, NULL),
       ('tb-case-1', 'traj-2', -1, 'x', NULL, NULL, NULL, NULL)
RETURNING *;
-- steps come back in numeric order (2 before 10, -1 first)
SELECT case_id, trajectory_id, step_number, tool_name, action, thought, observation, created_at
  FROM treestore.trajectories WHERE case_id = 'tb-case-1' ORDER BY trajectory_id, step_number;
UPDATE treestore.trajectories SET step_number = step_number + 100, observation = 'renumbered'
 WHERE case_id = 'tb-case-1' AND trajectory_id = 'traj-1' AND step_number >= 2
RETURNING step_number, observation;
SELECT trajectory_id, step_number, observation FROM treestore.trajectories
 WHERE case_id = 'tb-case-1' ORDER BY 1, 2;
\set VERBOSITY default
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number) VALUES ('tb-case-1', 'traj-1', 1);
\echo :SQLSTATE
INSERT INTO treestore.trajectories (case_id, trajectory_id) VALUES ('tb-case-1', 'traj-1');
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.trajectories WHERE case_id = 'tb-case-1' AND trajectory_id = 'traj-2'
RETURNING *;
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'tb-case-1';

-- ===================================================================
-- prompts [prompt_id, version int]: text[]
-- ===================================================================
INSERT INTO treestore.prompts
VALUES ('tb-prompt', 1, 'triage', 'Hello {name}, {case}', ARRAY['name', 'case'],
        '[{"name": "search", "parameters": {"type": "object"}}]',
        '2024-01-01 00:00:00+00', '2024-01-02 00:00:00+00', NULL),
       ('tb-prompt', 2, 'triage', 'v2', ARRAY['a', NULL, '', 'with "quote"', 'a,b', 'ünï'],
        NULL, NULL, NULL, 'infinity'),
       ('tb-prompt', 3, NULL, NULL, '{}', '{}', NULL, NULL, NULL),
       ('tb-prompt', 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
RETURNING *;
SELECT prompt_id, version, name, template, variables, tool_schemas, created_at, deployed_at, retired_at
  FROM treestore.prompts WHERE prompt_id = 'tb-prompt' ORDER BY version;
-- the arrays, element by element
SELECT version, cardinality(variables) AS n, variables[2] IS NULL AS second_null,
       variables[3] = '' AS third_empty, variables = '{}' AS empty
  FROM treestore.prompts WHERE prompt_id = 'tb-prompt' ORDER BY version;
UPDATE treestore.prompts SET variables = variables || 'extra'::text, retired_at = '2025-01-01 00:00:00+00'
 WHERE prompt_id = 'tb-prompt' AND version = 1
RETURNING version, variables, retired_at;
UPDATE treestore.prompts SET version = 40 WHERE prompt_id = 'tb-prompt' AND version = 4
RETURNING prompt_id, version;
SELECT version, variables FROM treestore.prompts WHERE prompt_id = 'tb-prompt' ORDER BY version;
\set VERBOSITY default
UPDATE treestore.prompts SET version = 2 WHERE prompt_id = 'tb-prompt' AND version = 3;
\echo :SQLSTATE
INSERT INTO treestore.prompts (prompt_id, version) VALUES ('tb-prompt', NULL);
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.prompts WHERE prompt_id = 'tb-prompt' AND version > 2
RETURNING version, variables;
SELECT version FROM treestore.prompts WHERE prompt_id = 'tb-prompt' ORDER BY version;

-- ===================================================================
-- prompt_usage [usage_id, assigned when NULL]
-- ===================================================================
CREATE TEMP TABLE tb_usage (n int, id bigint);
WITH ins AS (
  INSERT INTO treestore.prompt_usage (prompt_id, version, case_id, filled_variables, response, used_at)
  VALUES ('tb-prompt', 1, 'tb-case-1', '{"name": "Ann"}', 'Hello Ann', '2024-07-01 00:00:00+00')
  RETURNING usage_id)
INSERT INTO tb_usage SELECT 1, usage_id FROM ins;
WITH ins AS (
  INSERT INTO treestore.prompt_usage (usage_id, prompt_id, version, case_id)
  VALUES (NULL, 'tb-prompt', 2, 'tb-case-1')
  RETURNING usage_id)
INSERT INTO tb_usage SELECT 2, usage_id FROM ins;
SELECT count(DISTINCT id) AS distinct_ids, min(id) FILTER (WHERE n = 1) < min(id) FILTER (WHERE n = 2) AS increasing
  FROM tb_usage;
SELECT u.n, p.prompt_id, p.version, p.case_id, p.filled_variables, p.response,
       p.used_at = '2024-07-01 00:00:00+00' AS given_used_at, p.used_at IS NOT NULL AS has_used_at
  FROM tb_usage u JOIN treestore.prompt_usage p ON p.usage_id = u.id ORDER BY u.n;
UPDATE treestore.prompt_usage SET response = 'edited', filled_variables = NULL
 WHERE usage_id = (SELECT id FROM tb_usage WHERE n = 2)
RETURNING response, filled_variables;
INSERT INTO treestore.prompt_usage (usage_id, case_id) VALUES (-7, 'tb-negative')
RETURNING usage_id, case_id;
\set VERBOSITY default
INSERT INTO treestore.prompt_usage (usage_id, case_id) VALUES (-7, 'tb-negative');
\echo :SQLSTATE
\set VERBOSITY terse
DELETE FROM treestore.prompt_usage WHERE case_id LIKE 'tb-%' RETURNING prompt_id, version, case_id, response;
SELECT count(*) FROM treestore.prompt_usage WHERE case_id LIKE 'tb-%';

-- ===================================================================
-- INSERT ... SELECT from an ordinary table (how a migration runs)
-- ===================================================================
CREATE TABLE tb_legacy_nodes AS
SELECT 'tb-mig-' || (i % 7) AS policy_id, 'v' || (i % 3) AS version_id,
       lpad(i::text, 5, '0') AS node_id,
       CASE WHEN i % 10 = 0 THEN NULL ELSE lpad((i / 10 * 10)::text, 5, '0') END AS parent_id,
       i % 10 AS ordinal, 1 + (i % 10 <> 0)::int AS depth,
       'Section ' || i AS section_path, 'Title ' || i AS title,
       i AS page_start, i + i % 3 AS page_end, NULL::int AS line_num,
       CASE WHEN i % 2 = 0 THEN 'summary ' || i END AS summary,
       repeat(md5(i::text), 1 + i % 5) AS text, md5(i::text) AS content_hash,
       jsonb_build_object('i', i) AS metadata
  FROM generate_series(1, 5000) AS i;
INSERT INTO treestore.nodes SELECT * FROM tb_legacy_nodes;
SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%';
-- the same rows, both ways
SELECT count(*) FROM (SELECT * FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%'
                      EXCEPT ALL SELECT * FROM tb_legacy_nodes) x;
SELECT count(*) FROM (SELECT * FROM tb_legacy_nodes
                      EXCEPT ALL SELECT * FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%') x;
-- a second run of the migration breaks the key: nothing of it is stored
\set VERBOSITY default
INSERT INTO treestore.nodes SELECT * FROM tb_legacy_nodes WHERE node_id > '04990' OR node_id < '00003';
\echo :SQLSTATE
\set VERBOSITY terse
SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%';
-- many rows at once: UPDATE and DELETE
UPDATE treestore.nodes SET summary = 'bulk' WHERE policy_id = 'tb-mig-3';
SELECT count(*) FILTER (WHERE summary = 'bulk') AS bulk, count(*) AS total
  FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%';
DELETE FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%' AND page_start % 2 = 0;
SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%';
DELETE FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%';
SELECT count(*) FROM treestore.nodes WHERE policy_id LIKE 'tb-mig-%';
-- INSERT ... SELECT into an assigned-id table: every row gets its own id
INSERT INTO treestore.tool_results (case_id, tool_name, output)
SELECT 'tb-bulk', 'tool-' || (i % 4), jsonb_build_object('i', i) FROM generate_series(1, 3000) AS i;
SELECT count(*), count(DISTINCT result_id) AS ids, count(DISTINCT output) AS outputs
  FROM treestore.tool_results WHERE case_id = 'tb-bulk';
DELETE FROM treestore.tool_results WHERE case_id = 'tb-bulk';
DROP TABLE tb_legacy_nodes;

-- ===================================================================
-- clean up: nothing of this test is left
-- ===================================================================
DELETE FROM treestore.documents WHERE policy_id LIKE 'tb-%';
DELETE FROM treestore.versions WHERE policy_id LIKE 'tb-%';
DELETE FROM treestore.nodes WHERE policy_id LIKE 'tb-%';
DELETE FROM treestore.cross_references WHERE source_policy_id LIKE 'tb-%';
DELETE FROM treestore.trajectories WHERE case_id LIKE 'tb-%';
DELETE FROM treestore.prompts WHERE prompt_id LIKE 'tb-%';
SELECT (SELECT count(*) FROM treestore.documents) + (SELECT count(*) FROM treestore.versions)
     + (SELECT count(*) FROM treestore.nodes) + (SELECT count(*) FROM treestore.cross_references)
     + (SELECT count(*) FROM treestore.tool_results) + (SELECT count(*) FROM treestore.trajectories)
     + (SELECT count(*) FROM treestore.prompts) + (SELECT count(*) FROM treestore.prompt_usage)
       AS rows_left;

--
-- backend_reads: a backend reads the engine itself (src/local.c) when its
-- transaction has not written treestore, and through the worker otherwise;
-- the answers are the same either way.
--
-- Keys used here start with 'br-'; everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;

INSERT INTO treestore.documents (policy_id, title) VALUES ('br-1', 'one'), ('br-2', 'two');
SELECT treestore.store_document('br-doc', 'v1',
  '[{"title": "Root", "node_id": "0001", "text": "root text about coverage",
     "nodes": [{"title": "Child", "node_id": "0002", "text": "child text on coverage limits"},
               {"title": "Other", "node_id": "0003", "text": "nothing here"}]}]'::jsonb,
  '2020-01-01') AS nodes;

-- the same answers from the backend and from the worker
CREATE FUNCTION br_answers() RETURNS TABLE(q text, a text) LANGUAGE sql AS $$
  SELECT 'scan', string_agg(policy_id || '=' || title, ',' ORDER BY policy_id)
    FROM treestore.documents WHERE policy_id LIKE 'br-%'
  UNION ALL
  SELECT 'subtree', string_agg(node_id || ':' || title, ',' ORDER BY node_id)
    FROM treestore.get_subtree('br-doc')
  UNION ALL
  SELECT 'ancestors', string_agg(node_id, ',') FROM treestore.get_ancestors('br-doc', '0002')
  UNION ALL
  SELECT 'as_of', string_agg(version_id, ',') FROM treestore.version_as_of('br-doc', '2024-06-01')
  UNION ALL
  SELECT 'search', string_agg(node_id, ',' ORDER BY node_id) FROM treestore.search('coverage', 'br-doc')
  UNION ALL
  SELECT 'document', md5(treestore.get_document('br-doc')::text)
  UNION ALL
  SELECT 'versions', string_agg(version_id, ',') FROM treestore.list_versions('br-doc')
$$;
CREATE TEMP TABLE br_here AS SELECT * FROM br_answers();
SET treestore.backend_reads = off;
CREATE TEMP TABLE br_worker AS SELECT * FROM br_answers();
RESET treestore.backend_reads;
SELECT * FROM br_here ORDER BY q;
SELECT count(*) AS differences FROM
  ((SELECT * FROM br_here EXCEPT SELECT * FROM br_worker)
   UNION ALL (SELECT * FROM br_worker EXCEPT SELECT * FROM br_here)) d;

-- this backend is attached as a reader: stats() counts it
SELECT (s->'readers'->>'backends')::int >= 1 AS attached,
       (s->'readers'->>'oldest_snapshot_lag')::bigint >= 0 AS lag_known
  FROM treestore.stats() AS s;

-- where a scan is read: EXPLAIN ANALYZE says
CREATE FUNCTION br_read_in(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || sql LOOP
    IF line ~ 'Read In: backend' THEN RETURN 'backend'; END IF;
    IF line ~ 'Round Trips' THEN RETURN 'worker'; END IF;
  END LOOP;
  RETURN 'neither';
END $$;
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS own_transaction;
SET treestore.backend_reads = off;
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS when_off;
RESET treestore.backend_reads;

-- a transaction that wrote reads through the worker, and sees its writes
BEGIN;
UPDATE treestore.documents SET title = 'one*' WHERE policy_id = 'br-1';
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS after_a_write;
SELECT title FROM treestore.documents WHERE policy_id = 'br-1';
SELECT node_id FROM treestore.get_subtree('br-doc') ORDER BY 1;
ROLLBACK;
SELECT title FROM treestore.documents WHERE policy_id = 'br-1';
-- a committed write: the next statement, read here, sees it
UPDATE treestore.documents SET title = 'one+' WHERE policy_id = 'br-1';
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS next_statement,
       (SELECT title FROM treestore.documents WHERE policy_id = 'br-1') AS title;

-- REPEATABLE READ: through the worker, unless READ ONLY
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS repeatable_read;
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS read_only;
COMMIT;

-- a statement that writes treestore reads through the worker; one that
-- writes elsewhere reads here
CREATE TEMP TABLE br_copy (title text);
SELECT br_read_in($$INSERT INTO br_copy SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$)
  AS writes_elsewhere;
BEGIN;
SELECT br_read_in($$INSERT INTO treestore.documents (policy_id, title)
                     SELECT 'br-3', title FROM treestore.documents WHERE policy_id = 'br-1'$$)
  AS writes_treestore;
ROLLBACK;

-- READ COMMITTED: a transaction that read here first and writes later is
-- checked for conflicts from its first read (the isolation test
-- write-conflict shows the conflict itself); its own reads after the write
-- see it
BEGIN;
SELECT title FROM treestore.documents WHERE policy_id = 'br-2';
UPDATE treestore.documents SET title = 'two+' WHERE policy_id = 'br-2';
SELECT title FROM treestore.documents WHERE policy_id = 'br-2';
COMMIT;
SELECT title FROM treestore.documents WHERE policy_id = 'br-2';

-- reads go on while the worker restarts (its last snapshot stays readable)
CREATE FUNCTION br_wait(sql text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  ok boolean;
BEGIN
  FOR i IN 1..300 LOOP
    BEGIN
      EXECUTE sql INTO ok;
      IF ok THEN RETURN true; END IF;
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END $$;
CREATE TEMP TABLE br_old AS SELECT pid FROM pg_stat_activity WHERE backend_type = 'treestore';
SELECT pg_terminate_backend(pid) FROM br_old;
SELECT br_wait($$SELECT treestore.health()->>'status' <> 'ok'$$) AS worker_gone;
SELECT br_read_in($$SELECT title FROM treestore.documents WHERE policy_id = 'br-1'$$) AS worker_down,
       treestore.health()->>'status' <> 'ok' AS still_down;
SELECT title FROM treestore.documents WHERE policy_id = 'br-1';
SELECT count(*) FROM treestore.get_subtree('br-doc');
SELECT br_wait($$SELECT treestore.health()->>'status' = 'ok'
                   AND (treestore.health()->>'worker_pid')::int NOT IN (SELECT pid FROM br_old)$$)
  AS back;

-- clean up
DELETE FROM treestore.documents WHERE policy_id LIKE 'br-%';
SELECT treestore.delete_document('br-doc') > 0 AS deleted;
DROP FUNCTION br_answers();
DROP FUNCTION br_read_in(text);
DROP FUNCTION br_wait(text);

--
-- transactions: treestore writes follow the PostgreSQL transaction they run
-- in -- visible to it at once, gone after ROLLBACK or ROLLBACK TO SAVEPOINT
-- (plpgsql EXCEPTION blocks included), refused by PREPARE TRANSACTION.
-- Other sessions' view (READ COMMITTED, REPEATABLE READ, conflicts) is in
-- test/isolation/.
--
-- Keys used here start with 'tx-'; everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;
\set VERBOSITY terse

-- tx_docs(): the 'tx-' documents as one line, for short checks
CREATE FUNCTION tx_docs() RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(policy_id || '=' || coalesce(title, 'NULL'), ' ' ORDER BY policy_id), '(none)')
    FROM treestore.documents WHERE policy_id LIKE 'tx-%'
$$;

-- ===================================================================
-- own writes are visible before COMMIT, by every access path
-- ===================================================================
INSERT INTO treestore.nodes (policy_id, version_id, node_id, title)
SELECT 'tx-pol', 'v1', 'n' || i, 'committed ' || i FROM generate_series(1, 5) i;
BEGIN;
INSERT INTO treestore.nodes (policy_id, version_id, node_id, title) VALUES ('tx-pol', 'v1', 'n6', 'new 6');
INSERT INTO treestore.nodes (policy_id, version_id, node_id, title) VALUES ('tx-pol', 'v1', 'n0', 'new 0');
UPDATE treestore.nodes SET title = 'updated 2' WHERE policy_id = 'tx-pol' AND version_id = 'v1' AND node_id = 'n2';
DELETE FROM treestore.nodes WHERE policy_id = 'tx-pol' AND version_id = 'v1' AND node_id = 'n3';
-- point lookups
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'tx-pol' AND version_id = 'v1' AND node_id = 'n6';
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'tx-pol' AND version_id = 'v1' AND node_id = 'n2';
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'tx-pol' AND version_id = 'v1' AND node_id = 'n3';
-- a prefix, an IN list, a full scan
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'tx-pol' AND version_id = 'v1' ORDER BY node_id;
SELECT node_id, title FROM treestore.nodes
 WHERE policy_id = 'tx-pol' AND version_id = 'v1' AND node_id IN ('n0', 'n3', 'n4') ORDER BY node_id;
SELECT count(*) FROM treestore.nodes WHERE title LIKE 'new%' OR title LIKE 'updated%';
-- a row written twice in the transaction
UPDATE treestore.nodes SET title = 'new 6, again' WHERE policy_id = 'tx-pol' AND node_id = 'n6';
DELETE FROM treestore.nodes WHERE policy_id = 'tx-pol' AND node_id = 'n0';
INSERT INTO treestore.nodes (policy_id, version_id, node_id, title) VALUES ('tx-pol', 'v1', 'n3', 'n3 again');
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'tx-pol' ORDER BY node_id;
COMMIT;
-- committed: the same in a new session
\c
\set VERBOSITY terse
SELECT node_id, title FROM treestore.nodes WHERE policy_id = 'tx-pol' ORDER BY node_id;

-- ===================================================================
-- ROLLBACK discards inserts, updates and deletes
-- ===================================================================
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-a', 'a'), ('tx-b', 'b');
BEGIN;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-c', 'c');
UPDATE treestore.documents SET title = 'a changed' WHERE policy_id = 'tx-a';
DELETE FROM treestore.documents WHERE policy_id = 'tx-b';
SELECT tx_docs();
ROLLBACK;
SELECT tx_docs();
-- a transaction that failed: its writes are gone too
BEGIN;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-c', 'c');
DELETE FROM treestore.documents WHERE policy_id = 'tx-a';
SELECT 1 / 0;
SELECT tx_docs();
COMMIT;  -- rolls back
SELECT tx_docs();
-- a transaction that only read, an empty one
BEGIN;
SELECT tx_docs();
COMMIT;
BEGIN;
COMMIT;
-- a read-only transaction may read, not write
BEGIN READ ONLY;
SELECT tx_docs();
INSERT INTO treestore.documents (policy_id) VALUES ('tx-ro');
\echo :SQLSTATE
ROLLBACK;

-- ===================================================================
-- savepoints
-- ===================================================================
BEGIN;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-1', 'level 0');
SAVEPOINT s1;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-2', 'level 1');
UPDATE treestore.documents SET title = 'a at level 1' WHERE policy_id = 'tx-a';
SAVEPOINT s2;
DELETE FROM treestore.documents WHERE policy_id = 'tx-1';
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-3', 'level 2');
SAVEPOINT s3;
UPDATE treestore.documents SET title = 'level 3' WHERE policy_id IN ('tx-2', 'tx-3', 'tx-b');
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-4', 'level 3');
SELECT tx_docs();
ROLLBACK TO SAVEPOINT s3;
SELECT tx_docs();
-- s3 still exists: write again and roll back again
DELETE FROM treestore.documents WHERE policy_id LIKE 'tx-%';
SELECT tx_docs();
ROLLBACK TO SAVEPOINT s3;
SELECT tx_docs();
ROLLBACK TO SAVEPOINT s2;
SELECT tx_docs();
-- writes after a rollback to a savepoint, then a release
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-5', 'after rollback to s2');
SAVEPOINT s4;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-6', 'in s4');
RELEASE SAVEPOINT s4;
SELECT tx_docs();
-- rolling back to s1 takes the released s4 with it
ROLLBACK TO SAVEPOINT s1;
SELECT tx_docs();
-- a savepoint that wrote nothing, with one below it that did
SAVEPOINT s5;
SAVEPOINT s6;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-7', 'in s6');
RELEASE SAVEPOINT s6;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-8', 'in s5');
ROLLBACK TO SAVEPOINT s5;
SELECT tx_docs();
SAVEPOINT s7;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-9', 'in s7, released');
RELEASE SAVEPOINT s7;
COMMIT;
SELECT tx_docs();

-- an error inside a savepoint, then ROLLBACK TO
BEGIN;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-10', 'before');
SAVEPOINT e1;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-11', 'lost');
-- a treestore error: the first row of the statement was written, the second is a duplicate
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-12', 'lost'), ('tx-10', 'duplicate');
SELECT tx_docs();
ROLLBACK TO SAVEPOINT e1;
SELECT tx_docs();
SAVEPOINT e2;
UPDATE treestore.documents SET title = 'lost' WHERE policy_id = 'tx-10';
-- an error that is not treestore's
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT e2;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-13', 'after');
COMMIT;
SELECT tx_docs();

-- psql's ON_ERROR_ROLLBACK: a savepoint around every statement
BEGIN;
\set ON_ERROR_ROLLBACK on
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-14', 'kept');
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-15', 'lost'), ('tx-14', 'duplicate');
UPDATE treestore.documents SET title = 'kept too' WHERE policy_id = 'tx-13';
\set ON_ERROR_ROLLBACK off
COMMIT;
SELECT tx_docs();

-- ===================================================================
-- plpgsql EXCEPTION blocks are subtransactions
-- ===================================================================
DO $$
BEGIN
  INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-20', 'outer');
  BEGIN
    INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-21', 'lost');
    UPDATE treestore.documents SET title = 'lost' WHERE policy_id = 'tx-20';
    INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-20', 'duplicate');
  EXCEPTION WHEN unique_violation THEN
    RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
  END;
  BEGIN
    INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-22', 'kept');
    BEGIN
      DELETE FROM treestore.documents WHERE policy_id = 'tx-20';
      INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-23', 'lost');
      RAISE EXCEPTION 'inner failure';
    EXCEPTION WHEN raise_exception THEN
      RAISE NOTICE 'caught inner: %', SQLERRM;
    END;
    INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-24', 'kept');
  END;
  RAISE NOTICE 'inside: %', tx_docs();
END $$;
SELECT tx_docs();
-- a loop: every other iteration fails after writing
DO $$
BEGIN
  FOR i IN 1..6 LOOP
    BEGIN
      INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-3' || i, 'iteration ' || i);
      IF i % 2 = 1 THEN
        RAISE EXCEPTION 'odd';
      END IF;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
END $$;
SELECT tx_docs();
-- an error not caught: the whole DO is rolled back
DO $$
BEGIN
  INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-40', 'lost');
  BEGIN
    INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-41', 'lost');
  EXCEPTION WHEN division_by_zero THEN
    NULL;
  END;
  INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-20', 'duplicate');
END $$;
SELECT tx_docs();

-- ===================================================================
-- PREPARE TRANSACTION: refused after a treestore write
-- ===================================================================
BEGIN;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-50', 'never');
PREPARE TRANSACTION 'tx_wrote';
\echo :SQLSTATE
SELECT gid FROM pg_prepared_xacts;
SELECT tx_docs();
-- after a write that was rolled back to a savepoint it is still refused
BEGIN;
SAVEPOINT p;
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-51', 'never');
ROLLBACK TO SAVEPOINT p;
PREPARE TRANSACTION 'tx_wrote_rolled_back';
\echo :SQLSTATE
SELECT gid FROM pg_prepared_xacts;
-- a transaction that only read treestore (and wrote a native table) may be prepared
CREATE TABLE tx_native (id int, note text);
BEGIN;
SELECT tx_docs();
INSERT INTO tx_native VALUES (1, 'prepared, then committed');
PREPARE TRANSACTION 'tx_read_commit';
BEGIN;
SELECT count(*) FROM treestore.documents WHERE policy_id LIKE 'tx-%';
INSERT INTO tx_native VALUES (2, 'prepared, then rolled back');
PREPARE TRANSACTION 'tx_read_rollback';
SELECT gid FROM pg_prepared_xacts ORDER BY gid;
COMMIT PREPARED 'tx_read_commit';
ROLLBACK PREPARED 'tx_read_rollback';
SELECT gid FROM pg_prepared_xacts;
SELECT * FROM tx_native;
-- the session goes on normally
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-52', 'after prepared');
SELECT tx_docs();
DROP TABLE tx_native;

-- ===================================================================
-- TRUNCATE follows the transaction too
-- ===================================================================
BEGIN;
TRUNCATE treestore.documents;
SELECT tx_docs();
INSERT INTO treestore.documents (policy_id, title) VALUES ('tx-60', 'after truncate');
SELECT tx_docs();
ROLLBACK;
SELECT tx_docs();
BEGIN;
SAVEPOINT t;
TRUNCATE treestore.documents, treestore.nodes;
SELECT count(*) FROM treestore.nodes WHERE policy_id = 'tx-pol';
ROLLBACK TO SAVEPOINT t;
SELECT count(*) FROM treestore.nodes WHERE policy_id = 'tx-pol';
COMMIT;
SELECT tx_docs();

-- ===================================================================
-- a statement reads one snapshot: a cursor or a PL/pgSQL FOR loop does not
-- see the writes of the statements run while it is open, nor does the rest
-- of a statement see the writes of its data-modifying CTE
-- ===================================================================
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number)
SELECT 'tx-snap', 't', g FROM generate_series(1, 3000) g;
BEGIN;
DECLARE tx_c CURSOR FOR SELECT step_number FROM treestore.trajectories WHERE case_id = 'tx-snap';
FETCH 2 FROM tx_c;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number) VALUES ('tx-snap', 't', 5000), ('tx-snap', 't', 5001);
DELETE FROM treestore.trajectories WHERE case_id = 'tx-snap' AND step_number = 2999;
-- the rest: 3 .. 3000 with 2999, without 5000 and 5001
CREATE FUNCTION pg_temp.tx_rest(c refcursor) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; n int := 0; has2999 boolean := false; has5000 boolean := false;
BEGIN
  LOOP
    FETCH c INTO r;
    EXIT WHEN NOT FOUND;
    n := n + 1;
    has2999 := has2999 OR r.step_number = 2999;
    has5000 := has5000 OR r.step_number >= 5000;
  END LOOP;
  RETURN format('%s rows, 2999 %s, 5000 or 5001 %s', n, has2999, has5000);
END $$;
SELECT pg_temp.tx_rest('tx_c');
SELECT count(*), max(step_number) FROM treestore.trajectories WHERE case_id = 'tx-snap';
COMMIT;
DO $$
DECLARE r record; n int := 0; mx int := 0;
BEGIN
  FOR r IN SELECT step_number FROM treestore.trajectories WHERE case_id = 'tx-snap' LOOP
    n := n + 1;
    mx := greatest(mx, r.step_number);
    IF n = 1 THEN
      INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number) VALUES ('tx-snap', 't', 9999);
    END IF;
  END LOOP;
  RAISE NOTICE 'the loop saw % rows, the highest %', n, mx;
END $$;
WITH d AS (DELETE FROM treestore.trajectories WHERE case_id = 'tx-snap' AND step_number <= 10 RETURNING 1)
SELECT (SELECT count(*) FROM d) AS deleted,
       (SELECT count(*) FROM treestore.trajectories WHERE case_id = 'tx-snap') AS seen_by_the_statement;
WITH i AS (INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number)
           SELECT 'tx-snap', 'u', g FROM generate_series(1, 5) g RETURNING 1)
SELECT (SELECT count(*) FROM i) AS inserted,
       (SELECT count(*) FROM treestore.trajectories WHERE case_id = 'tx-snap') AS seen_by_the_statement;
SELECT count(*) FROM treestore.trajectories WHERE case_id = 'tx-snap';
DELETE FROM treestore.trajectories WHERE case_id = 'tx-snap';
-- a correlated subquery of a statement that writes treestore sees the state
-- before the statement, like the rest of it: all ten rows are updated
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number)
SELECT 'tx-corr', 't', g FROM generate_series(1, 10) g;
UPDATE treestore.trajectories t SET thought = 'x'
 WHERE t.case_id = 'tx-corr'
   AND (SELECT count(*) FROM treestore.trajectories u
         WHERE u.case_id = t.case_id AND u.thought = 'x') = 0;
SELECT count(*) FILTER (WHERE thought = 'x') AS updated FROM treestore.trajectories WHERE case_id = 'tx-corr';
DELETE FROM treestore.trajectories WHERE case_id = 'tx-corr';

-- ===================================================================
-- clean up
-- ===================================================================
DELETE FROM treestore.documents WHERE policy_id LIKE 'tx-%';
TRUNCATE treestore.nodes;
SELECT tx_docs();
SELECT count(*) FROM treestore.nodes;
DROP FUNCTION tx_docs();

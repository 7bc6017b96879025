--
-- cancel: a statement cancelled while it talks to the treestore worker
-- (statement_timeout fires during a long join of lookups) leaves nothing
-- behind: the next statements get their own answers, writes of the
-- cancelled statement are gone, and a savepoint survives the cancel.
--
-- Keys used here start with 'cn-'; everything is deleted at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS treestore_fdw;
RESET client_min_messages;

INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number, thought)
SELECT 'cn-case', 't', g, repeat('x', 100) FROM generate_series(1, 20000) g;
CREATE TABLE cn_steps AS SELECT g AS step_number FROM generate_series(1, 20000) g;
ANALYZE cn_steps;
SET enable_hashjoin = off;
SET enable_mergejoin = off;

-- one keyed lookup per outer row: long enough to be cancelled mid-way
\set VERBOSITY terse
SET statement_timeout = '20ms';
SELECT count(*) FROM cn_steps s JOIN treestore.trajectories t
  ON t.case_id = 'cn-case' AND t.trajectory_id = 't' AND t.step_number = s.step_number;
SELECT count(*) FROM cn_steps s JOIN treestore.trajectories t
  ON t.case_id = 'cn-case' AND t.trajectory_id = 't' AND t.step_number = s.step_number;
RESET statement_timeout;
\set VERBOSITY default
-- the answers after the cancels are right
SELECT count(*), sum(step_number) FROM treestore.trajectories WHERE case_id = 'cn-case';
SELECT step_number, length(thought) FROM treestore.trajectories
WHERE case_id = 'cn-case' AND trajectory_id = 't' AND step_number = 777;

-- a write cancelled inside a transaction: ROLLBACK TO keeps what came before
BEGIN;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number) VALUES ('cn-tx', 't', 1);
SAVEPOINT a;
\set VERBOSITY terse
SET LOCAL statement_timeout = '20ms';
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number)
SELECT 'cn-tx', 'u', s.step_number FROM cn_steps s JOIN treestore.trajectories t
  ON t.case_id = 'cn-case' AND t.trajectory_id = 't' AND t.step_number = s.step_number;
\set VERBOSITY default
ROLLBACK TO SAVEPOINT a;
SET LOCAL statement_timeout = 0;
INSERT INTO treestore.trajectories (case_id, trajectory_id, step_number) VALUES ('cn-tx', 't', 2);
SELECT trajectory_id, step_number FROM treestore.trajectories WHERE case_id = 'cn-tx' ORDER BY 1, 2;
COMMIT;
SELECT trajectory_id, step_number FROM treestore.trajectories WHERE case_id = 'cn-tx' ORDER BY 1, 2;

RESET enable_hashjoin;
RESET enable_mergejoin;
DELETE FROM treestore.trajectories WHERE case_id IN ('cn-case', 'cn-tx');
DROP TABLE cn_steps;

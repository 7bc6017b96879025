#!/usr/bin/python3
# Bug: a prepared engine transaction whose PostgreSQL xid never reached the WAL
# "stays in doubt: ... newer than the next transaction id" after a crash, and is
# COMMITTED as soon as PostgreSQL hands that xid to an unrelated transaction
# that commits.  Here: a document whose transaction never committed (its client
# got an error) appears.  Deterministic, no debugger.
import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from common import *
fresh('wal_writer_delay = 10000')
with c(autocommit=True) as k:
    k.execute("insert into ledger values (1,'before')")
w = pid_of('treestore')
mon = c(autocommit=True); mon.execute("select treestore.health()")
res = {}; ready = threading.Event()
def victim():
    try:
        with c() as k:
            k.execute("set commit_delay = 100000"); k.execute("set commit_siblings = 0")
            k.execute("insert into treestore.documents(policy_id,title) values ('never-committed','x')")
            res['xid'] = k.execute("select pg_current_xact_id()::text").fetchone()[0]
            ready.set(); k.commit(); res['acked'] = True
    except Exception as e: res['error'] = str(e).split('\n')[0]
    finally: ready.set()
t = threading.Thread(target=victim); t.start(); ready.wait()
for _ in range(1000):   # until the engine holds it prepared (pre-commit done)
    if int(mon.execute("select treestore.health()->'engine'->>'prepared'").fetchone()[0]) >= 1: break
os.kill(w, signal.SIGKILL); t.join()
print('victim transaction:', res)
healthy()
with c(autocommit=True) as k:
    print('next xid after recovery:', k.execute("select pg_snapshot_xmax(pg_current_snapshot())").fetchone()[0])
    print('documents after recovery:', k.execute("select policy_id from treestore.documents").fetchall())
    for i in range(2, 6):
        k.execute("insert into ledger values (%s,'after')", (i,))
    print('ledger xmins (the victim xid comes back):', k.execute("select id, xmin from ledger order by id").fetchall())
time.sleep(3)
with c(autocommit=True) as k:
    print('documents after the worker settled:', k.execute("select policy_id from treestore.documents").fetchall())
os.system("grep -E 'treestore (in-doubt )?transaction' %s" % LOG)
stop()

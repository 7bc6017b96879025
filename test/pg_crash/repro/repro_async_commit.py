#!/usr/bin/python3
# Evidence: a COMMIT of a transaction that wrote only treestore tables returns before
# PostgreSQL's commit record is flushed (asynchronous commit), though synchronous_commit=on.
import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from common import *
fresh()
ww = pid_of('walwriter')
os.kill(ww, signal.SIGSTOP)     # so that only the committing backend flushes
try:
    with c(autocommit=True) as mon, c() as k:
        for i in range(5):
            k.execute("insert into ledger values (%s, 'native')", (i,)); k.commit()
            print('native-table commit    : insert %s flush %s' % mon.execute("select pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()").fetchone())
            k.execute("insert into treestore.documents(policy_id, title) values (%s,'x')", ('d%d' % i,))
            k.commit()
            print('treestore-only commit  : insert %s flush %s' % mon.execute("select pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()").fetchone())
finally:
    os.kill(ww, signal.SIGCONT)
stop()

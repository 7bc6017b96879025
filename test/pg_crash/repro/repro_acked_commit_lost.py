#!/usr/bin/python3
# An acknowledged COMMIT of a treestore-only transaction is lost after a crash.
# (Uses gdb to stop the backend right after RecordTransactionCommit, where it
# stops the worker, so that RESOLVE times out and COMMIT returns with the
# warning "committed but not yet visible"; the WAL writer is stopped too.)
import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from common import *
fresh()
ww = pid_of('walwriter'); w = pid_of('treestore')
with c(autocommit=True) as k:
    k.execute("select treestore.health()")
v = c()
v.add_notice_handler(lambda d: print('victim got:', d.severity, d.message_primary))
v.execute("set treestore.request_timeout = '100ms'")
v.execute("insert into treestore.documents(policy_id, title) values ('warm-up','x')")    # opens its channel, warms caches
v.commit()
bpid = v.info.backend_pid
v.execute("insert into treestore.documents(policy_id, title) values ('acked-doc','x')")
xid = v.execute("select pg_current_xact_id()::text").fetchone()[0]
os.kill(ww, signal.SIGSTOP)  # no background WAL flush
# stop the backend after RecordTransactionCommit (PREPARE done, commit record inserted),
# stop the worker there, let the backend go on
g = subprocess.Popen(['gdb','-p',str(bpid),'-batch','-ex','break ProcArrayEndTransaction','-ex','continue',
                      '-ex','shell kill -STOP %d' % w,'-ex','delete','-ex','detach'],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(3)
v.commit()
print('victim COMMIT returned: acknowledged (xid %s)' % xid)
g.wait()
with c(autocommit=True) as k:
    print('WAL insert %s flush %s' % k.execute("select pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()").fetchone())
os.kill(w, signal.SIGKILL); os.kill(ww, signal.SIGKILL)
v.close()
time.sleep(1)
healthy()
with c(autocommit=True) as k:
    print('next xid after recovery:', k.execute("select pg_snapshot_xmax(pg_current_snapshot())").fetchone()[0])
    print('acked document after recovery:', k.execute("select policy_id from treestore.documents").fetchall())
    # the xid comes back; this time its transaction rolls back
    k.execute("begin"); k.execute("insert into ledger values (1,'rolled back')")
    print('new transaction got xid', k.execute("select pg_current_xact_id()").fetchone()[0]); k.execute("rollback")
time.sleep(2.5)
with c(autocommit=True) as k:
    print('acked document after settling:', k.execute("select policy_id from treestore.documents").fetchall())
os.system("grep -E 'treestore|PANIC' %s | grep -v 'worker ready'" % LOG)
stop()

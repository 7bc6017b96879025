#!/usr/bin/python3
# A backend waiting in the COMMIT callback for the worker PANICs when the postmaster dies.
# (Uses gdb to stop the backend after RecordTransactionCommit and stop the
# worker there; then kill -9 of the postmaster: WaitLatch(WL_EXIT_ON_PM_DEATH)
# in src/channel.c calls proc_exit inside the XACT_EVENT_COMMIT callback.)
import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from common import *
fresh()
w = pid_of('treestore')
v = c()
v.execute("insert into treestore.documents(policy_id, title) values ('warm-up','x')"); v.commit()
bpid = v.info.backend_pid
v.execute("insert into treestore.documents(policy_id, title) values ('d','x')")
g = subprocess.Popen(['gdb','-p',str(bpid),'-batch','-ex','break ProcArrayEndTransaction','-ex','continue',
                      '-ex','shell kill -STOP %d' % w,'-ex','delete','-ex','detach'],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(3)
res = {}
def commit():
    try: v.commit(); res['r'] = 'acknowledged'
    except Exception as e: res['r'] = 'error: %s' % str(e).split('\n')[0]
t = threading.Thread(target=commit); t.start()
g.wait(); time.sleep(0.5)     # the backend now waits in XACT_EVENT_COMMIT for the stopped worker
pm = int(open(D + '/postmaster.pid').readline())
os.kill(pm, signal.SIGKILL)
t.join(10); print('victim COMMIT:', res)
os.kill(w, signal.SIGKILL)
time.sleep(1)
os.system("grep -E 'PANIC|AbortTransaction|cannot abort' %s" % LOG)
for _ in range(50):
    if not any(os.path.exists('/proc/%d' % p) for p in (pm, w)): break
    time.sleep(0.1)
pg('pg_ctl','-D',D,'-l',LOG,'-w','start'); healthy()
with c(autocommit=True) as k: print('after restart:', k.execute("select policy_id from treestore.documents order by 1").fetchall())
stop()

# Shared helpers of the repro_*.py scripts: a fresh private cluster on a unix socket
# under /tmp/tscrash-repro (port 5492), run as user postgres; must run as root
# with /usr/bin/python3 (psycopg 3).
import os, sys, time, threading, subprocess, signal, shutil, pwd, psycopg
BIN='/usr/lib/postgresql/15/bin'; T='/tmp/tscrash-repro'; D=T+'/data'; S=T+'/sock'; PORT=5492; LOG=T+'/log'
def pg(*a, check=True):
    return subprocess.run(['runuser','-u','postgres','--',BIN+'/'+a[0]]+list(a[1:]), check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
def fresh(extra=''):
    subprocess.run(['runuser','-u','postgres','--',BIN+'/pg_ctl','-D',D,'-m','immediate','stop'], capture_output=True)
    shutil.rmtree(D, ignore_errors=True); os.makedirs(S, exist_ok=True)
    if os.path.exists(LOG): os.unlink(LOG)
    pw=pwd.getpwnam('postgres'); os.chown(T, pw.pw_uid, pw.pw_gid); os.chown(S, pw.pw_uid, pw.pw_gid)
    pg('initdb','-D',D,'-A','trust','-U','postgres','--no-sync')
    open(D+'/postgresql.conf','a').write(f"port={PORT}\nlisten_addresses=''\nunix_socket_directories='{S}'\nshared_preload_libraries='treestore_fdw'\nlog_line_prefix='%m [%p] %b '\nfsync=on\nsynchronous_commit=on\n{extra}\n")
    pg('pg_ctl','-D',D,'-l',LOG,'-w','start')
    with c(autocommit=True) as k:
        k.execute('create extension treestore_fdw'); k.execute('create table ledger(id bigint primary key, note text)')
    healthy()
def c(**kw): return psycopg.connect(host=S, port=PORT, user='postgres', dbname='postgres', **kw)
def healthy():
    for _ in range(300):
        try:
            with c(autocommit=True) as k:
                if k.execute("select treestore.health()->>'status'").fetchone()[0]=='ok': return
        except psycopg.Error: pass
        time.sleep(0.1)
    raise SystemExit('not healthy')
def pid_of(btype):
    with c(autocommit=True) as k:
        return k.execute("select pid from pg_stat_activity where backend_type=%s", (btype,)).fetchone()[0]
def stop(): pg('pg_ctl','-D',D,'-m','fast','stop', check=False)

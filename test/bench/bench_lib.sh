# bench_lib.sh -- sourced by bench_sql.sh and bench_docs.sh: pgbench runs
# with the cluster's CPU time around them, percentiles from pgbench logs,
# and the target lines.
#
# The sourcing script sets: PGBIN, AS_PG (array: runuser -u postgres -- as
# root, else empty), SOCK (socket directory), PORT, PGDATA_DIR, and, once
# the server runs, WORKER_PID (lib_worker_pid).
#
# CPU time (lib_cpu_snap): utime + stime from /proc/<pid>/stat of the
# cluster's processes, in clock ticks (getconf CLK_TCK, 100 a second):
#   worker   the treestore background worker (backend_type 'treestore' in
#            pg_stat_activity);
#   others   every other process of the cluster: the postmaster itself, its
#            live children but the worker (backends, checkpointer, WAL
#            writer, ...) and its children that have exited and been reaped
#            (the postmaster's cutime + cstime: pgbench's backends end
#            before the second reading).
# A run's CPU is the difference of a reading before pgbench starts and one
# after it has ended and its backends are gone (lib_pgb waits until the
# postmaster has as many children as before, then reads again).  pgbench's own CPU is not the
# cluster's and is in neither figure.

CLK_TCK=$(getconf CLK_TCK)

# lib_worker_pid -> the treestore worker's pid
lib_worker_pid() {
	"${AS_PG[@]}" "$PGBIN/psql" -X -At -h "$SOCK" -p "$PORT" -U postgres -d postgres \
		-c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'treestore'"
}

# lib_cpu_snap -> "WORKER_TICKS OTHER_TICKS CHILDREN"
lib_cpu_snap() {
	local pm s rest f p w=0 o=0 n=0
	read -r pm <"$PGDATA_DIR/postmaster.pid"
	for p in /proc/[0-9]*; do
		{ read -r s <"$p/stat"; } 2>/dev/null || continue
		rest=${s##*) }
		read -r -a f <<<"$rest"
		if [ "${p#/proc/}" = "$pm" ]; then
			o=$((o + f[11] + f[12] + f[13] + f[14]))
		elif [ "${f[1]}" = "$pm" ]; then
			n=$((n + 1))
			if [ "${p#/proc/}" = "${WORKER_PID:-}" ]; then
				w=$((w + f[11] + f[12]))
			else
				o=$((o + f[11] + f[12]))
			fi
		fi
	done
	echo "$w $o $n"
}

# lib_pgb SCRIPT SECONDS CLIENTS [pgbench options...]
#   -> "TPS LATENCY_MS STMT_MS XACTS WORKER_S OTHERS_S PRE_MS"
# pgbench -n -M prepared -c CLIENTS -j CLIENTS -T SECONDS -r -f SCRIPT;
# TPS without the initial connection time; LATENCY_MS the average per
# transaction; STMT_MS the script's last statement's average latency (-r);
# XACTS the transactions done; WORKER_S, OTHERS_S the cluster's CPU seconds
# during the run (above); PRE_MS the -r latencies of the commands before the
# last (a pick lookup).  The request latency the benches report is
# LATENCY_MS - PRE_MS: unlike STMT_MS, it includes what happens between the
# measured statement's result and the next command (the transaction's end,
# and the client waiting for a CPU while a server process holds one).
# Fails if pgbench fails or a transaction failed.
lib_pgb() {
	local script=$1 secs=$2 clients=$3 out c0 c1 i
	shift 3
	c0=$(lib_cpu_snap)
	out=$("${AS_PG[@]}" "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -M prepared \
		-c "$clients" -j "$clients" -T "$secs" -r "$@" -f "$script" postgres 2>&1) || {
		printf '%s\n' "$out" >&2; echo "pgbench $script failed" >&2; return 1; }
	# Until its backends are gone (at most 5 s), then a reading of its own: a
	# reading taken while a backend exits can miss it (read before the
	# postmaster reaped it, gone when its own stat is read).
	for ((i = 0; i < 100; i++)); do
		c1=$(lib_cpu_snap)
		[ "${c1##* }" -le "${c0##* }" ] && break
		sleep 0.05
	done
	sleep 0.05
	c1=$(lib_cpu_snap)
	printf '%s\n' "$out" | awk -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" -v script="$script" '
		/^tps = / { tps = $3 }
		/^latency average = / { lat = $4 }
		/^number of transactions actually processed: / { split($6, x, "/"); n = x[1] }
		/^number of failed transactions: / { failed = $5 }
		/^statement latencies/ { s = 1; next }
		s && $1 ~ /^[0-9.]+$/ { pre += stmt; stmt = $1 }
		END {
			if (failed + 0 > 0 || tps == "" || stmt == "" || n == "") {
				print "pgbench " script ": no figures or failed transactions (" failed ")" > "/dev/stderr"
				exit 1
			}
			split(c0, a, " "); split(c1, b, " ")
			printf "%s %s %s %s %.3f %.3f %.3f\n", tps, lat, stmt, n, (b[1] - a[1]) / hz, (b[2] - a[2]) / hz, pre
		}'
}

# lib_pgb_p99 LOGDIR SCRIPT SECONDS CLIENTS -> "P99_MS P50_MS XACTS"
# Per-transaction latencies from pgbench --log (the third field of each
# line, in microseconds: measured by pgbench from sending the script's first
# command to the last result), all clients' log files together.
lib_pgb_p99() {
	local dir=$1 script=$2 secs=$3 clients=$4 out
	rm -rf "$dir"
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
	out=$("${AS_PG[@]}" "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -M prepared \
		-c "$clients" -j "$clients" -T "$secs" --log --log-prefix="$dir/lat" -f "$script" postgres 2>&1) || {
		printf '%s\n' "$out" >&2; echo "pgbench $script failed" >&2; return 1; }
	cat "$dir"/lat.* | awk '{ print $3 }' | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			i99 = int(NR * 0.99 + 0.999999); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
			i50 = int(NR * 0.50 + 0.999999); if (i50 < 1) i50 = 1
			printf "%.3f %.3f %d\n", v[i99] / 1000, v[i50] / 1000, NR
		}'
}

lib_median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# lib_target NAME VALUE OP GOAL -> "TARGET <area> NAME VALUE OP GOAL ok|MISS";
# counts misses in LIB_MISSES.  OP: <= or >=.  LIB_AREA names the area.
LIB_MISSES=0
LIB_TARGETS=0
lib_target() {
	local v
	v=$(awk -v a="$2" -v op="$3" -v g="$4" 'BEGIN { print ((op == "<=" && a <= g) || (op == ">=" && a >= g)) ? "ok" : "MISS" }')
	LIB_TARGETS=$((LIB_TARGETS + 1))
	[ "$v" = ok ] || LIB_MISSES=$((LIB_MISSES + 1))
	printf 'TARGET %s %s %s %s %s %s\n' "$LIB_AREA" "$1" "$2" "$3" "$4" "$v"
}

# lib_div A B [FORMAT] -> A / B
lib_div() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN { if (b == 0) print "inf"; else printf f "\n", a / b }'; }

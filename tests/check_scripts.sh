#!/bin/sh
#
# The monitoring scripts against a real jobd on a temporary socket:
# - scripts/check_jobd: OK, WARNING and CRITICAL for the queue (a daemon
#   with one CPU worker and spin jobs queued behind it), the failure rate
#   (jobs that time out) and dead workers (a worker killed until it is
#   seen down); UNKNOWN with no daemon, without jobctl or jq, with bad
#   arguments; the output line and its perfdata;
# - scripts/jobd-textfile: writes jobd.prom that promtool check metrics
#   accepts, atomically (nothing else left in the directory, mode 0644),
#   and keeps the old file, exiting 1, when the daemon is down.
#
# Environment (AM_TESTS_ENVIRONMENT): JOBD_BIN, JOBCTL_BIN, JOBD_SRCDIR.
# jq and promtool come from scripts/deps --test; without them this fails.

set -u
LC_ALL=C
export LC_ALL

srcdir=${JOBD_SRCDIR:-${srcdir:-.}}
jobd=${JOBD_BIN:?JOBD_BIN is not set (run from make check)}
JOBCTL=${JOBCTL_BIN:?JOBCTL_BIN is not set (run from make check)}
export JOBCTL
check=$srcdir/scripts/check_jobd
textfile=$srcdir/scripts/jobd-textfile

npass=0
nfail=0
pid=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_scripts.XXXXXX") || exit 99
sock=$tmp/jobd.sock

# Never leave the daemon running, whatever happens.
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

pass() {
	npass=$((npass + 1))
	echo "PASS: $*"
}

fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $*"
}

# Start jobd on $sock with extra arguments; wait until it answers.
start_jobd() {
	: >"$tmp/jobd.conf"
	mkdir -p "$tmp/downloads"
	"$jobd" -c "$tmp/jobd.conf" -s "$sock" \
	    -o "io.download_dir=$tmp/downloads" -o "daemon.state_dir=$tmp" \
	    "$@" 2>>"$tmp/jobd.log" &
	pid=$!
	i=0
	while ! "$JOBCTL" -s "$sock" status >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "FAIL: jobd did not start:"
			sed 's/^/    /' "$tmp/jobd.log"
			exit 1
		fi
		sleep 0.1
	done
}

stop_jobd() {
	kill "$pid"
	wait "$pid"
	st=$?
	pid=""
	[ "$st" -eq 0 ] || fail "jobd exited with status $st"
}

# The names in a directory, dot files too, on one line.
entries() {
	(cd "$1" && find . -mindepth 1 -print | sed 's|^\./||' | sort |
	    tr '\n' ' ')
}

# A member of daemon.status, by jq path.
status_of() {
	"$JOBCTL" -s "$sock" --json status | jq -r "$1"
}

# Run check_jobd with arguments: $out and $rc.
run_check() {
	out=$("$check" "$@" 2>"$tmp/check.err")
	rc=$?
}

# Assert the last run_check: exit status $1, first word after JOBD $2,
# and the output contains $3 (when given). $4 names the case.
expect() {
	lines=$(printf '%s\n' "$out" | wc -l)
	case $out in
	"JOBD $2 - "*) word_ok=1 ;;
	*) word_ok=0 ;;
	esac
	if [ "$rc" -eq "$1" ] && [ "$word_ok" -eq 1 ] &&
	    [ "$lines" -eq 1 ] && case $out in *"$3"*) true ;; *) false ;; esac
	then
		pass "$4: exit $rc, $out"
	else
		fail "$4: want exit $1 and 'JOBD $2 - ...$3...', got exit $rc:"
		printf '    %s\n' "$out"
		sed 's/^/    stderr: /' "$tmp/check.err"
	fi
}

# Every perfdata item of the last output is label=value[UOM];w;c;min;max.
expect_perfdata() {
	perf=${out#*| }
	bad=""
	for item in $perf; do
		if ! printf '%s\n' "$item" | grep -Eq \
		    '^[a-z_]+=[0-9]+(\.[0-9]+)?(%|c)?(;[0-9.]*){0,4}$'; then
			bad="$bad $item"
		fi
	done
	case $out in
	*" | "*) ;;
	*) bad="no ' | ' before the perfdata" ;;
	esac
	if [ -z "$bad" ]; then
		pass "perfdata in the Nagios format: $perf"
	else
		fail "perfdata not label=value[UOM];warn;crit;min;max:$bad"
	fi
}

for tool in jq promtool shellcheck; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		fail "$tool is not installed (scripts/deps --test installs it)"
	fi
done
[ "$nfail" -eq 0 ] || exit 1

# --- shellcheck -------------------------------------------------------------

if shellcheck -s sh "$check" "$textfile" "$0" >"$tmp/sc" 2>&1; then
	pass "shellcheck -s sh check_jobd jobd-textfile check_scripts.sh"
else
	fail "shellcheck:"
	sed 's/^/    /' "$tmp/sc"
fi

# --- check_jobd without a daemon, and its arguments -----------------------

run_check -h
if [ "$rc" -eq 0 ] && case $out in usage:*) true ;; *) false ;; esac; then
	pass "check_jobd -h: usage, exit 0"
else
	fail "check_jobd -h: exit $rc: $out"
fi
for args in "-q 5" "-q a,b" "-f 10,5" "-w -1,2" "-x" "-t soon" "extra" "-q"
do
	# shellcheck disable=SC2086 # the arguments are meant to split
	run_check -s "$sock" $args
	expect 3 UNKNOWN "" "check_jobd $args"
done

run_check -s "$sock"
expect 3 UNKNOWN "not reachable" "check_jobd with no daemon"

out=$(JOBCTL=$tmp/no-such-jobctl "$check" -s "$sock" 2>&1)
rc=$?
expect 3 UNKNOWN "jobctl not found" "check_jobd without jobctl"

# A PATH with awk but no jq.
mkdir "$tmp/nojq"
ln -s "$(command -v awk)" "$tmp/nojq/awk"
out=$(PATH=$tmp/nojq /bin/sh "$check" -s "$sock" 2>&1)
rc=$?
expect 3 UNKNOWN "jq not found" "check_jobd without jq"

# --- check_jobd with a daemon of one CPU worker ----------------------------

start_jobd -o cpu.workers=1

run_check -s "$sock"
expect 0 OK "queue 0, failure rate 0.00% (0 of 0 jobs), dead workers 0 of 1" \
    "idle daemon"
expect_perfdata
want_rate="failure_rate=0.0000%;10;50;0;100"
case $out in
*"queue=0;1000;10000;0;"*"$want_rate"*"dead_workers=0;0;1;0;1"*)
	pass "perfdata values and default thresholds" ;;
*) fail "perfdata values or thresholds: $out" ;;
esac

# Queue: one spin runs on the only worker, three wait behind it.
ids=""
for _ in 1 2 3 4; do
	id=$("$JOBCTL" -s "$sock" submit spin ms=60000) ||
	    fail "submit spin"
	ids="$ids $id"
done
i=0
while [ "$(status_of '.queues.cpu')" != 3 ] && [ "$i" -lt 300 ]; do
	i=$((i + 1))
	sleep 0.1
done
run_check -s "$sock" -q 5,10
expect 0 OK "queue 3," "queue 3 under -q 5,10"
run_check -s "$sock" -q 2,10
expect 1 WARNING "queue 3 (> 2)," "queue 3 over -q 2,10"
run_check -s "$sock" -q 1,2
expect 2 CRITICAL "queue 3 (> 2)," "queue 3 over -q 1,2"
case $out in
*" queue=3;1;2;0; "*"running=1;;;0; workers_busy=1;;;0;1"*)
	pass "perfdata: queue=3, one running on the busy worker" ;;
*) fail "perfdata of the full queue: $out" ;;
esac
# shellcheck disable=SC2086 # one id per argument
"$JOBCTL" -s "$sock" cancel $ids >/dev/null || fail "cancel the spins"

# Failure rate: 4 cancelled (in the whole only), 3 done, 1 timed out:
# 1 of 8 = 12.50%.
for _ in 1 2 3; do
	"$JOBCTL" -s "$sock" squares 1 10 >/dev/null || fail "squares"
done
"$JOBCTL" -s "$sock" submit -w --timeout-ms 50 spin ms=5000 >/dev/null 2>&1
[ "$(status_of '.totals.timeout')" = 1 ] || fail "no job timed out"
run_check -s "$sock" -f 20,50
expect 0 OK "failure rate 12.50% (1 of 8 jobs)" "12.5% under -f 20,50"
run_check -s "$sock" -f 12.4,50
expect 1 WARNING "failure rate 12.50% (> 12.4) (1 of 8 jobs)" \
    "12.5% over -f 12.4,50"
run_check -s "$sock" -f 5,10
expect 2 CRITICAL "failure rate 12.50% (> 10)" "12.5% over -f 5,10"
case $out in
*" jobs_done=3c jobs_failed=0c jobs_timeout=1c jobs_cancelled=4c"*)
	pass "perfdata counters" ;;
*) fail "perfdata counters: $out" ;;
esac

# Dead workers: kill the worker again and again (its restarts back off
# longer each time) until a check sees it down.
dead_case() {
	want_rc=$1 want_word=$2 thresholds=$3
	n=0
	while [ "$n" -lt 40 ]; do
		n=$((n + 1))
		wpid=$(status_of '.pools.cpu.workers[0].pid // empty')
		[ -n "$wpid" ] && kill -KILL "$wpid" 2>/dev/null
		sleep 0.05
		run_check -s "$sock" -f 50,60 -w "$thresholds"
		case $out in *"dead workers 1 of 1"*) break ;; esac
	done
	expect "$want_rc" "$want_word" "dead workers 1 of 1 (> " \
	    "a worker killed $n times, under -w $thresholds"
	# Let it come back before the next case.
	i=0
	while [ "$(status_of '.pools.cpu.workers[0].state')" != idle ] &&
	    [ "$i" -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
}
dead_case 1 WARNING 0,1
dead_case 2 CRITICAL 0,0
run_check -s "$sock" -f 50,60
expect 0 OK "dead workers 0 of 1" "the worker is back"

# --- jobd-textfile ----------------------------------------------------------

mkdir "$tmp/tf"
if "$textfile" -s "$sock" -d "$tmp/tf" 2>"$tmp/tf.err"; then
	pass "jobd-textfile exits 0"
else
	fail "jobd-textfile exit $?:"
	sed 's/^/    /' "$tmp/tf.err"
fi
if [ -f "$tmp/tf/jobd.prom" ] &&
    grep -qx 'jobd_up 1' "$tmp/tf/jobd.prom" &&
    grep -q '^jobd_jobs_finished_total{' "$tmp/tf/jobd.prom"; then
	pass "jobd.prom has jobd_up 1 and the job counters"
else
	fail "jobd.prom is missing or incomplete"
fi
if promtool check metrics <"$tmp/tf/jobd.prom" >"$tmp/promtool" 2>&1; then
	pass "promtool check metrics accepts jobd.prom"
else
	fail "promtool check metrics:"
	sed 's/^/    /' "$tmp/promtool"
fi
if [ "$(entries "$tmp/tf")" = "jobd.prom " ]; then
	pass "no temporary file left beside jobd.prom"
else
	fail "left in the directory: $(entries "$tmp/tf")"
fi
if [ "$(stat -c %a "$tmp/tf/jobd.prom")" = 644 ]; then
	pass "jobd.prom is readable by node_exporter (0644)"
else
	fail "jobd.prom mode $(stat -c %a "$tmp/tf/jobd.prom")"
fi
"$textfile" -s "$sock" -d "$tmp/no-such-dir" 2>/dev/null
rc=$?
if [ "$rc" -eq 1 ]; then
	pass "jobd-textfile: a missing directory, exit 1"
else
	fail "jobd-textfile -d no-such-dir: exit $rc"
fi
"$textfile" -x 2>/dev/null
rc=$?
if [ "$rc" -eq 2 ]; then
	pass "jobd-textfile: a bad option, exit 2"
else
	fail "jobd-textfile -x: exit $rc"
fi

# --- the daemon goes away ---------------------------------------------------

stop_jobd
cp "$tmp/tf/jobd.prom" "$tmp/old.prom"
"$textfile" -s "$sock" -d "$tmp/tf" 2>"$tmp/tf.err"
rc=$?
if [ "$rc" -ne 0 ] && cmp -s "$tmp/old.prom" "$tmp/tf/jobd.prom" &&
    [ "$(entries "$tmp/tf")" = "jobd.prom " ]; then
	pass "jobd-textfile with no daemon: exit $rc, the old file kept"
else
	fail "jobd-textfile with no daemon: exit $rc, file changed or" \
	    "temporary left: $(entries "$tmp/tf")"
fi
run_check -s "$sock"
expect 3 UNKNOWN "not reachable" "check_jobd after the daemon stopped"

echo "check_scripts: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]

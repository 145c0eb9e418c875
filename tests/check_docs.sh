#!/bin/sh
#
# The documentation and the systemd units:
# - every man page is clean under mandoc -Tlint -Wwarning;
# - the pages name what the code implements: jobd(8) every option of
#   main.c, jobd-protocol(7) every method of rpc.c and every error code of
#   jobd.h (and every method and job type of PROTOCOL.md when shared/ is
#   beside the source tree), with the methods not implemented yet listed
#   in its IMPLEMENTATION NOTES and only those; jobd.conf(5) every key of
#   config.c; configuration keys the pages mention exist;
# - the generated units pass systemd-analyze verify with no message at
#   all (it reports bad settings as warnings and exits 0), keep their
#   hardening (systemd-analyze security --offline), agree with the code's
#   default socket and drain timeout; the sysusers.d and tmpfiles.d
#   snippets create the user and the directories in a scratch root.
#
# Environment (AM_TESTS_ENVIRONMENT): JOBD_SRCDIR, the source tree;
# JOBD_BIN, the built daemon, whose ../.. is the build tree. Exits 77
# (skipped) when mandoc or systemd-analyze is missing and nothing failed.

set -u
LC_ALL=C
export LC_ALL

srcdir=${JOBD_SRCDIR:-${srcdir:-.}}
jobd=${JOBD_BIN:-$(pwd)/src/jobd}
builddir=$(cd "$(dirname "$jobd")/.." && pwd)

npass=0
nfail=0
skipped=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_docs.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

pass() {
	npass=$((npass + 1))
	echo "PASS: $*"
}

fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $*"
}

skip() {
	skipped="$skipped
  $*"
	echo "SKIP: $*"
}

# Print a file's lines indented, for failure details.
show() {
	sed 's/^/    /' "$1"
}

# Lines of $2 between ".Sh $1" and the next .Sh.
man_section() {
	awk -v sec=".Sh $1" '
		$0 == sec { on = 1; next }
		/^\.Sh / { on = 0 }
		on' "$2"
}

# Names given as ".It Ic NAME" in some lines on stdin.
it_ic() {
	sed -n 's/^\.It Ic \([A-Za-z0-9_.]*\).*/\1/p' | sort -u
}

for f in "$srcdir/man/jobd.8" "$srcdir/man/jobd-protocol.7" \
    "$srcdir/src/main.c" "$srcdir/src/rpc.c" "$srcdir/src/jobd.h" \
    "$srcdir/src/config.c" "$srcdir/systemd/jobd.socket" \
    "$srcdir/systemd/jobd.sysusers" "$srcdir/systemd/jobd.tmpfiles" \
    "$builddir/systemd/jobd.service" "$jobd"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f is missing (run from make check)"
		exit 1
	fi
done

# --- man pages: lint -------------------------------------------------------

if command -v mandoc >/dev/null 2>&1; then
	for page in "$srcdir"/man/*.[1-8]; do
		[ -f "$page" ] || continue
		name=${page##*/}
		if mandoc -Tlint -Wwarning "$page" >"$tmp/lint" 2>&1 &&
		    [ ! -s "$tmp/lint" ]; then
			pass "mandoc -Tlint $name"
		else
			fail "mandoc -Tlint $name:"
			show "$tmp/lint"
		fi
	done
else
	skip "mandoc not installed (Debian package mandoc): man pages not linted"
fi

# --- man pages: what the code implements ----------------------------------

# jobd(8): each getopt option of main.c is an ".It Fl X" of the page, and
# the page documents no option that main.c does not take.
opts=$(sed -n 's/.*getopt_long([^"]*"\([^"]*\)".*/\1/p' "$srcdir/src/main.c" |
    tr -d ':')
if [ -z "$opts" ]; then
	fail "jobd.8: cannot find the getopt_long option string in main.c"
else
	doc=$(sed -n 's/^\.It Fl \([A-Za-z]\)\( .*\)\{0,1\}$/\1/p' \
	    "$srcdir/man/jobd.8" | sort -u | tr -d '\n')
	bad=""
	for o in $(echo "$opts" | sed 's/./& /g'); do
		case $doc in
		*"$o"*) ;;
		*) bad="$bad -$o (in main.c, not in jobd.8)" ;;
		esac
	done
	for o in $(echo "$doc" | sed 's/./& /g'); do
		case $opts in
		*"$o"*) ;;
		*) bad="$bad -$o (in jobd.8, not in main.c)" ;;
		esac
	done
	if [ -z "$bad" ]; then
		pass "jobd.8 documents exactly the options of main.c ($opts)"
	else
		fail "jobd.8 options differ from main.c:$bad"
	fi
fi

# jobd-protocol(7): the methods.
proto=$srcdir/man/jobd-protocol.7
sed -n '/rpc_methods\[\] = {/,/^};/p' "$srcdir/src/rpc.c" |
    sed -n 's/^[[:space:]]*{[[:space:]]*"\([a-z_.]*\)".*/\1/p' |
    sort -u >"$tmp/implemented"
man_section METHODS "$proto" | it_ic >"$tmp/documented"
man_section "IMPLEMENTATION NOTES" "$proto" | it_ic >"$tmp/notyet"
if [ ! -s "$tmp/implemented" ] || [ ! -s "$tmp/documented" ]; then
	fail "jobd-protocol.7: cannot read the methods of rpc.c or of the page"
else
	comm -23 "$tmp/implemented" "$tmp/documented" >"$tmp/x"
	if [ -s "$tmp/x" ]; then
		fail "jobd-protocol.7: methods of rpc.c missing from METHODS:"
		show "$tmp/x"
	else
		pass "jobd-protocol.7 documents every method of rpc.c"
	fi
	comm -12 "$tmp/implemented" "$tmp/notyet" >"$tmp/x"
	if [ -s "$tmp/x" ]; then
		fail "jobd-protocol.7: implemented in rpc.c, but listed as not" \
		    "implemented in IMPLEMENTATION NOTES (remove them there):"
		show "$tmp/x"
	else
		pass "jobd-protocol.7 lists no implemented method as missing"
	fi
	comm -23 "$tmp/documented" "$tmp/implemented" >"$tmp/x"
	comm -23 "$tmp/x" "$tmp/notyet" >"$tmp/y"
	comm -23 "$tmp/notyet" "$tmp/documented" >>"$tmp/y"
	if [ -s "$tmp/y" ]; then
		fail "jobd-protocol.7: documented methods neither in rpc.c nor" \
		    "in IMPLEMENTATION NOTES, or notes naming unknown methods:"
		show "$tmp/y"
	else
		pass "jobd-protocol.7: every documented method is in rpc.c or" \
		    "in IMPLEMENTATION NOTES (listed there:" \
		    "$(tr '\n' ' ' <"$tmp/notyet"))"
	fi
fi

# jobd-protocol(7): every JSON-RPC error code of jobd.h.
sed -n 's/^#define[[:space:]]*RPC_[A-Z_]*[[:space:]]*\(-[0-9]*\).*/\1/p' \
    "$srcdir/src/jobd.h" | sort -u >"$tmp/codes"
man_section "ERROR CODES" "$proto" |
    sed -n 's/^\.It \(-[0-9]*\)$/\1/p' | sort -u >"$tmp/doccodes"
if [ ! -s "$tmp/codes" ]; then
	fail "cannot read the RPC_* error codes of jobd.h"
elif ! cmp -s "$tmp/codes" "$tmp/doccodes"; then
	fail "jobd-protocol.7 ERROR CODES differ from jobd.h (< jobd.h, > page):"
	diff "$tmp/codes" "$tmp/doccodes" | grep '^[<>]' | sed 's/^/    /'
else
	pass "jobd-protocol.7 ERROR CODES are those of jobd.h" \
	    "($(wc -l <"$tmp/codes" | tr -d ' '))"
fi

# jobd-protocol(7) against the contract itself, when shared/ is there.
contract=$srcdir/../shared/PROTOCOL.md
if [ -f "$contract" ]; then
	# shellcheck disable=SC2016 # backquotes are Markdown, not commands
	awk '/^## /{ on = ($0 == "## Methods") } on && /^\| `/' "$contract" |
	    awk -F'|' '{ print $2 }' | grep -o '`[a-z]*\.[a-z_]*`' |
	    tr -d '`' | sort -u >"$tmp/contract"
	comm -23 "$tmp/contract" "$tmp/documented" >"$tmp/x"
	if [ ! -s "$tmp/contract" ]; then
		fail "cannot read the methods of $contract"
	elif [ -s "$tmp/x" ]; then
		fail "jobd-protocol.7: methods of PROTOCOL.md missing:"
		show "$tmp/x"
	else
		pass "jobd-protocol.7 documents every method of PROTOCOL.md"
	fi
	awk '/^## /{ on = ($0 ~ /^## Job types/) } on && /^\| `/' \
	    "$contract" | awk -F'|' '{ print $2 }' | tr -d ' `' |
	    sort -u >"$tmp/ctypes"
	man_section "JOB TYPES" "$proto" |
	    sed -n 's/^\.It Li \([a-z_]*\).*/\1/p' | sort -u >"$tmp/dtypes"
	comm -23 "$tmp/ctypes" "$tmp/dtypes" >"$tmp/x"
	if [ ! -s "$tmp/ctypes" ]; then
		fail "cannot read the job types of $contract"
	elif [ -s "$tmp/x" ]; then
		fail "jobd-protocol.7: job types of PROTOCOL.md missing:"
		show "$tmp/x"
	else
		pass "jobd-protocol.7 documents every job type of PROTOCOL.md"
	fi
else
	skip "no shared/PROTOCOL.md beside the source tree: contract not compared"
fi

# Configuration keys: config.c's table against jobd.conf(5), and every
# "section.key" the pages of this check mention is a real key.
awk '/config_keys\[\] = {/ { on = 1 } on && /^};/ { on = 0 }
    on' "$srcdir/src/config.c" |
    sed -n 's/^[[:space:]]*{[[:space:]]*"\([a-z]*\)",[[:space:]]*"\([a-z_]*\)".*/\1.\2/p' |
    sort -u >"$tmp/keys"
if [ ! -s "$tmp/keys" ]; then
	fail "cannot read the configuration keys of config.c"
else
	if [ -f "$srcdir/man/jobd.conf.5" ]; then
		sed -n 's/^\.It Ic \([a-z_]*\).*/\1/p' \
		    "$srcdir/man/jobd.conf.5" | sort -u >"$tmp/conf5"
		sed 's/^[a-z]*\.//' "$tmp/keys" | sort -u |
		    comm -23 - "$tmp/conf5" >"$tmp/x"
		if [ -s "$tmp/x" ]; then
			fail "jobd.conf.5 lacks keys of config.c:"
			show "$tmp/x"
		else
			pass "jobd.conf.5 documents every key of config.c" \
			    "($(wc -l <"$tmp/keys" | tr -d ' '))"
		fi
	else
		skip "man/jobd.conf.5 does not exist yet"
	fi
	sections=$(sed 's/\..*//' "$tmp/keys" | sort -u | tr '\n' '|' |
	    sed 's/|$//')
	cat "$srcdir/man/jobd.8" "$proto" |
	    grep -Eo "Ic ($sections)\.[a-z_]+" | sed 's/^Ic //' | sort -u |
	    comm -23 - "$tmp/keys" | comm -23 - "$tmp/documented" >"$tmp/x"
	if [ -s "$tmp/x" ]; then
		fail "jobd.8/jobd-protocol.7 name configuration keys that" \
		    "config.c does not have:"
		show "$tmp/x"
	else
		pass "the configuration keys jobd.8 and jobd-protocol.7 name exist"
	fi
fi

# --- systemd units ---------------------------------------------------------

service=$builddir/systemd/jobd.service
socket=$srcdir/systemd/jobd.socket

if grep -n '@[A-Za-z_]*@' "$service" >"$tmp/x"; then
	fail "jobd.service has unsubstituted variables:"
	show "$tmp/x"
else
	pass "jobd.service is fully substituted"
fi

# The socket unit listens where the daemon would, in the directory the
# service keeps (RuntimeDirectory= must not delete the socket).
defsock=$(sed -n 's/^#define[[:space:]]*JOBD_DEFAULT_SOCKET[[:space:]]*"\(.*\)".*/\1/p' \
    "$srcdir/src/jobd.h")
listen=$(sed -n 's/^ListenStream=//p' "$socket")
rtdir=$(sed -n 's/^RuntimeDirectory=//p' "$service")
if [ -z "$defsock" ] || [ "$listen" != "$defsock" ]; then
	fail "jobd.socket ListenStream=$listen, JOBD_DEFAULT_SOCKET is $defsock"
else
	pass "jobd.socket listens on the default socket $defsock"
fi
if [ "${listen%/*}" = "/run/$rtdir" ] &&
    grep -qx 'RuntimeDirectoryPreserve=yes' "$service"; then
	pass "the socket's directory is the service's preserved RuntimeDirectory"
else
	fail "jobd.service: RuntimeDirectory=$rtdir with" \
	    "RuntimeDirectoryPreserve=yes must hold ${listen%/*}"
fi

# TimeoutStopSec= above the default drain timeout.
drain=$(awk '/"drain_timeout_s"/ { getline; print; exit }' \
    "$srcdir/src/config.c" | sed -n 's/.*"\([0-9]*\)".*/\1/p')
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$service")
if [ -n "$drain" ] && [ -n "$stop" ] && [ "$stop" -gt "$drain" ]; then
	pass "TimeoutStopSec=${stop}s is above drain_timeout_s=$drain"
else
	fail "TimeoutStopSec (${stop:-unreadable}) must be a number of" \
	    "seconds above daemon.drain_timeout_s (${drain:-unreadable})"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart= to exist: point it at the built daemon.
	mkdir "$tmp/units"
	sed "s|^ExecStart=[^ ]*|ExecStart=$jobd|" "$service" \
	    >"$tmp/units/jobd.service"
	cp "$socket" "$tmp/units/jobd.socket"
	# Documentation=man: links resolve to the project's own pages.
	manopt=--man=no
	if command -v man >/dev/null 2>&1; then
		for page in "$srcdir"/man/*.[1-8]; do
			[ -f "$page" ] || continue
			mkdir -p "$tmp/man/man${page##*.}"
			cp "$page" "$tmp/man/man${page##*.}/"
		done
		manopt=--man=yes
	fi
	if (cd "$tmp/units" && MANPATH=$tmp/man systemd-analyze verify \
	    $manopt ./jobd.service ./jobd.socket) >"$tmp/verify" 2>&1 &&
	    [ ! -s "$tmp/verify" ]; then
		pass "systemd-analyze verify $manopt jobd.service jobd.socket"
	else
		fail "systemd-analyze verify jobd.service jobd.socket:"
		show "$tmp/verify"
	fi
	# Hardening: an overall exposure of at most 2.0 (of 10).
	if systemd-analyze security --help 2>/dev/null |
	    grep -q -- '--offline'; then
		if (cd "$tmp/units" && systemd-analyze security --offline=true \
		    --threshold=20 ./jobd.service) >"$tmp/sec" 2>&1; then
			pass "systemd-analyze security: $(grep -o \
			    'exposure level.*' "$tmp/sec")"
		else
			fail "systemd-analyze security: exposure above 2.0:"
			grep -E '^- |exposure level' "$tmp/sec" >"$tmp/x"
			show "$tmp/x"
		fi
	else
		skip "systemd-analyze security --offline needs systemd 250 or later"
	fi
else
	skip "systemd-analyze not installed (Debian package systemd):" \
	    "units not verified"
fi

# sysusers.d and tmpfiles.d, applied to a scratch root.
if command -v systemd-sysusers >/dev/null 2>&1 &&
    command -v systemd-tmpfiles >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	mkdir -p "$tmp/root/etc"
	if systemd-sysusers --root="$tmp/root" \
	    "$srcdir/systemd/jobd.sysusers" >"$tmp/su" 2>&1 &&
	    grep -q '^jobd:x:[0-9]*:[0-9]*:[^:]*:/var/lib/jobd:' \
	    "$tmp/root/etc/passwd" && grep -q '^jobd:' "$tmp/root/etc/group"
	then
		pass "sysusers.d snippet creates the user and group jobd"
	else
		fail "sysusers.d snippet:"
		show "$tmp/su"
	fi
	uid=$(sed -n 's/^jobd:x:\([0-9]*\):.*/\1/p' "$tmp/root/etc/passwd" \
	    2>/dev/null)
	if systemd-tmpfiles --root="$tmp/root" --create \
	    "$srcdir/systemd/jobd.tmpfiles" >"$tmp/tf" 2>&1 &&
	    [ "$(stat -c '%a %u' "$tmp/root/var/lib/jobd/downloads")" = \
	    "750 $uid" ]; then
		pass "tmpfiles.d snippet creates /var/lib/jobd/downloads 0750 jobd"
	else
		fail "tmpfiles.d snippet:"
		show "$tmp/tf"
	fi
else
	skip "sysusers.d/tmpfiles.d not applied (needs root and systemd)"
fi

echo "check_docs: $npass passed, $nfail failed"
if [ "$nfail" -gt 0 ]; then
	exit 1
fi
if [ -n "$skipped" ]; then
	case $skipped in
	*mandoc*|*systemd-analyze*)
		echo "skipped:$skipped"
		exit 77 ;;
	esac
fi
exit 0

#!/bin/sh
# carpentry demo: the stand-in for OpenBSD's ifconfig, pfctl, sysctl, smtpctl, rcctl, netstat and
# pgrep inside a simulated gateway (linked at /sbin/ifconfig, /usr/sbin/rcctl, ...). It prints what
# the demo set for exactly these arguments, from a state directory outside the host's /etc.
#
# The protocol is the test harness's (test/harness/standin.sh), so the two read the same state
# layout: each argument with every byte outside [A-Za-z0-9._=+,:@-] written %XX, joined with "_"
# (no arguments: "(none)"), is the key; STATE/<tool>/<key>.out goes to stdout, <key>.err to stderr,
# <key>.rc is the exit code (default 0); STATE is /run/carpentry-demo/state/<this host's name>
# (/etc/myname, as on OpenBSD).
# This one is POSIX sh, not mksh: the demo must run on a machine that has nothing but Node and the
# base system. Unlike the harness's, it keeps no command log.
read -r host </etc/myname
STATE=/run/carpentry-demo/state/$host
tool=${0##*/}

encode() {	# $1 -> $encoded
	rest=$1
	encoded=
	while [ -n "$rest" ]; do
		tail=${rest#?}
		char=${rest%"$tail"}
		rest=$tail
		case $char in
		[A-Za-z0-9._=+,:@-]) encoded=$encoded$char ;;
		*) encoded=$encoded$(printf '%%%02X' "'$char") ;;
		esac
	done
}

key=
sep=
for arg do
	case $arg in
	*[!A-Za-z0-9._=+,:@-]*) encode "$arg" ;;
	*) encoded=$arg ;;
	esac
	key=$key$sep$encoded
	sep=_
done
[ $# -eq 0 ] && key="(none)"
base=$STATE/$tool/$key

if [ ! -e "$base.out" ] && [ ! -e "$base.err" ] && [ ! -e "$base.rc" ]; then
	for last do :; done
	case $tool in
	ifconfig) echo "ifconfig: ${last:-?}: no such interface" >&2 ;;
	pfctl) echo "pfctl: /dev/pf: No such file or directory" >&2 ;;
	sysctl) echo "sysctl: ${last:-?}: no such name" >&2 ;;
	rcctl) echo "rcctl: service ${last:-?} does not exist" >&2 ;;
	smtpctl) echo "smtpctl: smtpd doesn't seem to be running" >&2 ;;
	*) echo "$tool: $*: not simulated by carpentry demo" >&2 ;;
	esac
	exit 1
fi
[ -s "$base.out" ] && cat -- "$base.out"
[ -s "$base.err" ] && cat -- "$base.err" >&2
rc=0
[ -f "$base.rc" ] && read -r rc <"$base.rc"
exit "$rc"

#!/bin/sh
# The stand-in for the OpenBSD commands a simulated gateway lacks: ifconfig, pfctl, sysctl, smtpctl,
# rcctl, netstat, pgrep, ntpctl, syspatch, pkg_info, and mailq (OpenBSD's mailwrapper runs `smtpctl
# show queue` for it), linked at their OpenBSD paths. The demo's hosts (src/sim/pair.ts) and the e2e harness's
# (test/harness/pair.ts) run this one script; standinScript() (standin.ts) installs it with the
# lines each of them needs in place of @SETTINGS@ below: they set STATE, the directory of this
# host's outputs, and define `standin_log KIND ARGV...`, which records a call (or does nothing).
#
# 1. A call that would change the gateway (pfctl -f/-F/-k/-T add..., ifconfig carp0 down,
#    sysctl a=b, rcctl start..., smtpctl schedule...) is refused: logged "refused", a message on
#    stderr, exit 1. No check may ever change a gateway.
# 2. Otherwise the arguments map to a key: each argument with every byte outside
#    [A-Za-z0-9._=+,:@-] written %XX, joined with "_"; no arguments is "(none)" (standinKey() in
#    standin-key.ts). ifconfig -g carp -> ifconfig/-g_carp, pfctl -t badhosts -T show ->
#    pfctl/-t_badhosts_-T_show.
# 3. STATE/<tool>/<key>.out goes to stdout, <key>.err to stderr, after <key>.delay seconds if
#    present; the exit code is <key>.rc (default 0); logged "standin". With <key>.seq (a count N),
#    the n-th call uses <key>.<min(n,N)>.{out,err,rc,delay}. With no file for the key: an
#    OpenBSD-like error, logged "unset", exit 1.
# POSIX sh: the demo runs it with the machine's /bin/sh, on a machine with nothing but Node and the
# base system.
@SETTINGS@

argv0=$0
tool=${0##*/}

# -- Which calls change state ------------------------------------------------------------------
pfctl_changes_state() {
	dry=0 load=0 change=0
	while [ $# -gt 0 ]; do
		arg=$1
		shift
		[ "$arg" = -- ] && break
		case $arg in
		-?*) ;;
		*) continue ;;	# addresses after "-T add" etc.
		esac
		rest=${arg#-}
		while [ -n "$rest" ]; do
			tail=${rest#?}
			option=${rest%"$tail"}
			rest=$tail
			case $option in
			[aDFfiKkLoSpsRtTVx])
				if [ -n "$rest" ]; then
					optarg=$rest
					rest=
				else
					optarg=${1-}
					if [ $# -gt 0 ]; then shift; fi
				fi
				case $option in
				f) load=1 ;;
				[FKkLSx]) change=1 ;;
				T)
					case $optarg in
					add|delete|replace|flush|expire|zero|load|kill|reset) load=1 ;;
					esac
					;;
				esac
				;;
			[dez]) change=1 ;;
			n) dry=1 ;;
			esac
		done
	done
	[ "$change" = 1 ] || { [ "$load" = 1 ] && [ "$dry" = 0 ]; }
}

ifconfig_changes_state() {
	case ${1-} in
	-g|-M)
		[ $# -gt 2 ]
		return
		;;
	-[aAC]*)
		case ${1#-} in
		*[!aAC]*) ;;
		*) shift ;;
		esac
		;;
	esac
	[ $# -le 1 ] && return 1
	if [ $# -eq 2 ]; then
		case $2 in
		inet|inet6) return 1 ;;
		esac
	fi
	return 0
}

sysctl_changes_state() {
	for arg do
		case $arg in
		*=*) return 0 ;;
		esac
	done
	return 1
}

first_word() {	# the first argument that is not an option -> $word
	word=
	for arg do
		case $arg in
		-*) ;;
		*)
			word=$arg
			return
			;;
		esac
	done
}

changes_state() {
	case $tool in
	pfctl) pfctl_changes_state "$@" ;;
	ifconfig) ifconfig_changes_state "$@" ;;
	sysctl) sysctl_changes_state "$@" ;;
	rcctl)
		first_word "$@"
		case $word in
		enable|disable|set|order|start|stop|restart|reload) return 0 ;;
		esac
		return 1
		;;
	smtpctl)
		first_word "$@"
		case $word in
		schedule|remove|pause|resume|stop|discover|uncorrupt|update|log|profile|unprofile|trace|untrace) return 0 ;;
		esac
		return 1
		;;
	# syspatch without -l (list installed) or -c (list available) installs or reverts patches.
	syspatch)
		case "$*" in
		-l|-c) return 1 ;;
		esac
		return 0
		;;
	*) return 1 ;;
	esac
}

# -- Key ----------------------------------------------------------------------------------------
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

if [ "$tool" = mailq ]; then
	tool=smtpctl
	key=show_queue
else
	if changes_state "$@"; then
		standin_log refused "$argv0" "$@"
		printf '%s\n' "$tool: refused by the simulated gateway: state-changing command: $tool $*" >&2
		exit 1
	fi
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
fi

# -- Answer -------------------------------------------------------------------------------------
base=$STATE/$tool/$key
if [ -f "$base.seq" ]; then
	read -r steps <"$base.seq"
	calls=0
	[ -f "$base.calls" ] && read -r calls <"$base.calls"
	calls=$((calls + 1))
	echo "$calls" >"$base.calls"
	[ "$calls" -gt "$steps" ] && calls=$steps
	base=$base.$calls
fi

if [ ! -e "$base.out" ] && [ ! -e "$base.err" ] && [ ! -e "$base.rc" ]; then
	standin_log unset "$argv0" "$@"
	last=
	for last do :; done
	case $tool in
	ifconfig) printf '%s\n' "ifconfig: ${last:-?}: no such interface" >&2 ;;
	pfctl) printf '%s\n' "pfctl: /dev/pf: No such file or directory" >&2 ;;
	sysctl) printf '%s\n' "sysctl: ${last:-?}: no such name" >&2 ;;
	rcctl) printf '%s\n' "rcctl: service ${last:-?} does not exist" >&2 ;;
	smtpctl) printf '%s\n' "smtpctl: smtpd doesn't seem to be running" >&2 ;;
	ntpctl) printf '%s\n' "ntpctl: connect: /var/run/ntpd.sock: No such file or directory" >&2 ;;
	*) printf '%s\n' "$tool: $*: not simulated" >&2 ;;
	esac
	exit 1
fi

standin_log standin "$argv0" "$@"
if [ -f "$base.delay" ]; then
	read -r delay <"$base.delay"
	sleep "$delay"
fi
[ -s "$base.out" ] && cat -- "$base.out"
[ -s "$base.err" ] && cat -- "$base.err" >&2
rc=0
[ -f "$base.rc" ] && read -r rc <"$base.rc"
exit "$rc"

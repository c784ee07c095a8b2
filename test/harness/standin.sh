#!/usr/bin/mksh
# Generic stand-in for the OpenBSD-only commands of a simulated host: installed (as symlinks) at
# /sbin/ifconfig, /sbin/pfctl, /sbin/sysctl, /usr/sbin/smtpctl, /usr/sbin/rcctl, /usr/bin/netstat
# and /usr/bin/mailq inside each host. See README.md, "Stand-ins".
#
# 1. Every call is appended to the host's command log (kind "standin", or "refused"/"unset").
# 2. A state-changing call (pfctl -f/-F/-k/-T add..., ifconfig carp0 down, sysctl a=b,
#    rcctl start..., smtpctl schedule...) is logged as "refused" and refused: message on stderr,
#    exit 1. The simulated gateways must never be changed by a check.
# 3. Otherwise the arguments map to a key: each argument percent-encoded (bytes outside
#    [A-Za-z0-9._=+,:@-] become %XX), joined with "_"; no arguments is "(none)". Examples:
#    ifconfig carp -> ifconfig/carp, ifconfig -g carp -> ifconfig/-g_carp,
#    pfctl -t badhosts -T show -> pfctl/-t_badhosts_-T_show, pfctl -si -> pfctl/-si.
#    The stand-in prints STATE/<tool>/<key>.out on stdout, <key>.err on stderr, sleeps
#    <key>.delay seconds if present, and exits with <key>.rc (default 0). With <key>.seq (a count
#    N) the n-th call uses <key>.<min(n,N)>.{out,err,rc,delay}. STATE lives outside the overlays.
#    With no such files it prints an OpenBSD-like error, logs "unset", and exits 1.
. @HARNESS_DIR@/bin/harness-lib.sh

argv0=$0
tool=${0##*/}
if [[ $tool = mailq ]]; then
	# OpenBSD's mailwrapper runs smtpctl for mailq: same output as "smtpctl show queue".
	tool=smtpctl
	set -A args -- show queue
else
	set -A args -- "$@"
fi

# -- Which calls change state ------------------------------------------------------------------
pfctl_changes_state() {
	typeset a c rest optarg
	typeset -i dry=0 load=0 change=0
	while (( $# )); do
		a=$1
		shift
		[[ $a = -- ]] && break
		[[ $a = -?* ]] || continue	# addresses after "-T add" etc.
		rest=${a#-}
		while [[ -n $rest ]]; do
			c=${rest:0:1}
			rest=${rest:1}
			case $c in
			[aDFfiKkLoSpsRtTVx])
				if [[ -n $rest ]]; then
					optarg=$rest
					rest=
				else
					optarg=${1-}
					(( $# )) && shift
				fi
				case $c in
				f) load=1 ;;
				F|K|k|L|S|x) change=1 ;;
				T)
					case $optarg in
					add|delete|replace|flush|expire|zero|load|kill|reset) load=1 ;;
					esac
					;;
				esac
				;;
			d|e|z) change=1 ;;
			n) dry=1 ;;
			esac
		done
	done
	(( change || (load && !dry) ))
}

ifconfig_changes_state() {
	if [[ ${1-} = @(-g|-M) ]]; then
		(( $# > 2 ))
		return
	fi
	[[ ${1-} = -+([aAC]) ]] && shift
	(( $# <= 1 )) && return 1
	(( $# == 2 )) && [[ $2 = @(inet|inet6) ]] && return 1
	return 0
}

sysctl_changes_state() {
	typeset a
	for a in "$@"; do
		[[ $a = *=* ]] && return 0
	done
	return 1
}

first_word() {	# first argument that is not an option
	typeset a
	for a in "$@"; do
		[[ $a = -* ]] && continue
		REPLY=$a
		return
	done
	REPLY=
}

changes_state() {
	case $tool in
	pfctl) pfctl_changes_state "$@" ;;
	ifconfig) ifconfig_changes_state "$@" ;;
	sysctl) sysctl_changes_state "$@" ;;
	rcctl)
		first_word "$@"
		[[ $REPLY = @(enable|disable|set|order|start|stop|restart|reload) ]]
		;;
	smtpctl)
		first_word "$@"
		[[ $REPLY = @(schedule|remove|pause|resume|stop|discover|uncorrupt|update|log|profile|unprofile|trace|untrace) ]]
		;;
	*) return 1 ;;
	esac
}

if changes_state "${args[@]}"; then
	harness_log refused "$argv0" "$@"
	print -ru2 -- "$tool: refused by the carpentry test harness: state-changing command: $tool ${args[*]}"
	exit 1
fi

# -- Key ----------------------------------------------------------------------------------------
encode_arg() {	# $1 -> REPLY
	typeset s=$1 out= c hex
	typeset -i16 n
	case $s in
	*[!A-Za-z0-9._=+,:@-]*) ;;
	*)
		REPLY=$s
		return
		;;
	esac
	while [[ -n $s ]]; do
		c=${s:0:1}
		s=${s:1}
		case $c in
		[A-Za-z0-9._=+,:@-]) out=$out$c ;;
		*)
			n=1#$c
			hex=${n#16#}
			typeset -u hex
			(( ${#hex} == 1 )) && hex=0$hex
			out=$out%$hex
			;;
		esac
	done
	REPLY=$out
}

key=
if (( ${#args[@]} == 0 )); then
	key='(none)'
else
	sep=
	for a in "${args[@]}"; do
		encode_arg "$a"
		key=$key$sep$REPLY
		sep=_
	done
fi

base=$HARNESS_DIR/state/$tool/$key
if [[ -f $base.seq ]]; then
	read -r steps <"$base.seq"
	calls=0
	[[ -f $base.calls ]] && read -r calls <"$base.calls"
	(( calls += 1 ))
	print -r -- "$calls" >"$base.calls"
	(( calls > steps )) && calls=$steps
	base=$base.$calls
fi

if [[ ! -e $base.out && ! -e $base.err && ! -e $base.rc ]]; then
	harness_log unset "$argv0" "$@"
	case $tool in
	ifconfig) print -ru2 -- "ifconfig: ${args[${#args[@]}-1]:-?}: no such interface" ;;
	pfctl) print -ru2 -- "pfctl: /dev/pf: No such file or directory" ;;
	sysctl) print -ru2 -- "sysctl: ${args[${#args[@]}-1]:-?}: no such name" ;;
	rcctl) print -ru2 -- "rcctl: service ${args[${#args[@]}-1]:-?} does not exist" ;;
	smtpctl) print -ru2 -- "smtpctl: smtpd doesn't seem to be running" ;;
	*) print -ru2 -- "$tool: ${args[*]}: not available" ;;
	esac
	exit 1
fi

harness_log standin "$argv0" "$@"
if [[ -f $base.delay ]]; then
	read -r delay <"$base.delay"
	/usr/bin/sleep "$delay"
fi
[[ -s $base.out ]] && /usr/bin/cat -- "$base.out"
[[ -s $base.err ]] && /usr/bin/cat -- "$base.err" >&2
rc=0
[[ -f $base.rc ]] && read -r rc <"$base.rc"
exit "$rc"

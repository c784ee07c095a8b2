#!/usr/bin/mksh
# OpenBSD userland for a simulated host. Installed (as symlinks) over /usr/bin/{env,find,head,sed,
# sort,stat,xargs} and as /usr/bin/{md5,sha1,sha256,sha512}. See README.md, "OpenBSD userland".
#
# Guards: the options each OpenBSD tool accepts are listed below, in OpenBSD getopt(3) syntax.
# Anything else - the GNU-only options a check might use by habit (stat -c, find -printf,
# sort --parallel, head -c, env -S, xargs -d, sed -z, --long options...) - is rejected as
# OpenBSD's getopt does ("<tool>: unknown option -- c", the tool's usage, exit 1; sort exits 2),
# and logged as "rejected" in the host's command log. Accepted calls are translated where OpenBSD
# and GNU differ (stat -f FORMAT, find -d/-x/-f, sed -a, sort -H) and run with the real GNU tool,
# with "--" after the options, as OpenBSD's getopt stops at the first operand.
# Digests: md5, sha1, sha256, sha512 (OpenBSD's md5(1) family, absent on Debian) for -q, -r, -s.
. @HARNESS_DIR@/bin/harness-lib.sh
REAL=$HARNESS_DIR/real-bin	# the host's view of the real /usr/bin, before the overlay
argv0=$0
tool=${0##*/}
set -A ARGS -- "$@"
status=1

# -- The one place that says which options OpenBSD accepts -------------------------------------
case $tool in
env)
	optstring='iu:'
	usage='usage: env [-i] [-u name] [name=value ...] [utility [argument ...]]'
	;;
find)	# find.c main(); primaries: option.c rev 1.21
	optstring='Hdf:hLXx'
	usage='usage: find [-dHhLXx] [-f path] path ... [expression]'
	;;
head)	# also -count
	optstring='n:'
	usage='usage: head [-count | -n count] [file ...]'
	;;
sed)	# main.c: getopt "Eae:f:i::nru"; -i takes an optional attached extension
	optstring='Eae:f:i::nru'
	usage='usage: sed [-aEnru] [-i[extension]] command [file ...]
       sed [-aEnru] [-e command] [-f command_file] [-i[extension]] [file ...]'
	;;
sort)	# sort.c: getopt_long (permutes); long options below
	optstring='bCcdfgHhik:Mmno:RrS:st:T:uVz'
	usage='usage: sort [-bCcdfgHhiMmnRrsuVz] [-k field1[,field2]] [-o output] [-S size]
	[-T dir] [-t char] [file ...]'
	status=2
	;;
stat)
	optstring='f:FlLnqrst:x'
	usage='usage: stat [-FLnq] [-f format | -l | -r | -s | -x] [-t timefmt] [file ...]'
	;;
xargs)
	optstring='0E:I:J:L:n:oP:pR:rs:tx'
	usage='usage: xargs [-0oprt] [-E eofstr] [-I replstr [-R replacements]] [-J replstr]
             [-L number] [-n number [-x]] [-P maxprocs] [-s size]
             [utility [argument ...]]'
	;;
md5|sha1|sha256|sha512)	# md5.c; only -q, -r and -s are simulated
	optstring='a:bC:ch:npqrs:tx'
	usage="usage: $tool [-bcnpqrtx] [-a algorithms] [-C checklist] [-h hashfile] [-s string] [file ...]"
	;;
*)
	print -ru2 -- "gnu-guard: unknown tool $tool"
	exit 1
	;;
esac
# OpenBSD find(1) primaries; the ones taking one argument; -exec/-execdir/-ok take a command.
find_primaries=' ! ( ) -a -and -delete -depth -empty -follow -ls -mount -nogroup -not -nouser -o -or -print -print0 -prune -xdev '
find_primaries_arg=' -amin -anewer -atime -cmin -cnewer -ctime -flags -fstype -group -iname -inum -links -maxdepth -mindepth -mmin -mtime -name -newer -path -perm -size -type -user '
# OpenBSD sort(1) long options ("=" when they take an argument).
sort_long=' batch-size= buffer-size= check check= compress-program= debug dictionary-order field-separator= files0-from= general-numeric-sort heapsort help human-numeric-sort ignore-case ignore-leading-blanks ignore-nonprinting key= merge mergesort mmap month-sort numeric-sort output= qsort radixsort random-sort random-source= reverse sort= stable temporary-directory= unique version version-sort zero-terminated '

reject() {	# message [nousage]; an empty message prints the usage only
	harness_log rejected "$argv0" "${ARGS[@]}"
	[[ -n $1 ]] && print -ru2 -- "$tool: $1"
	[[ -n ${2-} ]] || print -ru2 -- "$usage"
	exit $status
}

not_simulated() {
	harness_log rejected "$argv0" "${ARGS[@]}"
	print -ru2 -- "$tool: $1 is valid on OpenBSD but not simulated by the carpentry test harness (test/harness/gnu-guard.sh)"
	exit 1
}

# -- getopt(3) as OpenBSD does it: O = options (one word each, then the argument), P = operands --
set -A O
set -A P
while (( $# )); do
	a=$1
	shift
	if [[ $a = -- ]]; then
		P+=("$@")
		break
	fi
	if [[ $tool = sort && $a = --?* ]]; then
		name=${a#--}
		name=${name%%=*}
		case $sort_long in
		*" $name "*|*" $name= "*) ;;
		*) reject "unknown option -- $name" ;;
		esac
		O+=("$a")
		if [[ $a != *=* && $sort_long = *" $name= "* && $sort_long != *" $name "* ]]; then
			(( $# )) || reject "option requires an argument -- $name"
			O+=("$1")
			shift
		fi
		continue
	fi
	if [[ $a = -?* ]]; then
		if [[ $tool = head && $a = -+([0-9]) ]]; then
			O+=(-n "${a#-}")
			continue
		fi
		rest=${a#-}
		while [[ -n $rest ]]; do
			c=${rest:0:1}
			rest=${rest:1}
			[[ $c = : ]] && reject "unknown option -- $c"
			case $optstring in
			*"$c::"*)
				O+=("-$c$rest")
				rest=
				;;
			*"$c:"*)
				if [[ -n $rest ]]; then
					O+=("-$c" "$rest")
					rest=
				elif (( $# )); then
					O+=("-$c" "$1")
					shift
				else
					reject "option requires an argument -- $c"
				fi
				;;
			*"$c"*) O+=("-$c") ;;
			*) reject "unknown option -- $c" ;;
			esac
		done
		continue
	fi
	P+=("$a")
	[[ $tool = sort ]] && continue	# getopt_long permutes
	P+=("$@")
	break
done

# -- Translate and run ---------------------------------------------------------------------------
case $tool in
env|head|xargs)
	exec "$REAL/$tool" "${O[@]}" -- "${P[@]}"
	;;
sed)
	set -A G
	for o in "${O[@]}"; do
		[[ $o = -a ]] || G+=("$o")
	done
	exec "$REAL/sed" "${G[@]}" -- "${P[@]}"
	;;
sort)
	set -A G
	for o in "${O[@]}"; do
		[[ $o = @(-H|--heapsort|--qsort|--radixsort|--mergesort|--mmap) ]] || G+=("$o")
	done
	exec "$REAL/sort" "${G[@]}" -- "${P[@]}"
	;;
find)
	set -A pre
	set -A paths
	set -A globals
	i=0
	while (( i < ${#O[@]} )); do
		case ${O[i]} in
		-H) pre+=(-H) ;;
		-h|-L) pre+=(-L) ;;
		-d) globals+=(-depth) ;;
		-x) globals+=(-xdev) ;;
		-f)
			(( i += 1 ))
			paths+=("${O[i]}")
			;;
		esac
		(( i += 1 ))
	done
	i=0
	while (( i < ${#P[@]} )); do
		[[ ${P[i]} = -* || ${P[i]} = '!' || ${P[i]} = '(' ]] && break
		paths+=("${P[i]}")
		(( i += 1 ))
	done
	(( ${#paths[@]} )) || reject "" # usage only
	set -A expr
	while (( i < ${#P[@]} )); do
		t=${P[i]}
		expr+=("$t")
		(( i += 1 ))
		if [[ $find_primaries_arg = *" $t "* ]]; then
			(( i < ${#P[@]} )) || reject "$t: requires additional arguments" nousage
			expr+=("${P[i]}")
			(( i += 1 ))
		elif [[ $t = @(-exec|-execdir|-ok) ]]; then
			(( i < ${#P[@]} )) || reject "$t: requires additional arguments" nousage
			while (( i < ${#P[@]} )); do
				expr+=("${P[i]}")
				(( i += 1 ))
				[[ ${P[i-1]} = @(\;|+) ]] && break
			done
		elif [[ $find_primaries != *" $t "* ]]; then
			reject "$t: unknown option" nousage
		fi
	done
	exec "$REAL/find" "${pre[@]}" "${paths[@]}" -nowarn "${globals[@]}" "${expr[@]}"
	;;
stat)
	set -A G
	fmt=
	nonl=0
	quiet=0
	i=0
	while (( i < ${#O[@]} )); do
		case ${O[i]} in
		-f)
			(( i += 1 ))
			fmt=${O[i]}
			;;
		-L) G+=(-L) ;;
		-n) nonl=1 ;;
		-q) quiet=1 ;;
		*) not_simulated "stat ${O[i]}" ;;
		esac
		(( i += 1 ))
	done
	[[ -n $fmt ]] || not_simulated "stat without -f"
	# OpenBSD stat -f conversions -> GNU stat --printf. Flags, widths, precisions, %p, %Sp
	# sub-fields and strftime times are not simulated. %Lp is GNU %a (differs for setuid etc.).
	out=
	rest=$fmt
	while [[ -n $rest ]]; do
		c=${rest:0:1}
		rest=${rest:1}
		if [[ $c != % ]]; then
			case $c in
			\\) out=$out'\\' ;;
			*) out=$out$c ;;
			esac
			continue
		fi
		case $rest in
		%*) out=$out'%%'; rest=${rest:1} ;;
		n*) out=$out'\n'; rest=${rest:1} ;;
		t*) out=$out'\t'; rest=${rest:1} ;;
		N*) out=$out%n; rest=${rest:1} ;;
		z*) out=$out%s; rest=${rest:1} ;;
		u*) out=$out%u; rest=${rest:1} ;;
		g*) out=$out%g; rest=${rest:1} ;;
		i*) out=$out%i; rest=${rest:1} ;;
		l*) out=$out%h; rest=${rest:1} ;;
		d*) out=$out%d; rest=${rest:1} ;;
		k*) out=$out%o; rest=${rest:1} ;;
		b*) out=$out%b; rest=${rest:1} ;;
		m*) out=$out%Y; rest=${rest:1} ;;
		a*) out=$out%X; rest=${rest:1} ;;
		c*) out=$out%Z; rest=${rest:1} ;;
		Su*) out=$out%U; rest=${rest:2} ;;
		Sg*) out=$out%G; rest=${rest:2} ;;
		Sp*) out=$out%A; rest=${rest:2} ;;
		Lp*) out=$out%a; rest=${rest:2} ;;
		OLp*) out=$out%a; rest=${rest:3} ;;
		*) not_simulated "stat -f format %$rest" ;;
		esac
	done
	(( nonl )) || out=$out'\n'
	(( ${#P[@]} )) || P+=(-)
	if (( quiet )); then
		exec "$REAL/stat" "${G[@]}" --printf="$out" -- "${P[@]}" 2>/dev/null
	fi
	exec "$REAL/stat" "${G[@]}" --printf="$out" -- "${P[@]}"
	;;
md5|sha1|sha256|sha512)
	style=md5
	set -A strings
	i=0
	while (( i < ${#O[@]} )); do
		case ${O[i]} in
		-q) style=terse ;;
		-r) style=cksum ;;
		-s)
			(( i += 1 ))
			strings+=("${O[i]}")
			;;
		*) not_simulated "$tool ${O[i]}" ;;
		esac
		(( i += 1 ))
	done
	typeset -u alg=$tool
	sum=$REAL/${tool}sum
	rc=0
	emit() {	# digest name
		case $style in
		terse) print -r -- "$1" ;;
		cksum) print -r -- "$1 $2" ;;
		*) print -r -- "$alg ($2) = $1" ;;
		esac
	}
	for s in "${strings[@]}"; do
		d=$(print -nr -- "$s" | "$sum")
		emit "${d%% *}" "\"$s\""
	done
	if (( ${#P[@]} == 0 && ${#strings[@]} == 0 )); then
		d=$("$sum")
		print -r -- "${d%% *}"
	fi
	# one sha256sum for a run of files, as OpenBSD's sha256 is one process; names GNU would
	# escape in its output (backslash, newline) are hashed one by one
	set -A plain
	flush() {
		(( ${#plain[@]} )) || return 0
		"$sum" -- "${plain[@]}" | while IFS= read -r line; do
			emit "${line%%  *}" "${line#*  }"
		done
		set -A plain
	}
	for f in "${P[@]}"; do
		if [[ ! -e $f ]]; then
			flush
			print -ru2 -- "$tool: $f: No such file or directory"
			rc=1
		elif [[ -d $f ]]; then
			flush
			print -ru2 -- "$tool: $f: read: Is a directory"
			rc=1
		elif [[ $f = *[\\$'\n']* ]]; then
			flush
			d=$("$sum" <"$f") || { rc=1; continue; }
			emit "${d%% *}" "$f"
		else
			plain+=("$f")
		fi
	done
	flush
	exit $rc
	;;
esac

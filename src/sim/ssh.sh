#!/bin/sh
# carpentry demo: the peer link without sshd ([peer] ssh_path of the demo's hosts). Takes ssh's
# arguments as the checks pass them (options, -T, --, host, remote command) and has the named host run
# the command (holder.sh serves the calls: a host's processes are in its own PID namespace, which no
# other host can enter), with the environment OpenBSD's sshd gives root there; stdin, stdout, stderr
# and the exit code pass through, and 255 with ssh's message stands for a peer that cannot be reached.
run=/run/carpentry-demo
while [ $# -gt 0 ]; do
	option=$1
	shift
	[ "$option" = -- ] && break
done
host=${1-}
[ $# -gt 0 ] && shift

if [ -f "$run/link/$host.down" ]; then
	echo "ssh: connect to host $host port 22: Connection refused" >&2
	exit 255
fi
calls=$run/hosts/$host/calls
if [ -z "$host" ] || [ ! -p "$calls" ]; then
	echo "ssh: Could not resolve hostname $host: Name or service not known" >&2
	exit 255
fi

call=$(mktemp -d "$run/link/call.XXXXXX")
feeder=
trap '[ -z "$feeder" ] || kill "$feeder" 2>/dev/null; rm -rf -- "$call"' EXIT
mkfifo "$call/in" "$call/out" "$call/err" "$call/rc"
printf '%s' "$*" >"$call/cmd"
exec 3<&0
cat <&3 >"$call/in" &
feeder=$!
exec 3<&-
cat <"$call/err" >&2 &
stderr_copy=$!
echo "$call" >"$calls"
cat <"$call/out"
read -r status <"$call/rc"
wait "$stderr_copy"
exit "$status"

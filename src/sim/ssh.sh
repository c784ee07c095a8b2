#!/bin/sh
# carpentry demo: the peer link without sshd ([peer] ssh_path of the demo's hosts). Takes ssh's
# arguments as the checks pass them (options, -T, --, host, remote command) and runs the command in
# the named host, with the environment OpenBSD's sshd gives root there; stdin, stdout, stderr and the
# exit code pass through, and 255 with ssh's message stands for a peer that cannot be reached.
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
if ! read -r pid 2>/dev/null <"$run/hosts/$host/pid"; then
	echo "ssh: Could not resolve hostname $host: Name or service not known" >&2
	exit 255
fi
exec nsenter -m -u -t "$pid" -- /usr/bin/env -i -C /root HOME=/root USER=root LOGNAME=root SHELL=/bin/sh \
	PATH=/usr/bin:/bin:/usr/sbin:/sbin:/usr/X11R6/bin:/usr/local/bin:/usr/local/sbin /bin/sh -c "$*"

#!/bin/sh
# carpentry demo: one simulated gateway. Run by `unshare --mount --uts --pid --fork --mount-proc`
# inside the demo's user namespace, as pid 1 of the host's own PID namespace (ps in the host sees the
# host's processes alone, through its own /proc): gives this host its own view of the file system,
# serves the peer link (ssh.sh), says "ready", then holds the host's namespaces until the demo closes
# its stdin (or the demo's PID namespace ends). When it exits, the kernel ends every process of the host.
#
#   holder.sh NAME DEMO_DIR NODE LAYERS
#   NAME      primary or secondary (the host name)
#   DEMO_DIR  the demo's directory (a tmpfs), seen in the host as /run/carpentry-demo
#   NODE      the node binary, seen in the host as /usr/local/bin/node (where OpenBSD has it)
#   LAYERS    overlay: writable layers over the machine's directories; farm: tmpfs of symlinks
#             (what overlay falls back to: kernels before 5.11 allow no overlay in a user namespace)
#   SIM_SHADOW    directories made writable in this host alone, the machine's files still in them
#   SIM_OWN       directories that hold only what the demo plants (emptied if the machine has them)
#   SIM_STANDINS  paths of OpenBSD tools, linked to the stand-in
set -eu
name=$1
layers=$4
run=/run/carpentry-demo

# The host name, where the hostname(1) of the machine can set it (the stand-ins read /etc/myname).
if command -v hostname >/dev/null; then hostname "$name"; fi
# Held open so they can be mounted after the directories they are in are covered.
exec 8<"$3" 9<"$2"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir "$run"
mount --bind /proc/self/fd/9 "$run"
exec 9<&-

layer_count=0
shadow() {
	dir=$1
	layer_count=$((layer_count + 1))
	layer=$run/hosts/$name/layers/$layer_count
	mkdir -p "$layer/upper" "$layer/work" "$layer/lower" "$layer/farm"
	if [ "$layers" = overlay ] && mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir" 2>/dev/null; then
		return
	fi
	# The farm is filled before it covers the directory: the tools used here may live in it.
	mount --bind "$dir" "$layer/lower"
	mount -t tmpfs -o mode=755 tmpfs "$layer/farm"
	set --
	for entry in "$layer/lower"/* "$layer/lower"/.[!.]* "$layer/lower"/..?*; do
		if [ -e "$entry" ] || [ -L "$entry" ]; then set -- "$@" "$entry"; fi
	done
	[ $# -eq 0 ] || ln -s -t "$layer/farm" -- "$@"
	mount --move "$layer/farm" "$dir"
}
for dir in $SIM_SHADOW; do shadow "$dir"; done
rm -f /etc/myname
echo "$name" >/etc/myname

for path in $SIM_STANDINS; do
	rm -f "$path"
	ln -s "$run/bin/standin" "$path"
done

mount -t tmpfs -o mode=700 tmpfs /root
mount -t tmpfs -o mode=1777 tmpfs /tmp
for dir in $SIM_OWN; do
	if [ -L "$dir" ]; then
		rm -f "$dir"
		mkdir -p "$dir"
	elif [ -d "$dir" ]; then
		mount -t tmpfs -o mode=755 tmpfs "$dir"
	else
		mkdir -p "$dir"
	fi
done

# OpenBSD's node is /usr/local/bin/node, the first place the checks' launcher looks.
mount -t tmpfs -o mode=755 tmpfs /usr/local/bin
: >/usr/local/bin/node
mount --bind /proc/self/fd/8 /usr/local/bin/node
exec 8<&-

# The peer link: ssh.sh on the other host cannot start a process in this host's PID namespace (a
# sibling of its own), so it asks this one. It makes a call directory with FIFOs in, out, err and rc
# and the command line in cmd, and writes the directory's path to this host's calls FIFO; the command
# runs here, as OpenBSD's sshd runs it for root, its stdin, stdout and stderr the call's FIFOs, and
# its exit status goes to rc.
calls=$run/hosts/$name/calls
mkfifo -m 600 "$calls"
serve() {
	while read -r call; do
		(
			status=0
			command=$(cat -- "$call/cmd")
			cd /root
			env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/sh \
				PATH=/usr/bin:/bin:/usr/sbin:/sbin:/usr/X11R6/bin:/usr/local/bin:/usr/local/sbin \
				/bin/sh -c "$command" <"$call/in" >"$call/out" 2>"$call/err" || status=$?
			echo "$status" >"$call/rc"
		) &
	done
}

# As pid 1, this shell also reaps the host's orphans while it waits (wait(2) takes any child).
exec 3<&0 0</dev/null
{ while read -r _ <&3; do :; done; } &
stdin_open=$!
serve <>"$calls" 3<&- &
echo ready
wait "$stdin_open"

#!/bin/sh
# Installs the system packages the e2e tests need (test/harness/README.md), on Debian 12 as root.
# Idempotent: does nothing when everything is there. Never lets the install start a system sshd,
# smtpd, unbound, monit, prometheus or node_exporter: Debian's invoke-rc.d asks /usr/sbin/policy-rc.d, and exit status 101
# means "do not start". An image without one gets ours for the duration of the install.
# Usage: sh scripts/install-test-deps.sh [--force]   (--force: run apt-get even if all is there)
set -eu

log() { printf 'install-test-deps: %s\n' "$*"; }

# prometheus ships promtool too; icinga2-bin is the validator of the Icinga example (icinga2 daemon -C);
# chromium renders the report's HTML mail in its test
FILES="/usr/sbin/sshd /usr/bin/monit /usr/sbin/smtpd /usr/sbin/unbound /usr/bin/mksh /usr/bin/nc.openbsd /usr/bin/prometheus /usr/bin/promtool /usr/bin/prometheus-node-exporter /usr/sbin/icinga2 /usr/bin/chromium"
missing=""
for file in $FILES; do
	[ -x "$file" ] || missing="$missing $file"
done
for tool in ip nsenter unshare setpriv ssh ssh-keygen; do
	command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] || missing="$missing $tool"
done

if [ -z "$missing" ] && [ "${1-}" != "--force" ]; then
	log "nothing to do: sshd, monit, smtpd, unbound, mksh, nc (OpenBSD's), prometheus, promtool, node_exporter, icinga2, chromium (renders the report's HTML mail), ip, nsenter, unshare, setpriv, ssh are present"
	exit 0
fi
[ -n "$missing" ] && log "missing:$missing"

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root (the e2e tests need root too: namespaces, mounts, sshd)" >&2
	exit 1
fi
if [ ! -r /etc/debian_version ]; then
	log "not a Debian system: install openssh-server monit opensmtpd unbound mksh iproute2 util-linux prometheus prometheus-node-exporter icinga2-bin chromium by hand" >&2
	exit 1
fi

# pids of system daemons an install could start: sshd, smtpd, unbound, monit, prometheus and
# node_exporter in this network namespace (the e2e tests run theirs inside their own namespaces:
# those are not ours to judge). pgrep -x matches the 15-character process name: prometheus-node.
daemons() {
	own=$(readlink /proc/$$/ns/net)
	for name in sshd smtpd unbound monit prometheus prometheus-node; do
		for pid in $(pgrep -x "$name" 2>/dev/null || true); do
			[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$own" ] && echo "$pid"
		done
	done | sort -n
}
before=$(daemons)

policy=/usr/sbin/policy-rc.d
saved=""
restore_policy() {
	if [ -n "$saved" ]; then
		mv -f "$saved" "$policy"
		log "restored the original $policy"
	else
		rm -f "$policy"
		log "removed the temporary $policy"
	fi
}
status=0
[ -x "$policy" ] && { "$policy" ssh start >/dev/null 2>&1 || status=$?; }
if [ "$status" -eq 101 ]; then
	log "$policy exists and denies starting services (exit 101): keeping it"
else
	if [ -e "$policy" ]; then
		saved="$policy.carpentry-saved.$$"
		mv -f "$policy" "$saved"
		log "$policy would allow starting services (exit $status): replaced by a deny-all one for the install"
	else
		log "no $policy: installing a deny-all one (exit 101) for the install"
	fi
	printf '#!/bin/sh\n# temporary, from carpentry-checks scripts/install-test-deps.sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	trap restore_policy EXIT
	trap 'exit 130' INT TERM
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
apt-get update -qq
log "apt-get install openssh-server monit opensmtpd unbound mksh netcat-openbsd iproute2 util-linux prometheus prometheus-node-exporter icinga2-bin"
apt-get install -y -qq --no-install-recommends openssh-server monit opensmtpd unbound mksh netcat-openbsd iproute2 util-linux prometheus prometheus-node-exporter icinga2-bin chromium

# Report (never kill: they may not be ours) a system daemon that appeared during the install.
started=""
for pid in $(daemons); do
	case " $(echo $before) " in
	*" $pid "*) ;;
	*) started="$started $pid" ;;
	esac
done
if [ -n "$started" ]; then
	log "WARNING: daemons appeared in this network namespace during the install (pids:$started):" >&2
	ps -o pid,args -p "$(echo $started | tr ' ' ',')" >&2 || true
fi

for file in $FILES; do
	[ -x "$file" ] || { log "still missing after the install: $file" >&2; exit 1; }
done
log "done"

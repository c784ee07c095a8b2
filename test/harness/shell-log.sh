#!/usr/bin/mksh
# Shells of a simulated host, logged. Installed twice (see README.md, "Shells"):
# - as /usr/bin/sh (so /bin/sh): logs its argv (kind "sh") and runs mksh as "sh", which puts mksh
#   in POSIX sh mode, as OpenBSD's /bin/sh is ksh in sh mode;
# - as sshd's ForceCommand ("ssh-command"): logs $SSH_ORIGINAL_COMMAND (kind "ssh") and runs it
#   with `mksh -c` named "ksh", so error messages read "ksh: foo: not found" as on OpenBSD.
#   No command (an interactive login) runs a login ksh. The client gets the exit status and
#   stderr unchanged.
. @HARNESS_DIR@/bin/harness-lib.sh

case ${0##*/} in
ssh-command)
	if [[ -n ${SSH_ORIGINAL_COMMAND+set} ]]; then
		_command=$SSH_ORIGINAL_COMMAND
		unset SSH_ORIGINAL_COMMAND
		harness_log ssh "$_command"
		exec -a ksh /usr/bin/mksh -c "$_command"
	fi
	harness_log ssh ""
	exec -a -ksh /usr/bin/mksh -l
	;;
*)
	harness_log sh "$0" "$@"
	exec -a sh /usr/bin/mksh "$@"
	;;
esac

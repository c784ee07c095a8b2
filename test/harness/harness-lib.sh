# Sourced by the in-host scripts of the simulated gateway pair (the stand-in, gnu-guard.sh,
# shell-log.sh). pair.ts replaces @HARNESS_DIR@ with the host's directory when it installs a host;
# that directory is visible at the same path inside the host. See README.md.
HARNESS_DIR=@HARNESS_DIR@
set +U	# byte semantics for ${x:i:1}, whatever the locale

# harness_log KIND ARG...: append one record to the host's command log.
# Record: KIND US PID US ARG1 US ARG2 ... RS LF (US = 0x1f, RS = 0x1e). mksh's print writes the
# record with a single write(2) on an O_APPEND descriptor, so concurrent writers do not interleave.
harness_log() {
	typeset _rec=$1 _arg
	shift
	_rec=$_rec$'\x1f'$$
	for _arg in "$@"; do
		_rec=$_rec$'\x1f'$_arg
	done
	print -nr -- "$_rec"$'\x1e\n' >>"$HARNESS_DIR/commands.log"
}

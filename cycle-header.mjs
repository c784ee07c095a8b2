// The cycle block of a check executable's /bin/sh header (build.mjs puts it before the line that
// starts node): before starting node, the header asks the cycle server (`carpentry serve-cycle`,
// src/cli/cycle.ts) to run the check, over a unix socket in the state directory, with OpenBSD's
// nc(1) -U; the server answers with the check's exit code and its output as the check prints them
// alone, and the header prints that and exits: a served check never starts node. The first header of
// a cycle that finds no server starts one (mkdir of a lock is the race's referee) and is served too.
// The header runs the check alone (falls through to the node line) when: CARPENTRY_CYCLE=alone is
// set, there is no /usr/bin/nc or no /var/db/carpentry (root's), an argument, the directory or
// $CARPENTRY_CONFIG holds a newline, -t is not a plain number, no carpentry of this build is beside the
// check, the server refuses (another build, a relative config from another directory), no server
// comes up within about 2 s, or one took the check and died. Its wait for an answer is bounded by
// nc -w: the -t deadline (the server keeps it, as the check alone does) plus one second, plus one more
// for a fractional -t, after which it prints UNKNOWN.
//
// Where there is mkfifo(1) and the server's watchdog is up, the header uses no nc at all: it leaves
// its request as a file, signals the server, and reads the answer from a FIFO of its own with the
// shell's own `read`. A waiting check is then one shell, not a shell and an nc, which is most of a
// cycle's memory when monit starts twenty checks at once. The shell's read has no timeout, so the
// deadline is kept by the watchdog: one shell a server, started with it, which writes "late" into
// the FIFO of a header whose time is up, and "gone" into those of its server's headers when it dies.
//
// Every line starts with `":" //;`: to sh the command `:`, to JavaScript a string and a comment.
// Names start with cy_ so they do not meet the header's others.

/** @param {string} check the executable's name, check_NAME @param {string} build the build's id */
export function cycleHeaderLines(check, build) {
  const magic = `carpentry-cycle ${build}`;
  const name = check.replace(/^check_/, "");
  const lines = [
    "carpentry_cycle_late() {",
    "  carpentry_cycle_done",
    '  echo "UNKNOWN: timed out after ${cy_t}s waiting for the cycle server"; exit 3',
    "}",
    // The answer FIFO's end: the watchdog removes the files it is told are done (rm is a command).
    "carpentry_cycle_done() {",
    '  [ -n "$cy_f" ] || return 0',
    '  exec 3<&- 4<&-; { carpentry_cycle_say "done$cy_nl" >"$cy_d/w.$$"; } 2>/dev/null; cy_f=',
    "}",
    // The watchdog: one shell a server, started beside it, which keeps the deadlines of the headers
    // that wait on their FIFOs for that server, in case it hangs or dies. A header's w.PID says how
    // many seconds it has left and which server took it; the first time the watchdog sees it, it
    // writes the moment in its own clock, one second later for SECONDS' whole seconds. At that moment
    // it writes a late line into the header's FIFO (opened read-write, which never blocks); when its
    // server is gone, a gone line at once.
    "carpentry_cycle_watch() {",
    `  cy_q=0; cy_u=; cy_h=$cy_d/${build}.watch`,
    "  while :; do",
    '    cy_g=; cy_z=; kill -0 "$1" 2>/dev/null || cy_z=gone; cy_k=none',
    '    for cy_x in "$cy_d"/w.*; do',
    '      [ -f "$cy_x" ] || continue',
    '      cy_a=; cy_b=; cy_c=; cy_p=$cy_d/a.${cy_x##*.}; cy_r=$cy_d/r.${cy_x##*.}; read -r cy_a cy_b cy_c 2>/dev/null <"$cy_x"',
    '      if [ "$cy_a" = left ] || [ "$cy_a" = at ]; then [ "$cy_c" = "$1" ] || continue; cy_k=; fi',
    '      if [ "$cy_a" = left ] && [ -z "$cy_z" ]; then carpentry_cycle_say "at $((SECONDS + cy_b + 1)) $1$cy_nl" >"$cy_x"',
    '      elif [ "$cy_a" = left ] || [ "$cy_a" = at ]; then',
    '        [ -z "$cy_z" ] && [ "$SECONDS" -lt "$cy_b" ] && continue',
    '        [ -p "$cy_p" ] && carpentry_cycle_say "carpentry-cycle-${cy_z:-late}$cy_nl" 1<>"$cy_p"; cy_g="$cy_g $cy_x $cy_p $cy_r"',
    // Only a file that says so is done: one being written may read empty for a moment.
    '      elif [ "$cy_a" = done ]; then cy_g="$cy_g $cy_x $cy_p $cy_r"; fi',
    "    done",
    // The names are w., a. and r.DIGITS in the cycle directory: split on spaces on purpose.
    '    [ -n "$cy_g" ] && rm -f $cy_g',
    // Nobody of its server's waits: it ends once the server is gone, or after 2 s of that (a server
    // alive but idle so long takes nobody new; a later header asks over the socket). Before it ends
    // it takes its pid file away and looks once more: a header that read the pid file before that
    // has said it waits by then, or finds the file gone when it looks again and asks over the
    // socket. One found in that last look keeps it on, and it puts its pid file back.
    '    if [ "$cy_k" != none ]; then cy_q=0; [ "$cy_u" = ours ] && [ -z "$cy_z" ] && { echo $$ >"$cy_h"; } 2>/dev/null; cy_u=',
    '    elif [ -n "$cy_u" ]; then return 0',
    '    elif [ -n "$cy_z" ] || [ "$cy_q" -ge 3 ]; then cy_u=last; read -r cy_y 2>/dev/null <"$cy_h" && [ "$cy_y" = $$ ] && rm -f "$cy_h" && cy_u=ours; continue',
    "    else cy_q=$((cy_q + 1)); fi",
    "    sleep 0.5",
    "  done",
    "}",
    // The answer comes into the header's FIFO: "accepted" as soon as the server has it open, then
    // "BUILD CODE LINES NEWLINE", the lines, the end line, read with the shell's own read. Once the
    // server has it open the header lets go of its own writing end, so a server that dies is the end
    // of the file (and the watchdog says "gone" besides). A late line from the watchdog is the deadline.
    "carpentry_cycle_fifo() {",
    "  cy_x=; IFS= read -r cy_x <&3",
    `  case $cy_x in '${magic} accepted') exec 4<&-; cy_x=; IFS= read -r cy_x <&3;; esac`,
    `  case $cy_x in carpentry-cycle-late) carpentry_cycle_late;; '${magic} alone '*) carpentry_cycle_done; return 0;; esac`,
    // (A gone line, the watchdog's word that the server died, is no answer: the check runs alone. The
    // watchdog's lines end an answer anywhere; the server never sends an output line that is one.)
    `  case $cy_x in '${magic} '[0-3]' '[0-9]*' '[01]) ;; *) carpentry_cycle_done; [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ] && return 0; carpentry_cycle_late;; esac`,
    `  cy_x=\${cy_x#'${magic} '}; cy_c=\${cy_x%% *}; cy_x=\${cy_x#* }; cy_n=\${cy_x%% *}; cy_g=\${cy_x#* }; cy_o=`,
    "  case $cy_n in *[!0-9]*) cy_n=-1;; esac",
    '  while [ "$cy_n" -gt 0 ] && IFS= read -r cy_x <&3; do case $cy_x in carpentry-cycle-late|carpentry-cycle-gone) break;; esac; cy_o=$cy_o$cy_x$cy_nl; cy_n=$((cy_n - 1)); done',
    '  [ "$cy_n" -eq 0 ] && cy_x= && IFS= read -r cy_x <&3',
    "  carpentry_cycle_done",
    '  if [ "$cy_x" = carpentry-cycle-end ]; then [ "$cy_g" = 1 ] || cy_o=${cy_o%"$cy_nl"}; carpentry_cycle_say "$cy_o"; exit "$cy_c"; fi',
    '  [ "$cy_x" = carpentry-cycle-late ] && carpentry_cycle_late',
    '  [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ] && return 0',
    "  carpentry_cycle_late",
    "}",
    "carpentry_cycle_ask() {",
    // The request is built with the shell's builtins and said with its own `print` where it has one
    // (ksh; printf is a command of its own there): each argument becomes an "arg" line. The answer is
    // read without a subshell of its own: the last command of a command substitution replaces it,
    // and the end line is what stands last, so losing the final newline loses nothing.
    `  cy_q='${magic}'"$cy_nl"'check ${name}'"$cy_nl"'cwd '"$PWD"; [ -n "\${CARPENTRY_CONFIG+set}" ] && cy_q=$cy_q$cy_nl"config $CARPENTRY_CONFIG"`,
    '  for cy_a; do cy_q=$cy_q$cy_nl"arg $cy_a"; done',
    // With a watchdog up, the request goes as a file (r.PID) and a signal to the server (SIGURG, which
    // every other process ignores), and the answer comes through a FIFO of the header's own, which it
    // holds open read-write until then (so neither side's open blocks, and the name may go). It says
    // it waits (w.PID) before it asks, then looks whether the watchdog it found is still there: a
    // watchdog takes its pid file away before it looks for waiting headers a last time, so a header
    // that still finds the file after it said it waits is watched.
    "  cy_f=; cy_v=; cy_h=",
    `  if [ -x /usr/bin/mkfifo ] && [ -n "\${SECONDS-}" ] && read -r cy_h 2>/dev/null <"$cy_d/${build}.watch" && kill -0 "$cy_h" 2>/dev/null && read -r cy_v 2>/dev/null <"$cy_l/pid"; then`,
    '    cy_f=$cy_d/a.$$; [ -e "$cy_f" ] && rm -f "$cy_f"',
    '    if /usr/bin/mkfifo -m 600 "$cy_f" 2>/dev/null; then',
    '      exec 4<>"$cy_f" 3<"$cy_f"',
    // (A file that cannot be written, the directory gone under it, is the way over the socket instead.)
    `      if { carpentry_cycle_say "left $((cy_w - (SECONDS - cy_0))) $cy_v$cy_nl" >"$cy_d/w.$$" && read -r cy_y <"$cy_d/${build}.watch" && [ "$cy_y" = "$cy_h" ] && kill -0 "$cy_h" && carpentry_cycle_say "$cy_q$cy_nl"end"$cy_nl" >"$cy_d/r.$$"; } 2>/dev/null && kill -s URG "$cy_v" 2>/dev/null; then`,
    "        carpentry_cycle_fifo; return 0",
    "      fi",
    "    fi",
    // Nobody may be left to remove them: a watchdog that ended, a directory that went.
    '    carpentry_cycle_done; rm -f "$cy_d/r.$$" "$cy_d/w.$$" "$cy_d/a.$$" 2>/dev/null',
    "  fi",
    '  [ -S "$cy_s" ] || return 1',
    `  cy_r=$(carpentry_cycle_say "$cy_q$cy_nl"end"$cy_nl" | /usr/bin/nc -N -U -w "$cy_w" "$cy_s" 2>/dev/null)`,
    `  case $cy_r in '${magic} accepted'*) ;; '${magic} alone '*) return 0;; *) [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ] && return 1; carpentry_cycle_late;; esac`,
    `  cy_r=\${cy_r#'${magic} accepted'}; cy_r=\${cy_r#"$cy_nl"}`,
    `  case $cy_r in '${magic} '[0-3]"$cy_nl"*"$cy_e") cy_c=\${cy_r%%"$cy_nl"*}; cy_r=\${cy_r#*"$cy_nl"}; carpentry_cycle_say "\${cy_r%"$cy_e"}"; exit "\${cy_c##* }";; esac`,
    '  [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ] && return 0',
    "  carpentry_cycle_late",
    "}",
    "carpentry_cycle() {",
    '  [ "${CARPENTRY_CYCLE-}" = alone ] && return',
    "  [ -x /usr/bin/nc ] && [ -d /var/db/carpentry ] || return",
    '  cy_d=/var/db/carpentry/cycle; [ -d "$cy_d" ] || mkdir -m 700 "$cy_d" 2>/dev/null; [ -d "$cy_d" ] || return',
    // A newline without a subshell: the shell sets IFS to space, tab, newline at start.
    '  cy_nl=${IFS#??}; [ "${#IFS}" -eq 3 ] && [ "${IFS%??}" = " " ] || return',
    "  cy_e=$cy_nl'carpentry-cycle-end'; cy_0=${SECONDS:-0}; cy_t=10; cy_p=",
    `  if [ "$(command -v print)" = print ]; then carpentry_cycle_say() { print -rn -- "$1"; }; else carpentry_cycle_say() { printf '%s' "$1"; }; fi`,
    // The watchdog is this script again with --cycle-watch SERVER_PID: so ps tells it from a check.
    '  case ${1-} in --cycle-watch) case ${2-} in ""|*[!0-9]*) return;; esac; carpentry_cycle_watch "$2"; exit 0;; esac',
    '  case "$PWD/${CARPENTRY_CONFIG-}" in *"$cy_nl"*) return;; esac',
    "  for cy_a; do",
    '    [ "$cy_p" = t ] && cy_t=$cy_a; cy_p=',
    '    case $cy_a in *"$cy_nl"*) return;; -t|--timeout) cy_p=t;; --timeout=*) cy_t=${cy_a#--timeout=};; -t*) cy_t=${cy_a#-t};; -[!-]*t*) return;; esac',
    "  done",
    "  case $cy_t in ''|*[!0-9.]*|*.*.*|.*|0*) return;; esac",
    "  cy_w=${cy_t%%.*}; cy_w=$((cy_w + 1)); case $cy_t in *.*) cy_w=$((cy_w + 1));; esac",
    `  cy_s=$cy_d/${build}.sock; cy_l=$cy_d/${build}.start; cy_i=0`,
    // A server starts in a few hundred milliseconds: the headers that did not start it look after
    // 50 ms, 100 ms, then every 200 ms (sleep is the only command that is not the shell's own), for
    // about 2 s in all.
    '  while [ $cy_i -lt 12 ] && [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ]; do',
    "    cy_i=$((cy_i + 1))",
    '    if [ -S "$cy_s" ]; then carpentry_cycle_ask "$@" && return; fi',
    '    if [ ! -d "$cy_l" ] && mkdir "$cy_l" 2>/dev/null; then',
    '      cy_c=${0%/*}/carpentry; [ -f "$cy_c" ] || cy_c=${0%/*}/../carpentry',
    `      [ -x "$cy_c" ] && grep -qF '${build}' "$cy_c" 2>/dev/null || { rmdir "$cy_l"; return; }`,
    `      "$cy_c" serve-cycle '${build}' </dev/null >/dev/null 2>&1 &`,
    '      { echo $! >"$cy_l/pid"; } 2>/dev/null',
    `      if [ -x /usr/bin/mkfifo ] && [ -n "\${SECONDS-}" ]; then "$0" --cycle-watch "$!" </dev/null >/dev/null 2>&1 & { echo $! >"$cy_d/${build}.watch"; } 2>/dev/null; fi`,
    "    else",
    '      cy_pid=; read cy_pid 2>/dev/null <"$cy_l/pid"',
    '      if [ -n "$cy_pid" ] && ! kill -0 "$cy_pid" 2>/dev/null; then rm -rf "$cy_l" 2>/dev/null; rm -f "$cy_s" 2>/dev/null; continue; fi',
    "    fi",
    // A server on its way up (its pid written) with its watchdog: the request is left for it to find
    // as it starts, rather than looked for again and again (ask turns to nc only once the socket is there).
    '    if [ ! -S "$cy_s" ] && [ -f "$cy_l/pid" ]; then carpentry_cycle_ask "$@" && return; fi',
    "    case $cy_i in 1) sleep 0.15;; *) sleep 0.2;; esac",
    "  done",
    '  [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ] || carpentry_cycle_late',
    "}",
    // The watchdog is never a check: whatever made carpentry_cycle return (the state directory gone
    // under it), it does not go on to node.
    'carpentry_cycle "$@"; case ${1-} in --cycle-watch) echo "UNKNOWN: --cycle-watch is the cycle server\'s own"; exit 3;; esac',
  ];
  return lines.map((line) => `":" //; ${line}`);
}

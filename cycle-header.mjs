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
// Every line starts with `":" //;`: to sh the command `:`, to JavaScript a string and a comment.
// Names start with cy_ so they do not meet the header's others.

/** @param {string} check the executable's name, check_NAME @param {string} build the build's id */
export function cycleHeaderLines(check, build) {
  const magic = `carpentry-cycle ${build}`;
  const name = check.replace(/^check_/, "");
  const lines = [
    "carpentry_cycle_late() {",
    '  echo "UNKNOWN: timed out after ${cy_t}s waiting for the cycle server (/var/db/carpentry/cycle)"; exit 3',
    "}",
    "carpentry_cycle_ask() {",
    // The request is built with the shell's builtins and said with its own `print` where it has one
    // (ksh; printf is a command of its own there): each argument becomes an "arg" line. The answer is
    // read without a subshell of its own: the last command of a command substitution replaces it,
    // and the end line is what stands last, so losing the final newline loses nothing.
    `  cy_q='${magic}'"$cy_nl"'check ${name}'"$cy_nl"'cwd '"$PWD"; [ -n "\${CARPENTRY_CONFIG+set}" ] && cy_q=$cy_q$cy_nl"config $CARPENTRY_CONFIG"`,
    '  for cy_a; do cy_q=$cy_q$cy_nl"arg $cy_a"; done',
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
    '      echo $! >"$cy_l/pid"',
    "    else",
    '      cy_pid=; read cy_pid 2>/dev/null <"$cy_l/pid"',
    '      if [ -n "$cy_pid" ] && ! kill -0 "$cy_pid" 2>/dev/null; then rm -rf "$cy_l" 2>/dev/null; rm -f "$cy_s" 2>/dev/null; continue; fi',
    "    fi",
    "    case $cy_i in 1) sleep 0.05;; 2) sleep 0.1;; *) sleep 0.2;; esac",
    "  done",
    '  [ "$((SECONDS - cy_0))" -lt "$((cy_w - 1))" ] || carpentry_cycle_late',
    "}",
    'carpentry_cycle "$@"',
  ];
  return lines.map((line) => `":" //; ${line}`);
}

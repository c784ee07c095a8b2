// The scanner the e2e matrix runs over every logged command line: it must catch each GNU-only tool
// and option OpenBSD lacks, wherever in a shell line it hides, and leave OpenBSD's forms alone.
import { describe, expect, it } from "vitest";
import { gnuOnlyInArgv, gnuOnlyInLogEntry, gnuOnlyInShellLine, splitCommands } from "../support/gnu-options.js";

describe("gnuOnlyInShellLine catches", () => {
  it.each([
    ["find -printf", "find /etc/openvpn -type f -printf '%p %m\\n'", /^find -printf: GNU-only/],
    ["find -fprintf", "find /etc -fprintf /tmp/x '%p'", /^find -fprintf: GNU-only/],
    ["stat -c", "stat -c '%a %U' /etc/pf.conf", /^stat -c: GNU-only/],
    ["stat -c in a cluster", "stat -Lc %s /etc/pf.conf", /^stat -c: GNU-only/],
    ["stat --format", "stat --format=%s /etc/pf.conf", /^stat --format=%s: GNU-style long option/],
    ["stat --printf", "/usr/bin/stat --printf '%s' /etc/pf.conf", /^stat --printf: GNU-style long option/],
    ["sha256sum", "sha256sum /etc/pf.conf", /^sha256sum: not on OpenBSD \(use sha256\)/],
    ["md5sum", "/usr/bin/md5sum /etc/pf.conf", /^md5sum: not on OpenBSD \(use md5\)/],
    ["sha1sum/sha512sum", "sha512sum a; sha1sum b", /^sha512sum: not on OpenBSD/],
    ["base64", "base64 -d < /tmp/blob", /^base64: not on OpenBSD/],
    ["sed -i without a suffix", "sed -i 's/a/b/' /etc/pf.conf", /^sed -i without a suffix/],
    ["sed -i in a cluster", "sed -ni -e p /etc/pf.conf", /^sed -i without a suffix/],
    ["sed -i before -e", "sed -i -e 's/a/b/' /etc/pf.conf", /^sed -i without a suffix/],
    ["--long options on BSD tools", "ls --all /etc", /^ls --all: GNU-style long option/],
    ["--long options after short ones", "sort -u --parallel=2 x", /^sort --parallel=2: GNU-style long option/],
    ["--long option of find", "find /etc --help", /^find --help: GNU-style long option/],
    ["python", "python3 -c 'print(1)'", /^python3: not on OpenBSD/],
    ["python with a version", "/usr/bin/python3.11 x.py", /^python3\.11: not on OpenBSD/],
    ["bash", "bash -c 'echo hi'", /^bash: not on OpenBSD/],
    ["head -c", "head -c 100 /etc/pf.conf", /^head -c: GNU-only/],
    ["grep -P", "grep -P '\\d+' x", /^grep -P: GNU-only/],
    ["xargs -d", "xargs -d '\\n' ls", /^xargs -d: GNU-only/],
    ["date -d", "date -d yesterday", /^date -d: GNU-only/],
    ["tac", "tac /var/log/messages", /^tac: not on OpenBSD \(use tail -r\)/],
  ])("%s", (_, line, finding) => {
    const findings = gnuOnlyInShellLine(line);
    expect(
      findings.some((text) => finding.test(text)),
      findings.join(" / "),
    ).toBe(true);
  });

  it.each([
    ["after a pipe", "find /etc -type f | xargs sha256sum"],
    ["in a command substitution", "echo $(sha256sum /etc/pf.conf)"],
    ["in backquotes", "echo `sha256sum /etc/pf.conf`"],
    ["after && and ||", "true && false || sha256sum x"],
    ["in a subshell", "(cd /etc && sha256sum pf.conf)"],
    ["behind assignments and env", "LC_ALL=C env -i PATH=/bin sha256sum x"],
    ["behind xargs options", "find /etc -print0 | xargs -0 -n 10 sha256sum"],
    ["in find -exec", "find /etc -type f -exec sha256sum {} +"],
    ["in sh -c", "/bin/sh -c 'cd /etc; sha256sum pf.conf'"],
    ["in nested sh -c with double quotes", "ksh -c \"sh -c 'sha256sum x'\""],
    ["in a batch script like the checks send", "{ /sbin/pfctl -si </dev/null; }; printf '\\n@@%s %d %d\\n' ab12 0 $?\n{ sha256sum /etc/pf.conf </dev/null; }; printf '\\n@@%s %d\\n' ab12 1 >&2"],
    ["after a here-document", "cat <<EOF >/tmp/x\nstat -c %s is only text here\nEOF\nsha256sum /tmp/x"],
    ["after exec", "exec sha256sum x"],
    ["on a continued line", "true \\\n; sha256sum x"],
  ])("sha256sum %s", (_, line) => {
    expect(gnuOnlyInShellLine(line)).toEqual(["sha256sum: not on OpenBSD (use sha256)"]);
  });
});

describe("gnuOnlyInShellLine leaves OpenBSD's forms alone", () => {
  it.each([
    ["stat -f", "stat -f '%Lp %Su %z' /etc/pf.conf"],
    ["stat -f with a c in the format", "stat -f%c /etc/pf.conf"],
    ["sha256 and md5", "sha256 -q /etc/pf.conf; md5 -q /etc/pf.conf"],
    ["sed -i with a suffix", "sed -i.orig 's/a/b/' x"],
    ["sed -n -e", "sed -n -e '/carp/p' /etc/hostname.carp0"],
    ["find -print0 | xargs -0", "find /etc/openvpn -type f -print0 | xargs -0 sha256"],
    [
      "the tools the checks run",
      "/sbin/ifconfig carp; /sbin/ifconfig -g carp; /sbin/sysctl net.inet.carp.preempt; /sbin/pfctl -vsT; /usr/sbin/smtpctl show queue; /usr/sbin/rcctl check carpentry; /usr/bin/netstat -sp pfsync",
    ],
    ["our own code on the peer", "/etc/carpentry.monit/carpentry facts --json"],
    ["a long option after --", "grep -- --pattern x"],
    ["GNU names inside quotes, as data", "grep 'sha256sum --format bash' /etc/notes"],
    ["GNU names in comments", "true # sha256sum would not work here"],
    ["redirection targets", "echo x >bash 2>/dev/null"],
    ["an empty line", ""],
  ])("%s", (_, line) => {
    expect(gnuOnlyInShellLine(line)).toEqual([]);
  });
});

describe("gnuOnlyInArgv", () => {
  it("reads an argv as a stand-in or /bin/sh logged it", () => {
    expect(gnuOnlyInArgv(["/usr/bin/stat", "-c", "%s", "/etc/pf.conf"])).toEqual(["stat -c: GNU-only (OpenBSD: stat -f FORMAT)"]);
    expect(gnuOnlyInArgv(["/sbin/pfctl", "--verbose", "-si"])).toEqual(["pfctl --verbose: GNU-style long option (OpenBSD's pfctl has none)"]);
    expect(gnuOnlyInArgv(["/bin/sh", "-c", "find / -printf x"])).toEqual(["find -printf: GNU-only (OpenBSD: find ... -exec stat -f FORMAT, or our own code)"]);
    expect(gnuOnlyInArgv(["/sbin/pfctl", "-t", "badhosts", "-T", "show"])).toEqual([]);
    expect(gnuOnlyInArgv([])).toEqual([]);
  });
});

describe("gnuOnlyInLogEntry", () => {
  it("reads an ssh record as a shell line, any other as an argv, and a rejected call as a finding", () => {
    expect(gnuOnlyInLogEntry({ kind: "ssh", pid: 1, argv: ["cd /etc && sha256sum pf.conf"], line: "cd /etc && sha256sum pf.conf" })).toEqual(["sha256sum: not on OpenBSD (use sha256)"]);
    expect(gnuOnlyInLogEntry({ kind: "sh", pid: 1, argv: ["/bin/sh", "-c", "stat -c %s x"], line: "/bin/sh -c stat -c %s x" })).toEqual(["stat -c: GNU-only (OpenBSD: stat -f FORMAT)"]);
    expect(gnuOnlyInLogEntry({ kind: "standin", pid: 1, argv: ["/sbin/pfctl", "--all"], line: "/sbin/pfctl --all" })).toEqual(["pfctl --all: GNU-style long option (OpenBSD's pfctl has none)"]);
    expect(gnuOnlyInLogEntry({ kind: "rejected", pid: 1, argv: ["/usr/bin/head", "-c", "5"], line: "/usr/bin/head -c 5" })).toEqual(["rejected by the host's OpenBSD userland: /usr/bin/head -c 5"]);
    expect(gnuOnlyInLogEntry({ kind: "standin", pid: 1, argv: ["/sbin/pfctl", "-si"], line: "/sbin/pfctl -si" })).toEqual([]);
  });
});

describe("splitCommands", () => {
  it("splits a line into simple commands without quotes, redirections or comments", () => {
    expect(splitCommands(`a 'b c' "d \\"e\\"" f\\ g 2>&1 >/dev/null | h; i && (j) # k\nl <<'EOF'\nbody\nEOF\nm`)).toEqual([["a", "b c", 'd "e"', "f g"], ["h"], ["i"], ["j"], ["l"], ["m"]]);
  });
});

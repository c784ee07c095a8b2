// The stand-in (src/sim/standin.sh) and the key the demo and the harness write outputs under
// (standinKey) must agree for any argument, or a tool would answer "not simulated". The script runs
// as the demo installs it: /run/carpentry-demo/state/<host name in /etc/myname>, with the machine's
// /bin/sh, here in a user and mount namespace of the test's own (tmpfs on /run and /etc: host name
// "primary").
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { standinKey } from "../../../src/sim/standin-key.js";
import { DEMO_STANDIN_SETTINGS, standinScript } from "../../../src/sim/standin.js";

const SCRIPT = standinScript(DEMO_STANDIN_SETTINGS);

interface Answer {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** Sets the state files for `key`, then runs the stand-in as `tool` with `args`. */
function callStandin(tool: string, args: readonly string[], state: { key: string; out?: string; err?: string; rc?: number } | undefined): Answer {
  const setup = state ? `mkdir -p "$S/${tool}" && printf %s "$OUT" >"$S/${tool}/$KEY.out" && printf %s "$ERR" >"$S/${tool}/$KEY.err" && echo "$RC" >"$S/${tool}/$KEY.rc" &&` : "";
  const script = `mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /etc && echo primary >/etc/myname && S=/run/carpentry-demo/state/primary && mkdir -p "$S" && ${setup} printf %s "$SCRIPT" >/run/standin && chmod 755 /run/standin && ln -s standin /run/${tool} && exec /run/${tool} "$@"`;
  const run = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "/bin/sh", "-c", script, "sh", ...args], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", SCRIPT, KEY: state?.key ?? "", OUT: state?.out ?? "", ERR: state?.err ?? "", RC: String(state?.rc ?? 0) },
  });
  return { stdout: run.stdout, stderr: run.stderr, code: run.status };
}

describe("standinKey and standin.sh", () => {
  it.each([
    [["carp"], "carp"],
    [["-t", "badhosts", "-T", "show"], "-t_badhosts_-T_show"],
    [["-nf", "/etc/pf.conf"], "-nf_%2Fetc%2Fpf.conf"],
    [["show", "it's a b"], "show_it%27s%20a%20b"],
    [["caf\u00e9", ""], "caf%C3%A9_"],
    [[], "(none)"],
  ])("%j is %s, and the script finds it", (args, key) => {
    expect(standinKey(args)).toBe(key);
    const answer = callStandin("pfctl", args, { key, out: "printed\n", err: "warned\n", rc: 2 });
    expect(answer).toEqual({ stdout: "printed\n", stderr: "warned\n", code: 2 });
  });

  it("answers an argument list it was given nothing for as OpenBSD's tool fails, exit 1", () => {
    expect(callStandin("pfctl", ["-si"], undefined)).toEqual({ stdout: "", stderr: "pfctl: /dev/pf: No such file or directory\n", code: 1 });
    expect(callStandin("ifconfig", ["carp9"], undefined)).toEqual({ stdout: "", stderr: "ifconfig: carp9: no such interface\n", code: 1 });
  });

  it.each([
    ["pfctl", ["-t", "badhosts", "-T", "add", "192.0.2.9"]],
    ["pfctl", ["-f", "/etc/pf.conf"]],
    ["ifconfig", ["carp203", "down"]],
    ["sysctl", ["net.inet.carp.preempt=0"]],
    ["rcctl", ["restart", "smtpd"]],
    ["syspatch", []],
    ["syspatch", ["-r"]],
    ["syspatch", ["-R"]],
  ])("refuses %s %j, whatever was set for it: a check must never change a gateway", (tool, args) => {
    const answer = callStandin(tool, args, { key: standinKey(args), out: "changed\n" });
    expect(answer).toEqual({ stdout: "", stderr: `${tool}: refused by the simulated gateway: state-changing command: ${tool} ${args.join(" ")}\n`, code: 1 });
  });

  it("answers a dry run and a read as set", () => {
    expect(callStandin("pfctl", ["-nf", "/etc/pf.conf"], { key: "-nf_%2Fetc%2Fpf.conf", out: "" }).code).toBe(0);
    expect(callStandin("ifconfig", ["-g", "carp"], { key: "-g_carp", out: "carp: carp demote count 0\n" }).stdout).toBe("carp: carp demote count 0\n");
  });

  it("answers the read-only calls of ntpctl, syspatch and pkg_info as set, and a missing ntpd as ntpctl does", () => {
    expect(callStandin("syspatch", ["-l"], { key: "-l", out: "001_nsd\n" }).stdout).toBe("001_nsd\n");
    expect(callStandin("pkg_info", ["-q"], { key: "-q", out: "node-22.11.0\n" }).stdout).toBe("node-22.11.0\n");
    expect(callStandin("ntpctl", ["-s", "all"], undefined)).toEqual({ stdout: "", stderr: "ntpctl: connect: /var/run/ntpd.sock: No such file or directory\n", code: 1 });
  });
});

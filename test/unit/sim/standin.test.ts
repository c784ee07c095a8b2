// The demo's stand-in (src/sim/standin.sh) and the key the demo writes its outputs under
// (standinKey) must agree for any argument, or a tool would answer "not simulated". The script runs
// where the demo runs it: /run/carpentry-demo/state/<host name in /etc/myname>, here in a user and
// mount namespace of the test's own (tmpfs on /run and /etc: host name "primary").
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { standinKey } from "../../../src/sim/standin-key.js";

const SCRIPT = fileURLToPath(new URL("../../../src/sim/standin.sh", import.meta.url));

interface Answer {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** Sets the state files for `key`, then runs the stand-in as `tool` with `args`. */
function callStandin(tool: string, args: readonly string[], state: { key: string; out?: string; err?: string; rc?: number } | undefined): Answer {
  const setup = state
    ? `mkdir -p "$S/${tool}" && printf %s "$OUT" >"$S/${tool}/$KEY.out" && printf %s "$ERR" >"$S/${tool}/$KEY.err" && echo "$RC" >"$S/${tool}/$KEY.rc" &&`
    : "";
  const script = `mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /etc && echo primary >/etc/myname && S=/run/carpentry-demo/state/primary && mkdir -p "$S" && ${setup} cp "$SCRIPT" /run/standin && chmod 755 /run/standin && ln -s standin /run/${tool} && exec /run/${tool} "$@"`;
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
});

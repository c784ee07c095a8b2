import { describe, expect, it } from "vitest";
import { BUILTIN_DRIFT_SETS, check, driftCheck, driftResult, localSet, resolveDriftSet, userDriftSets } from "../../../src/checks/drift.js";
import { hostValueMapping, hostValueMapper, type FileDifference, type ManifestEntry, type SetComparison } from "../../../src/lib/compare/files.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { unifiedDiff } from "../../../src/lib/compare/diff.js";
import { formatText, SUMMARY_MAX_CHARS, firstLine } from "../../../src/lib/runtime/result.js";
import { executeCheck } from "../../../src/lib/runtime/runner.js";
import { fixture } from "../../support/fixtures.js";

const LABELS = { local: "primary", peer: "secondary" } as const;
const BASE_CONFIG = 'role = "primary"\n[peer]\nhost = "secondary"\n';

function file(path: string, extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return { path, type: "file", mode: 0o644, uid: 0, gid: 0, size: 100, contentDigest: "aa", binary: false, ...extra };
}

function comparison(differences: FileDifference[], extra: Partial<SetComparison> = {}): SetComparison {
  return { name: "pf", localCount: 12, peerCount: 12, differences, unreadableHere: [], unreadableOnPeer: [], roundTrips: differences.length > 0 ? 2 : 1, ...extra };
}

describe("driftResult", () => {
  it("OK when nothing differs, naming the set and counting its paths", () => {
    const res = driftResult([comparison([])], LABELS);
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("pf: 12 paths the same on primary and secondary");
    expect(res.perfdata).toEqual([
      { label: "paths", value: 12, min: 0 },
      { label: "differing", value: 0, min: 0 },
    ]);
  });

  it("CRITICAL for a changed file: summary names it, the diff follows the list of paths", () => {
    const diff = unifiedDiff("primary:/etc/pf.conf", "secondary:/etc/pf.conf", "block all\npass out\n", "block all\npass in\n");
    if (diff.kind !== "diff") throw new Error("expected a diff");
    const res = driftResult([comparison([{ path: "/etc/pf.conf", kinds: ["content"], local: file("/etc/pf.conf"), peer: file("/etc/pf.conf", { contentDigest: "bb" }), content: diff }])], LABELS);
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("/etc/pf.conf content differs");
    expect(res.details).toEqual(["/etc/pf.conf: content differs", "--- primary:/etc/pf.conf", "+++ secondary:/etc/pf.conf", "@@ -1,2 +1,2 @@", " block all", "-pass out", "+pass in"]);
  });

  it("CRITICAL for every other kind, with both hosts' values, and a count of the others in the summary", () => {
    const dir = (path: string, mode: number): ManifestEntry => ({ path, type: "dir", mode, uid: 0, gid: 0, size: 0 });
    const link = (path: string, linkTarget: string): ManifestEntry => ({ path, type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, linkTarget });
    const res = driftResult(
      [
        comparison([
          { path: "/etc/openvpn", kinds: ["mode"], local: dir("/etc/openvpn", 0o755), peer: dir("/etc/openvpn", 0o700) },
          { path: "/etc/openvpn/ccd/new", kinds: ["only on peer"], peer: file("/etc/openvpn/ccd/new") },
          { path: "/etc/openvpn/gone", kinds: ["only here"], local: file("/etc/openvpn/gone") },
          {
            path: "/etc/openvpn/server.conf",
            kinds: ["content", "owner"],
            local: file("/etc/openvpn/server.conf"),
            peer: file("/etc/openvpn/server.conf", { uid: 1000, gid: 1000, contentDigest: "bb" }),
            content: { kind: "withheld", reason: "secret" },
          },
          { path: "/etc/openvpn/current", kinds: ["symlink target"], local: link("/etc/openvpn/current", "v2"), peer: link("/etc/openvpn/current", "v1") },
          { path: "/etc/openvpn/x", kinds: ["type"], local: file("/etc/openvpn/x"), peer: link("/etc/openvpn/x", "y") },
          {
            path: "/etc/openvpn/big",
            kinds: ["content"],
            local: file("/etc/openvpn/big", { size: 52428800 }),
            peer: file("/etc/openvpn/big", { size: 52428801 }),
            content: { kind: "withheld", reason: "too large" },
          },
          { path: "/etc/openvpn/key.txt", kinds: ["content"], local: file("/etc/openvpn/key.txt"), peer: file("/etc/openvpn/key.txt"), content: { kind: "secrets only" } },
          { path: "/etc/openvpn/blob", kinds: ["content"], local: file("/etc/openvpn/blob"), peer: file("/etc/openvpn/blob"), content: { kind: "withheld", reason: "binary" } },
          { path: "/etc/openvpn/huge-change", kinds: ["content"], local: file("/etc/openvpn/huge-change"), peer: file("/etc/openvpn/huge-change"), content: { kind: "too different" } },
        ]),
      ],
      LABELS,
    );
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("/etc/openvpn mode differs (+9 more)");
    expect(res.details).toEqual([
      "/etc/openvpn: mode 0755 on primary, 0700 on secondary",
      "/etc/openvpn/ccd/new: only on secondary",
      "/etc/openvpn/gone: only on primary",
      "/etc/openvpn/server.conf: content differs (a secret file: content not shown); owner 0:0 on primary, 1000:1000 on secondary",
      "/etc/openvpn/current: symlink to v2 on primary, to v1 on secondary",
      "/etc/openvpn/x: a file on primary, a symlink on secondary",
      "/etc/openvpn/big: content differs (52428801 bytes, too large to diff: over 512 KiB)",
      "/etc/openvpn/key.txt: content differs only in masked secrets (not shown)",
      "/etc/openvpn/blob: content differs (binary)",
      "/etc/openvpn/huge-change: content differs (too different to diff)",
    ]);
  });

  it("keeps the monit output within 500 bytes, the list of paths before any diff line", () => {
    const diff = unifiedDiff("primary:/etc/pf.conf", "secondary:/etc/pf.conf", "a\n".repeat(50), "b\n".repeat(50));
    if (diff.kind !== "diff") throw new Error("expected a diff");
    const res = driftResult(
      [
        comparison([
          { path: "/etc/pf.conf", kinds: ["content"], local: file("/etc/pf.conf"), peer: file("/etc/pf.conf"), content: diff },
          { path: "/etc/pf.tables/spamd.txt", kinds: ["only here"], local: file("/etc/pf.tables/spamd.txt") },
        ]),
      ],
      LABELS,
    );
    const text = formatText(res, false);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(500);
    expect(text.indexOf("/etc/pf.tables/spamd.txt: only on primary")).toBeLessThan(text.indexOf("--- primary:/etc/pf.conf"));
    expect(formatText(res, true)).toContain("+b\n+b\n");
  });

  it("keeps the first line within 80 characters for a long path", () => {
    const path = `/etc/openv-client-${"x".repeat(100)}/client.conf`;
    const res = driftResult(
      [
        comparison([
          { path, kinds: ["only on peer"], peer: file(path) },
          { path: "/b", kinds: ["only here"], local: file("/b") },
        ]),
      ],
      LABELS,
    );
    const beforePerfdata = firstLine(res).split(" | ")[0] ?? "";
    expect(beforePerfdata.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    expect(beforePerfdata).toMatch(/\(\+1 more\)$/);
  });

  it("WARNING when none of the set's paths exists on either host", () => {
    const res = driftResult([comparison([], { localCount: 0, peerCount: 0 })], LABELS);
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("none of the set's paths exists on either host");
  });

  it("OK 'not in use' for a built-in set with no file on either host (a pair without OpenVPN), WARNING for the same set redefined", () => {
    const vpn = comparison([], { name: "vpn", localCount: 0, peerCount: 0 });
    const res = driftResult([vpn], LABELS, new Set(["vpn"]));
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("vpn: not in use (no file on either host)");
    expect(res.details[0]).toBe(`vpn: not in use: none of ${BUILTIN_DRIFT_SETS.vpn.paths.join(", ")} exists on primary or secondary`);
    // Not given as built-in (a [drift.vpn] table of the config's own): a typo is possible, WARNING.
    expect(driftResult([vpn], LABELS).status).toBe("WARNING");
    // A set in use beside it: its count, and the other one named as not in use.
    const both = driftResult([comparison([]), vpn], LABELS, new Set(["vpn", "pf"]));
    expect(both.status).toBe("OK");
    expect(both.summary).toBe("pf: 12 paths the same on primary and secondary; vpn not in use");
    // A set in use still alerts.
    expect(driftResult([comparison([{ path: "/etc/pf.conf", kinds: ["only here"], local: file("/etc/pf.conf") }])], LABELS, new Set(["pf"])).status).toBe("CRITICAL");
  });

  it("UNKNOWN for a path that cannot be read, CRITICAL when something also differs", () => {
    const unreadable = driftResult([comparison([], { unreadableOnPeer: ["/etc/pf.tables/x (EACCES)"] })], LABELS);
    expect(unreadable.status).toBe("UNKNOWN");
    expect(unreadable.summary).toBe("cannot read /etc/pf.tables/x (EACCES) on secondary");
    const both = driftResult([comparison([{ path: "/etc/pf.conf", kinds: ["only here"], local: file("/etc/pf.conf") }], { unreadableHere: ["/etc/pf.tables/y (EIO)"] })], LABELS);
    expect(both.status).toBe("CRITICAL");
    expect(both.details).toContain("cannot read /etc/pf.tables/y (EIO) on primary");
  });

  it("names the set of each line when it compares several", () => {
    const res = driftResult([comparison([], { name: "custom" }), comparison([{ path: "/etc/x", kinds: ["only here"], local: file("/etc/x") }], { name: "other" })], LABELS);
    expect(res.summary).toBe("other: /etc/x only on primary");
    const ok = driftResult([comparison([], { name: "custom", localCount: 2, peerCount: 2 }), comparison([], { name: "other", localCount: 3, peerCount: 3 })], LABELS);
    expect(ok.summary).toBe("custom, other: 5 paths the same on primary and secondary");
  });
});

describe("host-specific values on a pair's ifstated files", () => {
  const config = parseConfig(`${BASE_CONFIG}[host_specific]\nvalues = [{ primary = "192.168.110.101", secondary = "192.168.110.102" }]\ninterfaces = { re0 = "em0" }\n`, "/c.toml", { only: check });
  const set = localSet(config, "/c.toml", "ifstated", BUILTIN_DRIFT_SETS.ifstated);

  it("maps a correct pair onto each other: ifstated.conf and smtpd.conf.carp-backup", () => {
    expect(set.transformText?.(fixture("ifstated.conf.primary", "drift"))).toBe(fixture("ifstated.conf.secondary", "drift"));
    expect(set.transformText?.(fixture("smtpd.conf.carp-backup.primary", "drift"))).toBe(fixture("smtpd.conf.carp-backup.secondary", "drift"));
  });

  it("does not hide a real change: the diff shows the mapped primary line against the secondary's", () => {
    const changed = fixture("ifstated.conf.secondary", "drift").replace("every 10", "every 60");
    const diff = unifiedDiff("primary:/etc/ifstated.conf", "secondary:/etc/ifstated.conf", set.transformText?.(fixture("ifstated.conf.primary", "drift")) ?? "", changed);
    expect(diff.kind).toBe("diff");
    if (diff.kind === "diff") {
      expect(diff.lines).toContain(`-peer_alive = '( "ping -q -c 1 -w 1 192.168.110.101 >/dev/null" every 10 )'`);
      expect(diff.lines).toContain(`+peer_alive = '( "ping -q -c 1 -w 1 192.168.110.101 >/dev/null" every 60 )'`);
    }
  });

  it("maps nothing for a set without host_specific, or without declared values", () => {
    expect(localSet(config, "/c.toml", "pf", BUILTIN_DRIFT_SETS.pf).transformText).toBeUndefined();
    expect(localSet(parseConfig(BASE_CONFIG, "/c.toml", { only: check }), "/c.toml", "ifstated", BUILTIN_DRIFT_SETS.ifstated).transformText).toBeUndefined();
  });

  it("hands the admin's [redact] patterns and the set's secret_files to both hosts", () => {
    const withRedact = parseConfig(`${BASE_CONFIG}[redact]\npatterns = ["secret \\\\S+"]\n[drift.custom]\npaths = ["/etc/custom/"]\nsecret_files = ["*.pw"]\n`, "/c.toml", { only: check });
    const custom = resolveDriftSet(withRedact, "custom");
    if (!custom) throw new Error("expected the custom set");
    expect(localSet(withRedact, "/c.toml", "custom", custom).spec.redaction).toEqual({ patterns: ["secret \\S+"], secretFiles: ["*.pw"] });
  });

  it("applies the mapping to the primary's text in one pass, whatever the order of the declarations", () => {
    const mapping = hostValueMapping(config.host_specific, "/c.toml");
    expect(hostValueMapper(mapping)("-y 192.168.110.102 -Y 192.168.110.101")).toBe("-y 192.168.110.101 -Y 192.168.110.102");
  });
});

describe("the sets", () => {
  it("has the built-in default paths, the role-specific carpentry.toml left out", () => {
    expect(BUILTIN_DRIFT_SETS.scripts.paths).toEqual(["/root/bin/", "/etc/carpentry.bin/", "/etc/carpentry.monit/", "/etc/rc.d/carpentry"]);
    expect(BUILTIN_DRIFT_SETS.scripts.exclude).toEqual(["/etc/carpentry.monit/carpentry.toml"]);
    expect(BUILTIN_DRIFT_SETS.pf.paths).toEqual(["/etc/pf.conf", "/etc/pf.tables/"]);
    expect(BUILTIN_DRIFT_SETS.dhcp.paths).toEqual(["/etc/dhcpd.conf"]);
    expect(BUILTIN_DRIFT_SETS.unbound.paths).toEqual(["/var/unbound/etc/"]);
    expect(BUILTIN_DRIFT_SETS.vpn.paths).toEqual(["/etc/openvpn/", "/etc/openv-client-*/"]);
    expect(BUILTIN_DRIFT_SETS.ifstated.host_specific).toBe(true);
    expect(driftCheck("pf").name).toBe("drift_pf");
    expect(driftCheck("pf").roles).toEqual(["primary"]);
  });

  it("refuses a wildcard before the last path component, which would silently match nothing", () => {
    expect(() => parseConfig(`${BASE_CONFIG}[drift.vpn]\npaths = ["/etc/openv-client-*/keys/"]\n`, "/c.toml", { only: check })).toThrow(/last component only/);
    expect(parseConfig(`${BASE_CONFIG}[drift.vpn]\npaths = ["/etc/openv-client-*/"]\n`, "/c.toml", { only: check }).drift["vpn"]?.paths).toEqual(["/etc/openv-client-*/"]);
  });

  it("lets a [drift.NAME] table replace a built-in set, and tells the admin's own sets apart", () => {
    const config = parseConfig(`${BASE_CONFIG}[drift.pf]\npaths = ["/etc/pf.conf", "/etc/pf.if"]\n[drift.custom]\npaths = ["/etc/hostname.carp0"]\n`, "/c.toml", { only: check });
    expect(resolveDriftSet(config, "pf")?.paths).toEqual(["/etc/pf.conf", "/etc/pf.if"]);
    expect(resolveDriftSet(config, "dhcp")?.paths).toEqual(["/etc/dhcpd.conf"]);
    expect(resolveDriftSet(config, "nope")).toBeUndefined();
    expect(resolveDriftSet(config, "toString")).toBeUndefined();
    expect(userDriftSets(config)).toEqual(["custom"]);
  });
});

describe("check_drift without a peer to ask", () => {
  const run = async (toml: string, set: string | undefined) =>
    (await executeCheck(check, { configPath: "/c.toml", timeoutMs: 5000, verbose: false, config: parseConfig(toml, "/c.toml", { only: check }), extra: { set } })).result;

  it("UNKNOWN naming an unknown --set, with the known sets", async () => {
    const res = await run(`${BASE_CONFIG}[drift.custom]\npaths = ["/etc/x"]\n`, "nosuchset");
    expect(res.status).toBe("UNKNOWN");
    expect(res.summary).toBe("unknown drift set 'nosuchset'");
    expect(res.details[0]).toBe("known sets: custom, dhcp, ifstated, pf, scripts, sshkeys, unbound, vpn");
  });

  it("OK without --set when the config has no set of its own", async () => {
    const res = await run(BASE_CONFIG, undefined);
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("no drift sets of the admin's own ([drift.NAME]) to compare");
  });

  it("UNKNOWN on the secondary: drift is checked from the primary", async () => {
    const res = await run('role = "secondary"\n[peer]\nhost = "primary"\n', "pf");
    expect(res.status).toBe("UNKNOWN");
  });
});

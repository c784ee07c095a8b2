import { describe, expect, it } from "vitest";
import { driftResult } from "../../../../src/checks/drift.js";
import { newerOnSecondary, planConsolidation } from "../../../../src/cli/consolidate.js";
import { changedLast, copyBackCommands, DEFAULT_SYNCED_PATHS, isSynced, parseSyncedPaths, timeBasis } from "../../../../src/lib/compare/consolidate.js";
import type { FileDifference, ManifestEntry, SetComparison } from "../../../../src/lib/compare/files.js";

const LABELS = { local: "primary", peer: "secondary" } as const;
const SOURCE = { user: "root", host: "192.168.110.102", port: 22 };
const HOUR = 3_600_000;
const T0 = Date.parse("2026-11-01T08:00:00Z");

function file(path: string, extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return { path, type: "file", mode: 0o644, uid: 0, gid: 0, size: 100, contentDigest: "aa", binary: false, mtimeMs: T0, ctimeMs: T0, ...extra };
}

function contentDiff(path: string, primaryMs: number, secondaryMs: number): FileDifference {
  return { path, kinds: ["content"], local: file(path, { mtimeMs: primaryMs }), peer: file(path, { contentDigest: "bb", mtimeMs: secondaryMs }), content: { kind: "diff", lines: ["-a", "+b"] } };
}

describe("changedLast", () => {
  it("compares mtimes for a content change, with a second's slack", () => {
    expect(changedLast(contentDiff("/etc/pf.conf", T0, T0 + HOUR), LABELS)).toBe("secondary");
    expect(changedLast(contentDiff("/etc/pf.conf", T0 + HOUR, T0), LABELS)).toBe("primary");
    expect(changedLast(contentDiff("/etc/pf.conf", T0, T0 + 999), LABELS)).toBe("same time");
  });

  it("compares ctimes for a mode or owner change only: chmod moves no mtime", () => {
    const modeOnly: FileDifference = { path: "/etc/x", kinds: ["mode"], local: file("/etc/x", { ctimeMs: T0 }), peer: file("/etc/x", { mode: 0o600, ctimeMs: T0 + HOUR, mtimeMs: T0 - HOUR }) };
    expect(timeBasis(modeOnly)).toBe("ctime");
    expect(changedLast(modeOnly, LABELS)).toBe("secondary");
    expect(timeBasis({ ...modeOnly, kinds: ["content", "mode"] })).toBe("mtime");
  });

  it("takes a path on one host only as made there, and says unknown without times", () => {
    expect(changedLast({ path: "/etc/new", kinds: ["only on peer"], peer: file("/etc/new") }, LABELS)).toBe("secondary");
    expect(changedLast({ path: "/etc/old", kinds: ["only here"], local: file("/etc/old") }, LABELS)).toBe("primary");
    const olderPeer: ManifestEntry = { path: "/etc/pf.conf", type: "file", mode: 0o644, uid: 0, gid: 0, size: 100, contentDigest: "bb" };
    expect(changedLast({ path: "/etc/pf.conf", kinds: ["content"], local: file("/etc/pf.conf"), peer: olderPeer }, LABELS)).toBe("unknown");
  });
});

describe("what the sync copies", () => {
  it("reads sync_paths from carpentry's sync config, else the default synchronisations", () => {
    expect(parseSyncedPaths('peer=192.168.110.102\npf_tables="trusted"\n')).toEqual(DEFAULT_SYNCED_PATHS);
    expect(parseSyncedPaths('peer=x\nsync_paths="/etc/pf.conf, /etc/custom/"\n')).toEqual(["/etc/pf.conf", "/etc/custom/"]);
    expect(parseSyncedPaths("SYNC_PATHS=''\n")).toEqual([]);
  });

  it("matches a path at or under a synced path, globs within a component", () => {
    expect(isSynced("/etc/pf.conf", DEFAULT_SYNCED_PATHS)).toBe(true);
    expect(isSynced("/etc/pf.conf.bak", DEFAULT_SYNCED_PATHS)).toBe(false);
    expect(isSynced("/etc/openv-client-acme/client.conf", DEFAULT_SYNCED_PATHS)).toBe(true);
    expect(isSynced("/etc/openv-client-acme", DEFAULT_SYNCED_PATHS)).toBe(true);
    expect(isSynced("/etc/ssh/ssh_host_ed25519_key", DEFAULT_SYNCED_PATHS)).toBe(false);
  });
});

describe("copyBackCommands", () => {
  it("copies a file with scp -p, quoting for ksh and escaping scp's globbing of the remote path", () => {
    const path = "/etc/pf.tables/it's a [x].txt";
    expect(copyBackCommands({ path, kinds: ["only on peer"], peer: file(path, { mode: 0o600 }) }, SOURCE)).toEqual([
      `scp -p 'root@192.168.110.102:/etc/pf.tables/it'\\''s a \\[x\\].txt' '/etc/pf.tables/it'\\''s a [x].txt'`,
      `chown 0:0 '/etc/pf.tables/it'\\''s a [x].txt'`,
    ]);
  });

  it("names the port and key, brackets an IPv6 address", () => {
    const [command] = copyBackCommands(contentDiff("/etc/pf.conf", T0, T0 + HOUR), { user: "root", host: "fd00::2", port: 2222, identityFile: "/root/.ssh/id_ed25519" }) ?? [];
    expect(command).toBe("scp -p -P 2222 -i /root/.ssh/id_ed25519 'root@[fd00::2]:/etc/pf.conf' /etc/pf.conf");
  });

  it("gives chmod and chown for a mode or owner change, mkdir for a new directory, nothing for a name that is not UTF-8 or a changed type", () => {
    expect(copyBackCommands({ path: "/etc/x", kinds: ["mode", "owner"], local: file("/etc/x"), peer: file("/etc/x", { mode: 0o640, gid: 7 }) }, SOURCE)).toEqual([
      "chmod 0640 /etc/x",
      "chown 0:7 /etc/x",
    ]);
    expect(copyBackCommands({ path: "/etc/d", kinds: ["only on peer"], peer: file("/etc/d", { type: "dir", mode: 0o700 }) }, SOURCE)).toEqual(["mkdir -p -m 0700 /etc/d", "chown 0:0 /etc/d"]);
    expect(copyBackCommands({ path: "/etc/pf\\xe9.conf", kinds: ["only on peer"], peer: file("/etc/pf\\xe9.conf") }, SOURCE)).toBeUndefined();
    expect(copyBackCommands({ path: "/etc/x", kinds: ["type"], local: file("/etc/x", { type: "dir" }), peer: file("/etc/x") }, SOURCE)).toBeUndefined();
  });
});

describe("planConsolidation", () => {
  const comparison = (differences: FileDifference[]): SetComparison => ({ name: "pf", localCount: 3, peerCount: 3, differences, unreadableHere: [], unreadableOnPeer: [], roundTrips: 2 });

  it("lists the files newer on the secondary and those of them the next sync overwrites", () => {
    const plan = planConsolidation(
      [comparison([contentDiff("/etc/pf.conf", T0, T0 + HOUR), contentDiff("/etc/custom.conf", T0, T0 + HOUR), contentDiff("/etc/dhcpd.conf", T0 + HOUR, T0)])],
      DEFAULT_SYNCED_PATHS,
      SOURCE,
    );
    const { newer, overwritten } = newerOnSecondary(plan);
    expect(newer.map((item) => item.path)).toEqual(["/etc/pf.conf", "/etc/custom.conf"]);
    expect(overwritten.map((item) => item.path)).toEqual(["/etc/pf.conf"]);
    expect(plan.items.find((item) => item.path === "/etc/dhcpd.conf")?.copyBack).toEqual([]);
  });

  it("says nothing is overwritten when the sync is not installed", () => {
    const plan = planConsolidation([comparison([contentDiff("/etc/pf.conf", T0, T0 + HOUR)])], null, SOURCE);
    expect(plan.sync).toBeNull();
    expect(newerOnSecondary(plan).overwritten).toEqual([]);
  });
});

describe("check_drift", () => {
  it("puts a path newer on the secondary first, saying so in the summary", () => {
    const res = driftResult(
      [
        {
          name: "pf",
          localCount: 3,
          peerCount: 3,
          differences: [contentDiff("/etc/a.conf", T0 + HOUR, T0), contentDiff("/etc/pf.conf", T0, T0 + HOUR)],
          unreadableHere: [],
          unreadableOnPeer: [],
          roundTrips: 2,
        },
      ],
      LABELS,
    );
    expect(res.summary).toBe("newer on the secondary: /etc/pf.conf content differs (+1 more)");
    expect(res.details[0]).toContain("newer on the secondary (carpentry consolidate");
  });

  it("says nothing of it when the primary changed the path last", () => {
    const res = driftResult([{ name: "pf", localCount: 3, peerCount: 3, differences: [contentDiff("/etc/pf.conf", T0 + HOUR, T0)], unreadableHere: [], unreadableOnPeer: [], roundTrips: 2 }], LABELS);
    expect(res.summary).toBe("/etc/pf.conf content differs");
  });
});

import { describe, expect, it } from "vitest";
import { decideInstalled, decideSync, DEFAULT_PATHS, pgrepCommand, readServiceState, readWatchers, SYNC_PATHS, type InstalledFacts } from "../../../src/checks/installed.js";
import type { ManifestEntry } from "../../../src/lib/compare/files.js";
import { HostError, ParseError } from "../../../src/lib/runtime/errors.js";
import { formatPerfdata } from "../../../src/lib/runtime/result.js";
import type { CommandResult } from "../../../src/lib/transport/shell.js";
import { fixture } from "../../support/fixtures.js";

const answer = (stdout: string, exitCode = 0, stderr = ""): CommandResult => ({ command: "test", stdout, stderr, exitCode });

const file = (path: string, mode = 0o700, uid = 0): ManifestEntry => ({ path, type: "file", mode, uid, gid: 0, size: 10 });
const dir = (path: string, mode = 0o700, uid = 0): ManifestEntry => ({ path, type: "dir", mode, uid, gid: 0, size: 0 });

/** What the walk finds on a primary set up as intended: chmod -R 700, rc.d script chmod u+x. */
function primaryEntries(): ManifestEntry[] {
  return [
    file("/etc/carpentry", 0o600),
    dir("/etc/carpentry.bin"),
    file("/etc/carpentry.bin/pf.sh"),
    file("/etc/carpentry.bin/pf-tables-memory.sh"),
    dir("/etc/carpentry.monit"),
    file("/etc/carpentry.monit/carpentry.toml", 0o600),
    file("/etc/carpentry.monit/check_carp"),
    file("/etc/rc.d/carpentry", 0o755),
  ];
}

const RUNNING = { name: "carpentry", state: "ok" as const };
const WATCHERS = {
  program: "entr",
  running: [
    { pid: 4242, name: "entr" },
    { pid: 4250, name: "entr" },
  ],
};

function primary(entries: ManifestEntry[] = primaryEntries(), extra: Partial<InstalledFacts> = {}): InstalledFacts {
  return { paths: DEFAULT_PATHS.primary, entries, service: RUNNING, watchers: WATCHERS, ...extra };
}

function replaced(path: string, entry: ManifestEntry | undefined): ManifestEntry[] {
  return primaryEntries().flatMap((e) => (e.path === path ? (entry ? [entry] : []) : [e]));
}

describe("decideInstalled", () => {
  it("is OK on a primary set up as intended, with the service and its watchers running", () => {
    const res = decideInstalled(primary());
    expect([res.status, res.summary]).toEqual(["OK", "4 paths in place, root-only (8 entries); carpentry(ok), 2 entr watchers"]);
    expect(res.details).toEqual([
      "/etc/carpentry: file 0600 uid 0",
      "/etc/carpentry.bin: dir 0700 uid 0, 2 entries inside",
      "/etc/carpentry.monit: dir 0700 uid 0, 2 entries inside",
      "/etc/rc.d/carpentry: file 0755 uid 0",
      "entr pids: 4242, 4250",
    ]);
    expect(formatPerfdata(res.perfdata)).toBe("entries=8;;;0 watchers=2;;;0");
  });

  it("is OK on a secondary without the service checks", () => {
    const entries = primaryEntries().filter((e) => e.path !== "/etc/carpentry");
    const res = decideInstalled({ paths: DEFAULT_PATHS.secondary, entries });
    expect([res.status, res.summary]).toEqual(["OK", "3 paths in place, root-only (7 entries)"]);
  });

  it("without carpentry's sync (none of its paths here) needs only the checks, and says so", () => {
    const sync = decideSync(undefined, []);
    expect(sync).toEqual({ required: false, how: "detected", found: [] });
    const entries = [dir("/etc/carpentry.monit"), file("/etc/carpentry.monit/check_carp")];
    const res = decideInstalled({ paths: ["/etc/carpentry.monit"], role: "primary", sync, entries });
    expect([res.status, res.summary]).toEqual(["OK", "1 path in place, root-only (2 entries); carpentry sync not installed"]);
    expect(res.details[0]).toBe(`carpentry's sync not installed (none of ${SYNC_PATHS.primary.join(", ")} here): not required`);
  });

  it("with carpentry's sync partly installed requires all of it, and says what it found", () => {
    const sync = decideSync(undefined, ["/etc/rc.d/carpentry"]);
    expect(sync.required).toBe(true);
    const entries = primaryEntries().filter((e) => !e.path.startsWith("/etc/carpentry.bin") && e.path !== "/etc/carpentry");
    const res = decideInstalled({ ...primary(entries), role: "primary", sync, service: { name: "carpentry", state: "failed" }, watchers: { program: "entr", running: [] } });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toMatch(/^\/etc\/carpentry missing \(\+\d+ more\)$/);
    expect(res.details.join("\n")).toContain("carpentry's sync partly installed (found /etc/rc.d/carpentry): all of");
  });

  it("takes carpentry_sync from the config over what the host shows", () => {
    expect(decideSync(false, ["/etc/carpentry.bin"])).toEqual({ required: false, how: "config", found: [] });
    expect(decideSync(true, [])).toEqual({ required: true, how: "config", found: [] });
  });

  it("is CRITICAL when a path is missing", () => {
    const res = decideInstalled(primary(replaced("/etc/rc.d/carpentry", undefined)));
    expect([res.status, res.summary]).toEqual(["CRITICAL", "/etc/rc.d/carpentry missing"]);
  });

  it("is WARNING for a group- or world-readable entry, CRITICAL for a writable one", () => {
    const readable = decideInstalled(primary(replaced("/etc/carpentry.bin/pf.sh", file("/etc/carpentry.bin/pf.sh", 0o750))));
    expect([readable.status, readable.summary]).toEqual(["WARNING", "/etc/carpentry.bin/pf.sh readable by group (0750)"]);
    expect(readable.details[0]).toBe("/etc/carpentry.bin/pf.sh: readable by group (mode 0750); carpentry's files are root's alone: chmod -R 700");
    const worldReadable = decideInstalled(primary(replaced("/etc/carpentry", file("/etc/carpentry", 0o644))));
    expect(worldReadable.summary).toBe("/etc/carpentry readable by group and others (0644)");
    const writable = decideInstalled(primary(replaced("/etc/carpentry.monit", dir("/etc/carpentry.monit", 0o707))));
    expect([writable.status, writable.summary]).toEqual(["CRITICAL", "/etc/carpentry.monit writable by others (0707)"]);
  });

  it("is CRITICAL for an entry not owned by root", () => {
    const res = decideInstalled(primary(replaced("/etc/carpentry.monit/check_carp", file("/etc/carpentry.monit/check_carp", 0o700, 1000))));
    expect([res.status, res.summary]).toEqual(["CRITICAL", "/etc/carpentry.monit/check_carp owned by uid 1000, not root"]);
  });

  it("lets the rc.d script be 0555 as OpenBSD's own, but wants it executable and not writable by others", () => {
    expect(decideInstalled(primary(replaced("/etc/rc.d/carpentry", file("/etc/rc.d/carpentry", 0o555)))).status).toBe("OK");
    const notExecutable = decideInstalled(primary(replaced("/etc/rc.d/carpentry", file("/etc/rc.d/carpentry", 0o644))));
    expect([notExecutable.status, notExecutable.summary]).toEqual(["CRITICAL", "/etc/rc.d/carpentry not executable (0644)"]);
    const writable = decideInstalled(primary(replaced("/etc/rc.d/carpentry", file("/etc/rc.d/carpentry", 0o775))));
    expect(writable.summary).toBe("/etc/rc.d/carpentry writable by group (0775)");
  });

  it("is CRITICAL when the service failed, does not exist, or no watcher runs", () => {
    const failed = decideInstalled(primary(undefined, { service: { name: "carpentry", state: "failed" } }));
    expect([failed.status, failed.summary]).toEqual(["CRITICAL", "carpentry not running (rcctl check: carpentry(failed))"]);
    const missing = decideInstalled(primary(undefined, { service: { name: "carpentry", state: "missing" } }));
    expect(missing.summary).toBe("rc.d service carpentry does not exist");
    const noWatchers = decideInstalled(primary(undefined, { watchers: { program: "entr", running: [] } }));
    expect([noWatchers.status, noWatchers.summary]).toEqual(["CRITICAL", "no entr watchers running"]);
    expect(formatPerfdata(noWatchers.perfdata)).toBe("entries=8;;;0 watchers=0;;;0");
  });

  it("says what it could not read, and a fault seen still wins", () => {
    const unreadable: ManifestEntry = { path: "/etc/carpentry.bin/x", type: "unreadable", mode: 0, uid: 0, gid: 0, size: 0, error: "EACCES" };
    const res = decideInstalled(primary([...primaryEntries(), unreadable]));
    expect([res.status, res.summary]).toEqual(["UNKNOWN", "cannot read /etc/carpentry.bin/x: EACCES"]);
    const worse = decideInstalled(primary([...replaced("/etc/carpentry", undefined), unreadable]));
    expect([worse.status, worse.summary]).toEqual(["CRITICAL", "/etc/carpentry missing (+1 more)"]);
  });

  it("takes '*' in a configured path, and ignores symlinks' own modes", () => {
    const entries = [
      file("/etc/carpentry.monit/check_carp"),
      file("/etc/carpentry.monit/check_dns"),
      { path: "/etc/carpentry.monit/latest", type: "symlink" as const, mode: 0o777, uid: 0, gid: 0, size: 0, linkTarget: "check_dns" },
    ];
    expect(decideInstalled({ paths: ["/etc/carpentry.monit/check_*", "/etc/carpentry.monit/latest"], entries }).status).toBe("OK");
    expect(decideInstalled({ paths: ["/etc/carpentry.monit/check_*", "/etc/carpentry.monit/zz_*"], entries }).summary).toBe("/etc/carpentry.monit/zz_* missing");
  });
});

describe("reading rcctl and pgrep", () => {
  it("reads rcctl check's NAME(ok) / NAME(failed) and a service that does not exist", () => {
    expect(readServiceState("smtpd", answer(fixture("derived_rcctl_check_ok.txt")))).toBe("ok");
    expect(readServiceState("ifstated", answer(fixture("derived_rcctl_check_failed.txt"), 1))).toBe("failed");
    expect(readServiceState("carpentry", answer("", 2, "rcctl: service carpentry does not exist\n"))).toBe("missing");
  });

  it("does not take another service's answer or garbled output for an answer", () => {
    expect(() => readServiceState("carpentry", answer(fixture("derived_rcctl_check_ok.txt")))).toThrow(HostError);
    expect(() => readServiceState("carpentry", answer("carpentry(maybe)\n"))).toThrow(ParseError);
    expect(() => readServiceState("carpentry", answer("", 3, "rcctl: need root privileges\n"))).toThrow(/rcctl check carpentry failed \(exit 3\)/);
  });

  it("asks pgrep for the process name exactly: carpENTRy command lines are no watchers", () => {
    expect(pgrepCommand("entr").argv).toEqual(["/usr/bin/pgrep", "-lx", "entr"]);
    expect(readWatchers("entr", answer("4242 entr\n"))).toEqual([{ pid: 4242, name: "entr" }]);
    expect(readWatchers("entr", answer("", 1))).toEqual([]);
    expect(() => readWatchers("entr", answer("", 2, "pgrep: illegal option\n"))).toThrow(HostError);
    expect(() => readWatchers("entr", answer("entr\n"))).toThrow(ParseError);
  });
});

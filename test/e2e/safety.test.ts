// The safety net of the e2e matrix (matrix.test.ts), shown able to fail: the matrix asserts that
// no check ran a state-changing command, changed a file or sent a GNU-only option, and each of those
// assertions is only worth something if a violation is caught. Here each kind of violation is made
// on purpose, inside a simulated host, and must be seen: by the stand-ins (refused and logged, also
// over ssh), by the file snapshots (every attribute, the allowed state directories left out), and by
// the scanner reading the command log.
import { chmodSync, chownSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import type { HostName, Pair } from "../harness/pair.js";
import { snapshotChanges, snapshotTrees, type Snapshot } from "../support/file-snapshot.js";
import { gnuOnlyInLogEntry } from "../support/gnu-options.js";
import { useSimulatedPair } from "../support/sim.js";

let pair: Pair;
useSimulatedPair((started) => (pair = started));

const ssh = (command: string): string[] => ["/usr/bin/ssh", "-o", "BatchMode=yes", "root@secondary", command];
const snapshot = (host: HostName): Snapshot => snapshotTrees(["/etc", "/root", "/var"], (path) => pair.hostPath(host, path));

describe("state-changing commands", () => {
  // What would change a gateway: pfctl -f, -T add/delete/replace/flush, ifconfig with settings, sysctl name=value,
  // rcctl start/stop/restart, smtpctl schedule/remove/pause.
  const STATE_CHANGING = [
    ["/sbin/pfctl", "-f", "/etc/pf.conf"],
    ["/sbin/pfctl", "-t", "badhosts", "-T", "add", "192.0.2.9"],
    ["/sbin/pfctl", "-t", "badhosts", "-T", "delete", "192.0.2.9"],
    ["/sbin/pfctl", "-t", "badhosts", "-T", "replace", "-f", "/etc/pf.tables/badhosts.txt"],
    ["/sbin/pfctl", "-t", "badhosts", "-T", "flush"],
    ["/sbin/pfctl", "-tbadhosts", "-Tflush"],
    ["/sbin/ifconfig", "carp203", "down"],
    ["/sbin/ifconfig", "carp203", "advskew", "200"],
    ["/sbin/ifconfig", "-g", "carp", "carpdemote", "50"],
    ["/sbin/sysctl", "net.inet.carp.preempt=0"],
    ["/usr/sbin/rcctl", "start", "carpentry"],
    ["/usr/sbin/rcctl", "stop", "carpentry"],
    ["/usr/sbin/rcctl", "restart", "carpentry"],
    ["/usr/sbin/smtpctl", "schedule", "all"],
    ["/usr/sbin/smtpctl", "remove", "20e9202c5e70252a"],
    ["/usr/sbin/smtpctl", "pause", "mta"],
  ];

  it.each(STATE_CHANGING.map((argv) => [argv.join(" "), argv]))("%s is refused and logged as refused, run locally", async (line, argv) => {
    const run = await pair.run("primary", argv);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("refused by the simulated gateway");
    expect(await pair.refusedCommands("primary")).toEqual([line]);
  });

  it("is refused and logged on the peer too, when it comes over ssh", async () => {
    const run = await pair.run("primary", ssh("/sbin/pfctl -t badhosts -T add 192.0.2.9; /usr/sbin/rcctl restart carpentry"));
    expect(run.code).toBe(1);
    expect(await pair.refusedCommands("secondary")).toEqual(["/sbin/pfctl -t badhosts -T add 192.0.2.9", "/usr/sbin/rcctl restart carpentry"]);
    expect(await pair.refusedCommands("primary")).toEqual([]);
  });

  it("leaves the read-only forms the checks use alone", async () => {
    for (const argv of [
      ["/sbin/pfctl", "-nf", "/etc/pf.conf"],
      ["/sbin/pfctl", "-t", "badhosts", "-T", "show"],
      ["/sbin/ifconfig", "carp203"],
      ["/sbin/ifconfig", "-g", "carp"],
      ["/sbin/sysctl", "net.inet.carp.preempt"],
      ["/usr/sbin/rcctl", "check", "carpentry"],
      ["/usr/sbin/smtpctl", "show", "queue"],
    ]) {
      await pair.run("primary", argv);
    }
    expect(await pair.refusedCommands("primary")).toEqual([]);
    expect((await pair.commandEntries("primary")).map((entry) => entry.kind)).not.toContain("refused");
  });
});

describe("file snapshots", () => {
  const ALLOWED = ["/var/db/carpentry", "/var/run/carpentry"];
  const file = (path: string): string => pair.hostPath("secondary", path);

  beforeEach(async () => {
    rmSync(file("/etc/safety"), { recursive: true, force: true });
    rmSync(file("/var/db"), { recursive: true, force: true });
    await pair.writeFile("secondary", "/etc/safety/pf.conf", "pass out\n", { mode: 0o600 });
    await pair.writeFile("secondary", "/etc/safety/other", "x\n");
    symlinkSync("pf.conf", file("/etc/safety/current"));
    mkdirSync(file("/var/db"), { mode: 0o755 });
  });

  it("see nothing when nothing changed", () => {
    expect(snapshotChanges(snapshot("secondary"), snapshot("secondary"), ALLOWED)).toEqual([]);
  });

  it("see each kind of change: content of the same size with its mtime put back, mode, owner, mtime, added, removed, symlink target", () => {
    const then = new Date("2025-06-01T12:00:00Z");
    utimesSync(file("/etc/safety/pf.conf"), then, then);
    const before = snapshot("secondary");
    writeFileSync(file("/etc/safety/pf.conf"), "pass in\n\n");
    utimesSync(file("/etc/safety/pf.conf"), then, then);
    chmodSync(file("/etc/safety/other"), 0o640);
    chownSync(file("/root"), 0, 1);
    utimesSync(file("/etc/passwd"), new Date(0), new Date(0));
    writeFileSync(file("/var/new-file"), "");
    rmSync(file("/etc/myname"));
    rmSync(file("/etc/safety/current"));
    symlinkSync("other", file("/etc/safety/current"));
    const changes = snapshotChanges(before, snapshot("secondary"), ALLOWED);
    chownSync(file("/root"), 0, 0);
    // Adding and removing entries also moves their directories' mtimes (overlays may or may not show it).
    const directoryMtimes = /^\/(etc|etc\/safety|var): mtimeNs \d+ -> \d+$/;
    expect(changes.filter((change) => !directoryMtimes.test(change))).toEqual([
      "/etc/myname: removed",
      expect.stringMatching(/^\/etc\/passwd: mtimeNs \d+ -> 0$/),
      expect.stringMatching(/^\/etc\/safety\/current: size 7 -> 5, mtimeNs \d+ -> \d+, sha256 [0-9a-f]{64} -> [0-9a-f]{64}$/),
      "/etc/safety/other: mode 0644 -> 0640",
      expect.stringMatching(/^\/etc\/safety\/pf\.conf: sha256 [0-9a-f]{64} -> [0-9a-f]{64}$/),
      "/root: gid 0 -> 1",
      "/var/new-file: added",
    ]);
  });

  it("leave out the allowed state directories, and only their parent's mtime and size", () => {
    const before = snapshot("secondary");
    mkdirSync(file("/var/db/carpentry"), { mode: 0o700 });
    writeFileSync(file("/var/db/carpentry/pfsync-counters.json"), "{}");
    expect(snapshotChanges(before, snapshot("secondary"), ALLOWED)).toEqual([]);
    chmodSync(file("/var/db"), 0o700);
    renameSync(file("/var/db/carpentry/pfsync-counters.json"), file("/var/db/escaped.json"));
    expect(snapshotChanges(before, snapshot("secondary"), ALLOWED)).toEqual(["/var/db/escaped.json: added", "/var/db: mode 0755 -> 0700"]);
  });
});

describe("the GNU-only scan of the command log", () => {
  it("finds what a command line sent over ssh asked for, and what the host's userland rejected", async () => {
    await pair.run("primary", ssh("stat -c %s /etc/hosts; find /etc -maxdepth 0 -printf '%p'; sha256sum /etc/hosts | base64"));
    const entries = await pair.commandEntries("secondary");
    const findings = entries.flatMap((entry) => gnuOnlyInLogEntry(entry));
    expect(findings).toEqual(
      expect.arrayContaining([
        "stat -c: GNU-only (OpenBSD: stat -f FORMAT)",
        "find -printf: GNU-only (OpenBSD: find ... -exec stat -f FORMAT, or our own code)",
        "sha256sum: not on OpenBSD (use sha256)",
        expect.stringMatching(/^base64: not on OpenBSD/),
        expect.stringMatching(/^rejected by the host's OpenBSD userland: \S*stat -c %s \/etc\/hosts$/),
      ]),
    );
  });

  it("finds nothing in OpenBSD's forms", async () => {
    await pair.run("primary", ssh("stat -f %z /etc/hosts; find /etc -maxdepth 0 -print; sha256 -q /etc/hosts"));
    expect((await pair.commandEntries("secondary")).flatMap((entry) => gnuOnlyInLogEntry(entry))).toEqual([]);
  });
});

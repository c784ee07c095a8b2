// carpentry consolidate on the simulated pair, after "a long primary outage": files edited on the
// secondary (content, a mode, a secret file, a name that needs quoting) and one edited on the primary.
// It names the host that changed each path last, what the next sync overwrites, and copy-back commands
// that a real shell splits into the exact paths; it changes nothing on either host and leaks no secret.
import { spawnSync } from "node:child_process";
import { chmodSync, utimesSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAME_TIME_MS } from "../../src/lib/compare/consolidate.js";
import { startPair, type HostName, type Pair } from "../harness/pair.js";
import { ScenarioLab, type ScenarioName } from "../harness/scenarios.js";
import { snapshotChanges, snapshotTrees, type Snapshot } from "../support/file-snapshot.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";
const HOSTS: readonly HostName[] = ["primary", "secondary"];
const SYNCED_AT = new Date("2026-11-01T08:00:00Z");
const OUTAGE_EDIT = new Date("2026-11-03T14:30:00Z");
const PRIMARY_EDIT = new Date("2026-11-04T09:00:00Z");
const SECRET_CANARY = "CONSOLIDATECANARY7q";
// A name an admin's shell would split, glob and expand: a quote, a space, brackets, a dollar.
const ODD_NAME = "/etc/pf.tables/it's a [test] $HOME*.txt";
const ROOTS = ["/etc", "/root", "/var/db", "/var/unbound"];
const ALLOWED = ["/var/db/carpentry", "/var/run/carpentry", "/run/carpentry"];

let pair: Pair;
let lab: ScenarioLab;

const snapshot = (host: HostName): Snapshot => snapshotTrees(ROOTS, (path) => pair.hostPath(host, path));

function setTimes(host: HostName, path: string, at: Date): void {
  utimesSync(pair.hostPath(host, path), at, at);
}

/** The outage: the secondary's admin edited pf.conf, loosened unbound.conf's mode, replaced the host key, added a file; the primary's resolv.conf.carp-master was edited after. */
async function afterOutage(): Promise<void> {
  const planted = ["/etc/pf.conf", "/var/unbound/etc/unbound.conf", "/etc/ssh/ssh_host_ed25519_key", "/etc/resolv.conf.carp-master"];
  for (const host of HOSTS) for (const path of planted) setTimes(host, path, SYNCED_AT);
  const secondary = (path: string): string => pair.hostPath("secondary", path);
  writeFileSync(secondary("/etc/pf.conf"), `${(await pair.readFile("secondary", "/etc/pf.conf")).toString()}pass in on vlan120 proto tcp to port 8443\n`);
  setTimes("secondary", "/etc/pf.conf", OUTAGE_EDIT);
  // No call sets a ctime: the mode change comes more than SAME_TIME_MS after the times above set both hosts' ctimes.
  await new Promise((resolve) => setTimeout(resolve, SAME_TIME_MS + 200));
  chmodSync(secondary("/var/unbound/etc/unbound.conf"), 0o600);
  writeFileSync(secondary("/etc/ssh/ssh_host_ed25519_key"), `-----BEGIN OPENSSH PRIVATE KEY-----\n${SECRET_CANARY}\n-----END OPENSSH PRIVATE KEY-----\n`, { mode: 0o600 });
  setTimes("secondary", "/etc/ssh/ssh_host_ed25519_key", OUTAGE_EDIT);
  await pair.writeFile("secondary", ODD_NAME, "192.0.2.99\n", { mode: 0o600 });
  setTimes("secondary", ODD_NAME, OUTAGE_EDIT);
  writeFileSync(pair.hostPath("primary", "/etc/resolv.conf.carp-master"), "nameserver 127.0.0.1\nlookup file bind\n");
  setTimes("primary", "/etc/resolv.conf.carp-master", PRIMARY_EDIT);
}

interface Plan {
  status: string;
  code: number;
  items: {
    set: string;
    path: string;
    changedLast: string;
    basis: string;
    diff: string[];
    syncOverwrites: boolean;
    copyBack: string[] | null;
    primary?: { size: number };
    secondary?: { size: number; mode: string };
  }[];
  newerOnSecondary: string[];
  syncWouldOverwrite: string[];
  commands: string[];
  sync: { config: string; paths: string[] } | null;
}

/** The words a POSIX shell makes of a printed command line: what the admin's shell would pass to scp. */
function shellWords(command: string): string[] {
  const run = spawnSync("/bin/sh", ["-c", `set -- ${command}; for word in "$@"; do printf '%s\\0' "$word"; done`], { encoding: "utf8" });
  expect(run.status).toBe(0);
  return run.stdout.split("\0").slice(0, -1);
}

beforeAll(async () => {
  pair = await startPair();
  lab = new ScenarioLab(pair);
  await lab.setUp();
}, 180_000);

afterAll(async () => {
  await pair?.stop();
});

describe.each<[ScenarioName, boolean]>([
  ["healthy", true],
  ["minimal", false],
])("carpentry consolidate on the %s pair", (scenario, syncInstalled) => {
  it("names what changed last on the secondary, what the sync would overwrite, and the commands to copy it back, changing nothing", async () => {
    await lab.enter(scenario);
    await afterOutage();
    const before = Object.fromEntries(HOSTS.map((host) => [host, snapshot(host)])) as Record<HostName, Snapshot>;

    const json = await pair.run("primary", [CARPENTRY, "consolidate", "--json"], { timeoutMs: 60_000 });
    expect(json.stderr).toBe("");
    expect(json.code).toBe(1);
    const plan = JSON.parse(json.stdout) as Plan;
    const item = (path: string): Plan["items"][number] => {
      const found = plan.items.find((candidate) => candidate.path === path);
      if (!found) throw new Error(`no item for ${path} in ${plan.items.map((candidate) => candidate.path).join(", ")}`);
      return found;
    };

    expect(item("/etc/pf.conf")).toMatchObject({ set: "pf", changedLast: "secondary", basis: "mtime", syncOverwrites: syncInstalled });
    expect(item("/etc/pf.conf").diff.join("\n")).toContain("+pass in on vlan120 proto tcp to port 8443");
    expect(item("/etc/pf.conf").secondary?.size).toBeGreaterThan(item("/etc/pf.conf").primary?.size ?? Infinity);
    expect(item("/var/unbound/etc/unbound.conf")).toMatchObject({ changedLast: "secondary", basis: "ctime", syncOverwrites: syncInstalled, copyBack: ["chmod 0600 /var/unbound/etc/unbound.conf"] });
    expect(item("/etc/ssh/ssh_host_ed25519_key")).toMatchObject({ set: "sshkeys", changedLast: "secondary", diff: [], syncOverwrites: false });
    expect(item(ODD_NAME)).toMatchObject({ changedLast: "secondary", syncOverwrites: false });
    expect(item("/etc/resolv.conf.carp-master")).toMatchObject({ changedLast: "primary", copyBack: [] });
    expect(plan.newerOnSecondary).toEqual(expect.arrayContaining(["/etc/pf.conf", "/var/unbound/etc/unbound.conf", "/etc/ssh/ssh_host_ed25519_key", ODD_NAME]));
    expect(plan.newerOnSecondary).not.toContain("/etc/resolv.conf.carp-master");
    expect(plan.syncWouldOverwrite.sort()).toEqual(syncInstalled ? ["/etc/pf.conf", "/var/unbound/etc/unbound.conf"] : []);
    expect(plan.sync === null).toBe(!syncInstalled);

    // The printed commands, as the admin's shell splits them: the exact paths, the remote one escaped for scp's globbing.
    const oddCopy = item(ODD_NAME).copyBack?.[0] ?? "";
    expect(shellWords(oddCopy)).toEqual(["scp", "-p", `root@secondary:${ODD_NAME.replace(/[[\]*]/g, "\\$&")}`, ODD_NAME]);
    expect(shellWords(item("/etc/pf.conf").copyBack?.[0] ?? "")).toEqual(["scp", "-p", "root@secondary:/etc/pf.conf", "/etc/pf.conf"]);

    const text = await pair.run("primary", [CARPENTRY, "consolidate"], { timeoutMs: 60_000 });
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`newer on the secondary: ${plan.newerOnSecondary.length} paths:`);
    expect(text.stdout).toContain(syncInstalled ? "the next sync would overwrite 2 of them: /etc/pf.conf, /var/unbound/etc/unbound.conf" : "the next sync overwrites: nothing");
    expect(text.stdout).toContain("changed last on the secondary; modified (mtime): primary 2026-11-01");
    expect(text.stdout).toContain("To copy the secondary's newer versions back, run on the primary");
    for (const command of plan.commands) expect(text.stdout).toContain(`  ${command}\n`);

    // The alert warns too, before a sync destroys the work.
    const drift = await pair.run("primary", ["/etc/carpentry.monit/check_drift_pf"]);
    expect(drift.stdout.split("\n")[0]).toMatch(/^CRITICAL: newer on the secondary: /);

    for (const output of [json.stdout, text.stdout, drift.stdout]) expect(output).not.toContain(SECRET_CANARY);
    for (const host of HOSTS) {
      expect(snapshotChanges(before[host], snapshot(host), ALLOWED)).toEqual([]);
      expect(await pair.refusedCommands(host)).toEqual([]);
    }
  }, 180_000);
});

describe("carpentry consolidate on the secondary", () => {
  it("refuses, saying where to run it, exit 3", async () => {
    await lab.enter("healthy");
    const run = await pair.run("secondary", [CARPENTRY, "consolidate"]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^UNKNOWN: carpentry consolidate runs on the primary; .* says role = "secondary"/);
  });
});

// carpentry maintenance in the simulated pair, on two pair shapes: the primary under maintenance goes
// through the upgrade's steps (preempt 0 live and in sysctl.conf, carp demote 50 and the failover it
// makes, pf disabled, versions apart, the reboot that leaves it unreachable) and every check on both
// hosts stays OK, saying why; once the window has ended, the demote still set alerts, saying so.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST_NAMES, startPair, type HostName, type Pair } from "../harness/pair.js";
import { ScenarioLab } from "../harness/scenarios.js";
import { FAULTS, pairState, type PairShape, type PairState } from "../../src/sim/gateways.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";
const key = (argv: readonly string[]): string => JSON.stringify(argv);

interface RunJson {
  readonly status: string;
  readonly checks: readonly { readonly check: string; readonly status: string; readonly summary: string }[];
}

/** The pair with the primary in the middle of its upgrade, of that shape; `rebooting`: its sshd is down. */
function upgradeState(shape: PairShape, rebooting: boolean): PairState {
  const state = pairState(undefined, shape);
  FAULTS.preempt_zero.apply(state);
  // `ifconfig -g carp carpdemote 50`, and the secondary takes over what the primary held.
  if (shape === "full") FAULTS.primary_demoted.apply(state);
  else {
    FAULTS.carp203_failed_over.apply(state);
    const demoted = pairState("primary_demoted").hosts.primary.outputs.get(key(["ifconfig", "-g", "carp"]));
    if (!demoted) throw new Error("no demote capture");
    state.hosts.primary.outputs.set(key(["ifconfig", "-g", "carp"]), demoted);
  }
  // `pfctl -d`, as the sim's pf_disabled fault does it on the other host.
  for (const argv of [
    ["pfctl", "-si"],
    ["pfctl", "-vsi"],
  ]) {
    const output = state.hosts.primary.outputs.get(key(argv));
    if (!output) throw new Error(`no ${argv.join(" ")} output`);
    const stdout = output.stdout.replace(/^Status: Enabled for 12 days 03:04:05 +/m, "Status: Disabled for 0 days 00:14:02".padEnd(44 + 5));
    if (stdout === output.stdout) throw new Error("pf status line not found");
    state.hosts.primary.outputs.set(key(argv), { ...output, stdout });
  }
  // One host upgraded, the other not yet.
  FAULTS.versions_mismatch.apply(state);
  if (rebooting) state.hosts.primary.sshd = "stopped";
  return state;
}

/** Only the demote left behind (and the failover it holds), the rest of the upgrade undone. */
function demoteLeftState(shape: PairShape): PairState {
  const state = pairState(shape === "full" ? "primary_demoted" : "carp203_failed_over", shape);
  const demoted = pairState("primary_demoted").hosts.primary.outputs.get(key(["ifconfig", "-g", "carp"]));
  if (demoted) state.hosts.primary.outputs.set(key(["ifconfig", "-g", "carp"]), demoted);
  return state;
}

describe.each(["full", "active-active"] as const)("maintenance on the primary, %s pair", (shape) => {
  let pair: Pair;
  let lab: ScenarioLab;

  beforeAll(async () => {
    pair = await startPair();
    lab = new ScenarioLab(pair);
    await lab.setUp();
    await lab.enter(shape === "full" ? "healthy" : shape);
  }, 120_000);

  afterAll(async () => {
    await lab?.closeSharedConnections();
    await pair?.stop();
  });

  /** A new state planted keeps the hosts' maintenance state, as an upgrade step does (a plant resets /var/db/carpentry). */
  async function step(state: PairState): Promise<void> {
    const kept = HOST_NAMES.flatMap((host) =>
      ["maintenance.json", "peer-maintenance.json"].flatMap((file) => {
        const path = pair.hostPath(host, `/var/db/carpentry/${file}`);
        return existsSync(path) ? [{ path, content: readFileSync(path) }] : [];
      }),
    );
    await lab.plant(state);
    for (const { path, content } of kept) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, content, { mode: 0o600 });
    }
  }

  async function carpentry(host: HostName, ...args: string[]): Promise<{ code: number | null; stdout: string }> {
    const run = await pair.run(host, [CARPENTRY, ...args], { timeoutMs: 40_000 });
    expect(run.stderr).toBe("");
    return { code: run.code, stdout: run.stdout };
  }

  async function runAll(host: HostName): Promise<RunJson> {
    return JSON.parse((await carpentry(host, "run", "--json")).stdout) as RunJson;
  }

  const notOk = (run: RunJson): string[] => run.checks.filter((c) => c.status !== "OK").map((c) => `${c.check} ${c.status}: ${c.summary}`);
  const excused = (run: RunJson): string[] => run.checks.filter((c) => /^maintenance on primary until \d\d:\d\d/.test(c.summary)).map((c) => c.check);

  it("refuses a bad duration or reason with a clear error, exit 3, and writes nothing", async () => {
    for (const args of [
      ["--for", "25h"],
      ["--for", "0s"],
      ["--for", "soon"],
      ["--reason", "x".repeat(200)],
    ]) {
      const run = await carpentry("primary", "maintenance", "start", ...args);
      expect(run.stdout).toMatch(/^UNKNOWN: bad (duration|reason)/);
      expect(run.code).toBe(3);
    }
    expect((await carpentry("primary", "maintenance", "status")).stdout).toMatch(/^no maintenance on primary\n/);
  });

  it("under maintenance, the upgrade's steps leave every check on both hosts OK, with the note", async () => {
    const start = await carpentry("primary", "maintenance", "start", "--for", "30m", "--reason", "upgrade to 7.9");
    expect(start.stdout).toMatch(/^maintenance on primary until \d\d:\d\d \(upgrade to 7\.9\): started\n$/);
    expect(start.code).toBe(0);
    expect((await carpentry("primary", "maintenance", "status")).stdout).toMatch(/^maintenance on primary until \d\d:\d\d \(upgrade to 7\.9\)\n/);

    await step(upgradeState(shape, false));
    const onPrimary = await runAll("primary");
    const onSecondary = await runAll("secondary");
    expect(notOk(onPrimary)).toEqual([]);
    expect(notOk(onSecondary)).toEqual([]);
    expect(excused(onPrimary)).toEqual(expect.arrayContaining(["carp", "sysctl", "pf", "versions"]));
    expect(excused(onSecondary)).toEqual(expect.arrayContaining(["carp", "sysctl", "pf"]));
    // The secondary learned the primary's window from it, and keeps it for the reboot.
    expect((await carpentry("secondary", "maintenance", "status")).stdout).toMatch(/\nmaintenance on primary until \d\d:\d\d \(upgrade to 7\.9\)\n$/);

    // The reboot: the primary cannot be reached; the secondary excuses it from what it last learned.
    await step(upgradeState(shape, true));
    const alone = await runAll("secondary");
    expect(notOk(alone)).toEqual([]);
    expect(excused(alone)).toEqual(expect.arrayContaining(["peer", "carp", "sysctl", "pf"]));
    for (const host of HOST_NAMES) expect(await pair.refusedCommands(host)).toEqual([]);
  }, 120_000);

  it("every other finding alerts as before", async () => {
    const state = upgradeState(shape, false);
    FAULTS.mail_piling.apply(state);
    await step(state);
    const onSecondary = await runAll("secondary");
    expect(notOk(onSecondary)).toEqual([expect.stringMatching(/^mailq (WARNING|CRITICAL): /)]);
  }, 60_000);

  it("once the window ended, the demote still set alerts saying maintenance ended", async () => {
    await lab.plant(demoteLeftState(shape));
    const started = Date.now();
    const start = await carpentry("primary", "maintenance", "start", "--for", "5s");
    expect(start.code).toBe(0);
    const during = await pair.run("primary", ["/etc/carpentry.monit/check_carp"]);
    expect(during.stdout).toMatch(/^OK: maintenance on primary until \d\d:\d\d: /);
    expect(during.code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 5200 - Date.now())));
    for (const host of HOST_NAMES) {
      const after = await pair.run(host, ["/etc/carpentry.monit/check_carp"]);
      expect(after.stdout).toMatch(/^WARNING: maintenance on primary ended \d\d:\d\d: /);
      expect(after.stdout).toContain("maintenance on primary ended");
      expect(after.stdout).toMatch(/carp demote 50/);
      expect(after.code).toBe(1);
    }
    // Stopped early, the same.
    await carpentry("primary", "maintenance", "start", "--for", "1h");
    expect((await pair.run("primary", ["/etc/carpentry.monit/check_carp"])).code).toBe(0);
    expect((await carpentry("primary", "maintenance", "stop")).stdout).toMatch(/^maintenance on primary stopped at \d\d:\d\d\n$/);
    expect((await pair.run("primary", ["/etc/carpentry.monit/check_carp"])).stdout).toMatch(/^WARNING: maintenance on primary ended \d\d:\d\d: /);
  }, 60_000);
});

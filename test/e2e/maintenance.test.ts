// carpentry maintenance in the simulated pair, on two pair shapes: the primary under maintenance goes
// through the upgrade's steps (preempt 0 live and in sysctl.conf, carp demote 50 and the failover it
// makes, pf disabled, versions apart, the reboot that leaves it unreachable) and every check on both
// hosts stays OK, saying why; once the window has ended, the demote still set alerts, saying so.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HOST_NAMES, startPair, type Daemon, type HostName, type Pair } from "../harness/pair.js";
import { PEER_LINK, ScenarioLab } from "../harness/scenarios.js";
import { readExample } from "../support/monitrc.js";
import { CLOCK_TIME } from "../support/clock.js";
import { startSmtpSinkIn, type HostSmtpSink } from "../support/smtp-sink.js";
import { FAULTS, pairState, type PairShape, type PairState } from "../../src/sim/gateways.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";
const MONIT = "/usr/bin/monit";
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

/** A new state planted keeps the hosts' maintenance state, as an upgrade step does (a plant resets /var/db/carpentry). */
async function plantKeepingMaintenance(pair: Pair, lab: ScenarioLab, state: PairState): Promise<void> {
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

  const step = (state: PairState): Promise<void> => plantKeepingMaintenance(pair, lab, state);

  async function carpentry(host: HostName, ...args: string[]): Promise<{ code: number | null; stdout: string }> {
    const run = await pair.run(host, [CARPENTRY, ...args], { timeoutMs: 40_000 });
    expect(run.stderr).toBe("");
    return { code: run.code, stdout: run.stdout };
  }

  async function runAll(host: HostName): Promise<RunJson> {
    return JSON.parse((await carpentry(host, "run", "--json")).stdout) as RunJson;
  }

  const notOk = (run: RunJson): string[] => run.checks.filter((c) => c.status !== "OK").map((c) => `${c.check} ${c.status}: ${c.summary}`);
  const excused = (run: RunJson): string[] => run.checks.filter((c) => new RegExp(String.raw`^maintenance on primary until ${CLOCK_TIME}`).test(c.summary)).map((c) => c.check);

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
    expect(start.stdout).toMatch(new RegExp(String.raw`^maintenance on primary until ${CLOCK_TIME} \(upgrade to 7\.9\): started\n$`));
    expect(start.code).toBe(0);
    expect((await carpentry("primary", "maintenance", "status")).stdout).toMatch(new RegExp(String.raw`^maintenance on primary until ${CLOCK_TIME} \(upgrade to 7\.9\)\n`));

    await step(upgradeState(shape, false));
    const onPrimary = await runAll("primary");
    const onSecondary = await runAll("secondary");
    expect(notOk(onPrimary)).toEqual([]);
    expect(notOk(onSecondary)).toEqual([]);
    expect(excused(onPrimary)).toEqual(expect.arrayContaining(["carp", "sysctl", "pf", "versions"]));
    expect(excused(onSecondary)).toEqual(expect.arrayContaining(["carp", "sysctl", "pf"]));
    // The secondary learned the primary's window from it, and keeps it for the reboot.
    expect((await carpentry("secondary", "maintenance", "status")).stdout).toMatch(new RegExp(String.raw`\nmaintenance on primary until ${CLOCK_TIME} \(upgrade to 7\.9\)\n$`));

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
    expect(during.stdout).toMatch(new RegExp(String.raw`^OK: maintenance on primary until ${CLOCK_TIME}: `));
    expect(during.code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 5200 - Date.now())));
    for (const host of HOST_NAMES) {
      const after = await pair.run(host, ["/etc/carpentry.monit/check_carp"]);
      expect(after.stdout).toMatch(new RegExp(String.raw`^WARNING: maintenance on primary ended ${CLOCK_TIME}: `));
      expect(after.stdout).toContain("maintenance on primary ended");
      expect(after.stdout).toMatch(/carp demote 50/);
      expect(after.code).toBe(1);
    }
    // Stopped early, the same.
    await carpentry("primary", "maintenance", "start", "--for", "1h");
    expect((await pair.run("primary", ["/etc/carpentry.monit/check_carp"])).code).toBe(0);
    expect((await carpentry("primary", "maintenance", "stop")).stdout).toMatch(/^maintenance on primary stopped at \d\d:\d\d\n$/);
    expect((await pair.run("primary", ["/etc/carpentry.monit/check_carp"])).stdout).toMatch(new RegExp(String.raw`^WARNING: maintenance on primary ended ${CLOCK_TIME}: `));
  }, 60_000);
});

describe("real monit on both hosts, the primary upgraded under maintenance", () => {
  const MAILBOX = "/var/sink/mail";
  const STANZAS: Readonly<Record<HostName, readonly string[]>> = {
    primary: ["check_peer", "check_carp", "check_sysctl", "check_pf", "check_versions"],
    secondary: ["check_peer", "check_carp", "check_sysctl", "check_pf"],
  };
  let pair: Pair;
  let lab: ScenarioLab;
  const sinks: Partial<Record<HostName, HostSmtpSink>> = {};
  const monits: Partial<Record<HostName, Daemon>> = {};

  /** The example's own stanzas of the checks the upgrade sets off, polled every second. */
  function controlFile(role: HostName): string {
    const example = readExample(role);
    const globals = example.globals.replace(/^set daemon .*$/m, "set daemon 1").replace(/^set log syslog$/m, "set logfile /var/monit/monit.log\nset pidfile /var/monit/monit.pid");
    const stanzas = STANZAS[role].map((name) => {
      const stanza = example.stanzas.find((candidate) => candidate.name === name);
      if (!stanza) throw new Error(`no ${name} in monitrc.${role}.example`);
      return stanza.text;
    });
    return `${globals}\n${stanzas.join("\n")}`;
  }

  /** monit afresh on both hosts: no state, no queued event, an empty mailbox. */
  async function startMonits(): Promise<void> {
    for (const host of HOST_NAMES) {
      for (const path of ["/var/monit/state", "/var/monit/events", "/var/monit/monit.pid", MAILBOX]) rmSync(pair.hostPath(host, path), { recursive: true, force: true });
      mkdirSync(pair.hostPath(host, MAILBOX), { recursive: true });
      await pair.writeFile(host, "/var/monit/monit.log", "", { mode: 0o600 });
      monits[host] = await pair.startDaemon(host, "monit", [MONIT, "-I", "-c", "/etc/monitrc"]);
    }
  }

  /** monit stopped, and the checks it started finished (they write their state directory). */
  async function stopMonits(): Promise<void> {
    for (const host of HOST_NAMES) {
      await monits[host]?.stop();
      delete monits[host];
    }
    const deadline = Date.now() + 15_000;
    for (const host of HOST_NAMES) {
      while (Date.now() < deadline && (await pair.strayProcesses(host, { settleMs: 0 })).some((line) => line.includes("/etc/carpentry.monit/check_"))) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** pf's limits as asked by check_pf (each host's own and its peer's): monit's cycles, counted. */
  async function pfLimitCalls(host: HostName): Promise<number> {
    return (await pair.commandEntries(host)).filter((entry) => entry.kind === "standin" && /pfctl -sm$/.test(entry.line)).length;
  }

  /** Until each host's check_pf has run at least `cycles` more times (or its peer's for it), at most timeoutMs. */
  async function waitCycles(cycles: number, timeoutMs: number): Promise<void> {
    const counts = async (): Promise<number[]> => Promise.all(HOST_NAMES.map(pfLimitCalls));
    const start = await counts();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await counts()).every((count, index) => count - (start[index] ?? 0) >= 2 * cycles)) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const mails = (host: HostName): string[] =>
    (sinks[host]?.read() ?? []).map((mail) => `${mail.subject.replace(/^\[monit\] \S+ /, "")} -- ${mail.text.split("\n").find((line) => line.includes(" -- ")) ?? ""}`);

  beforeAll(async () => {
    pair = await startPair();
    // No shared ssh connection, so the primary's stopped sshd is seen by the very next check.
    lab = new ScenarioLab(pair, { ...PEER_LINK, controlPersist: 0 });
    await lab.setUp();
    for (const host of HOST_NAMES) {
      sinks[host] = await startSmtpSinkIn(pair, host, { mailbox: MAILBOX });
      await pair.writeFile(host, "/etc/monitrc", controlFile(host), { mode: 0o600 });
    }
  }, 300_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") for (const host of HOST_NAMES) console.log(host, readFileSync(pair.hostPath(host, "/var/monit/monit.log"), "utf8").slice(-4000));
  });

  afterAll(async () => {
    await stopMonits();
    await pair?.stop();
  });

  it("the upgrade's steps and the reboot mail nothing; after expiry the demote left set mails exactly one alert a host, saying maintenance ended", async () => {
    await lab.plant(upgradeState("full", false));
    expect((await pair.run("primary", [CARPENTRY, "maintenance", "start", "--for", "10m", "--reason", "upgrade to 7.9"])).code).toBe(0);
    await startMonits();
    // Beyond every stanza's `for 3 cycles`.
    await waitCycles(5, 30_000);
    // The reboot: the primary's sshd goes away while both monits run.
    await pair.sshdOf("primary").stop();
    await waitCycles(5, 30_000);
    expect(mails("primary")).toEqual([]);
    expect(mails("secondary")).toEqual([]);
    await stopMonits();

    // Back up, everything undone but the demote (and the failover it holds); the window ends soon.
    await plantKeepingMaintenance(pair, lab, demoteLeftState("full"));
    const started = Date.now();
    expect((await pair.run("primary", [CARPENTRY, "maintenance", "start", "--for", "6s", "--reason", "upgrade to 7.9"])).code).toBe(0);
    await startMonits();
    await waitCycles(2, 30_000);
    expect(mails("primary")).toEqual([]);
    expect(mails("secondary")).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 6000 - Date.now())));
    for (const host of HOST_NAMES) await sinks[host]?.wait(1, 30_000, (mail) => mail.subject.endsWith(" check_carp: Status failed"));
    // Time for a second mail, were there one.
    await waitCycles(3, 20_000);
    for (const host of HOST_NAMES) {
      expect(mails(host)).toEqual([
        expect.stringMatching(new RegExp(String.raw`^check_carp: Status failed -- .*status failed \(1\) -- WARNING: maintenance on primary ended ${CLOCK_TIME}: primary carp demote 50`)),
      ]);
    }
  }, 240_000);
});

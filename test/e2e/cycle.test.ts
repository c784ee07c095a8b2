// The cycle server inside the simulated primary: every check of the primary started at once, as monit
// starts a cycle, once each running alone (CARPENTRY_CYCLE=alone) and once served by one node process
// through their sh headers. Served, each check gives the same exit code and output as alone, no check
// starts a node of its own, and a server that dies or hangs mid-cycle changes nothing but time.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { startPair, type Pair, type RunResult } from "../harness/pair.js";
import { ScenarioLab, type ScenarioName } from "../harness/scenarios.js";

const PRIMARY_CHECKS = ALL_CHECKS.filter((check) => check.roles.includes("primary")).map((check) => `/etc/carpentry.monit/check_${check.name}`);
/** Faults of every kind of check: carp, pfsync, pf tables, files, mail, a dead peer, output not understood. */
const SCENARIOS: readonly ScenarioName[] = ["healthy", "failed_over", "states_diverged", "pf_table_drift", "file_changed", "mail_piling", "peer_sshd_down", "garbled"];
const ALONE = { CARPENTRY_CYCLE: "alone" };
/** A deadline the checks meet on this shared 2-core machine even when all run at once alone: the
 * comparison is of verdicts, not of who times out first under load. */
const ROOMY = ["-t", "60"];

/** What varies from run to run whoever runs the check: measured times. */
function normalized(run: RunResult): string {
  const stdout = run.stdout
    .replace(/\d+(\.\d+)? ?ms\b/g, "N ms")
    .replace(/=\d+(\.\d+)?(ms|s);/g, "=N;")
    .replace(/"value":\d+(\.\d+)?,"uom":"ms"/g, '"value":N,"uom":"ms"')
    .replace(/"durationMs":[\d.]+/g, "")
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "TIME");
  return `exit ${String(run.code)}\n${stdout}${run.stderr ? `\nstderr: ${run.stderr}` : ""}`;
}

interface Cycle {
  readonly runs: ReadonlyMap<string, RunResult>;
  /** Command lines of the nodes that ran a check of their own, and of the cycle servers, seen during the cycle. */
  readonly checkNodes: readonly string[];
  readonly servers: readonly string[];
}

describe("a monit cycle served by one node", () => {
  let pair: Pair;
  let lab: ScenarioLab;

  /** Every process of the primary, sampled every 5 ms while `work` runs. */
  async function watched<T>(work: Promise<T>): Promise<{ value: T; seen: Map<string, string> }> {
    // By pid and command line: a header execs node in the same pid.
    const seen = new Map<string, string>();
    let done = false;
    const sampling = (async () => {
      while (!done) {
        for (const line of await pair.strayProcesses("primary", { settleMs: 0 })) {
          const [, ...rest] = line.split(" ");
          seen.set(line, rest.join(" "));
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const value = await work.finally(() => (done = true));
    await sampling;
    return { value, seen };
  }

  async function noServerLeft(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (!(await pair.strayProcesses("primary", { settleMs: 0 })).some((line) => line.includes("serve-cycle"))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("the cycle server did not end by itself");
  }

  async function cycle(env: Record<string, string>, args: readonly string[] = ROOMY, during?: (seen: () => Promise<string[]>) => Promise<void>): Promise<Cycle> {
    await noServerLeft();
    // The suite's state directory, as on a gateway where the checks have run (a scenario's planting
    // may have taken it): the headers serve from it. The counter checks keep readings there between
    // runs: each cycle starts from none, so alone and served both take a first reading and say the same.
    mkdirSync(pair.hostPath("primary", "/var/db/carpentry"), { recursive: true, mode: 0o700 });
    for (const name of readdirSync(pair.hostPath("primary", "/var/db/carpentry"))) {
      if (name.endsWith("-counters.json")) rmSync(pair.hostPath("primary", `/var/db/carpentry/${name}`), { force: true });
    }
    const work = Promise.all(PRIMARY_CHECKS.map(async (exe) => [exe, await pair.run("primary", [exe, ...args], { env, timeoutMs: 90_000 })] as const));
    const interference = during?.(() => pair.strayProcesses("primary", { settleMs: 0 }));
    const { value, seen } = await watched(work);
    await interference;
    const lines = [...seen.values()];
    return {
      runs: new Map(value),
      checkNodes: lines.filter((line) => /^\/usr\/local\/bin\/node \/etc\/carpentry\.monit\/check_/.test(line)),
      servers: lines.filter((line) => line.startsWith("/usr/local/bin/node /etc/carpentry.monit/carpentry serve-cycle")),
    };
  }

  const outputs = (c: Cycle): Record<string, string> => Object.fromEntries([...c.runs].map(([exe, run]) => [exe, normalized(run)]));

  beforeAll(async () => {
    pair = await startPair();
    lab = new ScenarioLab(pair);
    await lab.setUp();
    // The suite's state directory, as on a gateway where the checks have run: the headers serve from it.
    mkdirSync(pair.hostPath("primary", "/var/db/carpentry"), { recursive: true, mode: 0o700 });
  }, 300_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it.each(SCENARIOS)(
    "%s: each check served gives the output and exit code it gives alone, and starts no node",
    async (scenario) => {
      await lab.enter(scenario);
      const alone = await cycle(ALONE);
      expect(alone.servers).toEqual([]);
      // Each check started its own node, as monit would have it start: by name and arguments.
      expect([...new Set(alone.checkNodes)].sort()).toEqual(PRIMARY_CHECKS.map((exe) => ["/usr/local/bin/node", exe, ...ROOMY].join(" ")).sort());
      await lab.closeSharedConnections();
      const served = await cycle({});
      expect(outputs(served)).toEqual(outputs(alone));
      expect(served.checkNodes).toEqual([]);
      // One, or on this loaded machine a few one after the other: a server ends 2 s after its last answer.
      expect(served.servers.length).toBeGreaterThan(0);
    },
    120_000,
  );

  it("lets a peer command that hangs hold up its own check only: the others that share its ssh session answer as without it", async () => {
    await lab.enter("healthy");
    // Roomy enough for the whole cycle on a loaded machine; the check that waits on ntpctl waits it all.
    const args = ["-t", "20"];
    const ntp = "/etc/carpentry.monit/check_ntp";
    const others = (c: Cycle): Record<string, string> => Object.fromEntries(Object.entries(outputs(c)).filter(([exe]) => exe !== ntp));
    const unhurried = await cycle({}, args);
    await pair.delayOutput("secondary", ["/usr/sbin/ntpctl", "-s", "all"], 60_000);
    const held = await cycle({}, args);
    expect(held.runs.get(ntp)?.stdout).toMatch(/^UNKNOWN: timed out after 20s /);
    expect(held.runs.get(ntp)?.code).toBe(3);
    expect(others(held)).toEqual(others(unhurried));
    expect(held.checkNodes).toEqual([]);
  }, 150_000);

  it("keeps two overlapping cycles apart: each check gets its own answer", async () => {
    await lab.enter("failed_over");
    const alone = { text: await cycle(ALONE), json: await cycle(ALONE, [...ROOMY, "--json"]) };
    await noServerLeft();
    const [text, json] = await Promise.all([cycle({}), new Promise((resolve) => setTimeout(resolve, 30)).then(() => cycle({}, [...ROOMY, "--json"]))]);
    expect(outputs(text)).toEqual(outputs(alone.text));
    expect(outputs(json)).toEqual(outputs(alone.json));
  }, 120_000);

  it("gives the same answers when the server is killed mid-cycle: the checks it held run alone", async () => {
    await lab.enter("healthy");
    const alone = await cycle(ALONE);
    await lab.closeSharedConnections();
    let killed = 0;
    const served = await cycle({}, ROOMY, async (processes) => {
      for (let i = 0; i < 400 && killed === 0; i++) {
        const server = (await processes()).find((line) => line.includes("serve-cycle"));
        if (server) {
          // Once it has taken some checks: they are waiting for the peer.
          await new Promise((resolve) => setTimeout(resolve, 150));
          process.kill(Number(server.split(" ")[0]), "SIGKILL");
          killed++;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    expect(killed).toBe(1);
    expect(outputs(served)).toEqual(outputs(alone));
  }, 120_000);

  it("keeps V8's code cache of the server per build in the state directory: used, not rewritten; a corrupt one rewritten, the answers unchanged", async () => {
    await lab.enter("healthy");
    const build = /carpentry-cycle ([0-9a-f]+)/.exec(readFileSync(pair.hostPath("primary", "/etc/carpentry.monit/check_mailq"), "utf8"))?.[1] ?? "";
    const cache = pair.hostPath("primary", `/var/db/carpentry/compile-cache/cycle-${build}.v8`);
    const earlier = pair.hostPath("primary", "/var/db/carpentry/compile-cache/cycle-0000000000000000.v8");
    rmSync(cache, { force: true });
    mkdirSync(pair.hostPath("primary", "/var/db/carpentry/compile-cache"), { recursive: true, mode: 0o700 });
    writeFileSync(earlier, "an earlier build's cache");
    const alone = await cycle(ALONE);
    const first = await cycle({});
    expect(outputs(first)).toEqual(outputs(alone));
    await noServerLeft();
    const written = statSync(cache);
    expect(written.size).toBeGreaterThan(10_000);
    expect(written.mode & 0o777).toBe(0o600);
    expect(existsSync(earlier)).toBe(false);
    // Accepted by V8: the next server reads it and leaves it as it is.
    expect(outputs(await cycle({}))).toEqual(outputs(alone));
    await noServerLeft();
    expect(statSync(cache).mtimeMs).toBe(written.mtimeMs);
    // Rejected by V8: the server compiles as without one, answers the same, and writes a good one.
    writeFileSync(cache, Buffer.alloc(written.size, 7));
    expect(outputs(await cycle({}))).toEqual(outputs(alone));
    await noServerLeft();
    expect(readFileSync(cache).equals(Buffer.alloc(written.size, 7))).toBe(false);
  }, 180_000);

  it("never holds a check past its -t when the server hangs after taking it: the watchdog's UNKNOWN, timed out", async () => {
    await lab.enter("healthy");
    await noServerLeft();
    /** The header FIFOs the server holds open: the checks it took and has not answered. */
    const fifosHeldBy = (pid: number): number => {
      try {
        return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
          try {
            return /\/var\/db\/carpentry\/cycle\/a\.\d+$/.test(readlinkSync(`/proc/${pid}/fd/${fd}`));
          } catch {
            return false;
          }
        }).length;
      } catch {
        return 0;
      }
    };
    let stopped: number | undefined;
    let held = 0;
    try {
      const served = await cycle({}, ["-t", "2"], async (processes) => {
        for (let i = 0; i < 400 && stopped === undefined; i++) {
          const server = (await processes()).find((line) => line.includes("serve-cycle"));
          if (server) {
            const pid = Number(server.split(" ")[0]);
            for (let j = 0; j < 200 && held < 3; j++) {
              held = fifosHeldBy(pid);
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
            // Stuck as a server whose event loop hangs: it neither answers nor dies.
            process.kill(pid, "SIGSTOP");
            stopped = pid;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      });
      expect(held).toBeGreaterThanOrEqual(3);
      // The checks the server held when it stopped; the others it answered before, as it would alone.
      const timedOut = [...served.runs].filter(([, run]) => run.stdout.startsWith("UNKNOWN: timed out after 2s waiting for the cycle server"));
      expect(timedOut.length).toBeGreaterThanOrEqual(held);
      for (const [exe, run] of timedOut) expect(run.code, exe).toBe(3);
      // -t 2, the header's one second more, the watchdog's whole seconds and its look every 0.5 s.
      for (const [exe, run] of served.runs) expect(run.durationMs, exe).toBeLessThan(7000);
      expect(served.checkNodes).toEqual([]);
    } finally {
      if (stopped !== undefined) process.kill(stopped, "SIGKILL");
    }
    await noServerLeft();
    // The watchdog ends with its server, and leaves no header's file behind.
    for (let i = 0; i < 40 && readdirSync(pair.hostPath("primary", "/var/db/carpentry/cycle")).some((name) => /^[aw]\./.test(name)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readdirSync(pair.hostPath("primary", "/var/db/carpentry/cycle")).filter((name) => /^[aw]\./.test(name))).toEqual([]);
  }, 120_000);

  it("never holds a check past its -t when the server hangs: UNKNOWN, timed out", async () => {
    await lab.enter("healthy");
    await noServerLeft();
    // A server that takes requests and never answers: nc listening on the build's socket, its lock
    // held by a live process (the host's init), as a server whose event loop is stuck would be.
    const build = /carpentry-cycle ([0-9a-f]+)/.exec(readFileSync(pair.hostPath("primary", "/etc/carpentry.monit/check_mailq"), "utf8"))?.[1] ?? "";
    const dir = "/var/db/carpentry/cycle";
    mkdirSync(pair.hostPath("primary", `${dir}/${build}.start`), { recursive: true, mode: 0o700 });
    writeFileSync(pair.hostPath("primary", `${dir}/${build}.start/pid`), "1\n");
    const hung = await pair.startDaemon("primary", "hung-server", ["/usr/bin/nc", "-k", "-l", "-U", `${dir}/${build}.sock`]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const served = await cycle({}, ["-t", "2"]);
      for (const [exe, run] of served.runs) {
        expect(run.stdout, exe).toMatch(/^UNKNOWN: timed out after 2s waiting for the cycle server/);
        expect(run.code, exe).toBe(3);
        // -t 2 and nc's one second more, and the header's start on a loaded machine.
        expect(run.durationMs, exe).toBeLessThan(4500);
      }
      expect(served.checkNodes).toEqual([]);
    } finally {
      await hung.stop();
      rmSync(pair.hostPath("primary", `${dir}/${build}.start`), { recursive: true, force: true });
      rmSync(pair.hostPath("primary", `${dir}/${build}.sock`), { force: true });
    }
  }, 120_000);
});

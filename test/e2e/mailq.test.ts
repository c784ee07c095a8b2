// check_mailq against the simulated pair, run as monit runs it. Each gateway's monit checks its own
// queue, so the piling-up secondary is checked on the secondary itself.
import { describe, expect, it } from "vitest";
import { CYCLE_LEFTOVER, HOST_NAMES, type HostName, type Pair } from "../harness/pair.js";
import { PAIR_CONFIG, useSimulatedPair } from "../support/sim.js";

const CHECK = "/etc/carpentry.monit/check_mailq";
const RUNNING = "MDA running\nMTA running\nSMTP running\n";

let pair: Pair;

/**
 * `count` envelopes for the unreachable relay, as smtpctl prints them (the line format of the real
 * OpenSMTPD capture in test/fixtures/opensmtpd), created evenly over the last `oldestSeconds`.
 */
function queue(count: number, oldestSeconds: number, runstate = "pending|372"): string {
  const now = Math.floor(Date.now() / 1000);
  let text = "";
  for (let i = 0; i < count; i++) {
    const created = now - Math.round((oldestSeconds * (count - i)) / count);
    const id = (0x20e9202c5e70252an + BigInt(i)).toString(16).padStart(16, "0");
    text += `${id}|local|mta|auth|root@secondary|noc@example.com|noc@example.com|${created}|${created}|0|${1 + (i % 9)}|${runstate}|Network error on destination MXs\n`;
  }
  return text;
}

async function check(host: HostName, args: string[] = []): Promise<{ code: number | null; firstLine: string; stdout: string; durationMs: number }> {
  const run = await pair.run(host, [CHECK, ...args], { timeoutMs: 15_000 });
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout, durationMs: run.durationMs };
}

useSimulatedPair(
  (started) => (pair = started),
  async (pair, host) => {
    await pair.setOutput(host, ["smtpctl", "show", "status"], RUNNING);
  },
);

describe("check_mailq", () => {
  it("is OK with an empty queue on either host, with perfdata, asking only its own smtpd", async () => {
    for (const host of HOST_NAMES) {
      const run = await check(host);
      expect(run.firstLine).toBe("OK: mail queue empty | messages=0;50;500;0 oldest_age=0s;3600;86400;0");
      expect(run.code).toBe(0);
    }
    for (const host of HOST_NAMES) {
      const log = await pair.commandEntries(host);
      expect(log.filter((entry) => entry.kind === "ssh")).toEqual([]);
      expect(log.filter((entry) => entry.kind === "standin").map((entry) => entry.line)).toEqual(["/usr/sbin/smtpctl show status", "/usr/sbin/smtpctl show queue"]);
      expect(await pair.refusedCommands(host)).toEqual([]);
    }
  });

  it("is WARNING, then CRITICAL, as mail piles up on the secondary, checked on the secondary", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], queue(60, 600));
    const warning = await check("secondary");
    expect(warning.firstLine).toMatch(/^WARNING: 60 messages queued \(warning 50\) \| messages=60;50;500;0 oldest_age=60\ds;3600;86400;0$/);
    expect(warning.stdout).toMatch(/\n20e9202c5e70252a root@secondary -> noc@example\.com, 10m 0\ds old, 1 try, pending \[auth\]: Network error on destination MXs\n/);
    expect(warning.code).toBe(1);
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], queue(600, 2 * 86400));
    const critical = await check("secondary");
    expect(critical.firstLine).toMatch(/^CRITICAL: 600 messages queued \(critical 500\) \(\+1 more\) \| messages=600;50;500;0 oldest_age=1728\d\ds;3600;86400;0$/);
    expect(critical.stdout).toContain("\noldest message 2d 0h old (critical 1d 0h)\n");
    expect(critical.code).toBe(2);
    expect((await check("primary")).code).toBe(0);
  });

  it("takes -w/-c (Nagios ranges) over the config's thresholds", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], queue(6, 60));
    await pair.writeConfig("secondary", `${PAIR_CONFIG.secondary}[checks.mailq]\nwarning = 2\ncritical = 5\n`);
    expect((await check("secondary")).firstLine).toMatch(/^CRITICAL: 6 messages queued \(critical 5\) \| messages=6;2;5;0 /);
    const overridden = await check("secondary", ["-w", "10", "-c", "20"]);
    expect(overridden.firstLine).toMatch(/^OK: 6 messages queued, oldest 1m 0\ds \| messages=6;10;20;0 /);
    expect(overridden.code).toBe(0);
    const inside = await check("secondary", ["-w", "@5:9", "-c", "100"]);
    expect(inside.firstLine).toMatch(/^WARNING: 6 messages queued \(warning @5:9\) \| /);
  });

  it("is WARNING when the oldest message waits longer than age_warning", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], queue(3, 2 * 3600));
    const run = await check("secondary");
    expect(run.firstLine).toMatch(/^WARNING: oldest message 2h 00m old \(warning 1h 00m\) \| messages=3;50;500;0 oldest_age=720\ds;3600;86400;0$/);
    expect(run.code).toBe(1);
  });

  it("is CRITICAL when smtpd is not running: the queue read from the spool is still counted", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "status"], "", { stderr: "smtpctl: smtpd doesn't seem to be running\n", exitCode: 1 });
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], queue(5, 120, "offline|"));
    const run = await check("secondary");
    expect(run.firstLine).toMatch(/^CRITICAL: smtpd not running, 5 messages queued \| messages=5;50;500;0 /);
    expect(run.code).toBe(2);
  });

  it("is UNKNOWN, never OK, when smtpd cannot be asked", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "status"], "", { stderr: "smtpctl: need root privileges\n", exitCode: 1 });
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], "", { stderr: "smtpctl: need root privileges\n", exitCode: 1 });
    const noRoot = await check("secondary");
    expect(noRoot.firstLine).toBe("UNKNOWN: cannot ask smtpd: smtpctl needs root privileges");
    expect(noRoot.code).toBe(3);
    await pair.setOutput("secondary", ["smtpctl", "show", "status"], RUNNING);
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], "", { stderr: "smtpctl: imsg_get error\n", exitCode: 1 });
    const failed = await check("secondary");
    expect(failed.firstLine).toBe("UNKNOWN: /usr/sbin/smtpctl show queue failed (exit 1)");
    expect(failed.stdout).toContain("\nsmtpctl: imsg_get error\n");
    expect(failed.code).toBe(3);
  });

  it("is UNKNOWN within its deadline when smtpd does not answer, naming what it waited for, leaving nothing behind", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "status"], RUNNING, { delayMs: 60_000 });
    const run = await check("secondary", ["-t", "2"]);
    expect(run.firstLine).toMatch(/^UNKNOWN: timed out after 2s waiting for \/usr\/sbin\/smtpctl show status/);
    expect(run.code).toBe(3);
    expect(run.durationMs).toBeLessThan(3500);
    // The cycle server that answered it outlives it by 2 s, and its watchdog a little more, by design;
    // smtpctl must be gone.
    expect((await pair.strayProcesses("secondary", { settleMs: 1500 })).filter((line) => !CYCLE_LEFTOVER.test(line))).toEqual([]);
  });

  it("is UNKNOWN naming the line when smtpctl prints what the parser cannot read", async () => {
    await pair.setOutput("secondary", ["smtpctl", "show", "queue"], `${queue(2, 60)}20e9202c5e70252a|inet4|mta\n`);
    const run = await check("secondary");
    expect(run.firstLine).toBe("UNKNOWN: cannot parse smtpctl show queue output line 3");
    expect(run.code).toBe(3);
  });
});

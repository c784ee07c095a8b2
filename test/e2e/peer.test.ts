// check_peer and the SSH transport under it, against a real OpenSSH server in the simulated pair:
// a fresh connection every time, failures in words, the deadline, and many checks at once.
import { describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { CYCLE_LEFTOVER, type HostName, type Pair } from "../harness/pair.js";
import { startGuards } from "../support/guards.js";
import { PAIR_CONFIG, useSimulatedPair } from "../support/sim.js";

const DIR = "/etc/carpentry.monit";

let pair: Pair;

/**
 * ssh connection masters (ControlPersist) outlive a check by design, and so do the cycle server for
 * 2 s after its last answer (a check is served once the state directory exists) and its watchdog (the
 * check's script with --cycle-watch, and its sleep); anything else must not.
 */
async function leftoverChildren(host: HostName): Promise<string[]> {
  return (await pair.strayProcesses(host, { settleMs: 1500 })).filter((line) => !line.includes("[mux]") && !CYCLE_LEFTOVER.test(line));
}

async function closeSharedConnection(): Promise<void> {
  await pair.run("primary", ["/bin/sh", "-c", 'for s in /var/run/carpentry/cm-*; do [ -S "$s" ] && /usr/bin/ssh -o ControlPath="$s" -O exit secondary; done; true']);
}

useSimulatedPair(
  (started) => (pair = started),
  async (pair) => {
    await pair.trustHostKeys();
    await closeSharedConnection();
  },
);

describe("check_peer", () => {
  it("is OK when the peer runs a command, from either host, as monit runs it", async () => {
    for (const host of ["primary", "secondary"] as const) {
      const run = await pair.run(host, [`${DIR}/check_peer`]);
      expect(run.stderr).toBe("");
      expect(run.stdout).toMatch(new RegExp(`^OK: ${host === "primary" ? "secondary" : "primary"} answers over SSH in \\d+ ms \\| ssh_time=\\d+ms;;;0\\n$`));
      expect(run.code).toBe(0);
    }
  });

  it("opens a fresh connection even while a shared one is up, so a dead sshd is seen", async () => {
    expect((await pair.run("primary", [`${DIR}/check_carp`])).code).toBe(0);
    const before = await pair.sshd.countConnections();
    await pair.run("primary", [`${DIR}/check_peer`]);
    expect(await pair.sshd.countConnections()).toBe(before + 1);
    await pair.sshd.stop();
    const run = await pair.run("primary", [`${DIR}/check_peer`]);
    expect(run.stdout).toMatch(/^CRITICAL: cannot reach secondary: connection refused\n/);
    expect(run.code).toBe(2);
  });

  it("is CRITICAL with 'connection refused' when the peer's sshd is down", async () => {
    await pair.sshd.stop();
    const run = await pair.run("primary", [`${DIR}/check_peer`, "--json"]);
    const json = JSON.parse(run.stdout) as { status: string; code: number; summary: string };
    expect(json).toMatchObject({ status: "CRITICAL", code: 2, summary: "cannot reach secondary: connection refused" });
    expect(run.code).toBe(2);
  });

  it("is CRITICAL with 'host key mismatch' when the peer's host key changed", async () => {
    await pair.sshd.rotateHostKey();
    const run = await pair.run("primary", [`${DIR}/check_peer`]);
    expect(run.stdout).toMatch(/^CRITICAL: cannot reach secondary: host key mismatch/);
    expect(run.code).toBe(2);
  });

  it("is CRITICAL with 'authentication refused' when our key is not accepted", async () => {
    await pair.writeFile("secondary", "/root/.ssh/authorized_keys", "", { mode: 0o600 });
    try {
      const run = await pair.run("primary", [`${DIR}/check_peer`]);
      expect(run.stdout).toMatch(/^CRITICAL: cannot reach secondary: authentication refused/);
      expect(run.code).toBe(2);
    } finally {
      await pair.trustHostKeys();
    }
  });

  it("exits 3 within its deadline when the peer accepts the connection and never answers, leaving no child", async () => {
    await pair.sshd.hang();
    const run = await pair.run("primary", [`${DIR}/check_peer`, "-t", "2"], { timeoutMs: 10_000 });
    expect(run.stdout).toMatch(/^UNKNOWN: timed out after 2s waiting for ssh root@secondary: \/usr\/bin\/true\n/);
    expect(run.code).toBe(3);
    expect(run.durationMs).toBeLessThan(3500);
    expect(await leftoverChildren("primary")).toEqual([]);
  });
});

describe("the shared connection", () => {
  it("exits 3 within the deadline when a command hangs on the peer, and kills its ssh", async () => {
    await pair.setOutput("secondary", ["ifconfig", "carp"], "", { delayMs: 60_000 });
    const run = await pair.run("primary", [`${DIR}/check_carp`, "-t", "2"], { timeoutMs: 10_000 });
    expect(run.stdout).toMatch(/^UNKNOWN: timed out after 2s waiting for ssh root@secondary: \/sbin\/ifconfig/);
    expect(run.code).toBe(3);
    expect(run.durationMs).toBeLessThan(3500);
    expect(await leftoverChildren("primary")).toEqual([]);
  });

  it("survives a stale control socket left by a dead master", async () => {
    await pair.run("primary", [`${DIR}/check_carp`]);
    // The master is killed by name inside the primary, whose PID namespace holds its processes
    // alone: ssh connection masters outside the pair (the guard is one) are not the test's.
    const guards = await startGuards();
    try {
      const killed = await pair.run("primary", ["/bin/sh", "-c", "pkill -9 -f '\\[mux\\]'"]);
      expect(killed.code, "a master to kill in the primary").toBe(0);
      expect(guards.dead(), "processes outside the pair").toEqual([]);
    } finally {
      await guards.stop();
    }
    expect((await pair.run("primary", ["/bin/sh", "-c", "pgrep -f '\\[mux\\]'"])).code, "no master left in the primary").toBe(1);
    const sockets = (await pair.run("primary", ["/bin/sh", "-c", "ls /var/run/carpentry"])).stdout;
    expect(sockets).toMatch(/cm-[0-9a-f]{16}/);
    const run = await pair.run("primary", [`${DIR}/check_carp`]);
    expect(run.stdout).toMatch(/^OK: /);
  });

  it("takes 15 checks started at once, 20 rounds, with no spurious failure and one connection a round", async () => {
    const peerChecks = ALL_CHECKS.filter((check) => check.usesPeer && check.roles.includes("primary") && check.name !== "peer");
    const fifteen = Array.from({ length: 15 }, (_, i) => `check_${peerChecks[i % peerChecks.length]?.name ?? "carp"}`);
    // What each check says alone, with nothing else running, is what it must say in the crowd.
    const alone = new Map<string, string>();
    for (const name of new Set(fifteen)) alone.set(name, (await pair.run("primary", [`${DIR}/${name}`])).stdout.split("\n")[0]?.replace(/\d+ ms/g, "N ms") ?? "");
    for (let round = 0; round < 20; round++) {
      await closeSharedConnection();
      const before = await pair.sshd.countConnections();
      const runs = await Promise.all(fifteen.map((name) => pair.run("primary", [`${DIR}/${name}`], { timeoutMs: 30_000 })));
      runs.forEach((run, i) => {
        const name = fifteen[i] ?? "";
        expect(`${name}: ${run.stdout.split("\n")[0]?.replace(/\d+ ms/g, "N ms")}`).toBe(`${name}: ${alone.get(name)}`);
      });
      expect(await pair.sshd.countConnections()).toBe(before + 1);
    }
  }, 240_000);

  it("shares out the connection's sessions under the peer's MaxSessions, so a burst of checks still takes one connection", async () => {
    // sshd refuses sessions beyond MaxSessions and ssh then opens a connection of its own; a slow peer
    // command makes the twelve sessions overlap for certain.
    await pair.sshd.configure(["MaxSessions 3"]);
    try {
      await pair.writeConfig("primary", `${PAIR_CONFIG.primary}max_sessions = 3\n`);
      const healthy = (await pair.run("secondary", ["ifconfig", "carp"])).stdout;
      await pair.setOutput("secondary", ["ifconfig", "carp"], healthy, { delayMs: 400 });
      await closeSharedConnection();
      const before = await pair.sshd.countConnections();
      const runs = await Promise.all(Array.from({ length: 12 }, () => pair.run("primary", [`${DIR}/check_carp`], { timeoutMs: 30_000 })));
      for (const run of runs) expect(run.stdout).toMatch(/^OK: /);
      expect(await pair.sshd.countConnections()).toBe(before + 1);
      expect(await pair.sshd.log()).not.toMatch(/no more sessions/);
    } finally {
      await pair.sshd.configure([]);
    }
  }, 60_000);
});

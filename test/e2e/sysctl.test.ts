// check_sysctl against the simulated pair, run as monit runs it: sysctl.conf read on both hosts (the
// peer's through `carpentry facts` over ssh), live values from one `/sbin/sysctl NAME...` per host.
import { describe, expect, it } from "vitest";
import { HOST_NAMES, type HostName, type Pair } from "../harness/pair.js";
import { PAIR_CONFIG, useSimulatedPair } from "../support/sim.js";

const CHECK = "/etc/carpentry.monit/check_sysctl";

// A CARP gateway sets forwarding and preemption in sysctl.conf on both gateways (carp.allow is on by default).
const SYSCTL_CONF = "# carpentry gateway\nnet.inet.ip.forwarding=1\t# route\nnet.inet.carp.preempt=1\nnet.inet.tcp.ecn=1\n";
const HEALTHY_LIVE: Record<string, string> = { "net.inet.carp.allow": "1", "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "1", "net.inet.tcp.ecn": "1", "kern.watchdog.period": "0" };
// What check_sysctl asks: every name a sysctl.conf sets plus the expected ones, sorted.
const NAMES = ["net.inet.carp.allow", "net.inet.carp.preempt", "net.inet.ip.forwarding", "net.inet.tcp.ecn"];
const NAMES_WITH_WATCHDOG = ["kern.watchdog.period", ...NAMES];

let pair: Pair;

/** The stand-in's answer to `/sbin/sysctl NAME...`: one line per name the kernel knows. */
async function setLive(host: HostName, live: Record<string, string>): Promise<void> {
  for (const names of [NAMES, NAMES_WITH_WATCHDOG]) {
    await pair.setOutput(
      host,
      ["/sbin/sysctl", "--", ...names],
      names
        .filter((name) => name in live)
        .map((name) => `${name}=${live[name]}\n`)
        .join(""),
    );
  }
}

async function check(host: HostName, args: string[] = []): Promise<{ code: number | null; firstLine: string; stdout: string }> {
  const run = await pair.run(host, [CHECK, ...args]);
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout };
}

useSimulatedPair(
  (started) => (pair = started),
  async (pair, host) => {
    await pair.writeFile(host, "/etc/sysctl.conf", SYSCTL_CONF);
    await setLive(host, HEALTHY_LIVE);
  },
);

describe("check_sysctl", () => {
  it("is OK on a healthy pair, from either host, asking each host's sysctl once and changing nothing", async () => {
    for (const host of HOST_NAMES) {
      const run = await check(host);
      expect(run.firstLine).toBe("OK: sysctl.conf alike on both hosts; 4 values as set and expected");
      expect(run.stdout).toContain("net.inet.carp.preempt: primary 1 (sysctl.conf 1), secondary 1 (sysctl.conf 1), expected 1\n");
      expect(run.code).toBe(0);
    }
    for (const host of HOST_NAMES) {
      const sysctlCalls = (await pair.commandEntries(host)).filter((entry) => entry.kind === "standin" && entry.argv[0] === "/sbin/sysctl");
      expect(sysctlCalls.map((entry) => entry.line)).toEqual([`/sbin/sysctl -- ${NAMES.join(" ")}`, `/sbin/sysctl -- ${NAMES.join(" ")}`]);
      expect(await pair.refusedCommands(host)).toEqual([]);
    }
  });

  it("is CRITICAL when preempt was left at 0 on the primary after maintenance, naming the key and both values", async () => {
    await setLive("primary", { ...HEALTHY_LIVE, "net.inet.carp.preempt": "0" });
    for (const host of HOST_NAMES) {
      const run = await check(host);
      expect(run.firstLine).toBe("CRITICAL: net.inet.carp.preempt: primary 0, secondary 1, expected 1");
      expect(run.stdout).toContain("net.inet.carp.preempt: primary 0 (sysctl.conf 1), secondary 1 (sysctl.conf 1), expected 1: live 0 on primary, expected 1;");
      expect(run.code).toBe(2);
    }
  });

  it("is CRITICAL when the primary's sysctl.conf still sets preempt=0: the next boot would leave it off", async () => {
    await pair.writeFile("primary", "/etc/sysctl.conf", SYSCTL_CONF.replace("preempt=1", "preempt=0"));
    const run = await check("primary");
    expect(run.firstLine).toBe("CRITICAL: primary's sysctl.conf: net.inet.carp.preempt=0, expected 1");
    expect(run.code).toBe(2);
  });

  it("is WARNING when sysctl.conf differs between the hosts, and OK once the name is ignored", async () => {
    await pair.writeFile("secondary", "/etc/sysctl.conf", `${SYSCTL_CONF}kern.watchdog.period=32\n`);
    await setLive("secondary", { ...HEALTHY_LIVE, "kern.watchdog.period": "32" });
    const run = await check("primary");
    expect(run.firstLine).toBe("WARNING: sysctl.conf differs: kern.watchdog.period only on secondary");
    expect(run.stdout).toContain("kern.watchdog.period: primary 0 (sysctl.conf -), secondary 32 (sysctl.conf 32): only in the secondary's sysctl.conf\n");
    expect(run.code).toBe(1);
    // The peer is asked for the primary's names while its file is on the way; its own name costs a second trip.
    const asked = async (host: HostName): Promise<string[]> =>
      (await pair.commandEntries(host)).filter((entry) => entry.kind === "standin" && entry.argv[0] === "/sbin/sysctl").map((entry) => entry.line);
    expect(await asked("secondary")).toEqual([`/sbin/sysctl -- ${NAMES.join(" ")}`, `/sbin/sysctl -- ${NAMES_WITH_WATCHDOG.join(" ")}`]);
    expect(await asked("primary")).toEqual([`/sbin/sysctl -- ${NAMES_WITH_WATCHDOG.join(" ")}`]);
    await pair.writeConfig("primary", `${PAIR_CONFIG.primary}[checks.sysctl]\nignore = ["kern.watchdog.period"]\n`);
    const ignored = await check("primary");
    expect(ignored.firstLine).toBe("OK: sysctl.conf alike on both hosts; 5 values as set and expected");
    expect(ignored.code).toBe(0);
  });

  it("is WARNING when a live value differs from the host's own sysctl.conf", async () => {
    await setLive("secondary", { ...HEALTHY_LIVE, "net.inet.tcp.ecn": "0" });
    const run = await check("secondary");
    expect(run.firstLine).toBe("WARNING: net.inet.tcp.ecn=0 on secondary, sysctl.conf says 1");
    expect(run.code).toBe(1);
  });

  it("holds a role to the expectations in its config", async () => {
    await pair.writeConfig("primary", `${PAIR_CONFIG.primary}[checks.sysctl]\nprimary = { "net.inet.tcp.ecn" = 0 }\n`);
    const run = await check("primary");
    expect(run.firstLine).toBe("CRITICAL: net.inet.tcp.ecn: primary 1, secondary 1, expected 0 on primary");
    expect(run.code).toBe(2);
  });

  it("without the peer: UNKNOWN saying the comparison is missing, but this host's own fault still CRITICAL", async () => {
    await pair.writeConfig("primary", `${PAIR_CONFIG.primary}control_persist = 0\n`);
    await pair.sshd.stop();
    const alone = await check("primary");
    expect(alone.firstLine).toBe("UNKNOWN: pair view missing: cannot reach secondary: connection refused");
    expect(alone.stdout).toContain("\nprimary alone shows no fault\n");
    expect(alone.code).toBe(3);
    await setLive("primary", { ...HEALTHY_LIVE, "net.inet.carp.preempt": "0" });
    const fault = await check("primary");
    expect(fault.firstLine).toBe("CRITICAL: net.inet.carp.preempt: primary 0, expected 1");
    expect(fault.stdout).toContain("\npair view missing: cannot reach secondary: connection refused");
    expect(fault.code).toBe(2);
  });

  it("is UNKNOWN naming the host and line when sysctl prints what it cannot read", async () => {
    await pair.setOutput("secondary", ["/sbin/sysctl", "--", ...NAMES], "net.inet.carp.allow: 1\n");
    const run = await check("secondary");
    expect(run.firstLine).toBe("UNKNOWN: cannot parse secondary's sysctl output line 1");
    expect(run.code).toBe(3);
    const fromPeer = await check("primary");
    expect(fromPeer.firstLine).toBe("UNKNOWN: pair view missing: cannot parse secondary's sysctl output line 1");
    expect(fromPeer.code).toBe(3);
  });
});

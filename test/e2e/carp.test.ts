// check_carp against the simulated pair, run as monit runs it on either gateway.
import { describe, expect, it } from "vitest";
import { type HostName, type Pair } from "../harness/pair.js";
import { fixture } from "../support/fixtures.js";
import { PAIR_CONFIG, useSimulatedPair } from "../support/sim.js";

const CHECK = "/etc/carpentry.monit/check_carp";

const PRIMARY_MASTER = fixture("ifconfig_carp_group_primary_master_vio.txt");
const SECONDARY_BACKUP = fixture("ifconfig_carp_group_secondary_backup_vio.txt");
// The same hosts after a failover: the primary BACKUP (advskew 0), the secondary MASTER (advskew 100).
const PRIMARY_BACKUP = PRIMARY_MASTER.replace("carp: MASTER", "carp: BACKUP").replace("status: master", "status: backup");
const SECONDARY_MASTER = SECONDARY_BACKUP.replace("carp: BACKUP", "carp: MASTER").replace("status: backup", "status: master");
// carp203's carpdev went down on the primary, as in the OpenBSD 5.1 INIT capture.
const PRIMARY_INIT = PRIMARY_MASTER.replace("carp: MASTER", "carp: INIT").replace("status: master", "status: invalid");

let pair: Pair;

async function check(host: HostName, args: string[] = []): Promise<{ code: number | null; firstLine: string; stdout: string }> {
  const run = await pair.run(host, [CHECK, ...args]);
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout };
}

async function setCarp(host: HostName, ifconfigCarp: string): Promise<void> {
  await pair.setOutput(host, ["ifconfig", "carp"], ifconfigCarp);
}

/**
 * The peer's sshd stopped, and no shared ssh connection left from earlier runs (one would still
 * reach the peer, as it does on a real gateway until it expires).
 */
async function peerUnreachableFrom(host: HostName): Promise<void> {
  await pair.writeConfig(host, `${PAIR_CONFIG[host]}control_persist = 0\n`);
  await pair.sshdOf(host === "primary" ? "secondary" : "primary").stop();
}

useSimulatedPair((started) => (pair = started));

describe("check_carp", () => {
  it("OK for the healthy pair, on both hosts, one round trip to the peer, nothing state-changing", async () => {
    const onPrimary = await check("primary");
    expect(onPrimary.firstLine).toMatch(/^OK: primary MASTER, secondary BACKUP of 1 vhid \| primary_masters=1;;;0 .*secondary_backups=1;;;0 /);
    expect(onPrimary.code).toBe(0);
    expect(onPrimary.stdout).toContain("carp203 vhid 203: primary MASTER advskew 0 secondary BACKUP advskew 100\n");
    const sshOnSecondary = (await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh");
    expect(sshOnSecondary).toHaveLength(1);
    const onSecondary = await check("secondary");
    expect(onSecondary.code).toBe(0);
    expect(onSecondary.firstLine).toMatch(/^OK: primary MASTER, secondary BACKUP of 1 vhid \|/);
    expect(await pair.refusedCommands("primary")).toEqual([]);
    expect(await pair.refusedCommands("secondary")).toEqual([]);
  });

  it("WARNING when the pair has failed over to the secondary", async () => {
    await setCarp("primary", PRIMARY_BACKUP);
    await setCarp("secondary", SECONDARY_MASTER);
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^WARNING: failed over: secondary took carp203 vhid 203 from primary \|/);
    expect(res.code).toBe(1);
  });

  it("CRITICAL for split brain: both hosts MASTER", async () => {
    await setCarp("secondary", SECONDARY_MASTER);
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^CRITICAL: split brain: carp203 vhid 203 MASTER on both hosts \|/);
    expect(res.code).toBe(2);
  });

  it("CRITICAL when the primary's vhid is INIT (status invalid)", async () => {
    await setCarp("primary", PRIMARY_INIT);
    await setCarp("secondary", SECONDARY_MASTER);
    const res = await check("secondary");
    expect(res.firstLine).toMatch(/^CRITICAL: carp203 vhid 203 INIT on primary: 10\.112\.203\.254 \(\+1 more\) \|/);
    expect(res.code).toBe(2);
    expect(res.stdout).toContain("carp203 vhid 203 (10.112.203.254) on the primary: INIT (carpdev vio2, status invalid, UP)\n");
  });

  it("WARNING when the primary is demoted for maintenance and the secondary took over", async () => {
    await pair.setOutput("primary", ["ifconfig", "-g", "carp"], fixture("ifconfig_g_internal_after_carpdemote50_faq.txt").replace("internal:", "carp:"));
    await setCarp("primary", PRIMARY_BACKUP);
    await setCarp("secondary", SECONDARY_MASTER);
    const res = await check("primary", ["-v"]);
    expect(res.firstLine).toMatch(/^WARNING: primary carp demote 50 via group carp \(\+1 more\) \|.* primary_demote=50;;;0 /);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain("failed over: carp203 vhid 203: primary BACKUP advskew 0, secondary MASTER advskew 100; the primary should hold it (advskew)\n");
  });

  it("with the peer's sshd down: this host's own carp states speak (serving alone; INIT with its address)", async () => {
    await peerUnreachableFrom("primary");
    const alone = await check("primary");
    expect(alone.firstLine).toMatch(/^WARNING: serving alone: primary MASTER of every vhid \(1\), secondary unreachable \|/);
    expect(alone.code).toBe(1);
    expect(alone.stdout).toMatch(/\npair view missing: cannot reach secondary: /);

    await setCarp("primary", PRIMARY_INIT);
    const init = await check("primary");
    expect(init.firstLine).toMatch(/^CRITICAL: carp203 vhid 203 INIT on primary: 10\.112\.203\.254 may have no MASTER \|/);
    expect(init.code).toBe(2);
    expect(init.stdout).toMatch(/\npair view missing: cannot reach secondary: /);
  });

  it("WARNING on the secondary that took over while the primary is unreachable", async () => {
    await peerUnreachableFrom("secondary");
    await setCarp("secondary", SECONDARY_MASTER);
    const res = await check("secondary", ["--json"]);
    expect(res.code).toBe(1);
    const json = JSON.parse(res.stdout) as { status: string; summary: string; details: string[] };
    expect(json.status).toBe("WARNING");
    expect(json.summary).toBe("took over: secondary MASTER of every vhid (1), primary unreachable");
    expect(json.details.some((line) => line.startsWith("pair view missing: cannot reach primary: "))).toBe(true);
  });

  it("UNKNOWN naming the line for garbled local output; the peer's garbled output is a missing pair view", async () => {
    const garbled = PRIMARY_MASTER.replace("\tcarp: MASTER carpdev vio2", "\tcarp: MASTR carpdev vio2");
    await setCarp("primary", garbled);
    const local = await check("primary");
    expect(local.firstLine).toBe("UNKNOWN: cannot parse ifconfig carp output line 9");
    expect(local.code).toBe(3);

    await setCarp("primary", PRIMARY_MASTER);
    await setCarp("secondary", garbled);
    const peer = await check("primary");
    expect(peer.firstLine).toMatch(/^UNKNOWN: pair view missing: secondary: cannot parse ifconfig carp output line 9 \|/);
    expect(peer.code).toBe(3);
    expect(peer.stdout).toContain('\npair view missing: secondary: cannot parse ifconfig carp output line 9: unknown carp state "MASTR"');
  });
});

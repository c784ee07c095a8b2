// check_pfsync against the simulated pair, run as monit runs it on either gateway.
import { beforeEach, describe, expect, it } from "vitest";
import { pfctlStatusText, type HostName, type Pair } from "../harness/pair.js";
import { fixture } from "../support/fixtures.js";
import { generateStates, stateTableText, type GeneratedState } from "../support/pf-state-table.js";
import { PAIR_CONFIG, useSimulatedPair } from "../support/sim.js";

const CHECK = "/etc/carpentry.monit/check_pfsync";
const COUNTERS_FILE = "/var/db/carpentry/pfsync-counters.json";
const PRIMARY_ID = "5e1f0a3c";
const SECONDARY_ID = "7b2e91d4";

const NETSTAT = fixture("derived_netstat_sp_pfsync.txt");
const IFCONFIG_SECONDARY_PFSYNC = "pfsync0: flags=41<UP,RUNNING> mtu 1500\n\tindex 6 priority 0 llprio 3\n\tpfsync: syncdev: vio0 maxupd: 128 defer: off\n\tgroups: carp pfsync\n";

let pair: Pair;

interface CheckRun {
  code: number | null;
  firstLine: string;
  stdout: string;
  durationMs: number;
}

async function check(host: HostName, args: string[] = []): Promise<CheckRun> {
  const run = await pair.run(host, [CHECK, ...args]);
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout, durationMs: run.durationMs };
}

async function configure(pfsyncToml: string, hosts: readonly HostName[] = ["primary", "secondary"]): Promise<void> {
  for (const host of hosts) await pair.writeConfig(host, `${PAIR_CONFIG[host]}[checks.pfsync]\n${pfsyncToml}\n`);
}

async function setStateCount(host: HostName, currentEntries: number): Promise<void> {
  await pair.setOutput(host, ["pfctl", "-si"], pfctlStatusText({ runtimeSeconds: 1_047_845, currentEntries, searches: 98_765_432, inserts: 2_345_678, removals: 2_344_394, match: 2_401_234 }));
}

async function setStateTables(tables: Record<HostName, readonly GeneratedState[]>): Promise<void> {
  for (const host of ["primary", "secondary"] as const) {
    await pair.setOutput(host, ["pfctl", "-vvss"], stateTableText(tables[host]));
    await setStateCount(host, tables[host].length);
  }
}

useSimulatedPair(
  (started) => (pair = started),
  async (pair, host) => {
    await pair.setOutput(host, ["netstat", "-sp", "pfsync"], NETSTAT);
    await pair.removeFile(host, COUNTERS_FILE);
  },
);

describe("check_pfsync", () => {
  it("OK for the healthy pair on both hosts, counts in the summary and as perfdata; a second round trip reads the syncdev pfsync0 named", async () => {
    const onPrimary = await check("primary");
    expect(onPrimary.firstLine).toBe("OK: states primary 1284, secondary 1279; pfsync0 up on both | states_primary=1284;;;0 states_secondary=1279;;;0 errors_primary=13c;;;0 errors_secondary=13c;;;0");
    expect(onPrimary.code).toBe(0);
    expect(onPrimary.stdout).toContain("secondary: pfsync0 up, syncdev vio0, syncpeer none (multicast), maxupd 128, defer off\n");
    const secondaryLog = await pair.commandEntries("secondary");
    expect(secondaryLog.filter((entry) => entry.kind === "ssh")).toHaveLength(2);
    expect(secondaryLog.filter((entry) => entry.kind === "standin").map((entry) => entry.line)).toEqual([
      "/sbin/ifconfig pfsync0",
      "/sbin/pfctl -si",
      "/usr/bin/netstat -sp pfsync",
      "/sbin/ifconfig vio0",
    ]);
    // The syncdev lines follow the interface lines: past the 500 bytes of a plain run, in full with -v.
    expect((await check("primary", ["-v"])).stdout).toContain("secondary: syncdev vio0 status active, 192.168.254.1\n");

    const onSecondary = await check("secondary");
    expect(onSecondary.code).toBe(0);
    expect(onSecondary.firstLine).toMatch(/^OK: states primary 1284, secondary 1279; pfsync0 up on both \|/);
    expect(await pair.refusedCommands("primary")).toEqual([]);
    expect(await pair.refusedCommands("secondary")).toEqual([]);
  });

  it("CRITICAL when pfsync0 is down on the secondary", async () => {
    await pair.setOutput("secondary", ["ifconfig", "pfsync0"], IFCONFIG_SECONDARY_PFSYNC.replace("flags=41<UP,RUNNING>", "flags=0<>"));
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^CRITICAL: pfsync0 down on secondary \| states_primary=1284;;;0 states_secondary=1279;;;0 /);
    expect(res.code).toBe(2);
    expect(res.stdout.split("\n")[1]).toBe("secondary: pfsync0 flags <>, expected UP,RUNNING");
  });

  it("CRITICAL when pfsync0 has no syncdev on the primary", async () => {
    await pair.setOutput("primary", ["ifconfig", "pfsync0"], fixture("ifconfig_pfsync0_no_syncdev_openbsd51.txt"));
    const res = await check("secondary");
    expect(res.firstLine).toMatch(/^CRITICAL: pfsync0 has no syncdev on primary \|/);
    expect(res.code).toBe(2);
  });

  it("CRITICAL when the secondary's syncpeer is not the configured one", async () => {
    await configure('syncdev = "vio1"\nsyncpeer = { secondary = "10.231.0.1" }\n[host_specific]\ninterfaces = { vio1 = "vio0" }');
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^CRITICAL: pfsync0 on secondary has syncpeer none, not 10\.231\.0\.1 \|/);
    expect(res.code).toBe(2);
    await pair.setOutput("secondary", ["ifconfig", "pfsync0"], IFCONFIG_SECONDARY_PFSYNC.replace("maxupd:", "syncpeer: 10.231.0.1 maxupd:"));
    expect((await check("primary")).code).toBe(0);
  });

  it("CRITICAL when the state counts diverge beyond tolerance, OK just within it", async () => {
    await setStateCount("primary", 1000);
    await setStateCount("secondary", 925);
    const diverged = await check("primary");
    expect(diverged.firstLine).toMatch(/^CRITICAL: states diverged: primary 1000, secondary 925 \| states_primary=1000;;;0 states_secondary=925;;;0 /);
    expect(diverged.code).toBe(2);
    expect(diverged.stdout.split("\n")[1]).toBe("state counts beyond tolerance: the secondary has 92.5% of the primary's");
    await setStateCount("secondary", 935);
    expect((await check("primary")).code).toBe(0);
  });

  it("UNKNOWN naming host and line when pfctl -si prints what the parser does not understand", async () => {
    await pair.setOutput(
      "secondary",
      ["pfctl", "-si"],
      "Status: Enabled for 1 days 00:00:01             Debug: err\n\nState Table                          Total             Rate\n  current entries        twelve\n",
    );
    const res = await check("primary");
    expect(res.firstLine).toBe("UNKNOWN: cannot parse secondary's pfctl -si output line 4");
    expect(res.code).toBe(3);
  });

  it("WARNING when a pfsync error counter grows faster than its rate; a trickle stays OK; the state file keeps the readings", async () => {
    const first = await check("primary", ["-v"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("pfsync errors on secondary: 12 stale states, 1 failed state lookups/inserts; first reading, growth is told from the next run\n");
    const stored = JSON.parse((await pair.readFile("primary", COUNTERS_FILE)).toString("utf8")) as { version: number; history: Record<string, { counters: Record<string, number> }[]> };
    expect(stored.version).toBe(2);
    expect(stored.history["secondary"]?.[0]?.counters["pfsyncs_badstate"]).toBe(1);

    // 8 more failed lookups: what a healthy pair sees now and then (8/h over the hour's window).
    await pair.setOutput("secondary", ["netstat", "-sp", "pfsync"], NETSTAT.replace("\t\t1 failed state lookup/insert\n", "\t\t9 failed state lookup/inserts\n"));
    const trickle = await check("primary", ["-v"]);
    expect(trickle.firstLine).toMatch(/^OK: /);
    expect(trickle.stdout).toMatch(/pfsync errors on secondary: 12 stale states, 9 failed state lookups\/inserts; in \d+ s: failed state lookups\/inserts \+8 \(8\.0\/h\)\n/);

    // A burst: 5000 more within seconds, beyond the default 3600 an hour.
    await pair.setOutput("secondary", ["netstat", "-sp", "pfsync"], NETSTAT.replace("\t\t1 failed state lookup/insert\n", "\t\t5009 failed state lookup/inserts\n"));
    const burst = await check("primary");
    expect(burst.firstLine).toMatch(/^WARNING: pfsync failed state lookups\/inserts at 5008\/h on secondary \|.* errors_secondary=5021c;;;0$/);
    expect(burst.code).toBe(1);
    expect(burst.stdout.split("\n")[1]).toMatch(/^secondary: failed state lookups\/inserts grew by 5008 \(1 -> 5009\) in \d+ s: 5008\/h over 60 min or more, warning above 3600\/h$/);

    // A wider limit in the config: the same burst is within it.
    await configure("busy_per_hour = 10000", ["primary"]);
    expect((await check("primary")).code).toBe(0);
  });

  it("stays OK when the state directory cannot be used, showing the counters without growth", async () => {
    await pair.writeFile("primary", "/var/db/not-a-directory", "");
    await configure('state_dir = "/var/db/not-a-directory"', ["primary"]);
    const res = await check("primary");
    expect(res.code).toBe(0);
    expect(res.firstLine).toMatch(/^OK: states primary 1284, secondary 1279; pfsync0 up on both \|/);
    expect(res.stdout.split("\n")[2]).toBe("counter growth not measured: /var/db/not-a-directory is not a directory");
  });
});

describe("check_pfsync with compare_states", () => {
  // The primary: 300 settled states of its own, 100 the secondary created, 30 younger than 30 s.
  const own = generateStates({ count: 300, creatorid: PRIMARY_ID, ageSeconds: 900 });
  const theirs = generateStates({ count: 100, creatorid: SECONDARY_ID, ageSeconds: 900, seed: 2 });
  const young = generateStates({ count: 30, creatorid: PRIMARY_ID, firstId: 0x6a1f000100000000n, ageSeconds: 4 });
  const secondaryOnly = (count: number) => generateStates({ count, creatorid: SECONDARY_ID, firstId: 0x7b00000000000000n, ageSeconds: 900, seed: 3 });

  beforeEach(async () => {
    await configure("compare_states = true");
  });

  it("OK with the share in the summary and as perfdata; the young states, missing on the secondary, are left out", async () => {
    await setStateTables({ primary: [...own, ...theirs, ...young], secondary: [...own, ...theirs, ...secondaryOnly(10)] });
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^OK: states primary 430, secondary 410; secondary holds 100\.0% \| states_primary=430;;;0 states_secondary=410;;;0 share=100%;95:;80:;0;100 /);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("state tables: 400 primary states older than 30s compared, secondary holds 400 (100.0%); left out 30 younger, 0 expiring within 10s\n");
    // The secondary read its own table; no state list crossed the wire, only its three commands and one facts call ran there (then its syncdev's ifconfig).
    const secondaryLog = await pair.commandEntries("secondary");
    expect(secondaryLog.filter((entry) => entry.kind === "ssh")).toHaveLength(2);
    expect(secondaryLog.filter((entry) => entry.kind === "standin").map((entry) => entry.line)).toEqual([
      "/sbin/ifconfig pfsync0",
      "/sbin/pfctl -si",
      "/usr/bin/netstat -sp pfsync",
      "/sbin/pfctl -vvss",
      "/sbin/ifconfig vio0",
    ]);

    const fromSecondary = await check("secondary");
    expect(fromSecondary.firstLine).toMatch(/^OK: states primary 430, secondary 410; secondary holds 100\.0% \|/);
    expect(fromSecondary.stdout).toContain("left out 30 younger, 0 expiring within 10s\n");
  });

  it("WARNING below share_warning, CRITICAL below share_critical, from either host", async () => {
    await setStateTables({ primary: [...own, ...theirs, ...young], secondary: [...own.slice(30), ...theirs, ...secondaryOnly(40)] });
    const warning = await check("primary");
    expect(warning.firstLine).toMatch(/^WARNING: secondary holds only 92\.5% of the primary's states \|.* share=92\.5%;95:;80:;0;100 /);
    expect(warning.code).toBe(1);
    expect(warning.stdout.split("\n")[1]).toBe("30 of the primary's 400 settled states are missing on the secondary (WARNING below 95:)");
    expect((await check("secondary")).firstLine).toMatch(/^WARNING: secondary holds only 92\.5% of the primary's states \|/);

    await setStateTables({ primary: [...own, ...theirs, ...young], secondary: [...own.slice(100), ...theirs, ...secondaryOnly(110)] });
    const critical = await check("primary");
    expect(critical.firstLine).toMatch(/^CRITICAL: secondary holds only 75\.0% of the primary's states \|/);
    expect(critical.code).toBe(2);
    expect((await check("primary", ["-c", "70:"])).code).toBe(1);
  });

  it("UNKNOWN when the peer cannot be reached", async () => {
    await setStateTables({ primary: [...own, ...theirs], secondary: [...own, ...theirs] });
    await pair.writeConfig("primary", `${PAIR_CONFIG.primary}control_persist = 0\n[checks.pfsync]\ncompare_states = true\n`);
    await pair.sshd.stop();
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^UNKNOWN: cannot reach secondary: /);
    expect(res.code).toBe(3);
  });

  it("compares 50,000-state tables within the default deadline, sending keys, not states", async () => {
    // 45,000 of the primary's own states and 5,000 the secondary created, 1,000 of them too young;
    // the secondary holds every settled one and 500 young ones of its own.
    const bigOwn = generateStates({ count: 44_000, creatorid: PRIMARY_ID, ageSeconds: 1800, seed: 11 });
    const bigYoung = generateStates({ count: 1_000, creatorid: PRIMARY_ID, firstId: 0x6a1f000200000000n, ageSeconds: 2, seed: 12 });
    const bigTheirs = generateStates({ count: 5_000, creatorid: SECONDARY_ID, ageSeconds: 1800, seed: 13 });
    const secondaryYoung = generateStates({ count: 500, creatorid: SECONDARY_ID, firstId: 0x7b00000100000000n, ageSeconds: 3, seed: 14 });
    const primaryTable = [...bigOwn, ...bigYoung, ...bigTheirs];
    const secondaryTable = [...bigOwn, ...bigTheirs, ...secondaryYoung];
    await setStateTables({ primary: primaryTable, secondary: secondaryTable });
    const tableBytes = Buffer.byteLength(stateTableText(secondaryTable));

    for (const host of ["primary", "secondary"] as const) {
      const res = await check(host, ["-v"]);
      expect(res.firstLine).toMatch(/^OK: states primary 50000, secondary 49500; secondary holds 100\.0% \|/);
      expect(res.code).toBe(0);
      const exchange = /state keys sent to the (\w+): ([\d.]+) KiB, answer (\d+) B, round trip (\d+) ms/.exec(res.stdout);
      expect(exchange).not.toBeNull();
      const sentKiB = Number(exchange?.[2]);
      // Keys for up to 49,500 states in well under 2 bytes each, against ~10 MB of pfctl -vvss text.
      expect(sentKiB * 1024).toBeLessThan(49_500 * 2);
      expect(Number(exchange?.[3])).toBeLessThan(400);
      console.log(
        `pfsync compare_states, 50k states, run on the ${host}: keys sent ${sentKiB} KiB, answer ${exchange?.[3]} B, peer round trip ${exchange?.[4]} ms, whole check ${Math.round(res.durationMs)} ms (pfctl -vvss text: ${(tableBytes / 1048576).toFixed(1)} MiB)`,
      );
      expect(res.durationMs).toBeLessThan(10_000);
    }
  });
});

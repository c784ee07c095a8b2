// check_pf_tables against the simulated pair, run on the primary as monit runs it.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPair, type HostName, type Pair } from "../harness/pair.js";

const CHECK = "/etc/carpentry.monit/check_pf_tables";
const PRIMARY_CONFIG = 'role = "primary"\n[peer]\nhost = "secondary"\n';
const SECONDARY_CONFIG = 'role = "secondary"\n[peer]\nhost = "primary"\n';

let pair: Pair;

interface TableSpec {
  /** the -vsT flag column; default a persistent, referenced table */
  readonly flags?: string;
  readonly entries: readonly string[];
}

/** `-T show` lines as print_addrx() writes them: feedback char, space, '!' or space, address. */
function showText(entries: readonly string[]): string {
  return entries.map((entry) => (entry.startsWith("!") ? `  ${entry}\n` : `   ${entry}\n`)).join("");
}

async function setTables(host: HostName, tables: Readonly<Record<string, TableSpec>>): Promise<void> {
  const listing = Object.entries(tables)
    .map(([name, table]) => `${table.flags ?? "-pa-r--"}\t${name}\n`)
    .join("");
  await pair.setOutput(host, ["pfctl", "-vsT"], listing);
  for (const [name, table] of Object.entries(tables)) await pair.setOutput(host, ["pfctl", "-t", name, "-T", "show"], showText(table.entries));
}

/** A few thousand entries of every shape: IPv4 and IPv6 hosts, networks, negated networks. */
function badhosts(): string[] {
  const entries: string[] = [];
  for (let i = 0; i < 3000; i++) entries.push(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);
  for (let i = 0; i < 500; i++) entries.push(`2001:db8:${i.toString(16)}::${(i * 3).toString(16)}`);
  for (let i = 0; i < 200; i++) entries.push(`192.168.${i}.0/24`, `!172.16.${i}.0/24`, `!2001:db8:ff${(i % 16).toString(16)}${(i >> 4).toString(16)}::/48`);
  return [...new Set(entries)];
}

const BADHOSTS = badhosts();
const TRUSTED = ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"];

async function check(args: string[] = []): Promise<{ code: number | null; firstLine: string; stdout: string }> {
  const run = await pair.run("primary", [CHECK, ...args]);
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout };
}

/** ssh sessions to the secondary; each must be a conversation with its carpentry. */
async function roundTrips(): Promise<number> {
  const ssh = (await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh");
  for (const entry of ssh) expect(entry.line).toMatch(/^\{ (\{ )?\/etc\/carpentry\.monit\/carpentry facts; \}/);
  return ssh.length;
}

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
});

afterAll(async () => {
  await pair?.stop();
});

/** The primary's pf.conf and carpentry's sync config: what the default rule reads to choose the tables. */
const PF_CONF = 'table <badhosts> persist file "/etc/pf.tables/badhosts.txt"\nblock in quick from <badhosts>\n';
const PF_CONF_BRUTEFORCE = `${PF_CONF}table <bruteforce> persist\nblock quick from <bruteforce>\npass in proto tcp to port ssh keep state (max-src-conn 10, overload <bruteforce> flush global)\n`;
const SYNC_CONFIG = 'peer=192.168.110.102\npf_tables="trusted"\n';

beforeEach(async () => {
  await pair.writeFile("primary", "/etc/pf.conf", PF_CONF, { mode: 0o600 });
  await pair.writeFile("primary", "/etc/carpentry/carpentry.conf", SYNC_CONFIG, { mode: 0o600 });
  await pair.writeConfig("primary", PRIMARY_CONFIG);
  await pair.writeConfig("secondary", SECONDARY_CONFIG);
  if (pair.sshd.state !== "running") await pair.sshd.start();
  const healthy = { badhosts: { entries: BADHOSTS }, trusted: { entries: TRUSTED } };
  await setTables("primary", healthy);
  await setTables("secondary", { badhosts: { entries: [...BADHOSTS].reverse() }, trusted: { entries: TRUSTED } });
  for (const host of ["primary", "secondary"] as const) await pair.clearCommandLog(host);
});

describe("check_pf_tables", () => {
  it("OK for identical tables printed in another order, in one round trip, nothing state-changing", async () => {
    const res = await check();
    expect(res.firstLine).toBe(`OK: 2 pf tables identical on both hosts (${BADHOSTS.length + 3} entries) | tables=2;;;0 tables_differing=0;;;0`);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`badhosts identical (${BADHOSTS.length} entries)\ntrusted identical (3 entries)\n`);
    expect(await roundTrips()).toBe(1);
    // Both hosts read their own tables: the secondary's pfctl ran there, not through a shell pipeline.
    for (const host of ["primary", "secondary"] as const) {
      const log = await pair.commandLog(host);
      expect(log).toContain("/sbin/pfctl -vsT");
      expect(log).toContain("/sbin/pfctl -t badhosts -T show");
      expect(await pair.refusedCommands(host)).toEqual([]);
    }
  });

  it("CRITICAL naming the entries only on each host when a table drifted", async () => {
    const onlyOnPrimary = ["203.0.113.5", "!203.0.113.0/28", "2001:db8:beef::1"];
    await setTables("primary", { badhosts: { entries: [...BADHOSTS, ...onlyOnPrimary] }, trusted: { entries: TRUSTED } });
    await setTables("secondary", { badhosts: { entries: [...BADHOSTS.slice(1), "198.51.100.77"] }, trusted: { entries: TRUSTED } });
    const res = await check();
    expect(res.firstLine).toBe("CRITICAL: table badhosts differs: 4 only on primary, 1 only on secondary | tables=2;;;0 tables_differing=1;;;0");
    expect(res.code).toBe(2);
    const lines = res.stdout.split("\n");
    expect(lines[1]).toBe(`badhosts differs: 4 only on primary, 1 only on secondary (primary ${BADHOSTS.length + 3} entries, secondary ${BADHOSTS.length} entries)`);
    for (const entry of [...onlyOnPrimary, BADHOSTS[0]]) expect(lines).toContain(`badhosts only on primary: ${entry}`);
    expect(lines).toContain("badhosts only on secondary: 198.51.100.77");
    expect(Buffer.byteLength(res.stdout)).toBeLessThanOrEqual(500);
    // One ssh session and one process on the secondary: it asks about its raw hashes, the primary's
    // bucket sums of the differing table go back in the reply, the secondary's entries of the
    // differing buckets come in its answer. Each host reads each table once.
    expect(await roundTrips()).toBe(1);
    for (const host of ["primary", "secondary"] as const) {
      expect((await pair.commandLog(host)).filter((line) => line === "/sbin/pfctl -t badhosts -T show")).toHaveLength(1);
    }
  });

  it("lists max_listed entries per side, and all of them with -v", async () => {
    const added = Array.from({ length: 30 }, (_, i) => `198.18.0.${i + 1}`);
    await setTables("secondary", { badhosts: { entries: [...BADHOSTS, ...added] }, trusted: { entries: TRUSTED } });
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}[checks.pf_tables]\nmax_listed = 2\n`);
    const bounded = await check();
    expect(bounded.firstLine).toMatch(/^CRITICAL: table badhosts differs: 0 only on primary, 30 only on secondary \|/);
    expect(bounded.stdout).toContain("badhosts only on secondary: 198.18.0.1\nbadhosts only on secondary: 198.18.0.10\nbadhosts only on secondary: 28 more (-v lists all)\n");
    const full = await check(["-v"]);
    for (const entry of added) expect(full.stdout).toContain(`badhosts only on secondary: ${entry}\n`);
  });

  it("leaves out by default an overload table that differs between the hosts, and says why; compares it when listed", async () => {
    await pair.writeFile("primary", "/etc/pf.conf", PF_CONF_BRUTEFORCE, { mode: 0o600 });
    await setTables("primary", { badhosts: { entries: BADHOSTS }, trusted: { entries: TRUSTED }, bruteforce: { entries: ["203.0.113.7", "198.51.100.23"] } });
    await setTables("secondary", { badhosts: { entries: BADHOSTS }, trusted: { entries: TRUSTED }, bruteforce: { entries: ["192.0.2.99"] } });
    const res = await check(["-v"]);
    expect(res.firstLine).toMatch(/^OK: 2 pf tables identical on both hosts \(\d+ entries\) \|/);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("left out: bruteforce: filled by an overload rule on each host: differs between the hosts by design\n");
    expect((await pair.commandLog("primary")).join("\n")).not.toContain("-t bruteforce");
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}[checks.pf_tables]\ntables = ["bruteforce"]\n`);
    expect((await check()).firstLine).toMatch(/^CRITICAL: table bruteforce differs: 2 only on primary, 1 only on secondary \|/);
  });

  it("compares nothing without pf.conf or the sync config, and says why", async () => {
    await pair.removeFile("primary", "/etc/pf.conf");
    await pair.removeFile("primary", "/etc/carpentry/carpentry.conf");
    const res = await check(["-v"]);
    expect(res.firstLine).toMatch(/^OK: no pf tables to compare \|/);
    expect(res.stdout.split("\n")[1]).toBe("no table is file-backed in pf.conf or named by carpentry's sync config");
    expect(await pair.commandLog("secondary")).toEqual([]);
  });

  it("CRITICAL when a table exists on one host only", async () => {
    await setTables("secondary", { badhosts: { entries: BADHOSTS } });
    const res = await check();
    expect(res.firstLine).toBe("CRITICAL: table trusted missing on secondary | tables=2;;;0 tables_differing=1;;;0");
    expect(res.code).toBe(2);
    expect(res.stdout).toContain("trusted missing on secondary (primary 3 entries, secondary missing)\n");
  });

  it("ignores const tables, tables each host fills on its own, and the tables in ignore", async () => {
    await setTables("primary", { badhosts: { entries: BADHOSTS }, carp_peers: { flags: "cpa----", entries: ["10.231.0.2"] }, scratch: { entries: ["10.9.9.9"] } });
    await setTables("secondary", { badhosts: { entries: BADHOSTS }, carp_peers: { flags: "cpa----", entries: ["10.231.0.1"] }, scratch: { entries: [] } });
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}[checks.pf_tables]\nignore = ["scratch"]\n`);
    const res = await check();
    expect(res.firstLine).toMatch(/^OK: 1 pf table identical on both hosts \(\d+ entries\) \|/);
    expect(res.code).toBe(0);
    for (const host of ["primary", "secondary"] as const) {
      const log = (await pair.commandLog(host)).join("\n");
      expect(log).not.toContain("carp_peers");
      expect(log).not.toContain("scratch");
    }
  });

  it("compares the configured tables only, WARNING for one that exists on neither host", async () => {
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}[checks.pf_tables]\ntables = ["trusted", "nosuch"]\n`);
    const res = await check();
    expect(res.firstLine).toBe("WARNING: configured table nosuch exists on neither host | tables=2;;;0 tables_differing=1;;;0");
    expect(res.code).toBe(1);
    expect((await pair.commandLog("secondary")).join("\n")).not.toContain("badhosts");
  });

  it("reads a configured table inside an anchor with -a, as pfctl names it (name@anchor)", async () => {
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}[checks.pf_tables]\ntables = ["web@relayd/www"]\n`);
    for (const [host, entries] of [
      ["primary", ["192.0.2.80", "192.0.2.81"]],
      ["secondary", ["192.0.2.80"]],
    ] as const) {
      await pair.setOutput(host, ["pfctl", "-a", "relayd/www", "-vsT"], "--a----\tweb@relayd/www\n");
      await pair.setOutput(host, ["pfctl", "-a", "relayd/www", "-t", "web", "-T", "show"], showText(entries));
    }
    const res = await check();
    expect(res.firstLine).toBe("CRITICAL: table web@relayd/www differs: 1 only on primary, 0 only on secondary | tables=1;;;0 tables_differing=1;;;0");
    expect(res.stdout).toContain("web@relayd/www only on primary: 192.0.2.81\n");
  });

  it("UNKNOWN naming the key for a table name a shell would run, and runs nothing", async () => {
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}[checks.pf_tables]\ntables = ["x;touch /tmp/pwned"]\n`);
    const res = await check();
    expect(res.firstLine).toBe("UNKNOWN: config error: checks.pf_tables.tables.0");
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('expected a pf table name, got "x;touch /tmp/pwned"');
    for (const host of ["primary", "secondary"] as const) {
      expect(existsSync(pair.hostPath(host, "/tmp/pwned"))).toBe(false);
      // Only the check itself started (its shebang runs /bin/sh): no pfctl, no ssh.
      expect(await pair.commandLog(host)).toEqual(host === "primary" ? [`/bin/sh ${CHECK}`] : []);
    }
  });

  it("UNKNOWN naming the host and line when pfctl prints something that is no table entry", async () => {
    await pair.setOutput("secondary", ["pfctl", "-t", "trusted", "-T", "show"], "   192.0.2.10\nD  198.51.100.0/24\n");
    const res = await check();
    expect(res.firstLine).toMatch(/^UNKNOWN: secondary: cannot parse pfctl -t trusted -T show output line 2\b/);
    expect(res.stdout).toContain('not an address or network: "D  198.51.100.0/24"');
    expect(res.code).toBe(3);
    await pair.setOutput("primary", ["pfctl", "-vsT"], "", { stderr: "pfctl: /dev/pf: Permission denied\n", exitCode: 1 });
    const local = await check();
    expect(local.firstLine).toBe("UNKNOWN: primary: /sbin/pfctl -vsT failed (exit 1)");
    expect(local.stdout).toContain("pfctl: /dev/pf: Permission denied");
  });

  it("UNKNOWN, never a verdict, when the secondary cannot be reached", async () => {
    await pair.writeConfig("primary", `${PRIMARY_CONFIG}control_persist = 0\n`);
    await pair.sshd.stop();
    const res = await check();
    expect(res.firstLine).toBe("UNKNOWN: cannot reach secondary: connection refused");
    expect(res.code).toBe(3);
  });
});

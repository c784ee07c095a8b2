// carpentry init on the simulated pair, in each of its shapes: run once on each gateway, it writes
// carpentry.toml and monitrc from what both hosts show; `carpentry run` is then all OK on a healthy
// pair, a fault still alerts, monit accepts the control file, and nothing on either host changed but
// the two files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST_NAMES, startPair, type HostName, type Pair } from "../harness/pair.js";
import { ScenarioLab, type ScenarioName } from "../harness/scenarios.js";
import { snapshotChanges, snapshotTrees, type Snapshot } from "../support/file-snapshot.js";
import { parseCarpInterfaces } from "../../src/lib/parse/ifconfig.js";
import { healthyPair, type PairShape } from "../../src/sim/gateways.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";
const CONFIG = "/etc/carpentry.monit/carpentry.toml";
const MONITRC = "/etc/monitrc";
/** Where a change by init would show (the hosts' /var/lib and /var/cache are the machine's, large, and nothing there is OpenBSD's); init may write its two files and nothing else. */
const SNAPSHOT_ROOTS = ["/etc", "/root", "/run", "/var/db", "/var/unbound", "/var/spool"];

let pair: Pair;
let lab: ScenarioLab;

beforeAll(async () => {
  pair = await startPair();
  lab = new ScenarioLab(pair);
  await lab.setUp();
}, 120_000);

afterAll(async () => {
  await lab?.closeSharedConnections();
  await pair?.stop();
});

async function removeWritten(host: HostName): Promise<void> {
  for (const path of [CONFIG, MONITRC, `${CONFIG}.bak`, `${MONITRC}.bak`]) await pair.removeFile(host, path);
}

async function init(host: HostName, ...extra: string[]): Promise<{ code: number | null; stdout: string }> {
  const run = await pair.run(host, [CARPENTRY, "init", "--role", host, "--peer", pair.peerName[host], ...extra], { timeoutMs: 40_000 });
  expect(run.stderr).toBe("");
  return { code: run.code, stdout: run.stdout };
}

interface RunJson {
  readonly status: string;
  readonly checks: readonly { readonly check: string; readonly status: string; readonly summary: string }[];
}

async function carpentryRun(host: HostName): Promise<RunJson> {
  const run = await pair.run(host, [CARPENTRY, "run", "--json"], { timeoutMs: 40_000 });
  return JSON.parse(run.stdout) as RunJson;
}

/** `NAME = "ROLE"` for each carp interface of the healthy pair of that shape, by the host that is MASTER of it there. */
function mastersOf(shape: PairShape): string {
  const pair = healthyPair(shape);
  const masters = HOST_NAMES.flatMap((host) =>
    parseCarpInterfaces(pair.hosts[host].outputs.get(JSON.stringify(["ifconfig", "carp"]))?.stdout ?? "")
      .filter((carp) => carp.vhids[0]?.state === "MASTER")
      .map((carp) => [carp.name, host] as const),
  );
  return masters
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, host]) => `${name} = "${host}"`)
    .join(", ");
}

const notOk = (run: RunJson): string[] => run.checks.filter((c) => c.status !== "OK").map((c) => `${c.check} ${c.status}: ${c.summary}`);

/** What each shape's files must say, and a fault that must still alert with init's config. */
const SHAPES: Readonly<Record<PairShape, { toml: readonly (string | RegExp)[]; monitrc: readonly (string | RegExp)[]; fault: ScenarioName; alerts: RegExp }>> = {
  full: {
    toml: [
      'preferred_master = { carp203 = "primary" }',
      "# table badhosts: compared, file-backed (/etc/pf.tables/badhosts.txt)",
      'tables = ["badhosts", "trusted"]',
      "carpentry_sync = true",
      'values = [{ primary = "192.168.110.101", secondary = "192.168.110.102" }]',
      'interfaces = { re0 = "em0", vio1 = "vio0" }',
      'names = ["gw.carp.test", "ns.carp.test"]',
    ],
    monitrc: [/\ncheck program check_drift_vpn /, /\ncheck process dhcpd /],
    fault: "split_brain",
    alerts: /^carp CRITICAL: split brain/,
  },
  minimal: {
    toml: [
      "# table bruteforce: left out, an overload table: each host fills it by itself",
      'tables = ["badhosts"]',
      "carpentry_sync = false",
      "#   vpn: not in use: none of /etc/openvpn/, /etc/openv-client-*/ on either host",
      "#   dhcpd: not watched, not enabled and not running here",
    ],
    monitrc: ["# check_drift_vpn: left out, the drift set vpn is not in use", "# check_drift_dhcp: left out", "# dhcpd: left out, not enabled and not running here"],
    fault: "pf_table_drift",
    alerts: /^pf_tables CRITICAL: table badhosts differs/,
  },
  "active-active": {
    // Each interface to the host that is MASTER of it on the healthy pair, whatever the shape names them.
    toml: [`preferred_master = { ${mastersOf("active-active")} }`, /^# carp\d+: the secondary should be MASTER \(advskew \d+ on the primary, \d+ on the secondary\)$/m],
    monitrc: [/\ncheck program check_drift_vpn /],
    fault: "preempt_zero",
    alerts: /^sysctl CRITICAL: net\.inet\.carp\.preempt/,
  },
};

describe.each(Object.keys(SHAPES) as PairShape[])("carpentry init on the %s pair", (shape) => {
  const expected = SHAPES[shape];
  const written: Partial<Record<HostName, string>> = {};
  const runs: Partial<Record<HostName, { code: number | null; stdout: string }>> = {};

  it("writes both files on each gateway, read-only otherwise, and carpentry run is all OK", async () => {
    await lab.enter("healthy", shape);
    for (const host of HOST_NAMES) {
      await removeWritten(host);
      await pair.clearCommandLog(host);
    }
    const before = new Map<HostName, Snapshot>(HOST_NAMES.map((host) => [host, snapshotTrees(SNAPSHOT_ROOTS, (path) => pair.hostPath(host, path))]));
    for (const host of HOST_NAMES) {
      runs[host] = await init(host);
      written[host] = (await pair.readFile(host, CONFIG)).toString();
    }
    for (const host of HOST_NAMES) {
      const after = snapshotTrees(SNAPSHOT_ROOTS, (path) => pair.hostPath(host, path));
      expect(snapshotChanges(before.get(host) ?? new Map(), after, [CONFIG, MONITRC]), host).toEqual([]);
    }
    for (const host of HOST_NAMES) {
      const run = runs[host];
      expect(run?.stdout).toContain(`wrote ${CONFIG} (0600)\nwrote ${MONITRC} (0600)\n`);
      expect(run?.stdout).not.toContain("could not decide");
      expect(run?.stdout).not.toContain("check the config");
      expect(run?.code).toBe(0);
    }
    for (const host of HOST_NAMES) expect(await pair.refusedCommands(host)).toEqual([]);
  });

  it("says every choice with its reason in the files, and monit accepts its control file", async () => {
    const toml = written.primary ?? "";
    for (const line of expected.toml) expect(toml).toMatch(typeof line === "string" ? new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m") : line);
    const monitrc = (await pair.readFile("primary", MONITRC)).toString();
    for (const line of expected.monitrc) expect(monitrc).toMatch(typeof line === "string" ? new RegExp(line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : line);
    // The survivor speaks: check_carp never waits for check_peer; the other peer checks do.
    for (const host of HOST_NAMES) {
      const text = (await pair.readFile(host, MONITRC)).toString();
      expect(text).toMatch(/\ncheck program check_carp with path "\/etc\/carpentry\.monit\/check_carp -t 10"\n(?: {4}(?!depends).*\n)+/);
      expect(text).toMatch(/\ncheck program check_pfsync [^\n]*\n(?: {4}.*\n)*? {4}depends on check_peer\n/);
      const syntax = await pair.run(host, ["/usr/bin/monit", "-t", "-c", MONITRC]);
      expect(syntax.stdout + syntax.stderr).toContain("Control file syntax OK");
    }
  });

  it("makes carpentry run all OK on each gateway", async () => {
    for (const host of HOST_NAMES) {
      const run = await carpentryRun(host);
      expect(notOk(run), host).toEqual([]);
      expect(run.status, host).toBe("OK");
      expect(run.checks.length).toBeGreaterThan(5);
    }
  });

  it("leaves a fault to alert", async () => {
    await lab.enter(expected.fault, shape);
    for (const host of HOST_NAMES) await pair.writeConfig(host, written[host] ?? "");
    const run = await carpentryRun("primary");
    expect(
      notOk(run).some((line) => expected.alerts.test(line)),
      notOk(run).join("\n"),
    ).toBe(true);
  });
});

describe("carpentry init, the files already there or the peer unreachable", () => {
  it("never overwrites without --force, and keeps a .bak with it", async () => {
    await lab.enter("healthy", "minimal");
    await removeWritten("primary");
    await pair.writeConfig("primary", 'role = "primary"\n[peer]\nhost = "secondary"\n');
    const refused = await init("primary");
    expect(refused.stdout).toBe(`init: ${CONFIG} already exists: nothing written\n--dry-run shows what init would write; --force replaces them, keeping each as .bak\n`);
    expect(refused.code).toBe(3);
    const forced = await init("primary", "--force");
    expect(forced.stdout).toContain(`wrote ${CONFIG} (0600), the old one kept as ${CONFIG}.bak\n`);
    expect(forced.code).toBe(0);
    expect((await pair.readFile("primary", `${CONFIG}.bak`)).toString()).toBe('role = "primary"\n[peer]\nhost = "secondary"\n');
  });

  it("with the peer unreachable writes what it can and says what it could not decide (exit 1)", async () => {
    await lab.enter("peer_sshd_down", "minimal");
    await removeWritten("primary");
    const run = await init("primary", "--dry-run", "--peer-port", "2222");
    expect(run.stdout).toContain('\n[peer]\nhost = "secondary"\nport = 2222\n');
    expect(run.stdout).toContain("the secondary (secondary): could not be asked: cannot reach secondary: connection refused\ncould not decide:\n");
    expect(run.stdout).toContain("# Could not decide (see the sections below):\n#   - the secondary could not be asked (cannot reach secondary: connection refused)\n");
    expect(run.stdout).toContain("preferred master of carp203: needs both hosts' advskew");
    expect(run.stdout).toContain("nothing written (--dry-run)\n");
    expect(run.code).toBe(1);
    expect(await pair.readFile("primary", CONFIG).catch(() => "absent")).toBe("absent");
  });
});

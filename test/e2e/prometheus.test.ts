// `carpentry metrics` against the real Prometheus stack of Debian's packages: promtool proves the
// alert rules (one test per alert, firing and not) and every file written; node_exporter, inside the
// simulated primary, serves the file with its textfile collector alone; Prometheus, in the primary
// too (loopback only), scrapes it every second and evaluates contrib/prometheus/carpentry.rules.yml
// unchanged. Asserted through Prometheus' HTTP API: the healthy pair's series and no alert; a split
// brain fires CarpentrySplitBrain; the Grafana dashboard's queries find their series; a run that
// cannot run the checks says carpentry_up 0 and its check series go stale in Prometheus instead of
// looking fresh.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { carpentryConfig } from "../../src/sim/gateways.js";
import { startPair, type HostName, type Pair } from "../harness/pair.js";
import { PEER_LINK, ScenarioLab, SECRETS, type ScenarioName } from "../harness/scenarios.js";
import { REPO_ROOT } from "../support/monitrc.js";

const PROMTOOL = "/usr/bin/promtool";
const CARPENTRY = "/etc/carpentry.monit/carpentry";
const RULES_DIR = join(REPO_ROOT, "contrib", "prometheus");
const TEXTFILE_DIR = "/var/db/node_exporter/textfile_collector";
const METRICS_FILE = `${TEXTFILE_DIR}/carpentry.prom`;
const PROM_DIR = "/tmp/prometheus";
const PROMETHEUS_URL = "http://127.0.0.1:9090";

async function promtool(args: readonly string[], input?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, [...args], { cwd: RULES_DIR, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(input ?? "");
  });
}

/** promtool check metrics: the text parses and follows Prometheus' naming and HELP/TYPE rules. */
async function expectValidMetrics(text: string): Promise<void> {
  const checked = await promtool(["check", "metrics"], text);
  expect(checked.output).toBe("");
  expect(checked.code).toBe(0);
}

const CHECKS_OF: Readonly<Record<HostName, string[]>> = {
  primary: ALL_CHECKS.filter((check) => check.roles.includes("primary")).map((check) => check.name),
  secondary: ALL_CHECKS.filter((check) => check.roles.includes("secondary")).map((check) => check.name),
};

/** sample lines of one metric name: labels -> value */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) found.set(match[1] ?? "", Number(match[2]));
  }
  return found;
}

describe("the alert rules", () => {
  it("pass promtool check rules", async () => {
    const checked = await promtool(["check", "rules", "carpentry.rules.yml"]);
    expect(checked.output).toContain("SUCCESS: 8 rules found");
    expect(checked.code).toBe(0);
  });

  it("pass promtool test rules: every alert fires on its fault after its for:, and not before or elsewhere", async () => {
    const tested = await promtool(["test", "rules", "carpentry.rules.test.yml"]);
    expect(tested.output).toContain("SUCCESS");
    expect(tested.code).toBe(0);
    // one test per alert of the rules file
    const alerts = [...readFileSync(join(RULES_DIR, "carpentry.rules.yml"), "utf8").matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);
    const tests = readFileSync(join(RULES_DIR, "carpentry.rules.test.yml"), "utf8");
    for (const alert of alerts) expect(tests, alert).toMatch(new RegExp(`alertname: ${alert}\\n\\s*exp_alerts: \\[\\][\\s\\S]*alertname: ${alert}\\n\\s*exp_alerts:\\n`));
  });
});

describe("carpentry metrics in the simulated pair, scraped by Prometheus", () => {
  let pair: Pair;
  let lab: ScenarioLab;

  async function metrics(host: HostName, args: readonly string[] = []): Promise<{ code: number; stdout: string }> {
    const r = await pair.run(host, [CARPENTRY, "metrics", ...args], { timeoutMs: 60_000 });
    return { code: r.code ?? -1, stdout: r.stdout };
  }

  async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await pair.run("primary", ["/usr/bin/curl", "-sS", "--max-time", "5", "-G", `${PROMETHEUS_URL}/api/v1/query`, "--data-urlencode", `query=${expr}`]);
    const body = JSON.parse(r.stdout) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    expect(body.status).toBe("success");
    return body.data.result;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  beforeAll(async () => {
    pair = await startPair();
    lab = new ScenarioLab(pair);
    await lab.setUp();
    // The pair's own name, as an admin sets it on both hosts.
    for (const host of ["primary", "secondary"] as const) await pair.writeConfig(host, `${carpentryConfig(host, PEER_LINK)}\n[metrics]\npair = "fw-test"\n`);
    const written = await metrics("primary");
    expect(written.stdout).toMatch(/^OK: metrics of \d+ checks written \(worst OK\)\n/);
    expect(written.code).toBe(0);
    await pair.startDaemon(
      "primary",
      "prometheus-node",
      ["/usr/bin/prometheus-node-exporter", "--collector.disable-defaults", "--collector.textfile", `--collector.textfile.directory=${TEXTFILE_DIR}`, "--web.listen-address=127.0.0.1:9100"],
      { ready: /Listening on/ },
    );
    await pair.writeFile("primary", `${PROM_DIR}/carpentry.rules.yml`, readFileSync(join(RULES_DIR, "carpentry.rules.yml")));
    await pair.writeFile(
      "primary",
      `${PROM_DIR}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "rule_files:",
        `  - ${PROM_DIR}/carpentry.rules.yml`,
        "scrape_configs:",
        "  - job_name: node",
        "    static_configs:",
        '      - targets: ["127.0.0.1:9100"]',
        "",
      ].join("\n"),
    );
    await pair.startDaemon(
      "primary",
      "prometheus",
      ["/usr/bin/prometheus", `--config.file=${PROM_DIR}/prometheus.yml`, `--storage.tsdb.path=${PROM_DIR}/data`, "--web.listen-address=127.0.0.1:9090"],
      { ready: /Server is ready to receive web requests/, readyTimeoutMs: 30_000 },
    );
  }, 120_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it("writes a valid file, and Prometheus has the healthy pair's series: every check OK, labelled with pair, role, host and check; no alert", async () => {
    const text = readFileSync(pair.hostPath("primary", METRICS_FILE), "utf8");
    await expectValidMetrics(text);
    // replaced in one rename: no temporary file is left for node_exporter to find
    expect(readdirSync(pair.hostPath("primary", TEXTFILE_DIR))).toEqual(["carpentry.prom"]);
    expect(statSync(pair.hostPath("primary", METRICS_FILE)).mode & 0o777).toBe(0o644);
    const status = await until("the check statuses in Prometheus", async () => {
      const result = await query('carpentry_check_status{job="node"}');
      return result.length === CHECKS_OF.primary.length ? result : undefined;
    });
    expect(status.map((s) => s.metric["check"]).sort()).toEqual([...CHECKS_OF.primary].sort());
    for (const series of status) {
      expect(series.value[1], series.metric["check"]).toBe("0");
      expect(series.metric).toMatchObject({ pair: "fw-test", role: "primary", host: "primary" });
    }
    expect((await query("carpentry_up"))[0]?.value[1]).toBe("1");
    expect((await query("node_textfile_scrape_error"))[0]?.value[1]).toBe("0");
    expect((await query('carpentry_perfdata_split_brain{check="carp"}'))[0]?.value[1]).toBe("0");
    expect((await query('carpentry_perfdata_ssh_time_seconds{check="peer"}')).length).toBe(1);
    // two evaluations later, still nothing pending or firing
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await query("ALERTS")).toEqual([]);
  });

  it.each(["primary", "secondary"] as const)("the stanza commented out in monitrc.%s.example: monit -t accepts it, and its command writes the file and prints nothing", async (role) => {
    const example = readFileSync(join(REPO_ROOT, `monitrc.${role}.example`), "utf8");
    const stanza = /^# check program carpentry_metrics .*\n(?:# {5}.*\n)+/m.exec(example)?.[0] ?? "";
    expect(stanza).toContain("every 5 cycles");
    const control = `set daemon 60\n${stanza.replace(/^# ?/gm, "")}`;
    await pair.writeFile(role, "/etc/monitrc-metrics", control, { mode: 0o600 });
    const syntax = await pair.run(role, ["/usr/bin/monit", "-t", "-c", "/etc/monitrc-metrics"]);
    expect(syntax.stdout + syntax.stderr).toContain("Control file syntax OK");
    const command = /with path "([^"]+)"/.exec(control)?.[1]?.split(" ") ?? [];
    expect(command.slice(0, 2)).toEqual([CARPENTRY, "metrics"]);
    rmSync(pair.hostPath(role, METRICS_FILE), { force: true });
    const r = await pair.run(role, command, { timeoutMs: 60_000 });
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
    const text = readFileSync(pair.hostPath(role, METRICS_FILE), "utf8");
    expect(samples(text, "carpentry_check_status").size).toBe(CHECKS_OF[role].length);
  });

  it("fires CarpentrySplitBrain in Prometheus' rule evaluation when both hosts are MASTER", async () => {
    await lab.enter("split_brain");
    for (const host of ["primary", "secondary"] as const) await pair.writeConfig(host, `${carpentryConfig(host, PEER_LINK)}\n[metrics]\npair = "fw-test"\n`);
    const written = await metrics("primary");
    expect(written.stdout).toMatch(/\(worst CRITICAL\)/);
    expect(written.code).toBe(0);
    await expectValidMetrics(readFileSync(pair.hostPath("primary", METRICS_FILE), "utf8"));
    const firing = await until("CarpentrySplitBrain to fire", async () => {
      const result = await query('ALERTS{alertname="CarpentrySplitBrain",alertstate="firing"}');
      return result.length > 0 ? result : undefined;
    });
    expect(firing).toHaveLength(1);
    expect(firing[0]?.metric).toMatchObject({ pair: "fw-test", check: "carp", severity: "critical" });
    // the same carp view is not a failover, and nothing else broke
    expect(await query('ALERTS{alertname!="CarpentrySplitBrain"}')).toEqual([]);
  });

  it("every query of contrib/grafana/carpentry.dashboard.json finds its series in Prometheus", async () => {
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, "contrib", "grafana", "carpentry.dashboard.json"), "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
    const queries = dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ title: panel.title, expr: target.expr.replaceAll("$pair", ".*") })));
    expect(queries.length).toBeGreaterThan(5);
    // the split brain of the test before: the table of checks not OK has check_carp in it
    for (const { title, expr } of queries) expect((await query(expr)).length, `${title}: ${expr}`).toBeGreaterThan(0);
    expect((await query("count by (pair) (carpentry_up)")).map((s) => s.metric["pair"])).toEqual(["fw-test"]);
  });

  it("a run that cannot run the checks writes carpentry_up 0, and the old check series go stale instead of looking fresh", async () => {
    await pair.writeFile("primary", "/etc/carpentry.monit/carpentry.toml", 'role = "primary"\n[peer]\nhost = "secondary"\n[metrics]\npair = "fw test"\n', { mode: 0o600 });
    const written = await metrics("primary");
    expect(written.code).toBe(3);
    expect(written.stdout).toMatch(/^UNKNOWN: wrote carpentry_up 0 to \/var\/db\/node_exporter\/textfile_collector\/carpentry\.prom\nconfig error: metrics\.pair: .*line 5/);
    const text = readFileSync(pair.hostPath("primary", METRICS_FILE), "utf8");
    await expectValidMetrics(text);
    expect([...samples(text, "carpentry_up").values()]).toEqual([0]);
    expect(samples(text, "carpentry_check_status").size).toBe(0);
    await until("carpentry_up 0 in Prometheus", async () => ((await query("carpentry_up == 0")).length === 1 ? true : undefined));
    await until("the check series to go stale", async () => ((await query("carpentry_check_status")).length === 0 ? true : undefined));
    await lab.enter("healthy");
  });
});

describe("carpentry metrics across scenarios and pair shapes", () => {
  let pair: Pair;
  let lab: ScenarioLab;
  // a handful that change what the file holds: faults of each kind, a dead and a hanging peer (the
  // deadline), a secret that changed, and the two other shapes
  const SCENARIOS: readonly ScenarioName[] = [
    "healthy",
    "split_brain",
    "file_secret",
    "mail_piling",
    "garbled",
    "peer_hanging",
    "minimal",
    "minimal/sync_partial",
    "active-active",
    "active-active/primary_dead",
  ];

  beforeAll(async () => {
    pair = await startPair();
    lab = new ScenarioLab(pair);
    await lab.setUp();
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it.each(SCENARIOS)("%s: on both hosts, under a 3 s deadline, a complete file that promtool accepts, counts only, no secret", async (scenario) => {
    await lab.enter(scenario);
    for (const host of ["primary", "secondary"] as const) {
      const r = await pair.run(host, [CARPENTRY, "metrics", "-t", "3", "-o", "-"], { timeoutMs: 60_000 });
      expect(r.code, r.stdout).toBe(0);
      await expectValidMetrics(r.stdout);
      expect([...samples(r.stdout, "carpentry_up").values()]).toEqual([1]);
      expect([...samples(r.stdout, "carpentry_check_status").keys()].map((labels) => /check="(\w+)"/.exec(labels)?.[1]).sort()).toEqual([...CHECKS_OF[host]].sort());
      if (scenario === "peer_hanging" && host === "primary") expect(samples(r.stdout, "carpentry_check_status").get('{pair="primary+secondary",role="primary",host="primary",check="peer"}')).toBe(3);
      for (const secret of Object.values(SECRETS)) expect(r.stdout).not.toContain(secret);
      // labels carry names of the registry and of the config, never a file name or a summary
      for (const line of r.stdout.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
        expect(line).toMatch(/^[a-z_]+\{pair="primary\+secondary",role="(primary|secondary)",host="(primary|secondary)"(,check="[a-z_]+"|,version="[^"]+")?\} -?[0-9.e+-]+$/);
      }
    }
  });
});

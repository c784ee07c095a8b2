// carpentry metrics: the families built from a run's outcomes (labels, statuses, perfdata, a failed
// run), the pair label and its config key, the last-success times kept across runs, and the atomic
// write. promtool itself judges the text in test/e2e/prometheus.test.ts.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildMetrics, pairName, updateLastSuccess, writeAtomically } from "../../../src/cli/metrics.js";
import { ALL_CHECKS } from "../../../src/checks/index.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { renderExposition } from "../../../src/lib/runtime/metrics-format.js";
import { result, type Result } from "../../../src/lib/runtime/result.js";
import type { Outcome } from "../../../src/lib/runtime/runner.js";

const outcome = (check: string, res: Result, durationMs = 120): Outcome => ({ check, result: res, durationMs, host: "fw1" });
const config = (extra = ""): ReturnType<typeof parseConfig> => parseConfig(`role = "primary"\n[peer]\nhost = "fw2.example.org"\n${extra}`, "t.toml", { all: ALL_CHECKS });
const AT = new Date(Date.UTC(2026, 11, 5, 12, 0, 0));

const OUTCOMES: readonly Outcome[] = [
  outcome("peer", result("OK", "secondary answers over SSH in 41 ms", [], [{ label: "ssh_time", value: 41, uom: "ms", min: 0 }])),
  outcome("carp", result("CRITICAL", "split brain: carp203 vhid 203 MASTER on both hosts", ["carp203: primary MASTER"], [{ label: "split_brain", value: 1, min: 0 }])),
  outcome(
    "drift_pf",
    result(
      "CRITICAL",
      "/etc/pf.conf differs",
      ["--- /etc/pf.conf", "+pass in secret"],
      [
        { label: "paths", value: 4 },
        { label: "differing", value: 1 },
      ],
    ),
  ),
  outcome("ntp", result("UNKNOWN", "no ntpd", [], [{ label: "stratum_primary", value: "U" }])),
  outcome("carp_stats", result("OK", "no bad advertisements", [], [{ label: "badauth_primary", value: 3, uom: "c" }])),
];

function render(outcomes: readonly Outcome[] | undefined, lastSuccess: Record<string, number> = {}): string {
  return renderExposition(buildMetrics({ pair: "fw-berlin", role: "primary", host: "fw1", ...(outcomes ? { outcomes } : {}), finishedAt: AT, durationMs: 2345, lastSuccess }));
}

describe("buildMetrics", () => {
  it("writes each check's status, duration and perfdata, labelled with pair, role, host and check", () => {
    const text = render(OUTCOMES, { peer: 1796000000 });
    const base = 'pair="fw-berlin",role="primary",host="fw1"';
    expect(text).toContain(`carpentry_up{${base}} 1\n`);
    expect(text).toContain(`carpentry_run_timestamp_seconds{${base}} ${AT.getTime() / 1000}\n`);
    expect(text).toContain(`carpentry_run_duration_seconds{${base}} 2.345\n`);
    expect(text).toContain(`carpentry_check_status{${base},check="carp"} 2\n`);
    expect(text).toContain(`carpentry_check_status{${base},check="ntp"} 3\n`);
    expect(text).toContain(`carpentry_check_duration_seconds{${base},check="peer"} 0.12\n`);
    expect(text).toContain(`carpentry_check_last_success_timestamp_seconds{${base},check="peer"} 1796000000\n`);
    expect(text).toContain(`carpentry_perfdata_ssh_time_seconds{${base},check="peer"} 0.041\n`);
    expect(text).toContain(`carpentry_perfdata_split_brain{${base},check="carp"} 1\n`);
    expect(text).toContain(`carpentry_perfdata_differing{${base},check="drift_pf"} 1\n`);
    expect(text).toContain("# TYPE carpentry_perfdata_badauth_primary_total counter\n");
    // "U": no value, so no series
    expect(text).not.toContain("stratum");
  });

  it("carries numbers only: no summary, detail or file name of any check", () => {
    const text = render(OUTCOMES);
    for (const words of ["pf.conf", "secret", "split brain:", "MASTER", "no ntpd"]) expect(text).not.toContain(words);
  });

  it("gives every family one HELP and one TYPE line, before its samples", () => {
    const lines = render(OUTCOMES).trimEnd().split("\n");
    const names = new Set(lines.filter((line) => !line.startsWith("#")).map((line) => line.replace(/[{ ].*$/, "")));
    for (const name of names) {
      const help = lines.findIndex((line) => line.startsWith(`# HELP ${name} `));
      const type = lines.findIndex((line) => line.startsWith(`# TYPE ${name} `));
      const first = lines.findIndex((line) => line.startsWith(`${name}{`));
      expect(
        lines.filter((line) => line.startsWith(`# HELP ${name} `)),
        name,
      ).toHaveLength(1);
      expect(help, name).toBeGreaterThanOrEqual(0);
      expect(type, name).toBe(help + 1);
      expect(first, name).toBe(type + 1);
    }
  });

  it("a failed run: carpentry_up 0 and its time, and no check series that could look fresh", () => {
    const text = render(undefined);
    expect(text).toContain('carpentry_up{pair="fw-berlin",role="primary",host="fw1"} 0\n');
    expect(text).toContain("carpentry_run_timestamp_seconds{");
    expect(text).not.toContain("carpentry_check_");
    expect(text).not.toContain("carpentry_perfdata_");
  });

  it("without a config: the host label alone", () => {
    const text = renderExposition(buildMetrics({ host: "fw1", finishedAt: AT, durationMs: 10, lastSuccess: {} }));
    expect(text).toContain('carpentry_up{host="fw1"} 0\n');
  });
});

describe("the pair label", () => {
  it("is [metrics] pair when set", () => {
    expect(pairName(config('[metrics]\npair = "fw-berlin"\n'), "fw1.example.org")).toBe("fw-berlin");
  });

  it("defaults to <primary>+<secondary> from the host names, the same on both hosts", () => {
    expect(pairName(config(), "fw1.example.org")).toBe("fw1+fw2");
    const onSecondary = parseConfig('role = "secondary"\n[peer]\nhost = "fw1"\n', "t.toml", { all: ALL_CHECKS });
    expect(pairName(onSecondary, "fw2")).toBe("fw1+fw2");
    const byAddress = parseConfig('role = "primary"\n[peer]\nhost = "10.0.0.2"\n', "t.toml", { all: ALL_CHECKS });
    expect(pairName(byAddress, "fw1")).toBe("fw1+10.0.0.2");
  });

  it("is validated: a bounded name, a .prom path", () => {
    expect(() => config('[metrics]\npair = "fw berlin"\n')).toThrow(/metrics\.pair/);
    expect(() => config(`[metrics]\npair = "${"a".repeat(64)}"\n`)).toThrow(/metrics\.pair/);
    expect(() => config('[metrics]\npath = "/var/db/x.txt"\n')).toThrow(/metrics\.path/);
    expect(() => config('[metrics]\nlabels = "x"\n')).toThrow(/unknown key \(allowed here: pair, path, state_dir\)/);
    expect(config().metrics).toEqual({ path: "/var/db/node_exporter/textfile_collector/carpentry.prom", state_dir: "/var/db/carpentry" });
  });
});

describe("updateLastSuccess", () => {
  const now = new Date(2_000_000_000_000);
  it("keeps earlier times, sets this run's OK checks, drops names no check has", () => {
    const previous = { version: 1, checks: { carp: 100, peer: 50, gone: 7 } };
    expect(updateLastSuccess(previous, OUTCOMES, now)).toEqual({ carp: 100, peer: 2_000_000_000, carp_stats: 2_000_000_000 });
  });

  it("starts over from anything that is not its file", () => {
    for (const bad of [undefined, null, "x", { version: 2, checks: {} }, { version: 1, checks: { carp: -1 } }]) {
      expect(updateLastSuccess(bad, OUTCOMES, now)).toEqual({ peer: 2_000_000_000, carp_stats: 2_000_000_000 });
    }
  });
});

describe("writeAtomically", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "carpentry-metrics-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the directory readable by node_exporter, replaces the file, leaves no temporary file", () => {
    const path = join(dir, "textfile", "carpentry.prom");
    writeAtomically(path, "a 1\n");
    writeAtomically(path, "a 2\n");
    expect(readFileSync(path, "utf8")).toBe("a 2\n");
    expect(readdirSync(join(dir, "textfile"))).toEqual(["carpentry.prom"]);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, "textfile")).mode & 0o777).toBe(0o755);
  });

  it("keeps the old file whole when the new one cannot be written", () => {
    const path = join(dir, "carpentry.prom");
    writeFileSync(path, "old 1\n");
    // something already where the temporary file would go: the write fails before the rename
    mkdirSync(`${path}.${process.pid}.tmp`);
    expect(() => writeAtomically(path, "new 1\n")).toThrow(/EEXIST/);
    expect(readFileSync(path, "utf8")).toBe("old 1\n");
  });
});

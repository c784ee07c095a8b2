// carpentry metrics: every check for this host's role, run in-process like `carpentry run` (one peer
// conversation), written as Prometheus metrics for node_exporter's textfile collector, so that many
// pairs can be watched and alerted on from one Prometheus. Only numbers leave the host: statuses,
// durations, times and the checks' perfdata values; never a summary, a detail or a file name.
import { chmodSync, existsSync, mkdirSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { Command } from "commander";
import * as v from "valibot";
import { ALL_CHECKS } from "../checks/index.js";
import { loadConfig, type Config } from "../lib/runtime/config.js";
import { UsageError } from "../lib/runtime/errors.js";
import { loadReading, saveReading } from "../lib/runtime/last-reading.js";
import { perfMetric, renderExposition, type Family, type Sample } from "../lib/runtime/metrics-format.js";
import { EXIT_CODE, worstStatus } from "../lib/runtime/result.js";
import { errorResult, parseTimeoutMs, writeOut, type Outcome } from "../lib/runtime/runner.js";
import { VERSION } from "../lib/runtime/version.js";
import { CHECKS_AT_ONCE, checksForRole, configPathOf, runChecks } from "./run.js";

const DEFAULT_PATH = "/var/db/node_exporter/textfile_collector/carpentry.prom";
const LAST_SUCCESS_FILE = "metrics-last-success.json";

const lastSuccessSchema = v.strictObject({
  version: v.literal(1),
  checks: v.record(v.string(), v.pipe(v.number(), v.minValue(0))),
});

export interface MetricsInput {
  /** undefined when no valid config could be read */
  readonly pair?: string;
  readonly role?: string;
  readonly host: string;
  /** undefined when the run failed before the checks ran */
  readonly outcomes?: readonly Outcome[];
  readonly finishedAt: Date;
  readonly durationMs: number;
  /** check name -> Unix time of its last OK, this run included */
  readonly lastSuccess: Readonly<Record<string, number>>;
}

function shortName(host: string): string {
  return host.split(".")[0] || host;
}

/** The pair label: [metrics] pair, else "<primary>+<secondary>" from this host's name and [peer] host. */
export function pairName(config: Config, localHost: string): string {
  if (config.metrics.pair !== undefined) return config.metrics.pair;
  const local = shortName(localHost);
  const peer = /^[0-9.:[\]]+$/.test(config.peer.host) ? config.peer.host : shortName(config.peer.host);
  return config.role === "primary" ? `${local}+${peer}` : `${peer}+${local}`;
}

/** The families of one run. A failed run (no outcomes) has carpentry_up 0 and no check series, so nothing stale looks fresh. */
export function buildMetrics(input: MetricsInput): Family[] {
  const base: Record<string, string> = { ...(input.pair !== undefined ? { pair: input.pair } : {}), ...(input.role !== undefined ? { role: input.role } : {}), host: input.host };
  const runSample = (value: number): Sample[] => [{ labels: base, value }];
  const families: Family[] = [
    { name: "carpentry_up", help: "1 when this run of carpentry metrics ran the checks, 0 when it could not (bad config, internal error)", type: "gauge", samples: runSample(input.outcomes ? 1 : 0) },
    { name: "carpentry_run_timestamp_seconds", help: "Unix time at which this file was written", type: "gauge", samples: runSample(input.finishedAt.getTime() / 1000) },
    { name: "carpentry_run_duration_seconds", help: "how long the whole run took", type: "gauge", samples: runSample(Math.round(input.durationMs) / 1000) },
    { name: "carpentry_build_info", help: "the carpentry-checks version that wrote this file", type: "gauge", samples: [{ labels: { ...base, version: VERSION }, value: 1 }] },
  ];
  if (!input.outcomes) return families;
  const status: Sample[] = [];
  const duration: Sample[] = [];
  const success: Sample[] = [];
  const perf: Family[] = [];
  for (const outcome of input.outcomes) {
    const labels = { ...base, check: outcome.check };
    status.push({ labels, value: EXIT_CODE[outcome.result.status] });
    duration.push({ labels, value: Math.round(outcome.durationMs) / 1000 });
    const last = input.lastSuccess[outcome.check];
    if (last !== undefined) success.push({ labels, value: last });
    for (const datum of outcome.result.perfdata) {
      const metric = perfMetric("carpentry_perfdata", datum);
      if (!metric) continue;
      perf.push({
        name: metric.name,
        help: `the checks' perfdata value "${datum.label}"${metric.unit === "" ? "" : ` (${metric.unit})`}, as the check prints it after "|"`,
        type: metric.type,
        samples: [{ labels, value: metric.value }],
      });
    }
  }
  families.push(
    { name: "carpentry_check_status", help: "the check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit code)", type: "gauge", samples: status },
    { name: "carpentry_check_duration_seconds", help: "how long the check took", type: "gauge", samples: duration },
    { name: "carpentry_check_last_success_timestamp_seconds", help: "Unix time of the check's last OK, kept across runs", type: "gauge", samples: success },
    ...perf.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  );
  return families;
}

/** The last-OK times kept in the state directory, this run's OKs added; unknown check names dropped so the file stays bounded. */
export function updateLastSuccess(previous: unknown, outcomes: readonly Outcome[], now: Date): Record<string, number> {
  const parsed = v.safeParse(lastSuccessSchema, previous);
  const known = new Set(ALL_CHECKS.map((check) => check.name));
  const kept: Record<string, number> = {};
  if (parsed.success) for (const [name, at] of Object.entries(parsed.output.checks)) if (known.has(name)) kept[name] = at;
  for (const outcome of outcomes) if (outcome.result.status === "OK") kept[outcome.check] = Math.floor(now.getTime() / 1000);
  return kept;
}

/**
 * Replaces the file in one rename, from a temporary file in the same directory (a rename across file
 * systems would not be atomic): node_exporter never reads half a file, and reads only *.prom, so the
 * temporary one is never scraped. The directory is created 0755 when missing, so that node_exporter's
 * own user can read it.
 */
export function writeAtomically(path: string, text: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const temporary = `${path}.${process.pid}.tmp`;
  // A run killed between write and rename may have left one of this pid; created anew with O_EXCL, it
  // never follows a link planted in its place.
  try {
    unlinkSync(temporary);
  } catch {
    // None there, as usual.
  }
  try {
    writeFileSync(temporary, text, { mode: 0o644, flag: "wx" });
    chmodSync(temporary, 0o644);
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never written: nothing to clean up.
    }
    throw error;
  }
}

interface MetricsOptions {
  output?: string;
  quiet?: boolean;
  timeout?: string;
  parallel?: string;
}

export function registerMetricsCommand(program: Command): void {
  program
    .command("metrics")
    .description("every check for this host's role, written as Prometheus metrics for node_exporter's textfile collector")
    .option("-o, --output <path>", `the .prom file ([metrics] path, default ${DEFAULT_PATH}); - for standard output`)
    .option("-q, --quiet", "print nothing when the file was written for a run of the checks (for cron, which mails what a job prints)")
    .option("-t, --timeout <seconds>", "deadline for each check", "10")
    .option("-j, --parallel <n>", "checks at once", String(CHECKS_AT_ONCE))
    .addHelpText(
      "after",
      [
        "",
        "Point node_exporter at the file's directory: --collector.textfile.directory=/var/db/node_exporter/textfile_collector",
        "The file is replaced in one rename. A run that cannot run the checks still writes one, with",
        "carpentry_up 0 and no check series; carpentry_run_timestamp_seconds tells how fresh it is.",
        "Exit code: 0 when the file was written for a run of the checks, 3 (UNKNOWN) otherwise; the",
        "checks' own statuses are in the file, for Prometheus' alert rules.",
        "",
        "crontab:  */5 * * * * /etc/carpentry.monit/carpentry metrics -q",
      ].join("\n"),
    )
    .action(async (options: MetricsOptions) => {
      const configPath = configPathOf(program);
      const timeoutMs = parseTimeoutMs(options.timeout);
      const parallel = Number(options.parallel);
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) throw new UsageError(`bad --parallel ${options.parallel}`, "expected 1 to 32");
      const started = performance.now();
      const host = shortName(hostname());
      let config: Config | undefined;
      let failure: string | undefined;
      let outcomes: Outcome[] | undefined;
      let lastSuccess: Record<string, number> = {};
      try {
        config = loadConfig(configPath, { all: ALL_CHECKS });
        outcomes = await runChecks(checksForRole(config), { configPath, config, timeoutMs, verbose: false }, parallel);
        const loaded = loadReading(config.metrics.state_dir, LAST_SUCCESS_FILE);
        lastSuccess = updateLastSuccess("value" in loaded ? loaded.value : undefined, outcomes, new Date());
        // A state directory that cannot be written costs only the last-success times of later runs.
        saveReading(config.metrics.state_dir, LAST_SUCCESS_FILE, { version: 1, checks: lastSuccess });
      } catch (error) {
        const res = errorResult(error);
        failure = [res.summary, ...res.details].join(": ");
        outcomes = undefined;
      }
      const text = renderExposition(
        buildMetrics({
          ...(config ? { pair: pairName(config, hostname()), role: config.role } : {}),
          host,
          ...(outcomes ? { outcomes } : {}),
          finishedAt: new Date(),
          durationMs: performance.now() - started,
          lastSuccess,
        }),
      );
      const path = options.output ?? config?.metrics.path ?? DEFAULT_PATH;
      if (path === "-") {
        writeOut(text);
        // Standard output is the metrics: why the run failed goes to standard error.
        if (failure) writeSync(2, `UNKNOWN: ${failure}\n`);
        process.exit(failure ? EXIT_CODE.UNKNOWN : EXIT_CODE.OK);
      }
      try {
        writeAtomically(path, text);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        writeOut(`UNKNOWN: cannot write ${path}: ${code}${failure ? `\n${failure}` : ""}\n`);
        process.exit(EXIT_CODE.UNKNOWN);
      }
      if (failure || !outcomes) {
        writeOut(`UNKNOWN: wrote carpentry_up 0 to ${path}\n${failure ?? ""}\n`);
        process.exit(EXIT_CODE.UNKNOWN);
      }
      const worst = worstStatus(outcomes.map((o) => o.result.status));
      if (!options.quiet) writeOut(`OK: metrics of ${outcomes.length} checks written (worst ${worst})\n${path}\n`);
      process.exit(EXIT_CODE.OK);
    });
}

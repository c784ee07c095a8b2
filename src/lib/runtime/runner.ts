// Runs one check with its deadline and turns every failure into UNKNOWN. Used by the standalone
// executables and by the CLI alike, so a check behaves the same whichever way it is started.
import { hostname } from "node:os";
import { writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { otherRole, type CheckContext, type CheckDefinition } from "./check.js";
import { loadConfig, resolveConfigPath, type Config } from "./config.js";
import { Deadline } from "./deadline.js";
import { CarpentryError, UsageError } from "./errors.js";
import type { PeerBatcher } from "../facts/protocol.js";
import { LocalHost, SshHost, type Host } from "../transport/host.js";
import { ProcessScope } from "../transport/process.js";
import { appendHistory, historyLine } from "./history.js";
import { EXIT_CODE, formatText, result, toJson, type Result } from "./result.js";
import { defaultControlDir } from "../transport/ssh.js";
import { parseRange, type Range } from "./thresholds.js";
import { VERSION } from "./version.js";
import { judgeMaintenance, unreachablePeerResult } from "./maintenance.js";

const DEFAULT_TIMEOUT_SECONDS = 10;

export interface Invocation {
  readonly configPath: string;
  readonly timeoutMs: number;
  readonly verbose: boolean;
  readonly warning?: Range;
  readonly critical?: Range;
  readonly extra?: Readonly<Record<string, string | undefined>>;
  /** A config already loaded (the CLI loads it once for all checks). */
  readonly config?: Config;
  /** Checks run together share peer processes through it (carpentry run); a check alone has none. */
  readonly batcher?: PeerBatcher;
  /** Append this run to the host's history, for the daily report (monit's runs, carpentry run and report). */
  readonly keepHistory?: boolean;
}

export interface Outcome {
  readonly check: string;
  readonly result: Result;
  readonly durationMs: number;
  readonly host: string;
}

export function errorResult(error: unknown): Result {
  if (error instanceof CarpentryError) return result("UNKNOWN", error.summary, error.detail ? [error.detail] : []);
  const message = error instanceof Error ? error.message : String(error);
  return result("UNKNOWN", `internal error: ${message.split("\n")[0] ?? ""}`, ["this is a bug in carpentry-checks; please report it with the output of -v"]);
}

function createContext(config: Config, invocation: Invocation, scope: ProcessScope, deadline: Deadline): CheckContext {
  const role = config.role;
  const peerRole = otherRole(role);
  const local = new LocalHost(role, scope, deadline);
  const multiplexing =
    config.peer.control_persist > 0 ? { controlDir: config.peer.control_dir ?? defaultControlDir(), persistSeconds: config.peer.control_persist, maxSessions: config.peer.max_sessions } : undefined;
  const peer = new SshHost({ role: peerRole, peer: config.peer, scope, deadline, multiplexing, batcher: invocation.batcher });
  const pick = (wanted: string): Host => (wanted === role ? local : peer);
  return {
    config,
    configPath: invocation.configPath,
    role,
    peerRole,
    local,
    peer,
    freshPeer: () => new SshHost({ role: peerRole, peer: config.peer, scope, deadline, multiplexing: undefined }),
    primary: pick("primary"),
    secondary: pick("secondary"),
    verbose: invocation.verbose,
    warning: invocation.warning,
    critical: invocation.critical,
    extra: invocation.extra ?? {},
    scope,
    deadline,
  };
}

export async function executeCheck(def: CheckDefinition, invocation: Invocation): Promise<Outcome> {
  const started = performance.now();
  const deadline = new Deadline(invocation.timeoutMs);
  const scope = new ProcessScope(deadline.signal);
  const finish = (res: Result): Outcome => ({ check: def.name, result: res, durationMs: performance.now() - started, host: hostname() });
  const expired = new Promise<Result>((resolve) => {
    deadline.signal.addEventListener(
      "abort",
      () => {
        if (!deadline.expired) return;
        const waiting = scope.waitingFor();
        const what = waiting[0] ?? "the check to finish";
        resolve(
          result(
            "UNKNOWN",
            `timed out after ${invocation.timeoutMs / 1000}s waiting for ${what}`,
            waiting.slice(1).map((w) => `also waiting for ${w}`),
          ),
        );
      },
      { once: true },
    );
  });
  let loaded: Config | undefined;
  const work = (async (): Promise<Result> => {
    const config = invocation.config ?? loadConfig(invocation.configPath, { only: def });
    loaded = config;
    if (!def.roles.includes(config.role)) {
      return result("UNKNOWN", `check_${def.name} does not apply to the ${config.role}`, [`it runs on: ${def.roles.join(", ")}; see carpentry list`]);
    }
    const ctx = createContext(config, invocation, scope, deadline);
    const res = await def.run(ctx).catch((error: unknown) => unreachablePeerResult(error, ctx));
    return res.excusable ? await judgeMaintenance(res, ctx) : res;
  })().catch(errorResult);
  try {
    const outcome = finish(await Promise.race([work, expired]));
    // A history that cannot be written costs the report its look back, never this check its verdict.
    if (invocation.keepHistory && loaded) appendHistory(loaded.report.history_dir, [historyLine(def.name, outcome.result.status, outcome.result.perfdata, new Date())]);
    return outcome;
  } finally {
    deadline.end();
  }
}

/**
 * Work that is no check but reads both hosts as checks do (carpentry consolidate): a context with
 * one deadline for all of it; every process it started ends with it.
 */
export async function withCheckContext<T>(config: Config, invocation: Invocation, work: (ctx: CheckContext) => Promise<T>): Promise<T> {
  const deadline = new Deadline(invocation.timeoutMs);
  const scope = new ProcessScope(deadline.signal);
  try {
    return await work(createContext(config, invocation, scope, deadline));
  } finally {
    deadline.end();
  }
}

// ---- the standalone executable: argument parsing, --help, printing, exit code ----

export function parseTimeoutMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`bad timeout '${text.slice(0, 20)}'`, "expected seconds, above 0 and at most 3600");
  return Math.round(seconds * 1000);
}

export function helpText(def: CheckDefinition): string {
  const options = [
    "  --config PATH        config file (default $CARPENTRY_CONFIG or /etc/carpentry.monit/carpentry.toml)",
    "  -t, --timeout SECS   deadline for the whole check, default 10; on expiry: UNKNOWN",
    "  -v, --verbose        print every detail (default: at most 500 bytes, for monit)",
    "  --json               print one JSON object",
    "  -h, --help           this text",
    "  -V, --version        the version",
  ];
  if (def.thresholds) {
    options.push("  -w, --warning RANGE  WARNING threshold (Nagios range: 10, 10:, ~:10, 10:20, @10:20; numbers of at most 15 digits)");
    options.push("  -c, --critical RANGE CRITICAL threshold");
  }
  for (const option of def.options ?? []) {
    const flag = `${option.short ? `-${option.short}, ` : ""}--${option.name}${option.valueName ? ` ${option.valueName}` : ""}`;
    options.push(`  ${flag.padEnd(20)} ${option.description}`);
  }
  return [
    `check_${def.name} ${VERSION}: ${def.title}`,
    "",
    `Runs on: ${def.roles.join(" and ")}${def.usesPeer ? " (asks the peer over ssh)" : ""}`,
    "",
    "Reads:",
    ...def.reads.map((line) => `  ${line}`),
    ...(def.thresholds ? ["", `Thresholds: ${def.thresholds}`] : []),
    "",
    "States:",
    `  OK        ${def.states.OK}`,
    `  WARNING   ${def.states.WARNING}`,
    `  CRITICAL  ${def.states.CRITICAL}`,
    `  UNKNOWN   ${def.states.UNKNOWN}`,
    ...(def.table ? ["", `${def.table.heading}:`, ...def.table.rows.flatMap(([when, status, why]) => [`  ${when}`, `    ${status}: ${why}`])] : []),
    "",
    "Options:",
    ...options,
    "",
    "Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for --help and --version).",
    "",
  ].join("\n");
}

export interface ParsedCheckArgs {
  readonly help: boolean;
  readonly version: boolean;
  readonly json: boolean;
  readonly invocation: Invocation;
}

function parseCheckArgs(def: CheckDefinition, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCheckArgs {
  const extraOptions: Record<string, { type: "string"; short?: string }> = {};
  for (const option of def.options ?? []) extraOptions[option.name] = { type: "string", ...(option.short ? { short: option.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        config: { type: "string" },
        json: { type: "boolean" },
        verbose: { type: "boolean", short: "v", multiple: true },
        timeout: { type: "string", short: "t" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
        ...(def.thresholds ? { warning: { type: "string", short: "w" }, critical: { type: "string", short: "c" } } : {}),
        ...extraOptions,
      },
    });
  } catch (error) {
    throw new UsageError(`bad arguments: ${(error as Error).message.split("\n")[0]?.slice(0, 50)}`, `${(error as Error).message}. See --help.`);
  }
  const values = parsed.values as Record<string, string | boolean | boolean[] | undefined>;
  const text = (name: string): string | undefined => (typeof values[name] === "string" ? values[name] : undefined);
  const extra: Record<string, string | undefined> = {};
  for (const option of def.options ?? []) extra[option.name] = text(option.name);
  const warningText = text("warning");
  const criticalText = text("critical");
  return {
    help: values["help"] === true,
    version: values["version"] === true,
    json: values["json"] === true,
    invocation: {
      configPath: resolveConfigPath(text("config"), env),
      timeoutMs: parseTimeoutMs(text("timeout")),
      verbose: Array.isArray(values["verbose"]) && values["verbose"].length > 0,
      ...(warningText !== undefined ? { warning: parseRange(warningText, "warning") } : {}),
      ...(criticalText !== undefined ? { critical: parseRange(criticalText, "critical") } : {}),
      extra,
    },
  };
}

/** Writes all of it before exit: process.stdout may be async on pipes, and monit reads a pipe. */
export function writeOut(text: string): void {
  const buffer = Buffer.from(text);
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(1, buffer, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
      return; // EPIPE: nobody is reading any more.
    }
  }
}

export function renderOutcome(outcome: Outcome, json: boolean, verbose: boolean): string {
  if (json) return JSON.stringify(toJson(outcome.result, { check: outcome.check, host: outcome.host, durationMs: outcome.durationMs })) + "\n";
  return formatText(outcome.result, verbose);
}

/** An uncaught error or unhandled rejection must exit 3 (UNKNOWN), never node's 1 (WARNING). */
export function installCrashHandlers(name: string): void {
  const crash = (error: unknown): void => {
    const res = errorResult(error);
    writeOut(formatText({ ...res, summary: `${name}: ${res.summary}` }, false));
    process.exit(EXIT_CODE.UNKNOWN);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
}

/** What a check prints and the exit code it gives, run as its own executable with these arguments. */
export interface StandaloneAnswer {
  readonly text: string;
  readonly code: number;
}

/**
 * Runs a check as its executable does, from its argv, and returns what it would print and its exit
 * code: the executable prints and exits with it; the cycle server sends both back to the check's
 * header. Checks that share one process may share one peer process too (batcher); alone, none.
 */
export async function answerStandalone(def: CheckDefinition, argv: readonly string[], env: NodeJS.ProcessEnv = process.env, batcher?: PeerBatcher, keepHistory = false): Promise<StandaloneAnswer> {
  let json = argv.includes("--json");
  let verbose = false;
  let outcome: Outcome;
  try {
    const args = parseCheckArgs(def, argv, env);
    json = args.json;
    verbose = args.invocation.verbose;
    if (args.help) return { text: helpText(def), code: EXIT_CODE.UNKNOWN };
    if (args.version) return { text: `check_${def.name} ${VERSION}\n`, code: EXIT_CODE.UNKNOWN };
    outcome = await executeCheck(def, { ...args.invocation, keepHistory, ...(batcher ? { batcher } : {}) });
  } catch (error) {
    outcome = { check: def.name, result: errorResult(error), durationMs: 0, host: hostname() };
  }
  return { text: renderOutcome(outcome, json, verbose), code: EXIT_CODE[outcome.result.status] };
}

/** @public the entry of each check executable (build-executables.mjs) calls it */
export async function runStandalone(def: CheckDefinition, argv: readonly string[] = process.argv.slice(2)): Promise<never> {
  installCrashHandlers(`check_${def.name}`);
  const answer = await answerStandalone(def, argv, process.env, undefined, true);
  writeOut(answer.text);
  process.exit(answer.code);
}

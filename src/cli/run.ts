// carpentry list / check / run: the checks in-process, in parallel (p-limit), sharing one multiplexed
// SSH connection, with the worst status as the exit code.
import type { Command } from "commander";
import pLimit from "p-limit";
import { ALL_CHECKS, findCheck } from "../checks/index.js";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { loadConfig, resolveConfigPath, type Config } from "../lib/runtime/config.js";
import { CarpentryError, UsageError } from "../lib/runtime/errors.js";
import { EXIT_CODE, escapeControl, firstLine, formatText, toJson, truncate, worstStatus, type Status } from "../lib/runtime/result.js";
import { errorResult, executeCheck, parseTimeoutMs, renderOutcome, writeOut, type Invocation, type Outcome } from "../lib/runtime/runner.js";
import { PeerBatcher } from "../lib/facts/protocol.js";
import { parseRange } from "../lib/runtime/thresholds.js";

/** Checks started together ask within milliseconds of each other. */
const PEER_BATCH_TIMING = { quietMs: 25, maxWaitMs: 100, sessionsAtOnce: 3 };
/**
 * All checks of a role at once: they spend most of their time waiting for the peer, and started
 * together their peer requests share one peer process (measured: 16 at once is twice as fast as 4).
 */
export const CHECKS_AT_ONCE = 16;

export interface RunOptions {
  json?: boolean;
  verbose?: boolean;
  timeout?: string;
  warning?: string;
  critical?: string;
  set?: string;
  parallel?: string;
}

export function configPathOf(program: Command): string {
  return resolveConfigPath(program.opts<{ config?: string }>().config);
}

/** The checks that apply to this host's role, in registry order. */
export function checksForRole(config: Config): CheckDefinition[] {
  return ALL_CHECKS.filter((check) => check.roles.includes(config.role));
}

export async function runChecks(checks: readonly CheckDefinition[], base: Invocation, parallel: number): Promise<Outcome[]> {
  // Checks that start together ask the peer together: one peer process answers them all.
  const invocation = checks.length > 1 ? { ...base, batcher: new PeerBatcher(PEER_BATCH_TIMING) } : base;
  const limit = pLimit(parallel);
  return Promise.all(checks.map((check) => limit(() => executeCheck(check, invocation))));
}

function invocationFrom(configPath: string, options: RunOptions, config: Config): Invocation {
  return {
    configPath,
    config,
    timeoutMs: parseTimeoutMs(options.timeout),
    verbose: options.verbose === true,
    keepHistory: true,
    ...(options.warning !== undefined ? { warning: parseRange(options.warning, "warning") } : {}),
    ...(options.critical !== undefined ? { critical: parseRange(options.critical, "critical") } : {}),
    extra: { set: options.set },
  };
}

const COLOURS: Readonly<Record<Status, string>> = { OK: "\x1b[32m", WARNING: "\x1b[33m", CRITICAL: "\x1b[31m", UNKNOWN: "\x1b[35m" };

export function renderRunTable(outcomes: readonly Outcome[], tty: boolean, verbose: boolean): string {
  if (!tty) {
    return outcomes.map((o) => `check_${o.check} ${firstLine(o.result)}\n${verbose ? o.result.details.map((d) => `  ${escapeControl(d)}\n`).join("") : ""}`).join("");
  }
  const width = process.stdout.columns || 100;
  const nameWidth = Math.max(...outcomes.map((o) => o.check.length + 6), 5);
  const lines = outcomes.map((o) => {
    const status = `${COLOURS[o.result.status]}${o.result.status.padEnd(8)}\x1b[0m`;
    const summary = truncate(escapeControl(o.result.summary), Math.max(20, width - nameWidth - 12));
    const details = verbose ? o.result.details.map((d) => `${" ".repeat(nameWidth + 10)}${escapeControl(d)}\n`).join("") : "";
    return `${`check_${o.check}`.padEnd(nameWidth)}  ${status}  ${summary}\n${details}`;
  });
  return `${"CHECK".padEnd(nameWidth)}  STATUS    SUMMARY\n${lines.join("")}`;
}

export function loadOrReport(configPath: string, json: boolean): Config {
  try {
    return loadConfig(configPath, { all: ALL_CHECKS });
  } catch (error) {
    const res = errorResult(error);
    writeOut(json ? JSON.stringify({ status: "UNKNOWN", code: 3, summary: res.summary, details: res.details, checks: [] }) + "\n" : formatText(res, true));
    process.exit(EXIT_CODE.UNKNOWN);
  }
}

export function registerCheckCommands(program: Command): void {
  program
    .command("list")
    .description("the checks, what each watches, and whether it applies to this host's role")
    .option("--json", "one JSON array")
    .action((options: { json?: boolean }) => {
      let role: string | undefined;
      try {
        role = loadConfig(configPathOf(program), { all: ALL_CHECKS }).role;
      } catch (error) {
        if (!(error instanceof CarpentryError)) throw error;
      }
      if (options.json) {
        writeOut(
          JSON.stringify(ALL_CHECKS.map((c) => ({ name: `check_${c.name}`, title: c.title, roles: c.roles, usesPeer: c.usesPeer, applies: role ? c.roles.includes(role as Config["role"]) : null }))) +
            "\n",
        );
        return;
      }
      const width = Math.max(...ALL_CHECKS.map((c) => c.name.length + 6));
      const rows = ALL_CHECKS.map((c) => {
        const applies = role === undefined ? "" : c.roles.includes(role as Config["role"]) ? "yes" : "no";
        return `${`check_${c.name}`.padEnd(width)}  ${c.roles.join("+").padEnd(17)}  ${applies.padEnd(7)}  ${c.title}`;
      });
      const header = `${"CHECK".padEnd(width)}  ${"RUNS ON".padEnd(17)}  ${(role ? `ON ${role.slice(0, 3).toUpperCase()}` : "").padEnd(7)}  WATCHES`;
      writeOut([header, ...rows].join("\n") + "\n" + (role === undefined ? "(no valid config: cannot say which apply to this host)\n" : ""));
    });

  const checkCommand = program
    .command("check")
    .description("run checks by name, as the executables do (exit code: the worst status)")
    .argument("<name...>", "check names, with or without the check_ prefix")
    .option("--json", "one JSON object per check, one per line")
    .option("-v, --verbose", "every detail")
    .option("-t, --timeout <seconds>", "deadline for each check", "10")
    .option("-w, --warning <range>", "WARNING threshold, for checks that have one")
    .option("-c, --critical <range>", "CRITICAL threshold, for checks that have one")
    .option("--set <name>", "the [drift.NAME] set, for check_drift");
  checkCommand.action(async (names: string[], options: RunOptions) => {
    const configPath = configPathOf(program);
    const checks = names.map((name) => {
      const found = findCheck(name);
      if (!found) throw new UsageError(`no check named ${name}`, `known: ${ALL_CHECKS.map((c) => c.name).join(", ")}`);
      return found;
    });
    const config = loadOrReport(configPath, options.json === true);
    const outcomes = await runChecks(checks, invocationFrom(configPath, options, config), CHECKS_AT_ONCE);
    writeOut(outcomes.map((o) => renderOutcome(o, options.json === true, options.verbose === true)).join(""));
    process.exit(EXIT_CODE[worstStatus(outcomes.map((o) => o.result.status))]);
  });

  program
    .command("run")
    .description("every check for this host's role, in parallel; a table on a terminal; exit code: the worst status")
    .option("--json", "one JSON object with every check")
    .option("-v, --verbose", "every detail")
    .option("-t, --timeout <seconds>", "deadline for each check", "10")
    .option("-j, --parallel <n>", "checks at once", String(CHECKS_AT_ONCE))
    .action(async (options: RunOptions) => {
      const configPath = configPathOf(program);
      const config = loadOrReport(configPath, options.json === true);
      const parallel = Number(options.parallel);
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) throw new UsageError(`bad --parallel ${options.parallel}`, "expected 1 to 32");
      const outcomes = await runChecks(checksForRole(config), invocationFrom(configPath, options, config), parallel);
      const worst = worstStatus(outcomes.map((o) => o.result.status));
      if (options.json) {
        writeOut(
          JSON.stringify({ status: worst, code: EXIT_CODE[worst], role: config.role, checks: outcomes.map((o) => toJson(o.result, { check: o.check, host: o.host, durationMs: o.durationMs })) }) +
            "\n",
        );
      } else {
        writeOut(renderRunTable(outcomes, process.stdout.isTTY === true, options.verbose === true));
      }
      process.exit(EXIT_CODE[worst]);
    });
}

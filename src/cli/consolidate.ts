// carpentry consolidate: after a long primary outage, what was changed on the secondary and must be
// brought back before the next primary-to-secondary sync overwrites it. Read-only: it compares every
// drift set between the hosts as check_drift does (hashes first, secrets masked on the host they come
// from), says for each differing path which host changed it last, and prints the commands that copy
// the secondary's newer files back. It never runs them.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { BUILTIN_DRIFT_SETS, describeDifference, localSet, resolveDriftSet, userDriftSets } from "../checks/drift.js";
import { changedLast, copyBackCommands, octal, isSynced, parseSyncedPaths, timeBasis, type ChangedLast, type CopySource } from "../lib/compare/consolidate.js";
import { compareFileSets, type FileDifference, type ManifestEntry, type SetComparison } from "../lib/compare/files.js";
import { SYNC_CONFIG_PATH } from "../lib/compare/tables/selection.js";
import type { Config, DriftSetConfig } from "../lib/runtime/config.js";
import { EXIT_CODE, escapeControl } from "../lib/runtime/result.js";
import { errorResult, parseTimeoutMs, withCheckContext, writeOut } from "../lib/runtime/runner.js";
import { formatLocalTime } from "./report.js";
import { configPathOf, loadOrReport } from "./run.js";

/** One host's side of a differing path. */
export interface PathSide {
  readonly type: ManifestEntry["type"];
  readonly size: number;
  readonly mode: string;
  readonly owner: string;
  readonly mtime?: string;
  readonly ctime?: string;
}

export interface ConsolidationItem {
  readonly set: string;
  readonly path: string;
  /** What differs, in check_drift's words. */
  readonly differs: string;
  readonly changedLast: ChangedLast;
  /** Which time told it: mtime, or ctime for a mode or owner change. */
  readonly basis: "mtime" | "ctime";
  readonly primary?: PathSide;
  readonly secondary?: PathSide;
  /** The unified diff, secrets masked; empty when none can be shown (a secret file: only "differs"). */
  readonly diff: readonly string[];
  /** Whether the next primary-to-secondary sync copies the primary's version over the secondary's. */
  readonly syncOverwrites: boolean;
  /** For a path changed last on the secondary: the commands that copy it back; null when by hand only. */
  readonly copyBack: readonly string[] | null;
}

export interface Consolidation {
  readonly sets: readonly string[];
  readonly items: readonly ConsolidationItem[];
  /** Paths that could not be read on a host: the comparison cannot vouch for them. */
  readonly unreadable: readonly string[];
  /** What the sync copies, as read from its config; null when the sync is not installed here. */
  readonly sync: { readonly config: string; readonly paths: readonly string[] } | null;
}

function side(entry: ManifestEntry | undefined): PathSide | undefined {
  if (!entry) return undefined;
  return {
    type: entry.type,
    size: entry.size,
    mode: octal(entry.mode),
    owner: `${entry.uid}:${entry.gid}`,
    ...(entry.mtimeMs !== undefined ? { mtime: new Date(entry.mtimeMs).toISOString() } : {}),
    ...(entry.ctimeMs !== undefined ? { ctime: new Date(entry.ctimeMs).toISOString() } : {}),
  };
}

const LABELS = { local: "primary", peer: "secondary" } as const;

/** Pure: the comparisons of every set (run on the primary) -> what to consolidate. */
export function planConsolidation(comparisons: readonly SetComparison[], syncedPaths: readonly string[] | null, source: CopySource, syncConfig = SYNC_CONFIG_PATH): Consolidation {
  const items: ConsolidationItem[] = [];
  const unreadable: string[] = [];
  for (const comparison of comparisons) {
    unreadable.push(...comparison.unreadableHere.map((path) => `primary: ${path}`), ...comparison.unreadableOnPeer.map((path) => `secondary: ${path}`));
    for (const difference of comparison.differences) items.push(itemOf(comparison.name, difference, syncedPaths, source));
  }
  return { sets: comparisons.map((comparison) => comparison.name), items, unreadable, sync: syncedPaths === null ? null : { config: syncConfig, paths: syncedPaths } };
}

function itemOf(set: string, difference: FileDifference, syncedPaths: readonly string[] | null, source: CopySource): ConsolidationItem {
  const last = changedLast(difference, LABELS);
  const primary = side(difference.local);
  const secondary = side(difference.peer);
  // scp copies what the primary has; a path only on the secondary is left alone.
  const syncOverwrites = syncedPaths !== null && difference.local !== undefined && isSynced(difference.path, syncedPaths);
  const commands = last === "secondary" ? copyBackCommands(difference, source) : [];
  return {
    set,
    path: difference.path,
    differs: describeDifference(difference, LABELS).detail.slice(difference.path.length + 2),
    changedLast: last,
    basis: timeBasis(difference),
    ...(primary ? { primary } : {}),
    ...(secondary ? { secondary } : {}),
    diff: difference.content?.kind === "diff" ? difference.content.lines : [],
    syncOverwrites,
    copyBack: commands === undefined ? null : commands,
  };
}

/** The files changed last on the secondary, and which of them the next sync would overwrite. */
export function newerOnSecondary(plan: Consolidation): { newer: readonly ConsolidationItem[]; overwritten: readonly ConsolidationItem[] } {
  const newer = plan.items.filter((item) => item.changedLast === "secondary");
  return { newer, overwritten: newer.filter((item) => item.syncOverwrites) };
}

const when = (iso: string | undefined): string => (iso === undefined ? "unknown" : formatLocalTime(new Date(iso)));

const LAST_WORDS: Readonly<Record<ChangedLast, string>> = {
  primary: "changed last on the primary",
  secondary: "changed last on the secondary",
  "same time": "changed at the same time on both (within a second)",
  unknown: "unknown which host changed it last (a host gave no times: another carpentry version?)",
};

function renderConsolidation(plan: Consolidation): string {
  const { newer, overwritten } = newerOnSecondary(plan);
  const lines: string[] = [];
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  lines.push(`${count(plan.items.length, "path")} differ${plan.items.length === 1 ? "s" : ""} between the primary and the secondary (sets: ${plan.sets.join(", ")})`);
  if (plan.items.length === 0 && plan.unreadable.length === 0) return `${lines.join("\n")}\nnothing to consolidate\n`;
  lines.push(
    newer.length === 0 ? "newer on the secondary: none" : `newer on the secondary: ${count(newer.length, "path")}: ${newer.map((item) => escapeControl(item.path)).join(", ")}`,
    plan.sync === null
      ? `the next sync overwrites: nothing (carpentry's sync is not installed here: no ${SYNC_CONFIG_PATH})`
      : `the next sync would overwrite ${overwritten.length} of them${overwritten.length > 0 ? `: ${overwritten.map((item) => escapeControl(item.path)).join(", ")}` : ""} (it copies ${plan.sync.paths.join(" ")})`,
  );
  const undecided = plan.items.filter((item) => item.changedLast === "same time" || item.changedLast === "unknown");
  if (undecided.length > 0) lines.push(`not known which host changed it last: ${undecided.map((item) => escapeControl(item.path)).join(", ")} (read their diffs)`);
  for (const path of plan.unreadable) lines.push(`cannot read ${escapeControl(path)}: not compared`);
  for (const item of plan.items) {
    lines.push("", `== ${item.set}: ${escapeControl(item.path)}`, `  ${escapeControl(item.differs)}`);
    const times = item.basis === "ctime" ? "inode changed (ctime)" : "modified (mtime)";
    lines.push(
      `  ${LAST_WORDS[item.changedLast]}; ${times}: primary ${when(item.basis === "ctime" ? item.primary?.ctime : item.primary?.mtime)}, secondary ${when(item.basis === "ctime" ? item.secondary?.ctime : item.secondary?.mtime)}`,
    );
    const size = (s: PathSide | undefined): string => (s ? `${s.type} ${s.size} bytes, mode ${s.mode}, owner ${s.owner}` : "missing");
    lines.push(`  primary: ${size(item.primary)}; secondary: ${size(item.secondary)}`);
    if (item.syncOverwrites) lines.push("  the next sync copies the primary's version over the secondary's");
    lines.push(...item.diff.map((line) => `  ${escapeControl(line)}`));
  }
  lines.push("");
  if (newer.length === 0) {
    lines.push("Nothing to copy back: no path was changed last on the secondary.");
  } else {
    lines.push("To copy the secondary's newer versions back, run on the primary (read each diff first; nothing here was run):");
    for (const item of newer) {
      if (item.copyBack === null) lines.push(`  # ${escapeControl(item.path)}: a name that is not UTF-8, a special file, or a file on one host and a directory on the other: by hand`);
      else lines.push(...item.copyBack.map((command) => `  ${command}`));
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The sync config on this host: what it copies, or null when the sync is not installed. */
function readSyncedPaths(path = SYNC_CONFIG_PATH): readonly string[] | null {
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    return null;
  }
  return parseSyncedPaths(text.slice(0, 256 * 1024));
}

function allSets(config: Config): string[] {
  const builtin = Object.keys(BUILTIN_DRIFT_SETS);
  return [...builtin, ...userDriftSets(config)];
}

interface ConsolidateOptions {
  json?: boolean;
  timeout?: string;
}

export function registerConsolidateCommand(program: Command): void {
  program
    .command("consolidate")
    .description("on the primary, after an outage: the paths changed last on the secondary, and the commands to copy them back (printed, never run)")
    .option("--json", "one JSON object")
    .option("-t, --timeout <seconds>", "deadline for the whole comparison", "60")
    .addHelpText(
      "after",
      [
        "",
        "Compares every drift set (the built-in ones and [drift.NAME]) between the hosts, as check_drift does,",
        "and for each differing path says which host changed it last (mtime; ctime for a mode or owner change),",
        "both sizes and the diff (secrets masked; a secret file only said to differ). Then the paths newer on",
        "the secondary, which of them the next sync would overwrite (what /etc/carpentry/carpentry.conf's",
        'sync_paths="..." names, else pf.conf, pf.tables, dhcpd.conf, unbound and OpenVPN), and the scp, chmod',
        "and chown commands that copy them back, each path quoted for ksh. It changes nothing on either host.",
        "",
        "Exit code: 0 nothing newer on the secondary, 1 paths newer on the secondary, 3 it could not compare",
        "(not the primary, the secondary unreachable, a bad config).",
      ].join("\n"),
    )
    .action(async (options: ConsolidateOptions) => {
      const json = options.json === true;
      const configPath = configPathOf(program);
      const config = loadOrReport(configPath, json);
      function fail(summary: string, details: readonly string[]): never {
        writeOut(json ? `${JSON.stringify({ status: "UNKNOWN", code: EXIT_CODE.UNKNOWN, summary, details })}\n` : `UNKNOWN: ${summary}\n${details.map((line) => `${line}\n`).join("")}`);
        process.exit(EXIT_CODE.UNKNOWN);
      }
      if (config.role !== "primary") {
        fail(`carpentry consolidate runs on the primary; ${configPath} says role = "${config.role}"`, [
          "the sync copies from the primary to the secondary: run it there, where the copied-back files belong",
        ]);
      }
      const timeoutMs = parseTimeoutMs(options.timeout);
      let plan: Consolidation;
      try {
        plan = await withCheckContext(config, { configPath, config, timeoutMs, verbose: true }, async (ctx) => {
          const names = allSets(config);
          const sets = names.map((name) => localSet(config, configPath, name, resolveDriftSet(config, name) as DriftSetConfig));
          const comparisons = await compareFileSets(ctx.peer, sets, LABELS, ctx.deadline.signal);
          const source: CopySource = { user: config.peer.user, host: config.peer.host, port: config.peer.port, identityFile: config.peer.identity_file };
          return planConsolidation(comparisons, readSyncedPaths(), source);
        });
      } catch (error) {
        const res = errorResult(error);
        fail(res.summary, res.details);
      }
      const { newer, overwritten } = newerOnSecondary(plan);
      const code = newer.length > 0 ? EXIT_CODE.WARNING : EXIT_CODE.OK;
      if (json) {
        writeOut(
          `${JSON.stringify({
            status: code === EXIT_CODE.OK ? "OK" : "WARNING",
            code,
            ...plan,
            newerOnSecondary: newer.map((item) => item.path),
            syncWouldOverwrite: overwritten.map((item) => item.path),
            commands: newer.flatMap((item) => item.copyBack ?? []),
          })}\n`,
        );
      } else {
        writeOut(renderConsolidation(plan));
      }
      process.exit(code);
    });
}

// carpentry maintenance start|stop|status: on the host being upgraded, a window during which the
// findings the upgrade causes (its carp demote, preempt 0, the failover, pf disabled, the reboots,
// versions apart) are reported OK with a note, on both hosts; it ends by itself.
import type { Command } from "commander";
import { ALL_CHECKS } from "../checks/index.js";
import { loadConfig, type Config } from "../lib/runtime/config.js";
import {
  activeWindow,
  checkReason,
  clockText,
  DEFAULT_DURATION_SECONDS,
  endOf,
  lastKnownPeerWindows,
  maintenanceWindows,
  MAX_DURATION_SECONDS,
  onNote,
  parseDuration,
  startMaintenance,
  stopMaintenance,
  type Loaded,
  type MaintenanceWindow,
} from "../lib/runtime/maintenance.js";
import { UsageError } from "../lib/runtime/errors.js";
import { writeOut } from "../lib/runtime/runner.js";
import { configPathOf } from "./run.js";

interface JsonOption {
  readonly json?: boolean;
}

function print(json: boolean | undefined, value: unknown, text: string): void {
  writeOut(json ? JSON.stringify(value) + "\n" : text + "\n");
}

/** "started 12:30, until 14:30 (upgrade)" or "12:30-13:10 (upgrade), stopped" */
function windowLine(window: MaintenanceWindow, now: Date): string {
  const reason = window.reason ? ` (${window.reason})` : "";
  const started = clockText(new Date(window.startedAt), now);
  if (activeWindow([window], now)) return `${window.role}: on since ${started}, until ${clockText(new Date(window.until), now)}${reason}`;
  return `${window.role}: ${started} to ${clockText(endOf(window), now)}${reason}, ${window.stoppedAt ? "stopped" : "expired"}`;
}

function statusLines(config: Config, now: Date): { lines: string[]; value: Record<string, unknown> } {
  const dir = config.maintenance.state_dir;
  const mine = maintenanceWindows(dir);
  const peer = lastKnownPeerWindows(dir);
  const describe = (loaded: Loaded<readonly MaintenanceWindow[]>, who: string): string[] => {
    if ("problem" in loaded) return [`${who}: not known: ${loaded.problem}`];
    const on = activeWindow(loaded.value, now);
    const last = loaded.value[loaded.value.length - 1];
    if (on) return [onNote(on, now)];
    return [`no maintenance on ${who}${last ? `; last window ${windowLine(last, now)}` : ""}`];
  };
  const value = (loaded: Loaded<readonly MaintenanceWindow[]>): unknown =>
    "problem" in loaded ? { problem: loaded.problem } : { active: activeWindow(loaded.value, now) ?? null, windows: loaded.value };
  return {
    lines: [...describe(mine, config.role), ...describe(peer, `the ${config.role === "primary" ? "secondary" : "primary"} (as last learned)`)],
    value: { role: config.role, stateDir: dir, [config.role]: value(mine), peerLastKnown: value(peer) },
  };
}

export function registerMaintenanceCommand(program: Command): void {
  const maintenance = program
    .command("maintenance")
    .description(
      `a maintenance window on this host: while it lasts, what an upgrade causes is reported OK with a note, on both hosts (default ${DEFAULT_DURATION_SECONDS / 3600}h, at most ${MAX_DURATION_SECONDS / 3600}h)`,
    );
  const config = (): Config => loadConfig(configPathOf(program), { all: ALL_CHECKS });
  maintenance
    .command("start")
    .description("start a window on this host, or replace the one on")
    .option("--for <duration>", `how long: 2h, 90m, 1h30m, 45s (default ${DEFAULT_DURATION_SECONDS / 3600}h, at most ${MAX_DURATION_SECONDS / 3600}h)`)
    .option("--reason <text>", "shown in every excused line, e.g. 'upgrade to 7.9'")
    .option("--json", "print one JSON object")
    .action((options: JsonOption & { for?: string; reason?: string }) => {
      const seconds = options.for === undefined ? DEFAULT_DURATION_SECONDS : parseDuration(options.for);
      const reason = options.reason === undefined ? undefined : checkReason(options.reason);
      const loaded = config();
      const now = new Date();
      const window = startMaintenance(loaded.maintenance.state_dir, loaded.role, seconds, reason, now);
      print(options.json, { started: window }, `${onNote(window, now)}: started`);
    });
  maintenance
    .command("stop")
    .description("end the window on this host now")
    .option("--json", "print one JSON object")
    .action((options: JsonOption) => {
      const loaded = config();
      const now = new Date();
      const stopped = stopMaintenance(loaded.maintenance.state_dir, now);
      print(options.json, { stopped: stopped ?? null }, stopped ? `maintenance on ${stopped.role} stopped at ${clockText(now, now)}` : `no maintenance on ${loaded.role}: nothing to stop`);
    });
  maintenance
    .command("status")
    .description("this host's window, and the peer's as last learned")
    .option("--json", "print one JSON object")
    .action((options: JsonOption) => {
      const status = statusLines(config(), new Date());
      print(options.json, status.value, status.lines.join("\n"));
    });
  maintenance.action(() => {
    throw new UsageError("maintenance: start, stop or status", "see carpentry maintenance --help");
  });
}

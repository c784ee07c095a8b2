// Maintenance windows: `carpentry maintenance start` on the host being upgraded writes one to the suite's
// state directory; while it lasts, the findings that the upgrade itself causes (tagged with the hosts
// whose upgrade causes them, Finding.maintenance) are reported as OK with a note saying so, and every
// other finding alerts as before. OK rather than WARNING: monit alerts on any status but 0, so a
// WARNING would still mail. A window ends by itself; a finding still there afterwards alerts again,
// saying the maintenance ended. Windows are kept, bounded, for the daily report.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { CheckContext } from "./check.js";
import type { Role } from "./config.js";
import { untrustedBecause } from "./config.js";
import { HostError, UsageError } from "./errors.js";
import { SUMMARY_MAX_CHARS, truncate, type Result } from "./result.js";
import { peerNotAnswered, resultFromFindings, type Finding } from "./findings.js";
import { saveReading } from "./last-reading.js";
import { readPeerMessage } from "../facts/protocol.js";

/** Long enough for an upgrade with its reboots; `--for` changes it. */
export const DEFAULT_DURATION_SECONDS = 2 * 3600;
/** A window forgotten open silences the pair's upgrade findings for at most a day. */
export const MAX_DURATION_SECONDS = 24 * 3600;
/** Past windows kept for the report, newest last. */
export const WINDOWS_KEPT = 50;
/** How long after a window ended a finding still there says so. */
const ENDED_NOTE_SECONDS = 24 * 3600;
const REASON_MAX_CHARS = 100;
/** A state file is a few KB at most (WINDOWS_KEPT windows); anything larger is not ours. */
export const STATE_MAX_BYTES = 64 * 1024;

export const STATE_FILE = "maintenance.json";
/** The peer's windows as last learned from it, for when it cannot be asked (a reboot). */
const PEER_STATE_FILE = "peer-maintenance.json";

const timestamp = v.pipe(v.string(), v.isoTimestamp());
const windowSchema = v.strictObject({
  role: v.picklist(["primary", "secondary"]),
  startedAt: timestamp,
  until: timestamp,
  /** Set by `maintenance stop`, or by a `start` that replaced the window. */
  stoppedAt: v.optional(timestamp),
  reason: v.optional(v.pipe(v.string(), v.maxLength(REASON_MAX_CHARS))),
});
const windowsSchema = v.pipe(v.array(windowSchema), v.maxLength(WINDOWS_KEPT));
const stateSchema = v.strictObject({ version: v.literal(1), windows: windowsSchema });
const peerStateSchema = v.strictObject({ version: v.literal(1), learnedAt: timestamp, windows: windowsSchema });

export type MaintenanceWindow = v.InferOutput<typeof windowSchema>;

// ---- durations ----

const UNIT_SECONDS: Readonly<Record<string, number>> = { d: 86400, h: 3600, m: 60, s: 1 };

/** "2h", "90m", "1h30m", "45s": whole numbers with units, largest first; above 0 and at most MAX_DURATION_SECONDS. */
export function parseDuration(text: string): number {
  const bad = (why: string): never => {
    throw new UsageError(`bad duration '${text.slice(0, 20)}'`, `${why}; expected a duration such as 2h, 90m, 1h30m or 45s, at most ${MAX_DURATION_SECONDS / 3600}h`);
  };
  const match = /^(?:(\d{1,5})d)?(?:(\d{1,5})h)?(?:(\d{1,5})m)?(?:(\d{1,6})s)?$/.exec(text.trim());
  if (text.trim() === "" || !match) return bad("not a duration");
  const seconds = ["d", "h", "m", "s"].reduce((sum, unit, index) => sum + Number(match[index + 1] ?? 0) * (UNIT_SECONDS[unit] ?? 0), 0);
  if (seconds <= 0) return bad("zero");
  if (seconds > MAX_DURATION_SECONDS) return bad("longer than the maximum");
  return seconds;
}

/** A reason reaches monit's mail and the report: one short line of printable text. */
export function checkReason(text: string): string {
  const reason = text.trim();
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(reason)) throw new UsageError("bad reason: control characters", "the reason is one line of printable text");
  if (reason.length > REASON_MAX_CHARS) throw new UsageError("bad reason: too long", `at most ${REASON_MAX_CHARS} characters, got ${reason.length}`);
  return reason;
}

// ---- the state files ----

export type Loaded<T> = { readonly value: T } | { readonly problem: string };

/**
 * A state file's JSON, read only when it deserves it, as the config is: a regular file (no symlink,
 * FIFO or device), owned by root or this user, writable by no one else, at most STATE_MAX_BYTES.
 * `{ value: undefined }` when there is none.
 */
function readStateJson(path: string): Loaded<unknown> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { value: undefined };
    return { problem: `cannot read ${path}: ${code === "ELOOP" ? "a symbolic link" : String(code ?? error)}` };
  }
  try {
    const stat = fstatSync(fd);
    const problem = untrustedBecause(stat) ?? (stat.size > STATE_MAX_BYTES ? `${stat.size} bytes, larger than ${STATE_MAX_BYTES / 1024} KiB` : undefined);
    if (problem) return { problem: `${path} not used: ${problem}` };
    const buffer = Buffer.alloc(STATE_MAX_BYTES + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) read = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > STATE_MAX_BYTES) return { problem: `${path} not used: larger than ${STATE_MAX_BYTES / 1024} KiB` };
    try {
      return { value: JSON.parse(buffer.subarray(0, length).toString("utf8")) as unknown };
    } catch {
      return { problem: `${path} not used: not JSON` };
    }
  } catch (error) {
    return { problem: `cannot read ${path}: ${String((error as NodeJS.ErrnoException).code ?? error)}` };
  } finally {
    closeSync(fd);
  }
}

function loadWith<S extends v.GenericSchema>(dir: string, file: string, schema: S): Loaded<v.InferOutput<S> | undefined> {
  const path = join(dir, file);
  const loaded = readStateJson(path);
  if ("problem" in loaded || loaded.value === undefined) return loaded;
  const parsed = v.safeParse(schema, loaded.value);
  if (!parsed.success) return { problem: `${path} not used: not in the expected form (${parsed.issues[0].message})` };
  return { value: parsed.output };
}

/**
 * This host's maintenance windows, oldest first (at most WINDOWS_KEPT): the current one, if any, is
 * the last. For the daily report too: activeWindow() and lastEnded() say which is which.
 */
export function maintenanceWindows(stateDir: string): Loaded<readonly MaintenanceWindow[]> {
  const loaded = loadWith(stateDir, STATE_FILE, stateSchema);
  if ("problem" in loaded) return loaded;
  return { value: loaded.value?.windows ?? [] };
}

/** The peer's windows as last learned, or none. */
export function lastKnownPeerWindows(stateDir: string): Loaded<readonly MaintenanceWindow[]> {
  const loaded = loadWith(stateDir, PEER_STATE_FILE, peerStateSchema);
  if ("problem" in loaded) return loaded;
  return { value: loaded.value?.windows ?? [] };
}

export function savePeerWindows(stateDir: string, windows: readonly MaintenanceWindow[], now = new Date()): string | undefined {
  return saveReading(stateDir, PEER_STATE_FILE, { version: 1, learnedAt: now.toISOString(), windows });
}

function saveWindows(stateDir: string, windows: readonly MaintenanceWindow[]): string | undefined {
  return saveReading(stateDir, STATE_FILE, { version: 1, windows: windows.slice(-WINDOWS_KEPT) });
}

/** The window on at `now`: the newest one, started, not stopped, not yet over. */
export function activeWindow(windows: readonly MaintenanceWindow[], now = new Date()): MaintenanceWindow | undefined {
  const last = windows[windows.length - 1];
  if (!last || last.stoppedAt !== undefined) return undefined;
  const at = now.getTime();
  return Date.parse(last.startedAt) <= at && at < Date.parse(last.until) ? last : undefined;
}

/** When a window ended (or ends): its stop, else its expiry. */
export function endOf(window: MaintenanceWindow): Date {
  return new Date(window.stoppedAt ?? window.until);
}

/** The newest window, when it has ended within `withinSeconds` of `now`. */
export function lastEnded(windows: readonly MaintenanceWindow[], now = new Date(), withinSeconds = ENDED_NOTE_SECONDS): MaintenanceWindow | undefined {
  const last = windows[windows.length - 1];
  if (!last || activeWindow(windows, now)) return undefined;
  const ended = endOf(last).getTime();
  return ended <= now.getTime() && now.getTime() - ended <= withinSeconds * 1000 ? last : undefined;
}

/** Starts a window, or replaces the one on (its end and reason) with a new one from now. */
export function startMaintenance(stateDir: string, role: Role, seconds: number, reason: string | undefined, now = new Date()): MaintenanceWindow {
  const loaded = maintenanceWindows(stateDir);
  // An unusable file is replaced: the window must start; the old log is lost, which the report tells.
  const windows = "problem" in loaded ? [] : [...loaded.value];
  const on = activeWindow(windows, now);
  if (on) windows[windows.length - 1] = { ...on, stoppedAt: now.toISOString() };
  const window: MaintenanceWindow = { role, startedAt: now.toISOString(), until: new Date(now.getTime() + seconds * 1000).toISOString(), ...(reason ? { reason } : {}) };
  windows.push(window);
  const problem = saveWindows(stateDir, windows);
  if (problem) throw new UsageError("maintenance not started: state not written", problem);
  return window;
}

/** Ends the window on, if any: the one stopped, else undefined. */
export function stopMaintenance(stateDir: string, now = new Date()): MaintenanceWindow | undefined {
  const loaded = maintenanceWindows(stateDir);
  if ("problem" in loaded) throw new UsageError("maintenance state unusable", loaded.problem);
  const windows = [...loaded.value];
  const on = activeWindow(windows, now);
  if (!on) return undefined;
  const stopped = { ...on, stoppedAt: now.toISOString() };
  windows[windows.length - 1] = stopped;
  const problem = saveWindows(stateDir, windows);
  if (problem) throw new UsageError("maintenance not stopped: state not written", problem);
  return stopped;
}

// ---- the words ----

/** "14:30", in this host's time; with the date when it is not today. */
export function clockText(at: Date, now = new Date()): string {
  const time = `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  if (at.toDateString() === now.toDateString()) return time;
  return `${at.toLocaleString("en-US", { month: "short" })} ${at.getDate()} ${time}`;
}

/** "maintenance on primary until 14:30 (upgrade to 7.9)" */
export function onNote(window: MaintenanceWindow, now = new Date(), withReason = true): string {
  return `maintenance on ${window.role} until ${clockText(new Date(window.until), now)}${withReason && window.reason ? ` (${window.reason})` : ""}`;
}

/** "maintenance on primary ended 14:30" */
function endedNote(window: MaintenanceWindow, now = new Date()): string {
  return `maintenance on ${window.role} ended ${clockText(endOf(window), now)}`;
}

// ---- the one place where maintenance changes a verdict ----

/** What is known of each host's maintenance for this run. */
export type KnownWindows = Partial<Record<Role, readonly MaintenanceWindow[]>>;

function detailLines(finding: Finding): string[] {
  const detail = finding.detail ?? finding.summary;
  return typeof detail === "string" ? [detail] : [...detail];
}

/**
 * The Result with each tagged finding judged against the maintenance of the hosts it names: excused
 * (a detail line) while one of them is in maintenance, alerting with "maintenance on X ended HH:MM"
 * once it has ended, as before otherwise. All excused: OK, the note first in the summary.
 */
export function excuseFindings(res: Result, known: KnownWindows, now = new Date(), notes: readonly string[] = []): Result {
  const { excusable, ...plain } = res;
  if (!excusable) return plain;
  const excused: { finding: Finding; window: MaintenanceWindow }[] = [];
  let changed = false;
  const kept = excusable.findings.map((finding): Finding | undefined => {
    const roles = finding.maintenance ?? [];
    const on = roles.map((role) => activeWindow(known[role] ?? [], now)).find((w) => w !== undefined);
    if (on) {
      excused.push({ finding, window: on });
      changed = true;
      return undefined;
    }
    const ended = roles.map((role) => lastEnded(known[role] ?? [], now)).find((w) => w !== undefined);
    if (!ended) return finding;
    changed = true;
    const note = endedNote(ended, now);
    return { ...finding, summary: `${note}: ${finding.summary}`, detail: detailLines(finding).map((line) => `${note}: ${line}`) };
  });
  if (!changed) return notes.length > 0 ? { ...plain, details: [...plain.details, ...notes] } : plain;
  const base = excusable.rebuild(kept);
  const excusedLines = excused.flatMap(({ finding, window }) => detailLines(finding).map((line) => `excused, ${onNote(window, now)}: ${line}`));
  const first = excused[0];
  if (kept.some((finding) => finding !== undefined) || first === undefined) return { ...base, details: [...base.details, ...excusedLines, ...notes] };
  const more = excused.length > 1 ? ` (+${excused.length - 1} more)` : "";
  const room = SUMMARY_MAX_CHARS - "OK: ".length - more.length;
  // The reason stays in the details when the summary has no room for it beside the finding.
  const full = `${onNote(first.window, now)}: ${first.finding.summary}`;
  const summary = full.length <= room ? full : truncate(`${onNote(first.window, now, false)}: ${first.finding.summary}`, room);
  return { status: "OK", summary: `${summary}${more}`, details: [...excusedLines, ...base.details, ...notes], perfdata: base.perfdata };
}

// ---- what a check's run knows of both hosts' maintenance ----

/** The peer's windows, asked of its carpentry (op "maintenance"); undefined when it cannot be asked. */
async function askPeer(ctx: CheckContext): Promise<readonly MaintenanceWindow[] | undefined> {
  try {
    const answer = await ctx.peer.facts("maintenance", {});
    return readPeerMessage(windowsSchema, answer.value, ctx.peerRole, "maintenance");
  } catch {
    return undefined;
  }
}

/**
 * A check's Result with its excusable findings judged: this host's windows from its state file; the
 * peer's asked of it, and kept as the last known, or, where the peer did not answer this run (a
 * reboot), the last known.
 */
export async function judgeMaintenance(res: Result, ctx: CheckContext): Promise<Result> {
  const roles = new Set((res.excusable?.findings ?? []).flatMap((finding) => finding.maintenance ?? []));
  const dir = ctx.config.maintenance.state_dir;
  const known: KnownWindows = {};
  const notes: string[] = [];
  const use = (role: Role, loaded: Loaded<readonly MaintenanceWindow[]>): void => {
    if ("problem" in loaded) notes.push(`${role}'s maintenance not known: ${loaded.problem}`);
    else known[role] = loaded.value;
  };
  if (roles.has(ctx.role)) use(ctx.role, maintenanceWindows(dir));
  // The peer is asked only for what this host's own window does not excuse already.
  const here = activeWindow(known[ctx.role] ?? []);
  const needPeer = (res.excusable?.findings ?? []).some((finding) => finding.maintenance?.includes(ctx.peerRole) && !(here && finding.maintenance.includes(ctx.role)));
  if (needPeer) {
    const asked = res.excusable?.peerAnswered ? await askPeer(ctx) : undefined;
    const kept = lastKnownPeerWindows(dir);
    if (asked) {
      known[ctx.peerRole] = asked;
      // Written only when it changed: most runs learn what is already kept (often: no window at all).
      const same = "value" in kept && JSON.stringify(kept.value) === JSON.stringify(asked);
      const problem = same ? undefined : savePeerWindows(dir, asked);
      if (problem) notes.push(`${ctx.peerRole}'s maintenance not kept: ${problem}`);
    } else use(ctx.peerRole, kept);
  }
  return excuseFindings(res, known, new Date(), notes);
}

/**
 * A check that failed because ssh could not reach the peer: UNKNOWN as before, and excusable by the
 * peer's maintenance (it reboots). Any other failure is thrown on.
 */
export function unreachablePeerResult(error: unknown, ctx: CheckContext): Result {
  if (!(error instanceof HostError) || !error.summary.startsWith(`cannot reach ${ctx.peerRole}`)) throw error;
  return peerNotAnswered(resultFromFindings([{ status: "UNKNOWN", summary: error.summary, detail: error.detail ?? error.summary, maintenance: [ctx.peerRole] }], ""));
}

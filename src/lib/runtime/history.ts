// What happened between two daily reports: every check run (by monit, `carpentry run` or the report)
// appends one short JSON line to this host's history in the state directory: the time, the check, its
// status, and for the few checks the report charts, the numbers it charts. A line is written with one
// O_APPEND write, so checks running at once never interleave; the file is rotated at MAX_BYTES into one
// older generation, so the history never takes more than twice that. Like the counter readings, a
// history that cannot be written costs only the report's look back: never a check's verdict.
import { appendFileSync, closeSync, openSync, readSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { releasePidFile, removeIfStale, takePidFile } from "../transport/pidfile.js";
import { ensureStateDir } from "./last-reading.js";
import type { PerfDatum, Status } from "./result.js";

export const HISTORY_FILE = "history.jsonl";
/**
 * One generation's size. A line is 40 to 110 bytes; 20 checks a minute write about 1.2 MB a day, so
 * the file and its one older generation hold at least a day and a half: more than a daily report needs.
 */
const HISTORY_MAX_BYTES = 1024 * 1024;

/** The numbers kept, by check: what the report charts. */
const KEPT_PERFDATA: Readonly<Record<string, readonly string[]>> = {
  carp: ["primary_masters", "secondary_masters"],
  mailq: ["messages"],
  pfsync: ["states_primary", "states_secondary"],
};

/** The check a report line stands for: "what happened since" starts after the last one. */
export const REPORT_MARK = "report";

export interface HistoryLine {
  /** Seconds since the epoch. */
  readonly t: number;
  /** The check's name, or REPORT_MARK. */
  readonly c: string;
  readonly s?: Status;
  readonly p?: Readonly<Record<string, number>>;
}

const lineSchema = v.object({
  t: v.pipe(v.number(), v.integer(), v.minValue(0)),
  c: v.pipe(v.string(), v.maxLength(64)),
  s: v.optional(v.picklist(["OK", "WARNING", "CRITICAL", "UNKNOWN"])),
  p: v.optional(v.record(v.string(), v.number())),
});

/** A check's run as its history line: the numbers the report charts, none else. */
export function historyLine(check: string, status: Status, perfdata: readonly PerfDatum[], at: Date): HistoryLine {
  const kept = KEPT_PERFDATA[check] ?? [];
  const numbers: Record<string, number> = {};
  for (const datum of perfdata) if (kept.includes(datum.label) && typeof datum.value === "number" && Number.isFinite(datum.value)) numbers[datum.label] = datum.value;
  return { t: Math.floor(at.getTime() / 1000), c: check, s: status, ...(Object.keys(numbers).length > 0 ? { p: numbers } : {}) };
}

/** At MAX_BYTES the file becomes the older generation; one process rotates, the others go on appending. */
function rotateIfFull(dir: string, maxBytes: number): void {
  const path = join(dir, HISTORY_FILE);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return;
  }
  if (size < maxBytes) return;
  const lock = `${path}.lock`;
  if (!takePidFile(lock) && !(removeIfStale(lock) && takePidFile(lock))) return;
  try {
    // Another process may have rotated between our stat and our lock.
    if (statSync(path).size >= maxBytes) renameSync(path, `${path}.1`);
  } catch {
    // Gone already: nothing to rotate.
  } finally {
    releasePidFile(lock);
  }
}

/** Appends lines (one write), rotating first when the file is full. Returns why not, when it could not. */
export function appendHistory(dir: string, lines: readonly HistoryLine[], maxBytes = HISTORY_MAX_BYTES): string | undefined {
  if (lines.length === 0) return undefined;
  const unusable = ensureStateDir(dir);
  if (unusable !== undefined) return unusable;
  rotateIfFull(dir, maxBytes);
  try {
    appendFileSync(join(dir, HISTORY_FILE), lines.map((line) => `${JSON.stringify(line)}\n`).join(""), { mode: 0o600, flag: "a" });
    return undefined;
  } catch (error) {
    return `cannot write ${join(dir, HISTORY_FILE)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
}

/** A file's first maxBytes at most (a generation never holds more unless someone else wrote it). */
function readAtMost(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "";
  }
  try {
    const buffer = Buffer.alloc(maxBytes);
    let length = 0;
    for (let read = -1; read !== 0 && length < maxBytes; length += read) read = readSync(fd, buffer, length, maxBytes - length, null);
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Both generations' lines, oldest first; a line that is not one of ours (cut by a full disk, written
 * by another version) is skipped. Reads at most twice MAX_BYTES (and a little slack for lines written
 * while a rotation waited).
 */
export function readHistory(dir: string, maxBytes = HISTORY_MAX_BYTES): HistoryLine[] {
  const text = readAtMost(join(dir, `${HISTORY_FILE}.1`), maxBytes + 64 * 1024) + readAtMost(join(dir, HISTORY_FILE), maxBytes + 64 * 1024);
  const lines: HistoryLine[] = [];
  for (const raw of text.split("\n")) {
    if (raw === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    const checked = v.safeParse(lineSchema, parsed);
    if (checked.success) lines.push(checked.output);
  }
  return lines.sort((a, b) => a.t - b.t);
}

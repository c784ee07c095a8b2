// Counters that only ever grow (pf's memory drops, carp's bad-authentication packets, transitions to
// master) say something only as growth between two readings. A check keeps each host's recent
// readings in a small JSON file in its state directory (last-reading.ts), newest last, and compares
// this run's counters with them: with the previous reading for a rate, with the oldest reading inside
// a window for a count over that window. A counter that went down means the host rebooted (or pf was
// reloaded): its older readings are dropped and growth is told again from the next run.
import * as v from "valibot";
import type { Role } from "./config.js";
import { loadReading, saveReading } from "./last-reading.js";

const readingSchema = v.strictObject({
  at: v.pipe(v.string(), v.isoTimestamp()),
  counters: v.record(v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))),
});
const historySchema = v.strictObject({
  version: v.literal(1),
  readings: v.strictObject({
    primary: v.optional(v.array(readingSchema)),
    secondary: v.optional(v.array(readingSchema)),
  }),
});

export interface CounterReading {
  /** ISO 8601 time of the reading. */
  readonly at: string;
  readonly counters: Readonly<Record<string, number>>;
}

/** The file's content: each host's readings as this host saw them, oldest first. */
export interface CounterHistory {
  readonly version: 1;
  readonly readings: Partial<Record<Role, readonly CounterReading[]>>;
}

export type HostGrowth =
  /** No earlier reading of this host (first run, or the state file was new or unusable). */
  | { readonly kind: "first" }
  /** A counter went down since the previous reading: a reboot or a pf reload; nothing to compare. */
  | { readonly kind: "reset"; readonly counter: string }
  | {
      readonly kind: "compared";
      /** This run's reading. */
      readonly current: CounterReading;
      /** The run before. */
      readonly previous: CounterReading;
      /** The newest reading at least windowSeconds old, else the oldest kept: what "within the window" counts from. */
      readonly windowStart: CounterReading;
    };

export interface GrowthResult {
  readonly byRole: Partial<Record<Role, HostGrowth>>;
  /** Why the history was not used or not kept, for a detail line. */
  readonly notes: readonly string[];
}

/** The increase of one counter between two readings (0 for a counter the older reading lacks). */
export function increase(from: CounterReading, to: CounterReading, counter: string): number {
  const before = from.counters[counter];
  const after = to.counters[counter];
  if (before === undefined || after === undefined) return 0;
  return Math.max(0, after - before);
}

/** Seconds between two readings (at least 1, so a rate never divides by zero). */
export function elapsedSeconds(from: CounterReading, to: CounterReading): number {
  return Math.max(1, (Date.parse(to.at) - Date.parse(from.at)) / 1000);
}

/** Pure: the previous history and this run's counters -> each host's growth and the history to keep. */
export function compareWithHistory(
  previous: CounterHistory | undefined,
  current: Partial<Record<Role, Readonly<Record<string, number>>>>,
  now: Date,
  windowSeconds: number,
): { byRole: Partial<Record<Role, HostGrowth>>; next: CounterHistory } {
  const byRole: Partial<Record<Role, HostGrowth>> = {};
  const readings: Partial<Record<Role, readonly CounterReading[]>> = {};
  const at = now.toISOString();
  const windowStartMs = now.getTime() - windowSeconds * 1000;
  for (const role of ["primary", "secondary"] as const) {
    const counters = current[role];
    const kept = previous?.readings[role] ?? [];
    if (counters === undefined) {
      if (kept.length > 0) readings[role] = kept;
      continue;
    }
    const reading: CounterReading = { at, counters: { ...counters } };
    // Readings from the future (a clock set back) cannot be compared with.
    const usable = kept.filter((old) => Date.parse(old.at) < now.getTime());
    const last = usable[usable.length - 1];
    if (last === undefined) {
      byRole[role] = { kind: "first" };
      readings[role] = [reading];
      continue;
    }
    const wentDown = Object.keys(counters).find((name) => {
      const before = last.counters[name];
      const after = counters[name];
      return before !== undefined && after !== undefined && after < before;
    });
    if (wentDown !== undefined) {
      byRole[role] = { kind: "reset", counter: wentDown };
      readings[role] = [reading];
      continue;
    }
    // Keep the newest reading at or before the window's start (the window is then fully covered) and
    // every reading after it.
    let startIndex = 0;
    usable.forEach((old, index) => {
      if (Date.parse(old.at) <= windowStartMs) startIndex = index;
    });
    const inWindow = usable.slice(startIndex);
    const windowStart = inWindow[0] ?? last;
    byRole[role] = { kind: "compared", current: reading, previous: last, windowStart };
    readings[role] = [...inWindow, reading];
  }
  return { byRole, next: { version: 1, readings } };
}

/**
 * Reads the check's history file, compares, writes the new history. A state directory that cannot be
 * read or written costs only the growth, said in a note: the counters themselves are still shown.
 */
export function measureCounterGrowth(stateDir: string, file: string, current: Partial<Record<Role, Readonly<Record<string, number>>>>, windowSeconds: number, now = new Date()): GrowthResult {
  const notes: string[] = [];
  const loaded = loadReading(stateDir, file);
  let previous: CounterHistory | undefined;
  if ("problem" in loaded) {
    notes.push(`previous counter readings not used: ${loaded.problem}`);
  } else if (loaded.value !== undefined) {
    const parsed = v.safeParse(historySchema, loaded.value);
    if (parsed.success) previous = parsed.output;
    else notes.push(`previous counter readings not used: ${stateDir}/${file} is not in the expected form; starting over`);
  }
  const { byRole, next } = compareWithHistory(previous, current, now, windowSeconds);
  const saveProblem = saveReading(stateDir, file, next);
  if (saveProblem !== undefined) notes.push(`counter readings not kept: ${saveProblem}`);
  return { byRole, notes };
}

/** A history file's content, as a check writes it: for the simulated pair, which plants earlier readings. */
export function historyFile(readings: Partial<Record<Role, readonly CounterReading[]>>): string {
  const history: CounterHistory = { version: 1, readings };
  return JSON.stringify(history) + "\n";
}

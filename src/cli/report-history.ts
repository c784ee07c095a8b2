// The daily report's look back: from this host's history of check runs (lib/runtime/history.ts), what
// happened since the last report: CARP transitions and failovers, the mail queue's peak, pfsync's
// state counts, the checks that failed and whether they recovered. Pure: lines in, facts out; the
// report turns them into text lines and HTML bars.
import { REPORT_MARK, type HistoryLine } from "../lib/runtime/history.js";
import type { Status } from "../lib/runtime/result.js";

/** A maintenance window on a host, as the maintenance state records it. */
export interface MaintenanceWindow {
  readonly host: string;
  readonly start: Date;
  readonly end: Date;
  readonly reason: string;
}

export interface CarpCount {
  readonly primary: number;
  readonly secondary: number;
}

export interface CarpTransition {
  readonly at: Date;
  readonly before: CarpCount;
  readonly after: CarpCount;
  /** failover: the secondary took MASTER from the primary; failback: the primary took it back. */
  readonly kind: "failover" | "failback" | "change";
}

/** A run of a check's results that were not OK. */
export interface Episode {
  readonly check: string;
  readonly worst: Exclude<Status, "OK">;
  readonly start: Date;
  /** The first OK run after it; none while the check is still not OK. */
  readonly end?: Date;
  readonly durationMs: number;
}

/** A number over the look back: its value a bucket (the highest of the bucket's readings), its range. */
export interface Series {
  readonly buckets: readonly (number | undefined)[];
  readonly min: number;
  readonly max: number;
  readonly maxAt: Date;
  readonly current: number;
}

export interface LookBack {
  readonly since: Date;
  readonly until: Date;
  /** Whether `since` is the last report's time; else the oldest reading kept. */
  readonly fromLastReport: boolean;
  readonly readings: number;
  /** The buckets' start times; each lasts bucketMs. */
  readonly bucketStarts: readonly Date[];
  readonly bucketMs: number;
  readonly carp: readonly CarpTransition[];
  readonly mailQueue?: Series;
  readonly pfsyncPrimary?: Series;
  readonly pfsyncSecondary?: Series;
  readonly episodes: readonly Episode[];
}

const HOUR_MS = 3_600_000;
/** The most buckets a chart has: an hour each over a day and more, longer when the last report is older. */
const MAX_BUCKETS = 48;
/** Without an earlier report, a day is looked back on. */
const DEFAULT_LOOKBACK_MS = 24 * HOUR_MS;
const URGENCY: Readonly<Record<Exclude<Status, "OK">, number>> = { CRITICAL: 0, UNKNOWN: 1, WARNING: 2 };

const dateOf = (line: HistoryLine): Date => new Date(line.t * 1000);

function series(lines: readonly HistoryLine[], check: string, label: string, recent: (line: HistoryLine) => boolean, starts: readonly number[], bucketMs: number): Series | undefined {
  const points = lines.filter((line) => line.c === check && recent(line) && line.p?.[label] !== undefined).map((line) => ({ at: line.t * 1000, value: line.p?.[label] ?? 0 }));
  const last = points[points.length - 1];
  if (last === undefined) return undefined;
  const buckets = starts.map((start) => {
    const inside = points.filter((point) => point.at >= start && point.at < start + bucketMs).map((point) => point.value);
    return inside.length > 0 ? Math.max(...inside) : undefined;
  });
  const peak = points.reduce((best, point) => (point.value > best.value ? point : best));
  return { buckets, min: Math.min(...points.map((point) => point.value)), max: peak.value, maxAt: new Date(peak.at), current: last.value };
}

function carpTransitions(lines: readonly HistoryLine[], recent: (line: HistoryLine) => boolean): CarpTransition[] {
  const transitions: CarpTransition[] = [];
  let previous: CarpCount | undefined;
  for (const line of lines) {
    const primary = line.c === "carp" ? line.p?.["primary_masters"] : undefined;
    const secondary = line.c === "carp" ? line.p?.["secondary_masters"] : undefined;
    // A run that saw one host only (the peer unreachable) tells no transition.
    if (primary === undefined || secondary === undefined) continue;
    const now = { primary, secondary };
    if (previous && (previous.primary !== primary || previous.secondary !== secondary) && recent(line)) {
      const kind = secondary > previous.secondary && primary < previous.primary ? "failover" : primary > previous.primary && secondary < previous.secondary ? "failback" : "change";
      transitions.push({ at: dateOf(line), before: previous, after: now, kind });
    }
    previous = now;
  }
  return transitions;
}

function episodes(lines: readonly HistoryLine[], recent: (line: HistoryLine) => boolean, until: Date): Episode[] {
  const open = new Map<string, { worst: Exclude<Status, "OK">; start: number }>();
  const found: Episode[] = [];
  for (const line of lines) {
    if (line.c === REPORT_MARK || line.s === undefined) continue;
    const current = open.get(line.c);
    if (line.s === "OK") {
      if (current && recent(line)) found.push({ check: line.c, worst: current.worst, start: new Date(current.start), end: dateOf(line), durationMs: line.t * 1000 - current.start });
      open.delete(line.c);
    } else if (!current) {
      open.set(line.c, { worst: line.s, start: line.t * 1000 });
    } else if (URGENCY[line.s] < URGENCY[current.worst]) {
      current.worst = line.s;
    }
  }
  for (const [check, { worst, start }] of open) found.push({ check, worst, start: new Date(start), durationMs: until.getTime() - start });
  return found.sort((a, b) => a.start.getTime() - b.start.getTime() || (a.check < b.check ? -1 : 1));
}

/** Pure: the history's lines (oldest first) -> what happened since the last report, until `until`. */
export function lookBack(lines: readonly HistoryLine[], until: Date): LookBack {
  const marks = lines.filter((line) => line.c === REPORT_MARK && line.t * 1000 < until.getTime());
  const lastReport = marks[marks.length - 1];
  // What came after the last report's mark in the file is new, whatever second it came in: the mark
  // is written after the report's own readings, and times are whole seconds.
  const after = new Set(lastReport ? lines.slice(lines.lastIndexOf(lastReport) + 1) : []);
  const oldest = lines[0];
  const fallback = Math.max(until.getTime() - DEFAULT_LOOKBACK_MS, oldest ? oldest.t * 1000 : until.getTime());
  const since = lastReport ? lastReport.t * 1000 : fallback;
  const span = Math.max(1, until.getTime() - since);
  const bucketMs = Math.ceil(span / MAX_BUCKETS / HOUR_MS) * HOUR_MS;
  const first = Math.floor(since / bucketMs) * bucketMs;
  const starts: number[] = [];
  for (let start = first; start < until.getTime(); start += bucketMs) starts.push(start);
  const recent = (line: HistoryLine): boolean => (lastReport ? after.has(line) : line.t * 1000 >= since);
  const mailQueue = series(lines, "mailq", "messages", recent, starts, bucketMs);
  const pfsyncPrimary = series(lines, "pfsync", "states_primary", recent, starts, bucketMs);
  const pfsyncSecondary = series(lines, "pfsync", "states_secondary", recent, starts, bucketMs);
  return {
    since: new Date(since),
    until,
    fromLastReport: lastReport !== undefined,
    readings: lines.filter((line) => recent(line) && line.c !== REPORT_MARK).length,
    bucketStarts: starts.map((start) => new Date(start)),
    bucketMs,
    carp: carpTransitions(lines, recent),
    ...(mailQueue ? { mailQueue } : {}),
    ...(pfsyncPrimary ? { pfsyncPrimary } : {}),
    ...(pfsyncSecondary ? { pfsyncSecondary } : {}),
    episodes: episodes(lines, recent, until),
  };
}

// Turning a check's list of problems into one Result: the worst status, the first of the worst
// problems as the summary (with a count of the others), every problem as a detail line.
import { otherRole } from "./check.js";
import type { Role } from "./config.js";
import { CarpentryError, ParseError } from "./errors.js";
import { result, SUMMARY_MAX_CHARS, truncate, URGENCY, type PerfDatum, type Result, type Status } from "./result.js";

export interface Finding {
  readonly status: Exclude<Status, "OK">;
  /** Short: it becomes the summary when it is the first of the worst findings. */
  readonly summary: string;
  /** The whole story, a line or a few; defaults to the summary. */
  readonly detail?: string | readonly string[];
  /**
   * The hosts whose upgrade causes this finding (its own carp demote, preempt 0, a failover, pf
   * disabled, a reboot, versions apart): while one of them is in maintenance it is excused
   * (src/lib/runtime/maintenance.ts). Unset: it always alerts.
   */
  readonly maintenance?: readonly Role[];
}

/** A Result's findings, for the runner to judge the maintenance-excusable ones against the hosts' maintenance. */
export interface ExcusableFindings {
  readonly findings: readonly Finding[];
  /** The Result again from the findings that still alert, in their places (undefined: excused). */
  readonly rebuild: (kept: readonly (Finding | undefined)[]) => Result;
  /** Whether the peer answered this run; where it did not, its maintenance is the last one known. */
  readonly peerAnswered: boolean;
}

function present<T>(item: T | undefined): item is T {
  return item !== undefined;
}

/** With excusable findings, the Result carries them, for the runner (src/lib/runtime/runner.ts). */
function withExcusable(res: Result, findings: readonly Finding[], rebuild: ExcusableFindings["rebuild"], peerAnswered = true): Result {
  return findings.some((f) => f.maintenance !== undefined && f.maintenance.length > 0) ? { ...res, excusable: { findings, rebuild, peerAnswered } } : res;
}

/** A Result whose peer could not be asked this run: its maintenance is the last one known. */
export function peerNotAnswered(res: Result): Result {
  return res.excusable ? { ...res, excusable: { ...res.excusable, peerAnswered: false } } : res;
}

/** Worst first, then in the order found, so the summary names the most urgent problem. */
export function sortFindings<T extends Finding>(findings: readonly T[]): T[] {
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => URGENCY[a.finding.status] - URGENCY[b.finding.status] || a.index - b.index)
    .map(({ finding }) => finding);
}

/** How the summary reads when several findings share the worst status; by default the first one's, with "(+N more)". */
export type ManySummary<T extends Finding> = (worst: readonly T[]) => string | undefined;

/**
 * With no findings, an OK Result with okSummary. Otherwise the worst finding's status (CRITICAL wins
 * over UNKNOWN here: a fault seen is reported as such), its summary plus "(+N more)", and the
 * findings' details before the context lines.
 */
export function resultFromFindings<T extends Finding>(
  findings: readonly T[],
  okSummary: string,
  context: readonly string[] = [],
  perfdata: readonly PerfDatum[] = [],
  manySummary?: ManySummary<T>,
): Result {
  const rebuild = (kept: readonly (Finding | undefined)[]): Result => plainResult(kept.filter(present), okSummary, context, perfdata, manySummary as ManySummary<Finding> | undefined);
  return withExcusable(plainResult(findings, okSummary, context, perfdata, manySummary), findings, rebuild);
}

function plainResult<T extends Finding>(findings: readonly T[], okSummary: string, context: readonly string[], perfdata: readonly PerfDatum[], manySummary: ManySummary<T> | undefined): Result {
  const sorted = sortFindings(findings);
  const first = sorted[0];
  if (first === undefined) return { status: "OK", summary: okSummary, details: [...context], perfdata: [...perfdata] };
  const status = first.status;
  const details = [...sorted.flatMap((f) => f.detail ?? f.summary), ...context];
  const worst = sorted.filter((f) => f.status === status);
  const listed = worst.length > 1 ? manySummary?.(worst) : undefined;
  if (listed !== undefined) return { status, summary: listed, details, perfdata: [...perfdata] };
  const more = sorted.length - 1;
  // The count must survive the 80-character cut of the first line, so the summary is cut before it.
  const suffix = more > 0 ? ` (+${more} more)` : "";
  const room = SUMMARY_MAX_CHARS - `${status}: `.length - suffix.length;
  return { status, summary: `${truncate(first.summary, room)}${suffix}`, details, perfdata: [...perfdata] };
}

/**
 * The verdict of a check that compares the hosts when the peer's view is missing: this host's own
 * faults stand, with the reason the pair could not be compared; with none, no comparison was made,
 * and that is no OK.
 */
export function withoutPeerView(findings: readonly Finding[], peer: PeerViewMissing, localRole: Role, context: readonly string[], perfdata: readonly PerfDatum[] = []): Result {
  const missingLine = `pair view missing: ${peer.missing}`;
  const missingContext = [peer.detail ? `${missingLine}: ${peer.detail}` : missingLine, ...context];
  // The missing view itself is a finding the peer's maintenance (its reboot) excuses; it is last.
  const missing: Finding = { status: "UNKNOWN", summary: missingLine, detail: `${localRole} alone shows no fault`, maintenance: [otherRole(localRole)] };
  const rebuild = (kept: readonly (Finding | undefined)[]): Result => {
    const own = kept.slice(0, -1).filter(present);
    const stillMissing = kept[kept.length - 1];
    if (own.length > 0 || stillMissing === undefined) return plainResult(own, "", missingContext, perfdata, undefined);
    return result("UNKNOWN", stillMissing.summary, [`${localRole} alone shows no fault`, ...missingContext], [...perfdata]);
  };
  const all = [...findings, missing];
  return peerNotAnswered(withExcusable(rebuild(all), all, rebuild));
}

/** Why the peer's view could not be had (unreachable, or its output could not be read). */
export interface PeerViewMissing {
  /** Short, for the summary: "cannot reach secondary 10.231.0.2: connection refused". */
  readonly missing: string;
  /** The rest of the story (ssh's last words, the line that could not be parsed). */
  readonly detail?: string;
}

/**
 * For the checks that still judge this host when the peer cannot be asked. Any failure that is not
 * ours to describe (a bug) is thrown on, to become UNKNOWN in the runner.
 */
export function peerViewMissing(peerRole: Role, error: unknown): PeerViewMissing {
  if (!(error instanceof CarpentryError)) throw error;
  // A HostError names the host already; a parser does not know which host's output it read.
  const missing = error instanceof ParseError && !error.summary.includes(peerRole) ? `${peerRole}: ${error.summary}` : error.summary;
  return error.detail ? { missing, detail: error.detail } : { missing };
}

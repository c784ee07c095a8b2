// Turning a check's list of problems into one Result: the worst status, the first of the worst
// problems as the summary (with a count of the others), every problem as a detail line.
import type { Role } from "./config.js";
import { CarpentryError, ParseError } from "./errors.js";
import { SUMMARY_MAX_CHARS, truncate, worstStatus, type PerfDatum, type Result, type Status } from "./result.js";

export interface Finding {
  readonly status: Exclude<Status, "OK">;
  /** Short: it becomes the summary when it is the first of the worst findings. */
  readonly summary: string;
  /** The whole story, one line; defaults to the summary. */
  readonly detail?: string;
}

const ORDER: Readonly<Record<Finding["status"], number>> = { CRITICAL: 0, UNKNOWN: 1, WARNING: 2 };

/** Worst first, then in the order found, so the summary names the most urgent problem. */
function sortFindings(findings: readonly Finding[]): Finding[] {
  return findings.map((finding, index) => ({ finding, index })).sort((a, b) => ORDER[a.finding.status] - ORDER[b.finding.status] || a.index - b.index).map(({ finding }) => finding);
}

/**
 * With no findings, an OK Result with okSummary. Otherwise the worst finding's status (CRITICAL wins
 * over UNKNOWN here: a fault seen is reported as such), its summary plus "(+N more)", and the
 * findings' details before the context lines.
 */
export function resultFromFindings(findings: readonly Finding[], okSummary: string, context: readonly string[] = [], perfdata: readonly PerfDatum[] = []): Result {
  const sorted = sortFindings(findings);
  const first = sorted[0];
  if (first === undefined) return { status: "OK", summary: okSummary, details: [...context], perfdata: [...perfdata] };
  const more = sorted.length - 1;
  const status = sorted.some((f) => f.status === "CRITICAL") ? "CRITICAL" : worstStatus(sorted.map((f) => f.status));
  // The count must survive the 80-character cut of the first line, so the summary is cut before it.
  const suffix = more > 0 ? ` (+${more} more)` : "";
  const room = SUMMARY_MAX_CHARS - `${status}: `.length - suffix.length;
  return {
    status,
    summary: `${truncate(first.summary, room)}${suffix}`,
    details: [...sorted.map((f) => f.detail ?? f.summary), ...context],
    perfdata: [...perfdata],
  };
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

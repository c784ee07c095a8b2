// What every check prints and exits with, in one place: statuses and exit codes, the first line (<= 80 characters before
// any perfdata), details bounded to what monit keeps (500 bytes by default), --json, and escaping of
// control characters that come from files or command output.

import type { ExcusableFindings } from "./findings.js";

export type Status = "OK" | "WARNING" | "CRITICAL" | "UNKNOWN";
export type ExitCode = 0 | 1 | 2 | 3;

export const EXIT_CODE: Readonly<Record<Status, ExitCode>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

export const SUMMARY_MAX_CHARS = 80;
const DEFAULT_OUTPUT_MAX_BYTES = 500;

export interface PerfDatum {
  label: string;
  value: number | "U";
  uom?: "" | "s" | "ms" | "%" | "B" | "KB" | "MB" | "c";
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

export interface Result {
  status: Status;
  summary: string;
  details: string[];
  perfdata: PerfDatum[];
  /** The findings that maintenance may excuse, for the runner; never printed. */
  excusable?: ExcusableFindings;
}

export interface ResultMeta {
  check: string;
  host: string;
  durationMs: number;
}

export function result(status: Status, summary: string, details: string[] = [], perfdata: PerfDatum[] = []): Result {
  return { status, summary, details, perfdata };
}

// UNKNOWN ranks above CRITICAL for the exit code of a run, as monit and Nagios read it: a check that
// could not look is never quieter than one that saw a fault.
const SEVERITY: Readonly<Record<Status, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = "OK";
  for (const status of statuses) if (SEVERITY[status] > SEVERITY[worst]) worst = status;
  return worst;
}

/**
 * What needs a hand first: CRITICAL, then UNKNOWN, WARNING, OK. The order of findings within a check
 * (a fault seen outranks a view that could not be had) and of checks in a report.
 */
export const URGENCY: Readonly<Record<Status, number>> = { CRITICAL: 0, UNKNOWN: 1, WARNING: 2, OK: 3 };

// Escapes C0/C1 controls, DEL, and the line/paragraph separators so one value is one printed line and
// a crafted file cannot move the cursor or inject a fake status line; and the bidirectional-text
// controls (LRM/RLM, the embeddings and overrides U+202A-202E, the isolates U+2066-2069, the Arabic
// letter mark), with which a file name or value could display as something other than what it is.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const named = NAMED_ESCAPES[ch];
    if (named) return named;
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Cuts text to a number of characters, marking the cut. */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = Math.max(0, maxChars - 3);
  // Never half a surrogate pair: it would print as a replacement character.
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}...`;
}

function formatNumber(value: number | "U"): string {
  if (value === "U") return "U";
  if (!Number.isFinite(value)) return "U";
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}

// Perfdata labels: no spaces, '=' or quotes, lowercase; the Nagios guidelines want the first 19
// characters unique, which the checks' label choice takes care of.
function perfLabel(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, "_")
      .replace(/^_+|_+$/g, "") || "value"
  );
}

/**
 * A warn/crit field as perfdata carries it: a Nagios range of plain numbers, at most
 * PERF_RANGE_MAX_CHARS; anything else (it comes from -w/-c or the config) is left empty rather than
 * copied into the output.
 */
const PERF_RANGE = /^@?(~|-?\d+(\.\d+)?)?(:(-?\d+(\.\d+)?)?)?$/;
const PERF_RANGE_MAX_CHARS = 40;

function perfRange(text: string | undefined): string {
  if (text === undefined || text.length > PERF_RANGE_MAX_CHARS || !PERF_RANGE.test(text)) return "";
  return text;
}

export function formatPerfdata(perfdata: readonly PerfDatum[]): string {
  return perfdata
    .map((datum) => {
      const fields = [
        `${perfLabel(datum.label)}=${formatNumber(datum.value)}${datum.uom ?? ""}`,
        perfRange(datum.warn),
        perfRange(datum.crit),
        datum.min === undefined ? "" : formatNumber(datum.min),
        datum.max === undefined ? "" : formatNumber(datum.max),
      ];
      while (fields.length > 1 && fields[fields.length - 1] === "") fields.pop();
      return fields.join(";");
    })
    .join(" ");
}

/** The first line, its perfdata left out where the line would not fit in what monit keeps. */
export function firstLine(res: Result): string {
  const head = truncate(`${res.status}: ${escapeControl(res.summary)}`, SUMMARY_MAX_CHARS);
  const perfdata = formatPerfdata(res.perfdata);
  const line = `${head} | ${perfdata}`;
  return perfdata !== "" && Buffer.byteLength(line) + 1 <= DEFAULT_OUTPUT_MAX_BYTES ? line : head;
}

/**
 * The text output: first line, then one detail a line. Without verbose the whole output stays within
 * maxBytes (monit 5.33 keeps 512 bytes); the lines that do not fit are counted in a last line.
 */
export function formatText(res: Result, verbose: boolean, maxBytes = DEFAULT_OUTPUT_MAX_BYTES): string {
  const head = firstLine(res);
  const lines = res.details.map(escapeControl);
  if (verbose) return [head, ...lines].join("\n") + "\n";
  const out = [head];
  let used = Buffer.byteLength(head) + 1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const remaining = lines.length - i;
    const moreNote = `... ${remaining} more line${remaining === 1 ? "" : "s"} with -v`;
    const isLast = i === lines.length - 1;
    const lineBytes = Buffer.byteLength(line) + 1;
    // Keep room for the "more" note unless this line is the last one.
    const reserve = isLast ? 0 : Buffer.byteLength(moreNote) + 1;
    if (used + lineBytes + reserve <= maxBytes) {
      out.push(line);
      used += lineBytes;
      continue;
    }
    if (used + Buffer.byteLength(moreNote) + 1 <= maxBytes) out.push(moreNote);
    break;
  }
  return out.join("\n") + "\n";
}

export interface JsonResult {
  check: string;
  status: Status;
  code: ExitCode;
  summary: string;
  details: string[];
  perfdata: PerfDatum[];
  host: string;
  durationMs: number;
}

export function toJson(res: Result, meta: ResultMeta): JsonResult {
  return {
    check: meta.check,
    status: res.status,
    code: EXIT_CODE[res.status],
    summary: escapeControl(res.summary),
    details: res.details.map(escapeControl),
    perfdata: res.perfdata,
    host: meta.host,
    durationMs: Math.round(meta.durationMs),
  };
}

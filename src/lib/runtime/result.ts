// What every check prints and exits with, in one place: statuses and exit codes, the first line (<= 80 characters before
// any perfdata), details bounded to what monit keeps (500 bytes by default), --json, and escaping of
// control characters that come from files or command output.

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
// a crafted file cannot move the cursor or inject a fake status line.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
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
  return `${text.slice(0, Math.max(0, maxChars - 3))}...`;
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

export function formatPerfdata(perfdata: readonly PerfDatum[]): string {
  return perfdata
    .map((datum) => {
      const fields = [
        `${perfLabel(datum.label)}=${formatNumber(datum.value)}${datum.uom ?? ""}`,
        datum.warn ?? "",
        datum.crit ?? "",
        datum.min === undefined ? "" : formatNumber(datum.min),
        datum.max === undefined ? "" : formatNumber(datum.max),
      ];
      while (fields.length > 1 && fields[fields.length - 1] === "") fields.pop();
      return fields.join(";");
    })
    .join(" ");
}

export function firstLine(res: Result): string {
  const head = truncate(`${res.status}: ${escapeControl(res.summary)}`, SUMMARY_MAX_CHARS);
  return res.perfdata.length > 0 ? `${head} | ${formatPerfdata(res.perfdata)}` : head;
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

// `ntpctl -s all` of OpenBSD's ntpd (usr.sbin/ntpd/ntpctl.c): the status line of `-s status`
// (show_status_msg(): "N/M peers valid, [N/M sensors valid, ][constraint offset Ns, ]clock synced,
// stratum N" or "clock unsynced[, clock offset is X.XXXms]"), then the peers (show_peer_msg(): an
// address line, then " *" for the peer the clock follows, wt, tl, st, next, poll, offset, delay,
// jitter) and the sensors. The status line alone gives no offset while the clock is synced, which is
// why the check asks `-s all`: the offset is that of the peer or sensor marked "*".

import { ParseError } from "../runtime/errors.js";

export interface NtpSource {
  /** The address line: "176.9.31.215 from pool de.pool.ntp.org", a sensor's "nmea0  GPS". */
  readonly name: string;
  readonly kind: "peer" | "sensor";
  /** Marked "*": the clock follows it. */
  readonly selected: boolean;
  /** null: "peer not valid" (no reply yet or no longer trusted). */
  readonly offsetMs: number | null;
  readonly stratum: number | null;
}

export interface NtpStatus {
  /** The status line as printed, for a detail line. */
  readonly statusLine: string;
  readonly synced: boolean;
  /** Printed only while synced. */
  readonly stratum: number | null;
  /** Printed only while unsynced (and only when not ~0): the adjtime offset. */
  readonly unsyncedOffsetMs: number | null;
  readonly peersValid: number;
  readonly peersTotal: number;
  readonly sources: readonly NtpSource[];
}

const STATUS_PARTS: readonly RegExp[] = [
  /^(\d+)\/(\d+) peers valid$/,
  /^\d+\/\d+ sensors valid$/,
  /^constraint offset -?\d+s(?: \(\d+ errors?\))?$/,
  /^constraints invalid$/,
  /^clock synced$/,
  /^stratum (\d+)$/,
  /^clock unsynced$/,
  /^clock offset is (-?\d+\.\d+)ms$/,
];
const PEER_ROW = /^\s*(\*)?\s*(\d+)\s+(\d+)\s+(\d+|-)\s+(\d+)s\s+(\d+)s\s+(?:(-?\d+\.\d+)ms\s+(-?\d+\.\d+)ms\s+(-?\d+\.\d+)ms|---- peer not valid ----)\s*$/;
const SENSOR_ROW = /^\s*(\*)?\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)s\s+(\d+)s\s+(?:(-?\d+\.\d+)ms\s+(-?\d+\.\d+)ms|- sensor not valid -)\s*$/;

function statusLine(text: string, lineNumber: number, what: string): Omit<NtpStatus, "sources"> {
  let synced: boolean | undefined;
  let stratum: number | null = null;
  let unsyncedOffsetMs: number | null = null;
  let peersValid = 0;
  let peersTotal = 0;
  const noneConfigured = "no peers and no sensors configured ";
  const body = text.startsWith(noneConfigured) ? text.slice(noneConfigured.length) : text;
  for (const part of body.split(", ")) {
    const pattern = STATUS_PARTS.find((candidate) => candidate.test(part));
    if (pattern === undefined) throw new ParseError(what, `unknown status part \`${part}\``, lineNumber, text);
    const m = pattern.exec(part);
    if (part === "clock synced") synced = true;
    else if (part === "clock unsynced") synced = false;
    else if (pattern === STATUS_PARTS[0]) {
      peersValid = Number(m?.[1]);
      peersTotal = Number(m?.[2]);
    } else if (pattern === STATUS_PARTS[5]) stratum = Number(m?.[1]);
    else if (pattern === STATUS_PARTS[7]) unsyncedOffsetMs = Number(m?.[1]);
  }
  if (synced === undefined) throw new ParseError(what, "the status line says neither `clock synced` nor `clock unsynced`", lineNumber, text);
  if (synced && stratum === null) throw new ParseError(what, "`clock synced` without its stratum", lineNumber, text);
  return { statusLine: text, synced, stratum, unsyncedOffsetMs, peersValid, peersTotal };
}

export function parseNtpctlAll(text: string): NtpStatus {
  const what = "ntpctl -s all output";
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  let status: Omit<NtpStatus, "sources"> | undefined;
  let pendingStatus = "";
  let section: "peer" | "sensor" | undefined;
  let name: { text: string; lineNumber: number } | undefined;
  const sources: NtpSource[] = [];
  for (const [index, rawLine] of lines.entries()) {
    const lineNumber = index + 1;
    const raw = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (raw.trim() === "") continue;
    if (status === undefined) {
      // "no peers and no sensors configured" ends its own line; the clock's part follows on the next.
      if (raw === "no peers and no sensors configured") {
        pendingStatus = `${raw} `;
        continue;
      }
      status = statusLine(pendingStatus + raw, lineNumber, what);
      continue;
    }
    if (raw === "peer" || raw === "sensor") {
      if (name !== undefined) throw new ParseError(what, "a source's name line without its figures", name.lineNumber, name.text);
      section = raw;
      continue;
    }
    if (section === undefined) throw new ParseError(what, "expected a `peer` or `sensor` section", lineNumber, raw);
    if (/^\s+wt (tl|gd) st\s+next\s+poll\s+offset/.test(raw)) continue;
    const row = (section === "peer" ? PEER_ROW : SENSOR_ROW).exec(raw);
    if (row) {
      if (name === undefined) throw new ParseError(what, `${section} figures without a name line`, lineNumber, raw);
      const stratum = row[4] === undefined || row[4] === "-" ? null : Number(row[4]);
      sources.push({ name: name.text, kind: section, selected: row[1] === "*", offsetMs: row[7] === undefined ? null : Number(row[7]), stratum });
      name = undefined;
      continue;
    }
    if (name !== undefined || /^\s/.test(raw) || /\s(ms|s)$/.test(raw) || /not valid/.test(raw)) {
      throw new ParseError(what, `cannot read ${section} figures`, lineNumber, raw);
    }
    name = { text: raw.trim(), lineNumber };
  }
  if (status === undefined) throw new ParseError(what, "no output");
  if (name !== undefined) throw new ParseError(what, "last source has no figures; output truncated?", name.lineNumber, name.text);
  return { ...status, sources };
}

/** The clock's offset: the selected source's while synced, ntpd's own figure while not; null when none is printed. */
export function ntpOffsetMs(status: NtpStatus): number | null {
  if (!status.synced) return status.unsyncedOffsetMs;
  return status.sources.find((source) => source.selected)?.offsetMs ?? null;
}

// `netstat -sp carp` / `netstat -sp pfsync` (carp_stats() / pfsync_stats() in usr.bin/netstat/inet.c).
// Rows are `\t<number> <text>`, sub-rows use two TABs. The p() macro pluralises the noun, so the
// same counter reads "1 packet received" or "2 packets received"; keys use the plural form so they
// do not change with the value. With `-ss` rows whose value is 0 are not printed at all.

import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export interface ProtocolStats {
  /** The header word without the colon: `carp`, `pfsync`. */
  protocol: string;
  /**
   * Value by the row text with `%s` plurals filled in as for a count other than 1, e.g.
   * `packets received (IPv4)`, `discarded for bad checksums`, `transitions to master`.
   */
  counters: Record<string, number>;
  /** Same values keyed by the kernel struct field (`carps_preempt`, `pfsyncs_badstate`), known rows only. */
  fields: Record<string, number>;
  /** Row texts (as printed) that are in no known template; their keys in counters are as printed. */
  unrecognized: string[];
}

interface RowTemplate {
  field: string;
  /** printf text after `%llu `, `%s` marking the plural suffix. */
  text: string;
}

// Format strings from inet.c. Both `bad vhid` and `unknown vhid` wordings exist across releases.
const TEMPLATES: Record<string, readonly RowTemplate[]> = {
  carp: [
    { field: "carps_ipackets", text: "packet%s received (IPv4)" },
    { field: "carps_ipackets6", text: "packet%s received (IPv6)" },
    { field: "carps_badif", text: "packet%s discarded for bad interface" },
    { field: "carps_badttl", text: "packet%s discarded for wrong TTL" },
    { field: "carps_hdrops", text: "packet%s shorter than header" },
    { field: "carps_badsum", text: "discarded for bad checksum%s" },
    { field: "carps_badver", text: "discarded packet%s with a bad version" },
    { field: "carps_badlen", text: "discarded because packet too short" },
    { field: "carps_badauth", text: "discarded for bad authentication" },
    { field: "carps_badvhid", text: "discarded for unknown vhid" },
    { field: "carps_badvhid", text: "discarded for bad vhid" },
    { field: "carps_badaddrs", text: "discarded because of a bad address list" },
    { field: "carps_opackets", text: "packet%s sent (IPv4)" },
    { field: "carps_opackets6", text: "packet%s sent (IPv6)" },
    { field: "carps_onomem", text: "send failed due to mbuf memory error" },
    { field: "carps_preempt", text: "transition%s to master" },
  ],
  pfsync: [
    { field: "pfsyncs_ipackets", text: "packet%s received (IPv4)" },
    { field: "pfsyncs_ipackets6", text: "packet%s received (IPv6)" },
    { field: "pfsyncs_badif", text: "packet%s discarded for bad interface" },
    { field: "pfsyncs_badttl", text: "packet%s discarded for bad ttl" },
    { field: "pfsyncs_hdrops", text: "packet%s shorter than header" },
    { field: "pfsyncs_badver", text: "packet%s discarded for bad version" },
    { field: "pfsyncs_badauth", text: "packet%s discarded for bad HMAC" },
    { field: "pfsyncs_badact", text: "packet%s discarded for bad action" },
    { field: "pfsyncs_badlen", text: "packet%s discarded for short packet" },
    { field: "pfsyncs_badval", text: "state%s discarded for bad values" },
    { field: "pfsyncs_stale", text: "stale state%s" },
    { field: "pfsyncs_badstate", text: "failed state lookup/insert%s" },
    { field: "pfsyncs_opackets", text: "packet%s sent (IPv4)" },
    { field: "pfsyncs_opackets6", text: "packet%s sent (IPv6)" },
    { field: "pfsyncs_onomem", text: "send failed due to mbuf memory error" },
    { field: "pfsyncs_oerrors", text: "send error" },
  ],
};

function matchTemplate(protocol: string, value: number, text: string): RowTemplate | undefined {
  // plural() in netstat: "s" unless the value is exactly 1.
  const suffix = value === 1 ? "" : "s";
  return TEMPLATES[protocol]?.find((t) => t.text.replace("%s", suffix) === text);
}

export function parseProtocolStats(text: string): ProtocolStats {
  refuseForeign(text, "netstat -s output");
  const what = "netstat -s output";
  const lines = text.split("\n");
  // Output always ends with a newline; without one the last row was cut, maybe inside its number.
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  let result: ProtocolStats | null = null;
  let lastRow: { lineNumber: number; raw: string; recognized: boolean } | null = null;
  for (const [index, rawLine] of lines.entries()) {
    const lineNumber = index + 1;
    const raw = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (raw.trim() === "") continue;
    if (result === null) {
      const hm = /^([a-z][a-z0-9]*):$/.exec(raw);
      if (!hm) throw new ParseError(what, "expected a protocol header such as `carp:`", lineNumber, raw);
      result = { protocol: hm[1] ?? "", counters: {}, fields: {}, unrecognized: [] };
      continue;
    }
    const m = /^\s+([0-9]+) (\S.*)$/.exec(raw);
    if (!m) throw new ParseError(what, "expected an indented `<number> <text>` row", lineNumber, raw);
    const value = Number(m[1]);
    const rowText = (m[2] ?? "").trimEnd();
    const template = matchTemplate(result.protocol, value, rowText);
    const key = template === undefined ? rowText : template.text.replace("%s", "s");
    if (template === undefined) result.unrecognized.push(rowText);
    if (result.counters[key] !== undefined) throw new ParseError(what, `row printed twice: ${key}`, lineNumber, raw);
    result.counters[key] = value;
    if (template !== undefined) result.fields[template.field] = value;
    lastRow = { lineNumber, raw, recognized: template !== undefined };
  }
  if (result === null) throw new ParseError(what, "no output");
  // An unknown text on the last row is most likely a row cut short; with -ss a missing row reads
  // as zero, so accepting it could hide e.g. a transition to master.
  if (lastRow !== null && !lastRow.recognized) {
    throw new ParseError(what, "last row is not a known counter; output truncated?", lastRow.lineNumber, lastRow.raw);
  }
  return result;
}

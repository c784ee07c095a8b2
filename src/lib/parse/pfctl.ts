// Parsers for pfctl(8) output: `-si`/`-vsi` (print_status() in pfctl_parser.c), `-sT`/`-vsT`/`-vvsT`
// (pfctl_table.c), `-t NAME -T show` (print_addrx) and `-ss`/`-vss`/`-vvss` (print_state() in
// pf_print_state.c). See test/fixtures/openbsd/README.md for the formats.
//
// No real OpenBSD 7.x capture of -si or -ss exists in the fixtures; the 7.x shapes come from the C
// source, and the FreeBSD samples are accepted because they share the layout.

import { isIP } from "node:net";
import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export interface PfStateTableStats {
  currentEntries: number;
  /** `half-open tcp` row; OpenBSD 7.x prints it, FreeBSD and older OpenBSD do not. */
  halfOpenTcp: number | null;
  searches: number;
  inserts: number;
  removals: number;
}

export interface PfInterfaceStats {
  /** The `set loginterface` interface. */
  name: string;
  /** Keyed `Bytes In`, `Bytes Out`, `Packets In Passed`, `Packets Out Blocked`, … */
  rows: Record<string, { ipv4: number; ipv6: number }>;
}

export interface PfInfo {
  enabled: boolean;
  /** The status text without `Status: `, e.g. `Enabled for 161 days 21:24:45`. */
  statusLine: string;
  /** Time since pf was enabled/disabled; null when the line carries no duration. */
  runtimeSeconds: number | null;
  /** Debug level word: syslog names on OpenBSD 7.x (`err`), `None|Urgent|Misc|Loud` elsewhere. */
  debug: string;
  /** `-v` only. */
  hostid: string | null;
  /** `-v` only: the ruleset checksum pfsync peers compare. */
  checksum: string | null;
  states: PfStateTableStats;
  /** The `Counters` section, e.g. `match`, `state-mismatch`, `memory`. */
  counters: Record<string, number>;
  /** `-v` only: the `Limit Counters` section. */
  limitCounters: Record<string, number>;
  /** Every numeric single-value row by section name (`Source Tracking Table`, `Fragments`, …). */
  sections: Record<string, Record<string, number>>;
  interfaceStats: PfInterfaceStats | null;
}

export interface PfTableRef {
  name: string;
  anchor: string | null;
}

export interface PfTableTraffic {
  packets: number;
  bytes: number;
}

/** The `-vvsT` block under a table's flag line. */
export interface PfTableStats {
  addresses: number;
  /** ctime() text, as printed. */
  cleared: string;
  anchorReferences: number;
  ruleReferences: number;
  evaluationsNoMatch: number;
  evaluationsMatch: number;
  /** Keyed `In/Block`, `In/Match`, `In/Pass`, `In/XPass`, `Out/…` (FreeBSD lacks the Match rows). */
  traffic: Record<string, PfTableTraffic>;
}

export interface PfTableInfo extends PfTableRef {
  const: boolean;
  persist: boolean;
  active: boolean;
  inactive: boolean;
  referenced: boolean;
  /** `h`: referenced by an anchor (REFDANCHOR). */
  referencedByAnchor: boolean;
  /** `C`: the table keeps per-address counters. */
  counters: boolean;
  /** Present only with `-vvsT`. */
  stats: PfTableStats | null;
}

export type PfStateDirection = "->" | "<-";

export interface PfState {
  /** 1-based line of the state's first line. */
  line: number;
  /** `all` for floating states, else the interface the state is bound to. */
  ifname: string;
  proto: string;
  /** The two endpoints as printed (wire side of the translation, in print order). */
  wire: [string, string];
  /** The `( … )` stack-side address after an endpoint when pf translated it, else null. */
  stack: [string | null, string | null];
  /** `->` outbound, `<-` inbound. */
  direction: PfStateDirection;
  /** e.g. `ESTABLISHED:ESTABLISHED`, `MULTIPLE:SINGLE`, `PROXY:SRC`, `0:0` (ICMP). */
  stateText: string;
  /** `-v`: */
  ageSeconds?: number;
  expiresSeconds?: number;
  packets?: [number, number];
  bytes?: [number, number];
  rule?: number;
  anchor?: number;
  /** `-v` trailing words such as `sloppy`, `pflow`, `source-track`, `sticky-address`. */
  stateFlags?: string[];
  /** `-vv`: 16 hex digits; pfsync peers share ids. */
  id?: string;
  /** `-vv`: 8 hex digits, the pf hostid of the node that created the state. */
  creatorid?: string;
}

interface NumberedLine {
  lineNumber: number;
  raw: string;
}

// Command output always ends with a newline; a last line without one was cut mid-line (a dropped
// connection, a full disk), and a cut inside a number would otherwise read as a smaller number.
function numberedLines(text: string, what: string): NumberedLine[] {
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  return lines.map((l, i) => ({ lineNumber: i + 1, raw: l.endsWith("\r") ? l.slice(0, -1) : l }));
}

// ---------------------------------------------------------------------------------------------
// pfctl -si

const STATUS_RE = /^Status: (Enabled|Disabled)(?: for ([0-9]+) days ([0-9]{2,}):([0-9]{2}):([0-9]{2}))?\s+Debug: (\S+)\s*$/;
const DEBUG_LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "None", "Urgent", "Misc", "Loud"];
// `  name   value   [rate/s]` — name may contain spaces, the rate is blank for current entries.
const ROW_RE = /^\s+(\S(?:.*?\S)?)\s+([0-9]+)(\s+[0-9]+(?:\.[0-9]+)?\/s)?\s*$/;
// Rows printed with `%14s` "" instead of a rate even when pf has a runtime.
const RATELESS_ROWS = new Set(["current entries", "half-open tcp"]);
const STRICT_SECTIONS = new Set(["State Table", "Source Tracking Table", "Fragments", "Counters", "Limit Counters"]);

export function parsePfInfo(text: string): PfInfo {
  refuseForeign(text, "pfctl -si output");
  const what = "pfctl -si output";
  const lines = numberedLines(text, what);
  const first = lines.find((l) => l.raw.trim() !== "");
  if (first === undefined) throw new ParseError(what, "no output");
  const sm = STATUS_RE.exec(first.raw);
  if (!sm) throw new ParseError(what, "expected `Status: Enabled|Disabled … Debug: LEVEL`", first.lineNumber, first.raw);
  const [, enabledWord, days, hh, mm, ss, debug = ""] = sm;
  if (!DEBUG_LEVELS.includes(debug)) throw new ParseError(what, `unknown debug level ${debug}`, first.lineNumber, first.raw);
  const statusLine = first.raw.slice("Status: ".length, first.raw.indexOf("Debug:")).trim();
  const runtimeSeconds = days === undefined ? null : Number(days) * 86400 + Number(hh) * 3600 + Number(mm) * 60 + Number(ss);

  let hostid: string | null = null;
  let checksum: string | null = null;
  const sections: Record<string, Record<string, number>> = {};
  let interfaceStats: PfInterfaceStats | null = null;
  let section: string | null = null;
  let subheading = "";

  for (const line of lines) {
    if (line === first || line.raw.trim() === "") continue;
    if (!/^\s/.test(line.raw)) {
      const hm = /^(Hostid|Checksum):\s+(0x[0-9a-fA-F]+)\s*$/.exec(line.raw);
      if (hm) {
        if (hm[1] === "Hostid") hostid = hm[2] ?? null;
        else checksum = hm[2] ?? null;
        section = null;
        continue;
      }
      // Section headings carry column titles after a run of spaces (`State Table   Total   Rate`).
      const name = line.raw.split(/\s{2,}/)[0]?.trim() ?? "";
      const ifm = /^Interface Stats for (\S+)$/.exec(name);
      if (ifm) {
        interfaceStats = { name: ifm[1] ?? "", rows: {} };
        section = name;
        subheading = "";
        continue;
      }
      if (sections[name] !== undefined) throw new ParseError(what, `section ${name} appears twice`, line.lineNumber, line.raw);
      section = name;
      sections[name] = {};
      continue;
    }
    if (section === null) throw new ParseError(what, "row outside any section", line.lineNumber, line.raw);
    if (interfaceStats !== null && section.startsWith("Interface Stats for ")) {
      const im = /^\s+(\S(?:.*?\S)?)\s+([0-9]+)\s+([0-9]+)\s*$/.exec(line.raw);
      if (im) {
        const key = subheading === "" || /^Bytes/.test(im[1] ?? "") ? (im[1] ?? "") : `${subheading} ${im[1] ?? ""}`;
        interfaceStats.rows[key] = { ipv4: Number(im[2]), ipv6: Number(im[3]) };
      } else if (/^\s+(Packets In|Packets Out)\s*$/.test(line.raw)) {
        subheading = line.raw.trim();
      } else {
        throw new ParseError(what, "cannot read interface stats row", line.lineNumber, line.raw);
      }
      continue;
    }
    const rows = sections[section] ?? {};
    const rm = ROW_RE.exec(line.raw);
    if (rm) {
      const name = rm[1] ?? "";
      // With a runtime every counter row ends in a rate; a row without one was cut inside its
      // number, which would otherwise read as a smaller value.
      if (STRICT_SECTIONS.has(section) && runtimeSeconds !== null && runtimeSeconds > 0 && rm[3] === undefined && !RATELESS_ROWS.has(name)) {
        throw new ParseError(what, `row in ${section} has no rate; output truncated?`, line.lineNumber, line.raw);
      }
      if (rows[name] !== undefined) throw new ParseError(what, `${name} appears twice in ${section}`, line.lineNumber, line.raw);
      rows[name] = Number(rm[2]);
      continue;
    }
    const wm = /^\s+(\S(?:.*?\S)?)\s+([0-9]+) states\s*$/.exec(line.raw);
    if (section === "Adaptive Syncookies Watermarks" && wm) {
      rows[wm[1] ?? ""] = Number(wm[2]);
      continue;
    }
    // Sections whose rows are not counters (FreeBSD `Syncookies`: `mode never`) are skipped; the
    // counter sections must read fully, a damaged row there could be the one a check needs.
    if (STRICT_SECTIONS.has(section) || section === "Adaptive Syncookies Watermarks") {
      throw new ParseError(what, `cannot read row in ${section}`, line.lineNumber, line.raw);
    }
  }

  const table = sections["State Table"];
  if (table === undefined) throw new ParseError(what, "no State Table section; output truncated?");
  const need = (key: string): number => {
    const v = table[key];
    if (v === undefined) throw new ParseError(what, `State Table has no \`${key}\` row; output truncated?`);
    return v;
  };
  const states: PfStateTableStats = {
    currentEntries: need("current entries"),
    halfOpenTcp: table["half-open tcp"] ?? null,
    searches: need("searches"),
    inserts: need("inserts"),
    removals: need("removals"),
  };
  const counters = sections["Counters"];
  if (counters === undefined || Object.keys(counters).length === 0) {
    throw new ParseError(what, "no Counters section; output truncated?");
  }
  return {
    enabled: enabledWord === "Enabled",
    statusLine,
    runtimeSeconds,
    debug,
    hostid,
    checksum,
    states,
    counters,
    limitCounters: sections["Limit Counters"] ?? {},
    sections,
    interfaceStats,
  };
}

// ---------------------------------------------------------------------------------------------
// pfctl -sT / -vsT / -vvsT

// pfctl prints the flags, a TAB, the name, and a TAB and the anchor for a table in an anchor. A
// name may hold a space (`table <"my hosts">`): only a TAB starts the anchor. (Blanks after the
// flags are taken too, for copies whose TABs became spaces.)
const FLAGS_RE = /^([c-])([p-])([a-])([i-])([r-])([h-])([C-])[\t ]+([^\t]*[^\t ])[ ]*(?:\t+([^\t]+))?$/;
const TRAFFIC_RE = /^((?:In|Out)\/(?:Block|Match|Pass|XPass)):\s+\[ Packets: ([0-9]+)\s+Bytes: ([0-9]+)\s+\]$/;
// The two row sets print_tstats() is known to print (OpenBSD has the Match rows, FreeBSD does not);
// any other set means the listing was cut.
const TRAFFIC_SETS = [
  ["In/Block", "In/Match", "In/Pass", "In/XPass", "Out/Block", "Out/Match", "Out/Pass", "Out/XPass"],
  ["In/Block", "In/Pass", "In/XPass", "Out/Block", "Out/Pass", "Out/XPass"],
];

interface PartialTableStats {
  addresses?: number;
  cleared?: string;
  anchorReferences?: number;
  ruleReferences?: number;
  evaluationsNoMatch?: number;
  evaluationsMatch?: number;
  traffic: Record<string, PfTableTraffic>;
}

function finishTableStats(what: string, table: PfTableInfo, partial: PartialTableStats | null): void {
  if (partial === null) return;
  const { addresses, cleared, anchorReferences, ruleReferences, evaluationsNoMatch, evaluationsMatch, traffic } = partial;
  const keys = Object.keys(traffic).sort().join(",");
  if (
    addresses === undefined ||
    cleared === undefined ||
    anchorReferences === undefined ||
    ruleReferences === undefined ||
    evaluationsNoMatch === undefined ||
    evaluationsMatch === undefined ||
    !TRAFFIC_SETS.some((set) => [...set].sort().join(",") === keys)
  ) {
    throw new ParseError(what, `incomplete statistics for table ${table.name}; output truncated?`);
  }
  table.stats = { addresses, cleared, anchorReferences, ruleReferences, evaluationsNoMatch, evaluationsMatch, traffic };
}

/** `pfctl -vsT` (flag column + TAB + name) and `pfctl -vvsT` (plus the statistics block). */
export function parseTableList(text: string): PfTableInfo[] {
  refuseForeign(text, "pfctl -vsT output");
  const what = "pfctl -vsT output";
  const tables: PfTableInfo[] = [];
  let current: PfTableInfo | null = null;
  let partial: PartialTableStats | null = null;
  for (const line of numberedLines(text, what)) {
    if (line.raw.trim() === "") continue;
    if (!/^\s/.test(line.raw)) {
      if (current !== null) finishTableStats(what, current, partial);
      const m = FLAGS_RE.exec(line.raw);
      if (!m) throw new ParseError(what, "expected `FLAGS<TAB>name`", line.lineNumber, line.raw);
      current = {
        name: m[8] ?? "",
        anchor: m[9] ?? null,
        const: m[1] === "c",
        persist: m[2] === "p",
        active: m[3] === "a",
        inactive: m[4] === "i",
        referenced: m[5] === "r",
        referencedByAnchor: m[6] === "h",
        counters: m[7] === "C",
        stats: null,
      };
      partial = null;
      tables.push(current);
      continue;
    }
    if (current === null) throw new ParseError(what, "statistics line before any table", line.lineNumber, line.raw);
    partial ??= { traffic: {} };
    const body = line.raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^Addresses:\s+([0-9]+)$/.exec(body))) {
      partial.addresses = Number(m[1]);
    } else if ((m = /^Cleared:\s+(\S.*)$/.exec(body))) {
      partial.cleared = m[1] ?? "";
    } else if ((m = /^References:\s+\[ Anchors: ([0-9]+)\s+Rules: ([0-9]+)\s+\]$/.exec(body))) {
      partial.anchorReferences = Number(m[1]);
      partial.ruleReferences = Number(m[2]);
    } else if ((m = /^Evaluations:\s+\[ NoMatch: ([0-9]+)\s+Match: ([0-9]+)\s+\]$/.exec(body))) {
      partial.evaluationsNoMatch = Number(m[1]);
      partial.evaluationsMatch = Number(m[2]);
    } else if ((m = TRAFFIC_RE.exec(body))) {
      partial.traffic[m[1] ?? ""] = { packets: Number(m[2]), bytes: Number(m[3]) };
    } else {
      throw new ParseError(what, "cannot read table statistics line", line.lineNumber, line.raw);
    }
  }
  if (current !== null) finishTableStats(what, current, partial);
  return tables;
}

// ---------------------------------------------------------------------------------------------
// pfctl -t NAME -T show

// print_addrx(): "%c %c%s" (feedback char, space, '!' or space, address) + "/prefix" unless a host
// + optional "\t(dns name)" with -r + optional "@ifname". Leading whitespace is not counted, so a
// trimmed copy still reads; a feedback letter (`D  1.2.3.4` from -v expire) does not.
const ENTRY_RE = /^[ \t]*(!?)([0-9A-Fa-f:.]+)(?:\/([0-9]{1,3}))?(?:\t\([^)]*\))?(?:@([A-Za-z][A-Za-z0-9_]*[0-9]+))?$/;

/** Compressed lowercase IPv6 text, so `2001:0DB8::1` and `2001:db8::1` compare equal. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * One `-T show` line to `10.0.0.1`, `!10.0.0.0/8`, `2001:db8::/32` (host prefixes /32 and /128
 * dropped, IPv6 compressed); null when the line is not a table entry.
 */
export function normalizeTableEntry(line: string): string | null {
  const m = ENTRY_RE.exec(line.endsWith("\r") ? line.slice(0, -1) : line);
  if (!m) return null;
  const [, not = "", address = "", prefix, ifname] = m;
  const family = isIP(address);
  if (family === 0) return null;
  const maxPrefix = family === 4 ? 32 : 128;
  if (prefix !== undefined && Number(prefix) > maxPrefix) return null;
  const addr = family === 6 ? canonicalIPv6(address) : address;
  const suffix = prefix === undefined || Number(prefix) === maxPrefix ? "" : `/${Number(prefix)}`;
  return `${not}${addr}${suffix}${ifname === undefined ? "" : `@${ifname}`}`;
}

// ---------------------------------------------------------------------------------------------
// pfctl -ss / -vss / -vvss

// print_host(): optional "(rdomain) " then the address, then ":port" (IPv4) or "[port]" (IPv6).
const HOST = String.raw`(?:\([0-9]+\) )?[^\s()]+`;
// print_state() writes "    " and then "   " before the state pair: exactly seven spaces. The
// pre-4.7 FAQ sample has one or three, and a different column order, so it must not match.
const STATE_RE = new RegExp(String.raw`^(\S+) (\S+) (${HOST})(?: \((${HOST})\))? (->|<-) (${HOST})(?: \((${HOST})\))? {7}(\S+|<BAD STATE LEVELS [0-9]+:[0-9]+>)$`);
const STATE_TEXT_RE = /^(?:[A-Z_0-9]+:[A-Z_0-9]+|PROXY:(?:SRC|DST)|<BAD STATE LEVELS [0-9]+:[0-9]+>)$/;
const DURATION = String.raw`([0-9]{2,}):([0-9]{2}):([0-9]{2})`;
const AGE_RE = new RegExp(String.raw`^age ${DURATION}, expires in ${DURATION}, ([0-9]+):([0-9]+) pkts, ([0-9]+):([0-9]+) bytes((?:, .+)?)$`);
const ID_RE = /^id: ([0-9a-f]{16}) creatorid: ([0-9a-f]{8})(?: .*)?$/;
// print_seq() line that -v adds for TCP: "[lo + win](+diff) wscale N  [lo + win] …".
const SEQ_RE = /^\[[0-9]+ \+ [0-9]+\](?:\(\+[0-9]+\))?(?: wscale [0-9]+)? {2}\[[0-9]+ \+ [0-9]+\](?:\(\+[0-9]+\))?(?: wscale [0-9]+)?$/;

function seconds(h: string | undefined, m: string | undefined, s: string | undefined): number {
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}

export function parseStates(text: string): PfState[] {
  refuseForeign(text, "pfctl -vvss output");
  const what = "pfctl -ss output";
  const states: PfState[] = [];
  let current: PfState | null = null;
  for (const line of numberedLines(text, what)) {
    if (line.raw.trim() === "") continue;
    if (!/^\s/.test(line.raw)) {
      const m = STATE_RE.exec(line.raw);
      if (!m || !STATE_TEXT_RE.test(m[8] ?? "")) {
        throw new ParseError(what, "cannot read state line", line.lineNumber, line.raw);
      }
      current = {
        line: line.lineNumber,
        ifname: m[1] ?? "",
        proto: m[2] ?? "",
        wire: [m[3] ?? "", m[6] ?? ""],
        stack: [m[4] ?? null, m[7] ?? null],
        direction: m[5] === "->" ? "->" : "<-",
        stateText: m[8] ?? "",
      };
      states.push(current);
      continue;
    }
    if (current === null) throw new ParseError(what, "indented line before any state", line.lineNumber, line.raw);
    const body = line.raw.trim();
    let m: RegExpExecArray | null;
    if ((m = AGE_RE.exec(body))) {
      if (current.ageSeconds !== undefined) throw new ParseError(what, "second age line for one state", line.lineNumber, line.raw);
      current.ageSeconds = seconds(m[1], m[2], m[3]);
      current.expiresSeconds = seconds(m[4], m[5], m[6]);
      current.packets = [Number(m[7]), Number(m[8])];
      current.bytes = [Number(m[9]), Number(m[10])];
      current.stateFlags = [];
      for (const part of (m[11] ?? "").split(", ").slice(1)) {
        const pm = /^(rule|anchor) ([0-9]+)$/.exec(part);
        if (pm) {
          if (pm[1] === "rule") current.rule = Number(pm[2]);
          else current.anchor = Number(pm[2]);
        } else if (/^[a-z][a-z-]*$/.test(part)) {
          current.stateFlags.push(part);
        } else {
          throw new ParseError(what, `cannot read ${JSON.stringify(part)} in age line`, line.lineNumber, line.raw);
        }
      }
    } else if ((m = ID_RE.exec(body))) {
      if (current.id !== undefined) throw new ParseError(what, "second id line for one state", line.lineNumber, line.raw);
      current.id = m[1] ?? "";
      current.creatorid = m[2] ?? "";
    } else if (!SEQ_RE.test(body)) {
      throw new ParseError(what, "cannot read state detail line", line.lineNumber, line.raw);
    }
  }
  return states;
}

// ---------------------------------------------------------------------------------------------
// pfctl -sm

/** `pfctl -sm` (pfctl_show_limits(): `%-13s ` name, then `hard limit %8u` or `unlimited`), by pool name. */
export type PfLimits = Readonly<Record<string, number | "unlimited">>;

export function parsePfLimits(text: string): PfLimits {
  const what = "pfctl -sm output";
  const limits: Record<string, number | "unlimited"> = {};
  for (const line of numberedLines(text, what)) {
    if (line.raw.trim() === "") continue;
    const m = /^([a-z][a-z-]*)\s+(?:hard limit\s+([0-9]+)|(unlimited))\s*$/.exec(line.raw);
    if (!m) throw new ParseError(what, "expected `NAME hard limit N` or `NAME unlimited`", line.lineNumber, line.raw);
    const name = m[1] ?? "";
    if (limits[name] !== undefined) throw new ParseError(what, `${name} appears twice`, line.lineNumber, line.raw);
    limits[name] = m[3] === undefined ? Number(m[2]) : "unlimited";
  }
  if (limits["states"] === undefined) throw new ParseError(what, "no `states` limit; output truncated?");
  return limits;
}

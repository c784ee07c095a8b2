// Parsers for OpenBSD ifconfig(8) output: `ifconfig carp` / `ifconfig carpN`, `ifconfig -g <group>`
// and `ifconfig pfsync0`. Formats follow sbin/ifconfig/ifconfig.c (status(), carp_status(),
// pfsync_status(), printgroupattribs()); see test/fixtures/openbsd/README.md.
//
// Policy: whatever the parser cannot read with certainty becomes a ParseError naming the line, so a
// check turns UNKNOWN instead of reporting a wrong OK. Leading whitespace is free (books and web pages
// turn the TABs into spaces), token order and token values are exact.

import { isIP } from "node:net";
import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export type CarpState = "INIT" | "BACKUP" | "MASTER";

/** `CARP_BAL_MODES` in ip_carp.h; `arp` only exists on older kernels. */
export type CarpBalancingMode = "none" | "ip" | "ip-stealth" | "ip-unicast" | "arp";

/** Link-state words ifconfig can print on a carp interface (`LINK_STATE_DESCRIPTIONS`, sys/net/if.h). */
export type CarpLinkStatus = "master" | "backup" | "invalid" | "unknown" | "down" | "keepalive down" | "active";

export interface CarpVhidStatus {
  vhid: number;
  state: CarpState;
  advskew: number;
}

export interface Inet4Address {
  address: string;
  /** Dotted quad, converted from the `0xffffff00` form ifconfig prints. */
  netmask: string;
  prefixLength: number;
  broadcast: string | null;
}

export interface Inet6Address {
  /** Address without the `%zone` suffix. */
  address: string;
  /** The `%carp0` part of link-local addresses, or null. */
  zone: string | null;
  prefixLength: number;
  /** Words such as `autoconf`, `deprecated`, `tentative`. */
  flags: string[];
  scopeId: string | null;
}

export interface CarpInterface {
  name: string;
  /** 1-based line number of the `name: flags=…` header, for messages. */
  line: number;
  /** The hex number after `flags=`. */
  flagsValue: number;
  /**
   * Flag names as printed in `<…>`; when the names are missing (one published sample lost its angle
   * brackets) they are decoded from flagsValue.
   */
  flags: string[];
  up: boolean;
  running: boolean;
  mtu: number | null;
  lladdr: string | null;
  description: string | null;
  /** Interface route priority (`index N priority N llprio N`, or the old `priority: N` line). */
  priority: number | null;
  /** null when ifconfig printed `carpdev none`. */
  carpdev: string | null;
  advbase: number;
  /** Only the multi-vhid (carpnodes) form prints the balancing mode; null in the single-vhid form. */
  balancing: CarpBalancingMode | null;
  /** Unicast peer; null when CARP advertises to the multicast group (no `carppeer` printed). */
  carppeer: string | null;
  vhids: CarpVhidStatus[];
  /** Value of the `status:` line; null when absent (older releases do not always print it). */
  status: CarpLinkStatus | null;
  inet: Inet4Address[];
  inet6: Inet6Address[];
  groups: string[];
}

export interface InterfaceGroupDemotion {
  group: string;
  demoteCount: number;
}

export interface PfsyncInterface {
  name: string;
  flagsValue: number;
  flags: string[];
  up: boolean;
  running: boolean;
  /** null when no syncdev is set: ifconfig then prints no `pfsync:` line at all. */
  syncdev: string | null;
  /** null when pfsync uses the multicast group 224.0.0.240 (no `syncpeer:` printed) or no syncdev. */
  syncpeer: string | null;
  maxupd: number | null;
  defer: boolean | null;
  groups: string[];
}

interface BodyLine {
  lineNumber: number;
  raw: string;
  tokens: string[];
}

interface InterfaceBlock {
  name: string;
  lineNumber: number;
  flagsValue: number;
  flags: string[];
  up: boolean;
  running: boolean;
  mtu: number | null;
  body: BodyLine[];
}

const CARP_STATES: readonly CarpState[] = ["INIT", "BACKUP", "MASTER"];
const BALANCING_MODES: readonly CarpBalancingMode[] = ["none", "ip", "ip-stealth", "ip-unicast", "arp"];
const LINK_STATUSES: readonly CarpLinkStatus[] = ["master", "backup", "invalid", "unknown", "down", "keepalive down", "active"];

// IFF_* bits of sys/net/if.h in the order of IFFBITS; used only when the names were not printed.
const IFF_NAMES: readonly (readonly [number, string])[] = [
  [0x1, "UP"],
  [0x2, "BROADCAST"],
  [0x4, "DEBUG"],
  [0x8, "LOOPBACK"],
  [0x10, "POINTOPOINT"],
  [0x20, "STATICARP"],
  [0x40, "RUNNING"],
  [0x80, "NOARP"],
  [0x100, "PROMISC"],
  [0x200, "ALLMULTI"],
  [0x400, "OACTIVE"],
  [0x800, "SIMPLEX"],
  [0x1000, "LINK0"],
  [0x2000, "LINK1"],
  [0x4000, "LINK2"],
  [0x8000, "MULTICAST"],
];
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

const HEADER_RE = /^([A-Za-z][A-Za-z0-9_]*[0-9]+): flags=([0-9a-fA-F]+)(?:<([A-Z0-9_,]*)>)?((?: (?:rdomain|metric|mtu) [0-9]+)*)$/;
const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const UINT_RE = /^[0-9]+$/;

// Command output always ends with a newline; a last line without one was cut mid-line (a dropped
// connection, a full disk), and a cut inside a number would otherwise read as a smaller number.
function splitLines(text: string, what: string): string[] {
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  // CRLF output (copied through Windows tools) carries no extra meaning.
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

function uint(what: string, token: string | undefined, max: number, line: BodyLine, field: string): number {
  if (token === undefined || !UINT_RE.test(token)) {
    throw new ParseError(what, `${field} is not a number`, line.lineNumber, line.raw);
  }
  const n = Number(token);
  if (n > max) throw new ParseError(what, `${field} ${n} is out of range 0-${max}`, line.lineNumber, line.raw);
  return n;
}

function ipv4(what: string, token: string | undefined, line: BodyLine, field: string): string {
  if (token === undefined || isIP(token) !== 4) {
    throw new ParseError(what, `${field} is not an IPv4 address`, line.lineNumber, line.raw);
  }
  return token;
}

/**
 * Splits ifconfig output into interface blocks. Any unindented line must be a `name: flags=` header;
 * an indented line before the first header is garbage. Both are errors because silently dropping
 * them could hide the very interface a check is looking for.
 */
function splitBlocks(text: string, what: string): InterfaceBlock[] {
  const blocks: InterfaceBlock[] = [];
  let current: InterfaceBlock | null = null;
  splitLines(text, what).forEach((raw, index) => {
    const lineNumber = index + 1;
    if (raw.trim() === "") return;
    if (/^\s/.test(raw)) {
      if (current === null) throw new ParseError(what, "indented line before any interface header", lineNumber, raw);
      current.body.push({ lineNumber, raw, tokens: raw.trim().split(/\s+/) });
      return;
    }
    const m = HEADER_RE.exec(raw);
    if (!m) throw new ParseError(what, "expected an interface header `name: flags=…`", lineNumber, raw);
    const [, name = "", hex = "", names, rest = ""] = m;
    const flagsValue = parseInt(hex, 16);
    const up = (flagsValue & IFF_UP) !== 0;
    const running = (flagsValue & IFF_RUNNING) !== 0;
    let flags: string[];
    if (names === undefined) {
      flags = IFF_NAMES.filter(([bit]) => (flagsValue & bit) !== 0).map(([, n]) => n);
    } else {
      flags = names === "" ? [] : names.split(",");
      // Both come from the same ioctl; disagreement means the text was damaged.
      if (flags.includes("UP") !== up || flags.includes("RUNNING") !== running) {
        throw new ParseError(what, "flag names do not match the flags value", lineNumber, raw);
      }
    }
    const mtuMatch = / mtu ([0-9]+)/.exec(rest);
    current = {
      name,
      lineNumber,
      flagsValue,
      flags,
      up,
      running,
      mtu: mtuMatch?.[1] !== undefined ? Number(mtuMatch[1]) : null,
      body: [],
    };
    blocks.push(current);
  });
  return blocks;
}

function parseState(what: string, token: string | undefined, line: BodyLine): CarpState {
  const state = CARP_STATES.find((s) => s === token);
  if (state === undefined) {
    throw new ParseError(what, `unknown carp state ${JSON.stringify(token ?? "")}`, line.lineNumber, line.raw);
  }
  return state;
}

function parseCarppeer(what: string, tokens: string[], from: number, line: BodyLine): string | null {
  if (tokens.length === from) return null;
  if (tokens.length === from + 2 && tokens[from] === "carppeer") return ipv4(what, tokens[from + 1], line, "carppeer");
  throw new ParseError(what, "unexpected text at the end of the carp line", line.lineNumber, line.raw);
}

function hexNetmaskToDotted(what: string, token: string | undefined, line: BodyLine): { netmask: string; prefixLength: number } {
  if (token === undefined || !/^0x[0-9a-fA-F]{8}$/.test(token)) {
    throw new ParseError(what, "netmask is not 0x followed by 8 hex digits", line.lineNumber, line.raw);
  }
  const value = parseInt(token.slice(2), 16) >>> 0;
  const bits = value.toString(2).padStart(32, "0");
  if (!/^1*0*$/.test(bits)) throw new ParseError(what, "netmask is not contiguous", line.lineNumber, line.raw);
  const netmask = [24, 16, 8, 0].map((shift) => String((value >>> shift) & 0xff)).join(".");
  return { netmask, prefixLength: bits.indexOf("0") === -1 ? 32 : bits.indexOf("0") };
}

function parseInet(what: string, line: BodyLine): Inet4Address {
  const t = line.tokens;
  if ((t.length !== 4 && t.length !== 6) || t[2] !== "netmask" || (t.length === 6 && t[4] !== "broadcast")) {
    throw new ParseError(what, "expected `inet ADDR netmask 0xMASK [broadcast ADDR]`", line.lineNumber, line.raw);
  }
  const address = ipv4(what, t[1], line, "inet address");
  const { netmask, prefixLength } = hexNetmaskToDotted(what, t[3], line);
  const broadcast = t.length === 6 ? ipv4(what, t[5], line, "broadcast") : null;
  return { address, netmask, prefixLength, broadcast };
}

function parseInet6(what: string, line: BodyLine): Inet6Address {
  const t = line.tokens;
  if (t.length < 4 || t[2] !== "prefixlen") {
    throw new ParseError(what, "expected `inet6 ADDR prefixlen N …`", line.lineNumber, line.raw);
  }
  const [address = "", zone] = (t[1] ?? "").split("%", 2);
  if (isIP(address) !== 6) throw new ParseError(what, "inet6 address is not an IPv6 address", line.lineNumber, line.raw);
  const prefixLength = uint(what, t[3], 128, line, "prefixlen");
  const flags: string[] = [];
  let scopeId: string | null = null;
  for (let i = 4; i < t.length; i++) {
    const word = t[i] ?? "";
    if (word === "scopeid") {
      const v = t[++i];
      if (v === undefined || !/^0x[0-9a-f]+$/.test(v)) throw new ParseError(what, "bad scopeid", line.lineNumber, line.raw);
      scopeId = v;
    } else if (word === "pltime" || word === "vltime") {
      const v = t[++i];
      if (v === undefined || !(UINT_RE.test(v) || v === "infty")) throw new ParseError(what, `bad ${word}`, line.lineNumber, line.raw);
    } else if (/^[a-z_]+$/.test(word)) {
      flags.push(word);
    } else {
      throw new ParseError(what, `unexpected ${JSON.stringify(word)} in inet6 line`, line.lineNumber, line.raw);
    }
  }
  return { address, zone: zone ?? null, prefixLength, flags, scopeId };
}

interface CarpLineResult {
  carpdev: string | null;
  advbase: number;
  balancing: CarpBalancingMode | null;
  carppeer: string | null;
  vhids: CarpVhidStatus[];
  /** Line numbers of the `state …` lines that belong to the multi-vhid form. */
  stateLines: Set<number>;
}

/** Reads the `carp:` line and, for the multi-vhid form, the `state …` lines after it. */
function parseCarpLines(what: string, block: InterfaceBlock): CarpLineResult {
  const carpIndexes = block.body.map((l, i) => (l.tokens[0] === "carp:" ? i : -1)).filter((i) => i >= 0);
  const first = carpIndexes[0];
  if (first === undefined) throw new ParseError(what, `no carp: line for ${block.name}`, block.lineNumber);
  const line = block.body[first] as BodyLine;
  const result = parseFirstCarpLine(what, block, first, line);
  // Checked after reading the first line so that foreign formats (FreeBSD prints one carp: line per
  // vhid) are reported on their first carp: line.
  const second = carpIndexes[1];
  if (second !== undefined) {
    const l = block.body[second];
    throw new ParseError(what, `second carp: line for ${block.name}`, l?.lineNumber, l?.raw);
  }
  return result;
}

function parseFirstCarpLine(what: string, block: InterfaceBlock, first: number, line: BodyLine): CarpLineResult {
  const t = line.tokens;

  if (t[1] === "carpdev") {
    // Several vhids (carpnodes): `carp: carpdev DEV advbase N balancing MODE[ carppeer A]`.
    if (t.length < 7 || t[3] !== "advbase" || t[5] !== "balancing") {
      throw new ParseError(what, "cannot read the multi-vhid carp line", line.lineNumber, line.raw);
    }
    const advbase = uint(what, t[4], 254, line, "advbase");
    const balancing = BALANCING_MODES.find((m) => m === t[6]);
    if (balancing === undefined) {
      throw new ParseError(what, `unknown balancing mode ${JSON.stringify(t[6] ?? "")}`, line.lineNumber, line.raw);
    }
    const carppeer = parseCarppeer(what, t, 7, line);
    const vhids: CarpVhidStatus[] = [];
    const stateLines = new Set<number>();
    for (let i = first + 1; i < block.body.length; i++) {
      const sl = block.body[i] as BodyLine;
      if (sl.tokens[0] !== "state") break;
      const st = sl.tokens;
      if (st.length !== 6 || st[2] !== "vhid" || st[4] !== "advskew") {
        throw new ParseError(what, "expected `state STATE vhid N advskew N`", sl.lineNumber, sl.raw);
      }
      stateLines.add(sl.lineNumber);
      vhids.push({
        state: parseState(what, st[1], sl),
        vhid: uint(what, st[3], 255, sl, "vhid"),
        advskew: uint(what, st[5], 254, sl, "advskew"),
      });
    }
    // carp_status() only uses this form when a second vhid exists, so fewer than two state lines
    // means the output was cut.
    if (vhids.length < 2) {
      throw new ParseError(what, `balancing form with ${vhids.length} state line(s); output truncated?`, line.lineNumber, line.raw);
    }
    return { carpdev: t[2] === "none" ? null : (t[2] ?? null), advbase, balancing, carppeer, vhids, stateLines };
  }

  // Single vhid: `carp: STATE carpdev DEV vhid N advbase N advskew N[ carppeer A]`.
  const state = parseState(what, t[1], line);
  if (t.length < 10 || t[2] !== "carpdev" || t[4] !== "vhid" || t[6] !== "advbase" || t[8] !== "advskew") {
    throw new ParseError(what, "cannot read the carp line", line.lineNumber, line.raw);
  }
  const vhid = uint(what, t[5], 255, line, "vhid");
  const advbase = uint(what, t[7], 254, line, "advbase");
  const advskew = uint(what, t[9], 254, line, "advskew");
  const carppeer = parseCarppeer(what, t, 10, line);
  return {
    carpdev: t[3] === "none" ? null : (t[3] ?? null),
    advbase,
    balancing: null,
    carppeer,
    vhids: [{ vhid, state, advskew }],
    stateLines: new Set<number>(),
  };
}

/**
 * A labelled line we do not know (`word:`) is a field a newer release added: harmless. Anything
 * else is a damaged line, e.g. a cut-off `ine`, and must not be skipped.
 */
function rejectUnlabelled(what: string, block: InterfaceBlock, line: BodyLine): void {
  if (!/^[a-z][a-z0-9-]*:$/.test(line.tokens[0] ?? "")) {
    throw new ParseError(what, `unrecognised line in ${block.name}`, line.lineNumber, line.raw);
  }
}

function parseCarpBlock(what: string, block: InterfaceBlock): CarpInterface {
  const { stateLines, ...carp } = parseCarpLines(what, block);
  const vhidsSeen = new Set<number>();
  for (const v of carp.vhids) {
    if (vhidsSeen.has(v.vhid)) throw new ParseError(what, `vhid ${v.vhid} listed twice on ${block.name}`, block.lineNumber);
    vhidsSeen.add(v.vhid);
  }
  const result: CarpInterface = {
    name: block.name,
    line: block.lineNumber,
    flagsValue: block.flagsValue,
    flags: block.flags,
    up: block.up,
    running: block.running,
    mtu: block.mtu,
    lladdr: null,
    description: null,
    priority: null,
    ...carp,
    status: null,
    inet: [],
    inet6: [],
    groups: [],
  };
  for (const line of block.body) {
    const key = line.tokens[0] ?? "";
    const rest = line.raw.trim().slice(key.length).trim();
    switch (key) {
      case "carp:":
        break; // read by parseCarpLines
      case "state":
        if (!stateLines.has(line.lineNumber)) {
          throw new ParseError(what, "state line outside the multi-vhid carp form", line.lineNumber, line.raw);
        }
        break;
      case "lladdr":
        if (line.tokens.length !== 2 || !MAC_RE.test(line.tokens[1] ?? "")) {
          throw new ParseError(what, "bad lladdr line", line.lineNumber, line.raw);
        }
        result.lladdr = line.tokens[1] ?? null;
        break;
      case "description:":
        result.description = rest;
        break;
      case "index":
        if (line.tokens.length !== 6 || line.tokens[2] !== "priority" || line.tokens[4] !== "llprio") {
          throw new ParseError(what, "expected `index N priority N llprio N`", line.lineNumber, line.raw);
        }
        uint(what, line.tokens[1], Number.MAX_SAFE_INTEGER, line, "index");
        result.priority = uint(what, line.tokens[3], 255, line, "priority");
        uint(what, line.tokens[5], 255, line, "llprio");
        break;
      case "priority:":
        if (line.tokens.length !== 2) throw new ParseError(what, "expected `priority: N`", line.lineNumber, line.raw);
        result.priority = uint(what, line.tokens[1], 255, line, "priority");
        break;
      case "groups:":
        result.groups = line.tokens.slice(1);
        break;
      case "status:": {
        const status = LINK_STATUSES.find((s) => s === line.tokens.slice(1).join(" "));
        if (status === undefined) throw new ParseError(what, "unknown status value", line.lineNumber, line.raw);
        result.status = status;
        break;
      }
      case "inet":
        result.inet.push(parseInet(what, line));
        break;
      case "inet6":
        result.inet6.push(parseInet6(what, line));
        break;
      default:
        rejectUnlabelled(what, block, line);
    }
  }
  return result;
}

/**
 * `ifconfig carp` (every member of group carp, which includes pfsync0) or `ifconfig carpN`.
 * Returns the blocks that have a `carp:` line; other interfaces are skipped. No output, or no
 * carp interface, gives [] — the caller decides whether that is an error.
 */
export function parseCarpInterfaces(text: string): CarpInterface[] {
  refuseForeign(text, "ifconfig output");
  const what = "ifconfig carp output";
  return splitBlocks(text, what)
    .filter((b) => b.body.some((l) => l.tokens[0] === "carp:"))
    .map((b) => parseCarpBlock(what, b));
}

/**
 * `ifconfig -g GROUP`, one line per group: `internal: carp demote count 50`. Several groups' lines
 * may follow each other (one `ifconfig -g` per group of the carp interfaces); each group once.
 * No output is an empty list: the caller knows which groups it asked for.
 */
export function parseIfconfigGroups(text: string): InterfaceGroupDemotion[] {
  refuseForeign(text, "ifconfig -g output");
  const what = "ifconfig -g output";
  const groups: InterfaceGroupDemotion[] = [];
  splitLines(text, what).forEach((raw, i) => {
    if (raw.trim() === "") return;
    const m = /^(\S+): carp demote count ([0-9]+)$/.exec(raw.trim());
    if (!m) throw new ParseError(what, "expected `GROUP: carp demote count N`", i + 1, raw);
    const group = m[1] ?? "";
    if (groups.some((g) => g.group === group)) throw new ParseError(what, `group ${group} listed twice`, i + 1, raw);
    groups.push({ group, demoteCount: Number(m[2]) });
  });
  return groups;
}

/**
 * `ifconfig pfsync0`. Also accepts a listing with several interfaces (e.g. `ifconfig carp`, which
 * includes pfsync0): the block named `name`, or the only pfsyncN block, is used.
 */
export function parsePfsyncInterface(text: string, name?: string): PfsyncInterface {
  refuseForeign(text, "ifconfig pfsync output");
  const what = "ifconfig pfsync output";
  const candidates = splitBlocks(text, what).filter((b) => (name === undefined ? /^pfsync[0-9]+$/.test(b.name) : b.name === name));
  const block = candidates[0];
  if (block === undefined) throw new ParseError(what, `no ${name ?? "pfsync"} interface in the output`);
  if (candidates.length > 1) throw new ParseError(what, "more than one pfsync interface; name the one to read");
  const result: PfsyncInterface = {
    name: block.name,
    flagsValue: block.flagsValue,
    flags: block.flags,
    up: block.up,
    running: block.running,
    syncdev: null,
    syncpeer: null,
    maxupd: null,
    defer: null,
    groups: [],
  };
  let seenPfsyncLine = false;
  for (const line of block.body) {
    const t = line.tokens;
    if (t[0] === "groups:") {
      result.groups = t.slice(1);
    } else if (t[0] === "pfsync:") {
      if (seenPfsyncLine) throw new ParseError(what, "second pfsync: line", line.lineNumber, line.raw);
      seenPfsyncLine = true;
      // `pfsync: syncdev: DEV [syncpeer: A ]maxupd: N defer: on|off`
      const hasPeer = t[3] === "syncpeer:";
      const off = hasPeer ? 2 : 0;
      if (t[1] !== "syncdev:" || t.length !== 7 + off || t[3 + off] !== "maxupd:" || t[5 + off] !== "defer:") {
        throw new ParseError(what, "cannot read the pfsync line", line.lineNumber, line.raw);
      }
      const defer = t[6 + off];
      if (defer !== "on" && defer !== "off") throw new ParseError(what, "defer is neither on nor off", line.lineNumber, line.raw);
      result.syncdev = t[2] ?? null;
      result.syncpeer = hasPeer ? ipv4(what, t[4], line, "syncpeer") : null;
      result.maxupd = uint(what, t[4 + off], 255, line, "maxupd");
      result.defer = defer === "on";
    } else if (t[0] !== "index" && t[0] !== "lladdr") {
      rejectUnlabelled(what, block, line);
    }
  }
  return result;
}

/** Any interface's flags, link status and addresses: what `ifconfig NAME` says of a NIC, a vlan or a tun. */
export interface InterfaceLink {
  name: string;
  flags: string[];
  up: boolean;
  running: boolean;
  /** The `status:` line (`active`, `no carrier`, ...; ifconfig.c get_linkstate()); null when none is printed. */
  status: string | null;
  /** IPv4 addresses; `inet A --> B netmask M` (point-to-point: tun, gre) gives B as the destination. */
  inet: { address: string; destination: string | null }[];
  inet6: string[];
}

/**
 * `ifconfig NAME`, or a listing holding it: the block named `name`. Only the header, `status:` and
 * the address lines are read; the other labelled lines (media:, groups:, ...) vary with the driver
 * and are left alone, and an unlabelled line is an error.
 */
export function parseInterfaceLink(text: string, name: string): InterfaceLink {
  const what = `ifconfig ${name} output`;
  const blocks = splitBlocks(text, what).filter((b) => b.name === name);
  const block = blocks[0];
  if (block === undefined) throw new ParseError(what, `no ${name} interface in the output`);
  if (blocks.length > 1) throw new ParseError(what, `${name} listed twice`);
  const result: InterfaceLink = { name, flags: block.flags, up: block.up, running: block.running, status: null, inet: [], inet6: [] };
  for (const line of block.body) {
    const t = line.tokens;
    if (t[0] === "status:") {
      if (t.length < 2) throw new ParseError(what, "empty status line", line.lineNumber, line.raw);
      result.status = t.slice(1).join(" ");
    } else if (t[0] === "inet") {
      const address = ipv4(what, t[1], line, "inet address");
      const pointToPoint = t[2] === "-->";
      const destination = pointToPoint ? ipv4(what, t[3], line, "destination address") : null;
      const rest = pointToPoint ? 4 : 2;
      if (t[rest] !== "netmask") throw new ParseError(what, "expected `inet ADDR [--> DEST] netmask 0xMASK …`", line.lineNumber, line.raw);
      result.inet.push({ address, destination });
    } else if (t[0] === "inet6") {
      result.inet6.push(parseInet6(what, line).address);
    } else if (t[0] !== "index" && t[0] !== "lladdr") {
      rejectUnlabelled(what, block, line);
    }
  }
  return result;
}

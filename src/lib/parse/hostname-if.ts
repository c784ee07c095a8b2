// /etc/hostname.if(5) files, as netstart(8) reads them: one ifconfig(8) command line per line, with
// `inet`/`inet6` address lines (the old positional `inet ADDR NETMASK BROADCAST` form or
// `inet ADDR/PREFIX`), keyword options in any order and on any line (inet6 flags such as `anycast`,
// `group NAME`), `dest ADDR` lines (netstart gives the address before them this destination),
// `!command` lines and `#` comments.
// netstart eval()s each line, so quotes and a `#` starting a word behave as in the shell.
//
// A carp `pass` is a secret: it is kept in a CarpPass that compares but never prints, and no
// ParseError from here carries a line's text or a word's value (a mistyped keyword could be the
// pass), only the line number and what was expected.

import { isIP } from "node:net";
import { ParseError } from "../runtime/errors.js";

/** A carp pass: can be compared, never shown. Printing or serialising it gives "<secret>". */
export class CarpPass {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  equals(other: CarpPass | null): boolean {
    return other !== null && other.#value === this.#value;
  }

  toString(): string {
    return "<secret>";
  }

  toJSON(): string {
    return "<secret>";
  }
}

export interface HostnameIfAddress {
  family: "inet" | "inet6";
  address: string;
  /** null when the file gives no netmask/prefix (ifconfig then picks a default). */
  prefixLength: number | null;
  /** A point-to-point destination: `dest ADDR` on the next line (netstart adds it after the address), or positional. */
  destination: string | null;
  line: number;
}

export interface HostnameIfCarpNode {
  vhid: number;
  advskew: number;
}

export type HostnameIfBalancing = "none" | "ip" | "ip-stealth" | "ip-unicast" | "arp";

export interface HostnameIf {
  addresses: HostnameIfAddress[];
  /** Settings given more than once: the last one wins, as when ifconfig runs the lines in order. */
  vhid: number | null;
  /** `carpnodes vhid:advskew,…` (the multi-vhid balancing form); [] when not given. */
  carpnodes: HostnameIfCarpNode[];
  carpdev: string | null;
  advbase: number | null;
  advskew: number | null;
  pass: CarpPass | null;
  carppeer: string | null;
  balancing: HostnameIfBalancing | null;
  description: string | null;
  /** `up` or `down` when the file says so. */
  adminState: "up" | "down" | null;
  /** How many `!command` lines the file runs (their text is not interpreted). */
  commandLines: number;
  /** Interface groups the file adds (`group NAME`) less those it removes (`-group NAME`), sorted. */
  groups: string[];
}

const BALANCING: readonly HostnameIfBalancing[] = ["none", "ip", "ip-stealth", "ip-unicast", "arp"];
const INTERFACE_RE = /^[a-z]+[0-9]+$/;
const UINT_RE = /^[0-9]+$/;

// Options this parser accepts without interpreting: flag words, and keywords taking one value.
const IGNORED_FLAGS = new Set([
  "debug",
  "-debug",
  "-carppeer",
  "-description",
  "-inet",
  "-inet6",
  "autoconf",
  "-autoconf",
  "dhcp",
  "rtsol",
  "-rtsol",
  "arp",
  "-arp",
  "staticarp",
  "-staticarp",
  "-carpdev",
  // inet6 address flags (ifconfig.c's cmds[]: setia6flags, settemporary, setifxflags); `deprecated`
  // is an older release's word, still accepted there.
  "anycast",
  "-anycast",
  "tentative",
  "-tentative",
  "deprecated",
  "-deprecated",
  "eui64",
  "temporary",
  "-temporary",
  "soii",
  "-soii",
  "autoconfprivacy",
  "-autoconfprivacy",
  "alias",
  "-alias",
  "monitor",
  "-monitor",
]);
const IGNORED_WITH_VALUE = new Set(["mtu", "rdomain", "lladdr", "llprio", "priority", "state", "rtlabel"]);
// An interface group name: shorter than IFNAMSIZ (16), and ifconfig's setifgroup() refuses one
// ending in a digit ("group names may not end in a digit").
const GROUP_RE = /^[A-Za-z0-9_.-]{0,14}[A-Za-z_.-]$/;

interface Word {
  text: string;
  /** 1-based position of the word on its line, for messages that must not show its value. */
  position: number;
}

/**
 * Splits one line into words as ksh does for netstart's eval: blanks separate words, '…' and "…"
 * quote, a backslash escapes the next character, a word starting with `#` starts a comment.
 */
function splitWords(what: string, raw: string, lineNumber: number): Word[] {
  const words: Word[] = [];
  let current: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < raw.length) current += raw[++i] as string;
      else current += ch;
      continue;
    }
    if (ch === " " || ch === "\t") {
      if (current !== null) words.push({ text: current, position: words.length + 1 });
      current = null;
      continue;
    }
    if (ch === "#" && current === null) break;
    if (ch === "'" || ch === '"') {
      quote = ch;
      current ??= "";
      continue;
    }
    if (ch === "\\" && i + 1 < raw.length) {
      current = (current ?? "") + (raw[++i] as string);
      continue;
    }
    current = (current ?? "") + ch;
  }
  if (quote !== null) throw new ParseError(what, "unterminated quote", lineNumber);
  if (current !== null) words.push({ text: current, position: words.length + 1 });
  return words;
}

function maskToPrefix(mask: string): number | null {
  let value: number;
  if (/^0x[0-9a-fA-F]{8}$/.test(mask)) value = parseInt(mask.slice(2), 16) >>> 0;
  else if (isIP(mask) === 4) value = mask.split(".").reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
  else return null;
  const bits = value.toString(2).padStart(32, "0");
  if (!/^1*0*$/.test(bits)) return null;
  const firstZero = bits.indexOf("0");
  return firstZero === -1 ? 32 : firstZero;
}

class LineReader {
  private index = 0;

  constructor(
    private readonly what: string,
    private readonly words: readonly Word[],
    private readonly lineNumber: number,
  ) {}

  get done(): boolean {
    return this.index >= this.words.length;
  }

  peek(): string | undefined {
    return this.words[this.index]?.text;
  }

  next(): Word {
    const word = this.words[this.index++];
    if (word === undefined) throw this.fail("line ends too early");
    return word;
  }

  /** The value after a keyword; the message names the keyword, never the value. */
  value(keyword: string, expected: string): string {
    const word = this.words[this.index++];
    if (word === undefined) throw this.fail(`${keyword} needs ${expected}`);
    return word.text;
  }

  fail(reason: string): ParseError {
    return new ParseError(this.what, reason, this.lineNumber);
  }
}

function number(reader: LineReader, keyword: string, min: number, max: number): number {
  const text = reader.value(keyword, `a number from ${min} to ${max}`);
  const value = UINT_RE.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) throw reader.fail(`${keyword} needs a number from ${min} to ${max}`);
  return value;
}

function parseAddress(reader: LineReader, family: "inet" | "inet6", lineNumber: number): HostnameIfAddress {
  if (reader.peek() === "alias") reader.next();
  const text = reader.value(family, "an address");
  const [address = "", prefixText] = text.split("/", 2);
  const wantedIp = family === "inet" ? 4 : 6;
  if (isIP(address) !== wantedIp) throw reader.fail(`${family} needs an IPv${wantedIp} address`);
  const maxPrefix = family === "inet" ? 32 : 128;
  let prefixLength: number | null = null;
  if (prefixText !== undefined) {
    prefixLength = UINT_RE.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefixLength <= maxPrefix)) throw reader.fail(`bad /prefix on the ${family} address`);
  }
  // The positional forms netstart unpacks: `inet ADDR NETMASK [BROADCAST|NONE]`, `inet6 ADDR PREFIXLEN`.
  if (family === "inet") {
    const maybeMask = reader.peek();
    if (maybeMask !== undefined && prefixLength === null && maskToPrefix(maybeMask) !== null) {
      prefixLength = maskToPrefix(reader.next().text);
      const maybeBroadcast = reader.peek();
      if (maybeBroadcast === "NONE" || (maybeBroadcast !== undefined && isIP(maybeBroadcast) === 4)) reader.next();
    } else if (maybeMask === "NONE") {
      reader.next();
    }
  } else {
    const maybePrefix = reader.peek();
    if (maybePrefix !== undefined && prefixLength === null && UINT_RE.test(maybePrefix) && Number(maybePrefix) <= 128) {
      prefixLength = Number(reader.next().text);
    }
  }
  return { family, address, prefixLength, destination: null, line: lineNumber };
}

function parseCarpnodes(reader: LineReader): HostnameIfCarpNode[] {
  const text = reader.value("carpnodes", "a list vhid:advskew,…");
  return text.split(",").map((node) => {
    const match = /^([0-9]+):([0-9]+)$/.exec(node);
    const vhid = Number(match?.[1]);
    const advskew = Number(match?.[2]);
    if (!match || vhid < 1 || vhid > 255 || advskew > 254) throw reader.fail("carpnodes needs vhid:advskew pairs (vhid 1-255, advskew 0-254)");
    return { vhid, advskew };
  });
}

/**
 * Parses one hostname.if file. `what` names it in errors ("/etc/hostname.carp0 on secondary").
 * Words this parser does not know are errors: silently skipping one could hide a setting that makes
 * the two hosts' files differ.
 */
export function parseHostnameIf(text: string, what: string): HostnameIf {
  const parsed: HostnameIf = {
    addresses: [],
    vhid: null,
    carpnodes: [],
    carpdev: null,
    advbase: null,
    advskew: null,
    pass: null,
    carppeer: null,
    balancing: null,
    description: null,
    adminState: null,
    commandLines: 0,
    groups: [],
  };
  const groups = new Set<string>();
  const lines = text.split("\n");
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const raw = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (raw.trimStart().startsWith("!")) {
      parsed.commandLines++;
      return;
    }
    const words = splitWords(what, raw, lineNumber);
    const reader = new LineReader(what, words, lineNumber);
    // netstart's `dest ADDR` line: exactly two words, the destination of the address before it.
    if (words[0]?.text === "dest") {
      const last = parsed.addresses[parsed.addresses.length - 1];
      const destination = words[1]?.text ?? "";
      if (words.length !== 2 || last === undefined) throw reader.fail("dest needs one address, on a line after an inet or inet6 address");
      if (isIP(destination) !== (last.family === "inet" ? 4 : 6)) throw reader.fail(`dest needs an ${last.family === "inet" ? "IPv4" : "IPv6"} address, as the address before it`);
      last.destination = destination;
      return;
    }
    while (!reader.done) {
      const word = reader.next();
      switch (word.text) {
        case "inet":
        case "inet6": {
          const next = reader.peek();
          // `inet6 autoconf`, `inet6 eui64`, `inet autoconf` configure no fixed address.
          if (next === "autoconf" || next === "eui64" || next === "-autoconf") reader.next();
          else parsed.addresses.push(parseAddress(reader, word.text, lineNumber));
          break;
        }
        case "netmask": {
          const last = parsed.addresses[parsed.addresses.length - 1];
          const prefix = maskToPrefix(reader.value("netmask", "a netmask"));
          if (last === undefined || last.family !== "inet" || prefix === null) throw reader.fail("netmask needs an inet address before it and a contiguous mask");
          last.prefixLength = prefix;
          break;
        }
        case "prefixlen": {
          const last = parsed.addresses[parsed.addresses.length - 1];
          if (last === undefined) throw reader.fail("prefixlen needs an address before it");
          last.prefixLength = number(reader, "prefixlen", 0, last.family === "inet" ? 32 : 128);
          break;
        }
        case "broadcast": {
          const value = reader.value("broadcast", "an address");
          if (value !== "NONE" && isIP(value) !== 4) throw reader.fail("broadcast needs an IPv4 address");
          break;
        }
        case "vhid":
          parsed.vhid = number(reader, "vhid", 1, 255);
          break;
        case "advbase":
          // ifconfig takes 0 to 254 seconds (0: advertise as fast as the advskew allows).
          parsed.advbase = number(reader, "advbase", 0, 254);
          break;
        case "advskew":
          parsed.advskew = number(reader, "advskew", 0, 254);
          break;
        case "carpdev": {
          const value = reader.value("carpdev", "an interface name");
          if (!INTERFACE_RE.test(value)) throw reader.fail("carpdev needs an interface name such as em0");
          parsed.carpdev = value;
          break;
        }
        case "pass":
          parsed.pass = new CarpPass(reader.value("pass", "a value"));
          break;
        case "-pass":
          parsed.pass = null;
          break;
        case "carppeer": {
          const value = reader.value("carppeer", "an address");
          if (isIP(value) === 0) throw reader.fail("carppeer needs an IP address");
          parsed.carppeer = value;
          break;
        }
        case "balancing": {
          const value = reader.value("balancing", `one of ${BALANCING.join(", ")}`);
          const mode = BALANCING.find((m) => m === value);
          if (mode === undefined) throw reader.fail(`balancing needs one of ${BALANCING.join(", ")}`);
          parsed.balancing = mode;
          break;
        }
        case "carpnodes":
          parsed.carpnodes = parseCarpnodes(reader);
          break;
        case "description":
        case "descr":
          parsed.description = reader.value(word.text, "a text");
          break;
        case "group":
        case "-group": {
          const name = reader.value(word.text, "a group name");
          if (!GROUP_RE.test(name)) throw reader.fail(`${word.text} needs a group name (letters, digits, _ . -; not ending in a digit)`);
          if (word.text === "group") groups.add(name);
          else groups.delete(name);
          break;
        }
        case "pltime":
        case "vltime":
          number(reader, word.text, 0, 0xffffffff);
          break;
        case "up":
        case "down":
          parsed.adminState = word.text;
          break;
        default:
          if (IGNORED_FLAGS.has(word.text)) break;
          if (IGNORED_WITH_VALUE.has(word.text)) {
            reader.value(word.text, "a value");
            break;
          }
          throw reader.fail(`word ${word.position} is not a hostname.if keyword this check knows`);
      }
    }
  });
  parsed.groups = [...groups].sort();
  return parsed;
}

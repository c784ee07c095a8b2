// Hash-first comparison of pf tables between the two gateways. The naive way (`ssh peer pfctl -t T
// -T show | sort`, then diff) moves every entry over the wire: 15 MB for a 1M-entry table. Here each
// host reads its own tables in-process (the peer through one `carpentry facts` that converses with
// us) and entries cross the wire only where a table differs, and then only those of the hash buckets
// whose sums differ.
//
// First, the raw output. pfctl prints a table in the kernel radix tree's order, which depends only
// on what the table holds: the same set prints the same bytes. So the peer reads its tables, hashes
// each output whole (sha256, native: a few milliseconds for 15 MB) and asks us which ones we print
// the same; those are identical, and neither host parses them (we count their lines as we read).
//
// Then, for a table whose output differs, its digest: the entry count plus the sum, mod 2^32 in two
// independent 32-bit lanes, of a per-entry hash, which does not depend on the order of the lines (two
// releases may print in different orders). Our reply carries our digest and per-bucket sums of those
// tables (the bucket is a few bits of the entry hash; sending is cheap, it is what comes back that
// costs); the peer parses the output it still holds and answers with the buckets whose sums differ
// and its entries in them, and we diff those against our own entries of the same buckets. One ssh
// session, one peer process, each table read once on each host.
import { createHash } from "node:crypto";
import pLimit from "p-limit";
import type { Role } from "./config.js";
import { CarpentryError, HostError, ParseError } from "./errors.js";
import { commandFailed, type CommandEnd } from "./errors.js";
import { registerFacts } from "./facts.js";
import type { Host } from "./host.js";
import { ProcessScope } from "./proc.js";
import { normalizeTableEntry, parseTableList } from "./parse/pfctl.js";

const PFCTL_PATH = "/sbin/pfctl";

// ---------------------------------------------------------------------------------------------
// Table names

/** A table as pfctl prints it in `-vsT`: `name` in the main ruleset, `name@anchor` inside an anchor. */
export interface TableRef {
  readonly name: string;
  readonly anchor: string;
}

export function tableKey(ref: TableRef): string {
  return ref.anchor === "" ? ref.name : `${ref.name}@${ref.anchor}`;
}

export function parseTableKey(key: string): TableRef {
  const at = key.indexOf("@");
  return at === -1 ? { name: key, anchor: "" } : { name: key.slice(0, at), anchor: key.slice(at + 1) };
}

// Names only ever reach pfctl as one argv element (never a shell), so this only keeps junk from the
// wire out of its arguments; it is loose enough that pfctl, not we, judges a name.
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;

function validTableKey(key: unknown): key is string {
  return typeof key === "string" && key.length <= 1100 && parseTableKey(key).name !== "" && !CONTROL_OR_SPACE.test(key);
}

function pfctlTableArgs(key: string): string[] {
  const { name, anchor } = parseTableKey(key);
  return [...(anchor === "" ? [] : ["-a", anchor]), "-t", name, "-T", "show"];
}

// ---------------------------------------------------------------------------------------------
// Hashing: pure, no allocation per entry (a table may hold a million of them)

// FNV-1a and a multiply-xorshift with another constant, each finished with murmur3's fmix32: two
// independent 32-bit lanes, a 64-bit hash without BigInt (which would be ~20x slower). One version
// for strings, one for the bytes of a line, so the common line is hashed without making a string.
let laneA = 0;
let laneB = 0;

function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function finishLanes(a: number, b: number, length: number): void {
  laneA = fmix32(a ^ length);
  laneB = fmix32(b ^ Math.imul(length, 0x9e3779b1));
}

// Entries that are not in the output as they stand (normalized, or cut between chunks) are rare:
// they are hashed through the bytes of their text, so both kinds hash alike by construction.
function hashString(entry: string): void {
  hashBytes(Buffer.from(entry, "latin1"), 0, entry.length);
}

// Four bytes a step: a table's lines are short (about 18 bytes), and the per-step multiplies are
// most of the hashing's cost. The tail is taken a byte at a time.
function hashBytes(bytes: Uint8Array, from: number, to: number): void {
  let a = 0x811c9dc5;
  let b = 0x2f9be6cd;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const word = (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24);
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul(b ^ word, 0x5bd1e995);
    b ^= b >>> 15;
  }
  for (; i < to; i++) {
    const code = bytes[i] ?? 0;
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
    b ^= b >>> 15;
  }
  finishLanes(a, b, to - from);
}

function bucketOfLanes(a: number, b: number, bucketBits: number): number {
  return bucketBits === 0 ? 0 : Math.imul(a ^ b, 0x9e3779b1) >>> (32 - bucketBits);
}

export const MAX_BUCKET_BITS = 16;
const ENTRIES_PER_BUCKET = 16;

/**
 * About 16 entries a bucket, at most 65536 buckets: a differing entry then brings about 16 entries
 * from the peer, and the primary's bucket sums (8 bytes a bucket) stay well under a megabyte.
 */
export function bucketBitsFor(entryCount: number): number {
  let bits = 0;
  while (bits < MAX_BUCKET_BITS && entryCount > ENTRIES_PER_BUCKET << bits) bits++;
  return bits;
}

/** What crosses the wire when a table is identical: its entry count and its two lane sums in hex. */
export interface TableDigest {
  readonly count: number;
  readonly sum: string;
}

export function sameDigest(a: TableDigest, b: TableDigest): boolean {
  return a.count === b.count && a.sum === b.sum;
}

/** Buckets whose sums differ, ascending. */
export function differingBuckets(ours: Uint32Array, theirs: Uint32Array): number[] {
  if (ours.length !== theirs.length) throw new Error(`bucket sums of different sizes (${ours.length} and ${theirs.length})`);
  const buckets: number[] = [];
  for (let at = 0; at < ours.length; at += 2) {
    if (ours[at] !== theirs[at] || ours[at + 1] !== theirs[at + 1]) buckets.push(at / 2);
  }
  return buckets;
}

export interface EntryDiff {
  readonly onlyInFirst: string[];
  readonly onlyInSecond: string[];
}

/** Set difference both ways, each sorted. */
export function diffEntries(first: Iterable<string>, second: Iterable<string>): EntryDiff {
  const firstSet = new Set(first);
  const secondSet = new Set(second);
  const onlyInFirst = [...firstSet].filter((entry) => !secondSet.has(entry)).sort();
  const onlyInSecond = [...secondSet].filter((entry) => !firstSet.has(entry)).sort();
  return { onlyInFirst, onlyInSecond };
}

// Bucket sums travel as little-endian uint32s in base64, so the two hosts agree whatever their CPUs.
export function encodeBucketSums(sums: Uint32Array): string {
  const buffer = Buffer.alloc(sums.length * 4);
  for (let i = 0; i < sums.length; i++) buffer.writeUInt32LE(sums[i] ?? 0, i * 4);
  return buffer.toString("base64");
}

export function decodeBucketSums(text: string, bucketBits: number): Uint32Array {
  const buffer = Buffer.from(text, "base64");
  const sums = new Uint32Array(2 << bucketBits);
  if (buffer.length !== sums.length * 4) throw new Error(`bucket sums: expected ${sums.length * 4} bytes for ${bucketBits} bucket bits, got ${buffer.length}`);
  for (let i = 0; i < sums.length; i++) sums[i] = buffer.readUInt32LE(i * 4);
  return sums;
}

// ---------------------------------------------------------------------------------------------
// `-T show` lines, as bytes

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const NEWLINE = 0x0a;
const BANG = 0x21;
const DOT = 0x2e;
const SLASH = 0x2f;
const COLON = 0x3a;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
const ZERO = 0x30;
const NINE = 0x39;
// A line is no table entry long before this; it only bounds what is carried between chunks.
const MAX_LINE_BYTES = 4096;

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte !== SPACE && byte !== TAB && byte !== CR) return false;
  }
  return true;
}

let numberValue = 0;

/**
 * Reads 1 to maxDigits digits from `at`, without a leading zero, into numberValue; returns the index
 * after them, or -1. (No object per call: this runs a few times for each of a million lines.)
 */
function readNumber(bytes: Uint8Array, at: number, end: number, maxDigits: number): number {
  let value = 0;
  let i = at;
  while (i < end && i - at < maxDigits) {
    const byte = bytes[i] ?? 0;
    if (byte < ZERO || byte > NINE) break;
    value = value * 10 + (byte - ZERO);
    i++;
  }
  if (i === at || (i - at > 1 && bytes[at] === ZERO)) return -1;
  numberValue = value;
  return i;
}

function ipv4End(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (bytes[i] !== DOT) return -1;
      i++;
    }
    i = readNumber(bytes, i, end, 3);
    if (i === -1 || numberValue > 255) return -1;
  }
  return i;
}

function hexValue(byte: number): number {
  if (byte >= ZERO && byte <= NINE) return byte - ZERO;
  if (byte >= LOWER_A && byte <= LOWER_F) return byte - LOWER_A + 10;
  return -1;
}

const zeroGroups = new Uint8Array(8);

/**
 * The end of an IPv6 address written as normalizeTableEntry() writes it (the WHATWG URL form, which
 * OpenBSD's inet_ntop() also prints, IPv4-embedded forms aside): lowercase groups without leading
 * zeros, `::` for the first longest run of two or more zero groups and nowhere else. -1 otherwise.
 */
function ipv6End(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  let groups = 0;
  let compressAt = -1;
  if (bytes[i] === COLON) {
    if (bytes[i + 1] !== COLON) return -1;
    compressAt = 0;
    i += 2;
  }
  while (i < end && bytes[i] !== SLASH) {
    const groupStart = i;
    let value = 0;
    while (i < end && i - groupStart < 4) {
      const digit = hexValue(bytes[i] ?? 0);
      if (digit < 0) break;
      value = value * 16 + digit;
      i++;
    }
    if (i === groupStart || (i - groupStart > 1 && bytes[groupStart] === ZERO) || groups === 8) return -1;
    zeroGroups[groups++] = value === 0 ? 1 : 0;
    if (i >= end || bytes[i] !== COLON) break;
    if (bytes[i + 1] === COLON) {
      if (compressAt !== -1) return -1;
      compressAt = groups;
      i += 2;
    } else {
      i++;
      if (i >= end || bytes[i] === SLASH) return -1;
    }
  }
  if (compressAt === -1 ? groups !== 8 : groups > 6) return -1;
  const compressed = compressAt === -1 ? 0 : 8 - groups;
  // A zero group next to `::` belongs in it.
  if (compressAt > 0 && zeroGroups[compressAt - 1] === 1) return -1;
  if (compressAt !== -1 && compressAt < groups && zeroGroups[compressAt] === 1) return -1;
  let run = 0;
  for (let group = 0; group < groups; group++) {
    if (group === compressAt) run = 0;
    run = zeroGroups[group] === 1 ? run + 1 : 0;
    // A longer run (or as long and earlier) would have been the one written as `::`.
    if (run >= 2 && (compressAt === -1 || (group < compressAt ? run >= compressed : run > compressed))) return -1;
  }
  return i;
}

/**
 * Where the normalized entry starts in the line when the line already holds, after its leading
 * blanks, exactly what normalizeTableEntry() would return: an IPv4 or IPv6 host or network, maybe
 * negated, as print_addrx() prints nearly every line. Those lines are hashed as bytes, with no string
 * made. -1 for anything else (`/32`, `@ifname`, IPv4-embedded IPv6, uppercase, junk), which goes
 * through normalizeTableEntry() itself; a unit test holds the two to the same answer.
 */
function canonicalEntryStart(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && (bytes[i] === SPACE || bytes[i] === TAB)) i++;
  return canonicalEntryEnd(bytes, i, end) === end ? i : -1;
}

/** Where a canonical entry starting at `from` ends (see canonicalEntryStart), or -1. */
function canonicalEntryEnd(bytes: Uint8Array, from: number, end: number): number {
  let i = from;
  if (bytes[i] === BANG) i++;
  let maxPrefix = 31;
  let addressEnd = ipv4End(bytes, i, end);
  if (addressEnd === -1) {
    maxPrefix = 127;
    addressEnd = ipv6End(bytes, i, end);
    if (addressEnd === -1) return -1;
  }
  i = addressEnd;
  if (i < end && bytes[i] === SLASH) {
    // A host prefix (/32, /128) is dropped by normalization: left to normalizeTableEntry().
    i = readNumber(bytes, i + 1, end, 3);
    if (i === -1 || numberValue > maxPrefix) return -1;
  }
  return i;
}

function entryOfLine(key: string, line: string, lineNumber: number): string {
  const entry = normalizeTableEntry(line);
  if (entry === null) throw new ParseError(`pfctl -t ${key} -T show output`, "not an address or network", lineNumber, line);
  return entry;
}

/**
 * Splits chunks into lines, carrying a line cut between chunks over to the next one. Each line comes
 * with the offset of `bytes` in the whole output, or -1 for a line put together from two chunks.
 */
class LineSplitter {
  private carried: Buffer | null = null;
  private consumed = 0;

  /**
   * `fast` takes the line at `start` when it can (a line pfctl prints, canonical as it stands) and
   * returns the index of its newline, or -1: then the line is found by its newline and given to
   * `onLine`. Most lines are thus read once, not once to find their end and again to parse them.
   */
  constructor(
    private readonly onLine: (bytes: Buffer, start: number, end: number, offset: number) => void,
    private readonly fast: (bytes: Buffer, start: number, limit: number, offset: number) => number,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    const length = chunk.length;
    if (this.carried !== null) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        this.carry(chunk);
        this.consumed += length;
        return;
      }
      const line = Buffer.concat([this.carried, chunk.subarray(0, newline)]);
      this.carried = null;
      this.onLine(line, 0, line.length, -1);
      start = newline + 1;
    }
    while (start < length) {
      const taken = this.fast(chunk, start, length, this.consumed);
      if (taken !== -1) {
        start = taken + 1;
        continue;
      }
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) break;
      this.onLine(chunk, start, newline, this.consumed);
      start = newline + 1;
    }
    if (start < length) this.carry(chunk.subarray(start));
    this.consumed += length;
  }

  end(): void {
    const last = this.carried;
    this.carried = null;
    if (last !== null) this.onLine(last, 0, last.length, -1);
  }

  private carry(part: Buffer): void {
    const carried = this.carried === null ? part : Buffer.concat([this.carried, part]);
    // Hand an endless "line" over as it is: it is no entry, and the reader says so.
    if (carried.length > MAX_LINE_BYTES) {
      this.carried = null;
      this.onLine(carried, 0, carried.length, -1);
      return;
    }
    this.carried = carried;
  }
}

// Per entry, when kept: its two hash lanes, and where its normalized text lies in the output.
const SLOTS = 4;
const ELSEWHERE = 0xffffffff;

/**
 * One table's `-T show` output as read on this host, fed in chunks of any size: its digest as the
 * chunks arrive, and, when asked to keep them, what a differing table needs: the raw output chunks
 * (bytes, off the JS heap) and, per entry, its hash and where its text lies, so that the entries of
 * some buckets are made into strings later without reading the output again. No string is made per
 * entry for the lines pfctl prints: a million entries cost their 15 MB of output and 16 bytes each.
 */
export class TableCapture {
  private count = 0;
  private sumA = 0;
  private sumB = 0;
  private lineNumber = 0;
  private kept: Uint32Array;
  private readonly chunks: Buffer[] = [];
  /** Offset in the whole output of each kept chunk's first byte. */
  private readonly chunkStarts: number[] = [];
  private outputLength = 0;
  /** Normalized entries whose text is not in the output as it is (normalized differently, or cut between chunks). */
  private readonly elsewhere = new Map<number, string>();
  private readonly splitter = new LineSplitter(
    (bytes, start, end, offset) => this.takeLine(bytes, start, end, offset),
    (bytes, start, limit, offset) => this.takeCanonicalLine(bytes, start, limit, offset),
  );

  /** `expectedEntries`: room to keep that many without growing (the output's length tells roughly). */
  constructor(
    readonly key: string,
    private readonly keep: boolean,
    expectedEntries = 1024,
  ) {
    this.kept = new Uint32Array(keep ? Math.max(1024, expectedEntries) * SLOTS : 0);
  }

  push(chunk: Buffer): void {
    if (this.keep) {
      this.chunks.push(chunk);
      this.chunkStarts.push(this.outputLength);
      this.outputLength += chunk.length;
    }
    this.splitter.push(chunk);
  }

  end(): void {
    this.splitter.end();
  }

  digest(): TableDigest {
    return { count: this.count, sum: this.sumA.toString(16).padStart(8, "0") + this.sumB.toString(16).padStart(8, "0") };
  }

  /** Per-bucket lane sums: [sumA of bucket 0, sumB of bucket 0, sumA of bucket 1, ...]. */
  bucketSums(bucketBits: number): Uint32Array {
    const kept = this.keptEntries();
    const sums = new Uint32Array(2 << bucketBits);
    for (let at = 0; at < SLOTS * this.count; at += SLOTS) {
      const a = kept[at] ?? 0;
      const b = kept[at + 1] ?? 0;
      const bucket = 2 * bucketOfLanes(a, b, bucketBits);
      sums[bucket] = (sums[bucket] ?? 0) + a;
      sums[bucket + 1] = (sums[bucket + 1] ?? 0) + b;
    }
    return sums;
  }

  /** The normalized entries that fall in these buckets, in output order. */
  entriesInBuckets(bucketBits: number, buckets: readonly number[]): string[] {
    const kept = this.keptEntries();
    const wanted = new Uint8Array(1 << bucketBits);
    for (const bucket of buckets) wanted[bucket] = 1;
    const found: string[] = [];
    for (let index = 0; index < this.count; index++) {
      const at = SLOTS * index;
      if (wanted[bucketOfLanes(kept[at] ?? 0, kept[at + 1] ?? 0, bucketBits)] !== 1) continue;
      const start = kept[at + 2] ?? ELSEWHERE;
      found.push(start === ELSEWHERE ? (this.elsewhere.get(index) ?? "") : this.textAt(start, kept[at + 3] ?? start));
    }
    return found;
  }

  /** Output bytes [start, end) as text; they lie within one chunk (a line across two is kept elsewhere). */
  private textAt(start: number, end: number): string {
    let low = 0;
    let high = this.chunkStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.chunkStarts[middle] ?? 0) <= start) low = middle;
      else high = middle - 1;
    }
    const chunkStart = this.chunkStarts[low] ?? 0;
    return (this.chunks[low] ?? Buffer.alloc(0)).toString("latin1", start - chunkStart, end - chunkStart);
  }

  private keptEntries(): Uint32Array {
    if (!this.keep) throw new Error(`table ${this.key} was read without keeping its entries`);
    return this.kept;
  }

  private takeLine(bytes: Buffer, start: number, end: number, offset: number): void {
    this.lineNumber++;
    if (isBlank(bytes, start, end)) return;
    const from = canonicalEntryStart(bytes, start, end);
    if (from === -1) {
      const entry = entryOfLine(this.key, bytes.toString("latin1", start, end), this.lineNumber);
      hashString(entry);
      this.addHashed(ELSEWHERE, ELSEWHERE, entry);
    } else {
      hashBytes(bytes, from, end);
      if (offset !== -1) this.addHashed(offset + from, offset + end);
      else this.addHashed(ELSEWHERE, ELSEWHERE, bytes.toString("latin1", from, end));
    }
  }

  /** The line at `start` if it is canonical as it stands and ends within the chunk: its newline's index, else -1. */
  private takeCanonicalLine(bytes: Buffer, start: number, limit: number, offset: number): number {
    let from = start;
    while (from < limit && (bytes[from] === SPACE || bytes[from] === TAB)) from++;
    const end = canonicalEntryEnd(bytes, from, limit);
    if (end === -1 || end >= limit || bytes[end] !== NEWLINE) return -1;
    this.lineNumber++;
    hashBytes(bytes, from, end);
    this.addHashed(offset + from, offset + end);
    return end;
  }

  /** Counts the entry just hashed (laneA, laneB), its text at [start, end) of the output or `text`. */
  private addHashed(start: number, end: number, text?: string): void {
    this.sumA = (this.sumA + laneA) >>> 0;
    this.sumB = (this.sumB + laneB) >>> 0;
    if (this.keep) this.keepEntry(start, end, text);
    this.count++;
  }

  /** Records the current entry's hash, and where its text is: in the output, or `text`. */
  private keepEntry(start: number, end: number, text?: string): void {
    if (SLOTS * (this.count + 1) > this.kept.length) {
      const grown = new Uint32Array(this.kept.length * 2);
      grown.set(this.kept);
      this.kept = grown;
    }
    const at = SLOTS * this.count;
    this.kept[at] = laneA;
    this.kept[at + 1] = laneB;
    this.kept[at + 2] = start;
    this.kept[at + 3] = end;
    if (text !== undefined) this.elsewhere.set(this.count, text);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading tables on this host

function describePfctl(args: readonly string[]): string {
  return [PFCTL_PATH, ...args].join(" ");
}

function pfctlFailure(args: readonly string[], end: CommandEnd): HostError {
  return commandFailed(describePfctl(args), undefined, end);
}

async function runPfctl(args: readonly string[], scope: ProcessScope): Promise<string> {
  const outcome = await scope.run(PFCTL_PATH, args, { description: describePfctl(args) });
  if (outcome.exitCode !== 0) throw pfctlFailure(args, outcome);
  return outcome.stdout;
}

/** A table's `-T show` output as read, whole: its chunks (off the JS heap), its length and sha256. */
export interface RawTable {
  readonly key: string;
  readonly chunks: readonly Buffer[];
  readonly bytes: number;
  readonly sha: string;
  /** EntryLineCounter's count: undefined when a line is not made like an address line. */
  readonly entryLines: number | undefined;
}

/** Reads a table on this host and hashes its output as it arrives; parsing comes later, if needed. */
async function readRawTable(key: string, scope: ProcessScope, countLines: boolean): Promise<RawTable> {
  const args = pfctlTableArgs(key);
  const hash = createHash("sha256");
  const counter = countLines ? new EntryLineCounter() : undefined;
  const chunks: Buffer[] = [];
  let bytes = 0;
  const outcome = await scope.stream(PFCTL_PATH, args, { description: describePfctl(args) }, (chunk) => {
    hash.update(chunk);
    counter?.push(chunk);
    chunks.push(chunk);
    bytes += chunk.length;
  });
  if (outcome.exitCode !== 0) throw pfctlFailure(args, outcome);
  return { key, chunks, bytes, sha: hash.digest("hex"), entryLines: counter?.result() };
}

/** How long parsing may hold the event loop: the peer's question must not wait behind our own parse. */
const PARSE_SLICE_MS = 8;

/** Parses a table's output, yielding to the event loop every few milliseconds. */
export async function parseRawTable(raw: RawTable, keep: boolean, signal: AbortSignal): Promise<TableCapture> {
  // pfctl prints at least 11 bytes a line ("   1.2.3.4\n"): room for that many is enough at once.
  const capture = new TableCapture(raw.key, keep, Math.ceil(raw.bytes / 11));
  let sliceStarted = performance.now();
  for (const chunk of raw.chunks) {
    capture.push(chunk);
    if (performance.now() - sliceStarted > PARSE_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      signal.throwIfAborted();
      sliceStarted = performance.now();
    }
  }
  capture.end();
  return capture;
}

// What an address line of `-T show` is made of, as a state machine over bytes: one table look-up a
// byte, twice as fast as testing each byte's class in turn (35 against 70 ms a million lines).
const OUTSIDE = 0; // at a line's start, or in the blanks before its entry
const IN_ENTRY = 1;
const AFTER_ENTRY = 2; // blanks after the entry: only more blanks or the line's end may follow
const REFUSED = 3; // a byte no address line has there; stays
const ENTRY_ENDED = 4; // a newline that ended a line with an entry (counted), then as OUTSIDE
const LINE_STATES = 5;
const NEXT_STATE = (() => {
  const table = new Uint8Array(LINE_STATES * 256).fill(REFUSED);
  const on = (state: number, bytes: string, next: number): void => {
    for (const c of bytes) table[(state << 8) | c.charCodeAt(0)] = next;
  };
  const BLANKS = " \t\r";
  for (const outside of [OUTSIDE, ENTRY_ENDED]) {
    on(outside, "\n", OUTSIDE);
    on(outside, BLANKS, OUTSIDE);
    on(outside, "0123456789abcdefABCDEF:!", IN_ENTRY);
  }
  on(IN_ENTRY, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:/!@%_-", IN_ENTRY);
  for (const entry of [IN_ENTRY, AFTER_ENTRY]) {
    on(entry, BLANKS, AFTER_ENTRY);
    on(entry, "\n", ENTRY_ENDED);
  }
  return table;
})();

/**
 * The entry count of an output the other host prints byte for byte the same: identical tables, so
 * nothing needs parsing, only counting (counted as the output is read: 35 ms for a million lines,
 * against 110 for a parse). Each line is checked to be made of what an address line is made of,
 * which catches an error message or another format in the output: the count is then undefined, and
 * the full parse names the line.
 */
class EntryLineCounter {
  private count = 0;
  private state = OUTSIDE;

  push(chunk: Uint8Array): void {
    let { count, state } = this;
    if (state === REFUSED) return;
    for (let i = 0; i < chunk.length; i++) {
      state = NEXT_STATE[(state << 8) | (chunk[i] as number)] as number;
      // Only ENTRY_ENDED has bit 2: counting without a branch.
      count += state >> 2;
    }
    this.count = count;
    this.state = state;
  }

  result(): number | undefined {
    if (this.state === REFUSED) return undefined;
    return this.state === IN_ENTRY || this.state === AFTER_ENTRY ? this.count + 1 : this.count;
  }
}

export function countEntryLines(chunks: readonly Uint8Array[]): number | undefined {
  const counter = new EntryLineCounter();
  for (const chunk of chunks) counter.push(chunk);
  return counter.result();
}

export interface TableListing {
  readonly key: string;
  readonly const: boolean;
}

async function listTables(anchor: string, scope: ProcessScope): Promise<TableListing[]> {
  const text = await runPfctl([...(anchor === "" ? [] : ["-a", anchor]), "-vsT"], scope);
  return parseTableList(text).map((table) => ({ key: tableKey({ name: table.name, anchor: table.anchor ?? "" }), const: table.const }));
}

/** Which tables to read: the named ones, or (tables null) every table that is not const. */
export interface TableSelection {
  readonly tables: readonly string[] | null;
  readonly ignore: readonly string[];
}

// Tables are read a few at a time: pfctl's kernel work overlaps our parsing, and a ruleset with
// dozens of tables does not start dozens of processes at once on a gateway.
const TABLES_AT_ONCE = 4;

/** Lists this host's tables and reads the selected ones with `read`; the others come back as listed. */
async function readTables<T>(selection: TableSelection, scope: ProcessScope, read: (listing: TableListing) => Promise<T>): Promise<(TableListing | T)[]> {
  const anchors = new Set(selection.tables === null ? [""] : selection.tables.map((key) => parseTableKey(key).anchor));
  const listings = (await Promise.all([...anchors].map((anchor) => listTables(anchor, scope)))).flat();
  const ignored = new Set(selection.ignore);
  const wanted = selection.tables === null ? null : new Set(selection.tables);
  const selected = (listing: TableListing): boolean => !ignored.has(listing.key) && (wanted === null ? !listing.const : wanted.has(listing.key));
  const limit = pLimit(TABLES_AT_ONCE);
  return Promise.all(listings.map((listing) => (selected(listing) ? limit(() => read(listing)) : Promise.resolve(listing))));
}

/** What the asking host sends of each of its tables: its digest and its bucket sums. */
export interface TableOffer {
  readonly key: string;
  readonly digest: TableDigest;
  readonly bucketBits: number;
  /** encodeBucketSums() */
  readonly sums: string;
}

export function offerOf(capture: TableCapture, bucketBits: number): TableOffer {
  return { key: capture.key, digest: capture.digest(), bucketBits, sums: encodeBucketSums(capture.bucketSums(bucketBits)) };
}

/** A table as the answering host has it; with buckets and entries when it differs from the offer. */
export interface TableAnswer extends TableListing {
  /** Absent for a table not read (const when every table was asked for, or ignored), or printed the same. */
  readonly digest?: TableDigest;
  /** The asker prints this table byte for byte the same: identical, never parsed here. */
  readonly sameOutput?: boolean;
  /** The buckets whose sums differ from the offer's, and this host's entries in them. */
  readonly buckets?: number[];
  readonly entries?: string[];
}

/** The answering host's side, from its own read of a table: what differs from the asker's offer. */
export function answerOffer(listing: TableListing, capture: TableCapture, offer: TableOffer | undefined): TableAnswer {
  const digest = capture.digest();
  if (offer === undefined || sameDigest(offer.digest, digest)) return { ...listing, digest };
  const buckets = differingBuckets(capture.bucketSums(offer.bucketBits), decodeBucketSums(offer.sums, offer.bucketBits));
  return { ...listing, digest, buckets, entries: capture.entriesInBuckets(offer.bucketBits, buckets) };
}

// ---------------------------------------------------------------------------------------------
// The facts op: what the peer runs for us

/** The peer's question: its tables, with the length and sha256 of the output of those it read. */
export interface RawListing extends TableListing {
  readonly bytes?: number;
  readonly sha?: string;
}

/** Our reply: the tables we print the same, those we do not compare, and our offers for the rest. */
export interface RawReply {
  readonly same: readonly string[];
  readonly skip: readonly string[];
  readonly offers: readonly TableOffer[];
}

function fail(why: string): never {
  throw new Error(`pfTables: ${why}`);
}

function validateSelection(args: unknown): TableSelection {
  const a = args as Record<string, unknown> | null;
  if (typeof a !== "object" || a === null) return fail("arguments must be an object");
  const selection = a["selection"] as Record<string, unknown> | null;
  if (typeof selection !== "object" || selection === null) return fail("selection must be an object");
  const tables = selection["tables"];
  const ignore = selection["ignore"];
  if (tables !== null && !(Array.isArray(tables) && tables.every(validTableKey))) return fail("selection.tables must be null or table names");
  if (!Array.isArray(ignore) || !ignore.every(validTableKey)) return fail("selection.ignore must be table names");
  return { tables, ignore };
}

export function validateReply(reply: unknown): RawReply {
  const r = reply as Record<string, unknown> | null;
  if (typeof r !== "object" || r === null) return fail("the reply must be an object");
  const { same, skip, offers } = r;
  if (!Array.isArray(same) || !same.every(validTableKey)) return fail("reply.same must be table names");
  if (!Array.isArray(skip) || !skip.every(validTableKey)) return fail("reply.skip must be table names");
  if (!Array.isArray(offers)) return fail("reply.offers must be an array");
  for (const offer of offers as Record<string, unknown>[]) {
    const bits = offer["bucketBits"];
    const digest = offer["digest"] as Record<string, unknown> | null;
    if (!validTableKey(offer["key"])) return fail("offers[].key must be a table name");
    if (typeof digest !== "object" || digest === null || typeof digest["count"] !== "number" || typeof digest["sum"] !== "string") return fail("offers[].digest must be {count, sum}");
    if (typeof bits !== "number" || !Number.isInteger(bits) || bits < 0 || bits > MAX_BUCKET_BITS) return fail(`offers[].bucketBits must be 0 to ${MAX_BUCKET_BITS}`);
    if (typeof offer["sums"] !== "string") return fail("offers[].sums must be a string");
  }
  return { same, skip, offers: offers as TableOffer[] };
}

/**
 * The answering host: list and read its tables, ask the asker about their raw hashes, then answer
 * what it must: nothing more for the tables printed the same, an answer to the offer for the others,
 * the count of those the asker lacks. Parsing starts while the question is out (the reply to a
 * differing table waits for the asker's own parse, and both hosts parse at once that way) and stops
 * for the tables the reply names the same: an identical table costs the time of one round trip.
 */
async function answerTables(selection: TableSelection, scope: ProcessScope, askAsker: (question: { tables: RawListing[] }) => Promise<unknown>): Promise<TableAnswer[]> {
  const signal = scope.signal;
  const read = await readTables(selection, scope, async (listing) => ({ listing, raw: await readRawTable(listing.key, scope, false) }));
  const question = read.map((item): RawListing => ("listing" in item ? { ...item.listing, bytes: item.raw.bytes, sha: item.raw.sha } : item));
  const parsing = new Map<string, { readonly parse: Promise<TableCapture>; readonly stop: AbortController }>();
  // One table at a time, in order: the first ones are ready soonest.
  let previous: Promise<unknown> = Promise.resolve();
  for (const item of read) {
    if (!("listing" in item)) continue;
    const stop = new AbortController();
    const parse = previous.then(() => parseRawTable(item.raw, true, AbortSignal.any([signal, stop.signal])));
    parse.catch(() => undefined); // Awaited below unless stopped: a stopped parse is no failure.
    parsing.set(item.listing.key, { parse, stop });
    previous = parse.catch(() => undefined);
  }
  let reply: RawReply;
  try {
    reply = validateReply(await askAsker({ tables: question }));
  } catch (error) {
    for (const { stop } of parsing.values()) stop.abort();
    throw error;
  }
  const same = new Set(reply.same);
  const skip = new Set(reply.skip);
  for (const [key, { stop }] of parsing) if (same.has(key) || skip.has(key)) stop.abort();
  const offers = new Map(reply.offers.map((offer) => [offer.key, offer]));
  const answers: TableAnswer[] = [];
  for (const item of read) {
    if (!("listing" in item)) {
      answers.push(item);
      continue;
    }
    const { listing } = item;
    const parse = parsing.get(listing.key)?.parse;
    if (same.has(listing.key)) answers.push({ ...listing, sameOutput: true });
    else if (skip.has(listing.key) || !parse) answers.push(listing);
    else answers.push(answerOffer(listing, await parse, offers.get(listing.key)));
  }
  return answers;
}

registerFacts("pfTables", async (args, deadline, talk) => {
  const selection = validateSelection(args);
  return { tables: await answerTables(selection, new ProcessScope(deadline), (question) => talk.ask(question)) };
});

// ---------------------------------------------------------------------------------------------
// The comparison the primary runs

export interface TableComparison {
  readonly key: string;
  /** Entries per host; null where the table does not exist. */
  readonly count: Readonly<Record<Role, number | null>>;
  /** Entries that only this host holds, sorted; both empty when the table is identical or missing somewhere. */
  readonly only: Readonly<Record<Role, readonly string[]>>;
}

function byRole<T>(localRole: Role, localValue: T, peerValue: T): Record<Role, T> {
  return localRole === "primary" ? { primary: localValue, secondary: peerValue } : { primary: peerValue, secondary: localValue };
}

/** A failure on this host says which host it is, as the peer's failures do (readFactsResult). */
function onHost(host: Host, error: unknown): unknown {
  if (!(error instanceof CarpentryError)) return error;
  return new HostError(`${host.role}: ${error.summary}`, error.detail);
}

/** Keys to compare: the configured ones, or every table not const on either host. */
function keysToCompare(selection: TableSelection, local: readonly TableListing[], peer: readonly TableListing[]): string[] {
  const ignored = new Set(selection.ignore);
  if (selection.tables !== null) return [...new Set(selection.tables)].filter((key) => !ignored.has(key));
  const constKeys = new Set([...local, ...peer].filter((table) => table.const).map((table) => table.key));
  const keys = new Set([...local, ...peer].map((table) => table.key));
  return [...keys].filter((key) => !constKeys.has(key) && !ignored.has(key)).sort();
}

function readPeerAnswers(peer: Host, value: unknown): TableAnswer[] {
  const tables = (value as { tables?: unknown } | null)?.tables;
  if (!Array.isArray(tables)) throw new HostError(`${peer.role}'s pfTables answer has no table list`);
  return tables as TableAnswer[];
}

export interface CompareTablesOptions {
  readonly local: Host;
  readonly peer: Host;
  readonly selection: TableSelection;
  /** The check's processes and waits, bound to its deadline. */
  readonly scope: ProcessScope;
}

/**
 * The asker's side of the peer's question: which tables print the same, and offers for the others.
 * `captureOf` is awaited only for a table whose output differs.
 */
export async function replyToPeer(keys: readonly string[], peerTables: readonly RawListing[], localRaw: ReadonlyMap<string, RawTable>, captureOf: (key: string) => Promise<TableCapture>): Promise<RawReply> {
  const compared = new Set(keys);
  const same: string[] = [];
  const skip: string[] = [];
  const offers: TableOffer[] = [];
  for (const table of peerTables) {
    if (table.sha === undefined || table.bytes === undefined) continue;
    if (!compared.has(table.key)) {
      skip.push(table.key);
      continue;
    }
    const raw = localRaw.get(table.key);
    if (!raw) continue; // Not on this host: the peer parses it for its count.
    if (raw.sha === table.sha && raw.bytes === table.bytes) {
      same.push(table.key);
      continue;
    }
    const capture = await captureOf(table.key);
    const count = capture.digest().count;
    // Buckets sized for the larger table; the peer's count is not known yet, its output length is.
    const theirs = raw.bytes > 0 ? Math.round((count * table.bytes) / raw.bytes) : Math.round(table.bytes / 16);
    offers.push(offerOf(capture, bucketBitsFor(Math.max(count, theirs))));
  }
  return { same, skip, offers };
}

/**
 * Compares pf tables between this host and the peer, in one conversation with the peer's carpentry:
 * it reads its tables while we read ours, asks which outputs we print the same, and answers with
 * what differs in the others. We count our entries as we read and parse a table only once the peer's
 * question shows that its output differs: a table printed the same on both hosts is never parsed.
 */
export async function compareTables(options: CompareTablesOptions): Promise<TableComparison[]> {
  const { local, peer, selection, scope } = options;
  const deadline = scope.signal;
  const localRaw = new Map<string, RawTable>();
  const reading = readTables(selection, scope, async (listing) => {
    // Counted as read, for the tables the peer prints the same.
    localRaw.set(listing.key, await readRawTable(listing.key, scope, true));
    return listing;
  });
  const localTables = scope.waitFor(`${PFCTL_PATH} -vsT and -T show on ${local.label}`, reading).catch((error: unknown) => {
    throw onHost(local, error);
  });
  localTables.catch(() => undefined);
  // Parsed only when needed: most tables print the same on both hosts, and those are only counted.
  const parsing = new Map<string, Promise<TableCapture>>();
  const captureOf = async (key: string): Promise<TableCapture> => {
    await localTables;
    const raw = localRaw.get(key);
    if (!raw) throw new Error(`table ${key} was not read on ${local.label}`);
    let parse = parsing.get(key);
    if (!parse) {
      parse = parseRawTable(raw, true, deadline);
      parsing.set(key, parse);
    }
    return scope.waitFor(`parsing the output of ${describePfctl(pfctlTableArgs(key))} on ${local.label}`, parse).catch((error: unknown) => {
      throw onHost(local, error);
    });
  };
  const countOf = async (key: string): Promise<number> => {
    return localRaw.get(key)?.entryLines ?? (await captureOf(key)).digest().count;
  };

  let keys: string[] | undefined;
  const offered = new Map<string, TableOffer>();
  const answer = await peer.facts(
    "pfTables",
    { selection },
    {
      answer: async (question) => {
        const asked = readPeerAnswers(peer, question);
        keys = keysToCompare(selection, await localTables, asked);
        const reply = await replyToPeer(keys, asked, localRaw, captureOf);
        for (const offer of reply.offers) offered.set(offer.key, offer);
        return reply;
      },
    },
  );
  const peerTables = readPeerAnswers(peer, answer.value);
  if (keys === undefined) throw new HostError(`${peer.role}'s carpentry answered pfTables without asking`, "install the same carpentry build on both gateways");
  const peerByKey = new Map(peerTables.map((table) => [table.key, table]));
  const comparisons: TableComparison[] = [];
  for (const key of keys) {
    const there = peerByKey.get(key);
    if (there?.sameOutput) {
      const same = await countOf(key);
      comparisons.push({ key, count: { primary: same, secondary: same }, only: { primary: [], secondary: [] } });
      continue;
    }
    const here = localRaw.has(key) ? await captureOf(key) : undefined;
    const hereCount = here?.digest().count ?? null;
    const count = byRole(local.role, hereCount, there?.digest?.count ?? null);
    const offer = offered.get(key);
    if (!here || !offer || !there?.buckets || !there.entries) {
      comparisons.push({ key, count, only: { primary: [], secondary: [] } });
      continue;
    }
    const diff = diffEntries(here.entriesInBuckets(offer.bucketBits, there.buckets), there.entries);
    comparisons.push({ key, count, only: byRole<readonly string[]>(local.role, diff.onlyInFirst, diff.onlyInSecond) });
  }
  return comparisons;
}

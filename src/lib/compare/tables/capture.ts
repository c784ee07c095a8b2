// pf tables, `-T show` lines, as bytes.
import { ParseError } from "../../runtime/errors.js";
import { normalizeTableEntry } from "../../parse/pfctl.js";
import { bucketOfLanes, hashBytes, hashString, laneA, laneB, type TableDigest } from "./hashing.js";

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

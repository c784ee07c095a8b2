// pf tables, hashing: pure, no allocation per entry (a table may hold a million of them).

// FNV-1a and a multiply-xorshift with another constant, each finished with murmur3's fmix32: two
// independent 32-bit lanes, a 64-bit hash without BigInt (which would be ~20x slower). One version
// for strings, one for the bytes of a line, so the common line is hashed without making a string.
export let laneA = 0;
export let laneB = 0;

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
export function hashString(entry: string): void {
  hashBytes(Buffer.from(entry, "latin1"), 0, entry.length);
}

// Four bytes a step: a table's lines are short (about 18 bytes), and the per-step multiplies are
// most of the hashing's cost. The tail is taken a byte at a time.
export function hashBytes(bytes: Uint8Array, from: number, to: number): void {
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

export function bucketOfLanes(a: number, b: number, bucketBits: number): number {
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

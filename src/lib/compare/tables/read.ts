// pf tables, reading tables on this host.
import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { commandFailed, HostError, type CommandEnd } from "../../runtime/errors.js";
import { ProcessScope } from "../../transport/process.js";
import { parseTableList } from "../../parse/pfctl.js";
import { TableCapture } from "./capture.js";
import { decodeBucketSums, differingBuckets, encodeBucketSums, sameDigest, type TableDigest } from "./hashing.js";
import { PFCTL_PATH, parseTableKey, pfctlTableArgs, tableKey } from "./names.js";

export function describePfctl(args: readonly string[]): string {
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
export async function readRawTable(key: string, scope: ProcessScope, countLines: boolean): Promise<RawTable> {
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
export async function readTables<T>(selection: TableSelection, scope: ProcessScope, read: (listing: TableListing) => Promise<T>): Promise<(TableListing | T)[]> {
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

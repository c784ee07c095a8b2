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
import type { Role } from "../../runtime/config.js";
import { CarpentryError, HostError } from "../../runtime/errors.js";
import type { Host } from "../../transport/host.js";
import { ProcessScope } from "../../transport/process.js";
import type { RawListing, RawReply } from "./answer.js";
import { readPeerMessage } from "../../facts/protocol.js";
import { answerSchema, questionSchema } from "./wire.js";
import { TableCapture } from "./capture.js";
import { bucketBitsFor, diffEntries } from "./hashing.js";
import { PFCTL_PATH, pfctlTableArgs } from "./names.js";
import { describePfctl, offerOf, parseRawTable, readRawTable, readTables, type RawTable, type TableAnswer, type TableListing, type TableOffer, type TableSelection } from "./read.js";

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

function readPeerAnswers(peer: Host, value: unknown, what: string): TableAnswer[] {
  return readPeerMessage(answerSchema, value, peer.role, what).tables;
}

function readPeerQuestion(peer: Host, value: unknown): RawListing[] {
  return readPeerMessage(questionSchema, value, peer.role, "pfTables question").tables;
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
export async function replyToPeer(
  keys: readonly string[],
  peerTables: readonly RawListing[],
  localRaw: ReadonlyMap<string, RawTable>,
  captureOf: (key: string) => Promise<TableCapture>,
): Promise<RawReply> {
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
        const asked = readPeerQuestion(peer, question);
        keys = keysToCompare(selection, await localTables, asked);
        const reply = await replyToPeer(keys, asked, localRaw, captureOf);
        for (const offer of reply.offers) offered.set(offer.key, offer);
        return reply;
      },
    },
  );
  const peerTables = readPeerAnswers(peer, answer.value, "pfTables");
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

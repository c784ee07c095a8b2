// Comparing the two gateways' pf state tables without shipping them: pfsync peers give a synced state
// the same id and creatorid, so a state table reduces to its set of (creatorid, id) keys. One host
// sends its keys, encoded compactly, and the pfStateMatch facts op on the other host reads its own
// `pfctl -vvss`, parses it there and answers with counts only.
//
// The encoding relies on how pf numbers states: each host hands out ids from one counter (pf.c:
// `st->id = htobe64(pf_status.stateid++)`, creatorid = its hostid), so a host's live ids sorted are
// close together and their differences fit in one or two bytes as varints: about 1.3 bytes a state,
// instead of the ~200 bytes a state takes in `pfctl -vvss`.
import * as v from "valibot";
import { commandFailed, ParseError } from "../runtime/errors.js";
import { registerFacts } from "./protocol.js";
import { parseStates, type PfState } from "../parse/pfctl.js";
import { ProcessScope } from "../transport/process.js";

/** `-vv` prints the id/creatorid line, and with it `-v`'s age line. */
export const PFCTL_STATES_ARGV: readonly string[] = ["/sbin/pfctl", "-vvss"];

/**
 * States this close to expiry are left out of a comparison: the other host reads its table a moment
 * later, and by then pf may have purged both copies.
 */
export const EXPIRY_MARGIN_SECONDS = 10;

/** creatorid (8 hex digits) -> the ids of that creator's states. */
export type StateKeySet = Map<string, Set<bigint>>;

export interface EncodedStateKeys {
  readonly count: number;
  /** creatorid -> base64 of the sorted ids as unsigned LEB128 varints of their differences. */
  readonly byCreator: Readonly<Record<string, string>>;
}

export interface StateKeys {
  /** Every state of the table. */
  readonly all: StateKeySet;
  /** States old enough to have been synced and not about to expire: the ones a peer must hold. */
  readonly settled: StateKeySet;
  readonly total: number;
  readonly settledCount: number;
  readonly young: number;
  readonly expiring: number;
}

function addKey(set: StateKeySet, creatorid: string, id: bigint): void {
  let ids = set.get(creatorid);
  if (!ids) {
    ids = new Set();
    set.set(creatorid, ids);
  }
  ids.add(id);
}

function hasKey(set: StateKeySet, creatorid: string, id: bigint): boolean {
  return set.get(creatorid)?.has(id) ?? false;
}

export function keyCount(set: StateKeySet): number {
  let count = 0;
  for (const ids of set.values()) count += ids.size;
  return count;
}

/** Splits a parsed `pfctl -vvss` table into all keys and the settled ones. */
export function stateKeys(states: readonly PfState[], minAgeSeconds: number): StateKeys {
  const all: StateKeySet = new Map();
  const settled: StateKeySet = new Map();
  let young = 0;
  let expiring = 0;
  for (const state of states) {
    if (state.id === undefined || state.creatorid === undefined) throw new ParseError("pfctl -vvss output", "state has no id/creatorid line (not -vv output?)", state.line);
    if (state.ageSeconds === undefined || state.expiresSeconds === undefined) throw new ParseError("pfctl -vvss output", "state has no age line (not -v output?)", state.line);
    const id = BigInt(`0x${state.id}`);
    addKey(all, state.creatorid, id);
    if (state.ageSeconds < minAgeSeconds) young++;
    else if (state.expiresSeconds <= EXPIRY_MARGIN_SECONDS) expiring++;
    else addKey(settled, state.creatorid, id);
  }
  return { all, settled, total: keyCount(all), settledCount: keyCount(settled), young, expiring };
}

export function encodeStateKeys(set: StateKeySet): EncodedStateKeys {
  const byCreator: Record<string, string> = {};
  for (const [creatorid, ids] of set) {
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const bytes: number[] = [];
    let previous = 0n;
    for (const id of sorted) {
      let delta = id - previous;
      previous = id;
      while (delta >= 0x80n) {
        bytes.push(Number(delta & 0x7fn) | 0x80);
        delta >>= 7n;
      }
      bytes.push(Number(delta));
    }
    byCreator[creatorid] = Buffer.from(bytes).toString("base64");
  }
  return { count: keyCount(set), byCreator };
}

/**
 * The most keys a request may carry: ten times OpenBSD's default state limit (`set limit states
 * 100000`), and what bounds the memory and time of decoding them (about 0.2 s and 100 MB).
 */
const MAX_STATE_KEYS = 1_000_000;
/** A 64-bit id takes at most 10 bytes of 7 bits. */
const MAX_VARINT_BYTES = 10;

/**
 * The inverse of encodeStateKeys; throws on anything it did not produce. Linear in its input: a
 * varint longer than 64 bits, more keys than MAX_STATE_KEYS or than `count` says, is refused as
 * soon as it is seen.
 */
export function decodeStateKeys(encoded: unknown): StateKeySet {
  const fail = (why: string): never => {
    throw new Error(`pfStateMatch: bad state keys: ${why}`);
  };
  if (typeof encoded !== "object" || encoded === null) return fail("not an object");
  const { count, byCreator } = encoded as Partial<EncodedStateKeys>;
  if (typeof count !== "number" || typeof byCreator !== "object" || byCreator === null) return fail("count or byCreator missing");
  if (!Number.isInteger(count) || count < 0 || count > MAX_STATE_KEYS) return fail(`count must be 0 to ${MAX_STATE_KEYS}`);
  const set: StateKeySet = new Map();
  let decoded = 0;
  for (const [creatorid, text] of Object.entries(byCreator)) {
    if (!/^[0-9a-f]{8}$/.test(creatorid) || typeof text !== "string") return fail(`creator ${JSON.stringify(creatorid).slice(0, 20)}`);
    const bytes = Buffer.from(text, "base64");
    const ids = new Set<bigint>();
    let id = 0n;
    let at = 0;
    while (at < bytes.length) {
      // Up to 7 bytes (49 bits) in a plain number; only a longer varint (an absolute 64-bit id) in a bigint.
      let low = 0;
      let length = 0;
      let byte = 0x80;
      while (byte & 0x80 && length < 7 && at < bytes.length) {
        byte = bytes[at++] ?? 0;
        low += (byte & 0x7f) * 2 ** (7 * length);
        length++;
      }
      let delta = BigInt(low);
      while (byte & 0x80 && length < MAX_VARINT_BYTES && at < bytes.length) {
        byte = bytes[at++] ?? 0;
        delta |= BigInt(byte & 0x7f) << BigInt(7 * length);
        length++;
      }
      if (byte & 0x80) return fail(length >= MAX_VARINT_BYTES ? `creator ${creatorid}: varint longer than 64 bits` : `creator ${creatorid}: varint cut short`);
      id += delta;
      ids.add(id);
      if (++decoded > count) return fail(`more than the ${count} keys announced`);
    }
    set.set(creatorid, ids);
  }
  if (keyCount(set) !== count) return fail(`expected ${count} keys, decoded ${keyCount(set)}`);
  return set;
}

/** What the answering host says about its table against the keys it was sent: counts only. */
export interface StateMatchCounts {
  /** States in the answering host's table. */
  readonly states: number;
  /** Of the keys sent, how many the answering host holds. */
  readonly theirsHeld: number;
  /** The answering host's settled states, and how many of them are among the keys sent. */
  readonly settled: number;
  readonly settledHeldByThem: number;
  /** The answering host's states left out as too young or about to expire. */
  readonly young: number;
  readonly expiring: number;
}

export function matchStates(mine: StateKeys, theirs: StateKeySet): StateMatchCounts {
  let theirsHeld = 0;
  for (const [creatorid, ids] of theirs) for (const id of ids) if (hasKey(mine.all, creatorid, id)) theirsHeld++;
  let settledHeldByThem = 0;
  for (const [creatorid, ids] of mine.settled) for (const id of ids) if (hasKey(theirs, creatorid, id)) settledHeldByThem++;
  return { states: mine.total, theirsHeld, settled: mine.settledCount, settledHeldByThem, young: mine.young, expiring: mine.expiring };
}

export interface StateMatchArgs {
  readonly keys: EncodedStateKeys;
  readonly minAgeSeconds: number;
}

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** What a host's pfStateMatch answers, as the asker checks it. */
export const stateMatchCountsSchema = v.object({ states: count, theirsHeld: count, settled: count, settledHeldByThem: count, young: count, expiring: count });

async function readStateTable(deadline: AbortSignal): Promise<string> {
  const [file = "", ...args] = PFCTL_STATES_ARGV;
  const command = PFCTL_STATES_ARGV.join(" ");
  const outcome = await new ProcessScope(deadline).run(file, args, { description: command });
  if (outcome.exitCode !== 0) throw commandFailed(command, undefined, outcome);
  return outcome.stdout;
}

registerFacts("pfStateMatch", async (args, deadline) => {
  const { keys, minAgeSeconds } = (args ?? {}) as Partial<StateMatchArgs>;
  if (typeof minAgeSeconds !== "number" || minAgeSeconds < 0) throw new Error("pfStateMatch: minAgeSeconds must be a number of seconds");
  // Decoding is linear and bounded (MAX_STATE_KEYS); the deadline is looked at before it and after.
  deadline.throwIfAborted();
  const theirs = decodeStateKeys(keys);
  deadline.throwIfAborted();
  return matchStates(stateKeys(parseStates(await readStateTable(deadline)), minAgeSeconds), theirs);
});

// pf tables, the facts op: what the peer runs for us.
import { readAskerMessage, registerFacts } from "../../facts/protocol.js";
import { ProcessScope } from "../../transport/process.js";
import { TableCapture } from "./capture.js";
import { replySchema, selectionArgsSchema } from "./wire.js";
import { answerOffer, parseRawTable, readRawTable, readTables, type TableAnswer, type TableListing, type TableOffer, type TableSelection } from "./read.js";

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

function validateSelection(args: unknown): TableSelection {
  return readAskerMessage(selectionArgsSchema, args, "pfTables").selection;
}

export function validateReply(reply: unknown): RawReply {
  return readAskerMessage(replySchema, reply, "pfTables");
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

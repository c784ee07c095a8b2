// pf tables, what crosses the wire between the hosts, as schemas: the arguments of the pfTables op,
// the peer's question (its tables and their raw hashes), our reply (the same, the skipped, our offers)
// and the peer's answer. Both sides check what they are sent before they act on it.
import * as v from "valibot";
import { MAX_BUCKET_BITS } from "./hashing.js";
import { validTableKey } from "./names.js";

const tableKey = (message: string) =>
  v.pipe(
    v.string(message),
    v.check<string, string>((key) => validTableKey(key), message),
  );
const tableKeys = (message: string) => v.array(tableKey(message), message);

const digest = (message?: string) => v.object({ count: v.number(message), sum: v.string(message) }, message);

const TABLES = "selection.tables must be null or table names";
export const selectionArgsSchema = v.object(
  {
    selection: v.object({ tables: v.nullable(tableKeys(TABLES)), ignore: tableKeys("selection.ignore must be table names") }, "selection must be an object"),
  },
  "arguments must be an object",
);

const BITS = `offers[].bucketBits must be 0 to ${MAX_BUCKET_BITS}`;
const offerSchema = v.object({
  key: tableKey("offers[].key must be a table name"),
  digest: digest("offers[].digest must be {count, sum}"),
  bucketBits: v.pipe(v.number(BITS), v.integer(BITS), v.minValue(0, BITS), v.maxValue(MAX_BUCKET_BITS, BITS)),
  sums: v.string("offers[].sums must be a string"),
});

export const replySchema = v.object(
  { same: tableKeys("reply.same must be table names"), skip: tableKeys("reply.skip must be table names"), offers: v.array(offerSchema, "reply.offers must be an array") },
  "the reply must be an object",
);

const listing = { key: tableKey("a table key must be a table name"), const: v.boolean() };

/** The peer's question: its tables, with the length and sha256 of the output of those it read. */
export const questionSchema = v.object({ tables: v.array(v.object({ ...listing, bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))), sha: v.optional(v.string()) })) });

/** The peer's answer: per table, its digest, or that we print it the same, and its entries in the buckets that differ. */
export const answerSchema = v.object({
  tables: v.array(
    v.object({
      ...listing,
      digest: v.optional(digest()),
      sameOutput: v.optional(v.boolean()),
      buckets: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0)))),
      entries: v.optional(v.array(v.string())),
    }),
  ),
});

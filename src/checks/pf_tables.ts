import * as v from "valibot";
import type { CheckDefinition } from "../lib/check.js";
import { compareTables, type TableComparison } from "../lib/compare-tables.js";
import { checkSettings, wholeCount, type Role } from "../lib/config.js";
import { result, type Result, type Status } from "../lib/result.js";

export interface PfTablesOptions {
  /** Entries listed per table and side without -v. */
  readonly maxListed: number;
  readonly verbose: boolean;
}

const tableName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.@/-]{1,64}$/, "a pf table name"));

/** [checks.pf_tables] */
const settingsSchema = v.strictObject({
  tables: v.optional(v.array(tableName)),
  ignore: v.optional(v.array(tableName), []),
  max_listed: v.optional(wholeCount, 5),
});

const ROLES: readonly Role[] = ["primary", "secondary"];
// The first line holds 80 characters, "CRITICAL: " takes 10 of them.
const SUMMARY_BUDGET = 70;

type Problem = { readonly key: string; readonly status: Status; readonly words: string };

function problemOf(table: TableComparison): Problem | undefined {
  const { primary, secondary } = table.count;
  if (primary === null && secondary === null) return { key: table.key, status: "WARNING", words: "exists on neither host" };
  if (primary === null) return { key: table.key, status: "CRITICAL", words: "missing on primary" };
  if (secondary === null) return { key: table.key, status: "CRITICAL", words: "missing on secondary" };
  if (table.only.primary.length === 0 && table.only.secondary.length === 0) return undefined;
  return { key: table.key, status: "CRITICAL", words: `differs: ${table.only.primary.length} only on primary, ${table.only.secondary.length} only on secondary` };
}

/** `3 tables differ between the hosts: badhosts, spamd, +1 more`: as many names as fit. */
function listSummary(head: string, keys: readonly string[]): string {
  let text = `${head}: ${keys[0] ?? ""}`;
  for (let i = 1; i < keys.length; i++) {
    const more = keys.length - i;
    const next = `${text}, ${keys[i] ?? ""}`;
    if (next.length + (more > 1 ? `, +${more - 1} more`.length : 0) > SUMMARY_BUDGET) return `${text}, +${more} more`;
    text = next;
  }
  return text;
}

function entryLines(table: TableComparison, role: Role, options: PfTablesOptions): string[] {
  const entries = table.only[role];
  const shown = options.verbose ? entries : entries.slice(0, options.maxListed);
  const lines = shown.map((entry) => `${table.key} only on ${role}: ${entry}`);
  if (shown.length < entries.length) lines.push(`${table.key} only on ${role}: ${entries.length - shown.length} more (-v lists all)`);
  return lines;
}

function countText(count: number | null): string {
  return count === null ? "missing" : `${count} entr${count === 1 ? "y" : "ies"}`;
}

/** Facts -> Result: what differs between the hosts' pf tables, and how badly. */
export function decidePfTables(tables: readonly TableComparison[], options: PfTablesOptions): Result {
  const perfdata = (differing: number) => [
    { label: "tables", value: tables.length, min: 0 },
    { label: "tables_differing", value: differing, min: 0 },
  ];
  if (tables.length === 0) return result("OK", "no pf tables to compare", ["every table on both hosts is const or ignored, or none is configured"], perfdata(0));
  const problems = tables.map(problemOf).filter((problem): problem is Problem => problem !== undefined);
  const details: string[] = [];
  for (const table of tables) {
    const problem = problems.find((candidate) => candidate.key === table.key);
    if (!problem) continue;
    details.push(`${table.key} ${problem.words} (primary ${countText(table.count.primary)}, secondary ${countText(table.count.secondary)})`);
    for (const role of ROLES) details.push(...entryLines(table, role, options));
  }
  for (const table of tables) {
    if (!problems.some((problem) => problem.key === table.key)) details.push(`${table.key} identical (${countText(table.count.primary)})`);
  }
  const critical = problems.filter((problem) => problem.status === "CRITICAL");
  const warning = problems.filter((problem) => problem.status === "WARNING");
  const only = critical[0];
  if (critical.length === 1 && only) return result("CRITICAL", `table ${only.key} ${only.words}`, details, perfdata(problems.length));
  if (critical.length > 1) return result("CRITICAL", listSummary(`${critical.length} tables differ between the hosts`, critical.map((p) => p.key)), details, perfdata(problems.length));
  const lonely = warning[0];
  if (warning.length === 1 && lonely) return result("WARNING", `configured table ${lonely.key} exists on neither host`, details, perfdata(problems.length));
  if (warning.length > 1) return result("WARNING", listSummary(`${warning.length} configured tables exist on neither host`, warning.map((p) => p.key)), details, perfdata(problems.length));
  const total = tables.reduce((sum, table) => sum + (table.count.primary ?? 0), 0);
  return result("OK", `${tables.length} pf table${tables.length === 1 ? "" : "s"} identical on both hosts (${total} entries)`, details, perfdata(0));
}

export const check: CheckDefinition = {
  name: "pf_tables",
  title: "the in-memory pf tables hold the same entries on both gateways",
  roles: ["primary"],
  usesPeer: true,
  reads: [
    "primary: /sbin/pfctl -vsT (which tables exist, which are const), then /sbin/pfctl -t NAME -T show for each table compared",
    "secondary: the same, run by its own carpentry (`carpentry facts` over ssh, one session); a table whose output is byte for byte the primary's costs a sha256 of it",
    "secondary, only for a table whose output differs: its entries in the hash buckets whose sums differ from the primary's",
    "config [checks.pf_tables]: tables (default: every table that is not const on either host), ignore, max_listed",
  ],
  states: {
    OK: "every table compared holds the same entries on both hosts (also when there is no table to compare)",
    WARNING: "a table named in [checks.pf_tables] tables exists on neither host",
    CRITICAL: "a table's entries differ between the hosts (the entries only on each host are listed: max_listed per side, all with -v), or a table exists on one host only",
    UNKNOWN: "the secondary cannot be reached or runs another carpentry version, pfctl fails or prints something that is no table entry, bad config, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const tables = await compareTables({
      local: ctx.local,
      peer: ctx.peer,
      config: ctx.config,
      selection: { tables: settings.tables ?? null, ignore: settings.ignore },
      remainingMs: () => ctx.remainingMs(),
      waitFor: (description, work) => ctx.scope.waitFor(description, work),
    });
    return decidePfTables(tables, { maxListed: settings.max_listed, verbose: ctx.verbose });
  },
};

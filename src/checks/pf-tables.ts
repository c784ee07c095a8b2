import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { compareTables, type TableComparison } from "../lib/compare/tables/compare.js";
import { PF_CONF_PATH, SPAMD_TABLES, SYNC_CONFIG_PATH, tablesToCompare, type TableClassification } from "../lib/compare/tables/selection.js";
import { absolutePath, checkSettings, wholeCount, type Config, type Role } from "../lib/runtime/config.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { result, type Result } from "../lib/runtime/result.js";

export interface PfTablesOptions {
  /** Entries listed per table and side without -v. */
  readonly maxListed: number;
  readonly verbose: boolean;
}

// A pf table name, `@anchor` after it for one in an anchor; pf allows a space inside a quoted name.
const tableName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.@/-](?:[A-Za-z0-9_.@/ -]{0,62}[A-Za-z0-9_.@/-])?$/, "a pf table name"));

/** [checks.pf_tables] */
const settingsSchema = v.strictObject({
  // Absent: the default rule (tablesToCompare): file-backed in pf.conf, or named by carpentry's sync config.
  tables: v.optional(v.array(tableName)),
  ignore: v.optional(v.array(tableName), []),
  max_listed: v.optional(wholeCount, 5),
  // Where the default rule reads pf.conf and carpentry's sync config on the primary.
  pf_conf: v.optional(absolutePath, PF_CONF_PATH),
  sync_config: v.optional(absolutePath, SYNC_CONFIG_PATH),
});

/** The tables check_pf_tables compares with this config on this host, and those it leaves out, with why. */
export function pfTablesSelection(config: Config): TableClassification {
  const settings = checkSettings(config, "pf_tables", settingsSchema);
  return tablesToCompare(settings, { pfConf: settings.pf_conf, syncConfig: settings.sync_config });
}

const ROLES: readonly Role[] = ["primary", "secondary"];
// The first line holds 80 characters, "CRITICAL: " takes 10 of them.
const SUMMARY_BUDGET = 70;

/** What is wrong with one table, in words that follow its name. */
function faultOf(table: TableComparison): { readonly status: Finding["status"]; readonly words: string } | undefined {
  const { primary, secondary } = table.count;
  if (primary === null && secondary === null) return { status: "WARNING", words: "exists on neither host" };
  if (primary === null) return { status: "CRITICAL", words: "missing on primary" };
  if (secondary === null) return { status: "CRITICAL", words: "missing on secondary" };
  if (table.only.primary.length === 0 && table.only.secondary.length === 0) return undefined;
  return { status: "CRITICAL", words: `differs: ${table.only.primary.length} only on primary, ${table.only.secondary.length} only on secondary` };
}

type TableFinding = Finding & { readonly key: string };

function findingOf(table: TableComparison, options: PfTablesOptions): TableFinding | undefined {
  const fault = faultOf(table);
  if (!fault) return undefined;
  const summary = fault.status === "WARNING" ? `configured table ${table.key} ${fault.words}` : `table ${table.key} ${fault.words}`;
  const head = `${table.key} ${fault.words} (primary ${countText(table.count.primary)}, secondary ${countText(table.count.secondary)})`;
  return { key: table.key, status: fault.status, summary, detail: [head, ...ROLES.flatMap((role) => entryLines(table, role, options))] };
}

/** Several tables at the worst status are named in the summary, as many as fit. */
function tablesSummary(worst: readonly TableFinding[]): string {
  const keys = worst.map((finding) => finding.key);
  const head = worst[0]?.status === "WARNING" ? `${keys.length} configured tables exist on neither host` : `${keys.length} tables differ between the hosts`;
  return listSummary(head, keys);
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
export function decidePfTables(compared: readonly TableComparison[], options: PfTablesOptions, selection?: TableClassification): Result {
  // A table the default rule chose that neither host has loaded: pf drops a declared table no rule
  // uses unless it is persist. Nothing to compare, and nothing wrong; a table the admin listed is another matter.
  const unloaded = selection && !selection.explicit ? compared.filter((table) => table.count.primary === null && table.count.secondary === null) : [];
  const tables = compared.filter((table) => !unloaded.includes(table));
  const leftOut = [
    ...unloaded.map((table) => `${table.key} not loaded on either host (declared in pf.conf, used by no rule, not persist)`),
    ...(selection?.leftOut ?? []).map((table) => `left out: ${table.name}: ${table.why}`),
  ];
  const perfdata = (differing: number) => [
    { label: "tables", value: tables.length, min: 0 },
    { label: "tables_differing", value: differing, min: 0 },
  ];
  if (tables.length === 0) {
    const why = selection && !selection.explicit ? "no table is file-backed in pf.conf or named by carpentry's sync config" : "every table configured is ignored, or none is";
    return result("OK", "no pf tables to compare", [why, ...leftOut], perfdata(0));
  }
  const findings = tables.map((table) => findingOf(table, options)).filter((finding): finding is TableFinding => finding !== undefined);
  const faulty = new Set(findings.map((finding) => finding.key));
  const identical = tables.filter((table) => !faulty.has(table.key)).map((table) => `${table.key} identical (${countText(table.count.primary)})`);
  const total = tables.reduce((sum, table) => sum + (table.count.primary ?? 0), 0);
  const okSummary = `${tables.length} pf table${tables.length === 1 ? "" : "s"} identical on both hosts (${total} entries)`;
  return resultFromFindings(findings, okSummary, [...identical, ...leftOut], perfdata(findings.length), tablesSummary);
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
    `this host: ${PF_CONF_PATH} and the files it includes (table declarations and overload rules; nothing is loaded) and carpentry's sync config ${SYNC_CONFIG_PATH} (its pf_tables="..." line), for the default rule`,
    "config [checks.pf_tables]: tables (default: the tables file-backed in pf.conf and those carpentry's sync config names, less those an overload rule or spamd fills and const ones), ignore, max_listed, pf_conf, sync_config",
  ],
  states: {
    OK: `every table compared holds the same entries on both hosts (also when there is no table to compare). Without [checks.pf_tables] tables, the tables compared are those the admin keeps the same: file-backed in pf.conf (table <x> file "..."), or named by carpentry's sync config; a table an overload rule fills (overload <bruteforce>) or spamd's (${SPAMD_TABLES.join(", ")}) differs between the hosts by design and is left out, as is any other table each host fills at run time and a const one. The details and \`carpentry config check\` list what is left out, and why`,
    WARNING: "a table named in [checks.pf_tables] tables exists on neither host",
    CRITICAL: "a table's entries differ between the hosts (the entries only on each host are listed: max_listed per side, all with -v), or a table exists on one host only",
    UNKNOWN: "the secondary cannot be reached or runs another carpentry version, pfctl fails or prints something that is no table entry, bad config, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const selection = pfTablesSelection(ctx.config);
    if (selection.compared.length === 0) return decidePfTables([], { maxListed: settings.max_listed, verbose: ctx.verbose }, selection);
    const tables = await compareTables({
      local: ctx.local,
      peer: ctx.peer,
      selection: { tables: selection.compared, ignore: settings.ignore },
      scope: ctx.scope,
    });
    return decidePfTables(tables, { maxListed: settings.max_listed, verbose: ctx.verbose }, selection);
  },
};

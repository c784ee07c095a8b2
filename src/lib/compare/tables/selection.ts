// pf tables, which ones to compare between the hosts by default. A table is worth comparing when
// the admin keeps it the same on both gateways: one loaded from a file (`table <x> file "..."`,
// the file synced with pf.conf) or one carpentry's sync pushes from the primary. A table each host
// fills on its own differs by design and is left out: one an `overload <x>` rule fills with the
// sources that broke a limit on that host, spamd's (spamd-setup, spamd and spamlogd fill them on
// the host that runs them), and any other table only the running host fills (`pfctl -T add`).
//
// What pf.conf declares is read from the file itself (and the files it includes), never from the
// kernel: no pfctl run, nothing loaded, and the same answer for `carpentry config check`.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { HostError } from "../../runtime/errors.js";

export const PF_CONF_PATH = "/etc/pf.conf";
/** carpentry's sync config on the primary: its `pf_tables="a b"` line names the tables the sync pushes. */
export const SYNC_CONFIG_PATH = "/etc/carpentry/carpentry.conf";
/** spamd(8)'s tables: spamd-setup fills <spamd>, spamd and spamlogd <spamd-white>, the admin <nospamd> per host. */
export const SPAMD_TABLES: readonly string[] = ["spamd", "spamd-white", "nospamd"];

// pf.conf and its includes are a few KiB; these bounds only stop a runaway (an include loop, a huge file).
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_FILES = 32;

/** What pf.conf says about tables. */
export interface PfConfTables {
  /** `table <name> ...` declarations: file-backed (a `file "..."` option) and const. */
  readonly declared: ReadonlyMap<string, { readonly file: boolean; readonly const: boolean }>;
  /** Tables an `overload <name>` option fills. */
  readonly overload: ReadonlySet<string>;
  /** Every table a rule names (`<name>`), declared or not (pf creates an undeclared one empty). */
  readonly referenced: ReadonlySet<string>;
}

/** One statement a line: comments dropped, `\`-continued lines joined (pf.conf(5)). */
function statements(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, " ");
  return joined.split("\n").map((line) => {
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') quoted = !quoted;
      else if (line[i] === "#" && !quoted) return line.slice(0, i);
    }
    return line;
  });
}

// `<name>` or `<"name with spaces">`: a table, as pf.conf names one (never `<>` or `< 1024`).
const TABLE_REF = String.raw`<\s*(?:"([^"]+)"|([A-Za-z0-9_.\-/]+))\s*>`;

function nameOf(match: RegExpMatchArray): string {
  return match[1] ?? match[2] ?? "";
}

/** Reads the table facts of pf.conf text (one file; includes are the reader's job). */
export function parsePfConfTables(text: string): PfConfTables {
  const declared = new Map<string, { file: boolean; const: boolean }>();
  const overload = new Set<string>();
  const referenced = new Set<string>();
  for (const statement of statements(text)) {
    const declaration = new RegExp(String.raw`^\s*table\s+${TABLE_REF}(.*)$`).exec(statement);
    if (declaration) {
      const rest = declaration[3] ?? "";
      const name = nameOf(declaration);
      const before = declared.get(name);
      declared.set(name, { file: (before?.file ?? false) || /\bfile\s+"/.test(rest), const: (before?.const ?? false) || /\bconst\b/.test(rest) });
      continue;
    }
    for (const match of statement.matchAll(new RegExp(String.raw`\boverload\s+${TABLE_REF}`, "g"))) overload.add(nameOf(match));
    for (const match of statement.matchAll(new RegExp(TABLE_REF, "g"))) referenced.add(nameOf(match));
  }
  return { declared, overload, referenced };
}

function includesOf(text: string, from: string): string[] {
  const paths: string[] = [];
  for (const statement of statements(text)) {
    const match = /^\s*include\s+"([^"]+)"/.exec(statement);
    if (match?.[1]) paths.push(resolve(dirname(from), match[1]));
  }
  return paths;
}

function readBounded(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new HostError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, "pf.conf tells which pf tables are file-backed and which an overload rule fills");
  }
  if (text.length > MAX_FILE_BYTES) throw new HostError(`${path} is larger than ${MAX_FILE_BYTES / 1024} KiB`, "not read as a pf.conf");
  return text;
}

function merge(parts: readonly PfConfTables[]): PfConfTables {
  const declared = new Map<string, { file: boolean; const: boolean }>();
  const overload = new Set<string>();
  const referenced = new Set<string>();
  for (const part of parts) {
    for (const [name, how] of part.declared) {
      const before = declared.get(name);
      declared.set(name, { file: (before?.file ?? false) || how.file, const: (before?.const ?? false) || how.const });
    }
    for (const name of part.overload) overload.add(name);
    for (const name of part.referenced) referenced.add(name);
  }
  return { declared, overload, referenced };
}

/** pf.conf on this host and the files it includes (bounded); a missing pf.conf declares nothing. */
export function readPfConfTables(path = PF_CONF_PATH): PfConfTables {
  const parts: PfConfTables[] = [];
  const queue = [path];
  const seen = new Set<string>();
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const next = queue.shift() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    const text = readBounded(next);
    if (text === undefined) continue;
    parts.push(parsePfConfTables(text));
    queue.push(...includesOf(text, next));
  }
  return merge(parts);
}

/** The tables carpentry's sync config names: `pf_tables="a b"` (spaces or commas), as the sync's ksh scripts read it. */
export function parseSyncConfigTables(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*(?:export\s+)?(?:pf_tables|PF_TABLES)=(?:"([^"]*)"|'([^']*)'|(\S*))/.exec(line);
    if (!match) continue;
    names.push(...(match[1] ?? match[2] ?? match[3] ?? "").split(/[\s,]+/).filter((name) => name !== ""));
  }
  return [...new Set(names)];
}

/** carpentry's sync config on this host: none (the secondary, a pair without the sync) names nothing. */
function readSyncConfigTables(path = SYNC_CONFIG_PATH): string[] {
  const text = readBounded(path);
  return text === undefined ? [] : parseSyncConfigTables(text);
}

export interface LeftOutTable {
  readonly name: string;
  readonly why: string;
}

export interface TableClassification {
  /** The tables to compare, sorted. */
  readonly compared: string[];
  /** Why each compared table is compared, in the same order. */
  readonly comparedWhy: LeftOutTable[];
  /** The tables pf.conf or the sync config names that are not compared, and why, sorted. */
  readonly leftOut: LeftOutTable[];
  /** True when [checks.pf_tables] tables chose them, not the default rule. */
  readonly explicit: boolean;
}

export interface ClassifyInput {
  readonly pfConf: PfConfTables;
  /** Tables named by carpentry's sync config. */
  readonly synced: readonly string[];
  /** [checks.pf_tables] tables; null when not set. */
  readonly configured: readonly string[] | null;
  readonly ignore: readonly string[];
}

const WHY = {
  ignored: "in [checks.pf_tables] ignore",
  notListed: "not in [checks.pf_tables] tables",
  overload: "filled by an overload rule on each host: differs between the hosts by design",
  spamd: "spamd's table, filled on each host by spamd, spamd-setup or spamlogd (or per host): differs by design",
  const: "const: only pf.conf fills it, and check_drift_pf compares pf.conf",
  runtime: "filled at run time on each host (not file-backed in pf.conf, not named by carpentry's sync config): name it in [checks.pf_tables] tables to compare it",
  file: "file-backed in pf.conf (the file is synced with pf.conf)",
  synced: "named by carpentry's sync config (pf_tables)",
  configured: "in [checks.pf_tables] tables",
};

/**
 * The default rule: compare the tables file-backed in pf.conf and those carpentry's sync config
 * names; leave out those an overload rule or spamd fills (even when synced: they differ between
 * two pushes), const ones (pf.conf alone fills them) and any other table pf.conf names, which each
 * host fills on its own. [checks.pf_tables] tables replaces the rule: exactly those are compared.
 * [checks.pf_tables] ignore leaves a table out either way.
 */
export function classifyTables(input: ClassifyInput): TableClassification {
  const { pfConf, synced, configured, ignore } = input;
  const ignored = new Set(ignore);
  const syncedSet = new Set(synced);
  const names = new Set([...pfConf.declared.keys(), ...pfConf.overload, ...pfConf.referenced, ...synced, ...(configured ?? [])]);
  const compared: LeftOutTable[] = [];
  const leftOut: LeftOutTable[] = [];
  for (const name of [...names].sort()) {
    const why = (reason: string): number => leftOut.push({ name, why: reason });
    if (ignored.has(name)) {
      why(WHY.ignored);
      continue;
    }
    if (configured !== null) {
      if (configured.includes(name)) compared.push({ name, why: WHY.configured });
      else why(WHY.notListed);
      continue;
    }
    const declared = pfConf.declared.get(name);
    if (pfConf.overload.has(name)) why(WHY.overload);
    else if (SPAMD_TABLES.includes(name)) why(WHY.spamd);
    else if (declared?.const) why(WHY.const);
    else if (declared?.file) compared.push({ name, why: WHY.file });
    else if (syncedSet.has(name)) compared.push({ name, why: WHY.synced });
    else why(WHY.runtime);
  }
  return { compared: compared.map((table) => table.name), comparedWhy: compared, leftOut, explicit: configured !== null };
}

/** The classification for this host: its pf.conf, its carpentry sync config and the check's settings. */
export function tablesToCompare(
  settings: { readonly tables?: readonly string[] | undefined; readonly ignore: readonly string[] },
  paths: { readonly pfConf?: string; readonly syncConfig?: string } = {},
): TableClassification {
  return classifyTables({
    pfConf: readPfConfTables(paths.pfConf),
    synced: readSyncConfigTables(paths.syncConfig),
    configured: settings.tables ?? null,
    ignore: settings.ignore,
  });
}

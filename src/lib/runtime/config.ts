// The config file: TOML (smol-toml), validated by a schema (valibot). Every error names the file, the
// key, the line where it can be found, and what was expected. Every key but role and peer.host has a
// default, so a two-line config is a working one.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import * as v from "valibot";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "./errors.js";
import { redactPatternProblem } from "../compare/redact.js";
import { thresholdProblem } from "./thresholds.js";

const DEFAULT_CONFIG_PATH = "/etc/carpentry.monit/carpentry.toml";
/**
 * The largest config read: a real one is a few KB; the bound keeps a mistaken --config (a log, a
 * disk image) from filling memory before the deadline can stop anything.
 */
export const CONFIG_MAX_BYTES = 256 * 1024;

// Building blocks of the schemas here and of the checks' own [checks.NAME] schemas.
export const absolutePath = v.pipe(v.string(), v.regex(/^\/[^\0]*$/, "an absolute path"));
export const port = v.pipe(v.number(), v.integer("a whole number"), v.minValue(1, "a port from 1 to 65535"), v.maxValue(65535, "a port from 1 to 65535"));
export const positiveSeconds = v.pipe(v.number(), v.minValue(0.1, "a number of seconds above 0"), v.maxValue(3600, "at most 3600 seconds"));
export const wholeCount = v.pipe(v.number(), v.integer("a whole number"), v.minValue(0, "0 or more"));
// A threshold is a plain number ("alert above it") or a Nagios range string, judged by the parser
// -w/-c use, so that the config check refuses exactly what a check would.
export const threshold = v.pipe(
  v.union([v.number(), v.string()], "a number or a Nagios range string"),
  v.check(
    (value) => thresholdProblem(value) === undefined,
    (issue) => thresholdProblem(issue.input) ?? "a Nagios range",
  ),
);
// Host names and user names reach ssh's argv: a leading '-' would be read as an option.
const hostName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:%[\]-]+$/, "a host name or address"), v.regex(/^[^-]/, "a host name not starting with '-'"));
const userName = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "a user name"));
export const interfaceName = v.pipe(v.string(), v.regex(/^[a-z]+[0-9]+$/, "an interface name such as em0"));
const setName = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*$/, "a name of lowercase letters, digits and _"));
const sshOption = v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9]*[= ]\S.*$/, 'an ssh option such as "ServerAliveInterval=5"'));
// A [redact] pattern: valid, and unable to backtrack without bound (it runs synchronously on every line).
const redactPattern = v.rawCheck<string>(({ dataset, addIssue }) => {
  if (!dataset.typed) return;
  const problem = redactPatternProblem(dataset.value);
  if (problem) addIssue({ message: problem });
});
const regexSource = v.pipe(v.string(), redactPattern);

const peerSchema = v.strictObject({
  host: hostName,
  user: v.optional(userName, "root"),
  port: v.optional(port, 22),
  identity_file: v.optional(absolutePath),
  known_hosts_file: v.optional(absolutePath),
  ssh_options: v.optional(v.array(sshOption), []),
  connect_timeout: v.optional(v.pipe(v.number(), v.integer("a whole number"), v.minValue(1, "1 to 60 seconds"), v.maxValue(60, "1 to 60 seconds")), 5),
  control_dir: v.optional(absolutePath),
  // Longer than the slowest check interval of the example monitrc files (5 minutes), so the table and drift checks
  // find the shared connection up instead of paying a handshake every time.
  control_persist: v.optional(v.pipe(v.number(), v.integer("a whole number"), v.minValue(0, "0 to 3600 seconds"), v.maxValue(3600, "0 to 3600 seconds")), 600),
  // The peer sshd's MaxSessions (OpenSSH's default is 10): checks started together share out the
  // shared connection's sessions instead of spilling over into connections of their own.
  max_sessions: v.optional(v.pipe(v.number(), v.integer("a whole number"), v.minValue(1, "1 to 1000 sessions"), v.maxValue(1000, "1 to 1000 sessions")), 10),
  ssh_path: v.optional(absolutePath, "/usr/bin/ssh"),
  carpentry_path: v.optional(absolutePath, "/etc/carpentry.monit/carpentry"),
});

const hostSpecificSchema = v.strictObject({
  // The primary's interface name -> the secondary's, where the hosts' NICs differ (re0 vs em0).
  interfaces: v.optional(v.record(interfaceName, interfaceName), {}),
  // Values that must differ between the hosts and only between them: addresses, dhcpd peers...
  values: v.optional(v.array(v.strictObject({ primary: v.pipe(v.string(), v.minLength(1, "a non-empty value")), secondary: v.pipe(v.string(), v.minLength(1, "a non-empty value")) })), []),
});

const driftSetSchema = v.strictObject({
  description: v.optional(v.string()),
  // A path ending in '/' is a directory, compared recursively; '*' matches within one path component.
  paths: v.pipe(
    v.array(
      v.pipe(
        absolutePath,
        v.check((path) => !/[*?]/.test(path.replace(/\/+$/, "").replace(/\/[^/]*$/, "")), "an absolute path with '*' or '?' in its last component only"),
      ),
    ),
    v.minLength(1, "at least one path"),
  ),
  exclude: v.optional(v.array(absolutePath), []),
  // Files whose content is a secret as a whole: only "differs" is ever said about them.
  secret_files: v.optional(v.array(v.string()), []),
  // Compare owner and mode as well as content.
  compare_owner: v.optional(v.boolean(), true),
  compare_mode: v.optional(v.boolean(), true),
  // Apply [host_specific] values and interface names before comparing.
  host_specific: v.optional(v.boolean(), false),
});

// A mail address reaches sendmail's argv and the SMTP envelope: a local user or user@domain, or
// "Name <address>"; never a leading '-', which sendmail would read as an option.
const ADDRESS = String.raw`[A-Za-z0-9!#$%&'*+/=?^_\x60{|}~.][A-Za-z0-9!#$%&'*+/=?^_\x60{|}~.-]*(?:@(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]))?`;
const MAIL_ADDRESS = new RegExp(`^(?:${ADDRESS}|[^<>\\x00-\\x1f\\x7f]*<${ADDRESS}>)$`);
const ADDRESS_EXPECTED = "a mail address such as root or carpentry@gw1.example.org, or Name <address>; not starting with '-'";
const mailAddress = v.pipe(v.string(ADDRESS_EXPECTED), v.regex(MAIL_ADDRESS, ADDRESS_EXPECTED));

const mailSchema = v.strictObject({
  from: v.optional(mailAddress, "carpentry@localhost"),
  to: v.optional(v.union([mailAddress, v.pipe(v.array(mailAddress), v.minLength(1, "at least one address"))], ADDRESS_EXPECTED), "root"),
  subject_prefix: v.optional(v.string(), "[carpentry]"),
  smtp_host: v.optional(v.string(), "127.0.0.1"),
  smtp_port: v.optional(port, 25),
  sendmail_path: v.optional(absolutePath),
  timeout: v.optional(positiveSeconds, 20),
  spool_dir: v.optional(absolutePath, "/var/spool/carpentry"),
});

/** Where the suite keeps what it must remember between runs (maintenance windows, last OK times, the checks' history); never under /etc. */
export const DEFAULT_STATE_DIR = "/var/db/carpentry";
const stateDir = v.pipe(
  absolutePath,
  v.check((path) => !/^\/etc(\/|$)/.test(path), "a directory outside /etc"),
);

// [metrics]: what `carpentry metrics` writes for Prometheus. The pair name is a label on every series,
// the same on both hosts so a dashboard groups them; it defaults to "<primary>+<secondary>" from the
// host names. node_exporter's textfile collector reads *.prom files only.
const metricsSchema = v.strictObject({
  pair: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,62}$/, "a pair name of letters, digits and _.:+- (at most 63), such as fw-berlin"))),
  path: v.optional(
    v.pipe(absolutePath, v.regex(/\.prom$/, "an absolute path ending in .prom (node_exporter's textfile collector reads only those)")),
    "/var/db/node_exporter/textfile_collector/carpentry.prom",
  ),
  state_dir: v.optional(stateDir, DEFAULT_STATE_DIR),
});

// The checks' history, which the daily report looks back on: the suite's own state, never under /etc.
const reportSchema = v.strictObject({ history_dir: v.optional(stateDir, DEFAULT_STATE_DIR) });

const configSchema = v.strictObject({
  role: v.picklist(["primary", "secondary"], 'either "primary" or "secondary"'),
  peer: peerSchema,
  host_specific: v.optional(hostSpecificSchema, { interfaces: {}, values: [] }),
  // Each check validates its own [checks.NAME] table with the schema it carries (CheckSections).
  checks: v.optional(v.record(v.string(), v.unknown()), {}),
  drift: v.optional(v.record(setName, driftSetSchema), {}),
  redact: v.optional(v.strictObject({ patterns: v.optional(v.array(regexSource), []) }), { patterns: [] }),
  mail: v.optional(mailSchema, {}),
  metrics: v.optional(metricsSchema, {}),
  maintenance: v.optional(v.strictObject({ state_dir: v.optional(stateDir, DEFAULT_STATE_DIR) }), { state_dir: DEFAULT_STATE_DIR }),
  report: v.optional(reportSchema, {}),
});

export type Config = v.InferOutput<typeof configSchema>;
export type Role = Config["role"];
export type PeerConfig = Config["peer"];
export type DriftSetConfig = v.InferOutput<typeof driftSetSchema>;

/** The schema of a check's [checks.NAME] table: a strict object whose every key has a default or is optional. */
export type SettingsSchema = v.GenericSchema<Record<string, unknown>, Record<string, unknown>>;

/** A check as the config sees it: its name and, if it has settings, the schema of its [checks.NAME] table. */
interface SettingsOwner {
  readonly name: string;
  readonly settings?: SettingsSchema;
}

/**
 * Whose [checks.NAME] tables to validate. The CLI gives every check, so a table of any other name is a
 * misspelling. A check's own executable gives only itself and leaves the other tables to their
 * checks, so that it does not bundle every check's code to validate them.
 */
export type CheckSections = { readonly all: readonly SettingsOwner[] } | { readonly only: SettingsOwner };

export function resolveConfigPath(fromArgs: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return fromArgs ?? (env["CARPENTRY_CONFIG"] || DEFAULT_CONFIG_PATH);
}

/**
 * The config is trusted as code is (it names ssh_path, ssh_options, sendmail_path, run as root), so
 * it is read only when it deserves it, as sshd's StrictModes judges a key file: a regular file
 * (never a FIFO, a device or a directory: opened without blocking and judged by fstat before a byte
 * is read), owned by root or by the user running the check, writable by no one else, and at most
 * CONFIG_MAX_BYTES. Reading a regular file that small is quick, so loading stays within the deadline.
 */
export function loadConfig(path: string, sections: CheckSections): Config {
  return parseConfig(readTrustedFile(path), path, sections);
}

function readTrustedFile(path: string): string {
  const refuse = (why: string): never => {
    throw new ConfigError(path, undefined, undefined, why);
  };
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : String(code ?? error);
    return refuse(`${why} (a TOML file with at least role and [peer] host)`);
  }
  try {
    const problem = untrustedBecause(fstatSync(fd));
    if (problem) return refuse(`${problem}; the config is read only when it is a regular file, owned by root or this user, writable by no one else, at most ${CONFIG_MAX_BYTES / 1024} KiB`);
    const buffer = Buffer.alloc(CONFIG_MAX_BYTES + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) read = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > CONFIG_MAX_BYTES) return refuse(`larger than ${CONFIG_MAX_BYTES / 1024} KiB`);
    return new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(0, length));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof TypeError) return refuse("not UTF-8 text");
    return refuse(`cannot read: ${String((error as NodeJS.ErrnoException).code ?? error)}`);
  } finally {
    closeSync(fd);
  }
}

/** What makes a config file untrustworthy, or undefined. */
export function untrustedBecause(
  stat: Pick<Stats, "mode" | "uid" | "size" | "isFile" | "isDirectory" | "isFIFO" | "isCharacterDevice" | "isBlockDevice" | "isSocket">,
  uid: number | undefined = process.getuid?.(),
): string | undefined {
  if (!stat.isFile()) {
    const kind = stat.isDirectory() ? "a directory" : stat.isFIFO() ? "a FIFO" : stat.isCharacterDevice() || stat.isBlockDevice() ? "a device" : stat.isSocket() ? "a socket" : "not a regular file";
    return `is ${kind}, not a regular file`;
  }
  if (stat.uid !== 0 && stat.uid !== uid) return `owned by uid ${stat.uid}, not by root${uid !== undefined && uid !== 0 ? ` or uid ${uid}` : ""}`;
  if ((stat.mode & 0o022) !== 0) return `writable by ${stat.mode & 0o002 ? "everyone" : "its group"} (mode ${(stat.mode & 0o7777).toString(8).padStart(4, "0")}; chmod go-w)`;
  if (stat.size > CONFIG_MAX_BYTES) return `${stat.size} bytes, larger than ${CONFIG_MAX_BYTES / 1024} KiB`;
  return undefined;
}

export function parseConfig(text: string, path: string, sections: CheckSections): Config {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = (error.message.split("\n")[0] ?? "syntax error").replace(/^Invalid TOML document: /, "");
      throw new ConfigError(path, undefined, error.line, `TOML syntax error: ${reason}`);
    }
    // A document that overflows the parser (nesting thousands deep) is no config either.
    if (error instanceof RangeError) throw new ConfigError(path, undefined, undefined, "TOML the parser cannot read (nested too deep?)");
    throw error;
  }
  const parsed = v.safeParse(configSchema, data);
  if (!parsed.success) throw configError(parsed.issues[0], configSchema, [], text, path);
  const checksSchema = checkSectionsSchema(sections);
  const checks = v.safeParse(checksSchema, parsed.output.checks);
  if (!checks.success) throw configError(checks.issues[0], checksSchema, ["checks"], text, path);
  const conflict = hostSpecificConflict(parsed.output.host_specific);
  if (conflict) throw new ConfigError(path, conflict.key, findKeyLine(text, conflict.key.split(".")), conflict.expected);
  return { ...parsed.output, checks: checks.output };
}

/**
 * [host_specific] values map both ways and interfaces one way, in one table: a value that would map
 * to two different ones makes the mapping ambiguous, and is refused here rather than by each check.
 */
function hostSpecificConflict(hostSpecific: Config["host_specific"]): { key: string; expected: string } | undefined {
  const mapping = new Map<string, string>();
  const pairs: [string, string, string][] = [];
  hostSpecific.values.forEach((pair, index) => {
    if (pair.primary === pair.secondary) return;
    pairs.push([pair.primary, pair.secondary, `host_specific.values.${index}`], [pair.secondary, pair.primary, `host_specific.values.${index}`]);
  });
  for (const [onPrimary, onSecondary] of Object.entries(hostSpecific.interfaces)) pairs.push([onPrimary, onSecondary, `host_specific.interfaces.${onPrimary}`]);
  for (const [from, to, key] of pairs) {
    const already = mapping.get(from);
    if (already !== undefined && already !== to) return { key, expected: `"${from}" would map to both "${already}" and "${to}"; each value may appear in one pair` };
    mapping.set(from, to);
  }
  return undefined;
}

function checkSectionsSchema(sections: CheckSections): v.GenericSchema<Record<string, unknown>, Record<string, unknown>> {
  const tableOf = (owner: SettingsOwner): [string, v.GenericSchema][] => (owner.settings ? [[owner.name, v.optional(owner.settings, {})]] : []);
  if ("only" in sections) return v.objectWithRest(Object.fromEntries(tableOf(sections.only)), v.unknown());
  return v.strictObject(Object.fromEntries(sections.all.flatMap(tableOf)));
}

/** A check's [checks.NAME] settings, defaults filled in; parseConfig has validated them against the same schema. */
export function checkSettings<S extends SettingsSchema>(config: Config, name: string, schema: S): v.InferOutput<S> {
  return v.parse(schema, config.checks[name] ?? {});
}

/** The error for the first issue: the file, the key (the schema's path under `prefix`), its line, and what was expected. */
function configError(issue: v.BaseIssue<unknown>, schema: v.GenericSchema, prefix: readonly string[], text: string, path: string): ConfigError {
  const schemaPath = (issue.path ?? []).map((item) => String(item.key));
  const keyPath = [...prefix, ...schemaPath];
  const key = keyPath.join(".") || undefined;
  let expected: string;
  if (issue.type === "strict_object" && issue.expected === "never") {
    expected = `unknown key (allowed here: ${allowedKeys(schema, schemaPath.slice(0, -1)).join(", ")})`;
  } else if (issue.input === undefined) {
    expected = `missing; expected ${describeExpected(issue)}`;
  } else {
    expected = `expected ${describeExpected(issue)}, got ${issue.received}`;
  }
  return new ConfigError(path, key, key ? findKeyLine(text, keyPath) : undefined, expected);
}

function describeExpected(issue: v.BaseIssue<unknown>): string {
  // Our own messages ("a port from 1 to 65535") read better than valibot's type names.
  if (issue.message && !issue.message.startsWith("Invalid ")) return issue.message;
  return issue.expected ?? "a valid value";
}

function allowedKeys(root: v.GenericSchema, parentPath: string[]): string[] {
  let schema = root;
  for (const key of parentPath) {
    const inner = unwrap(schema);
    if ("entries" in inner && typeof inner.entries === "object" && inner.entries !== null) {
      const next = (inner.entries as Record<string, v.GenericSchema>)[key];
      if (!next) return [];
      schema = next;
    } else if ("value" in inner && typeof inner.value === "object" && inner.value !== null) {
      schema = inner.value as v.GenericSchema;
    } else return [];
  }
  const inner = unwrap(schema);
  return "entries" in inner && typeof inner.entries === "object" && inner.entries !== null ? Object.keys(inner.entries) : [];
}

function unwrap(schema: v.GenericSchema): v.GenericSchema {
  let current = schema;
  while ("wrapped" in current && typeof current.wrapped === "object" && current.wrapped !== null) current = current.wrapped as v.GenericSchema;
  return current;
}

/**
 * smol-toml gives positions only for syntax errors; for a schema error we find the key's line by
 * following [table] headers and `key =` lines. Good enough to point an admin at the right line.
 */
function findKeyLine(text: string, keyPath: readonly string[]): number | undefined {
  const lines = text.split("\n");
  // An array element (host_specific.values.2, mail.to.0): the element's own [[table]] where the array
  // is an array of tables, else the line of the array's key.
  const numericAt = keyPath.findIndex((part) => /^\d+$/.test(part));
  if (numericAt !== -1) {
    const arrayPath = keyPath.slice(0, numericAt);
    return arrayTableLine(lines, arrayPath.join("."), Number(keyPath[numericAt]), keyPath[numericAt + 1]) ?? findKeyLine(text, arrayPath);
  }
  let table: string[] = [];
  let tableLine: number | undefined;
  const wantedTable = keyPath.slice(0, -1).join(".");
  const last = keyPath[keyPath.length - 1];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/#.*$/, "").trim();
    const header = tableHeader(line);
    if (header) {
      table = header;
      if (table.join(".") === keyPath.join(".")) tableLine = i + 1;
      continue;
    }
    const assignment = /^("?)([A-Za-z0-9_.-]+)\1\s*=/.exec(line);
    if (!assignment?.[2]) continue;
    const full = [...table, ...assignment[2].split(".")].join(".");
    if (full === keyPath.join(".")) return i + 1;
    if (table.join(".") === wantedTable && assignment[2] === last) return i + 1;
  }
  return tableLine;
}

function tableHeader(line: string): string[] | undefined {
  const header = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(line);
  return header?.[1]?.split(".").map((part) => part.trim().replace(/^"|"$/g, ""));
}

/** The line of element `index` of an array of tables ([[name]]), or of its key `key`; undefined when `name` is no array of tables. */
function arrayTableLine(lines: readonly string[], name: string, index: number, key: string | undefined): number | undefined {
  let seen = -1;
  let headerLine: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/#.*$/, "").trim();
    if (line.startsWith("[")) {
      if (headerLine !== undefined) return headerLine;
      if (line.startsWith("[[") && tableHeader(line)?.join(".") === name && ++seen === index) headerLine = i + 1;
      continue;
    }
    if (headerLine !== undefined && key !== undefined && new RegExp(`^"?${key.replace(/[^A-Za-z0-9_]/g, "\\$&")}"?\\s*=`).test(line)) return i + 1;
  }
  return headerLine;
}

// The config file: TOML (smol-toml), validated by a schema (valibot). Every error names the file, the
// key, the line where it can be found, and what was expected. Every key but role and peer.host has a
// default, so a two-line config is a working one.
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "./errors.js";
import { redactPatternProblem } from "../compare/redact.js";

const DEFAULT_CONFIG_PATH = "/etc/carpentry.monit/carpentry.toml";

// Building blocks of the schemas here and of the checks' own [checks.NAME] schemas.
export const absolutePath = v.pipe(v.string(), v.regex(/^\/[^\0]*$/, "an absolute path"));
export const port = v.pipe(v.number(), v.integer("a whole number"), v.minValue(1, "a port from 1 to 65535"), v.maxValue(65535, "a port from 1 to 65535"));
export const positiveSeconds = v.pipe(v.number(), v.minValue(0.1, "a number of seconds above 0"), v.maxValue(3600, "at most 3600 seconds"));
export const wholeCount = v.pipe(v.number(), v.integer("a whole number"), v.minValue(0, "0 or more"));
// A threshold is a plain number ("alert above it") or a Nagios range string.
export const threshold = v.union(
  [v.number(), v.pipe(v.string(), v.regex(/^@?(~|-?\d+(\.\d+)?)?(:(-?\d+(\.\d+)?)?)?$/, "a Nagios range such as 10, 10:, ~:10, 10:20 or @10:20"))],
  "a number or a Nagios range string",
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

const mailSchema = v.strictObject({
  from: v.optional(v.string(), "carpentry@localhost"),
  to: v.optional(v.union([v.string(), v.array(v.string())]), "root"),
  subject_prefix: v.optional(v.string(), "[carpentry]"),
  smtp_host: v.optional(v.string(), "127.0.0.1"),
  smtp_port: v.optional(port, 25),
  sendmail_path: v.optional(absolutePath),
  timeout: v.optional(positiveSeconds, 20),
  spool_dir: v.optional(absolutePath, "/var/spool/carpentry"),
});

const configSchema = v.strictObject({
  role: v.picklist(["primary", "secondary"], 'either "primary" or "secondary"'),
  peer: peerSchema,
  host_specific: v.optional(hostSpecificSchema, { interfaces: {}, values: [] }),
  // Each check validates its own [checks.NAME] table with the schema it carries (CheckSections).
  checks: v.optional(v.record(v.string(), v.unknown()), {}),
  drift: v.optional(v.record(setName, driftSetSchema), {}),
  redact: v.optional(v.strictObject({ patterns: v.optional(v.array(regexSource), []) }), { patterns: [] }),
  mail: v.optional(mailSchema, {}),
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

export function loadConfig(path: string, sections: CheckSections): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? error);
    throw new ConfigError(path, undefined, undefined, `${why} (a TOML file with at least role and [peer] host)`);
  }
  return parseConfig(text, path, sections);
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
    throw error;
  }
  const parsed = v.safeParse(configSchema, data);
  if (!parsed.success) throw configError(parsed.issues[0], configSchema, [], text, path);
  const checksSchema = checkSectionsSchema(sections);
  const checks = v.safeParse(checksSchema, parsed.output.checks);
  if (!checks.success) throw configError(checks.issues[0], checksSchema, ["checks"], text, path);
  return { ...parsed.output, checks: checks.output };
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
  let table: string[] = [];
  let tableLine: number | undefined;
  const wantedTable = keyPath.slice(0, -1).join(".");
  const last = keyPath[keyPath.length - 1];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/#.*$/, "").trim();
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(line);
    if (header?.[1]) {
      table = header[1].split(".").map((part) => part.trim().replace(/^"|"$/g, ""));
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

// The config file: TOML (smol-toml), validated by a schema (valibot). Every error names the file, the
// key, the line where it can be found, and what was expected. Every key but role and peer.host has a
// default, so a two-line config is a working one.
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "./errors.js";

export const DEFAULT_CONFIG_PATH = "/etc/carpentry.monit/carpentry.toml";

const absolutePath = v.pipe(
  v.string(),
  v.regex(/^\/[^\0]*$/, "an absolute path"),
);
const port = v.pipe(v.number(), v.integer("a whole number"), v.minValue(1, "a port from 1 to 65535"), v.maxValue(65535, "a port from 1 to 65535"));
const positiveSeconds = v.pipe(v.number(), v.minValue(0.1, "a number of seconds above 0"), v.maxValue(3600, "at most 3600 seconds"));
const wholeCount = v.pipe(v.number(), v.integer("a whole number"), v.minValue(0, "0 or more"));
// A threshold is a plain number ("alert above it") or a Nagios range string.
const threshold = v.union([v.number(), v.pipe(v.string(), v.regex(/^@?(~|-?\d+(\.\d+)?)?(:(-?\d+(\.\d+)?)?)?$/, "a Nagios range such as 10, 10:, ~:10, 10:20 or @10:20"))], "a number or a Nagios range string");
// Host names and user names reach ssh's argv: a leading '-' would be read as an option.
const hostName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:%[\]-]+$/, "a host name or address"), v.regex(/^[^-]/, "a host name not starting with '-'"));
const userName = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "a user name"));
const interfaceName = v.pipe(v.string(), v.regex(/^[a-z]+[0-9]+$/, "an interface name such as em0"));
const tableName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.@/-]{1,64}$/, "a pf table name"));
const setName = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*$/, "a name of lowercase letters, digits and _"));
const sshOption = v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9]*[= ]\S.*$/, "an ssh option such as \"ServerAliveInterval=5\""));
const regexSource = v.pipe(
  v.string(),
  v.check((source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  }, "a valid regular expression"),
);

const peerSchema = v.strictObject({
  host: hostName,
  user: v.optional(userName, "root"),
  port: v.optional(port, 22),
  identity_file: v.optional(absolutePath),
  known_hosts_file: v.optional(absolutePath),
  ssh_options: v.optional(v.array(sshOption), []),
  connect_timeout: v.optional(v.pipe(v.number(), v.integer("a whole number"), v.minValue(1, "1 to 60 seconds"), v.maxValue(60, "1 to 60 seconds")), 5),
  control_dir: v.optional(absolutePath),
  // Longer than the slowest monit cycle the notes suggest (5 minutes), so the table and drift checks
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

// An unquoted dotted name (net.inet.carp.preempt = 1) is a nested table to TOML: say how to write it.
const stringMap = v.record(v.pipe(v.string(), v.regex(/^[a-z0-9_.]+$/, "a sysctl name")), v.union([v.string(), v.number()], 'a number or string, with the sysctl name quoted: { "net.inet.carp.preempt" = 1 }'));

const checksSchema = v.strictObject({
  peer: v.optional(v.strictObject({}), {}),
  carp: v.optional(v.strictObject({
    interfaces: v.optional(v.array(interfaceName)),
  }), {}),
  carp_interfaces: v.optional(v.strictObject({
    ignore: v.optional(v.array(interfaceName), []),
  }), {}),
  pfsync: v.optional(v.strictObject({
    interface: v.optional(interfaceName, "pfsync0"),
    // The primary's syncdev; the secondary's is its [host_specific] interfaces mapping (or the same name).
    syncdev: v.optional(interfaceName),
    // Each host's own syncpeer (the other's pfsync address); pfsync's syncpeer is IPv4 only.
    syncpeer: v.optional(v.strictObject({
      primary: v.optional(v.pipe(v.string(), v.ipv4("an IPv4 address"))),
      secondary: v.optional(v.pipe(v.string(), v.ipv4("an IPv4 address"))),
    })),
    ratio_low: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.93),
    ratio_high: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(10)), 1.03),
    small_count: v.optional(wholeCount, 100),
    small_slack: v.optional(wholeCount, 3),
    compare_states: v.optional(v.boolean(), false),
    min_state_age: v.optional(wholeCount, 30),
    share_warning: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 95),
    share_critical: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 80),
    // netstat -sp pfsync error counters (struct pfsyncstats fields without `pfsyncs_`) whose growth is not reported.
    ignore_counters: v.optional(v.array(v.picklist(["badif", "badttl", "hdrops", "badver", "badauth", "badact", "badlen", "badval", "stale", "badstate", "onomem", "oerrors"], "a pfsync counter: badif, badttl, hdrops, badver, badauth, badact, badlen, badval, stale, badstate, onomem or oerrors")), []),
    // Where the last counter reading is kept between runs; ours alone, never under /etc.
    state_dir: v.optional(v.pipe(absolutePath, v.check((path) => !/^\/etc(\/|$)/.test(path), "a directory outside /etc")), "/var/db/carpentry"),
  }), {}),
  pf_tables: v.optional(v.strictObject({
    tables: v.optional(v.array(tableName)),
    ignore: v.optional(v.array(tableName), []),
    max_listed: v.optional(wholeCount, 5),
  }), {}),
  sysctl: v.optional(v.strictObject({
    primary: v.optional(stringMap),
    secondary: v.optional(stringMap),
    ignore: v.optional(v.array(v.string()), []),
  }), {}),
  mailq: v.optional(v.strictObject({
    warning: v.optional(threshold, 50),
    critical: v.optional(threshold, 500),
    age_warning: v.optional(wholeCount, 3600),
    age_critical: v.optional(wholeCount, 86400),
  }), {}),
  dns: v.optional(v.strictObject({
    server: v.optional(v.pipe(v.string(), v.ip("an IP address")), "127.0.0.1"),
    port: v.optional(port, 53),
    names: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, "a DNS name"))), []),
    type: v.optional(v.picklist(["A", "AAAA", "MX", "TXT", "NS", "SOA", "PTR", "CNAME"]), "A"),
    query_timeout: v.optional(positiveSeconds, 3),
  }), {}),
  installed: v.optional(v.strictObject({
    // Default by role (src/checks/installed.ts): the primary's four carpentry paths; the secondary has no /etc/carpentry.
    paths: v.optional(v.array(absolutePath)),
    service: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_]+$/, "an rc.d service name")), "carpentry"),
    watcher: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, "a program name")), "entr"),
  }), {}),
});

const driftSetSchema = v.strictObject({
  description: v.optional(v.string()),
  // A path ending in '/' is a directory, compared recursively; '*' matches within one path component.
  paths: v.pipe(v.array(v.pipe(absolutePath, v.check((path) => !/[*?]/.test(path.replace(/\/+$/, "").replace(/\/[^/]*$/, "")), "an absolute path with '*' or '?' in its last component only"))), v.minLength(1, "at least one path")),
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

export const configSchema = v.strictObject({
  role: v.picklist(["primary", "secondary"], 'either "primary" or "secondary"'),
  peer: peerSchema,
  host_specific: v.optional(hostSpecificSchema, { interfaces: {}, values: [] }),
  checks: v.optional(checksSchema, {}),
  drift: v.optional(v.record(setName, driftSetSchema), {}),
  redact: v.optional(v.strictObject({ patterns: v.optional(v.array(regexSource), []) }), { patterns: [] }),
  mail: v.optional(mailSchema, {}),
});

export type Config = v.InferOutput<typeof configSchema>;
export type Role = Config["role"];
export type PeerConfig = Config["peer"];
export type DriftSetConfig = v.InferOutput<typeof driftSetSchema>;
type ChecksConfig = Config["checks"];
export type CheckSettings<K extends keyof ChecksConfig> = NonNullable<ChecksConfig[K]>;

export function resolveConfigPath(fromArgs: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return fromArgs ?? (env["CARPENTRY_CONFIG"] || DEFAULT_CONFIG_PATH);
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? error);
    throw new ConfigError(path, undefined, undefined, `${why} (a TOML file with at least role and [peer] host)`);
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path: string): Config {
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
  if (parsed.success) return parsed.output;
  const issue = parsed.issues[0];
  const keyPath = (issue.path ?? []).map((item) => String(item.key));
  const key = keyPath.join(".") || undefined;
  let expected: string;
  if (issue.type === "strict_object" && issue.expected === "never") {
    expected = `unknown key (allowed here: ${allowedKeys(keyPath.slice(0, -1)).join(", ")})`;
  } else if (issue.input === undefined) {
    expected = `missing; expected ${describeExpected(issue)}`;
  } else {
    expected = `expected ${describeExpected(issue)}, got ${issue.received}`;
  }
  throw new ConfigError(path, key, key ? findKeyLine(text, keyPath) : undefined, expected);
}

function describeExpected(issue: v.BaseIssue<unknown>): string {
  // Our own messages ("a port from 1 to 65535") read better than valibot's type names.
  if (issue.message && !issue.message.startsWith("Invalid ")) return issue.message;
  return issue.expected ?? "a valid value";
}

function allowedKeys(parentPath: string[]): string[] {
  let schema: v.GenericSchema = configSchema;
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
export function findKeyLine(text: string, keyPath: readonly string[]): number | undefined {
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

// What `carpentry init` decides from what it saw on the two gateways: pure functions from command
// outputs to a plan (which carp interface prefers which host, which pf tables to compare, which drift
// sets and services apply, what differs between the hosts by design), and from the plan to the two
// files it writes, carpentry.toml and monitrc. Every choice carries its reason, which becomes a
// comment in the files.
import { BUILTIN_DRIFT_SETS, type BuiltinSetName } from "../checks/drift.js";
import { parseCarpInterfaces, parsePfsyncInterface, type CarpInterface, type PfsyncInterface } from "../lib/parse/ifconfig.js";
import { parseTableList, type PfTableInfo } from "../lib/parse/pfctl.js";
import type { Role } from "../lib/runtime/config.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";

// ---- what init asks each host: plain read-only commands of OpenBSD's base system ----

/** The daemons whose monit stanzas init writes, and how monit finds each (by command line). */
export const SERVICES = {
  sshd: "/usr/sbin/sshd",
  ifstated: "^/usr/sbin/ifstated",
  unbound: "^/usr/sbin/unbound",
  dhcpd: "^/usr/sbin/dhcpd",
  smtpd: "^/usr/sbin/smtpd",
  openvpn: "^/usr/local/sbin/openvpn",
} as const;
export type ServiceName = keyof typeof SERVICES;
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** carpentry's sync: its scripts, its rc.d service, its settings, and entr(1), which its service runs. */
const SYNC_PIECES = ["/etc/carpentry.bin", "/etc/rc.d/carpentry", "/etc/carpentry", "/usr/local/bin/entr"] as const;
/** The sync's script that copies the in-memory pf tables to the secondary. */
const TABLE_SYNC_SCRIPT = "/etc/carpentry.bin/pf-tables-memory.sh";
/** The host-specific files whose differences init reads: the ifstated set (host_specific by default). */
const HOST_SPECIFIC_FILES = BUILTIN_DRIFT_SETS.ifstated.paths;
const withoutSlash = (path: string): string => path.replace(/\/+$/, "");
const hasGlob = (path: string): boolean => /[*?]/.test(path);

/** Every plain path the drift sets and the sync name, asked with one `ls -d`; globbed ones by their directory. */
function probedPaths(): { plain: string[]; globDirs: string[] } {
  const paths = Object.values(BUILTIN_DRIFT_SETS).flatMap((set) => set.paths.map(withoutSlash));
  const plain = [...new Set([...paths.filter((path) => !hasGlob(path)), ...SYNC_PIECES, TABLE_SYNC_SCRIPT])].sort();
  const globDirs = [...new Set(paths.filter(hasGlob).map((path) => path.slice(0, path.lastIndexOf("/")) || "/"))].sort();
  return { plain, globDirs };
}

/** The commands, in the order surveyFrom() reads their results. Each only reads. */
export function surveyCommands(): HostCommand[] {
  const { plain, globDirs } = probedPaths();
  return [
    { argv: ["/sbin/ifconfig", "carp"] },
    { argv: ["/sbin/pfctl", "-vsT"] },
    { argv: ["/bin/cat", "/etc/pf.conf"] },
    { argv: ["/usr/sbin/rcctl", "ls", "on"] },
    { argv: ["/usr/bin/pgrep", "-lx", SERVICE_NAMES.join("|")] },
    { argv: ["/bin/cat", "/var/unbound/etc/unbound.conf"] },
    { argv: ["/bin/ls", "-d", ...plain] },
    ...globDirs.map((dir) => ({ argv: ["/bin/ls", "-A", dir] })),
    ...HOST_SPECIFIC_FILES.map((path) => ({ argv: ["/bin/cat", path] })),
  ];
}

/** One gateway as init saw it; undefined where a command failed or printed what no parser reads (with why in `unread`). */
export interface HostSurvey {
  readonly carp: readonly CarpInterface[] | undefined;
  readonly pfsync: PfsyncInterface | undefined;
  readonly tables: readonly PfTableInfo[] | undefined;
  readonly pfConf: string | undefined;
  readonly servicesOn: ReadonlySet<string> | undefined;
  readonly running: ReadonlySet<string>;
  readonly unboundConf: string | undefined;
  /** Of the probed paths, those that exist (globbed ones as matched). */
  readonly existing: ReadonlySet<string>;
  /** The host-specific files' contents, by path (absent: no such file). */
  readonly hostSpecificFiles: ReadonlyMap<string, string>;
  readonly unread: readonly string[];
}

function globMatches(pattern: string, dir: string, names: readonly string[]): string[] {
  const last = pattern.slice(pattern.lastIndexOf("/") + 1);
  const regex = new RegExp(
    `^${last
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")}$`,
  );
  return names.filter((name) => regex.test(name)).map((name) => `${dir === "/" ? "" : dir}/${name}`);
}

/** Reads the results of surveyCommands() (same order). */
export function surveyFrom(results: readonly CommandResult[]): HostSurvey {
  const { globDirs } = probedPaths();
  const unread: string[] = [];
  const at = (index: number): CommandResult | undefined => results[index];
  const ok = (index: number): string | undefined => {
    const result = at(index);
    return result && result.exitCode === 0 ? result.stdout : undefined;
  };
  const parsed = <T>(index: number, what: string, parse: (text: string) => T): T | undefined => {
    const result = at(index);
    if (!result || result.exitCode !== 0) {
      unread.push(`${what}: ${result ? (result.stderr.trim().split("\n")[0] ?? "") || `exit ${result.exitCode}` : "not run"}`);
      return undefined;
    }
    try {
      return parse(result.stdout);
    } catch (error) {
      unread.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };
  const carpText = ok(0);
  const carp = parsed(0, "ifconfig carp", parseCarpInterfaces);
  let pfsync: PfsyncInterface | undefined;
  if (carpText !== undefined && /^pfsync\d+:/m.test(carpText)) pfsync = parsed(0, "ifconfig carp (pfsync)", (text) => parsePfsyncInterface(text));
  const tables = parsed(1, "pfctl -vsT", parseTableList);
  const servicesText = ok(3);
  const servicesOn =
    servicesText === undefined
      ? undefined
      : new Set(
          servicesText
            .split("\n")
            .map((line) => line.trim())
            .filter(Boolean),
        );
  // pgrep exits 1 when nothing matches: that is an answer, none runs.
  const running = new Set((at(4)?.stdout ?? "").split("\n").flatMap((line) => /^\s*\d+\s+(\S+)/.exec(line)?.[1] ?? []));
  // ls -d lists what exists and complains on stderr about the rest (exit 1): stdout is the answer.
  const existing = new Set(
    (at(6)?.stdout ?? "")
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean),
  );
  const patterns = Object.values(BUILTIN_DRIFT_SETS).flatMap((set) => set.paths.map(withoutSlash).filter(hasGlob));
  globDirs.forEach((dir, i) => {
    const names = (ok(7 + i) ?? "")
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
    for (const pattern of patterns) if (pattern.startsWith(`${dir}/`)) for (const match of globMatches(pattern, dir, names)) existing.add(match);
  });
  const hostSpecificFiles = new Map<string, string>();
  HOST_SPECIFIC_FILES.forEach((path, i) => {
    const text = ok(7 + globDirs.length + i);
    if (text !== undefined) hostSpecificFiles.set(path, text);
  });
  return { carp, pfsync, tables, pfConf: ok(2), servicesOn, running, unboundConf: ok(5), existing, hostSpecificFiles, unread };
}

// ---- the decisions ----

/** One line of a config or monitrc comment: what was decided, and why. */
export interface Choice {
  readonly subject: string;
  readonly reason: string;
}

export interface TableChoice extends Choice {
  readonly compared: boolean;
}

export interface Plan {
  readonly role: Role;
  readonly peerHost: string;
  /** Interface -> the role that should be MASTER of it; absent: undecided (see undecided). */
  readonly preferredMaster: ReadonlyMap<string, Role>;
  readonly carpChoices: readonly Choice[];
  readonly tables: readonly TableChoice[] | undefined;
  readonly carpentrySync: { readonly installed: boolean; readonly reason: string } | undefined;
  readonly driftSets: readonly (Choice & { readonly name: BuiltinSetName; readonly inUse: boolean })[];
  readonly hostSpecific: { readonly values: readonly (readonly [string, string])[]; readonly interfaces: readonly (readonly [string, string])[]; readonly reason: string } | undefined;
  readonly dnsNames: readonly string[];
  readonly dnsReason: string;
  readonly pfsync: Choice | undefined;
  readonly services: readonly (Choice & { readonly name: ServiceName; readonly watched: boolean })[];
  /** What could not be decided, in words: printed, and a comment in both files. */
  readonly undecided: readonly string[];
}

/** pf.conf's word on each table: declared with a file, const, filled by an overload rule. */
export interface PfConfTables {
  readonly files: ReadonlyMap<string, string>;
  readonly constant: ReadonlySet<string>;
  readonly overload: ReadonlySet<string>;
  readonly declared: ReadonlySet<string>;
}

/** The tables pf.conf declares and fills. Lines continued with a backslash are joined; comments dropped. */
export function readPfConfTables(text: string): PfConfTables {
  const files = new Map<string, string>();
  const constant = new Set<string>();
  const overload = new Set<string>();
  const declared = new Set<string>();
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""));
  for (const line of lines) {
    const table = /^\s*table\s+<([^>]+)>(.*)$/.exec(line);
    if (table?.[1] !== undefined) {
      const name = table[1];
      declared.add(name);
      const options = table[2] ?? "";
      if (/\bconst\b/.test(options)) constant.add(name);
      const file = /\bfile\s+"([^"]+)"/.exec(options);
      if (file?.[1] !== undefined) files.set(name, file[1]);
    }
    for (const match of line.matchAll(/\boverload\s+<([^>]+)>/g)) if (match[1] !== undefined) overload.add(match[1]);
  }
  return { files, constant, overload, declared };
}

/** Tables spamd(8) and spamd-setup(8) fill on each host by themselves. */
const SPAMD_TABLES = new Set(["spamd", "spamd-white"]);

/** Which tables check_pf_tables compares: the ones the admin keeps the same on both hosts, never those each host fills by itself. */
export function chooseTables(pfConf: PfConfTables, listed: readonly PfTableInfo[], tablesSynced: boolean): TableChoice[] {
  const names = [...new Set([...pfConf.declared, ...listed.filter((t) => t.anchor === null).map((t) => t.name)])].sort();
  return names.map((name) => {
    const info = listed.find((t) => t.name === name && t.anchor === null);
    if (pfConf.constant.has(name) || info?.const) return { subject: name, compared: false, reason: "left out, a const table: pf.conf fixes it, and check_drift_pf compares pf.conf" };
    if (pfConf.overload.has(name)) return { subject: name, compared: false, reason: "left out, an overload table: each host fills it by itself" };
    if (SPAMD_TABLES.has(name)) return { subject: name, compared: false, reason: "left out, spamd's: each host's spamd fills it" };
    const file = pfConf.files.get(name);
    if (file !== undefined) return { subject: name, compared: true, reason: `compared, file-backed (${file})` };
    if (tablesSynced) return { subject: name, compared: true, reason: `compared, filled at run time and copied by carpentry's sync (${TABLE_SYNC_SCRIPT})` };
    return { subject: name, compared: false, reason: "left out, filled at run time (no file in pf.conf) and no carpentry sync copies it" };
  });
}

/** Per non-balancing carp interface, the role with the lower advskew (equal: the primary). */
export function choosePreferredMasters(role: Role, local: readonly CarpInterface[], peer: readonly CarpInterface[]): { map: Map<string, Role>; choices: Choice[]; undecided: string[] } {
  const peerRole: Role = role === "primary" ? "secondary" : "primary";
  const map = new Map<string, Role>();
  const choices: Choice[] = [];
  const undecided: string[] = [];
  for (const ours of local) {
    if (ours.vhids.length > 1 || (ours.balancing !== null && ours.balancing !== "none")) {
      choices.push({ subject: ours.name, reason: `balancing over ${ours.vhids.length} vhids: shared by design, no preferred master` });
      continue;
    }
    const theirs = peer.find((candidate) => candidate.name === ours.name || candidate.vhids.some((v) => v.vhid === ours.vhids[0]?.vhid));
    const mine = ours.vhids[0]?.advskew;
    const other = theirs?.vhids.find((v) => v.vhid === ours.vhids[0]?.vhid)?.advskew;
    if (mine === undefined || other === undefined || theirs === undefined) {
      undecided.push(`${ours.name}: the ${peerRole} has no carp interface with vhid ${ours.vhids[0]?.vhid ?? "?"}: its preferred master is left to the check`);
      continue;
    }
    const byRole: Record<Role, number> = role === "primary" ? { primary: mine, secondary: other } : { primary: other, secondary: mine };
    const preferred: Role = byRole.secondary < byRole.primary ? "secondary" : "primary";
    map.set(ours.name, preferred);
    const why = byRole.primary === byRole.secondary ? `advskew ${byRole.primary} on both: the primary` : `advskew ${byRole.primary} on the primary, ${byRole.secondary} on the secondary`;
    choices.push({ subject: ours.name, reason: `the ${preferred} should be MASTER (${why})` });
  }
  return { map, choices, undecided };
}

const IPV4 = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g;
// An interface name where it stands as one: ifstated's `em0.link.up`, or after `on`, `carpdev`,
// `syncdev`; a word such as `abc123` elsewhere may be a secret and is never taken.
const INTERFACE = /(?<![A-Za-z0-9_])[a-z]+\d+(?=\.link\.)|(?<=\b(?:on|carpdev|syncdev)\s+)[a-z]+\d+(?![A-Za-z0-9_.])/g;

/**
 * What differs between the hosts' copies of the host-specific files, token by token: IPv4 addresses
 * become [host_specific] values, interface names [host_specific] interfaces. Only those are taken
 * (nothing else of a file ever reaches the config), and only from lines that differ where both
 * copies have the same number of lines.
 */
export function hostSpecificTokens(primary: ReadonlyMap<string, string>, secondary: ReadonlyMap<string, string>): { values: [string, string][]; interfaces: [string, string][]; files: string[] } {
  const values = new Map<string, [string, string]>();
  const interfaces = new Map<string, [string, string]>();
  const files: string[] = [];
  const add = (into: Map<string, [string, string]>, onPrimary: string, onSecondary: string): void => {
    const key = [onPrimary, onSecondary].sort().join("\0");
    if (!into.has(key)) into.set(key, [onPrimary, onSecondary]);
  };
  for (const [path, text] of primary) {
    const other = secondary.get(path);
    if (other === undefined || other === text) continue;
    const a = text.split("\n");
    const b = other.split("\n");
    if (a.length !== b.length) continue;
    let used = false;
    a.forEach((line, i) => {
      const otherLine = b[i] ?? "";
      if (line === otherLine) return;
      for (const [pattern, into] of [
        [IPV4, values],
        [INTERFACE, interfaces],
      ] as const) {
        const x = line.match(pattern) ?? [];
        const y = otherLine.match(pattern) ?? [];
        if (x.length !== y.length) continue;
        x.forEach((token, j) => {
          const peerToken = y[j];
          if (peerToken !== undefined && peerToken !== token) {
            add(into, token, peerToken);
            used = true;
          }
        });
      }
    });
    if (used) files.push(path);
  }
  return { values: [...values.values()], interfaces: [...interfaces.values()], files };
}

/** The names unbound answers from its own zone (local-data): a check of them needs nothing outside. */
export function localDataNames(unboundConf: string): string[] {
  const names: string[] = [];
  for (const match of unboundConf.matchAll(/^\s*local-data:\s*"([A-Za-z0-9_.-]+?)\.?\s+(?:\d+\s+)?(?:IN\s+)?A\s/gm)) if (match[1] !== undefined) names.push(match[1]);
  return [...new Set(names)];
}

/**
 * The states of ifstated.conf in which it stops or starts each service (`rcctl stop NAME`,
 * `/etc/rc.d/NAME stop` in a `run "..."` of a state's body or init/end block).
 */
export function ifstatedSwitches(text: string): Map<string, { stoppedIn: string[]; startedIn: string[] }> {
  const switches = new Map<string, { stoppedIn: string[]; startedIn: string[] }>();
  let state: string | undefined;
  let depth = 0;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "");
    const opened = /^\s*state\s+([A-Za-z0-9_]+)\s*\{/.exec(line);
    if (opened?.[1] !== undefined && depth === 0) state = opened[1];
    for (const run of line.matchAll(/\brun\s+"([^"]*)"/g)) {
      const command = run[1] ?? "";
      const found = [...command.matchAll(/\brcctl\s+(?:-f\s+)?(stop|start)\s+([A-Za-z0-9_ ]+)/g)].flatMap((m) =>
        (m[2] ?? "")
          .trim()
          .split(/\s+/)
          .map((name) => [m[1], name] as const),
      );
      for (const m of command.matchAll(/\/etc\/rc\.d\/([A-Za-z0-9_]+)\s+(?:-f\s+)?(stop|start)\b/g)) found.push([m[2], m[1] ?? ""] as const);
      for (const [verb, name] of found) {
        const entry = switches.get(name) ?? { stoppedIn: [], startedIn: [] };
        const where = state ?? "(global)";
        const list = verb === "stop" ? entry.stoppedIn : entry.startedIn;
        if (!list.includes(where)) list.push(where);
        switches.set(name, entry);
      }
    }
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    if (depth <= 0) {
      depth = 0;
      state = undefined;
    }
  }
  return switches;
}

const PEER_UNREACHABLE = (peerRole: Role): string => `the ${peerRole} could not be asked`;

/** The plan for this host, from both surveys; peer undefined when it could not be asked (peerProblem says why). */
export function planFor(role: Role, peerHost: string, local: HostSurvey, peer: HostSurvey | undefined, peerProblem?: string): Plan {
  const peerRole: Role = role === "primary" ? "secondary" : "primary";
  const undecided: string[] = [];
  const unreachable = `${PEER_UNREACHABLE(peerRole)}${peerProblem ? ` (${peerProblem})` : ""}`;
  if (!peer) undecided.push(unreachable);
  for (const problem of local.unread) undecided.push(`this host: ${problem}`);
  for (const problem of peer?.unread ?? []) undecided.push(`the ${peerRole}: ${problem}`);
  const byRole = <T>(pick: (survey: HostSurvey) => T): { primary: T | undefined; secondary: T | undefined } =>
    role === "primary" ? { primary: pick(local), secondary: peer && pick(peer) } : { primary: peer && pick(peer), secondary: pick(local) };
  const both = (survey: HostSurvey | undefined): HostSurvey[] => [local, ...(survey ? [survey] : [])];

  // carp
  let preferredMaster = new Map<string, Role>();
  let carpChoices: Choice[] = [];
  if (local.carp && peer?.carp) {
    const chosen = choosePreferredMasters(role, local.carp, peer.carp);
    preferredMaster = chosen.map;
    carpChoices = chosen.choices;
    undecided.push(...chosen.undecided);
  } else if (local.carp && local.carp.length > 0) {
    undecided.push(`preferred master of ${local.carp.map((c) => c.name).join(", ")}: needs both hosts' advskew; left to check_carp, which derives it the same way`);
  }

  // carpentry's sync, on the primary: the side whose copies start there
  const primarySurvey = byRole((survey) => survey).primary;
  const syncFound = (survey: HostSurvey): string[] => SYNC_PIECES.filter((piece) => survey.existing.has(piece));
  let carpentrySync: Plan["carpentrySync"];
  const anyFound = both(peer).flatMap(syncFound);
  if (anyFound.length > 0) {
    carpentrySync = { installed: true, reason: `installed: ${[...new Set(anyFound)].join(", ")} found, so all of it is required` };
  } else if (peer) {
    carpentrySync = { installed: false, reason: `not installed: none of ${SYNC_PIECES.join(", ")} on either host` };
  } else {
    undecided.push("carpentry's sync: not found here, and the peer could not be asked; left to check_installed's own detection");
  }

  // pf tables: the rule is the same on both hosts, so both configs get the same list
  let tables: TableChoice[] | undefined;
  const pfConfText = primarySurvey?.pfConf ?? local.pfConf;
  const listed = both(peer).flatMap((survey) => survey.tables ?? []);
  if (pfConfText !== undefined && local.tables) {
    const synced = (primarySurvey ?? local).existing.has(TABLE_SYNC_SCRIPT);
    tables = chooseTables(readPfConfTables(pfConfText), listed, synced);
    if (!peer) undecided.push(`pf tables: from this host's pf.conf and tables only`);
  } else {
    undecided.push("pf tables: pf.conf or the table list could not be read; left to check_pf_tables' default rule");
  }

  // drift sets: in use when a path of the set exists on either host
  const driftSets = (Object.keys(BUILTIN_DRIFT_SETS) as BuiltinSetName[]).map((name) => {
    const set = BUILTIN_DRIFT_SETS[name];
    const found = set.paths.map(withoutSlash).flatMap((path) => {
      if (!hasGlob(path)) return both(peer).some((survey) => survey.existing.has(path)) ? [path] : [];
      return [...new Set(both(peer).flatMap((survey) => [...survey.existing].filter((p) => globMatches(path, path.slice(0, path.lastIndexOf("/")), [p.slice(p.lastIndexOf("/") + 1)]).includes(p))))];
    });
    const inUse = found.length > 0;
    const where = peer ? "either host" : "this host (the peer could not be asked)";
    return {
      name,
      subject: `drift set ${name}`,
      inUse,
      reason: inUse ? `in use: ${found.slice(0, 3).join(", ")}${found.length > 3 ? ", ..." : ""}` : `not in use: none of ${set.paths.join(", ")} on ${where}`,
    };
  });

  // host-specific values
  let hostSpecific: Plan["hostSpecific"];
  const files = byRole((survey) => survey.hostSpecificFiles);
  if (files.primary && files.secondary) {
    const tokens = hostSpecificTokens(files.primary, files.secondary);
    // pfsync's syncdev is a NIC of each host's own: its hostname.IF files pair up through this mapping.
    const syncdevs = byRole((survey) => survey.pfsync?.syncdev);
    if (syncdevs.primary && syncdevs.secondary && syncdevs.primary !== syncdevs.secondary && !tokens.interfaces.some(([from]) => from === syncdevs.primary)) {
      tokens.interfaces.push([syncdevs.primary, syncdevs.secondary]);
    }
    hostSpecific = {
      values: tokens.values,
      interfaces: tokens.interfaces,
      reason:
        tokens.files.length > 0
          ? `what differs between the hosts' copies of ${tokens.files.join(", ")} (IPv4 addresses, and interface names where they stand as interfaces), and pfsync's syncdev on each host`
          : "the host-specific files (ifstated's) are the same on both hosts, or absent",
    };
  } else {
    undecided.push("[host_specific]: needs both hosts' ifstated files; none written");
  }

  // dns
  const names = local.unboundConf ? localDataNames(local.unboundConf) : [];
  const dnsReason =
    names.length > 0
      ? "names unbound answers from its own zone (local-data in unbound.conf): the check needs nothing outside"
      : "EDIT: no local-data name in unbound.conf; put the names your resolver must answer";
  if (names.length === 0) undecided.push("[checks.dns] names: no name to resolve found; check_dns says UNKNOWN until you add some");

  // pfsync
  let pfsync: Choice | undefined;
  const syncs = byRole((survey) => survey.pfsync);
  if (local.pfsync) {
    const describe = (r: Role, p: PfsyncInterface | undefined): string => (p ? `${r}: ${p.name} ${p.up ? "up" : "down"}, syncdev ${p.syncdev ?? "none"}` : `${r}: ${peer ? "no pfsync" : "not asked"}`);
    pfsync = { subject: "pfsync", reason: `${describe("primary", syncs.primary)}; ${describe("secondary", syncs.secondary)}` };
  }

  // services: enabled (rcctl ls on) or running, here; left out of monit when ifstated stops them in a state
  const ifstatedConf = local.hostSpecificFiles.get("/etc/ifstated.conf");
  const switches = ifstatedConf ? ifstatedSwitches(ifstatedConf) : new Map<string, { stoppedIn: string[]; startedIn: string[] }>();
  if (!local.servicesOn) undecided.push("rcctl ls on could not be read here: services from the running processes only");
  const services = SERVICE_NAMES.map((name) => {
    const enabled = local.servicesOn?.has(name) === true;
    const running = local.running.has(name);
    if (!enabled && !running) return { name, subject: name, watched: false, reason: "not enabled and not running here" };
    const stopped = switches.get(name)?.stoppedIn ?? [];
    if (stopped.length > 0) {
      return { name, subject: name, watched: false, reason: `ifstated stops it in state ${stopped.join(", ")}: a plain check would alert on every such state (check_carp says which host is MASTER)` };
    }
    return { name, subject: name, watched: true, reason: `${enabled ? "enabled" : "not enabled"}${running ? " and running" : ", not running now"}` };
  });

  return { role, peerHost, preferredMaster, carpChoices, tables, carpentrySync, driftSets, hostSpecific, dnsNames: names, dnsReason, pfsync, services, undecided };
}

// ---- the files ----

const tomlString = (text: string): string => JSON.stringify(text);
const tomlKey = (key: string): string => (/^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key));
const comment = (text: string): string => `# ${text}`;

/**
 * The keys init writes that the checks of this version may not read yet, by section and key. A key
 * listed here is written commented out, with the reason, so that the file loads either way.
 */
const PENDING_KEYS: ReadonlySet<string> = new Set<string>();

function key(section: string, name: string, value: string): string {
  const line = `${name} = ${value}`;
  return PENDING_KEYS.has(`${section}.${name}`) ? `# ${line}   (not read by this version of the checks yet)` : line;
}

/** carpentry.toml for this host: every choice commented with its reason. */
export function renderToml(plan: Plan, when: string, peerLines: readonly string[] = []): string {
  const peerRole: Role = plan.role === "primary" ? "secondary" : "primary";
  const out: string[] = [
    comment(`carpentry.toml for the ${plan.role}, written by carpentry init on ${when}`),
    comment(`from what this host and the ${peerRole} (${plan.peerHost}) showed. Each choice says why; edit freely,`),
    comment("then: carpentry config check"),
  ];
  if (plan.undecided.length > 0) {
    out.push("#", comment("Could not decide (see the sections below):"));
    for (const item of plan.undecided) out.push(comment(`  - ${item}`));
  }
  out.push("", `role = ${tomlString(plan.role)}`, "", "[peer]", `host = ${tomlString(plan.peerHost)}`, ...peerLines);

  if (plan.hostSpecific && (plan.hostSpecific.values.length > 0 || plan.hostSpecific.interfaces.length > 0)) {
    out.push("", "[host_specific]", comment(plan.hostSpecific.reason));
    if (plan.hostSpecific.values.length > 0) out.push(`values = [${plan.hostSpecific.values.map(([p, s]) => `{ primary = ${tomlString(p)}, secondary = ${tomlString(s)} }`).join(", ")}]`);
    if (plan.hostSpecific.interfaces.length > 0) out.push(`interfaces = { ${plan.hostSpecific.interfaces.map(([p, s]) => `${tomlKey(p)} = ${tomlString(s)}`).join(", ")} }`);
  } else if (plan.hostSpecific) {
    out.push("", comment(`[host_specific]: none: ${plan.hostSpecific.reason}`));
  }

  out.push("", "[checks.carp]");
  for (const choice of plan.carpChoices) out.push(comment(`${choice.subject}: ${choice.reason}`));
  if (plan.preferredMaster.size > 0) {
    out.push(key("carp", "preferred_master", `{ ${[...plan.preferredMaster].map(([name, role]) => `${tomlKey(name)} = ${tomlString(role)}`).join(", ")} }`));
  } else {
    out.push(comment("preferred_master: not written; the check derives it from advskew on both hosts"));
  }
  if (plan.pfsync) out.push("", comment(`pfsync: ${plan.pfsync.reason}`));

  if (plan.tables) {
    out.push("", "[checks.pf_tables]");
    for (const table of plan.tables) out.push(comment(`table ${table.subject}: ${table.reason}`));
    out.push(
      key(
        "pf_tables",
        "tables",
        `[${plan.tables
          .filter((t) => t.compared)
          .map((t) => tomlString(t.subject))
          .join(", ")}]`,
      ),
    );
  }

  if (plan.carpentrySync) {
    out.push("", "[checks.installed]", comment(`carpentry's sync: ${plan.carpentrySync.reason}`), key("installed", "carpentry_sync", String(plan.carpentrySync.installed)));
  }

  out.push("", "[checks.dns]", comment(plan.dnsReason), `names = [${plan.dnsNames.map(tomlString).join(", ")}]`);

  out.push("", comment("Built-in drift sets (check_drift_NAME, on the primary):"));
  for (const set of plan.driftSets) out.push(comment(`  ${set.name}: ${set.reason}`));
  out.push("", comment("Services (monit's check process stanzas):"));
  for (const service of plan.services) out.push(comment(`  ${service.name}: ${service.watched ? "watched" : "not watched"}, ${service.reason}`));
  return `${out.join("\n")}\n`;
}

/** A paragraph of a monitrc example: its comment lines and, if any, the stanza they introduce. */
interface Paragraph {
  readonly text: string;
  readonly check?: { readonly kind: string; readonly name: string };
}

function paragraphs(example: string): Paragraph[] {
  return example
    .replace(/\n+$/, "")
    .split(/\n[ \t]*\n/)
    .map((text) => {
      const match = /^check\s+(\S+)\s+(\S+)/m.exec(text);
      return match?.[1] !== undefined && match[2] !== undefined ? { text, check: { kind: match[1], name: match[2] } } : { text };
    });
}

/** The checks that ask the peer and still must speak when it is gone. */
const SURVIVOR_CHECKS = new Set(["check_carp"]);

/**
 * monitrc for this role: the role's example, its stanzas kept where they apply, each left-out one
 * replaced by a comment saying why, check_carp without `depends on check_peer`, and a stanza for
 * each watched service the example lacks, in its style.
 */
export function renderMonitrc(plan: Plan, example: string, when: string, alert?: string): string {
  const out: string[] = [];
  const reasons = new Map<string, string>();
  for (const set of plan.driftSets) if (!set.inUse) reasons.set(`check_drift_${set.name}`, `the drift set ${set.name} is ${set.reason}`);
  reasons.set("check_drift", "no [drift.NAME] sets of your own in carpentry.toml; add this stanza back with the first");
  if (plan.tables && !plan.tables.some((t) => t.compared)) reasons.set("check_pf_tables", "no pf table to compare (see [checks.pf_tables] in carpentry.toml)");
  const smtpd = plan.services.find((s) => s.name === "smtpd");
  if (smtpd && !smtpd.watched && smtpd.reason.startsWith("not enabled")) reasons.set("check_mailq", "smtpd is not enabled here");
  for (const service of plan.services) if (!service.watched) reasons.set(service.name, service.reason);
  if (!plan.pfsync) reasons.set("check_pfsync", "no pfsync interface on this host");

  const seen = new Set<string>();
  const [head, ...rest] = paragraphs(example);
  out.push(
    [
      comment(`/etc/monitrc for the ${plan.role.toUpperCase()}, written by carpentry init on ${when} from ${`monitrc.${plan.role}.example`}:`),
      comment("the checks and services that apply to this pair, each left-out one with why. Keep it 0600, root's."),
      ...(plan.undecided.length > 0 ? ["#", comment("init could not decide:"), ...plan.undecided.map((item) => comment(`  - ${item}`))] : []),
      "#",
      // The example's own first lines say to copy it: this file is the copy.
      (head?.text ?? "")
        .split("\n")
        .filter((line) => !/^# \/etc\/monitrc for|^#\s+cp monitrc/.test(line))
        .join("\n")
        .replace(/^(#\n)+/, ""),
    ].join("\n"),
  );
  for (const paragraph of rest) {
    let text = paragraph.text;
    if (paragraph.check) {
      seen.add(paragraph.check.name);
      const reason = reasons.get(paragraph.check.name);
      if (reason !== undefined) {
        out.push(comment(`${paragraph.check.name}: left out, ${reason}`));
        continue;
      }
      if (SURVIVOR_CHECKS.has(paragraph.check.name) && /\n\s*depends on check_peer\s*\n/.test(text)) {
        text = text.replace(/\n\s*depends on check_peer\s*(?=\n)/, "");
        text = `${comment(`${paragraph.check.name} does not depend on check_peer: with the peer gone it still says what this host's carp states mean.`)}\n${text}`;
      }
    }
    if (alert !== undefined) text = text.replace(/^set alert \S+/m, `set alert ${alert}`);
    out.push(text);
  }
  for (const service of plan.services) {
    if (!service.watched || seen.has(service.name)) continue;
    out.push(`check process ${service.name} matching ${tomlString(SERVICES[service.name])}\n    if does not exist then alert\n    group system`);
  }
  return `${out.join("\n\n")}\n`;
}

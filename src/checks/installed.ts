import { lstat } from "node:fs/promises";
import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { absolutePath, checkSettings, type Role } from "../lib/runtime/config.js";
import { buildManifest, type ManifestEntry } from "../lib/compare/files.js";
import { commandFailed, HostError } from "../lib/runtime/errors.js";
import { globToRegExp } from "../lib/facts/files.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { parsePgrepLong, type ProcessMatch } from "../lib/parse/pgrep.js";
import { parseRcctlCheck } from "../lib/parse/rcctl.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";

/**
 * carpentry's setup puts /etc/carpentry (the config), /etc/carpentry.bin (the sync scripts) and
 * /etc/rc.d/carpentry on the primary, /etc/carpentry.monit on both; check_drift_scripts keeps carpentry.bin,
 * carpentry.monit and rc.d/carpentry equal on the secondary, so it has those three.
 */
export const DEFAULT_PATHS: Readonly<Record<Role, readonly string[]>> = {
  primary: ["/etc/carpentry", "/etc/carpentry.bin", "/etc/carpentry.monit", "/etc/rc.d/carpentry"],
  secondary: ["/etc/carpentry.bin", "/etc/carpentry.monit", "/etc/rc.d/carpentry"],
};

/** carpentry's sync (the scripts, their config, the rc.d service that runs entr): what `carpentry_sync` is about. */
export const SYNC_PATHS: Readonly<Record<Role, readonly string[]>> = {
  primary: ["/etc/carpentry", "/etc/carpentry.bin", "/etc/rc.d/carpentry"],
  secondary: ["/etc/carpentry.bin", "/etc/rc.d/carpentry"],
};
/** The checks themselves, which every host has whether or not it runs carpentry's sync. */
const CHECKS_PATH = "/etc/carpentry.monit";

/** [checks.installed] */
const settingsSchema = v.strictObject({
  // Default by role: DEFAULT_PATHS, less SYNC_PATHS where the sync is not installed.
  paths: v.optional(v.array(absolutePath)),
  // Absent: installed when any of SYNC_PATHS exists on this host.
  carpentry_sync: v.optional(v.boolean()),
  service: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_]+$/, "an rc.d service name")), "carpentry"),
  watcher: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, "a program name")), "entr"),
});

// rc.d scripts are run by rcctl and rc(8), and OpenBSD ships its own 0555: readable is fine there.
const RC_D = "/etc/rc.d/";
const GROUP_OTHER_WRITE = 0o022;
const GROUP_OTHER_READ_EXEC = 0o055;
const OWNER_EXEC = 0o100;

export type ServiceState = "ok" | "failed" | "missing";

/** Whether carpentry's sync is required here, and why. */
export interface SyncDecision {
  readonly required: boolean;
  /** From [checks.installed] carpentry_sync, or found out from the paths on this host. */
  readonly how: "config" | "detected";
  /** The sync's paths that exist on this host (detected only). */
  readonly found: readonly string[];
}

/**
 * carpentry_sync = true/false as configured; absent, the host tells: none of the sync's paths
 * (none installed, a pair without carpentry's sync) means not required, any of them means all of
 * them (a half-done install or a half-removed one must still alert).
 */
export function decideSync(configured: boolean | undefined, present: readonly string[]): SyncDecision {
  if (configured !== undefined) return { required: configured, how: "config", found: [] };
  return { required: present.length > 0, how: "detected", found: present };
}

function syncLine(role: Role, sync: SyncDecision): string {
  const pieces = SYNC_PATHS[role].join(", ");
  if (sync.how === "config") return `carpentry's sync ${sync.required ? "required" : "not required"} ([checks.installed] carpentry_sync = ${sync.required})`;
  if (!sync.required) return `carpentry's sync not installed (none of ${pieces} here): not required`;
  const missing = SYNC_PATHS[role].filter((path) => !sync.found.includes(path));
  return missing.length === 0
    ? `carpentry's sync installed (${pieces})`
    : `carpentry's sync partly installed (found ${sync.found.join(", ")}): all of ${pieces} are required (carpentry_sync = false if it was removed on purpose)`;
}

export interface InstalledFacts {
  /** The configured paths ('*' and '?' within the last component). */
  readonly paths: readonly string[];
  readonly role?: Role;
  /** Whether carpentry's sync is required; absent: as before, required. */
  readonly sync?: SyncDecision;
  /** Everything at and below them, as the walk found it (symlinks not followed). */
  readonly entries: readonly ManifestEntry[];
  /** The primary only: the carpentry rc.d service and its watchers. */
  readonly service?: { readonly name: string; readonly state: ServiceState };
  readonly watchers?: { readonly program: string; readonly running: readonly ProcessMatch[] };
}

function rcctlCheckCommand(service: string): HostCommand {
  return { argv: ["/usr/sbin/rcctl", "check", service] };
}

/** -x: the process name exactly; `pgrep -f entr` would also match every carpENTRy command line. */
export function pgrepCommand(program: string): HostCommand {
  return { argv: ["/usr/bin/pgrep", "-lx", program] };
}

/** `rcctl check NAME`: NAME(ok) exit 0, NAME(failed) exit 1, an unknown service exit 2 on stderr. */
export function readServiceState(service: string, answer: CommandResult): ServiceState {
  if (answer.exitCode === 2 && /does not exist/.test(answer.stderr)) return "missing";
  if (answer.exitCode !== 0 && answer.exitCode !== 1) {
    throw commandFailed(`rcctl check ${service}`, undefined, answer);
  }
  const checked = parseRcctlCheck(answer.stdout);
  if (checked.service !== service) throw new HostError(`rcctl check ${service} answered for ${checked.service}`);
  return checked.ok ? "ok" : "failed";
}

/** `pgrep -lx PROGRAM`: exit 1 and no output when nothing runs. */
export function readWatchers(program: string, answer: CommandResult): ProcessMatch[] {
  if (answer.exitCode === 1 && answer.stdout === "") return [];
  if (answer.exitCode !== 0) throw commandFailed(`pgrep ${program}`, undefined, answer);
  return parsePgrepLong(answer.stdout);
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

function whoCan(bits: number): string {
  const group = (bits & 0o070) !== 0;
  const others = (bits & 0o007) !== 0;
  return group && others ? "group and others" : group ? "group" : "others";
}

function entryFindings(entry: ManifestEntry): Finding[] {
  // A symlink's own mode means nothing and it cannot be changed in place; where it points is not ours to judge.
  if (entry.type === "symlink") return [];
  const { path } = entry;
  if (entry.type === "unreadable") return [{ status: "UNKNOWN", summary: `cannot read ${path}: ${entry.error ?? "?"}` }];
  const findings: Finding[] = [];
  const mode = octal(entry.mode);
  if (entry.uid !== 0) {
    findings.push({ status: "CRITICAL", summary: `${path} owned by uid ${entry.uid}, not root`, detail: `${path}: owned by uid ${entry.uid}, not root (mode ${mode})` });
  }
  const rcScript = path.startsWith(RC_D);
  const writable = entry.mode & GROUP_OTHER_WRITE;
  const readable = entry.mode & GROUP_OTHER_READ_EXEC;
  if (writable !== 0) {
    findings.push({
      status: "CRITICAL",
      summary: `${path} writable by ${whoCan(writable)} (${mode})`,
      detail: `${path}: writable by ${whoCan(writable)} (mode ${mode}): anyone there can change what root runs`,
    });
  } else if (readable !== 0 && !rcScript) {
    findings.push({
      status: "WARNING",
      summary: `${path} readable by ${whoCan(readable)} (${mode})`,
      detail: `${path}: readable by ${whoCan(readable)} (mode ${mode}); carpentry's files are root's alone: chmod -R 700`,
    });
  }
  if (rcScript && entry.type === "file" && (entry.mode & OWNER_EXEC) === 0) {
    findings.push({ status: "CRITICAL", summary: `${path} not executable (${mode})`, detail: `${path}: not executable by root (mode ${mode}): rcctl cannot run it: chmod u+x` });
  }
  return findings;
}

function rootLine(root: string, entries: readonly ManifestEntry[]): string {
  const top = entries.find((entry) => entry.path === root);
  if (!top) return `${root}: ${entries.length} entr${entries.length === 1 ? "y" : "ies"}`;
  const inside = entries.length - 1;
  return `${root}: ${top.type} ${octal(top.mode)} uid ${top.uid}${top.type === "dir" ? `, ${inside} entr${inside === 1 ? "y" : "ies"} inside` : ""}`;
}

export function decideInstalled(facts: InstalledFacts): Result {
  const findings: Finding[] = [];
  const context: string[] = [];
  for (const root of facts.paths) {
    const pattern = globToRegExp(root);
    const tops = facts.entries.filter((entry) => pattern.test(entry.path));
    const under = facts.entries.filter((entry) => tops.some((top) => entry.path === top.path || entry.path.startsWith(`${top.path}/`)));
    if (under.length === 0) {
      findings.push({ status: "CRITICAL", summary: `${root} missing`, detail: `${root}: missing` });
      continue;
    }
    context.push(rootLine(root, under));
  }
  for (const entry of facts.entries) findings.push(...entryFindings(entry));
  const perfdata: PerfDatum[] = [{ label: "entries", value: facts.entries.length, min: 0 }];
  const running: string[] = [];
  if (facts.service) {
    const { name, state } = facts.service;
    if (state === "missing") findings.push({ status: "CRITICAL", summary: `rc.d service ${name} does not exist`, detail: `rcctl check ${name}: service does not exist (/etc/rc.d/${name})` });
    if (state === "failed") findings.push({ status: "CRITICAL", summary: `${name} not running (rcctl check: ${name}(failed))`, detail: `rcctl check ${name}: ${name}(failed); rcctl start ${name}` });
    if (state === "ok") running.push(`${name}(ok)`);
  }
  if (facts.watchers) {
    const { program, running: watchers } = facts.watchers;
    perfdata.push({ label: "watchers", value: watchers.length, min: 0 });
    if (watchers.length === 0) {
      findings.push({ status: "CRITICAL", summary: `no ${program} watchers running`, detail: `no process named ${program}: nothing watches the synced files (rcctl restart carpentry)` });
    } else {
      running.push(`${watchers.length} ${program} watcher${watchers.length === 1 ? "" : "s"}`);
      context.push(`${program} pids: ${watchers.map((w) => w.pid).join(", ")}`);
    }
  }
  if (facts.sync && facts.role) context.unshift(syncLine(facts.role, facts.sync));
  if (facts.sync && !facts.sync.required) running.push("carpentry sync not installed");
  const present = `${facts.paths.length} path${facts.paths.length === 1 ? "" : "s"} in place, root-only (${facts.entries.length} entries)`;
  return resultFromFindings(findings, [present, ...(running.length > 0 ? [running.join(", ")] : [])].join("; "), context, perfdata);
}

/** Which of these paths exist on this host (a symlink counts: it is there, whatever it points to). */
async function existingPaths(paths: readonly string[]): Promise<string[]> {
  const found = await Promise.all(
    paths.map(async (path) => {
      try {
        await lstat(path);
        return path;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        // Cannot tell (EACCES...): counted as there, so the walk reports what it cannot read.
        return path;
      }
    }),
  );
  return found.filter((path): path is string => path !== undefined);
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

export const check: CheckDefinition = {
  name: "installed",
  title: "carpentry's scripts and checks are in place, root-owned and private; on the primary its rc.d service and watchers run",
  roles: ["primary", "secondary"],
  usesPeer: false,
  reads: [
    "this host only: every file and directory at and below [checks.installed] paths (owner and mode; symlinks are not followed; names read as bytes, one that is not UTF-8 printed as x\\xe9.sh), default " +
      `on the primary ${DEFAULT_PATHS.primary.join(", ")}; on the secondary ${DEFAULT_PATHS.secondary.join(", ")}; ` +
      `without carpentry's sync only ${CHECKS_PATH}`,
    `[checks.installed] carpentry_sync = true | false; absent, it is found out on this host: carpentry's sync is installed when any of its paths exists (on the primary ${SYNC_PATHS.primary.join(", ")}; on the secondary ${SYNC_PATHS.secondary.join(", ")}), and then all of them are required`,
    "the primary only, when carpentry's sync is installed, in one round trip: /usr/sbin/rcctl check SERVICE ([checks.installed] service, default carpentry) and " +
      "/usr/bin/pgrep -lx WATCHER ([checks.installed] watcher, default entr: the process name exactly)",
  ],
  states: {
    OK: "every path exists; everything at and below them is owned by root and neither readable nor writable by group or others (rc.d scripts: not writable by them, executable by root); on the primary the service checks ok and at least one watcher runs. A pair without carpentry's sync (none of its paths on this host, or carpentry_sync = false) needs only /etc/carpentry.monit, and no service or watcher",
    WARNING:
      "an entry is readable (or executable) by group or others but not writable by them (carpentry's files are root's alone: chmod -R 700); rc.d scripts may be readable, as OpenBSD's own are 0555",
    CRITICAL:
      "a path is missing (with carpentry's sync partly installed, each of its missing paths), an entry is not owned by root, an entry is writable by group or others, an rc.d script is not executable by root (rcctl cannot run it: chmod u+x); " +
      "on the primary: rcctl check says SERVICE(failed) or the service does not exist, or no WATCHER process runs",
    UNKNOWN: "an entry cannot be read, rcctl or pgrep fail or print what the parser cannot read, bad config, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const role = ctx.role;
    const sync = decideSync(settings.carpentry_sync, settings.carpentry_sync === undefined ? await existingPaths(SYNC_PATHS[role]) : []);
    const defaults = sync.required ? DEFAULT_PATHS[role] : DEFAULT_PATHS[role].filter((path) => !SYNC_PATHS[role].includes(path));
    const paths = (settings.paths ?? defaults).map(withoutTrailingSlash);
    const spec = { name: "installed", paths, exclude: [], compareOwner: true, compareMode: true, redaction: { patterns: [], secretFiles: [] } };
    const walk = ctx.scope.waitFor(`reading ${paths.join(", ")}`, buildManifest(spec, { signal: ctx.deadline.signal }));
    // The rc.d service and its watchers are the sync's: asked on the primary, where it runs, when it is required.
    if (role !== "primary" || !sync.required) return decideInstalled({ paths, role, sync, entries: await walk });
    const [entries, [rcctl, pgrep]] = await Promise.all([walk, ctx.local.run([rcctlCheckCommand(settings.service), pgrepCommand(settings.watcher)])]);
    if (!rcctl || !pgrep) throw new HostError("rcctl and pgrep gave no answer");
    return decideInstalled({
      paths,
      role,
      sync,
      entries,
      service: { name: settings.service, state: readServiceState(settings.service, rcctl) },
      watchers: { program: settings.watcher, running: readWatchers(settings.watcher, pgrep) },
    });
  },
};

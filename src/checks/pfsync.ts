import * as v from "valibot";
import type { CheckContext, CheckDefinition } from "../lib/runtime/check.js";
import { absolutePath, checkSettings, interfaceName, wholeCount, type Config, type Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError } from "../lib/runtime/errors.js";
import { readPeerMessage } from "../lib/facts/protocol.js";
import { loadReading, saveReading } from "../lib/runtime/last-reading.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { parseInterfaceLink, parsePfsyncInterface, type InterfaceLink, type PfsyncInterface } from "../lib/parse/ifconfig.js";
import { parseProtocolStats } from "../lib/parse/netstat.js";
import { parsePfInfo, parseStates, type PfInfo } from "../lib/parse/pfctl.js";
import { encodeStateKeys, EXPIRY_MARGIN_SECONDS, PFCTL_STATES_ARGV, stateMatchCountsSchema, stateKeys, type StateKeys, type StateMatchCounts } from "../lib/facts/pf-states.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";
import { parseRange, rangeAlerts, type Range } from "../lib/runtime/thresholds.js";

const ROLES: readonly Role[] = ["primary", "secondary"];
const COUNTERS_FILE = "pfsync-counters.json";

/**
 * The error counters of netstat -sp pfsync (struct pfsyncstats fields; the config's ignore_counters
 * names them without `pfsyncs_`), with the words netstat prints for them. Packets received and sent
 * count traffic, not trouble.
 */
const ERROR_COUNTERS: Readonly<Record<string, string>> = {
  pfsyncs_badif: "packets discarded for bad interface",
  pfsyncs_badttl: "packets discarded for bad ttl",
  pfsyncs_hdrops: "packets shorter than header",
  pfsyncs_badver: "packets discarded for bad version",
  pfsyncs_badauth: "packets discarded for bad HMAC",
  pfsyncs_badact: "packets discarded for bad action",
  pfsyncs_badlen: "packets discarded for short packet",
  pfsyncs_badval: "states discarded for bad values",
  pfsyncs_stale: "stale states",
  pfsyncs_badstate: "failed state lookups/inserts",
  pfsyncs_onomem: "sends failed for mbuf memory",
  pfsyncs_oerrors: "send errors",
};

/**
 * The counters that grow on a healthy pair (if_pfsync.c): `stale` when an update for a state is
 * older than what this host already knows (both hosts touched the state, as around a failover or
 * with traffic seen by both; the host answers with its newer copy), `badstate` when a delete or an
 * update request names a state this host no longer has (it expired here first) or an insert finds
 * it there already. The others count packets from the wrong interface, with a ttl other than 255,
 * cut short, of another pfsync version or with an unknown action, states with impossible values,
 * and sends that failed: a healthy pair has none, or one now and then.
 */
const BUSY_COUNTERS: ReadonlySet<string> = new Set(["pfsyncs_stale", "pfsyncs_badstate"]);
/** How many readings a host's history keeps at most (a run every 10 s for an hour is 360). */
const MAX_HISTORY = 720;

/** [checks.pfsync] */
const settingsSchema = v.strictObject({
  interface: v.optional(interfaceName, "pfsync0"),
  // The primary's syncdev; the secondary's is its [host_specific] interfaces mapping (or the same name).
  syncdev: v.optional(interfaceName),
  // Each host's own syncpeer (the other's pfsync address); pfsync's syncpeer is IPv4 only.
  syncpeer: v.optional(
    v.strictObject({
      primary: v.optional(v.pipe(v.string(), v.ipv4("an IPv4 address"))),
      secondary: v.optional(v.pipe(v.string(), v.ipv4("an IPv4 address"))),
    }),
  ),
  ratio_low: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.93),
  ratio_high: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(10)), 1.03),
  small_count: v.optional(wholeCount, 100),
  small_slack: v.optional(wholeCount, 3),
  compare_states: v.optional(v.boolean(), false),
  min_state_age: v.optional(wholeCount, 30),
  share_warning: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 95),
  share_critical: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 80),
  // netstat -sp pfsync error counters (struct pfsyncstats fields without `pfsyncs_`) whose growth is not reported.
  ignore_counters: v.optional(
    v.array(
      v.picklist(
        ["badif", "badttl", "hdrops", "badver", "badauth", "badact", "badlen", "badval", "stale", "badstate", "onomem", "oerrors"],
        "a pfsync counter: badif, badttl, hdrops, badver, badauth, badact, badlen, badval, stale, badstate, onomem or oerrors",
      ),
    ),
    [],
  ),
  // Growth is a rate over at least this many seconds (a burst counts against the whole window).
  rate_window: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60, "at least 60 seconds"), v.maxValue(7 * 86400, "at most a week")), 3600),
  // WARNING above these rates (per hour): stale and badstate grow in normal operation, the others should not.
  busy_per_hour: v.optional(wholeCount, 3600),
  errors_per_hour: v.optional(wholeCount, 60),
  // Where the last counter readings are kept between runs; ours alone, never under /etc.
  state_dir: v.optional(
    v.pipe(
      absolutePath,
      v.check((path) => !/^\/etc(\/|$)/.test(path), "a directory outside /etc"),
    ),
    "/var/db/carpentry",
  ),
});

export interface PfsyncSettings {
  readonly interfaceName: string;
  /** What each host must show; undefined: not checked. */
  readonly syncdev: Readonly<Record<Role, string | undefined>>;
  readonly syncpeer: Readonly<Record<Role, string | undefined>>;
  readonly ratioLow: number;
  readonly ratioHigh: number;
  readonly smallCount: number;
  readonly smallSlack: number;
  readonly compareStates: boolean;
  readonly minStateAge: number;
  readonly shareWarning: Range;
  readonly shareCritical: Range;
  /** struct pfsyncstats fields whose growth is not reported (`pfsyncs_stale`). */
  readonly ignoredCounters: ReadonlySet<string>;
  /** How counter growth is judged. */
  readonly limits: CounterLimits;
  /** -w/-c were given although compare_states is off: they have nothing to apply to. */
  readonly unusedThresholds: boolean;
  /** Where the previous run's counters are kept. */
  readonly stateDir: string;
}

export function pfsyncSettings(config: Config, warning?: Range, critical?: Range): PfsyncSettings {
  const section = checkSettings(config, check.name, settingsSchema);
  const primarySyncdev = section.syncdev;
  return {
    interfaceName: section.interface,
    syncdev: {
      primary: primarySyncdev,
      secondary: primarySyncdev === undefined ? undefined : (config.host_specific.interfaces[primarySyncdev] ?? primarySyncdev),
    },
    syncpeer: { primary: section.syncpeer?.primary, secondary: section.syncpeer?.secondary },
    ratioLow: section.ratio_low,
    ratioHigh: section.ratio_high,
    smallCount: section.small_count,
    smallSlack: section.small_slack,
    compareStates: section.compare_states,
    minStateAge: section.min_state_age,
    // A share alerts when it falls below the configured number: the Nagios range `N:`.
    shareWarning: warning ?? parseRange(`${section.share_warning}:`, "share_warning"),
    shareCritical: critical ?? parseRange(`${section.share_critical}:`, "share_critical"),
    ignoredCounters: new Set(section.ignore_counters.map((name) => `pfsyncs_${name}`)),
    limits: {
      windowSeconds: section.rate_window,
      busyPerHour: section.busy_per_hour,
      errorsPerHour: section.errors_per_hour,
      ignored: new Set(section.ignore_counters.map((name) => `pfsyncs_${name}`)),
    },
    unusedThresholds: !section.compare_states && (warning !== undefined || critical !== undefined),
    stateDir: section.state_dir,
  };
}

// ---- facts from one host ----

export interface PfsyncHostFacts {
  readonly role: Role;
  /** null when the host has no such interface. */
  readonly pfsync: PfsyncInterface | null;
  readonly info: PfInfo;
  /** netstat -sp pfsync by struct pfsyncstats field (`pfsyncs_badstate`), known rows only. */
  readonly counters: Readonly<Record<string, number>>;
}

export interface PfsyncHostOutputs {
  readonly ifconfig: CommandResult;
  readonly pfctlInfo: CommandResult;
  readonly netstat: CommandResult;
}

function hostCommands(interfaceName: string): HostCommand[] {
  return [{ argv: ["/sbin/ifconfig", interfaceName] }, { argv: ["/sbin/pfctl", "-si"] }, { argv: ["/usr/bin/netstat", "-sp", "pfsync"] }];
}

/** A parser's complaint, with the host it came from: "cannot parse secondary's pfctl -si output line 3". */
function parsedOn<T>(role: Role, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(`${role}'s ${error.what}`, error.reason, error.lineNumber, error.lineText);
    throw error;
  }
}

function outputOf(role: Role, commandResult: CommandResult): string {
  if (commandResult.exitCode === 0) return commandResult.stdout;
  throw commandFailed(commandResult.command, role, commandResult);
}

/** Raw output of one host -> typed facts. Throws ParseError (naming host and line) or HostError. */
export function readHostFacts(role: Role, interfaceName: string, outputs: PfsyncHostOutputs): PfsyncHostFacts {
  const missing = outputs.ifconfig.exitCode !== 0 && /no such interface|not configured/i.test(outputs.ifconfig.stderr);
  const pfsync = missing ? null : parsedOn(role, () => parsePfsyncInterface(outputOf(role, outputs.ifconfig), interfaceName));
  const info = parsedOn(role, () => parsePfInfo(outputOf(role, outputs.pfctlInfo)));
  const stats = parsedOn(role, () => parseProtocolStats(outputOf(role, outputs.netstat)));
  if (stats.protocol !== "pfsync") throw new ParseError(`${role}'s netstat -sp pfsync output`, `header is ${stats.protocol}:, expected pfsync:`, 1);
  return { role, pfsync, info, counters: stats.fields };
}

// ---- counter growth over time ----

interface CounterReading {
  readonly at: string;
  readonly counters: Readonly<Record<string, number>>;
}

/** The file in state_dir: each host's netstat -sp pfsync readings of the last rate_window (and one before it), as this host saw them. */
export interface StoredCounters {
  readonly version: 2;
  readonly history: Partial<Record<Role, readonly CounterReading[]>>;
}

/** How growth is judged: a rate per hour over at least windowSeconds, against a limit per kind of counter. */
export interface CounterLimits {
  readonly windowSeconds: number;
  /** stale and badstate, which grow on a healthy pair. */
  readonly busyPerHour: number;
  /** every other error counter. */
  readonly errorsPerHour: number;
  readonly ignored: ReadonlySet<string>;
}

export interface CounterIncrease {
  readonly field: string;
  readonly from: number;
  readonly to: number;
  /** Seconds between the two readings. */
  readonly seconds: number;
  /** Growth per hour, over at least the window: a burst counts against the whole window. */
  readonly perHour: number;
  readonly limit: number;
}

export type HostCounterGrowth =
  { readonly kind: "first" } | { readonly kind: "reset" } | { readonly kind: "compared"; readonly since: string; readonly seconds: number; readonly increases: readonly CounterIncrease[] };

export interface CounterGrowth {
  readonly byRole: Readonly<Record<Role, HostCounterGrowth>> | null;
  /** Why growth is not measured this run (the state directory cannot be used), or a note on the previous readings. */
  readonly note?: string;
}

function validReading(value: unknown): CounterReading | undefined {
  const reading = value as Partial<CounterReading> | undefined;
  if (typeof reading?.at !== "string" || Number.isNaN(Date.parse(reading.at)) || typeof reading.counters !== "object" || reading.counters === null) return undefined;
  if (!Object.values(reading.counters).every((count) => Number.isInteger(count))) return undefined;
  return { at: reading.at, counters: reading.counters };
}

/** The stored history by role, oldest first; version 1 (one reading a host) is read as a history of one. */
function readHistory(value: unknown): Partial<Record<Role, CounterReading[]>> {
  if (typeof value !== "object" || value === null) return {};
  const { version, readings, history } = value as { version?: unknown; readings?: unknown; history?: unknown };
  const byRole: Partial<Record<Role, CounterReading[]>> = {};
  for (const role of ROLES) {
    if (version === 1 && typeof readings === "object" && readings !== null) {
      const reading = validReading((readings as Record<string, unknown>)[role]);
      if (reading) byRole[role] = [reading];
    }
    if (version === 2 && typeof history === "object" && history !== null) {
      const list = (history as Record<string, unknown>)[role];
      if (!Array.isArray(list)) continue;
      const valid = list.map(validReading).filter((reading): reading is CounterReading => reading !== undefined);
      byRole[role] = valid.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    }
  }
  return byRole;
}

/** The newest reading at least a window old (the base of the rate), else the oldest one. */
function baseOf(history: readonly CounterReading[], now: number, windowSeconds: number): CounterReading | undefined {
  const old = history.filter((reading) => Date.parse(reading.at) <= now - windowSeconds * 1000);
  return old[old.length - 1] ?? history[0];
}

/** What to keep: the readings of the last window, the base before them, and this run's. */
function kept(history: readonly CounterReading[], current: CounterReading, now: number, windowSeconds: number): CounterReading[] {
  const base = baseOf(history, now, windowSeconds);
  const recent = history.filter((reading) => reading === base || Date.parse(reading.at) > now - windowSeconds * 1000);
  return [...recent, current].slice(-MAX_HISTORY);
}

/**
 * Growth of each host's error counters, as a rate: the increase since the base reading (a window
 * ago, or the oldest one kept) per hour, over at least the window. A counter that went down means
 * the host rebooted (its counters start at 0 again): its history starts over from this reading.
 */
export function counterGrowth(previous: unknown, hosts: readonly PfsyncHostFacts[], limits: CounterLimits, at: Date): { byRole: Record<Role, HostCounterGrowth>; stored: StoredCounters } {
  const history = readHistory(previous);
  const now = at.getTime();
  const byRole: Record<Role, HostCounterGrowth> = { primary: { kind: "first" }, secondary: { kind: "first" } };
  const stored: Partial<Record<Role, readonly CounterReading[]>> = {};
  for (const host of hosts) {
    const current: CounterReading = { at: at.toISOString(), counters: host.counters };
    const past = history[host.role] ?? [];
    const latest = past[past.length - 1];
    const base = baseOf(past, now, limits.windowSeconds);
    if (!latest || !base) {
      stored[host.role] = [current];
      continue;
    }
    if (Object.entries(host.counters).some(([field, count]) => count < (latest.counters[field] ?? 0))) {
      byRole[host.role] = { kind: "reset" };
      stored[host.role] = [current];
      continue;
    }
    const seconds = Math.max(0, (now - Date.parse(base.at)) / 1000);
    const increases: CounterIncrease[] = [];
    for (const field of Object.keys(ERROR_COUNTERS)) {
      const from = base.counters[field];
      const to = host.counters[field];
      if (from === undefined || to === undefined || limits.ignored.has(field) || to <= from) continue;
      const perHour = ((to - from) * 3600) / Math.max(seconds, limits.windowSeconds);
      increases.push({ field, from, to, seconds, perHour, limit: BUSY_COUNTERS.has(field) ? limits.busyPerHour : limits.errorsPerHour });
    }
    byRole[host.role] = { kind: "compared", since: base.at, seconds, increases };
    stored[host.role] = kept(past, current, now, limits.windowSeconds);
  }
  // A host not read this run (none today: both always are) keeps its history.
  for (const role of ROLES) if (!stored[role] && history[role]) stored[role] = history[role];
  return { byRole, stored: { version: 2, history: stored } };
}

// ---- the state tables themselves (compare_states) ----

export interface StateShare {
  /** The primary's settled states (old enough to be synced, not about to expire). */
  readonly compared: number;
  /** How many of them the secondary holds. */
  readonly held: number;
  /** The primary's states left out. */
  readonly young: number;
  readonly expiring: number;
}

/** What crossed the wire for the comparison, for a detail line. */
export interface StateExchange {
  readonly peer: Role;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly elapsedMs: number;
}

/**
 * The primary sends the keys of its settled states and the secondary counts those it holds; the
 * secondary sends all its keys and the primary counts its settled states among them. Either way the
 * share is of the primary's settled states.
 */
export function stateShare(localRole: Role, local: StateKeys, answer: StateMatchCounts): StateShare {
  if (localRole === "primary") return { compared: local.settledCount, held: answer.theirsHeld, young: local.young, expiring: local.expiring };
  return { compared: answer.settled, held: answer.settledHeldByThem, young: answer.young, expiring: answer.expiring };
}

// ---- the decision ----

export interface PfsyncFacts {
  readonly primary: PfsyncHostFacts;
  readonly secondary: PfsyncHostFacts;
  readonly growth: CounterGrowth;
  readonly share?: StateShare;
  readonly exchange?: StateExchange;
  /** `ifconfig SYNCDEV` of each host that has a syncdev (see syncdevLinks). */
  readonly syncdevLinks?: SyncdevLinks;
}

/** A pfsync finding carries all its detail lines. */
type Problem = Finding & { readonly detail: readonly string[] };

/**
 * The admin's rule: below small_count states on the primary the secondary may differ by small_slack
 * states, above it the secondary must hold ratio_low to ratio_high times the primary's count.
 */
export function countsWithinTolerance(statesOnPrimary: number, statesOnSecondary: number, settings: PfsyncSettings): boolean {
  if (statesOnPrimary < settings.smallCount) return Math.abs(statesOnSecondary - statesOnPrimary) <= settings.smallSlack;
  // The epsilon keeps a bound that is a whole number (0.95 * 700) from missing it by a rounding error.
  const epsilon = 1e-9;
  return statesOnSecondary >= settings.ratioLow * statesOnPrimary - epsilon && statesOnSecondary <= settings.ratioHigh * statesOnPrimary + epsilon;
}

/** Rounded down to 0.1: a share short of all is never shown as 100%. */
function percentValue(part: number, whole: number): number {
  return Math.floor((part / whole) * 1000) / 10;
}

function percent(part: number, whole: number): string {
  return `${percentValue(part, whole).toFixed(1)}%`;
}

function describeInterface(host: PfsyncHostFacts, name: string): string {
  const pfsync = host.pfsync;
  if (!pfsync) return `${host.role}: no ${name}`;
  const words = [`${host.role}: ${name} ${pfsync.up && pfsync.running ? "up" : `flags <${pfsync.flags.join(",")}>`}`];
  words.push(pfsync.syncdev === null ? "no syncdev" : `syncdev ${pfsync.syncdev}`);
  if (pfsync.syncdev !== null) words.push(`syncpeer ${pfsync.syncpeer ?? "none (multicast)"}`, `maxupd ${pfsync.maxupd}`, `defer ${pfsync.defer ? "on" : "off"}`);
  return words.join(", ");
}

function interfaceProblems(host: PfsyncHostFacts, settings: PfsyncSettings): Problem[] {
  const name = settings.interfaceName;
  const role = host.role;
  const pfsync = host.pfsync;
  if (!pfsync) return [{ status: "CRITICAL", summary: `${name} missing on ${role}`, detail: [`${role} has no ${name} interface: create /etc/hostname.${name} (e.g. "syncdev em2 up")`] }];
  const problems: Problem[] = [];
  if (!pfsync.up || !pfsync.running) {
    problems.push({ status: "CRITICAL", summary: `${name} down on ${role}`, detail: [`${role}: ${name} flags <${pfsync.flags.join(",")}>, expected UP,RUNNING`] });
  }
  if (pfsync.syncdev === null) {
    problems.push({ status: "CRITICAL", summary: `${name} has no syncdev on ${role}`, detail: [`${role}: ifconfig ${name} shows no syncdev: no states are sent or received`] });
    return problems;
  }
  const wantedSyncdev = settings.syncdev[role];
  if (wantedSyncdev !== undefined && pfsync.syncdev !== wantedSyncdev) {
    problems.push({
      status: "CRITICAL",
      summary: `${name} on ${role} syncs over ${pfsync.syncdev}, not ${wantedSyncdev}`,
      detail: [`${role}: ${name} syncdev ${pfsync.syncdev}, configured ${wantedSyncdev}`],
    });
  }
  const wantedSyncpeer = settings.syncpeer[role];
  if (wantedSyncpeer !== undefined && pfsync.syncpeer !== wantedSyncpeer) {
    const actual = pfsync.syncpeer ?? "none";
    problems.push({
      status: "CRITICAL",
      summary: `${name} on ${role} has syncpeer ${actual}, not ${wantedSyncpeer}`,
      detail: [`${role}: ${name} syncpeer ${pfsync.syncpeer ?? "none (multicast)"}, configured ${wantedSyncpeer}`],
    });
  }
  return problems;
}

function countProblem(statesOnPrimary: number, statesOnSecondary: number, settings: PfsyncSettings): Problem | undefined {
  if (countsWithinTolerance(statesOnPrimary, statesOnSecondary, settings)) return undefined;
  const share = statesOnPrimary === 0 ? "the primary has none" : `the secondary has ${percent(statesOnSecondary, statesOnPrimary)} of the primary's`;
  return {
    status: "CRITICAL",
    summary: `states diverged: primary ${statesOnPrimary}, secondary ${statesOnSecondary}`,
    detail: [`state counts beyond tolerance: ${share}`],
    // A host back from its reboot starts with an empty table until pfsync's bulk update fills it.
    maintenance: ["primary", "secondary"],
  };
}

function toleranceText(settings: PfsyncSettings): string {
  return `tolerance ${settings.ratioLow}-${settings.ratioHigh} of the primary's count, +/-${settings.smallSlack} below ${settings.smallCount} states`;
}

function shareProblem(share: StateShare, settings: PfsyncSettings): Problem | undefined {
  if (share.compared === 0) return undefined;
  const value = (share.held / share.compared) * 100;
  const status = rangeAlerts(settings.shareCritical, value) ? "CRITICAL" : rangeAlerts(settings.shareWarning, value) ? "WARNING" : undefined;
  if (status === undefined) return undefined;
  return {
    status,
    summary: `secondary holds only ${percent(share.held, share.compared)} of the primary's states`,
    detail: [
      `${share.compared - share.held} of the primary's ${share.compared} settled states are missing on the secondary (${status} below ${status === "CRITICAL" ? settings.shareCritical.text : settings.shareWarning.text})`,
    ],
  };
}

function shareLine(share: StateShare, minStateAge: number): string {
  const held = share.compared === 0 ? "no settled state to compare" : `secondary holds ${share.held} (${percent(share.held, share.compared)})`;
  return `state tables: ${share.compared} primary states older than ${minStateAge}s compared, ${held}; left out ${share.young} younger, ${share.expiring} expiring within ${EXPIRY_MARGIN_SECONDS}s`;
}

function exchangeLine(exchange: StateExchange): string {
  const kib = (bytes: number): string => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);
  return `state keys sent to the ${exchange.peer}: ${kib(exchange.sentBytes)}, answer ${kib(exchange.receivedBytes)}, round trip ${Math.round(exchange.elapsedMs)} ms`;
}

function errorTotal(host: PfsyncHostFacts, ignored: ReadonlySet<string>): number {
  return Object.keys(ERROR_COUNTERS).reduce((sum, field) => sum + (ignored.has(field) ? 0 : (host.counters[field] ?? 0)), 0);
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function rate(perHour: number): string {
  return perHour >= 10 ? `${Math.round(perHour)}/h` : `${perHour.toFixed(1)}/h`;
}

function counterLines(hosts: readonly PfsyncHostFacts[], growth: CounterGrowth, limits: CounterLimits): { problems: Problem[]; lines: string[] } {
  const lines: string[] = [];
  const problems: Problem[] = [];
  const window = duration(limits.windowSeconds);
  for (const host of hosts) {
    const nonZero = Object.entries(ERROR_COUNTERS)
      .filter(([field]) => (host.counters[field] ?? 0) > 0)
      .map(([field, words]) => `${host.counters[field]} ${words}${limits.ignored.has(field) ? " (ignored)" : ""}`);
    const totals = `pfsync errors on ${host.role}: ${nonZero.length === 0 ? "none" : nonZero.join(", ")}`;
    const hostGrowth = growth.byRole?.[host.role];
    if (!hostGrowth) {
      lines.push(totals);
    } else if (hostGrowth.kind === "first") {
      lines.push(`${totals}; first reading, growth is told from the next run`);
    } else if (hostGrowth.kind === "reset") {
      lines.push(`${totals}; counters went down since the last run (reboot?), growth is told from the next run`);
    } else if (hostGrowth.increases.length === 0) {
      lines.push(`${totals}; no growth in ${duration(hostGrowth.seconds)}`);
    } else {
      const grew = hostGrowth.increases.map((increase) => `${ERROR_COUNTERS[increase.field] ?? increase.field} +${increase.to - increase.from} (${rate(increase.perHour)})`);
      lines.push(`${totals}; in ${duration(hostGrowth.seconds)}: ${grew.join(", ")}`);
      for (const increase of hostGrowth.increases) {
        if (increase.perHour <= increase.limit || limits.ignored.has(increase.field)) continue;
        const words = ERROR_COUNTERS[increase.field] ?? increase.field;
        problems.push({
          status: "WARNING",
          summary: `pfsync ${words} at ${rate(increase.perHour)} on ${host.role}`,
          detail: [
            `${host.role}: ${words} grew by ${increase.to - increase.from} (${increase.from} -> ${increase.to}) in ${duration(increase.seconds)}: ${rate(increase.perHour)} over ${window} or more, warning above ${increase.limit}/h`,
          ],
        });
      }
    }
  }
  return { lines, problems };
}

/** Facts -> Result: is pfsync up and configured on both hosts, and do their state tables agree? */
export function decidePfsync(facts: PfsyncFacts, settings: PfsyncSettings): Result {
  const hosts = [facts.primary, facts.secondary];
  const statesOnPrimary = facts.primary.info.states.currentEntries;
  const statesOnSecondary = facts.secondary.info.states.currentEntries;
  const problems: Problem[] = hosts.flatMap((host) => interfaceProblems(host, settings));
  const countFault = countProblem(statesOnPrimary, statesOnSecondary, settings);
  if (countFault) problems.push(countFault);
  const shareFault = facts.share && shareProblem(facts.share, settings);
  if (shareFault) problems.push(shareFault);
  const counters = counterLines(hosts, facts.growth, settings.limits);
  problems.push(...counters.problems);
  if (facts.syncdevLinks) problems.push(...parityProblems(facts.primary, facts.secondary, facts.syncdevLinks, settings));

  const ratio = statesOnPrimary === 0 ? "" : ` (${percent(statesOnSecondary, statesOnPrimary)})`;
  const context = [
    `states: primary ${statesOnPrimary}, secondary ${statesOnSecondary}${ratio}; ${toleranceText(settings)}`,
    ...(facts.share ? [shareLine(facts.share, settings.minStateAge)] : []),
    ...(facts.growth.note !== undefined ? [facts.growth.note] : []),
    ...hosts.filter((host) => !host.info.enabled).map((host) => `pf is disabled on ${host.role} (${host.info.statusLine})`),
    ...(settings.unusedThresholds ? ["-w/-c apply to the state-table share only: set compare_states = true"] : []),
    ...hosts.map((host) => describeInterface(host, settings.interfaceName)),
    ...(facts.syncdevLinks ? syncdevLines(facts.syncdevLinks) : []),
    ...counters.lines,
    ...(facts.exchange ? [exchangeLine(facts.exchange)] : []),
  ];

  const perfdata: PerfDatum[] = [
    { label: "states_primary", value: statesOnPrimary, min: 0 },
    { label: "states_secondary", value: statesOnSecondary, min: 0 },
  ];
  if (facts.share) {
    const value = facts.share.compared === 0 ? "U" : percentValue(facts.share.held, facts.share.compared);
    perfdata.push({ label: "share", value, uom: "%", warn: settings.shareWarning.text, crit: settings.shareCritical.text, min: 0, max: 100 });
  }
  for (const host of hosts) perfdata.push({ label: `errors_${host.role}`, value: errorTotal(host, settings.ignoredCounters), uom: "c", min: 0 });

  const tail = facts.share
    ? facts.share.compared === 0
      ? "no settled state to compare"
      : `secondary holds ${percent(facts.share.held, facts.share.compared)}`
    : `${settings.interfaceName} up on both`;
  return resultFromFindings(problems, `states primary ${statesOnPrimary}, secondary ${statesOnSecondary}; ${tail}`, context, perfdata);
}

// ---- gathering ----

function outputsFrom(results: readonly CommandResult[], role: Role): PfsyncHostOutputs {
  const [ifconfig, pfctlInfo, netstat] = results;
  if (!ifconfig || !pfctlInfo || !netstat) throw new HostError(`no output from ${role}`);
  return { ifconfig, pfctlInfo, netstat };
}

interface Gathered {
  readonly local: PfsyncHostFacts;
  readonly peer: PfsyncHostFacts;
  readonly share?: StateShare;
  readonly exchange?: StateExchange;
}

async function gather(ctx: CheckContext, settings: PfsyncSettings): Promise<Gathered> {
  const commands = hostCommands(settings.interfaceName);
  if (!settings.compareStates) {
    const [localResults, peerResults] = await Promise.all([ctx.local.run(commands), ctx.peer.run(commands)]);
    return {
      local: readHostFacts(ctx.role, settings.interfaceName, outputsFrom(localResults, ctx.role)),
      peer: readHostFacts(ctx.peerRole, settings.interfaceName, outputsFrom(peerResults, ctx.peerRole)),
    };
  }
  // The peer must be sent our state keys, so this host reads its table first.
  const localResults = await ctx.local.run([...commands, { argv: PFCTL_STATES_ARGV }]);
  const local = readHostFacts(ctx.role, settings.interfaceName, outputsFrom(localResults, ctx.role));
  const tableResult = localResults[3];
  if (!tableResult) throw new HostError(`no ${PFCTL_STATES_ARGV.join(" ")} output from ${ctx.role}`);
  const localKeys = parsedOn(ctx.role, () => stateKeys(parseStates(outputOf(ctx.role, tableResult)), settings.minStateAge));
  const keys = encodeStateKeys(ctx.role === "primary" ? localKeys.settled : localKeys.all);
  const started = performance.now();
  const answer = await ctx.peer.facts("pfStateMatch", { keys, minAgeSeconds: settings.minStateAge }, { alongside: commands });
  const elapsedMs = performance.now() - started;
  const peer = readHostFacts(ctx.peerRole, settings.interfaceName, outputsFrom(answer.alongside, ctx.peerRole));
  const counts = readPeerMessage(stateMatchCountsSchema, answer.value, ctx.peerRole, "pfStateMatch");
  return {
    local,
    peer,
    share: stateShare(ctx.role, localKeys, counts),
    ...(answer.wire ? { exchange: { peer: ctx.peerRole, sentBytes: answer.wire.requestBytes, receivedBytes: answer.wire.answerBytes, elapsedMs } } : {}),
  };
}

/** Reads the previous readings, then stores them with this run's; a state directory we cannot use only costs the growth. */
export function measureGrowth(stateDir: string, hosts: readonly PfsyncHostFacts[], limits: CounterLimits, at = new Date()): CounterGrowth {
  const previous = loadReading(stateDir, COUNTERS_FILE);
  const growth = counterGrowth("problem" in previous ? undefined : previous.value, hosts, limits, at);
  const saveProblem = saveReading(stateDir, COUNTERS_FILE, growth.stored);
  if (saveProblem !== undefined) return { byRole: null, note: `counter growth not measured: ${saveProblem}` };
  if ("problem" in previous) return { byRole: growth.byRole, note: `previous counter reading not used: ${previous.problem}` };
  return { byRole: growth.byRole };
}

// ---- parity: the syncdev's link, defer and maxupd alike, syncpeer the other host ----

/** Each host's syncdev as `ifconfig SYNCDEV` shows it; "missing" when that interface does not exist, absent when pfsync has no syncdev. */
export type SyncdevLinks = Readonly<Partial<Record<Role, InterfaceLink | "missing">>>;

/** `ifconfig SYNCDEV` of one host: exit 1 with "no such interface" is a syncdev that does not exist. */
export function readSyncdevLink(role: Role, syncdev: string, answer: CommandResult): InterfaceLink | "missing" {
  if (answer.exitCode !== 0 && /no such interface|not configured/i.test(answer.stderr)) return "missing";
  return parsedOn(role, () => parseInterfaceLink(outputOf(role, answer), syncdev));
}

/**
 * A second round trip, after the first said which syncdev each host uses: `ifconfig SYNCDEV` on
 * both hosts at once (a host without a pfsync syncdev is not asked).
 */
async function gatherSyncdevLinks(ctx: CheckContext, primary: PfsyncHostFacts, secondary: PfsyncHostFacts): Promise<SyncdevLinks> {
  const hostOf = (role: Role): CheckContext["local"] => (role === ctx.role ? ctx.local : ctx.peer);
  const entries = await Promise.all(
    [primary, secondary].map(async (facts): Promise<[Role, InterfaceLink | "missing"] | undefined> => {
      const syncdev = facts.pfsync?.syncdev;
      if (syncdev === undefined || syncdev === null) return undefined;
      const [answer] = await hostOf(facts.role).run([{ argv: ["/sbin/ifconfig", syncdev] }]);
      if (!answer) throw new HostError(`no ifconfig ${syncdev} output from ${facts.role}`);
      return [facts.role, readSyncdevLink(facts.role, syncdev, answer)];
    }),
  );
  return Object.fromEntries(entries.filter((entry) => entry !== undefined));
}

function syncdevLines(links: SyncdevLinks): string[] {
  return ROLES.flatMap((role) => {
    const link = links[role];
    if (link === undefined || link === "missing") return [];
    const addresses = link.inet.map((inet) => inet.address).join(", ") || "no inet address";
    return [`${role}: syncdev ${link.name} status ${link.status ?? "not shown"}, ${addresses}`];
  });
}

/**
 * The syncdev's link is up (ifconfig says `status: active`, not `no carrier`: the states go nowhere
 * otherwise); defer and maxupd are the same on both hosts (a host that defers holds packets for an
 * acknowledgement the other never asks for, and maxupd sets how many updates a state gets before
 * it is sent); a syncpeer set on a host is an address of the other host's syncdev.
 */
export function parityProblems(primary: PfsyncHostFacts, secondary: PfsyncHostFacts, links: SyncdevLinks, settings: PfsyncSettings): Problem[] {
  const problems: Problem[] = [];
  const name = settings.interfaceName;
  for (const host of [primary, secondary]) {
    const link = links[host.role];
    const syncdev = host.pfsync?.syncdev;
    if (link === undefined || syncdev === undefined || syncdev === null) continue;
    if (link === "missing") {
      problems.push({
        status: "CRITICAL",
        summary: `syncdev ${syncdev} missing on ${host.role}`,
        detail: [`${host.role}: ${name} syncs over ${syncdev}, which does not exist (ifconfig ${syncdev}: no such interface)`],
      });
      continue;
    }
    if (link.status !== null && link.status !== "active") {
      problems.push({
        status: "CRITICAL",
        summary: `syncdev ${syncdev} on ${host.role}: ${link.status}`,
        detail: [`${host.role}: ifconfig ${syncdev} says status: ${link.status}, expected active: no state reaches the other host (cable, switch port, vlan?)`],
      });
    } else if (!link.up) {
      problems.push({ status: "CRITICAL", summary: `syncdev ${syncdev} down on ${host.role}`, detail: [`${host.role}: ${syncdev} flags <${link.flags.join(",")}>, expected UP`] });
    }
  }
  const p = primary.pfsync;
  const s = secondary.pfsync;
  if (p && s && p.syncdev !== null && s.syncdev !== null) {
    if (p.defer !== s.defer) {
      const onOff = (defer: boolean | null): string => (defer === null ? "not shown" : defer ? "on" : "off");
      problems.push({
        status: "WARNING",
        summary: `${name} defer differs: primary ${onOff(p.defer)}, secondary ${onOff(s.defer)}`,
        detail: [`${name} defer ${onOff(p.defer)} on primary, ${onOff(s.defer)} on secondary: set the same in both hostname.${name}`],
      });
    }
    if (p.maxupd !== s.maxupd) {
      problems.push({
        status: "WARNING",
        summary: `${name} maxupd differs: primary ${p.maxupd}, secondary ${s.maxupd}`,
        detail: [`${name} maxupd ${p.maxupd} on primary, ${s.maxupd} on secondary: set the same in both hostname.${name}`],
      });
    }
  }
  for (const [host, other] of [
    [primary, secondary],
    [secondary, primary],
  ] as const) {
    const syncpeer = host.pfsync?.syncpeer;
    // A configured syncpeer is checked against the config (interfaceProblems) instead.
    if (syncpeer === undefined || syncpeer === null || settings.syncpeer[host.role] !== undefined) continue;
    const otherLink = links[other.role];
    if (otherLink === undefined || otherLink === "missing") continue;
    const addresses = otherLink.inet.map((inet) => inet.address);
    if (addresses.includes(syncpeer)) continue;
    problems.push({
      status: "CRITICAL",
      summary: `${name} on ${host.role}: syncpeer ${syncpeer} is not the ${other.role}'s`,
      detail: [`${host.role}: ${name} syncpeer ${syncpeer}, but the ${other.role}'s syncdev ${otherLink.name} has ${addresses.join(", ") || "no inet address"}: states go to no one`],
    });
  }
  return problems;
}

export const check: CheckDefinition = {
  name: "pfsync",
  title: "pfsync is up on both gateways and their state tables agree",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: [
    "both hosts: /sbin/ifconfig pfsync0 (flags, syncdev, syncpeer), /sbin/pfctl -si (current state entries), /usr/bin/netstat -sp pfsync (error counters)",
    "this host, with compare_states: /sbin/pfctl -vvss (state ids, creatorids, ages)",
    "the peer, with compare_states: its carpentry (`carpentry facts` over ssh) reads its own pfctl -vvss; it is sent this host's state keys (about 1.3 bytes a state) and answers with counts only",
    "both hosts, a second round trip once the first named each host's syncdev: /sbin/ifconfig SYNCDEV (its status: line and addresses)",
    "this host: state_dir/pfsync-counters.json (default /var/db/carpentry), the counter readings of the last rate_window (and the one before it); written each run (mode 0600, directory 0700)",
    "config [checks.pfsync]: interface (pfsync0), syncdev (the primary's; the secondary's through [host_specific] interfaces), syncpeer = { primary, secondary }, ratio_low (0.93), ratio_high (1.03), small_count (100), small_slack (3), compare_states (false), min_state_age (30 s), share_warning (95), share_critical (80), ignore_counters ([]), rate_window (3600 s), busy_per_hour (3600), errors_per_hour (60), state_dir",
  ],
  thresholds:
    "with compare_states, the share (%) of the primary's settled states that the secondary holds, as Nagios ranges: -w 95: -c 80: (mind the colon: alert below) override share_warning and share_critical",
  states: {
    OK: "pfsync0 is up with a syncdev (and the configured syncdev/syncpeer) on both hosts, each syncdev's link active, defer and maxupd the same on both, a syncpeer (where set) the other host's syncdev address, the state counts are within tolerance (secondary between ratio_low and ratio_high times the primary's count; within small_slack states while the primary has fewer than small_count), no pfsync error counter grows faster than its limit, and with compare_states the share is within the thresholds",
    WARNING: `pfsync0's defer or maxupd differ between the hosts; a pfsync error counter (netstat -sp pfsync, minus ignore_counters) grows on a host faster than its limit: growth since the reading a rate_window ago (or the oldest kept), per hour, over at least rate_window, so a burst counts against the whole window. stale states and failed state lookups/inserts grow on a healthy pair (updates that crossed, states that expired on one host first): above busy_per_hour (3600/h); the others (bad interface, ttl, version, action, length, values, send errors) should not grow: above errors_per_hour (60/h). With compare_states, the secondary holds less than share_warning % of the primary's settled states (older than min_state_age, not expiring within ${EXPIRY_MARGIN_SECONDS} s)`,
    CRITICAL:
      "pfsync0 is missing, down or has no syncdev on a host, its syncdev or syncpeer differs from the config, the syncdev does not exist or its link is not up (ifconfig SYNCDEV says status: no carrier, or anything but active), a syncpeer set on a host (and not in the config) is none of the other host's syncdev addresses, the state counts diverge beyond tolerance, or with compare_states the secondary holds less than share_critical %",
    UNKNOWN:
      "the peer cannot be reached (or, with compare_states, runs another carpentry version), ifconfig/pfctl/netstat fail or print what the parser does not understand (the host and line are named), bad config, or the deadline expired. A state directory that cannot be written is not a failure: the counters are shown without their growth",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = pfsyncSettings(ctx.config, ctx.warning, ctx.critical);
    const gathered = await gather(ctx, settings);
    const [primary, secondary] = ctx.role === "primary" ? [gathered.local, gathered.peer] : [gathered.peer, gathered.local];
    const growth = measureGrowth(settings.stateDir, [primary, secondary], settings.limits);
    const syncdevLinks = await gatherSyncdevLinks(ctx, primary, secondary);
    return decidePfsync({ primary, secondary, growth, share: gathered.share, exchange: gathered.exchange, syncdevLinks }, settings);
  },
};

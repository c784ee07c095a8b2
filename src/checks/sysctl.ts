import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, type Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError } from "../lib/runtime/errors.js";
import { readFilesOn, type FileFacts } from "../lib/facts/files.js";
import { peerViewMissing, resultFromFindings, sortFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import { runOne, type Host } from "../lib/transport/host.js";
import { effectiveSysctlConf, parseSysctlConf, parseSysctlOutput, type SysctlConfEntry } from "../lib/parse/sysctl.js";
import type { Result, Status } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";

// An unquoted dotted name (net.inet.carp.preempt = 1) is a nested table to TOML: say how to write it.
const valuesByName = v.record(
  v.pipe(v.string(), v.regex(/^[a-z0-9_.]+$/, "a sysctl name")),
  v.union([v.string(), v.number()], 'a number or string, with the sysctl name quoted: { "net.inet.carp.preempt" = 1 }'),
);

/** [checks.sysctl] */
export const settingsSchema = v.strictObject({
  primary: v.optional(valuesByName),
  secondary: v.optional(valuesByName),
  ignore: v.optional(v.array(v.string()), []),
});
type SysctlSettings = v.InferOutput<typeof settingsSchema>;

export const SYSCTL_CONF = "/etc/sysctl.conf";
const SYSCTL_CONF_MAX_BYTES = 256 * 1024;

/** What a CARP gateway needs on both hosts: it forwards, accepts carp, and preempts (the primary takes MASTER back when it returns). */
const DEFAULT_EXPECTATIONS: Readonly<Record<string, string>> = {
  "net.inet.carp.allow": "1",
  "net.inet.carp.preempt": "1",
  "net.inet.ip.forwarding": "1",
};

export type Expectations = Readonly<Record<Role, Readonly<Record<string, string>>>>;

/** One gateway's sysctl.conf and live values. */
export interface SysctlHostView {
  readonly role: Role;
  /** The assignment that wins at boot for each name; null when the host has no /etc/sysctl.conf. */
  readonly conf: ReadonlyMap<string, SysctlConfEntry> | null;
  /** Live values of the names asked; a name the kernel does not know is absent. */
  readonly live: ReadonlyMap<string, string>;
  /** What sysctl said on stderr (one line per name it could not read). */
  readonly warnings: readonly string[];
}

export interface SysctlFacts {
  readonly local: SysctlHostView;
  readonly peer: SysctlHostView | PeerViewMissing;
  readonly expected: Expectations;
  /** Names whose sysctl.conf lines may differ between the hosts. */
  readonly ignore: readonly string[];
}

/** The role's expectations: DEFAULT_EXPECTATIONS, with [checks.sysctl] primary/secondary added on top. */
export function expectationsFrom(settings: SysctlSettings): Expectations {
  const forRole = (configured: Readonly<Record<string, string | number>> | undefined): Record<string, string> => {
    const merged: Record<string, string> = { ...DEFAULT_EXPECTATIONS };
    for (const [name, value] of Object.entries(configured ?? {})) merged[name] = String(value).trim();
    return merged;
  };
  return { primary: forRole(settings.primary), secondary: forRole(settings.secondary) };
}

/** /etc/sysctl.conf as the readFiles op saw it on one host. */
export function readSysctlConf(role: Role, facts: readonly FileFacts[]): Map<string, SysctlConfEntry> | null {
  const file = facts.find((entry) => entry.path === SYSCTL_CONF);
  if (!file || file.type === "missing") return null;
  if (file.type !== "file") throw new HostError(`${role}: ${SYSCTL_CONF} is not a regular file (${file.type})`);
  if (file.error) throw new HostError(`${role}: cannot read ${SYSCTL_CONF}: ${file.error}`);
  if (file.binary) throw new ParseError(`${role}'s ${SYSCTL_CONF}`, "binary content (NUL bytes)");
  if (file.content === undefined) throw new HostError(`${role}: ${SYSCTL_CONF} is larger than ${SYSCTL_CONF_MAX_BYTES} bytes`);
  try {
    return effectiveSysctlConf(parseSysctlConf(file.content));
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(`${role}'s ${SYSCTL_CONF}`, error.reason, error.lineNumber, error.lineText);
    throw error;
  }
}

/** Every name either host's sysctl.conf sets, and every expected one, sorted: asked on both hosts. */
export function namesToAsk(confs: readonly (ReadonlyMap<string, SysctlConfEntry> | null)[], expected: Expectations): string[] {
  const names = new Set<string>([...Object.keys(expected.primary), ...Object.keys(expected.secondary)]);
  for (const conf of confs) for (const name of conf?.keys() ?? []) names.add(name);
  return [...names].sort();
}

/** The names after `--`: OpenBSD's sysctl reads its options with getopt(3), which stops there. */
function sysctlCommand(names: readonly string[]): HostCommand {
  return { argv: ["/sbin/sysctl", "--", ...names] };
}

/**
 * The answer of `/sbin/sysctl NAME...`. OpenBSD's sysctl warns on stderr about a name it does not
 * know and goes on with the others, exiting 0; a non-zero exit means it could not run at all.
 */
export function readLiveValues(role: Role, answer: CommandResult): { live: Map<string, string>; warnings: string[] } {
  if (answer.exitCode !== 0) throw commandFailed("/sbin/sysctl", role, answer);
  let live: Map<string, string>;
  try {
    live = parseSysctlOutput(answer.stdout);
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(`${role}'s sysctl output`, error.reason, error.lineNumber, error.lineText);
    throw error;
  }
  const warnings = answer.stderr
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return { live: new Map([...live].map(([name, value]) => [name, value.trim()])), warnings };
}

// ---- the decision ----

interface Problem {
  readonly status: Exclude<Status, "OK" | "UNKNOWN">;
  /** Short, with the name, for the summary line. */
  readonly summary: string;
  /** Without the name, for the key's detail line. */
  readonly reason: string;
}

function expectedText(name: string, views: readonly SysctlHostView[], expected: Expectations): string | undefined {
  const wanted = views.map((view) => ({ role: view.role, value: expected[view.role][name] })).filter((w): w is { role: Role; value: string } => w.value !== undefined);
  if (wanted.length === 0) return undefined;
  if (new Set(wanted.map((w) => w.value)).size === 1) return `expected ${wanted[0]?.value}`;
  return `expected ${wanted.map((w) => `${w.role} ${w.value}`).join(", ")}`;
}

function liveText(view: SysctlHostView, name: string): string {
  return view.live.get(name) ?? "-";
}

/** "net.inet.carp.preempt: primary 0 (sysctl.conf 0), secondary 1 (sysctl.conf 1), expected 1" */
function valuesLine(name: string, views: readonly SysctlHostView[], expected: Expectations): string {
  const sides = views.map((view) => {
    const conf = view.conf === null ? "no sysctl.conf" : `sysctl.conf ${view.conf.get(name)?.value ?? "-"}`;
    return `${view.role} ${liveText(view, name)} (${conf})`;
  });
  const wanted = expectedText(name, views, expected);
  return `${name}: ${sides.join(", ")}${wanted ? `, ${wanted}` : ""}`;
}

function hostProblems(name: string, view: SysctlHostView, views: readonly SysctlHostView[], expected: Expectations): Problem[] {
  const problems: Problem[] = [];
  const { role } = view;
  const wanted = expected[role][name];
  const live = view.live.get(name);
  const conf = view.conf?.get(name)?.value;
  const sides = views.map((v) => `${v.role} ${liveText(v, name)}`).join(", ");
  if (wanted !== undefined) {
    if (live === undefined) {
      problems.push({ status: "CRITICAL", summary: `${name} missing on ${role}, expected ${wanted}`, reason: `${role}'s kernel has no such value, expected ${wanted}` });
    } else if (live !== wanted) {
      const sameForAll = views.every((v) => expected[v.role][name] === wanted);
      problems.push({ status: "CRITICAL", summary: `${name}: ${sides}, expected ${wanted}${sameForAll ? "" : ` on ${role}`}`, reason: `live ${live} on ${role}, expected ${wanted}` });
    }
    if (conf !== undefined && conf !== wanted) {
      problems.push({
        status: "CRITICAL",
        summary: `${role}'s sysctl.conf: ${name}=${conf}, expected ${wanted}`,
        reason: `${role}'s sysctl.conf sets ${conf} (the next boot applies it), expected ${wanted}`,
      });
    }
  }
  if (conf !== undefined) {
    if (live === undefined && wanted === undefined) {
      problems.push({ status: "WARNING", summary: `${name} in ${role}'s sysctl.conf unknown to kernel`, reason: `set in ${role}'s sysctl.conf, but ${role}'s kernel has no such value` });
    } else if (live !== undefined && live !== conf) {
      problems.push({ status: "WARNING", summary: `${name}=${live} on ${role}, sysctl.conf says ${conf}`, reason: `live ${live} on ${role} differs from its sysctl.conf ${conf}` });
    }
  }
  return problems;
}

function pairProblems(name: string, primary: SysctlHostView, secondary: SysctlHostView, ignore: readonly string[]): Problem[] {
  if (ignore.includes(name)) return [];
  const onPrimary = primary.conf?.get(name)?.value;
  const onSecondary = secondary.conf?.get(name)?.value;
  if (onPrimary === undefined && onSecondary === undefined) return [];
  if (onPrimary === undefined || onSecondary === undefined) {
    const only = onPrimary === undefined ? "secondary" : "primary";
    return [{ status: "WARNING", summary: `sysctl.conf differs: ${name} only on ${only}`, reason: `only in the ${only}'s sysctl.conf` }];
  }
  if (onPrimary !== onSecondary) {
    return [{ status: "WARNING", summary: `sysctl.conf differs: ${name} primary ${onPrimary}, secondary ${onSecondary}`, reason: "sysctl.conf differs between the hosts" }];
  }
  return [];
}

/** The values an upgrade sets on the host being upgraded (preempt off, so it does not take the vhids back between reboots). */
const MAINTENANCE_VALUES: Readonly<Record<string, string>> = { "net.inet.carp.preempt": "0" };

/** The hosts where `name` has its maintenance value, live or in sysctl.conf: their maintenance excuses the finding. */
function maintenanceHosts(name: string, views: readonly SysctlHostView[]): Role[] {
  const value = MAINTENANCE_VALUES[name];
  if (value === undefined) return [];
  return views.filter((view) => view.live.get(name) === value || view.conf?.get(name)?.value === value).map((view) => view.role);
}

/** One finding per name: its worst problem as the summary, all of them and the values in the detail. */
function findingFor(name: string, problems: readonly Problem[], views: readonly SysctlHostView[], expected: Expectations): Finding | undefined {
  const sorted = sortFindings(problems);
  const worst = sorted[0];
  if (worst === undefined) return undefined;
  const maintenance = maintenanceHosts(name, views);
  return {
    status: worst.status,
    summary: worst.summary,
    detail: `${valuesLine(name, views, expected)}: ${sorted.map((p) => p.reason).join("; ")}`,
    ...(maintenance.length > 0 ? { maintenance } : {}),
  };
}

/** What sysctl said on stderr, for the admin to read beside the findings. */
function warningLines(views: readonly SysctlHostView[]): string[] {
  return views.flatMap((view) => view.warnings.map((line) => `${view.role}: ${line}`));
}

export function decideSysctl(facts: SysctlFacts): Result {
  const { local, peer, expected, ignore } = facts;
  const peerView = "missing" in peer ? undefined : peer;
  const views = [local, ...(peerView ? [peerView] : [])].sort((a, b) => (a.role === "primary" ? -1 : b.role === "primary" ? 1 : 0));
  const names = namesToAsk(
    views.map((view) => view.conf),
    { primary: views.some((v) => v.role === "primary") ? expected.primary : {}, secondary: views.some((v) => v.role === "secondary") ? expected.secondary : {} },
  );
  const findings: Finding[] = [];
  const faultyNames = new Set<string>();
  for (const name of names) {
    const problems = views.flatMap((view) => hostProblems(name, view, views, expected));
    const [first, second] = views;
    if (first && second) problems.push(...pairProblems(name, first, second, ignore));
    const finding = findingFor(name, problems, views, expected);
    if (finding) {
      findings.push(finding);
      faultyNames.add(name);
    }
  }
  // The expected values that hold, so an admin sees them checked; the faulty ones are in the findings.
  const heldExpectations = names.filter((name) => !faultyNames.has(name) && views.some((view) => expected[view.role][name] !== undefined));
  const context = [...heldExpectations.map((name) => valuesLine(name, views, expected)), ...warningLines(views)];
  if ("missing" in peer) return withoutPeerView(findings, peer, local.role, context);
  return resultFromFindings(findings, `sysctl.conf alike on both hosts; ${names.length} values as set and expected`, context);
}

// ---- gathering ----

async function readConfOn(host: Host): Promise<Map<string, SysctlConfEntry> | null> {
  return readSysctlConf(host.role, (await readFilesOn(host, { paths: [SYSCTL_CONF], withContent: true, maxBytes: SYSCTL_CONF_MAX_BYTES })).files);
}

async function readLiveOn(host: Host, names: readonly string[]): Promise<{ live: Map<string, string>; warnings: string[] }> {
  return readLiveValues(host.role, await runOne(host, sysctlCommand(names)));
}

/** The readers' errors name the host already ("cannot parse secondary's sysctl output line 3"). */
export const check: CheckDefinition = {
  name: "sysctl",
  title: "live sysctl values match /etc/sysctl.conf, the hosts' sysctl.conf agree, and each role's expectations hold",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: [
    "both hosts: /etc/sysctl.conf (through carpentry's readFiles facts op; on the peer over ssh)",
    "both hosts: /sbin/sysctl -- NAME... for every name either sysctl.conf sets and every expected name (the peer twice when its sysctl.conf alone sets a name); a name starting with - is refused",
    "[checks.sysctl] primary / secondary: expected values per role, added to the defaults net.inet.carp.allow=1, net.inet.carp.preempt=1, net.inet.ip.forwarding=1 " +
      '(quote the names: primary = { "net.inet.ip.forwarding" = 0 })',
    "[checks.sysctl] ignore: names whose sysctl.conf lines may differ between the hosts (live values and expectations are still checked)",
  ],
  states: {
    OK: "every expected value holds live and in sysctl.conf on both hosts, every live value equals its sysctl.conf line, and both sysctl.conf set the same names to the same values",
    WARNING:
      "a live value differs from the host's own sysctl.conf (changed by hand, or the file edited and not applied: the next boot changes it); " +
      "a name is set in one host's sysctl.conf only or to different values (not in ignore); a sysctl.conf name is unknown to the kernel",
    CRITICAL:
      "a live value breaks its role's expectation (net.inet.carp.preempt left at 0 after maintenance), a sysctl.conf line sets an expected name to another value (the next boot breaks it), " +
      "or an expected name is unknown to the kernel",
    UNKNOWN:
      "bad config, sysctl failed or printed what the parser cannot read, sysctl.conf unreadable, or the deadline expired. " +
      "When the peer cannot be asked (check_peer alerts for that), this host's own faults give their status with a detail 'pair view missing: <reason>'; " +
      "with none, the result is UNKNOWN 'pair view missing: <reason>', since the hosts could not be compared",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const expected = expectationsFrom(settings);
    // The names to ask depend on both files. While the peer's file is on the way (asked first, so that
    // under `carpentry run` it rides in the other checks' facts batch), the peer's sysctl is asked for
    // the names this host's file and the expectations give: all of them when the files agree. Only a
    // name the peer's file alone sets costs it a second trip.
    const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
      promise.then(
        (value) => ({ status: "fulfilled", value }),
        (reason: unknown) => ({ status: "rejected", reason }),
      );
    const peerConfAsked = settle(readConfOn(ctx.peer));
    const localConf = await readConfOn(ctx.local);
    const guessed = namesToAsk([localConf], expected);
    const peerLiveForGuessed = settle(readLiveOn(ctx.peer, guessed));
    const peerConf = await peerConfAsked;
    const names = namesToAsk([localConf, peerConf.status === "fulfilled" ? peerConf.value : null], expected);
    const peerView = async (): Promise<SysctlHostView> => {
      if (peerConf.status === "rejected") throw peerConf.reason;
      const asked = names.every((name) => guessed.includes(name)) ? await peerLiveForGuessed : await settle(readLiveOn(ctx.peer, names));
      if (asked.status === "rejected") throw asked.reason;
      return { role: ctx.peerRole, conf: peerConf.value, ...asked.value };
    };
    const [localLive, peerLive] = await Promise.allSettled([readLiveOn(ctx.local, names), peerView()]);
    if (localLive.status === "rejected") throw localLive.reason;
    const local: SysctlHostView = { role: ctx.role, conf: localConf, ...localLive.value };
    const peer = peerLive.status === "fulfilled" ? peerLive.value : peerViewMissing(ctx.peerRole, peerLive.reason);
    return decideSysctl({ local, peer, expected, ignore: settings.ignore });
  },
};

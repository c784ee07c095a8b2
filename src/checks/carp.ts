import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, interfaceName, type Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError, TimeoutError } from "../lib/runtime/errors.js";
import { peerViewMissing, resultFromFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import type { Host } from "../lib/transport/host.js";
import { parseCarpInterfaces, parseIfconfigGroups, type CarpInterface, type CarpState, type InterfaceGroupDemotion } from "../lib/parse/ifconfig.js";
import { parseSysctlOutput } from "../lib/parse/sysctl.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";

/** What one gateway says about its carp interfaces. */
export interface CarpHostView {
  readonly role: Role;
  readonly interfaces: readonly CarpInterface[];
  /**
   * The demote counter of every group a carp interface is in (its `groups:` line), by group name,
   * sorted; empty when there is no carp interface. The kernel adds up the counters of all of an
   * interface's groups, so maintenance on any of them (`ifconfig -g internal carpdemote 50`) counts.
   */
  readonly demotions: readonly InterfaceGroupDemotion[];
  readonly preempt: boolean;
}

export interface CarpFacts {
  readonly local: CarpHostView;
  readonly peer: CarpHostView | PeerViewMissing;
  /**
   * With the peer's view missing: true when ssh could not reach the peer at all (refused, timed out),
   * false when the peer answered something that could not be read. Only an unreachable peer makes
   * this host's carp states the survivor's story.
   */
  readonly peerUnreachable?: boolean;
  /** [checks.carp] interfaces: only these are checked, and each must exist; undefined: every carp interface. */
  readonly interfaces?: readonly string[];
  /** [checks.carp] preferred_master: interface -> the role that should hold it. */
  readonly preferredMaster?: Readonly<Record<string, Role>>;
}

/** [checks.carp] */
const settingsSchema = v.strictObject({
  interfaces: v.optional(v.array(interfaceName)),
  preferred_master: v.optional(v.record(interfaceName, v.picklist(["primary", "secondary"], 'the role that should hold it: "primary" or "secondary"'))),
});

export const IFCONFIG_CARP: HostCommand = { argv: ["/sbin/ifconfig", "carp"] };
/**
 * The demote counter of every group a carp interface (carpN) is in, in the same round trip as the
 * listing: the group names come from the `groups:` lines, one `ifconfig -g GROUP` each. pfsync0 is
 * in group carp too but is no carp interface; its pfsync group changes no election.
 */
const GROUP_DEMOTIONS: HostCommand = {
  pipeline: [
    ["/sbin/ifconfig", "carp"],
    ["/usr/bin/awk", '/^[^ \t]/ { carp = ($1 ~ /^carp[0-9]+:$/) } carp && $1 == "groups:" { for (i = 2; i <= NF; i++) print $i }'],
    ["/usr/bin/sort", "-u"],
    ["/usr/bin/xargs", "-r", "-n", "1", "/sbin/ifconfig", "-g"],
  ],
};
const SYSCTL_PREEMPT: HostCommand = { argv: ["/sbin/sysctl", "net.inet.carp.preempt"] };
const CARP_COMMANDS: readonly HostCommand[] = [IFCONFIG_CARP, GROUP_DEMOTIONS, SYSCTL_PREEMPT];

function failedOn(role: Role, answer: CommandResult): HostError {
  return commandFailed(answer.command, role, answer);
}

/**
 * `ifconfig carp` on one host. With no carp interface at all ifconfig finds no such interface and
 * fails: that is an empty list, for the decision to judge, not an error.
 */
export function readIfconfigCarp(role: Role, answer: CommandResult): CarpInterface[] {
  if (answer.exitCode !== 0) {
    if (answer.stdout.trim() === "" && /no such interface|not configured/i.test(answer.stderr)) return [];
    throw failedOn(role, answer);
  }
  return parseCarpInterfaces(answer.stdout);
}

/** The answers to CARP_COMMANDS, in that order, as one host's view. */
export function parseCarpHost(role: Role, answers: readonly CommandResult[]): CarpHostView {
  const [ifconfig, groups, sysctl] = answers;
  if (!ifconfig || !groups || !sysctl) throw new HostError(`${role}: missing command output`);
  const interfaces = readIfconfigCarp(role, ifconfig);
  let demotions: InterfaceGroupDemotion[] = [];
  if (interfaces.length > 0) {
    if (groups.exitCode !== 0) throw failedOn(role, groups);
    const read = parseIfconfigGroups(groups.stdout);
    const wanted = [...new Set(interfaces.flatMap((iface) => iface.groups))].sort();
    demotions = wanted.map((group) => {
      const found = read.find((g) => g.group === group);
      if (!found) throw new ParseError("ifconfig -g output", `no demote count for group ${group}`);
      return found;
    });
  }
  if (sysctl.exitCode !== 0) throw failedOn(role, sysctl);
  const preemptText = parseSysctlOutput(sysctl.stdout).get("net.inet.carp.preempt");
  if (preemptText !== "0" && preemptText !== "1") {
    throw new ParseError("sysctl output", preemptText === undefined ? "no net.inet.carp.preempt line" : "net.inet.carp.preempt is neither 0 nor 1");
  }
  return { role, interfaces, demotions, preempt: preemptText === "1" };
}

interface VhidOnHost {
  readonly key: string;
  readonly iface: CarpInterface;
  readonly state: CarpState;
  readonly advskew: number;
}

/** Balancing (multi-vhid) interfaces share the vhids between the hosts by design. */
function isBalancing(iface: CarpInterface): boolean {
  return iface.balancing !== null;
}

function vhidKey(ifaceName: string, vhid: number): string {
  return `${ifaceName} vhid ${vhid}`;
}

function vhidsOf(interfaces: readonly CarpInterface[]): Map<string, VhidOnHost> {
  const vhids = new Map<string, VhidOnHost>();
  for (const iface of interfaces) {
    for (const v of iface.vhids) {
      const key = vhidKey(iface.name, v.vhid);
      vhids.set(key, { key, iface, state: v.state, advskew: v.advskew });
    }
  }
  return vhids;
}

function selected(view: CarpHostView, only: readonly string[] | undefined): CarpInterface[] {
  return only === undefined ? [...view.interfaces] : view.interfaces.filter((iface) => only.includes(iface.name));
}

const other = (role: Role): Role => (role === "primary" ? "secondary" : "primary");
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
/** One name for a few vhids: the vhid itself, or how many. */
const nameOf = (vhids: readonly VhidOnHost[]): string => (vhids.length === 1 ? (vhids[0]?.key ?? "") : plural(vhids.length, "vhid"));
const keysOf = (vhids: readonly VhidOnHost[]): string => vhids.map((v) => v.key).join(", ");

/** The address a vhid answers for: what goes dark when no host holds it. */
function addressOf(iface: CarpInterface): string {
  return iface.inet[0]?.address ?? iface.inet6[0]?.address ?? "no address";
}

/** What the kernel adds to an interface's advertisements: the counters of all its groups. */
function demoteOf(view: CarpHostView, iface: CarpInterface): number {
  return iface.groups.reduce((sum, group) => sum + (view.demotions.find((d) => d.group === group)?.demoteCount ?? 0), 0);
}

/** A failover is what an upgrade of either host does, on purpose or by its reboots. */
const BOTH: readonly Role[] = ["primary", "secondary"];

/** What one host's own output shows, whatever the peer says. Its demote, INIT or missing carp interfaces are what its upgrade does. */
function hostFindings(view: CarpHostView, only: readonly string[] | undefined, survivor: boolean): Finding[] {
  const findings: Finding[] = [];
  const { role } = view;
  const interfaces = selected(view, only);
  for (const name of only ?? []) {
    if (!interfaces.some((iface) => iface.name === name))
      findings.push({ status: "CRITICAL", summary: `${name} missing on ${role}`, detail: `${name}: listed in [checks.carp] interfaces, not in ifconfig carp on the ${role}`, maintenance: [role] });
  }
  if (interfaces.length === 0 && only === undefined) {
    findings.push({ status: "CRITICAL", summary: `no carp interfaces on ${role}`, detail: `ifconfig carp on the ${role} shows no carp interface`, maintenance: [role] });
  }
  for (const iface of interfaces) {
    const initVhids = iface.vhids.filter((v) => v.state === "INIT").map((v) => v.vhid);
    const where = `carpdev ${iface.carpdev ?? "none"}, status ${iface.status ?? "not shown"}, ${iface.up ? "UP" : "not UP"}`;
    for (const vhid of initVhids) {
      const key = vhidKey(iface.name, vhid);
      // INIT: this host neither advertises nor listens on the vhid. Without the peer's view nobody is
      // known to hold the address.
      findings.push(
        survivor
          ? {
              status: "CRITICAL",
              summary: `${key} INIT on ${role}: ${addressOf(iface)} may have no MASTER`,
              detail: `${key} (${addressOf(iface)}) on the ${role}: INIT (${where}), and the ${other(role)} cannot be asked whether it holds it`,
            }
          : { status: "CRITICAL", summary: `${key} INIT on ${role}: ${addressOf(iface)}`, detail: `${key} (${addressOf(iface)}) on the ${role}: INIT (${where})`, maintenance: [role] },
      );
    }
    if (initVhids.length === 0 && iface.status === "invalid") {
      findings.push({ status: "CRITICAL", summary: `${iface.name} status invalid on ${role}`, detail: `${iface.name} on the ${role}: status invalid (${where})` });
    }
  }
  for (const { group, demoteCount } of view.demotions) {
    if (demoteCount === 0) continue;
    const members = interfaces.filter((iface) => iface.groups.includes(group)).map((iface) => iface.name);
    if (members.length === 0) continue;
    findings.push({
      status: "WARNING",
      summary: `${role} carp demote ${demoteCount} via group ${group}`,
      detail: `${role}: ifconfig -g ${group} shows carp demote count ${demoteCount}, added to ${members.join(", ")} (maintenance left on? clear with ifconfig -g ${group} -carpdemote ${demoteCount})`,
      maintenance: [role],
    });
  }
  return findings;
}

type Preference = { readonly role: Role; readonly from: "preferred_master" | "advskew" | "equal advskew" | "role" | "this host's advskew" } | { readonly role: null; readonly from: "equal advskew" };

/** Who should hold a vhid, from both hosts' advskew: config first (not for balancing), then the lower advskew, then the primary. */
function preferenceOfPair(p: VhidOnHost, s: VhidOnHost, configured: Readonly<Record<string, Role>>): Preference {
  const balancing = isBalancing(p.iface) || isBalancing(s.iface);
  const fromConfig = configured[p.iface.name];
  if (!balancing && fromConfig !== undefined) return { role: fromConfig, from: "preferred_master" };
  if (p.advskew < s.advskew) return { role: "primary", from: "advskew" };
  if (s.advskew < p.advskew) return { role: "secondary", from: "advskew" };
  return balancing ? { role: null, from: "equal advskew" } : { role: "primary", from: "equal advskew" };
}

/**
 * Who should hold each of this host's vhids when only its own view is known: the config; else, where
 * this host's vhids differ in advskew, it prefers those with its lowest advskew and leaves the rest to
 * the peer (an active/active pair); else the primary holds them all.
 */
function preferenceAlone(view: CarpHostView, vhids: readonly VhidOnHost[], configured: Readonly<Record<string, Role>>): Map<string, Preference> {
  const lowest = Math.min(...vhids.map((v) => v.advskew));
  const uneven = vhids.some((v) => v.advskew !== lowest);
  return new Map(
    vhids.map((v): [string, Preference] => {
      const fromConfig = isBalancing(v.iface) ? undefined : configured[v.iface.name];
      if (fromConfig !== undefined) return [v.key, { role: fromConfig, from: "preferred_master" }];
      if (uneven) return [v.key, { role: v.advskew === lowest ? view.role : other(view.role), from: "this host's advskew" }];
      return [v.key, { role: "primary", from: "role" }];
    }),
  );
}

/**
 * With preempt on, carp moves all of a host's vhids together (a failing carpdev demotes group carp):
 * a host that is MASTER of some and BACKUP of others, not as the preferences say, sees different
 * masters on different segments.
 */
function splitAcrossSegments(view: CarpHostView, vhids: readonly VhidOnHost[], preferred: (v: VhidOnHost) => Role | null, peerWords: string): Finding | undefined {
  const single = vhids.filter((v) => !isBalancing(v.iface) && v.state !== "INIT");
  const masterOf = single.filter((v) => v.state === "MASTER");
  const backupOf = single.filter((v) => v.state === "BACKUP");
  if (!view.preempt || masterOf.length === 0 || backupOf.length === 0) return undefined;
  const mismatched = single.some((v) => (v.state === "MASTER") !== (preferred(v) === view.role));
  if (!mismatched) return undefined;
  const names = (list: readonly VhidOnHost[]): string => [...new Set(list.map((v) => v.iface.name))].join(", ");
  return {
    status: "CRITICAL",
    summary: `split by segment: ${view.role} MASTER ${names(masterOf)}, BACKUP ${names(backupOf)}`,
    detail: `split across segments: the ${view.role} is MASTER of ${keysOf(masterOf)} and BACKUP of ${keysOf(backupOf)}, not as preferred; with net.inet.carp.preempt=1 the hosts fail over together, so each segment sees another master${peerWords}`,
  };
}

/** What only the two views together show: one MASTER per vhid, on its preferred host; matching vhids and advbase. */
/** The vhids of each kind of fault the pair view shows, for perfdata: an alert rule tells split brain from failover by them. */
interface PairTally {
  splitBrain: number;
  noMaster: number;
  failedOver: number;
}

function pairFindings(primary: CarpHostView, secondary: CarpHostView, only: readonly string[] | undefined, configured: Readonly<Record<string, Role>>, tally: PairTally): Finding[] {
  const findings: Finding[] = [];
  const onPrimary = new Map(selected(primary, only).map((iface) => [iface.name, iface]));
  const onSecondary = new Map(selected(secondary, only).map((iface) => [iface.name, iface]));
  const names = [...new Set([...onPrimary.keys(), ...onSecondary.keys()])].sort();
  for (const name of names) {
    const p = onPrimary.get(name);
    const s = onSecondary.get(name);
    if (!p || !s) {
      // A listed interface missing on one host is already reported by hostFindings.
      if (only === undefined) {
        const role = p ? "primary" : "secondary";
        findings.push({
          status: "CRITICAL",
          summary: `vhids differ: ${name} only on ${role}`,
          detail: `${name} (vhid ${(p ?? s)?.vhids.map((v) => v.vhid).join(",")}) exists only on the ${role}`,
          maintenance: [other(role)],
        });
      }
      continue;
    }
    if (p.advbase !== s.advbase) {
      findings.push({ status: "CRITICAL", summary: `${name} advbase differs between hosts`, detail: `${name}: advbase ${p.advbase} on primary, ${s.advbase} on secondary` });
    }
    const vhidList = (iface: CarpInterface): string =>
      iface.vhids
        .map((v) => v.vhid)
        .sort((a, b) => a - b)
        .join(",");
    if (vhidList(p) !== vhidList(s)) {
      findings.push({ status: "CRITICAL", summary: `${name} vhids differ between hosts`, detail: `${name}: vhid ${vhidList(p)} on primary, vhid ${vhidList(s)} on secondary` });
    }
  }
  const vhidsP = vhidsOf([...onPrimary.values()]);
  const vhidsS = vhidsOf([...onSecondary.values()]);
  const preferences = new Map<string, Role | null>();
  for (const [key, p] of vhidsP) {
    const s = vhidsS.get(key);
    if (!s) continue;
    const balancing = isBalancing(p.iface) || isBalancing(s.iface);
    const states = `primary ${p.state} advskew ${p.advskew}, secondary ${s.state} advskew ${s.advskew}`;
    const masters: Role[] = [];
    if (p.state === "MASTER") masters.push("primary");
    if (s.state === "MASTER") masters.push("secondary");
    if (masters.length === 2) {
      tally.splitBrain++;
      findings.push({ status: "CRITICAL", summary: `split brain: ${key} MASTER on both hosts`, detail: `split brain: ${key}: ${states}` });
    }
    if (masters.length === 0) {
      tally.noMaster++;
      findings.push({ status: "CRITICAL", summary: `${key} has no MASTER`, detail: `no MASTER for ${key}: ${states}` });
    }
    const preference = preferenceOfPair(p, s, configured);
    preferences.set(key, preference.role);
    if (preference.role === null) {
      findings.push({ status: "CRITICAL", summary: `${key} advskew ${p.advskew} on both hosts`, detail: `${key} (balancing): advskew ${p.advskew} on both hosts, neither is preferred` });
    }
    // The election goes to the lower advskew: a preferred master with the higher one never wins it back.
    const wanted = preference.role;
    if (wanted !== null && preference.from === "preferred_master") {
      const [mine, theirs] = wanted === "primary" ? [p.advskew, s.advskew] : [s.advskew, p.advskew];
      if (mine > theirs) {
        findings.push({
          status: "CRITICAL",
          summary: `${key}: advskew lower on ${other(wanted)}, not ${wanted}`,
          detail: `${key}: [checks.carp] preferred_master names the ${wanted}, but its advskew ${mine} is above the ${other(wanted)}'s ${theirs}, so the ${other(wanted)} wins the election`,
        });
      }
    }
    const master = masters.length === 1 ? masters[0] : undefined;
    if (wanted !== null && master !== undefined && master !== wanted) {
      tally.failedOver++;
      findings.push({
        status: "WARNING",
        summary: `failed over: ${master} took ${key} from ${wanted}`,
        detail: `failed over: ${key}: ${states}; the ${wanted} should hold it (${balancing ? "balancing: the lower advskew" : preference.from})`,
        maintenance: BOTH,
      });
    }
  }
  // One host's split says it; the other's is the same split seen from there.
  for (const view of [primary, secondary]) {
    const mine = [...(view === primary ? vhidsP : vhidsS).values()].filter((v) => preferences.has(v.key));
    const split = splitAcrossSegments(view, mine, (v) => preferences.get(v.key) ?? null, "");
    if (split) {
      findings.push(split);
      break;
    }
  }
  return findings;
}

/**
 * This host's carp states when the peer cannot be reached over ssh, read with carp(4): a BACKUP only
 * stays BACKUP while some host advertises the vhid on that segment, a MASTER sees no better
 * advertisement there, INIT takes no part.
 */
function survivorFindings(view: CarpHostView, only: readonly string[] | undefined, configured: Readonly<Record<string, Role>>): Finding[] {
  const { role } = view;
  const peer = other(role);
  const vhids = [...vhidsOf(selected(view, only)).values()];
  const live = vhids.filter((v) => v.state !== "INIT");
  if (live.length === 0) return [];
  const preferences = preferenceAlone(view, vhids, configured);
  const preferred = (v: VhidOnHost): Role => preferences.get(v.key)?.role ?? "primary";
  const masters = live.filter((v) => v.state === "MASTER");
  const backups = live.filter((v) => v.state === "BACKUP");
  const tookOver = masters.filter((v) => !isBalancing(v.iface) && preferred(v) === peer);
  const lost = backups.filter((v) => !isBalancing(v.iface) && preferred(v) === role);
  const every = masters.length === vhids.length ? `every vhid (${vhids.length})` : plural(masters.length, "vhid");
  const unreachable = `ssh to the ${peer} fails`;

  if (backups.length === 0) {
    if (tookOver.length > 0) {
      return [
        {
          status: "WARNING",
          summary: `took over: ${role} MASTER of ${every}, ${peer} unreachable`,
          detail: `took over: the ${role} is MASTER of ${keysOf(masters)}, taking ${keysOf(tookOver)} from the ${peer}, which advertises none of them (dead, or cut off from these segments) and ${unreachable}`,
          maintenance: [peer],
        },
      ];
    }
    return [
      {
        status: "WARNING",
        summary: `serving alone: ${role} MASTER of ${every}, ${peer} unreachable`,
        detail: `serving alone: the ${role} is MASTER of ${keysOf(masters)} and ${unreachable}; a BACKUP sends no advertisement, so from here a live standby and a dead one look alike`,
        maintenance: [peer],
      },
    ];
  }
  // BACKUP of something: a MASTER still advertises it on that segment, so the peer is alive there.
  const alive = `the ${peer} is alive there (it advertises ${keysOf(backups)}) but ${unreachable}: sshd or the management path is broken, not the host`;
  const split = splitAcrossSegments(view, live, preferred, `; ${alive}`);
  if (split) return [split];
  if (lost.length > 0) {
    return [
      {
        status: "WARNING",
        summary: `failed over: ${peer} took ${nameOf(lost)}, alive, ssh to it fails`,
        detail: `failed over: the ${role} is BACKUP of ${keysOf(lost)}, which it should hold; ${alive}`,
        maintenance: [peer],
      },
    ];
  }
  if (tookOver.length > 0) {
    return [
      {
        status: "WARNING",
        summary: `failed over: ${role} took ${nameOf(tookOver)}, ${peer} alive, no ssh`,
        detail: `failed over: the ${role} is MASTER of ${keysOf(tookOver)}, which the ${peer} should hold; ${alive}`,
        maintenance: [peer],
      },
    ];
  }
  return [{ status: "WARNING", summary: `${peer} not dead: it holds ${nameOf(backups)}, ssh to it fails`, detail: `${peer} not dead: ${alive}`, maintenance: [peer] }];
}

/** Without the peer's view because its answer could not be read: this host's role still says who should hold what. */
function unreadablePeerFindings(view: CarpHostView, only: readonly string[] | undefined, configured: Readonly<Record<string, Role>>): Finding[] {
  const vhids = [...vhidsOf(selected(view, only)).values()].filter((v) => !isBalancing(v.iface) && v.state !== "INIT");
  if (vhids.length === 0) return [];
  const preferences = preferenceAlone(view, vhids, configured);
  const preferred = (v: VhidOnHost): Role => preferences.get(v.key)?.role ?? "primary";
  const split = splitAcrossSegments(view, vhids, preferred, "");
  if (split) return [split];
  const unexpected = vhids.filter((v) => (v.state === "MASTER") !== (preferred(v) === view.role));
  const first = unexpected[0];
  if (first === undefined) return [];
  return [
    {
      status: "WARNING",
      summary: `failed over: ${view.role} is ${first.state} of ${first.key}${unexpected.length > 1 ? ` and ${unexpected.length - 1} more` : ""}`,
      detail: `failed over: the ${view.role} is ${unexpected.map((v) => `${v.state} of ${v.key}`).join(", ")}`,
      maintenance: BOTH,
    },
  ];
}

function stateLines(primary: CarpHostView | undefined, secondary: CarpHostView | undefined, only: readonly string[] | undefined): string[] {
  const describe = (v: VhidOnHost | undefined): string => (v ? `${v.state} advskew ${v.advskew}` : "-");
  const vhidsP = primary ? vhidsOf(selected(primary, only)) : new Map<string, VhidOnHost>();
  const vhidsS = secondary ? vhidsOf(selected(secondary, only)) : new Map<string, VhidOnHost>();
  const keys = [...new Set([...vhidsP.keys(), ...vhidsS.keys()])];
  const lines = keys.map((key) =>
    [key + ":", primary ? `primary ${describe(vhidsP.get(key))}` : undefined, secondary ? `secondary ${describe(vhidsS.get(key))}` : undefined].filter(Boolean).join(" "),
  );
  const views = [primary, secondary].filter((v): v is CarpHostView => v !== undefined);
  const demotions = (view: CarpHostView): string => (view.demotions.length === 0 ? "-" : view.demotions.map((d) => `${d.group} ${d.demoteCount}`).join(" "));
  lines.push(`preempt: ${views.map((v) => `${v.role} ${v.preempt ? 1 : 0}`).join(", ")}; demote: ${views.map((v) => `${v.role} ${demotions(v)}`).join(", ")}`);
  return lines;
}

function perfdataFor(views: readonly CarpHostView[], only: readonly string[] | undefined): PerfDatum[] {
  const perfdata: PerfDatum[] = [];
  for (const view of views) {
    const interfaces = selected(view, only);
    const states = interfaces.flatMap((iface) => iface.vhids.map((v) => v.state));
    const count = (state: CarpState): number => states.filter((s) => s === state).length;
    perfdata.push(
      { label: `${view.role}_masters`, value: count("MASTER"), min: 0 },
      { label: `${view.role}_backups`, value: count("BACKUP"), min: 0 },
      { label: `${view.role}_init`, value: count("INIT"), min: 0 },
    );
    // The most any interface is demoted by: the sum over its groups.
    if (interfaces.length > 0) perfdata.push({ label: `${view.role}_demote`, value: Math.max(...interfaces.map((iface) => demoteOf(view, iface))), min: 0 });
  }
  return perfdata;
}

function okSummary(primary: CarpHostView, only: readonly string[] | undefined): string {
  const vhidsP = [...vhidsOf(selected(primary, only)).values()];
  const vhids = plural(vhidsP.length, "vhid");
  const onSecondary = vhidsP.filter((v) => v.state === "BACKUP").length;
  if (vhidsP.some((v) => isBalancing(v.iface)) || onSecondary > 0) {
    return `${vhids}, each MASTER on its preferred host (primary ${vhidsP.length - onSecondary}, secondary ${onSecondary})`;
  }
  return `primary MASTER, secondary BACKUP of ${vhids}`;
}

/** The preferred master of each non-balancing interface, for the details. */
function preferenceLine(entries: readonly (readonly [string, Preference])[]): string[] {
  const byInterface = new Map<string, string>();
  for (const [key, preference] of entries) {
    if (preference.role === null) continue;
    byInterface.set(key.split(" ")[0] ?? key, `${preference.role} (${preference.from})`);
  }
  return byInterface.size === 0 ? [] : [`preferred master: ${[...byInterface].map(([name, pref]) => `${name} ${pref}`).join(", ")}`];
}

/** The verdict from both hosts' views, or from this host's alone when the peer's is missing. */
export function decideCarp(facts: CarpFacts): Result {
  const { local, peer, interfaces: only } = facts;
  const configured = facts.preferredMaster ?? {};
  if ("missing" in peer) {
    // Without the peer nothing can be said about split brain or drift between the hosts.
    const context = stateLines(local.role === "primary" ? local : undefined, local.role === "secondary" ? local : undefined, only);
    const own = hostFindings(local, only, facts.peerUnreachable === true);
    const vhids = [...vhidsOf(selected(local, only)).values()].filter((v) => !isBalancing(v.iface));
    const preferences = vhids.length > 0 ? [...preferenceAlone(local, vhids, configured)] : [];
    let findings: Finding[];
    if (facts.peerUnreachable === true) {
      const survivor = survivorFindings(local, only, configured);
      // An INIT vhid is the news: the rest of the story goes with it as details, not as "+N more".
      const init = own.some((f) => f.status === "CRITICAL");
      findings = init ? own : [...own, ...survivor];
      if (init) context.unshift(...survivor.flatMap((f) => f.detail ?? f.summary));
    } else {
      findings = [...own, ...unreadablePeerFindings(local, only, configured)];
    }
    return withoutPeerView(findings, peer, local.role, [...context, ...preferenceLine(preferences)], perfdataFor([local], only));
  }
  const primary = local.role === "primary" ? local : peer;
  const secondary = local.role === "primary" ? peer : local;
  const tally: PairTally = { splitBrain: 0, noMaster: 0, failedOver: 0 };
  const findings = [...hostFindings(primary, only, false), ...hostFindings(secondary, only, false), ...pairFindings(primary, secondary, only, configured, tally)];
  const vhidsP = vhidsOf(selected(primary, only));
  const vhidsS = vhidsOf(selected(secondary, only));
  const preferences = [...vhidsP].flatMap(([key, p]): [string, Preference][] => {
    const s = vhidsS.get(key);
    return s && !isBalancing(p.iface) ? [[key, preferenceOfPair(p, s, configured)]] : [];
  });
  const pairPerfdata: PerfDatum[] = [
    { label: "split_brain", value: tally.splitBrain, min: 0 },
    { label: "no_master", value: tally.noMaster, min: 0 },
    { label: "failed_over", value: tally.failedOver, min: 0 },
  ];
  return resultFromFindings(
    findings,
    okSummary(primary, only),
    [...stateLines(primary, secondary, only), ...preferenceLine(preferences)],
    [...perfdataFor([primary, secondary], only), ...pairPerfdata],
  );
}

/** A peer ssh could not reach at all, as opposed to one whose answer could not be read. */
function isUnreachable(reason: unknown): boolean {
  return (reason instanceof HostError && reason.summary.startsWith("cannot reach ")) || reason instanceof TimeoutError;
}

async function readCarpHost(host: Host): Promise<CarpHostView> {
  return parseCarpHost(host.role, await host.run(CARP_COMMANDS));
}

export const check: CheckDefinition = {
  name: "carp",
  title: "each carp vhid has exactly one MASTER, on the host that should hold it",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: /sbin/ifconfig carp; /sbin/ifconfig -g GROUP for every group in a carp interface's groups: line (the kernel adds up their demote counters); /sbin/sysctl net.inet.carp.preempt",
    "[checks.carp] interfaces: only these carp interfaces (default: every one ifconfig carp lists)",
    '[checks.carp] preferred_master = { carp1 = "primary", carp2 = "secondary" }: who should hold each non-balancing interface. ' +
      "Default: the host with the lower advskew on it (equal: the primary); a balancing interface's vhids always go to the lower advskew. " +
      "Without the peer's view and without this key, this host's own advskews decide: where they differ, it should hold those with its lowest advskew and the peer the rest; where they are all equal, the primary holds everything",
  ],
  states: {
    OK: "every vhid is MASTER on exactly one host, the one that should hold it: with carp1 preferring the primary and carp2 the secondary (active/active), each host MASTER of its own",
    WARNING:
      "failed over: a host took a vhid from the one that should hold it ('failed over: secondary took carp1 vhid 1 from primary'); " +
      "or a demote counter of a group a carp interface is in is not 0 ('primary carp demote 50 via group internal'): maintenance demotes on purpose, and a failover a forgotten one causes is reported besides. " +
      "With the peer unreachable over ssh (check_peer alerts for that), this host's own carp states speak: the table below",
    CRITICAL:
      "a vhid has no MASTER or two (split brain); a vhid is INIT (the summary names the vhid and its address) or an interface shows status invalid; " +
      "'split by segment': with net.inet.carp.preempt=1 a host is MASTER of some non-balancing interfaces and BACKUP of others, not as preferred (carp moves them together, so the segments see different masters); " +
      "the carp interfaces, vhids or advbase differ between the hosts; preferred_master names a host whose advskew is above the other's; a balancing vhid's advskew is equal on both; no carp interface",
    UNKNOWN:
      "bad config, a command failed or printed what the parser cannot read on this host, or the deadline expired. " +
      "When the peer answered what cannot be read, this host's own faults keep their status with a detail line 'pair view missing: <reason>'; with none the result is UNKNOWN 'pair view missing: <reason>'",
  },
  table: {
    heading:
      "With the peer unreachable over ssh, this host's own carp states, read with carp(4) (a BACKUP stays BACKUP only while a MASTER advertises the vhid on that segment; a BACKUP itself sends nothing)",
    rows: [
      [
        "MASTER of every vhid, none of them the peer's",
        "WARNING 'serving alone: primary MASTER of every vhid (1), secondary unreachable'",
        "the service is up, but from here a live standby and a dead one look alike; not OK, so the mail says it with check_peer's",
      ],
      [
        "MASTER of every vhid, some of them the peer's",
        "WARNING 'took over: secondary MASTER of every vhid (1), primary unreachable'",
        "the peer advertises none of them: dead, or cut off from these segments; the service is up on this host alone",
      ],
      [
        "BACKUP of the peer's vhids (the rest, if any, MASTER as preferred)",
        "WARNING 'primary not dead: it holds carp203 vhid 203, ssh to it fails'",
        "the peer is alive on that segment and serving; only sshd or the management path is broken",
      ],
      ["BACKUP of a vhid this host should hold", "WARNING 'failed over: secondary took carp203 vhid 203, alive, ssh to it fails'", "the peer is alive and holds it"],
      [
        "INIT of a vhid",
        "CRITICAL 'carp203 vhid 203 INIT on secondary: 10.112.203.254 may have no MASTER'",
        "this host cannot serve the address and the peer may not either; the rest of this host's story goes in the details",
      ],
      [
        "MASTER of some vhids and BACKUP of others, not as preferred",
        "CRITICAL 'split by segment: …' with preempt on; WARNING 'failed over' with it off",
        "with preempt carp moves a host's vhids together, so the pair is split across segments; without it a vhid may stay where a past failover left it",
      ],
    ],
  },
  settings: settingsSchema,
  async run(ctx) {
    const [local, peer] = await Promise.allSettled([readCarpHost(ctx.local), readCarpHost(ctx.peer)]);
    if (local.status === "rejected") throw local.reason;
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const facts = { local: local.value, interfaces: settings.interfaces, preferredMaster: settings.preferred_master };
    if (peer.status === "fulfilled") return decideCarp({ ...facts, peer: peer.value });
    return decideCarp({ ...facts, peer: peerViewMissing(ctx.peerRole, peer.reason), peerUnreachable: isUnreachable(peer.reason) });
  },
};

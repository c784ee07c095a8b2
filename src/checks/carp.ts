import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, interfaceName, type Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError } from "../lib/runtime/errors.js";
import { peerViewMissing, resultFromFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import type { Host } from "../lib/transport/host.js";
import { parseCarpInterfaces, parseIfconfigGroup, type CarpInterface, type CarpState } from "../lib/parse/ifconfig.js";
import { parseSysctlOutput } from "../lib/parse/sysctl.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";

/** What one gateway says about its carp interfaces. */
export interface CarpHostView {
  readonly role: Role;
  readonly interfaces: readonly CarpInterface[];
  /** The carp group's demote counter; null when there is no carp interface (and so no group). */
  readonly demoteCount: number | null;
  readonly preempt: boolean;
}

export interface CarpFacts {
  readonly local: CarpHostView;
  readonly peer: CarpHostView | PeerViewMissing;
  /** [checks.carp] interfaces: only these are checked, and each must exist; undefined: every carp interface. */
  readonly interfaces?: readonly string[];
}

/** [checks.carp] */
const settingsSchema = v.strictObject({
  interfaces: v.optional(v.array(interfaceName)),
});

export const IFCONFIG_CARP: HostCommand = { argv: ["/sbin/ifconfig", "carp"] };
// All carp interfaces are in group carp; maintenance demotes the whole group (ifconfig -g carp carpdemote 50).
const IFCONFIG_GROUP_CARP: HostCommand = { argv: ["/sbin/ifconfig", "-g", "carp"] };
const SYSCTL_PREEMPT: HostCommand = { argv: ["/sbin/sysctl", "net.inet.carp.preempt"] };
const CARP_COMMANDS: readonly HostCommand[] = [IFCONFIG_CARP, IFCONFIG_GROUP_CARP, SYSCTL_PREEMPT];

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
  const [ifconfig, group, sysctl] = answers;
  if (!ifconfig || !group || !sysctl) throw new HostError(`${role}: missing command output`);
  const interfaces = readIfconfigCarp(role, ifconfig);
  let demoteCount: number | null = null;
  if (interfaces.length > 0) {
    if (group.exitCode !== 0) throw failedOn(role, group);
    demoteCount = parseIfconfigGroup(group.stdout).demoteCount;
  }
  if (sysctl.exitCode !== 0) throw failedOn(role, sysctl);
  const preemptText = parseSysctlOutput(sysctl.stdout).get("net.inet.carp.preempt");
  if (preemptText !== "0" && preemptText !== "1") {
    throw new ParseError("sysctl output", preemptText === undefined ? "no net.inet.carp.preempt line" : "net.inet.carp.preempt is neither 0 nor 1");
  }
  return { role, interfaces, demoteCount, preempt: preemptText === "1" };
}

interface VhidOnHost {
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
  for (const iface of interfaces) for (const v of iface.vhids) vhids.set(vhidKey(iface.name, v.vhid), { iface, state: v.state, advskew: v.advskew });
  return vhids;
}

function selected(view: CarpHostView, only: readonly string[] | undefined): CarpInterface[] {
  return only === undefined ? [...view.interfaces] : view.interfaces.filter((iface) => only.includes(iface.name));
}

/** What one host's own output shows, whatever the peer says. */
function hostFindings(view: CarpHostView, only: readonly string[] | undefined, pairViewMissing: boolean): Finding[] {
  const findings: Finding[] = [];
  const { role } = view;
  const interfaces = selected(view, only);
  for (const name of only ?? []) {
    if (!interfaces.some((iface) => iface.name === name))
      findings.push({ status: "CRITICAL", summary: `${name} missing on ${role}`, detail: `${name}: listed in [checks.carp] interfaces, not in ifconfig carp on the ${role}` });
  }
  if (interfaces.length === 0 && only === undefined) {
    findings.push({ status: "CRITICAL", summary: `no carp interfaces on ${role}`, detail: `ifconfig carp on the ${role} shows no carp interface` });
  }
  for (const iface of interfaces) {
    const initVhids = iface.vhids.filter((v) => v.state === "INIT").map((v) => v.vhid);
    const where = `carpdev ${iface.carpdev ?? "none"}, status ${iface.status ?? "not shown"}, ${iface.up ? "UP" : "not UP"}`;
    for (const vhid of initVhids) {
      findings.push({ status: "CRITICAL", summary: `${vhidKey(iface.name, vhid)} INIT on ${role}`, detail: `${vhidKey(iface.name, vhid)} on the ${role}: INIT (${where})` });
    }
    if (initVhids.length === 0 && iface.status === "invalid") {
      findings.push({ status: "CRITICAL", summary: `${iface.name} status invalid on ${role}`, detail: `${iface.name} on the ${role}: status invalid (${where})` });
    }
  }
  const single = interfaces.filter((iface) => !isBalancing(iface));
  const singleIn = (state: CarpState): string[] => single.filter((iface) => iface.vhids[0]?.state === state).map((iface) => iface.name);
  const masterOf = singleIn("MASTER");
  const backupOf = singleIn("BACKUP");
  if (view.preempt && masterOf.length > 0 && backupOf.length > 0) {
    findings.push({
      status: "CRITICAL",
      summary: `${role} is MASTER and BACKUP with preempt on`,
      detail: `${role}'s carp interfaces disagree: MASTER of ${masterOf.join(", ")}, BACKUP of ${backupOf.join(", ")}, with net.inet.carp.preempt=1 they fail over together`,
    });
  }
  if (view.demoteCount !== null && view.demoteCount !== 0) {
    findings.push({
      status: "WARNING",
      summary: `${role} carp demote counter is ${view.demoteCount}`,
      detail: `${role}: ifconfig -g carp shows demote count ${view.demoteCount} (maintenance left on? clear with ifconfig -g carp -carpdemote ${view.demoteCount})`,
    });
  }
  // Without the peer's view, this host's role still says who should hold the single-vhid interfaces.
  if (pairViewMissing) {
    const unexpected = role === "primary" ? backupOf : masterOf;
    const first = unexpected[0];
    if (first !== undefined) {
      const state = role === "primary" ? "BACKUP" : "MASTER";
      findings.push({
        status: "WARNING",
        summary: `failed over: ${role} is ${state} of ${first}${unexpected.length > 1 ? ` and ${unexpected.length - 1} more` : ""}`,
        detail: `failed over: the ${role} is ${state} of ${unexpected.join(", ")}`,
      });
    }
  }
  return findings;
}

/** What only the two views together show: one MASTER per vhid, matching vhids/advbase, advskew order. */
function pairFindings(primary: CarpHostView, secondary: CarpHostView, only: readonly string[] | undefined): Finding[] {
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
        findings.push({ status: "CRITICAL", summary: `vhids differ: ${name} only on ${role}`, detail: `${name} (vhid ${(p ?? s)?.vhids.map((v) => v.vhid).join(",")}) exists only on the ${role}` });
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
  for (const [key, p] of vhidsP) {
    const s = vhidsS.get(key);
    if (!s) continue;
    const balancing = isBalancing(p.iface) || isBalancing(s.iface);
    const states = `primary ${p.state} advskew ${p.advskew}, secondary ${s.state} advskew ${s.advskew}`;
    const masters: Role[] = [];
    if (p.state === "MASTER") masters.push("primary");
    if (s.state === "MASTER") masters.push("secondary");
    if (masters.length === 2) findings.push({ status: "CRITICAL", summary: `split brain: ${key} MASTER on both hosts`, detail: `split brain: ${key}: ${states}` });
    if (masters.length === 0) findings.push({ status: "CRITICAL", summary: `${key} has no MASTER`, detail: `no MASTER for ${key}: ${states}` });
    // Single-vhid interfaces: the primary must win the election. Balancing: each vhid must have one
    // preferred host, the one with the lower advskew for it.
    if (!balancing && p.advskew >= s.advskew) {
      findings.push({
        status: "CRITICAL",
        summary: `${key} advskew: primary ${p.advskew} not below secondary ${s.advskew}`,
        detail: `${key}: the primary's advskew ${p.advskew} is not below the secondary's ${s.advskew}, so the primary does not win the election`,
      });
    }
    if (balancing && p.advskew === s.advskew) {
      findings.push({ status: "CRITICAL", summary: `${key} advskew ${p.advskew} on both hosts`, detail: `${key} (balancing): advskew ${p.advskew} on both hosts, neither is preferred` });
    }
    const preferred: Role | null = !balancing ? "primary" : p.advskew < s.advskew ? "primary" : s.advskew < p.advskew ? "secondary" : null;
    const master = masters.length === 1 ? masters[0] : undefined;
    if (preferred !== null && master !== undefined && master !== preferred) {
      findings.push({
        status: "WARNING",
        summary: `failed over: ${master} is MASTER of ${key}`,
        detail: `failed over: ${key}: ${states}${balancing ? " (balancing: the host with the lower advskew should hold it)" : ""}`,
      });
    }
  }
  return findings;
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
  lines.push(`preempt: ${views.map((v) => `${v.role} ${v.preempt ? 1 : 0}`).join(", ")}; demote: ${views.map((v) => `${v.role} ${v.demoteCount ?? "-"}`).join(", ")}`);
  return lines;
}

function perfdataFor(views: readonly CarpHostView[], only: readonly string[] | undefined): PerfDatum[] {
  const perfdata: PerfDatum[] = [];
  for (const view of views) {
    const states = selected(view, only).flatMap((iface) => iface.vhids.map((v) => v.state));
    const count = (state: CarpState): number => states.filter((s) => s === state).length;
    perfdata.push(
      { label: `${view.role}_masters`, value: count("MASTER"), min: 0 },
      { label: `${view.role}_backups`, value: count("BACKUP"), min: 0 },
      { label: `${view.role}_init`, value: count("INIT"), min: 0 },
    );
    if (view.demoteCount !== null) perfdata.push({ label: `${view.role}_demote`, value: view.demoteCount, min: 0 });
  }
  return perfdata;
}

function okSummary(primary: CarpHostView, only: readonly string[] | undefined): string {
  const interfaces = selected(primary, only);
  const vhidCount = interfaces.reduce((sum, iface) => sum + iface.vhids.length, 0);
  const vhids = `${vhidCount} vhid${vhidCount === 1 ? "" : "s"}`;
  if (interfaces.some(isBalancing)) return `${vhids}, each MASTER on its preferred host`;
  return `primary MASTER, secondary BACKUP of ${vhids}`;
}

/** The verdict from both hosts' views, or from this host's alone when the peer's is missing. */
export function decideCarp(facts: CarpFacts): Result {
  const { local, peer, interfaces: only } = facts;
  if ("missing" in peer) {
    // Without the peer nothing can be said about split brain or drift between the hosts.
    const context = stateLines(local.role === "primary" ? local : undefined, local.role === "secondary" ? local : undefined, only);
    return withoutPeerView(hostFindings(local, only, true), peer, local.role, context, perfdataFor([local], only));
  }
  const primary = local.role === "primary" ? local : peer;
  const secondary = local.role === "primary" ? peer : local;
  const findings = [...hostFindings(primary, only, false), ...hostFindings(secondary, only, false), ...pairFindings(primary, secondary, only)];
  return resultFromFindings(findings, okSummary(primary, only), stateLines(primary, secondary, only), perfdataFor([primary, secondary], only));
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
    "both hosts, one round trip each: /sbin/ifconfig carp, /sbin/ifconfig -g carp (demote counter), /sbin/sysctl net.inet.carp.preempt",
    "[checks.carp] interfaces: only these carp interfaces (default: every one ifconfig carp lists)",
  ],
  states: {
    OK: "every vhid is MASTER on exactly one host: the primary for single-vhid interfaces, the host with the lower advskew for each vhid of a balancing interface",
    WARNING:
      "failed over: the secondary holds MASTER (or, balancing, the host with the higher advskew); or a carp demote counter (ifconfig -g carp) is not 0 on either host. " +
      "A non-zero demote counter is a WARNING, not CRITICAL: an upgrade sets carpdemote 50 on purpose to hand MASTER to the other host, and a failover that a forgotten one causes is reported besides",
    CRITICAL:
      "a vhid has no MASTER or two (split brain); a vhid is INIT or an interface shows status invalid; with net.inet.carp.preempt=1 one host is MASTER of some single-vhid interfaces and BACKUP of others; " +
      "the carp interfaces, vhids or advbase differ between the hosts; the primary's advskew is not below the secondary's (balancing: a vhid's advskew is equal on both); no carp interface",
    UNKNOWN:
      "bad config, a command failed or printed what the parser cannot read on this host, or the deadline expired. " +
      "When the peer cannot be asked (check_peer alerts for that), this host's own view decides: its faults (INIT, preempt disagreement, demote, this host's role holding the wrong state) " +
      "give their status with a detail line 'pair view missing: <reason>'; with no fault here the result is UNKNOWN 'pair view missing: <reason>'",
  },
  settings: settingsSchema,
  async run(ctx) {
    const [local, peer] = await Promise.allSettled([readCarpHost(ctx.local), readCarpHost(ctx.peer)]);
    if (local.status === "rejected") throw local.reason;
    const peerView = peer.status === "fulfilled" ? peer.value : peerViewMissing(ctx.peerRole, peer.reason);
    return decideCarp({ local: local.value, peer: peerView, interfaces: checkSettings(ctx.config, check.name, settingsSchema).interfaces });
  },
};

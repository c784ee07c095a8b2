import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { absolutePath, checkSettings, threshold, type Config, type Role } from "../lib/runtime/config.js";
import { elapsedSeconds, increase, measureCounterGrowth, type GrowthResult } from "../lib/runtime/counter-history.js";
import { ParseError } from "../lib/runtime/errors.js";
import { resultFromFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import { parsePfInfo, parsePfLimits, type PfInfo, type PfLimits } from "../lib/parse/pfctl.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import { rangeAlerts, rangeFromConfig, type Range } from "../lib/runtime/thresholds.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";
import { inRoleOrder, outputOf, parsedOn, readBothHosts } from "./both-hosts.js";

const HISTORY_FILE = "pf-counters.json";

/**
 * The pfctl -si counters whose growth means pf dropped packets it should have passed: no memory for a
 * state (the pool is exhausted), a rule's or the table's state limit reached, an interface queue
 * congested (pf then creates no new states until it clears).
 */
const WATCHED_COUNTERS: Readonly<Record<string, string>> = {
  memory: "no memory for a state or fragment",
  "state-limit": "a state limit reached",
  congestion: "an interface queue congested",
};

/** [checks.pf] */
const settingsSchema = v.strictObject({
  // State table usage in % of `pfctl -sm` states hard limit (alert above).
  warning: v.optional(threshold, 80),
  critical: v.optional(threshold, 95),
  // Growth of each watched counter, per minute since the previous run (alert above).
  counter_warning: v.optional(v.pipe(v.number(), v.minValue(0)), 1),
  counter_critical: v.optional(v.pipe(v.number(), v.minValue(0)), 60),
  ignore_counters: v.optional(v.array(v.picklist(Object.keys(WATCHED_COUNTERS), "a pf counter: memory, state-limit or congestion")), []),
  state_dir: v.optional(
    v.pipe(
      absolutePath,
      v.check((path) => !/^\/etc(\/|$)/.test(path), "a directory outside /etc"),
    ),
    "/var/db/carpentry",
  ),
});

export interface PfSettings {
  readonly usageWarning: Range;
  readonly usageCritical: Range;
  /** Per minute. */
  readonly counterWarning: number;
  readonly counterCritical: number;
  readonly counters: readonly string[];
  readonly stateDir: string;
}

export function pfSettings(config: Config, warning?: Range, critical?: Range): PfSettings {
  const section = checkSettings(config, check.name, settingsSchema);
  return {
    usageWarning: warning ?? rangeFromConfig(section.warning, "warning"),
    usageCritical: critical ?? rangeFromConfig(section.critical, "critical"),
    counterWarning: section.counter_warning,
    counterCritical: section.counter_critical,
    counters: Object.keys(WATCHED_COUNTERS).filter((name) => !section.ignore_counters.includes(name)),
    stateDir: section.state_dir,
  };
}

/** One host's pf, from `pfctl -vsi` and `pfctl -sm`. */
export interface PfHostView {
  readonly role: Role;
  readonly info: PfInfo;
  readonly limits: PfLimits;
}

export const PF_COMMANDS: readonly HostCommand[] = [{ argv: ["/sbin/pfctl", "-vsi"] }, { argv: ["/sbin/pfctl", "-sm"] }];

export function readPfHost(role: Role, answers: readonly CommandResult[]): PfHostView {
  const [info, limits] = answers;
  if (!info || !limits) throw new ParseError(`${role}'s pfctl output`, "missing");
  const parsedInfo = parsedOn(role, () => parsePfInfo(outputOf(role, info)));
  if (parsedInfo.hostid === null) throw new ParseError(`${role}'s pfctl -vsi output`, "no Hostid line (was -v lost?)");
  return { role, info: parsedInfo, limits: parsedOn(role, () => parsePfLimits(outputOf(role, limits))) };
}

export interface PfFacts {
  readonly local: PfHostView;
  readonly peer: PfHostView | PeerViewMissing;
  readonly growth: GrowthResult;
}

function usagePercent(view: PfHostView): number | null {
  const limit = view.limits["states"];
  if (limit === undefined || limit === "unlimited" || limit === 0) return null;
  return (view.info.states.currentEntries / limit) * 100;
}

function hostFindings(view: PfHostView, settings: PfSettings): Finding[] {
  const findings: Finding[] = [];
  if (!view.info.enabled) {
    findings.push({
      status: "CRITICAL",
      summary: `pf disabled on ${view.role}`,
      detail: `${view.role}: pfctl -si says "${view.info.statusLine}": nothing is filtered and no state is kept or synced (pfctl -e, or reboot, enables it)`,
      // `pfctl -d` is a step of the upgrade.
      maintenance: [view.role],
    });
  }
  const usage = usagePercent(view);
  if (usage !== null) {
    const status = rangeAlerts(settings.usageCritical, usage) ? "CRITICAL" : rangeAlerts(settings.usageWarning, usage) ? "WARNING" : undefined;
    if (status !== undefined) {
      const limit = view.limits["states"];
      findings.push({
        status,
        summary: `pf state table ${usage.toFixed(1)}% full on ${view.role}`,
        detail: `${view.role}: ${view.info.states.currentEntries} states of the hard limit ${String(limit)} (${status} above ${status === "CRITICAL" ? settings.usageCritical.text : settings.usageWarning.text}%): new connections fail once it is full (set limit states in pf.conf)`,
      });
    }
  }
  return findings;
}

function counterFindings(views: readonly PfHostView[], growth: GrowthResult, settings: PfSettings): { findings: Finding[]; lines: string[] } {
  const findings: Finding[] = [];
  const lines: string[] = [];
  for (const view of views) {
    const hostGrowth = growth.byRole[view.role];
    const totals = settings.counters.map((name) => `${name} ${view.info.counters[name] ?? 0}`).join(", ");
    if (hostGrowth === undefined) continue;
    if (hostGrowth.kind === "first") {
      lines.push(`${view.role} pf counters: ${totals}; first reading, growth is told from the next run`);
      continue;
    }
    if (hostGrowth.kind === "reset") {
      lines.push(`${view.role} pf counters: ${totals}; ${hostGrowth.counter} went down since the last run (reboot?), growth is told from the next run`);
      continue;
    }
    const minutes = elapsedSeconds(hostGrowth.previous, hostGrowth.current) / 60;
    const grown: string[] = [];
    for (const name of settings.counters) {
      const grew = increase(hostGrowth.previous, hostGrowth.current, name);
      if (grew === 0) continue;
      const rate = grew / minutes;
      grown.push(`${name} +${grew}`);
      const status = rate > settings.counterCritical ? "CRITICAL" : rate > settings.counterWarning ? "WARNING" : undefined;
      if (status === undefined) continue;
      findings.push({
        status,
        summary: `pf ${name} counter grows on ${view.role}: ${rate.toFixed(1)}/min`,
        detail: `${view.role}: pf ${name} (${WATCHED_COUNTERS[name] ?? name}) grew by ${grew} in ${minutes.toFixed(1)} min, ${rate.toFixed(1)}/min (${status} above ${status === "CRITICAL" ? settings.counterCritical : settings.counterWarning}/min): pf dropped packets`,
      });
    }
    lines.push(`${view.role} pf counters: ${totals}; ${grown.length === 0 ? "no growth" : grown.join(", ")} since ${hostGrowth.previous.at}`);
  }
  return { findings, lines };
}

function hostLine(view: PfHostView): string {
  const limit = view.limits["states"];
  const usage = usagePercent(view);
  const states = `${view.info.states.currentEntries} states of ${String(limit)}${usage === null ? "" : ` (${usage.toFixed(1)}%)`}`;
  return `${view.role}: pf ${view.info.enabled ? "enabled" : "DISABLED"}, ${states}, hostid ${view.info.hostid ?? "?"}`;
}

function perfdataOf(views: readonly PfHostView[], settings: PfSettings): PerfDatum[] {
  return views.flatMap((view): PerfDatum[] => {
    const usage = usagePercent(view);
    const limit = view.limits["states"];
    return [
      { label: `states_${view.role}`, value: view.info.states.currentEntries, min: 0, ...(typeof limit === "number" ? { max: limit } : {}) },
      { label: `state_use_${view.role}`, value: usage === null ? "U" : Math.round(usage * 10) / 10, uom: "%", warn: settings.usageWarning.text, crit: settings.usageCritical.text, min: 0, max: 100 },
    ];
  });
}

/** Facts -> Result: pf enabled on both, room in the state tables, distinct hostids, no drop counter growing. */
export function decidePf(facts: PfFacts, settings: PfSettings): Result {
  const views = inRoleOrder("missing" in facts.peer ? [facts.local] : [facts.local, facts.peer]);
  const findings: Finding[] = views.flatMap((view) => hostFindings(view, settings));
  const [primary, secondary] = views;
  if (primary && secondary && primary.info.hostid !== null && primary.info.hostid === secondary.info.hostid) {
    findings.push({
      status: "CRITICAL",
      summary: `primary and secondary share pf hostid ${primary.info.hostid}`,
      detail: `both hosts have pf hostid ${primary.info.hostid}: pfsync tells the hosts' states apart by it (a cloned pf.conf with one \`set hostid\`?); give each host its own`,
    });
  }
  const counters = counterFindings(views, facts.growth, settings);
  findings.push(...counters.findings);
  const context = [...views.map(hostLine), ...counters.lines, ...facts.growth.notes];
  const perfdata = perfdataOf(views, settings);
  if ("missing" in facts.peer) return withoutPeerView(findings, facts.peer, facts.local.role, context, perfdata);
  const usages = views.map((view) => usagePercent(view));
  const fullest = Math.max(...usages.map((usage) => usage ?? 0));
  return resultFromFindings(findings, `pf enabled on both, state tables at most ${fullest.toFixed(1)}% full`, context, perfdata);
}

export const check: CheckDefinition = {
  name: "pf",
  title: "both gateways filter with pf: enabled, room in the state table, distinct hostids, no drop counter growing",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: /sbin/pfctl -vsi (Status, Hostid, State Table current entries, the Counters memory, state-limit and congestion), /sbin/pfctl -sm (states hard limit)",
    "this host: state_dir/pf-counters.json (default /var/db/carpentry), both hosts' counters of the previous run; written each run (mode 0600, directory 0700)",
    "config [checks.pf]: warning (80) and critical (95) % of the states hard limit, counter_warning (1) and counter_critical (60) per minute, ignore_counters ([]), state_dir",
  ],
  thresholds: "state table usage in % of pfctl -sm's states hard limit, alerting above: -w 80 -c 95 (Nagios ranges) override warning and critical",
  states: {
    OK: "pf is enabled on both hosts, each state table is below the warning % of its hard limit, the hosts' pf hostids differ, and no watched counter (memory, state-limit, congestion) grew faster than counter_warning per minute since the previous run",
    WARNING:
      "a state table is above the warning % of its hard limit, or a watched counter grew faster than counter_warning per minute (pf is dropping packets now and then: raise set limit states, look at the interface queues)",
    CRITICAL:
      "pf is disabled on a host (named: `pfctl -d` during maintenance and never `pfctl -e`: nothing is filtered, no state is synced), a state table is above the critical %, the hosts share one pf hostid (pfsync then mixes up their states), or a watched counter grew faster than counter_critical per minute",
    UNKNOWN:
      "pfctl fails or prints what the parser does not understand (the host and line are named), bad config, or the deadline expired. With the peer unreachable, this host's own faults give their status with 'pair view missing: <reason>'; with none, UNKNOWN 'pair view missing'. A state directory that cannot be written costs only the counters' growth",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = pfSettings(ctx.config, ctx.warning, ctx.critical);
    const views = await readBothHosts(ctx, PF_COMMANDS, readPfHost);
    const current: Partial<Record<Role, Record<string, number>>> = {};
    for (const view of [views.local, views.peer]) {
      if ("missing" in view) continue;
      current[view.role] = Object.fromEntries(settings.counters.map((name) => [name, view.info.counters[name] ?? 0]));
    }
    const growth = measureCounterGrowth(settings.stateDir, HISTORY_FILE, current, 0);
    return decidePf({ ...views, growth }, settings);
  },
};

import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { absolutePath, checkSettings, type Config, type Role } from "../lib/runtime/config.js";
import { increase, measureCounterGrowth, type GrowthResult } from "../lib/runtime/counter-history.js";
import { ParseError } from "../lib/runtime/errors.js";
import { resultFromFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import { parseProtocolStats } from "../lib/parse/netstat.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";
import { inRoleOrder, outputOf, parsedOn, readBothHosts } from "./both-hosts.js";

const HISTORY_FILE = "carp-counters.json";

/**
 * The carp counters whose growth means the hosts disagree (struct carpstats fields; ignore_counters
 * names them without `carps_`). A bad authentication is an advertisement whose HMAC does not match:
 * the hosts' carp passes differ, or so do the addresses of the vhid (the HMAC covers them), which
 * the kernel logs as "carp incorrect hash". A bad vhid is an advertisement for a vhid this host does
 * not have: the hosts' vhids differ, or another carp cluster shares the segment.
 */
const DISAGREEMENT_COUNTERS: Readonly<Record<string, string>> = {
  carps_badauth: 'advertisements failing authentication (the carp pass or the vhid\'s addresses differ between the hosts: "carp incorrect hash")',
  carps_badvhid: "advertisements for a vhid this host lacks (the vhids differ, or another carp cluster shares the segment)",
};
const TRANSITIONS = "carps_preempt";

/** [checks.carp_stats] */
const settingsSchema = v.strictObject({
  // Seconds: transitions to master on both hosts within this window are a failover that flipped back.
  window: v.optional(v.pipe(v.number(), v.integer("a whole number of seconds"), v.minValue(60, "at least 60 seconds"), v.maxValue(7 * 86400, "at most a week")), 3600),
  ignore_counters: v.optional(v.array(v.picklist(["badauth", "badvhid"], "a carp counter: badauth or badvhid")), []),
  state_dir: v.optional(
    v.pipe(
      absolutePath,
      v.check((path) => !/^\/etc(\/|$)/.test(path), "a directory outside /etc"),
    ),
    "/var/db/carpentry",
  ),
});

export interface CarpStatsSettings {
  readonly windowSeconds: number;
  readonly counters: readonly string[];
  readonly stateDir: string;
}

export function carpStatsSettings(config: Config): CarpStatsSettings {
  const section = checkSettings(config, check.name, settingsSchema);
  return {
    windowSeconds: section.window,
    counters: Object.keys(DISAGREEMENT_COUNTERS).filter((field) => !section.ignore_counters.some((name) => field === `carps_${name}`)),
    stateDir: section.state_dir,
  };
}

export interface CarpStatsView {
  readonly role: Role;
  /** struct carpstats fields, known rows only. */
  readonly counters: Readonly<Record<string, number>>;
}

export const CARP_STATS_COMMANDS: readonly HostCommand[] = [{ argv: ["/usr/bin/netstat", "-sp", "carp"] }];

export function readCarpStatsHost(role: Role, answers: readonly CommandResult[]): CarpStatsView {
  const [netstat] = answers;
  if (!netstat) throw new ParseError(`${role}'s netstat -sp carp output`, "missing");
  const stats = parsedOn(role, () => parseProtocolStats(outputOf(role, netstat)));
  if (stats.protocol !== "carp") throw new ParseError(`${role}'s netstat -sp carp output`, `header is ${stats.protocol}:, expected carp:`, 1);
  for (const field of [...Object.keys(DISAGREEMENT_COUNTERS), TRANSITIONS]) {
    if (stats.fields[field] === undefined) throw new ParseError(`${role}'s netstat -sp carp output`, `no ${field} row; output truncated?`);
  }
  return { role, counters: stats.fields };
}

export interface CarpStatsFacts {
  readonly local: CarpStatsView;
  readonly peer: CarpStatsView | PeerViewMissing;
  readonly growth: GrowthResult;
}

function minutesText(seconds: number): string {
  return seconds >= 3600 && seconds % 3600 === 0 ? `${seconds / 3600} h` : `${Math.round(seconds / 60)} min`;
}

/** Facts -> Result: no advertisement refused for a bad pass or vhid since the previous run, no failover that flipped back within the window. */
export function decideCarpStats(facts: CarpStatsFacts, settings: CarpStatsSettings): Result {
  const views = inRoleOrder("missing" in facts.peer ? [facts.local] : [facts.local, facts.peer]);
  const findings: Finding[] = [];
  const context: string[] = [];
  const transitionsBy = new Map<Role, number>();
  let windowCovered = Infinity;
  for (const view of views) {
    const growth = facts.growth.byRole[view.role];
    const counts = `bad authentication ${view.counters["carps_badauth"] ?? 0}, bad vhid ${view.counters["carps_badvhid"] ?? 0}, transitions to master ${view.counters[TRANSITIONS] ?? 0}`;
    if (growth === undefined) continue;
    if (growth.kind === "first") {
      context.push(`${view.role} carp: ${counts}; first reading, growth is told from the next run`);
      continue;
    }
    if (growth.kind === "reset") {
      context.push(`${view.role} carp: ${counts}; ${growth.counter} went down since the last run (reboot?), growth is told from the next run`);
      continue;
    }
    for (const field of settings.counters) {
      const grew = increase(growth.previous, growth.current, field);
      if (grew === 0) continue;
      const name = field === "carps_badauth" ? "bad authentication" : "bad vhid";
      findings.push({
        status: "CRITICAL",
        summary: `carp ${name} grew by ${grew} on ${view.role}`,
        detail: `${view.role}: ${grew} ${DISAGREEMENT_COUNTERS[field] ?? field} since ${growth.previous.at}`,
      });
    }
    const transitions = increase(growth.windowStart, growth.current, TRANSITIONS);
    transitionsBy.set(view.role, transitions);
    windowCovered = Math.min(windowCovered, (Date.parse(growth.current.at) - Date.parse(growth.windowStart.at)) / 1000);
    context.push(`${view.role} carp: ${counts}; ${transitions} transition${transitions === 1 ? "" : "s"} to master since ${growth.windowStart.at}`);
  }
  const [primaryTransitions, secondaryTransitions] = [transitionsBy.get("primary") ?? 0, transitionsBy.get("secondary") ?? 0];
  if (primaryTransitions > 0 && secondaryTransitions > 0) {
    const within = minutesText(Math.min(settings.windowSeconds, Math.max(60, windowCovered)));
    findings.push({
      status: "WARNING",
      summary: `carp flapping: both hosts became master within ${within}`,
      detail: [
        `transitions to master within ${within}: primary ${primaryTransitions}, secondary ${secondaryTransitions}: a failover that flipped back`,
        "check_carp sees only the moment it runs, and monit's `for 3 cycles` drops a failover that is over within 3 runs: this counts them",
      ],
      // The upgrade fails over and back on purpose.
      maintenance: ["primary", "secondary"],
    });
  }
  context.push(...facts.growth.notes);
  const perfdata: PerfDatum[] = views.flatMap((view): PerfDatum[] => [
    { label: `badauth_${view.role}`, value: view.counters["carps_badauth"] ?? 0, uom: "c", min: 0 },
    { label: `badvhid_${view.role}`, value: view.counters["carps_badvhid"] ?? 0, uom: "c", min: 0 },
    { label: `to_master_${view.role}`, value: view.counters[TRANSITIONS] ?? 0, uom: "c", min: 0 },
  ]);
  if ("missing" in facts.peer) return withoutPeerView(findings, facts.peer, facts.local.role, context, perfdata);
  return resultFromFindings(findings, `carp counters quiet on both hosts (window ${minutesText(settings.windowSeconds)})`, context, perfdata);
}

export const check: CheckDefinition = {
  name: "carp_stats",
  title: "CARP's counters: no advertisement refused for a bad pass or vhid, no failover that flipped back",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: /usr/bin/netstat -sp carp (discarded for bad authentication, for bad/unknown vhid, transitions to master)",
    "this host: state_dir/carp-counters.json (default /var/db/carpentry), both hosts' readings over the window; written each run (mode 0600, directory 0700)",
    "config [checks.carp_stats]: window (3600 s), ignore_counters ([]: badauth, badvhid), state_dir",
  ],
  states: {
    OK: "no bad-authentication or bad-vhid advertisement since the previous run, and not both hosts became master within the window",
    WARNING:
      "both hosts counted transitions to master within the window (default 1 h): a failover that flipped back (or a flapping link). check_carp judges only the moment it runs and monit alerts on it after 3 failed runs, so a failover over within 3 minutes is never mailed; this catches it",
    CRITICAL:
      'advertisements discarded for bad authentication grew on a host ("carp incorrect hash": the carp pass or the vhid\'s addresses differ between the hosts), or for a bad vhid (the vhids differ; add badvhid to ignore_counters when another carp cluster shares the segment)',
    UNKNOWN:
      "netstat fails or prints what the parser does not understand (the host and line are named), bad config, or the deadline expired. With the peer unreachable, this host's own faults give their status with 'pair view missing: <reason>'; with none, UNKNOWN 'pair view missing'. A state directory that cannot be written costs only the growth",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = carpStatsSettings(ctx.config);
    const views = await readBothHosts(ctx, CARP_STATS_COMMANDS, readCarpStatsHost);
    const current: Partial<Record<Role, Record<string, number>>> = {};
    for (const view of [views.local, views.peer]) {
      if ("missing" in view) continue;
      current[view.role] = Object.fromEntries([...Object.keys(DISAGREEMENT_COUNTERS), TRANSITIONS].map((field) => [field, view.counters[field] ?? 0]));
    }
    const growth = measureCounterGrowth(settings.stateDir, HISTORY_FILE, current, settings.windowSeconds);
    return decideCarpStats({ ...views, growth }, settings);
  },
};

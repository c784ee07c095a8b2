import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, threshold, type Config, type Role } from "../lib/runtime/config.js";
import { ParseError } from "../lib/runtime/errors.js";
import { resultFromFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import { ntpOffsetMs, parseNtpctlAll, type NtpStatus } from "../lib/parse/ntpctl.js";
import type { PerfDatum, Result } from "../lib/runtime/result.js";
import { rangeAlerts, rangeFromConfig, type Range } from "../lib/runtime/thresholds.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";
import { inRoleOrder, outputOf, parsedOn, readBothHosts } from "./both-hosts.js";

/** [checks.ntp] */
const settingsSchema = v.strictObject({
  // |offset| in ms (alert above); unset: the offset is perfdata only.
  warning: v.optional(threshold),
  critical: v.optional(threshold),
  // The address the secondary's ntpd should follow (the primary's on the pfsync network); unset: not checked.
  secondary_source: v.optional(v.pipe(v.string(), v.minLength(1))),
});

export interface NtpSettings {
  readonly offsetWarning?: Range;
  readonly offsetCritical?: Range;
  readonly secondarySource?: string;
}

export function ntpSettings(config: Config, warning?: Range, critical?: Range): NtpSettings {
  const section = checkSettings(config, check.name, settingsSchema);
  const offsetWarning = warning ?? (section.warning === undefined ? undefined : rangeFromConfig(section.warning, "warning"));
  const offsetCritical = critical ?? (section.critical === undefined ? undefined : rangeFromConfig(section.critical, "critical"));
  return {
    ...(offsetWarning ? { offsetWarning } : {}),
    ...(offsetCritical ? { offsetCritical } : {}),
    ...(section.secondary_source === undefined ? {} : { secondarySource: section.secondary_source }),
  };
}

/** One host's ntpd: its status, or that it is not running (ntpctl could not reach its socket). */
export type NtpHostView = { readonly role: Role; readonly running: true; readonly status: NtpStatus } | { readonly role: Role; readonly running: false; readonly said: string };

export const NTP_COMMANDS: readonly HostCommand[] = [{ argv: ["/usr/sbin/ntpctl", "-s", "all"] }];

// ntpctl.c: err(1, "connect: %s", sockname) when ntpd's control socket is not there or not listening.
const NOT_RUNNING = /connect: \/var\/run\/ntpd\.sock/;

export function readNtpHost(role: Role, answers: readonly CommandResult[]): NtpHostView {
  const [ntpctl] = answers;
  if (!ntpctl) throw new ParseError(`${role}'s ntpctl output`, "missing");
  if (ntpctl.exitCode !== 0 && NOT_RUNNING.test(ntpctl.stderr)) return { role, running: false, said: ntpctl.stderr.trim().split("\n")[0] ?? "" };
  return { role, running: true, status: parsedOn(role, () => parseNtpctlAll(outputOf(role, ntpctl))) };
}

export interface NtpFacts {
  readonly local: NtpHostView;
  readonly peer: NtpHostView | PeerViewMissing;
}

function offsetText(offset: number | null): string {
  return offset === null ? "offset not shown" : `offset ${offset.toFixed(3)} ms`;
}

function hostFindings(view: NtpHostView, settings: NtpSettings): Finding[] {
  if (!view.running) {
    return [{ status: "CRITICAL", summary: `ntpd not running on ${view.role}`, detail: `${view.role}: ntpctl cannot reach ntpd (${view.said}): the clock drifts (rcctl check ntpd)` }];
  }
  const { status } = view;
  const findings: Finding[] = [];
  if (!status.synced) {
    findings.push({
      status: "CRITICAL",
      summary: `clock not synced on ${view.role}`,
      detail: `${view.role}: ntpctl says "${status.statusLine}"${view.role === "secondary" ? " (the secondary follows the primary's ntpd over the pfsync network: is it serving?)" : ""}`,
    });
  }
  const offset = ntpOffsetMs(status);
  if (status.synced && offset !== null) {
    const magnitude = Math.abs(offset);
    const level =
      settings.offsetCritical && rangeAlerts(settings.offsetCritical, magnitude) ? "CRITICAL" : settings.offsetWarning && rangeAlerts(settings.offsetWarning, magnitude) ? "WARNING" : undefined;
    if (level !== undefined) findings.push({ status: level, summary: `clock offset ${offset.toFixed(1)} ms on ${view.role}`, detail: `${view.role}: ${offsetText(offset)} from its selected source` });
  }
  if (view.role === "secondary" && settings.secondarySource !== undefined && status.synced) {
    const selected = status.sources.find((source) => source.selected);
    const wanted = settings.secondarySource;
    if (!selected || selected.name.split(/\s+/)[0] !== wanted) {
      findings.push({
        status: "WARNING",
        summary: `secondary's clock follows ${selected?.name.split(/\s+/)[0] ?? "no source"}, not ${wanted}`,
        detail: `secondary: ntpd follows ${selected?.name ?? "no marked source"}; secondary_source is ${wanted}`,
      });
    }
  }
  return findings;
}

function hostLine(view: NtpHostView): string {
  if (!view.running) return `${view.role}: ntpd not running`;
  const selected = view.status.sources.find((source) => source.selected);
  return `${view.role}: ${view.status.statusLine}; ${offsetText(ntpOffsetMs(view.status))}${selected ? ` from ${selected.name}` : ""}`;
}

function perfdataOf(views: readonly NtpHostView[], settings: NtpSettings): PerfDatum[] {
  return views.flatMap((view): PerfDatum[] => {
    const offset = view.running ? ntpOffsetMs(view.status) : null;
    const stratum = view.running ? view.status.stratum : null;
    return [
      {
        label: `offset_${view.role}`,
        value: offset === null ? "U" : offset / 1000,
        uom: "s",
        ...(settings.offsetWarning ? { warn: settings.offsetWarning.text } : {}),
        ...(settings.offsetCritical ? { crit: settings.offsetCritical.text } : {}),
      },
      { label: `stratum_${view.role}`, value: stratum ?? "U", min: 0, max: 16 },
    ];
  });
}

/** Facts -> Result: ntpd runs and has synced the clock on both hosts. */
export function decideNtp(facts: NtpFacts, settings: NtpSettings): Result {
  const views = inRoleOrder("missing" in facts.peer ? [facts.local] : [facts.local, facts.peer]);
  const findings = views.flatMap((view) => hostFindings(view, settings));
  const context = views.map(hostLine);
  const perfdata = perfdataOf(views, settings);
  if ("missing" in facts.peer) return withoutPeerView(findings, facts.peer, facts.local.role, context, perfdata);
  const strata = views.map((view) => `${view.role} ${view.running ? String(view.status.stratum ?? "?") : "-"}`).join(", ");
  return resultFromFindings(findings, `clock synced on both hosts, stratum ${strata}`, context, perfdata);
}

export const check: CheckDefinition = {
  name: "ntp",
  title: "ntpd runs and has synced the clock on both gateways",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: /usr/sbin/ntpctl -s all (the `-s status` line: clock synced and its stratum; the peers: the offset of the one the clock follows)",
    "config [checks.ntp]: warning, critical (|offset| in ms; unset: perfdata only), secondary_source (the address the secondary's ntpd should follow; unset: not checked)",
  ],
  thresholds: "the absolute clock offset in milliseconds, alerting above: -w 100 -c 1000 (Nagios ranges) override warning and critical; without either the offset is perfdata only",
  states: {
    OK: "ntpd runs on both hosts and says `clock synced`; stratum and offset are perfdata (offset in seconds)",
    WARNING: "the offset is above the warning, or the secondary's ntpd follows another source than secondary_source",
    CRITICAL:
      "ntpd is not running on a host (ntpctl cannot connect to /var/run/ntpd.sock), or a host's clock is not synced (on the secondary, which takes its time from the primary over the pfsync network, look at the primary's ntpd first), or the offset is above the critical",
    UNKNOWN:
      "ntpctl fails otherwise or prints what the parser does not understand (the host and line are named), bad config, or the deadline expired. With the peer unreachable, this host's own faults give their status with 'pair view missing: <reason>'; with none, UNKNOWN 'pair view missing'",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = ntpSettings(ctx.config, ctx.warning, ctx.critical);
    return decideNtp(await readBothHosts(ctx, NTP_COMMANDS, readNtpHost), settings);
  },
};

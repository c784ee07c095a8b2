import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, threshold, wholeCount } from "../lib/runtime/config.js";
import { commandFailed, HostError } from "../lib/runtime/errors.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { parseMailQueue, parseSmtpdStatus, summarizeQueue, type QueuedEnvelope, type QueueSummary } from "../lib/parse/smtpctl.js";
import type { Result } from "../lib/runtime/result.js";
import { lastLine, type CommandResult, type HostCommand } from "../lib/transport/shell.js";
import { rangeAlerts, rangeFromConfig, type Range } from "../lib/runtime/thresholds.js";

/** [checks.mailq] */
export const settingsSchema = v.strictObject({
  warning: v.optional(threshold, 50),
  critical: v.optional(threshold, 500),
  age_warning: v.optional(wholeCount, 3600),
  age_critical: v.optional(wholeCount, 86400),
});

// `show status` only answers through smtpd's control socket; `show queue` falls back to reading the
// spool when smtpd is down, and prints nothing for an empty queue either way. Asking both tells an
// empty queue of a running smtpd from one of a dead smtpd.
const SHOW_STATUS: HostCommand = { argv: ["/usr/sbin/smtpctl", "show", "status"] };
const SHOW_QUEUE: HostCommand = { argv: ["/usr/sbin/smtpctl", "show", "queue"] };

/** The queue as this host's smtpctl showed it. */
export interface MailQueueView {
  /** false: no control socket answered, the queue was read from the spool (runstate `offline`). */
  readonly smtpdRunning: boolean;
  /** The parts of smtpd paused with `smtpctl pause mda|mta|smtp`. */
  readonly paused: readonly string[];
  readonly envelopes: readonly QueuedEnvelope[];
  readonly summary: QueueSummary;
}

export interface MailqThresholds {
  readonly countWarning: Range;
  readonly countCritical: Range;
  /** Seconds: the oldest message may be this old; older alerts. */
  readonly ageWarning: number;
  readonly ageCritical: number;
}

const NOT_RUNNING = /doesn't seem to be running/;

function cannotAsk(answer: CommandResult): HostError {
  const said = lastLine(answer.stderr) || lastLine(answer.stdout);
  if (/need root privileges/.test(said)) return new HostError("cannot ask smtpd: smtpctl needs root privileges", said);
  return commandFailed(answer.command, undefined, answer.stderr.trim() === "" ? { ...answer, stderr: answer.stdout } : answer);
}

/**
 * The answers to `smtpctl show status` and `smtpctl show queue`. smtpd not running is a finding (the
 * queue is still read from disk); smtpctl that cannot run at all, or says what the parsers cannot
 * read, is an error: the check could not look.
 */
export function readMailQueue(status: CommandResult, queue: CommandResult, nowEpochSeconds: number): MailQueueView {
  let smtpdRunning = true;
  let paused: string[] = [];
  if (status.exitCode === 0) {
    const parts = parseSmtpdStatus(status.stdout);
    paused = (["mda", "mta", "smtp"] as const).filter((part) => parts[part] === "paused").map((part) => part.toUpperCase());
  } else if (NOT_RUNNING.test(status.stderr)) {
    smtpdRunning = false;
  } else {
    throw cannotAsk(status);
  }
  if (queue.exitCode !== 0) throw cannotAsk(queue);
  const envelopes = parseMailQueue(queue.stdout, nowEpochSeconds);
  return { smtpdRunning, paused, envelopes, summary: summarizeQueue(envelopes, nowEpochSeconds) };
}

export function thresholdsFrom(settings: v.InferOutput<typeof settingsSchema>, warning: Range | undefined, critical: Range | undefined): MailqThresholds {
  return {
    countWarning: warning ?? rangeFromConfig(settings.warning, "[checks.mailq] warning"),
    countCritical: critical ?? rangeFromConfig(settings.critical, "[checks.mailq] critical"),
    ageWarning: settings.age_warning,
    ageCritical: settings.age_critical,
  };
}

/** 42s, 5m 02s, 3h 12m, 2d 4h: short, for a summary line. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

function messages(count: number): string {
  return `${count} message${count === 1 ? "" : "s"}`;
}

/** The oldest envelopes first, one line each: who to whom, how old, how often tried, the last error. */
function envelopeLines(envelopes: readonly QueuedEnvelope[], nowEpochSeconds: number, max: number): string[] {
  const oldest = [...envelopes].sort((a, b) => a.createdEpoch - b.createdEpoch || (a.id < b.id ? -1 : 1)).slice(0, max);
  return oldest.map((e) => {
    const flags = e.flags.length > 0 ? ` [${e.flags.join(",")}]` : "";
    const error = e.error !== "" ? `: ${e.error}` : "";
    return `${e.id} ${e.sender} -> ${e.recipient}, ${formatAge(nowEpochSeconds - e.createdEpoch)} old, ${e.retry} tr${e.retry === 1 ? "y" : "ies"}, ${e.runstate}${flags}${error}`;
  });
}

const SHOWN_ENVELOPES = 3;

export function decideMailq(view: MailQueueView, thresholds: MailqThresholds, nowEpochSeconds: number): Result {
  const { count, oldestAgeSeconds } = view.summary;
  const oldest = oldestAgeSeconds ?? 0;
  const findings: Finding[] = [];
  if (!view.smtpdRunning) {
    findings.push({
      status: "CRITICAL",
      summary: `smtpd not running, ${messages(count)} queued`,
      detail: "smtpd not running: smtpctl read the queue from the spool (nothing is delivered until smtpd runs)",
    });
  }
  if (rangeAlerts(thresholds.countCritical, count)) {
    findings.push({ status: "CRITICAL", summary: `${messages(count)} queued (critical ${thresholds.countCritical.text})` });
  } else if (rangeAlerts(thresholds.countWarning, count)) {
    findings.push({ status: "WARNING", summary: `${messages(count)} queued (warning ${thresholds.countWarning.text})` });
  }
  if (oldestAgeSeconds !== null && oldest > thresholds.ageCritical) {
    findings.push({ status: "CRITICAL", summary: `oldest message ${formatAge(oldest)} old (critical ${formatAge(thresholds.ageCritical)})` });
  } else if (oldestAgeSeconds !== null && oldest > thresholds.ageWarning) {
    findings.push({ status: "WARNING", summary: `oldest message ${formatAge(oldest)} old (warning ${formatAge(thresholds.ageWarning)})` });
  }
  if (view.paused.length > 0) {
    findings.push({
      status: "WARNING",
      summary: `smtpd ${view.paused.join(", ")} paused`,
      detail: `smtpd ${view.paused.join(", ")} paused (smtpctl resume ${view.paused.map((p) => p.toLowerCase()).join(" / ")})`,
    });
  }
  const okSummary = count === 0 ? "mail queue empty" : `${messages(count)} queued, oldest ${formatAge(oldest)}`;
  const context = [...envelopeLines(view.envelopes, nowEpochSeconds, SHOWN_ENVELOPES), ...(count > SHOWN_ENVELOPES ? [`... and ${count - SHOWN_ENVELOPES} more (smtpctl show queue)`] : [])];
  return resultFromFindings(findings, okSummary, context, [
    { label: "messages", value: count, warn: thresholds.countWarning.text, crit: thresholds.countCritical.text, min: 0 },
    { label: "oldest_age", value: oldest, uom: "s", warn: String(thresholds.ageWarning), crit: String(thresholds.ageCritical), min: 0 },
  ]);
}

export const check: CheckDefinition = {
  name: "mailq",
  title: "the local mail queue is short and nothing in it is old",
  roles: ["primary", "secondary"],
  usesPeer: false,
  reads: [
    "this host only (each gateway's monit checks its own queue): /usr/sbin/smtpctl show status and /usr/sbin/smtpctl show queue, in one round trip",
    "[checks.mailq] warning, critical: queued messages (one per recipient, as mailq lists them), a number (alert above it) or a Nagios range; -w/-c override them",
    "[checks.mailq] age_warning, age_critical: seconds the oldest message may wait",
  ],
  thresholds: "-w/-c: number of queued messages (Nagios ranges; default from [checks.mailq] warning = 50, critical = 500); the age of the oldest is set in the config only",
  states: {
    OK: "smtpd runs, the queue is within the count thresholds, and the oldest message is within age_warning (an empty queue is OK)",
    WARNING: "the count passes the warning range, the oldest message is older than age_warning (default 1 h), or a part of smtpd (MDA, MTA, SMTP) is paused",
    CRITICAL: "the count passes the critical range, the oldest message is older than age_critical (default 24 h), or smtpd is not running (its queue read from the spool: nothing is delivered)",
    UNKNOWN: "smtpctl cannot ask smtpd (needs root privileges, fails, or prints what the parser cannot read), bad config or thresholds, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const [status, queue] = await ctx.local.run([SHOW_STATUS, SHOW_QUEUE]);
    if (!status || !queue) throw new HostError("smtpctl gave no answer");
    const now = Math.floor(Date.now() / 1000);
    const thresholds = thresholdsFrom(checkSettings(ctx.config, check.name, settingsSchema), ctx.warning, ctx.critical);
    return decideMailq(readMailQueue(status, queue, now), thresholds, now);
  },
};

// carpentry report: every check for this host's role, run in-process like `carpentry run`, most severe
// first, with all details. Printed for cron (which mails whatever a job prints), or mailed with --mail
// through [mail]; a mailed report stays in the spool until the server has accepted it, so one that
// could not be sent goes out with the next.
import { hostname } from "node:os";
import type { Command } from "commander";
import type { Role } from "../lib/runtime/config.js";
import { composeMessage, sendThroughSpool, spooledMessages, type MailSettings } from "./mail.js";
import { EXIT_CODE, URGENCY, escapeControl, firstLine, worstStatus, type ExitCode, type Status } from "../lib/runtime/result.js";
import { parseTimeoutMs, writeOut, type Outcome } from "../lib/runtime/runner.js";
import { VERSION } from "../lib/runtime/version.js";
import { CHECKS_AT_ONCE, checksForRole, configPathOf, loadOrReport, runChecks } from "./run.js";
import { endOf, lastKnownPeerWindows, maintenanceWindows as maintenanceWindowsKept } from "../lib/runtime/maintenance.js";
import { lookBack, type CarpTransition, type Episode, type LookBack, type MaintenanceWindow, type Series } from "./report-history.js";
import { appendHistory, readHistory, REPORT_MARK } from "../lib/runtime/history.js";
const STATUSES_BY_SEVERITY = (Object.keys(URGENCY) as Status[]).sort((a, b) => URGENCY[a] - URGENCY[b]);

export interface ReportInput {
  readonly role: Role;
  /** this gateway's host name, short form */
  readonly host: string;
  /** in registry order */
  readonly outcomes: readonly Outcome[];
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly configPath: string;
  readonly onlyProblems: boolean;
  /** reports of earlier runs still in the spool, which go out before this one */
  readonly earlierUnsent: number;
  readonly subjectPrefix: string;
  /** What happened since the last report, from this host's history; none when there is no history. */
  readonly lookBack?: LookBack;
  /** The maintenance windows since the last report, on either host, from the maintenance state. */
  readonly maintenanceWindows?: readonly MaintenanceWindow[];
}

export interface Report {
  readonly status: Status;
  /** checks that are not OK */
  readonly problems: number;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Most severe first (URGENCY), the registry's order within a status. */
export function sortForReport(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes
    .map((outcome, index) => ({ outcome, index }))
    .sort((a, b) => URGENCY[a.outcome.result.status] - URGENCY[b.outcome.result.status] || a.index - b.index)
    .map(({ outcome }) => outcome);
}

function countByStatus(outcomes: readonly Outcome[]): Record<Status, number> {
  const counts: Record<Status, number> = { OK: 0, WARNING: 0, CRITICAL: 0, UNKNOWN: 0 };
  for (const outcome of outcomes) counts[outcome.result.status]++;
  return counts;
}

/** "2 CRITICAL, 1 WARNING, 12 OK"; problems only with withOk false. */
export function describeCounts(counts: Readonly<Record<Status, number>>, withOk: boolean): string {
  return STATUSES_BY_SEVERITY.filter((status) => counts[status] > 0 && (withOk || status !== "OK"))
    .map((status) => `${counts[status]} ${status}`)
    .join(", ");
}

/** "[carpentry] primary fw1: 2 CRITICAL, 1 WARNING", or "... all 15 OK". */
export function reportSubject(prefix: string, role: Role, host: string, counts: Readonly<Record<Status, number>>): string {
  const total = STATUSES_BY_SEVERITY.reduce((sum, status) => sum + counts[status], 0);
  const problems = describeCounts(counts, false);
  return `${prefix ? `${prefix} ` : ""}${role} ${host}: ${problems || `all ${total} OK`}`;
}

/** Local time with its offset, as an admin reads the gateway's logs: "2026-11-21 13:40:02 +0100". */
export function formatLocalTime(date: Date): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? "-" : "+";
  const offset = `${sign}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}${pad(Math.abs(offsetMinutes) % 60)}`;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${offset}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);
}

export const HTML_STATUS_COLOURS: Readonly<Record<Status, string>> = { CRITICAL: "#b00020", UNKNOWN: "#7b1fa2", WARNING: "#b26a00", OK: "#2e7d32" };

/** The charts' colours: apart from the statuses', so no bar reads as a verdict. */
export const CHART_COLOURS = { mailQueue: "#1565c0", pfsyncPrimary: "#00838f", pfsyncSecondary: "#ef6c00", zero: "#bdbdbd", track: "#e8eef4" } as const;
/** The tallest bar, and the width of a bar and of the failure timeline, in CSS pixels. */
export const CHART_HEIGHT_PX = 60;
export const BAR_WIDTH_PX = 8;
export const TIMELINE_WIDTH_PX = 480;
const LABEL_WIDTH_PX = 44;

/** "47 min", "3 h 05 min", "2 d 4 h". */
function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? "" : "s"}`;

function transitionText(transition: CarpTransition): string {
  const what = { failover: "failover: the secondary took MASTER", failback: "failback: the primary took MASTER back", change: "MASTER changed" }[transition.kind];
  return `${formatLocalTime(transition.at)}  ${what} (MASTER vhids: primary ${transition.before.primary} -> ${transition.after.primary}, secondary ${transition.before.secondary} -> ${transition.after.secondary})`;
}

function episodeText(episode: Episode, width: number): string {
  const name = `check_${episode.check}`.padEnd(width);
  const when = episode.end
    ? `${formatLocalTime(episode.start)} to ${formatLocalTime(episode.end)} (${formatDuration(episode.durationMs)}), recovered`
    : `since ${formatLocalTime(episode.start)} (${formatDuration(episode.durationMs)}), not OK now`;
  return `${name}  ${episode.worst.padEnd(8)}  ${when}`;
}

function seriesText(name: string, series: Series | undefined): string | undefined {
  return series && `${name} ${series.min} to ${series.max} (now ${series.current})`;
}

/** The look back as lines: the same facts as the HTML's charts. */
function lookBackLines(back: LookBack | undefined, windows: readonly MaintenanceWindow[]): string[] {
  const lines: string[] = [];
  if (!back) {
    // A report built without a history (tests, a caller of its own): nothing to look back on.
  } else if (back.readings === 0) {
    lines.push("Since the last report: no readings (each check adds one to this host's history when it runs: is monit running the checks?)");
  } else {
    lines.push(`${back.fromLastReport ? `Since the last report (${formatLocalTime(back.since)})` : `Since ${formatLocalTime(back.since)} (no earlier report)`}: ${plural(back.readings, "reading")}`);
    lines.push(back.carp.length === 0 ? "CARP: no transition" : `CARP: ${plural(back.carp.length, "transition")}`, ...back.carp.map((transition) => `  ${transitionText(transition)}`));
    if (back.mailQueue) lines.push(`Mail queue: peak ${back.mailQueue.max} at ${formatLocalTime(back.mailQueue.maxAt)}, now ${back.mailQueue.current}`);
    const pfsync = [seriesText("primary", back.pfsyncPrimary), seriesText("secondary", back.pfsyncSecondary)].filter((part) => part !== undefined);
    if (pfsync.length > 0) lines.push(`pfsync states: ${pfsync.join(", ")}`);
    const width = Math.max(0, ...back.episodes.map((episode) => episode.check.length + 6));
    lines.push(back.episodes.length === 0 ? "Checks not OK: none" : "Checks not OK:", ...back.episodes.map((episode) => `  ${episodeText(episode, width)}`));
  }
  if (windows.length > 0) {
    lines.push(
      "Maintenance windows:",
      ...windows.map(
        (window) =>
          `  ${window.host}  ${formatLocalTime(window.start)} to ${formatLocalTime(window.end)} (${formatDuration(window.end.getTime() - window.start.getTime())}): ${escapeControl(window.reason)}`,
      ),
    );
  }
  return lines;
}

function hourLabel(date: Date): string {
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

/**
 * Bars as table cells with inline styles: what mail clients render without images, scripts or
 * style sheets. One column a bucket and series; a reading of 0 a grey hairline, no reading nothing.
 */
function barChart(title: string, back: LookBack, bars: readonly { readonly series: Series; readonly colour: string }[]): string {
  const max = Math.max(1, ...bars.map((bar) => bar.series.max));
  const cells = back.bucketStarts.flatMap((_start, index) =>
    bars.map(({ series, colour }) => {
      const value = series.buckets[index];
      const height = value === undefined ? 0 : value === 0 ? 1 : Math.max(1, Math.round((value / max) * CHART_HEIGHT_PX));
      const bar =
        value === undefined ? "" : `<div style="width:${BAR_WIDTH_PX}px;height:${height}px;background-color:${value === 0 ? CHART_COLOURS.zero : colour};font-size:0;line-height:0">&nbsp;</div>`;
      return `<td style="vertical-align:bottom;height:${CHART_HEIGHT_PX}px;padding:0 1px 0 0">${bar}</td>`;
    }),
  );
  // A label every few buckets: at most 8, each at least LABEL_WIDTH_PX wide, so that none run together.
  const every = Math.max(1, Math.ceil(back.bucketStarts.length / 8), Math.ceil(LABEL_WIDTH_PX / ((BAR_WIDTH_PX + 1) * bars.length)));
  const labels: string[] = [];
  for (let index = 0; index < back.bucketStarts.length; index += every) {
    const span = Math.min(every, back.bucketStarts.length - index) * bars.length;
    const width = span * (BAR_WIDTH_PX + 1);
    // A last cell too narrow for a label stays empty rather than show half of one.
    const label = width >= LABEL_WIDTH_PX ? hourLabel(back.bucketStarts[index] ?? back.since) : "";
    labels.push(`<td colspan="${span}" style="font-size:10px;color:#666;text-align:left;white-space:nowrap;overflow:hidden;width:${width}px;max-width:${width}px">${label}</td>`);
  }
  return [
    `<p style="margin:12px 0 4px 0"><b>${escapeHtml(title)}</b></p>`,
    '<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;border-bottom:1px solid #999">',
    `<tr>${cells.join("")}</tr>`,
    "</table>",
    '<table cellpadding="0" cellspacing="0" style="border-collapse:collapse">',
    `<tr>${labels.join("")}</tr>`,
    "</table>",
  ].join("\n");
}

/** Each run of not-OK results as a bar on the look back's time line, in its worst status's colour. */
function episodeTimeline(back: LookBack): string {
  const span = Math.max(1, back.until.getTime() - back.since.getTime());
  const px = (ms: number): number => Math.round((Math.max(0, ms) / span) * TIMELINE_WIDTH_PX);
  const rows = back.episodes.map((episode) => {
    const left = Math.min(TIMELINE_WIDTH_PX - 2, px(episode.start.getTime() - back.since.getTime()));
    const right = episode.end ? px(episode.end.getTime() - back.since.getTime()) : TIMELINE_WIDTH_PX;
    const width = Math.max(2, Math.min(TIMELINE_WIDTH_PX - left, right - left));
    const colour = HTML_STATUS_COLOURS[episode.worst];
    const said = episode.end ? `${formatDuration(episode.durationMs)}, recovered` : `${formatDuration(episode.durationMs)}, not OK now`;
    return (
      `<tr><td style="padding-right:1em"><code>check_${escapeHtml(episode.check)}</code></td>` +
      `<td style="padding:2px 0"><div style="width:${TIMELINE_WIDTH_PX}px;height:10px;background-color:${CHART_COLOURS.track};font-size:0;line-height:0"><div style="margin-left:${left}px;width:${width}px;height:10px;background-color:${colour};font-size:0;line-height:0">&nbsp;</div></div></td>` +
      `<td style="padding-left:1em;color:${colour}">${episode.worst}</td><td style="padding-left:1em;white-space:nowrap">${escapeHtml(said)}</td></tr>`
    );
  });
  return ['<table cellpadding="0" cellspacing="0" style="border-collapse:collapse">', ...rows, "</table>"].join("\n");
}

function lookBackHtml(back: LookBack | undefined, windows: readonly MaintenanceWindow[]): string {
  const lines = lookBackLines(back, windows);
  if (lines.length === 0) return "";
  const parts = back ? [`<h3>${escapeHtml(lines[0] ?? "")}</h3>`] : [];
  if (back && back.readings > 0) {
    parts.push(`<p>${escapeHtml(back.carp.length === 0 ? "CARP: no transition" : `CARP: ${plural(back.carp.length, "transition")}`)}</p>`);
    if (back.carp.length > 0) parts.push(`<ul>${back.carp.map((transition) => `<li>${escapeHtml(transitionText(transition))}</li>`).join("")}</ul>`);
    if (back.mailQueue)
      parts.push(
        barChart(`Mail queue: peak ${back.mailQueue.max} at ${formatLocalTime(back.mailQueue.maxAt)}, now ${back.mailQueue.current}`, back, [
          { series: back.mailQueue, colour: CHART_COLOURS.mailQueue },
        ]),
      );
    const pfsync = [
      ...(back.pfsyncPrimary ? [{ series: back.pfsyncPrimary, colour: CHART_COLOURS.pfsyncPrimary }] : []),
      ...(back.pfsyncSecondary ? [{ series: back.pfsyncSecondary, colour: CHART_COLOURS.pfsyncSecondary }] : []),
    ];
    if (pfsync.length > 0) {
      const said = [seriesText("primary", back.pfsyncPrimary), seriesText("secondary", back.pfsyncSecondary)].filter((part) => part !== undefined).join(", ");
      parts.push(barChart(`pfsync states${pfsync.length === 2 ? " (each hour: the primary's bar, then the secondary's)" : ""}: ${said}`, back, pfsync));
    }
    parts.push(`<p style="margin:12px 0 4px 0"><b>${back.episodes.length === 0 ? "Checks not OK: none" : "Checks not OK"}</b></p>`);
    if (back.episodes.length > 0) parts.push(episodeTimeline(back));
  }
  if (windows.length > 0) {
    const windowLines = lines.slice(lines.indexOf("Maintenance windows:") + 1);
    parts.push("<p><b>Maintenance windows</b></p>", `<ul>${windowLines.map((line) => `<li>${escapeHtml(line.trim())}</li>`).join("")}</ul>`);
  }
  return parts.join("\n");
}

export function buildReport(input: ReportInput): Report {
  const sorted = sortForReport(input.outcomes);
  const counts = countByStatus(sorted);
  const status = worstStatus(sorted.map((outcome) => outcome.result.status));
  const problems = sorted.length - counts.OK;
  const shown = input.onlyProblems ? sorted.filter((outcome) => outcome.result.status !== "OK") : sorted;
  // A section for every check that is not OK, and for an OK one that has something to say.
  const sections = shown.filter((outcome) => outcome.result.status !== "OK" || outcome.result.details.length > 0);
  const name = (outcome: Outcome): string => `check_${outcome.check}`;
  const nameWidth = Math.max(0, ...shown.map((outcome) => name(outcome).length));
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

  const headline = `${input.host} (${input.role}): ${describeCounts(counts, true) || "no checks"}`;
  const notes = [
    `Checked ${formatLocalTime(input.startedAt)} in ${seconds(input.durationMs)} by carpentry-checks ${VERSION}, config ${input.configPath}.`,
    ...(input.onlyProblems && counts.OK > 0 ? [`Only the checks that are not OK are shown (--only-problems); ${counts.OK} OK.`] : []),
    ...(input.earlierUnsent > 0
      ? [`${input.earlierUnsent} earlier report${input.earlierUnsent === 1 ? "" : "s"} could not be sent at the time and go${input.earlierUnsent === 1 ? "es" : ""} out with this one, oldest first.`]
      : []),
  ];
  const overview = shown.map((outcome) => `${outcome.result.status.padEnd(8)}  ${name(outcome).padEnd(nameWidth)}  ${escapeControl(outcome.result.summary)}`);
  const details = sections.map((outcome) =>
    [`---- ${name(outcome)}: ${outcome.result.status} (${seconds(outcome.durationMs)}) ----`, firstLine(outcome.result), ...outcome.result.details.map((detail) => `  ${escapeControl(detail)}`)].join(
      "\n",
    ),
  );
  const windows = input.maintenanceWindows ?? [];
  const history = lookBackLines(input.lookBack, windows).join("\n");
  const footer = "By hand: /etc/carpentry.monit/check_NAME -v for one check, /etc/carpentry.monit/carpentry run -v for all";
  const text = [[headline, ...notes].join("\n"), overview.join("\n"), history, ...details, footer].filter((block) => block !== "").join("\n\n") + "\n";

  const statusCell = (s: Status): string => `<td style="color:${HTML_STATUS_COLOURS[s]};font-weight:bold;padding-right:1em">${s}</td>`;
  const html = [
    "<!DOCTYPE html>",
    '<html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(headline)}</h2>`,
    ...notes.map((note) => `<p>${escapeHtml(note)}</p>`),
    "<table>",
    ...shown.map(
      (outcome) =>
        `<tr>${statusCell(outcome.result.status)}<td style="padding-right:1em"><code>${escapeHtml(name(outcome))}</code></td><td>${escapeHtml(escapeControl(outcome.result.summary))}</td></tr>`,
    ),
    "</table>",
    lookBackHtml(input.lookBack, windows),
    ...sections.map(
      (outcome) =>
        `<h3><span style="color:${HTML_STATUS_COLOURS[outcome.result.status]}">${outcome.result.status}</span> ${escapeHtml(name(outcome))}</h3>\n<pre>${escapeHtml([firstLine(outcome.result), ...outcome.result.details.map(escapeControl)].join("\n"))}</pre>`,
    ),
    `<p style="color:#666">${escapeHtml(footer)}</p>`,
    "</body></html>",
    "",
  ].join("\n");

  return { status, problems, subject: reportSubject(input.subjectPrefix, input.role, input.host, counts), text, html };
}

/**
 * The maintenance windows since `since`, on either host: this host's own, and the peer's as the checks
 * last learned them. A state file that cannot be read leaves its host's windows out.
 */
function maintenanceWindowsSince(stateDir: string, since: Date | undefined): readonly MaintenanceWindow[] {
  const kept = [maintenanceWindowsKept(stateDir), lastKnownPeerWindows(stateDir)].flatMap((loaded) => ("value" in loaded ? loaded.value : []));
  const seen = new Set<string>();
  return kept
    .filter((window) => since === undefined || endOf(window) >= since)
    .filter((window) => {
      const key = `${window.role} ${window.startedAt}`;
      return !seen.has(key) && seen.add(key);
    })
    .map((window) => ({ host: window.role, start: new Date(window.startedAt), end: endOf(window), reason: window.reason ?? "" }))
    .sort((a, b) => a.start.getTime() - b.start.getTime());
}

function earlierUnsentCount(settings: MailSettings): number {
  try {
    return spooledMessages(settings.spool_dir).length;
  } catch {
    // An unreadable spool is reported by the delivery that follows.
    return 0;
  }
}

/**
 * Mails the report (when there is one) and whatever earlier runs left in the spool. The exit code is
 * the checks' worst status when everything went out, UNKNOWN when anything is left unsent.
 */
async function mailReport(settings: MailSettings, report: Report | undefined, startedAt: Date, checksExitCode: ExitCode): Promise<ExitCode> {
  const raw = report ? await composeMessage(settings, { subject: report.subject, text: report.text, html: report.html, date: startedAt }) : undefined;
  const outcome = await sendThroughSpool(settings, raw);
  const lines: string[] = [];
  if (outcome.failure !== undefined) {
    lines.push(`UNKNOWN: ${report ? "report" : "earlier reports"} not sent: ${outcome.failure}`);
    if (outcome.pending.length > 0) lines.push(`kept in ${settings.spool_dir} (${outcome.pending.length} waiting); sent with the next report, oldest first`);
  }
  if (outcome.spoolFailure !== undefined) {
    lines.push(`${outcome.delivered ? "WARNING: report sent, but" : "the report is NOT kept:"} the spool cannot be used: ${outcome.spoolFailure}`);
  }
  // cron mails what we print: a report that did not go out still reaches someone that way.
  if (report && !outcome.delivered) lines.push("", report.text.trimEnd());
  if (lines.length > 0) writeOut(`${lines.join("\n")}\n`);
  return outcome.failure !== undefined ? EXIT_CODE.UNKNOWN : checksExitCode;
}

interface ReportOptions {
  mail?: boolean;
  onlyProblems?: boolean;
  timeout?: string;
}

export function registerReportCommand(program: Command): void {
  program
    .command("report")
    .description("every check for this host's role with all details, most severe first: printed for cron, or mailed with --mail")
    .option("--mail", "mail it through [mail] instead of printing it; kept in the spool and sent with the next report if the server does not take it")
    .option("--only-problems", "leave out the checks that are OK; nothing at all (no mail) when every check is OK")
    .option("-t, --timeout <seconds>", "deadline for each check", "10")
    .addHelpText(
      "after",
      [
        "",
        "Exit code: the worst status of the checks (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), as for `run`;",
        "with --mail, 3 (UNKNOWN) whenever a report could not be sent: it stays in the spool directory",
        "([mail] spool_dir, default /var/spool/carpentry) and goes out with the next report, and this run",
        "prints it, so cron mails it too. With --mail nothing is printed when everything was sent.",
        "",
        "crontab:  30 7 * * * /etc/carpentry.monit/carpentry report --mail",
      ].join("\n"),
    )
    .action(async (options: ReportOptions) => {
      const configPath = configPathOf(program);
      const config = loadOrReport(configPath, false);
      const timeoutMs = parseTimeoutMs(options.timeout);
      const startedAt = new Date();
      const started = performance.now();
      const outcomes = await runChecks(checksForRole(config), { configPath, config, timeoutMs, verbose: true, keepHistory: true }, CHECKS_AT_ONCE);
      const historyDir = config.report.history_dir;
      const back = lookBack(readHistory(historyDir), new Date());
      const report = buildReport({
        role: config.role,
        host: hostname().split(".")[0] ?? hostname(),
        outcomes,
        startedAt,
        durationMs: performance.now() - started,
        configPath,
        onlyProblems: options.onlyProblems === true,
        earlierUnsent: options.mail ? earlierUnsentCount(config.mail) : 0,
        subjectPrefix: config.mail.subject_prefix,
        lookBack: back,
        maintenanceWindows: maintenanceWindowsSince(config.maintenance.state_dir, back?.since),
      });
      const worthSending = !(options.onlyProblems && report.problems === 0);
      // The next report looks back to here; one that said nothing (--only-problems, all OK) does not
      // count, so what happened since the last one read is still told.
      if (worthSending) appendHistory(historyDir, [{ t: Math.floor(startedAt.getTime() / 1000), c: REPORT_MARK }]);
      const checksExitCode = EXIT_CODE[report.status];
      if (!options.mail) {
        if (worthSending) writeOut(report.text);
        process.exit(checksExitCode);
      }
      process.exit(await mailReport(config.mail, worthSending ? report : undefined, startedAt, checksExitCode));
    });
}

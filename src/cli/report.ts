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

const HTML_COLOURS: Readonly<Record<Status, string>> = { CRITICAL: "#b00020", UNKNOWN: "#7b1fa2", WARNING: "#b26a00", OK: "#2e7d32" };

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
  const footer = "By hand: /etc/carpentry.monit/check_NAME -v for one check, /etc/carpentry.monit/carpentry run -v for all";
  const text = [[headline, ...notes].join("\n"), overview.join("\n"), ...details, footer].filter((block) => block !== "").join("\n\n") + "\n";

  const statusCell = (s: Status): string => `<td style="color:${HTML_COLOURS[s]};font-weight:bold;padding-right:1em">${s}</td>`;
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
    ...sections.map(
      (outcome) =>
        `<h3><span style="color:${HTML_COLOURS[outcome.result.status]}">${outcome.result.status}</span> ${escapeHtml(name(outcome))}</h3>\n<pre>${escapeHtml([firstLine(outcome.result), ...outcome.result.details.map(escapeControl)].join("\n"))}</pre>`,
    ),
    `<p style="color:#666">${escapeHtml(footer)}</p>`,
    "</body></html>",
    "",
  ].join("\n");

  return { status, problems, subject: reportSubject(input.subjectPrefix, input.role, input.host, counts), text, html };
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
      const outcomes = await runChecks(checksForRole(config), { configPath, config, timeoutMs, verbose: true }, CHECKS_AT_ONCE);
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
      });
      const worthSending = !(options.onlyProblems && report.problems === 0);
      const checksExitCode = EXIT_CODE[report.status];
      if (!options.mail) {
        if (worthSending) writeOut(report.text);
        process.exit(checksExitCode);
      }
      process.exit(await mailReport(config.mail, worthSending ? report : undefined, startedAt, checksExitCode));
    });
}

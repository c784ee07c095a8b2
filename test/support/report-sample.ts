// A day of a primary's history, made up but shaped like a real one: a failover at 14:02 and the
// failback at 14:40, the mail queue piling up while the secondary relayed, pfsync's states over the
// day, check_mailq CRITICAL for a while, check_dns not OK now, and a maintenance window. The report
// built from it is what the Chromium test looks at and what docs/report.png shows.
import { buildReport, type Report } from "../../src/cli/report.js";
import { lookBack, type LookBack } from "../../src/cli/report-history.js";
import { REPORT_MARK, type HistoryLine } from "../../src/lib/runtime/history.js";
import { result } from "../../src/lib/runtime/result.js";

const HOUR_S = 3600;
/** Local 07:30 on 2026-11-21: when cron sends the report. */
const SAMPLE_NOW = new Date(2026, 10, 21, 7, 30, 0);
const LAST_REPORT_S = SAMPLE_NOW.getTime() / 1000 - 24 * HOUR_S;
/** The mail queue's highest reading each hour since the last report (24 hours). */
export const SAMPLE_MAIL_QUEUE: readonly number[] = [0, 0, 0, 1, 0, 2, 3, 5, 12, 40, 96, 120, 64, 18, 4, 0, 0, 1, 0, 0, 0, 2, 0, 0];
/** pfsync states on the primary each hour; the secondary's are 1% fewer. */
export const SAMPLE_STATES: readonly number[] = [900, 850, 820, 800, 1200, 2100, 3300, 4200, 4600, 4800, 4700, 4500, 4400, 4300, 4100, 3600, 2900, 2000, 1500, 1200, 1000, 950, 920, 900];

function sampleLines(): HistoryLine[] {
  const lines: HistoryLine[] = [{ t: LAST_REPORT_S, c: REPORT_MARK }];
  for (let hour = 0; hour < 24; hour++) {
    const t = LAST_REPORT_S + hour * HOUR_S + 600;
    const queue = SAMPLE_MAIL_QUEUE[hour] ?? 0;
    lines.push({ t, c: "mailq", s: queue >= 100 ? "CRITICAL" : queue >= 50 ? "WARNING" : "OK", p: { messages: queue } });
    const states = SAMPLE_STATES[hour] ?? 0;
    lines.push({ t: t + 60, c: "pfsync", s: "OK", p: { states_primary: states, states_secondary: Math.round(states * 0.99) } });
    lines.push({ t: t + 120, c: "carp", s: "OK", p: { primary_masters: 1, secondary_masters: 0 } });
  }
  const at = (hours: number, minutes: number): number => LAST_REPORT_S + hours * HOUR_S + minutes * 60;
  lines.push({ t: at(6, 32), c: "carp", s: "WARNING", p: { primary_masters: 0, secondary_masters: 1 } });
  lines.push({ t: at(7, 10), c: "carp", s: "OK", p: { primary_masters: 1, secondary_masters: 0 } });
  lines.push({ t: at(23, 40), c: "dns", s: "WARNING" });
  return lines.sort((a, b) => a.t - b.t);
}

export function sampleLookBack(): LookBack {
  return lookBack(sampleLines(), SAMPLE_NOW);
}

export function sampleReport(): Report {
  const back = sampleLookBack();
  const outcome = (check: string, res: ReturnType<typeof result>): { check: string; result: ReturnType<typeof result>; durationMs: number; host: string } => ({
    check,
    result: res,
    durationMs: 140,
    host: "fw1",
  });
  return buildReport({
    role: "primary",
    host: "fw1",
    outcomes: [
      outcome("peer", result("OK", "secondary 192.168.110.102 answers over SSH in 38 ms")),
      outcome("carp", result("OK", "carp203 vhid 203: MASTER on primary, BACKUP on secondary")),
      outcome("pfsync", result("OK", "states primary 900, secondary 891; counters steady")),
      outcome("mailq", result("OK", "0 messages queued")),
      outcome("dns", result("WARNING", "gw.example.org answered in 1.8 s (warning 1 s)", ["gw.example.org A 192.0.2.10 in 1812 ms"])),
    ],
    startedAt: SAMPLE_NOW,
    durationMs: 2900,
    configPath: "/etc/carpentry.monit/carpentry.toml",
    onlyProblems: false,
    earlierUnsent: 0,
    subjectPrefix: "[carpentry]",
    lookBack: back,
    maintenanceWindows: [{ host: "secondary", start: new Date(2026, 10, 20, 21, 0, 0), end: new Date(2026, 10, 20, 22, 15, 0), reason: "upgrade to 7.9" }],
  });
}

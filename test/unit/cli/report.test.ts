// carpentry report: the text and HTML built from outcomes, and the mail spool against a real SMTP
// server on 127.0.0.1 (test/support/smtp-sink.ts): kept until accepted, sent oldest first, nothing lost.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildReport, describeCounts, formatLocalTime, reportSubject, sortForReport, type ReportInput } from "../../../src/cli/report.js";
import { ALL_CHECKS } from "../../../src/checks/index.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { composeMessage, sendThroughSpool, spooledMessages, spoolMessage, type MailSettings } from "../../../src/cli/mail.js";
import { result, type Result, type Status } from "../../../src/lib/runtime/result.js";
import type { Outcome } from "../../../src/lib/runtime/runner.js";
import { readMailbox, startSmtpSink, type SmtpSink } from "../../support/smtp-sink.js";

const outcome = (check: string, res: Result, durationMs = 120): Outcome => ({ check, result: res, durationMs, host: "fw1" });

// In registry order, as runChecks returns them.
const OUTCOMES: readonly Outcome[] = [
  outcome("peer", result("OK", "secondary 10.0.0.2 answers over SSH in 41 ms", [], [{ label: "ssh_time", value: 41, uom: "ms", min: 0 }])),
  outcome("carp", result("CRITICAL", "vhid 1 (carp0) is MASTER on both hosts", ["carp0 vhid 1: primary MASTER, secondary MASTER"])),
  outcome("pfsync", result("WARNING", "state counts differ by 9%", ["primary 1284 states", "secondary 1170 states"])),
  outcome("mailq", result("UNKNOWN", "cannot parse smtpctl show queue line 2", ['unexpected field count: "garbage\x1b[2J"'])),
  outcome("dns", result("OK", "3 names resolve through 127.0.0.1", ["example.org A 192.0.2.1"])),
  outcome("pf_tables", result("CRITICAL", "table badhosts differs: 2 only on primary", ["only on primary: 192.0.2.7", "only on primary: 192.0.2.8"])),
  outcome("installed", result("OK", "11 files in place, carpentry running")),
];

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    role: "primary",
    host: "fw1",
    outcomes: OUTCOMES,
    startedAt: new Date(2026, 10, 21, 7, 30, 0),
    durationMs: 3200,
    configPath: "/etc/carpentry.monit/carpentry.toml",
    onlyProblems: false,
    earlierUnsent: 0,
    subjectPrefix: "[carpentry]",
    ...overrides,
  };
}

const statusOfOverviewLine = (line: string): string => line.split(/\s+/)[0] ?? "";

describe("the report", () => {
  it("lists the most severe first: CRITICAL, UNKNOWN, WARNING, OK, registry order within a status", () => {
    expect(sortForReport(OUTCOMES).map((o) => o.check)).toEqual(["carp", "pf_tables", "mailq", "pfsync", "peer", "dns", "installed"]);
  });

  it("says the counts in the subject, problems only, or that all is OK", () => {
    const counts: Record<Status, number> = { CRITICAL: 2, UNKNOWN: 1, WARNING: 1, OK: 3 };
    expect(reportSubject("[carpentry]", "primary", "fw1", counts)).toBe("[carpentry] primary fw1: 2 CRITICAL, 1 UNKNOWN, 1 WARNING");
    expect(reportSubject("", "secondary", "fw2", { CRITICAL: 0, UNKNOWN: 0, WARNING: 0, OK: 7 })).toBe("secondary fw2: all 7 OK");
    expect(describeCounts(counts, true)).toBe("2 CRITICAL, 1 UNKNOWN, 1 WARNING, 3 OK");
  });

  it("has a headline, an overview by severity, then every problem with all its details", () => {
    const report = buildReport(input());
    expect(report.status).toBe("UNKNOWN");
    expect(report.problems).toBe(4);
    expect(report.subject).toBe("[carpentry] primary fw1: 2 CRITICAL, 1 UNKNOWN, 1 WARNING");
    const [head, overview, ...sections] = report.text.split("\n\n");
    expect(head?.split("\n")).toEqual([
      "fw1 (primary): 2 CRITICAL, 1 UNKNOWN, 1 WARNING, 3 OK",
      `Checked ${formatLocalTime(new Date(2026, 10, 21, 7, 30, 0))} in 3.2 s by carpentry-checks dev, config /etc/carpentry.monit/carpentry.toml.`,
    ]);
    expect(overview?.split("\n")).toEqual([
      "CRITICAL  check_carp       vhid 1 (carp0) is MASTER on both hosts",
      "CRITICAL  check_pf_tables  table badhosts differs: 2 only on primary",
      "UNKNOWN   check_mailq      cannot parse smtpctl show queue line 2",
      "WARNING   check_pfsync     state counts differ by 9%",
      "OK        check_peer       secondary 10.0.0.2 answers over SSH in 41 ms",
      "OK        check_dns        3 names resolve through 127.0.0.1",
      "OK        check_installed  11 files in place, carpentry running",
    ]);
    // Problems, and the OK check that has details; not the OK checks with nothing more to say.
    expect(sections.map((section) => section.split("\n")[0])).toEqual([
      "---- check_carp: CRITICAL (0.1 s) ----",
      "---- check_pf_tables: CRITICAL (0.1 s) ----",
      "---- check_mailq: UNKNOWN (0.1 s) ----",
      "---- check_pfsync: WARNING (0.1 s) ----",
      "---- check_dns: OK (0.1 s) ----",
      "By hand: /etc/carpentry.monit/check_NAME -v for one check, /etc/carpentry.monit/carpentry run -v for all",
    ]);
    expect(sections[1]).toBe("---- check_pf_tables: CRITICAL (0.1 s) ----\nCRITICAL: table badhosts differs: 2 only on primary\n  only on primary: 192.0.2.7\n  only on primary: 192.0.2.8");
    // Control characters from command output never reach the mail as such.
    // eslint-disable-next-line no-control-regex -- no terminal escape (ESC) may reach a mail
    expect(report.text).not.toMatch(/\x1b/);
    expect(sections[2]).toContain('  unexpected field count: "garbage\\x1b[2J"');
  });

  it("--only-problems leaves out the OK checks and says how many", () => {
    const report = buildReport(input({ onlyProblems: true, earlierUnsent: 2 }));
    const [head, overview] = report.text.split("\n\n");
    expect(head).toContain("Only the checks that are not OK are shown (--only-problems); 3 OK.");
    expect(head).toContain("2 earlier reports could not be sent at the time and go out with this one, oldest first.");
    expect(overview?.split("\n").map(statusOfOverviewLine)).toEqual(["CRITICAL", "CRITICAL", "UNKNOWN", "WARNING"]);
    expect(report.text).not.toContain("check_dns");
  });

  it("has an HTML alternative with the same content, escaped", () => {
    const report = buildReport(input({ outcomes: [outcome("carp", result("CRITICAL", "a <b> & c", ["<script>x</script>"]))] }));
    expect(report.html).toContain("a &lt;b&gt; &amp; c");
    expect(report.html).toContain("&lt;script&gt;x&lt;/script&gt;");
    expect(report.html).not.toContain("<script>");
  });
});

describe("the mail spool", () => {
  let dir: string;
  let sink: SmtpSink;
  let settings: MailSettings;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "carpentry-report-test-"));
    sink = await startSmtpSink(join(dir, "mailbox"));
    settings = parseConfig(
      [
        `role = "primary"`,
        "[peer]",
        `host = "secondary"`,
        "[mail]",
        `to = ["admin@example.net", "ops@example.net"]`,
        `from = "fw1 <carpentry@fw1.example.net>"`,
        `smtp_port = ${sink.port}`,
        `spool_dir = "${join(dir, "spool")}"`,
        "timeout = 3",
      ].join("\n"),
      "test.toml",
      { all: ALL_CHECKS },
    ).mail;
  });

  afterEach(async () => {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const compose = (subject: string): Promise<Buffer> => composeMessage(settings, { subject, text: `${subject}\nline two\n`, html: `<p>${subject}</p>` });

  it("keeps a report in a private file until the server accepted it", async () => {
    const file = spoolMessage(settings.spool_dir, await compose("one"));
    expect(statSync(settings.spool_dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(spooledMessages(settings.spool_dir)).toEqual([file]);
    // a half-written report (the temp file before its rename) is never sent
    writeFileSync(join(settings.spool_dir, ".000000000000001-1-deadbeef.eml.tmp"), "partial");

    const outcome = await sendThroughSpool(settings, undefined);
    expect(outcome).toEqual({ delivered: true, earlierSent: 1, pending: [] });
    expect(readdirSync(settings.spool_dir)).toEqual([".000000000000001-1-deadbeef.eml.tmp"]);
    const [mail, ...more] = readMailbox(sink.mailbox);
    expect(more).toHaveLength(0);
    expect(mail?.subject).toBe("one");
    expect(mail?.text).toBe("one\nline two\n");
    expect(mail?.html).toBe("<p>one</p>");
    expect(mail?.envelopeFrom).toBe("carpentry@fw1.example.net");
    expect(mail?.envelopeTo).toEqual(["admin@example.net", "ops@example.net"]);
    expect(mail?.headers.get("auto-submitted")).toBe("auto-generated");
  });

  it("SMTP down: the report stays in the spool; the next run sends both, oldest first", async () => {
    const port = sink.port;
    await sink.close();
    const failed = await sendThroughSpool(settings, await compose("first"));
    expect(failed.delivered).toBe(false);
    expect(failed.failure).toMatch(new RegExp(`^127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    expect(failed.pending).toHaveLength(1);
    expect(spooledMessages(settings.spool_dir)).toEqual(failed.pending);

    sink = await startSmtpSink(join(dir, "mailbox"), port);
    const sent = await sendThroughSpool(settings, await compose("second"));
    expect(sent).toEqual({ delivered: true, earlierSent: 1, pending: [] });
    expect(readMailbox(sink.mailbox).map((mail) => mail.subject)).toEqual(["first", "second"]);
    expect(spooledMessages(settings.spool_dir)).toEqual([]);
  });

  it("a server that refuses the message: kept, and the failure names the server's answer", async () => {
    await sink.close();
    const refusing = new SMTPServer({ authOptional: true, disabledCommands: ["STARTTLS"], logger: false, onRcptTo: (_address, _session, callback) => callback(new Error("mailbox unavailable")) });
    await new Promise<void>((resolve) => refusing.listen(sink.port, "127.0.0.1", () => resolve()));
    try {
      const outcome = await sendThroughSpool(settings, await compose("refused"));
      expect(outcome.delivered).toBe(false);
      expect(outcome.failure).toContain("mailbox unavailable");
      expect(spooledMessages(settings.spool_dir)).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
      sink = await startSmtpSink(join(dir, "mailbox"));
    }
  });

  it("sendmail_path: the local sendmail gets the message and the envelope; its failure keeps the report", async () => {
    const sendmail = join(dir, "sendmail");
    writeFileSync(sendmail, `#!/bin/sh\n[ -e ${dir}/refuse ] && { echo "smtpctl: cannot enqueue" >&2; exit 75; }\necho "$@" > ${dir}/argv\ncat > ${dir}/stdin\n`, { mode: 0o755 });
    const local = { ...settings, sendmail_path: sendmail };
    writeFileSync(join(dir, "refuse"), "");
    const refused = await sendThroughSpool(local, await compose("queued"));
    expect(refused.delivered).toBe(false);
    expect(refused.failure).toBe(`${sendmail}: ESENDMAIL: sendmail exited with code 75: smtpctl: cannot enqueue`);
    rmSync(join(dir, "refuse"));

    expect(await sendThroughSpool(local, undefined)).toEqual({ delivered: true, earlierSent: 1, pending: [] });
    // -i: a line with a single dot does not end the message; --: no address is read as an option.
    expect(readFileSync(join(dir, "argv"), "utf8")).toBe("-i -f carpentry@fw1.example.net -- admin@example.net ops@example.net\n");
    const queued = readFileSync(join(dir, "stdin"), "utf8");
    expect(queued).toContain("Subject: queued");
    expect(queued).not.toContain("\r\n");
    expect(readMailbox(sink.mailbox)).toEqual([]);
  });

  it("sendmail_path: OpenBSD's silent exit 75 (queued offline until smtpd starts) is accepted, once", async () => {
    const sendmail = join(dir, "sendmail");
    // What smtpctl's enqueue does with smtpd down: the message into the offline queue, exit EX_TEMPFAIL.
    writeFileSync(sendmail, `#!/bin/sh\ncat >> ${dir}/offline\nexit 75\n`, { mode: 0o755 });
    const offline = { ...settings, sendmail_path: sendmail };
    expect(await sendThroughSpool(offline, await compose("while smtpd is down"))).toEqual({ delivered: true, earlierSent: 0, pending: [] });
    expect(await sendThroughSpool(offline, undefined)).toEqual({ delivered: true, earlierSent: 0, pending: [] });
    expect(readFileSync(join(dir, "offline"), "utf8").match(/^Subject: .*$/gm)).toEqual(["Subject: while smtpd is down"]);
  });

  it("sendmail_path: a sendmail that hangs is killed after [mail] timeout and the report kept", async () => {
    const sendmail = join(dir, "sendmail");
    writeFileSync(sendmail, `#!/bin/sh\necho $$ > ${dir}/pid\nexec sleep 60\n`, { mode: 0o755 });
    const hung = { ...settings, sendmail_path: sendmail, timeout: 0.5 };
    const startedAt = Date.now();
    const outcome = await sendThroughSpool(hung, await compose("stuck"));
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(outcome.delivered).toBe(false);
    expect(outcome.failure).toBe(`${sendmail}: ETIMEDOUT: sendmail did not finish within 0.5 s, killed`);
    expect(outcome.pending).toHaveLength(1);
    const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
    expect(() => process.kill(pid, 0), "the hung sendmail is gone").toThrow();
  });

  it("sendmail_path: an address sendmail would read as an option is refused before it runs", async () => {
    const sendmail = join(dir, "sendmail");
    writeFileSync(sendmail, `#!/bin/sh\ntouch ${dir}/ran\n`, { mode: 0o755 });
    const outcome = await sendThroughSpool({ ...settings, sendmail_path: sendmail, to: "-oQ/tmp/x@example.net" }, await compose("odd"));
    expect(outcome.delivered).toBe(false);
    expect(outcome.failure).toBe(`${sendmail}: EENVELOPE: no recipient, or an address that starts with '-'`);
    expect(existsSync(join(dir, "ran"))).toBe(false);
  });

  it("two runs at once (cron's and the admin's): every report goes out once", async () => {
    spoolMessage(settings.spool_dir, await compose("left over"));
    const [first, second] = await Promise.all([sendThroughSpool(settings, await compose("cron")), sendThroughSpool(settings, await compose("by hand"))]);
    expect(first.delivered && second.delivered).toBe(true);
    expect(first.earlierSent + second.earlierSent).toBe(1);
    expect(
      readMailbox(sink.mailbox)
        .map((mail) => mail.subject)
        .sort(),
    ).toEqual(["by hand", "cron", "left over"]);
    expect(readdirSync(settings.spool_dir)).toEqual([]);
  });

  it("a lock left by a run that died is broken; one held by a live run is waited for, then named", async () => {
    mkdirSync(settings.spool_dir, { mode: 0o700 });
    const dead = spawnSync("/bin/true").pid;
    writeFileSync(join(settings.spool_dir, ".sending"), `${dead}\n`);
    expect(await sendThroughSpool(settings, await compose("after a crash"))).toEqual({ delivered: true, earlierSent: 0, pending: [] });
    expect(readdirSync(settings.spool_dir)).toEqual([]);
    // Two hours old, with a live pid: a run that died before a reboot, its pid since taken by another process.
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    writeFileSync(join(settings.spool_dir, ".sending"), `${process.ppid}\n`);
    utimesSync(join(settings.spool_dir, ".sending"), twoHoursAgo, twoHoursAgo);
    expect(await sendThroughSpool(settings, await compose("after a power cut"))).toEqual({ delivered: true, earlierSent: 0, pending: [] });
    expect(readdirSync(settings.spool_dir)).toEqual([]);

    const holder = spawn("/bin/sleep", ["30"]);
    try {
      writeFileSync(join(settings.spool_dir, ".sending"), `${holder.pid}\n`);
      const startedAt = Date.now();
      const busy = await sendThroughSpool({ ...settings, timeout: 0.5 }, await compose("busy"));
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(500);
      expect(busy.delivered).toBe(false);
      expect(busy.failure).toBe(`${settings.spool_dir}: another carpentry report (pid ${holder.pid}) is still sending it (${settings.spool_dir}/.sending)`);
      expect(busy.pending).toHaveLength(1);
      expect(readFileSync(join(settings.spool_dir, ".sending"), "utf8"), "the live run's lock is left alone").toBe(`${holder.pid}\n`);
    } finally {
      holder.kill();
    }
    expect(readMailbox(sink.mailbox).map((mail) => mail.subject)).toEqual(["after a crash", "after a power cut"]);
  });

  it("a spool directory open to others is not used (nor changed): the report goes out directly", async () => {
    mkdirSync(settings.spool_dir, { mode: 0o755 });
    chmodSync(settings.spool_dir, 0o755);
    const outcome = await sendThroughSpool(settings, await compose("direct"));
    expect(outcome.delivered).toBe(true);
    expect(outcome.spoolFailure).toBe(`${settings.spool_dir}: open to others (mode 755; expected 700)`);
    expect(statSync(settings.spool_dir).mode & 0o777).toBe(0o755);
    expect(readdirSync(settings.spool_dir)).toEqual([]);
  });

  it("a spool that cannot be written: the report is still sent, and the caller is told", async () => {
    writeFileSync(join(dir, "not-a-dir"), "");
    const blocked = { ...settings, spool_dir: join(dir, "not-a-dir", "spool") };
    const outcome = await sendThroughSpool(blocked, await compose("direct"));
    expect(outcome.delivered).toBe(true);
    expect(outcome.spoolFailure).toMatch(/not-a-dir\/spool: .*ENOTDIR/);
    expect(readMailbox(sink.mailbox).map((mail) => mail.subject)).toEqual(["direct"]);
  });
});

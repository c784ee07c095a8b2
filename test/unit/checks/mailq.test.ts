import { describe, expect, it } from "vitest";
import { check, decideMailq, formatAge, readMailQueue, settingsSchema, thresholdsFrom, type MailqThresholds } from "../../../src/checks/mailq.js";
import { checkSettings, parseConfig } from "../../../src/lib/runtime/config.js";
import { HostError, ParseError } from "../../../src/lib/runtime/errors.js";
import { errorResult } from "../../../src/lib/runtime/runner.js";
import { firstLine, formatPerfdata, SUMMARY_MAX_CHARS, type Result } from "../../../src/lib/runtime/result.js";
import type { CommandResult } from "../../../src/lib/transport/shell.js";
import { parseRange } from "../../../src/lib/runtime/thresholds.js";
import { fixture } from "../../support/fixtures.js";

/** The real OpenSMTPD capture: transcripts between `===== $ command (situation) =====` lines. */
function captured(situation: string): string {
  const lines = fixture("smtpctl-show-queue.txt", "opensmtpd").split("\n");
  const start = lines.findIndex((line) => line.startsWith("===== ") && line.includes(situation));
  if (start < 0) throw new Error(`no section ${situation}`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith("====="));
  return lines
    .slice(start + 1, end)
    .map((line) => `${line}\n`)
    .join("");
}

const CAPTURED_AT = 1795264955; // 'now' at capture (the file's header)
const CREATED = 1795264894; // every envelope's ctime in the capture
const PENDING = captured("retry=2, one envelope paused");
const OFFLINE = captured("smtpd stopped");
const REDACTED_LINE = fixture("smtpctl_show_queue_cheatsheet_redacted.txt");

const answer = (stdout: string, exitCode = 0, stderr = "", command = "/usr/sbin/smtpctl show queue"): CommandResult => ({ command, stdout, stderr, exitCode });
const RUNNING = answer("MDA running\nMTA running\nSMTP running\n", 0, "", "/usr/sbin/smtpctl show status");
const NOT_RUNNING = answer("", 1, "smtpctl: smtpd doesn't seem to be running\n", "/usr/sbin/smtpctl show status");
const NEED_ROOT = answer("", 1, "smtpctl: need root privileges\n", "/usr/sbin/smtpctl show status");

const settings = (toml = "") => checkSettings(parseConfig(`role = "secondary"\n[peer]\nhost = "primary"\n${toml}`, "t.toml", { only: check }), "mailq", settingsSchema);
const DEFAULTS: MailqThresholds = thresholdsFrom(settings(), undefined, undefined);

function decide(status: CommandResult, queue: string, now = CAPTURED_AT, thresholds = DEFAULTS): Result {
  return decideMailq(readMailQueue(status, answer(queue), now), thresholds, now);
}

function fits(res: Result): boolean {
  return (firstLine(res).split(" | ")[0] ?? "").length <= SUMMARY_MAX_CHARS;
}

describe("decideMailq", () => {
  it("is OK for an empty queue of a running smtpd, with perfdata for count and age", () => {
    const res = decide(RUNNING, "");
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("mail queue empty");
    expect(formatPerfdata(res.perfdata)).toBe("messages=0;50;500;0 oldest_age=0s;3600;86400;0");
  });

  it("is OK for a few young messages, listing the oldest with their last error", () => {
    const res = decide(RUNNING, PENDING);
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("5 messages queued, oldest 1m 01s");
    expect(res.details).toHaveLength(4);
    expect(res.details[0]).toBe("20e9202c5e70252a monit@fw1.example.net -> noc@example.com, 1m 01s old, 2 tries, pending: Network error on destination MXs");
    expect(res.details[1]).toMatch(/^a419c71cef810d4d /);
    expect(res.details[3]).toBe("... and 2 more (smtpctl show queue)");
    expect(formatPerfdata(res.perfdata)).toBe("messages=5;50;500;0 oldest_age=61s;3600;86400;0");
  });

  it("lists the oldest first, with its flags", () => {
    const older = PENDING.replace("|root@vm|ops@example.org|ops@example.org|1795264894|", "|root@vm|ops@example.org|ops@example.org|1795264800|");
    const res = decide(RUNNING, older);
    expect(res.summary).toBe("5 messages queued, oldest 2m 35s");
    expect(res.details[0]).toBe("e67d3b3216519109 root@vm -> ops@example.org, 2m 35s old, 2 tries, pending [auth,suspend]: Network error on destination MXs");
  });

  it("reads the one published OpenBSD line", () => {
    const res = decide(RUNNING, REDACTED_LINE, 1540362112 + 30);
    expect(res.summary).toBe("1 message queued, oldest 30s");
  });

  it("counts against -w/-c Nagios ranges, which override the config", () => {
    const range = (w: string, c: string): MailqThresholds => thresholdsFrom(settings(), parseRange(w), parseRange(c));
    expect(decide(RUNNING, PENDING, CAPTURED_AT, range("3", "10")).summary).toBe("5 messages queued (warning 3)");
    expect(decide(RUNNING, PENDING, CAPTURED_AT, range("3", "10")).status).toBe("WARNING");
    const critical = decide(RUNNING, PENDING, CAPTURED_AT, range("3", "4"));
    expect([critical.status, critical.summary]).toEqual(["CRITICAL", "5 messages queued (critical 4)"]);
    expect(decide(RUNNING, PENDING, CAPTURED_AT, range("@5:9", "100")).status).toBe("WARNING");
    expect(decide(RUNNING, PENDING, CAPTURED_AT, range("@6:9", "100")).status).toBe("OK");
    expect(formatPerfdata(decide(RUNNING, PENDING, CAPTURED_AT, range("@6:9", "100")).perfdata)).toBe("messages=5;@6:9;100;0 oldest_age=61s;3600;86400;0");
  });

  it("counts against the config's warning and critical, numbers or ranges", () => {
    const thresholds = thresholdsFrom(settings('[checks.mailq]\nwarning = 4\ncritical = "~:6"\n'), undefined, undefined);
    expect(decide(RUNNING, PENDING, CAPTURED_AT, thresholds).status).toBe("WARNING");
    const six = PENDING + PENDING.split("\n").slice(0, 2).join("\n").replaceAll("20e9202c5e70252a", "20e9202c5e70252b").replaceAll("a419c71cef810d4d", "a419c71cef810d4e") + "\n";
    const res = decide(RUNNING, six, CAPTURED_AT, thresholds);
    expect([res.status, res.summary]).toEqual(["CRITICAL", "7 messages queued (critical ~:6)"]);
  });

  it("is WARNING, then CRITICAL, as the oldest message ages past age_warning and age_critical", () => {
    const warning = decide(RUNNING, PENDING, CREATED + 2 * 3600);
    expect([warning.status, warning.summary]).toEqual(["WARNING", "oldest message 2h 00m old (warning 1h 00m)"]);
    const critical = decide(RUNNING, PENDING, CREATED + 3 * 86400 + 5 * 3600);
    expect([critical.status, critical.summary]).toEqual(["CRITICAL", "oldest message 3d 5h old (critical 1d 0h)"]);
    const tight = thresholdsFrom(settings("[checks.mailq]\nage_warning = 30\nage_critical = 60\n"), undefined, undefined);
    expect(decide(RUNNING, PENDING, CAPTURED_AT, tight).status).toBe("CRITICAL");
  });

  it("puts the count and the age together, worst first", () => {
    const res = decide(RUNNING, PENDING, CREATED + 2 * 3600, thresholdsFrom(settings(), parseRange("10"), parseRange("4")));
    expect([res.status, res.summary]).toEqual(["CRITICAL", "5 messages queued (critical 4) (+1 more)"]);
    expect(res.details[1]).toBe("oldest message 2h 00m old (warning 1h 00m)");
    expect(fits(res)).toBe(true);
  });

  it("is CRITICAL when smtpd is not running: the queue read from the spool is still counted", () => {
    const res = decide(NOT_RUNNING, OFFLINE);
    expect([res.status, res.summary]).toEqual(["CRITICAL", "smtpd not running, 5 messages queued"]);
    expect(res.details[0]).toMatch(/^smtpd not running: smtpctl read the queue from the spool/);
    expect(res.details).toContain("a419c71cef810d4d root@fw1.example.net -> ops@example.org, 1m 01s old, 2 tries, offline: Network error on destination MXs");
    const empty = decide(NOT_RUNNING, "");
    expect([empty.status, empty.summary]).toEqual(["CRITICAL", "smtpd not running, 0 messages queued"]);
  });

  it("is WARNING when a part of smtpd is paused", () => {
    const res = decide(answer("MDA running\nMTA paused\nSMTP running\n"), "");
    expect([res.status, res.summary]).toEqual(["WARNING", "smtpd MTA paused"]);
    expect(res.details[0]).toBe("smtpd MTA paused (smtpctl resume mta)");
  });
});

describe("readMailQueue: when smtpd cannot be asked", () => {
  it("is UNKNOWN (never OK) when smtpctl needs root privileges", () => {
    let thrown: unknown;
    try {
      readMailQueue(NEED_ROOT, answer("", 1, "smtpctl: need root privileges\n"), CAPTURED_AT);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HostError);
    const res = errorResult(thrown);
    expect([res.status, res.summary]).toEqual(["UNKNOWN", "cannot ask smtpd: smtpctl needs root privileges"]);
  });

  it("is UNKNOWN when smtpctl fails otherwise, naming the command and its last words", () => {
    expect(() => readMailQueue(RUNNING, answer("", 1, "smtpctl: imsg_get error\n"), CAPTURED_AT)).toThrow("/usr/sbin/smtpctl show queue failed (exit 1): smtpctl: imsg_get error");
    expect(() => readMailQueue(answer("", 1, "smtpctl: pipe closed\n", "/usr/sbin/smtpctl show status"), answer(""), CAPTURED_AT)).toThrow(/show status failed/);
  });

  it("is a ParseError for output the parsers cannot read", () => {
    expect(() => readMailQueue(RUNNING, answer(PENDING.replace("|pending|", "|waiting|")), CAPTURED_AT)).toThrow(ParseError);
    expect(() => readMailQueue(answer("MDA on\nMTA running\nSMTP running\n"), answer(""), CAPTURED_AT)).toThrow(ParseError);
    expect(() => readMailQueue(RUNNING, answer(PENDING.slice(0, -10)), CAPTURED_AT)).toThrow(ParseError);
  });
});

describe("formatAge", () => {
  it("is short and never negative", () => {
    expect([0, 59, 61, 3599, 3600, 86399, 86400, 3 * 86400 + 7200, -5].map(formatAge)).toEqual(["0s", "59s", "1m 01s", "59m 59s", "1h 00m", "23h 59m", "1d 0h", "3d 2h", "0s"]);
  });
});

// carpentry report --mail on the simulated primary, through a real SMTP server listening on the
// primary's own 127.0.0.1:25 (the [mail] defaults): the report arrives, most severe first, with the
// details; with the server down it stays in the spool, exit 3, and the next run delivers both.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { URGENCY, type Status } from "../../src/lib/runtime/result.js";
import { healthyDefaults, startPair, type Pair, type RunResult } from "../harness/pair.js";
import { startSmtpSinkIn, type HostSmtpSink, type ReceivedMail } from "../support/smtp-sink.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";
const SPOOL = "/var/spool/carpentry";
// The peer checks open their own connections, so a stopped sshd is a dead peer for every check.
const CONFIG = ['role = "primary"', "[peer]", 'host = "secondary"', "control_persist = 0", "[mail]", 'to = "admin@example.net"', 'from = "carpentry@primary.example.net"', "timeout = 5", ""].join(
  "\n",
);
const EXIT: Readonly<Record<Status, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

let pair: Pair;
let sink: HostSmtpSink;

function report(...args: string[]): Promise<RunResult> {
  return pair.run("primary", [CARPENTRY, "report", ...args], { timeoutMs: 45_000 });
}

async function spoolFiles(): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  try {
    return (await readdir(pair.hostPath("primary", SPOOL))).filter((name) => name.endsWith(".eml")).sort();
  } catch {
    return [];
  }
}

/** The overview: one line per check, "STATUS  check_NAME  summary". */
function overviewOf(mail: ReceivedMail): { status: Status; check: string; summary: string }[] {
  return mail.text
    .split("\n")
    .map((line) => /^(CRITICAL|UNKNOWN|WARNING|OK)\s+(check_\w+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ status: match[1] as Status, check: match[2] ?? "", summary: match[3] ?? "" }));
}

function worst(statuses: readonly Status[]): Status {
  return statuses.reduce<Status>((a, b) => (EXIT[b] > EXIT[a] ? b : a), "OK");
}

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
  await pair.writeConfig("primary", CONFIG);
  await pair.writeConfig("secondary", 'role = "secondary"\n[peer]\nhost = "primary"\n');
  sink = await startSmtpSinkIn(pair, "primary");
});

afterAll(async () => {
  await pair?.stop();
});

beforeEach(async () => {
  await healthyDefaults(pair);
  if (pair.sshd.state !== "running") await pair.sshd.start();
});

describe("carpentry report --mail", () => {
  it("mails every check, most severe first, with the details of each problem", async () => {
    await pair.sshd.stop();
    const before = sink.read().length;
    const run = await report("--mail");
    expect(run.stdout, "nothing printed when the report went out").toBe("");
    expect(run.stderr).toBe("");

    const mails = await sink.wait(before + 1, 10_000);
    const mail = mails[mails.length - 1] as ReceivedMail;
    const overview = overviewOf(mail);
    const list = (await pair.run("primary", [CARPENTRY, "list", "--json"])).stdout;
    const forPrimary = (JSON.parse(list) as { name: string; applies: boolean }[]).filter((c) => c.applies).map((c) => c.name);
    expect(overview.map((line) => line.check).sort(), "every check of the role, once").toEqual([...forPrimary].sort());

    // most severe first: CRITICAL, UNKNOWN, WARNING, OK
    const ranks = overview.map((line) => URGENCY[line.status]);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const peer = overview.find((line) => line.check === "check_peer");
    expect(peer?.status).toBe("CRITICAL");
    expect(peer?.summary).toMatch(/secondary.*(refused|cannot)/);

    // the subject and the exit code say the same as the overview
    const counts = (status: Status): number => overview.filter((line) => line.status === status).length;
    const problems = (["CRITICAL", "UNKNOWN", "WARNING"] as const).filter((s) => counts(s) > 0).map((s) => `${counts(s)} ${s}`);
    expect(mail.subject).toBe(`[carpentry] primary primary: ${problems.join(", ")}`);
    expect(run.code).toBe(EXIT[worst(overview.map((line) => line.status))]);
    expect(mail.envelopeTo).toEqual(["admin@example.net"]);
    expect(mail.headers.get("from")).toBe("carpentry@primary.example.net");

    // every problem has its section: the check's first line, then its details
    const section = mail.text.split("\n\n").find((block) => block.startsWith("---- check_peer: CRITICAL"));
    expect(section?.split("\n")[1]).toBe(`CRITICAL: ${peer?.summary}`);
    expect(section).toMatch(/\n {2}ssh: connect to host secondary port 22: Connection refused/);
    for (const line of overview.filter((l) => l.status !== "OK")) {
      expect(mail.text, `${line.check} has a section`).toContain(`---- ${line.check}: ${line.status} (`);
    }
    expect(mail.html).toContain("check_peer");
    expect(await spoolFiles()).toEqual([]);
  });

  it("SMTP down: kept in the spool, exit 3; the next run delivers both, oldest first", async () => {
    const before = sink.read().length;
    await sink.daemon.stop();
    let failed: RunResult;
    try {
      failed = await report("--mail");
    } finally {
      sink = await startSmtpSinkIn(pair, "primary");
    }
    expect(failed.code).toBe(3);
    const [first, second] = failed.stdout.split("\n");
    expect(first).toBe("UNKNOWN: report not sent: 127.0.0.1:25: ESOCKET: connect ECONNREFUSED 127.0.0.1:25");
    expect(second).toBe(`kept in ${SPOOL} (1 waiting); sent with the next report, oldest first`);
    expect(failed.stdout, "the report itself follows, for cron to mail").toContain("---- check_");
    const spooled = await spoolFiles();
    expect(spooled).toHaveLength(1);
    const { stat } = await import("node:fs/promises");
    expect((await stat(pair.hostPath("primary", SPOOL))).mode & 0o777).toBe(0o700);
    expect((await stat(pair.hostPath("primary", `${SPOOL}/${spooled[0]}`))).mode & 0o777).toBe(0o600);

    const sent = await report("--mail");
    expect(sent.stdout, "nothing printed: both went out").toBe("");
    const mails = await sink.wait(before + 2, 10_000);
    const [older, newer] = mails.slice(before);
    expect(sent.code, "the worst status of this run's checks, not 'not sent'").toBe(EXIT[worst(overviewOf(newer as ReceivedMail).map((line) => line.status))]);
    expect(older?.text).not.toContain("earlier report");
    expect(newer?.text).toContain("1 earlier report could not be sent at the time and goes out with this one, oldest first.");
    expect(Date.parse(older?.headers.get("date") ?? "")).toBeLessThanOrEqual(Date.parse(newer?.headers.get("date") ?? ""));
    expect(await spoolFiles()).toEqual([]);
  });

  it("without --mail: the same report on stdout, for cron; --only-problems leaves out the OK checks", async () => {
    const printed = await report();
    expect(printed.stdout.split("\n")[0]).toMatch(/^primary \(primary\): /);
    expect(printed.stdout).toMatch(/\nOK +check_peer +secondary /);
    const problemsOnly = await report("--only-problems");
    expect(problemsOnly.stdout).not.toMatch(/\nOK +check_peer/);
    expect(problemsOnly.code).toBe(printed.code);
  });
});

import { describe, expect, it } from "vitest";
import { parseMailQueue, parseSmtpdStatus, summarizeQueue } from "../../../../src/lib/parse/smtpctl.js";
import { expectParseError, fixture } from "../../../support/fixtures.js";

/** The capture file holds several transcripts between `=====` markers, with `#` notes on top. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let title: string | null = null;
  let body: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^===== (.*) =====$/.exec(line);
    if (m) {
      if (title !== null) out.set(title, body.map((l) => `${l}\n`).join(""));
      title = m[1] ?? "";
      body = [];
    } else if (title !== null) {
      body.push(line);
    }
  }
  return out;
}

const NOW = 1795264955; // 'now' at capture, from the file's header
const capture = sections(fixture("smtpctl-show-queue.txt", "opensmtpd"));
const section = (prefix: string): string => {
  const key = [...capture.keys()].find((k) => k.startsWith(prefix));
  if (key === undefined) throw new Error(`no section ${prefix}`);
  return capture.get(key) ?? "";
};

describe("parseMailQueue: real OpenSMTPD 6.8 capture", () => {
  it("inflight deliveries", () => {
    const envs = parseMailQueue(section("$ smtpctl show queue   (smtpd running; first look"), NOW);
    expect(envs).toHaveLength(5);
    expect(envs[0]).toEqual({
      id: "20e9202c5e70252a",
      src: "inet4",
      agent: "mta",
      flags: [],
      sender: "monit@fw1.example.net",
      recipient: "noc@example.com",
      destination: "noc@example.com",
      createdEpoch: 1795264894,
      expiresEpoch: 1795264894,
      lastTryEpoch: 1795264894,
      retry: 0,
      runstate: "inflight",
      runstateSeconds: 5,
      error: "",
      ageSeconds: 61,
    });
    expect(envs[3]?.src).toBe("local");
    expect(envs[3]?.flags).toEqual(["auth"]);
  });
  it("pending after failures, one suspended", () => {
    const first = parseMailQueue(section("$ smtpctl show queue   (smtpd running; after first failure"), NOW);
    expect(first.every((e) => e.runstate === "pending" && e.runstateSeconds === 372 && e.retry === 1)).toBe(true);
    expect(first[0]?.lastTryEpoch).toBeNull(); // smtpctl prints 0 here although a try happened
    expect(first[0]?.error).toBe("Network error on destination MXs");
    const paused = parseMailQueue(section("$ smtpctl show queue   (smtpd running; retry=2"), NOW);
    expect(paused[4]?.flags).toEqual(["auth", "suspend"]);
    expect(paused[4]?.runstateSeconds).toBe(1539);
  });
  it("mailq prints the same as show queue", () => {
    expect(parseMailQueue(section("$ mailq"), NOW)).toEqual(parseMailQueue(section("$ smtpctl show queue   (smtpd running; retry=2"), NOW));
  });
  it("offline (smtpd stopped): empty runstate value", () => {
    const envs = parseMailQueue(section("$ smtpctl show queue   (smtpd stopped"), NOW);
    expect(envs).toHaveLength(5);
    expect(envs.every((e) => e.runstate === "offline" && e.runstateSeconds === null)).toBe(true);
    expect(summarizeQueue(envs, NOW)).toEqual({ count: 5, oldestAgeSeconds: 61 });
  });
  it("the envelope dump and the commented file are not queue lines", () => {
    expectParseError(() => parseMailQueue(section("$ smtpctl show envelope"), NOW), 1);
    expectParseError(() => parseMailQueue(fixture("smtpctl-show-queue.txt", "opensmtpd"), NOW), 1);
  });
});

describe("parseMailQueue: cheatsheet line and edge cases", () => {
  it("redacted cheatsheet line", () => {
    const [env] = parseMailQueue(fixture("smtpctl_show_queue_cheatsheet_redacted.txt"), 1540362112 + 3600);
    expect(env).toMatchObject({
      id: "1de69818e6a83342",
      src: "local",
      agent: "mta",
      flags: ["auth"],
      sender: "so@tld",
      retry: 2,
      runstate: "pending",
      runstateSeconds: 406,
      error: "No MX found for domain",
      ageSeconds: 3600,
      lastTryEpoch: null,
    });
  });
  it("error text keeps its own | characters; bounce sender @", () => {
    const line = "0123456789abcdef|local|bounce|bounce|@|a@b|a@b|100|200|150|3|pending|-5|421 a|b|c\n";
    const [env] = parseMailQueue(line, 1000);
    expect(env?.error).toBe("421 a|b|c");
    expect(env?.sender).toBe("@");
    expect(env?.runstateSeconds).toBe(-5);
    expect(env?.lastTryEpoch).toBe(150);
  });
  it("empty queue prints nothing", () => {
    expect(parseMailQueue("", NOW)).toEqual([]);
    expect(summarizeQueue([], NOW)).toEqual({ count: 0, oldestAgeSeconds: null });
  });
  it("summary takes the oldest and never goes below zero", () => {
    const text = [
      "0000000000000001|local|mta||a@b|c@d|c@d|1000|1000|0|0|pending|10|",
      "0000000000000002|local|mta||a@b|c@d|c@d|400|400|0|0|pending|10|",
      "0000000000000003|local|mta||a@b|c@d|c@d|2000|2000|0|0|pending|10|",
      "",
    ].join("\n");
    expect(summarizeQueue(parseMailQueue(text, 1500), 1500)).toEqual({ count: 3, oldestAgeSeconds: 1100 });
    expect(summarizeQueue(parseMailQueue(text, 100), 100)).toEqual({ count: 3, oldestAgeSeconds: 0 });
  });
  it("bad lines name their number", () => {
    const good = "20e9202c5e70252a|inet4|mta||monit@fw1.example.net|noc@example.com|noc@example.com|1795264894|1795264894|0|2|pending|1539|Network error\n";
    const bad = [
      good.replace("20e9202c5e70252a", "20e9202c5e70252"),
      good.replace("|inet4|", "|inet5|"),
      good.replace("|mta|", "|smtp|"),
      good.replace("|mta||", "|mta|frozen|"),
      good.replace("monit@fw1.example.net", "monit"),
      good.replace("|1795264894|1795264894|", "|17952x4894|1795264894|"),
      good.replace("|pending|1539|", "|pending||"),
      good.replace("|pending|1539|", "|waiting|1539|"),
      good.replace("|pending|1539|", "|offline|12|"),
      "20e9202c5e70252a|inet4|mta||monit@fw1.example.net|noc@example.com\n",
    ];
    for (const b of bad) expectParseError(() => parseMailQueue(good + b, NOW), 2);
  });
  it("every truncation is an error or a prefix of the full list", () => {
    const text = section("$ smtpctl show queue   (smtpd running; retry=2");
    const full = parseMailQueue(text, NOW);
    for (let cut = 1; cut < text.length; cut++) {
      const part = text.slice(0, cut);
      if (!part.endsWith("\n")) {
        expectParseError(() => parseMailQueue(part, NOW));
        continue;
      }
      expect(parseMailQueue(part, NOW)).toEqual(full.slice(0, parseMailQueue(part, NOW).length));
    }
  });
  it("CRLF reads the same", () => {
    const text = section("$ smtpctl show queue   (smtpd stopped");
    expect(parseMailQueue(text.replaceAll("\n", "\r\n"), NOW)).toEqual(parseMailQueue(text, NOW));
  });
});

// No capture exists: the lines are do_show_status()'s printf formats in smtpctl.c rev 1.176.
describe("parseSmtpdStatus", () => {
  it("reads running and paused parts", () => {
    expect(parseSmtpdStatus("MDA running\nMTA running\nSMTP running\n")).toEqual({ mda: "running", mta: "running", smtp: "running" });
    expect(parseSmtpdStatus("MDA running\nMTA paused\nSMTP running\n")).toEqual({ mda: "running", mta: "paused", smtp: "running" });
  });
  it("rejects anything else, naming the line", () => {
    expectParseError(() => parseSmtpdStatus("MDA running\nMTA stopped\nSMTP running\n"), 2);
    expectParseError(() => parseSmtpdStatus("MDA running\nMDA running\nSMTP running\n"), 2);
    expectParseError(() => parseSmtpdStatus("MDA running\nMTA running\n"));
    expectParseError(() => parseSmtpdStatus("MDA running\nMTA running\nSMTP runn"), 3);
    expectParseError(() => parseSmtpdStatus(""));
  });
});

// The daily report's look back on the simulated pair: the checks, run as monit and `carpentry run`
// run them, keep their readings in the primary's history; a failover and the failback between two
// reports come out in the mailed report as transitions and as check_carp's recovered WARNING, in
// the text and, rendered by Chromium, in the HTML's charts. The history stays small and the
// primary's only write is its state directory.
import { appendFileSync, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHART_COLOURS, HTML_STATUS_COLOURS, TIMELINE_WIDTH_PX } from "../../src/cli/report.js";
import { startPair, type Pair } from "../harness/pair.js";
import { ScenarioLab } from "../harness/scenarios.js";
import { barsOfColour, boxOfColour, renderHtml, type Bar } from "../support/chromium.js";
import { startSmtpSinkIn, type HostSmtpSink, type ReceivedMail } from "../support/smtp-sink.js";
import { snapshotChanges, snapshotTrees } from "../support/file-snapshot.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";
const HISTORY = "/var/db/carpentry/history.jsonl";

let pair: Pair;
let lab: ScenarioLab;
let sink: HostSmtpSink;

/**
 * A scenario is planted whole, its state directory included (some plant counter readings): the
 * history the checks wrote so far is carried over, as the gateway itself would keep it.
 */
async function enter(scenario: "healthy" | "failed_over"): Promise<void> {
  const path = pair.hostPath("primary", HISTORY);
  const kept = existsSync(path) ? readFileSync(path) : undefined;
  await lab.enter(scenario);
  if (kept) await pair.writeFile("primary", HISTORY, kept, { mode: 0o600 });
}

beforeAll(async () => {
  pair = await startPair();
  lab = new ScenarioLab(pair);
  await lab.setUp();
  sink = await startSmtpSinkIn(pair, "primary");
}, 180_000);

afterAll(async () => {
  await pair?.stop();
});

describe("carpentry report's look back", () => {
  it("mails the failover and failback since the last report, the recovered check, the queue and pfsync, as text and as charts", async () => {
    rmSync(pair.hostPath("primary", "/var/db/carpentry"), { recursive: true, force: true });
    const snapshot = (): ReturnType<typeof snapshotTrees> => snapshotTrees(["/etc", "/root", "/var/db"], (path) => pair.hostPath("primary", path));

    await enter("healthy");
    const first = await pair.run("primary", [CARPENTRY, "report"], { timeoutMs: 60_000 });
    expect(first.stdout).toMatch(/^Since .* \(no earlier report\): \d+ readings$/m);
    expect(first.stdout).toContain("CARP: no transition");

    await enter("failed_over");
    const carp = await pair.run("primary", ["/etc/carpentry.monit/check_carp"]);
    expect(carp.code).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await enter("healthy");
    expect((await pair.run("primary", [CARPENTRY, "run"], { timeoutMs: 60_000 })).code).toBe(0);

    appendFileSync(pair.hostPath("primary", "/etc/carpentry.monit/carpentry.toml"), '\n[mail]\nto = "admin@example.net"\n');
    // From here only carpentry runs: its one write is its state directory.
    const before = snapshot();
    const mailsBefore = sink.read().length;
    const mailed = await pair.run("primary", [CARPENTRY, "report", "--mail"], { timeoutMs: 60_000 });
    expect(mailed.stdout).toBe("");
    const mail = (await sink.wait(mailsBefore + 1, 10_000)).at(-1) as ReceivedMail;
    expect(mail.text).toMatch(/^Since the last report \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\): \d+ readings$/m);
    expect(mail.text).toContain("CARP: 2 transitions");
    expect(mail.text).toMatch(/ {2}failover: the secondary took MASTER \(MASTER vhids: primary 1 -> 0, secondary 0 -> 1\)$/m);
    expect(mail.text).toMatch(/ {2}failback: the primary took MASTER back \(MASTER vhids: primary 0 -> 1, secondary 1 -> 0\)$/m);
    expect(mail.text).toMatch(/^ {2}check_carp +WARNING {2}.* to .* \(\d+ min\), recovered$/m);
    expect(mail.text).toMatch(/^Mail queue: peak 0 at .*, now 0$/m);
    expect(mail.text).toMatch(/^pfsync states: primary \d+ to \d+ \(now \d+\), secondary \d+ to \d+ \(now \d+\)$/m);

    // What the reader sees: check_carp's WARNING on the time line, the empty queue as a hairline, pfsync's bars.
    const png = renderHtml(mail.html ?? "", { width: 900, height: 2400 });
    const track = boxOfColour(png, CHART_COLOURS.track) as Bar;
    expect(track.width).toBe(TIMELINE_WIDTH_PX);
    const warning = barsOfColour(png, HTML_STATUS_COLOURS.WARNING, { top: track.top, bottom: track.top + track.height - 1 }).filter((bar) => bar.left < track.left + TIMELINE_WIDTH_PX);
    expect(warning.length).toBe(1);
    expect(barsOfColour(png, CHART_COLOURS.zero).length).toBeGreaterThan(0);
    expect(barsOfColour(png, CHART_COLOURS.pfsyncPrimary).length).toBeGreaterThan(0);
    expect(barsOfColour(png, CHART_COLOURS.pfsyncSecondary).length).toBeGreaterThan(0);

    const again = await pair.run("primary", [CARPENTRY, "report"], { timeoutMs: 60_000 });
    expect(again.stdout).toContain("CARP: no transition");
    expect(again.stdout).toContain("Checks not OK: none");
    // A report that said nothing (--only-problems, all OK) is no report to look back to.
    const checkedAt = /^Checked (.*) in /m.exec(again.stdout)?.[1] ?? "";
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await pair.run("primary", [CARPENTRY, "report", "--only-problems"], { timeoutMs: 60_000 })).stdout).toBe("");
    const after = await pair.run("primary", [CARPENTRY, "report"], { timeoutMs: 60_000 });
    expect(after.stdout).toContain(`Since the last report (${checkedAt}): `);

    const history = readFileSync(pair.hostPath("primary", HISTORY), "utf8").trim().split("\n");
    expect(history.length).toBeGreaterThan(40);
    expect(history.every((line) => /^\{"t":\d+,"c":"[a-z_]+"(,"s":"(OK|WARNING|CRITICAL|UNKNOWN)")?(,"p":\{[^}]*\})?\}$/.test(line))).toBe(true);
    expect(history.every((line) => line.length < 120)).toBe(true);
    expect(statSync(pair.hostPath("primary", HISTORY)).mode & 0o777).toBe(0o600);
    expect(snapshotChanges(before, snapshot(), ["/var/db/carpentry"])).toEqual([]);
  }, 300_000);
});

import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lookBack } from "../../../../src/cli/report-history.js";
import { appendHistory, HISTORY_FILE, historyLine, readHistory, REPORT_MARK, type HistoryLine } from "../../../../src/lib/runtime/history.js";
import { parseConfig } from "../../../../src/lib/runtime/config.js";
import type { Status } from "../../../../src/lib/runtime/result.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "history-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the history file", () => {
  it("keeps a check's status and only the numbers the report charts", () => {
    const line = historyLine(
      "pfsync",
      "OK",
      [
        { label: "states_primary", value: 1200, min: 0 },
        { label: "states_secondary", value: 1190, min: 0 },
        { label: "errors_primary", value: 3, uom: "c", min: 0 },
      ],
      new Date(1_764_950_000_500),
    );
    expect(line).toEqual({ t: 1_764_950_000, c: "pfsync", s: "OK", p: { states_primary: 1200, states_secondary: 1190 } });
    expect(historyLine("dns", "WARNING", [{ label: "time", value: 3 }], new Date(0))).toEqual({ t: 0, c: "dns", s: "WARNING" });
  });

  it("appends lines, rotates at the cap into one older generation, and reads both, oldest first", () => {
    const dirOfState = join(dir, "state");
    for (let t = 0; t < 300; t++) expect(appendHistory(dirOfState, [{ t, c: "dns", s: "OK" }], 4096)).toBeUndefined();
    expect(statSync(dirOfState).mode & 0o777).toBe(0o700);
    expect(statSync(join(dirOfState, HISTORY_FILE)).mode & 0o777).toBe(0o600);
    // Never more than two generations of about the cap each.
    expect(statSync(join(dirOfState, HISTORY_FILE)).size).toBeLessThan(4096 + 64);
    expect(statSync(join(dirOfState, `${HISTORY_FILE}.1`)).size).toBeLessThan(4096 + 64);
    const lines = readHistory(dirOfState, 4096);
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.length).toBeLessThan(300);
    expect(lines[lines.length - 1]).toEqual({ t: 299, c: "dns", s: "OK" });
    expect(lines.map((line) => line.t)).toEqual([...lines.map((line) => line.t)].sort((a, b) => a - b));
  });

  it("skips lines that are not its own and reads no more than its bound", () => {
    writeFileSync(join(dir, HISTORY_FILE), '{"t":1,"c":"dns","s":"OK"}\nnot json\n{"t":"x"}\n{"t":2,"c":"dns","s":"MAYBE"}\n', { mode: 0o600 });
    expect(readHistory(dir)).toEqual([{ t: 1, c: "dns", s: "OK" }]);
    appendFileSync(join(dir, HISTORY_FILE), `${'{"t":3,"c":"dns","s":"OK"}\n'.repeat(10_000)}`);
    expect(readHistory(dir, 1024).length).toBeLessThan(3000);
  });

  it("lives in [report] history_dir, /var/db/carpentry by default, never under /etc", () => {
    const base = 'role = "primary"\n[peer]\nhost = "secondary"\n';
    expect(parseConfig(base, "/c.toml", { all: [] }).report.history_dir).toBe("/var/db/carpentry");
    expect(parseConfig(`${base}[report]\nhistory_dir = "/var/carpentry"\n`, "/c.toml", { all: [] }).report.history_dir).toBe("/var/carpentry");
    expect(() => parseConfig(`${base}[report]\nhistory_dir = "/etc/carpentry"\n`, "/c.toml", { all: [] })).toThrow(/report\.history_dir.*outside \/etc/);
  });

  it("refuses a file in the directory's place and a directory others may write, and says so", () => {
    writeFileSync(join(dir, "file"), "");
    expect(appendHistory(join(dir, "file"), [{ t: 1, c: "dns" }])).toMatch(/not a directory/);
    expect(readFileSync(join(dir, "file"), "utf8")).toBe("");
    mkdirSync(join(dir, "open"));
    chmodSync(join(dir, "open"), 0o777);
    expect(appendHistory(join(dir, "open"), [{ t: 1, c: "dns" }])).toMatch(/writable by others/);
    expect(existsSync(join(dir, "open", HISTORY_FILE))).toBe(false);
  });
});

describe("lookBack", () => {
  const T0 = Date.parse("2026-11-20T06:30:00Z") / 1000;
  const at = (minutes: number): number => T0 + minutes * 60;
  const run = (minutes: number, check: string, s: Status, p?: Record<string, number>): HistoryLine => ({ t: at(minutes), c: check, s, ...(p ? { p } : {}) });

  it("looks back to the last report: CARP transitions, the mail queue's peak, pfsync's range, checks that failed and recovered", () => {
    const lines: HistoryLine[] = [
      run(-30, "carp", "OK", { primary_masters: 1, secondary_masters: 0 }),
      run(-10, "mailq", "CRITICAL", { messages: 900 }),
      { t: at(0), c: REPORT_MARK },
      run(10, "mailq", "OK", { messages: 3 }),
      run(60, "carp", "OK", { primary_masters: 1, secondary_masters: 0 }),
      run(120, "carp", "WARNING", { primary_masters: 0, secondary_masters: 1 }),
      run(130, "carp", "WARNING", { primary_masters: 0 }),
      run(180, "carp", "OK", { primary_masters: 1, secondary_masters: 0 }),
      run(200, "mailq", "WARNING", { messages: 80 }),
      run(230, "mailq", "OK", { messages: 0 }),
      run(300, "pfsync", "OK", { states_primary: 1000, states_secondary: 990 }),
      run(400, "pfsync", "OK", { states_primary: 4000, states_secondary: 3950 }),
      run(500, "dns", "CRITICAL"),
      run(510, "dns", "UNKNOWN"),
    ];
    const back = lookBack(lines, new Date(at(600) * 1000));
    expect(back.fromLastReport).toBe(true);
    expect(back.since.getTime()).toBe(at(0) * 1000);
    expect(back.readings).toBe(11);
    expect(back.carp.map((transition) => [transition.kind, (transition.at.getTime() / 1000 - T0) / 60])).toEqual([
      ["failover", 120],
      ["failback", 180],
    ]);
    expect(back.mailQueue).toMatchObject({ max: 80, current: 0, min: 0 });
    expect(back.pfsyncPrimary).toMatchObject({ min: 1000, max: 4000, current: 4000 });
    expect(back.episodes.map((episode) => [episode.check, episode.worst, episode.end ? "recovered" : "still", Math.round(episode.durationMs / 60_000)])).toEqual([
      ["mailq", "CRITICAL", "recovered", 20],
      ["carp", "WARNING", "recovered", 60],
      ["mailq", "WARNING", "recovered", 30],
      ["dns", "CRITICAL", "still", 100],
    ]);
    expect(back.bucketMs).toBe(3_600_000);
    expect(back.bucketStarts.length).toBe(11);
    expect(back.mailQueue?.buckets.slice(0, 4)).toEqual([3, undefined, undefined, 80]);
  });

  it("counts what came after the last report's mark, not what the report itself read in the same second", () => {
    // The last report ran its checks (the failback among them) and wrote its mark in the same second.
    const lines: HistoryLine[] = [
      run(-1, "carp", "WARNING", { primary_masters: 0, secondary_masters: 1 }),
      run(0, "carp", "OK", { primary_masters: 1, secondary_masters: 0 }),
      { t: at(0), c: REPORT_MARK },
      run(0, "mailq", "OK", { messages: 0 }),
      run(1, "carp", "OK", { primary_masters: 1, secondary_masters: 0 }),
    ];
    const back = lookBack(lines, new Date(at(2) * 1000));
    expect(back.carp).toEqual([]);
    expect(back.episodes).toEqual([]);
    expect(back.readings).toBe(2);
  });

  it("looks back a day at most without an earlier report, and coarser buckets for a long gap", () => {
    const now = new Date(at(60 * 24 * 3) * 1000);
    const back = lookBack([run(0, "dns", "OK"), run(60 * 24 * 3 - 5, "dns", "OK")], now);
    expect(back.fromLastReport).toBe(false);
    expect(now.getTime() - back.since.getTime()).toBe(24 * 3_600_000);
    const long = lookBack([{ t: at(0), c: REPORT_MARK }, run(10, "dns", "OK")], now);
    expect(long.bucketMs).toBe(2 * 3_600_000);
    expect(long.bucketStarts.length).toBeLessThanOrEqual(48);
  });
});

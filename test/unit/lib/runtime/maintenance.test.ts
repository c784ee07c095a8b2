import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resultFromFindings, withoutPeerView, type Finding } from "../../../../src/lib/runtime/findings.js";
import {
  activeWindow,
  checkReason,
  excuseFindings,
  lastEnded,
  lastKnownPeerWindows,
  maintenanceWindows,
  MAX_DURATION_SECONDS,
  parseDuration,
  savePeerWindows,
  startMaintenance,
  STATE_FILE,
  STATE_MAX_BYTES,
  stopMaintenance,
  WINDOWS_KEPT,
  type MaintenanceWindow,
} from "../../../../src/lib/runtime/maintenance.js";
import { UsageError } from "../../../../src/lib/runtime/errors.js";

describe("parseDuration", () => {
  it.each([
    ["2h", 7200],
    ["90m", 5400],
    ["1h30m", 5400],
    ["45s", 45],
    ["3s", 3],
    ["1d", 86400],
    ["24h", 86400],
  ])("%s is %i seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "2", "h", "2 h", "-1h", "1.5h", "30m2h", "0s", "0h0m", "24h1s", "25h", "2d", "1e3s", "99999999s", "2hours"])("refuses %j with a clear error", (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
    try {
      parseDuration(text);
    } catch (error) {
      expect((error as UsageError).summary).toMatch(/^bad duration/);
      expect((error as UsageError).detail).toContain("at most 24h");
    }
  });

  it("allows at most a day", () => {
    expect(MAX_DURATION_SECONDS).toBe(86400);
  });
});

describe("checkReason", () => {
  it("keeps one line of text, refuses control characters and long ones", () => {
    expect(checkReason(" upgrade to 7.9 ")).toBe("upgrade to 7.9");
    expect(() => checkReason("upgrade\nCRITICAL: fake")).toThrow(/control characters/);
    expect(() => checkReason("x".repeat(101))).toThrow(/too long/);
  });
});

describe("the state file", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "carpentry-maintenance-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const now = new Date("2026-12-05T12:30:00Z");

  it("starts, shows and stops a window; a missing file is no window", () => {
    const state = join(dir, "state");
    expect(maintenanceWindows(state)).toEqual({ value: [] });
    const window = startMaintenance(state, "primary", 7200, "upgrade to 7.9", now);
    expect(window).toEqual({ role: "primary", startedAt: "2026-12-05T12:30:00.000Z", until: "2026-12-05T14:30:00.000Z", reason: "upgrade to 7.9" });
    const loaded = maintenanceWindows(state);
    expect("value" in loaded && activeWindow(loaded.value, new Date("2026-12-05T13:00:00Z"))).toEqual(window);
    expect("value" in loaded && activeWindow(loaded.value, new Date("2026-12-05T14:30:00Z"))).toBeUndefined();
    const stopped = stopMaintenance(state, new Date("2026-12-05T13:00:00Z"));
    expect(stopped?.stoppedAt).toBe("2026-12-05T13:00:00.000Z");
    expect(stopMaintenance(state, new Date("2026-12-05T13:01:00Z"))).toBeUndefined();
  });

  it("a start while on replaces the window: the old one is stopped, one on at a time", () => {
    startMaintenance(dir, "primary", 3600, undefined, now);
    startMaintenance(dir, "primary", 60, "longer", new Date(now.getTime() + 60_000));
    const loaded = maintenanceWindows(dir);
    if (!("value" in loaded)) throw new Error(loaded.problem);
    expect(loaded.value).toHaveLength(2);
    expect(loaded.value[0]?.stoppedAt).toBe("2026-12-05T12:31:00.000Z");
    expect(activeWindow(loaded.value, new Date(now.getTime() + 90_000))?.reason).toBe("longer");
  });

  it(`keeps the last ${WINDOWS_KEPT} windows only`, () => {
    for (let i = 0; i < WINDOWS_KEPT + 7; i++) startMaintenance(dir, "secondary", 1, `window ${i}`, new Date(now.getTime() + i * 10_000));
    const loaded = maintenanceWindows(dir);
    if (!("value" in loaded)) throw new Error(loaded.problem);
    expect(loaded.value).toHaveLength(WINDOWS_KEPT);
    expect(loaded.value[WINDOWS_KEPT - 1]?.reason).toBe(`window ${WINDOWS_KEPT + 6}`);
    expect(readFileSync(join(dir, STATE_FILE)).length).toBeLessThan(STATE_MAX_BYTES);
  });

  it("refuses garbage, oversized, unsafe and linked files, saying why", () => {
    const path = join(dir, STATE_FILE);
    writeFileSync(path, "not json", { mode: 0o600 });
    expect(maintenanceWindows(dir)).toEqual({ problem: `${path} not used: not JSON` });
    writeFileSync(path, JSON.stringify({ version: 1, windows: [{ role: "primary", startedAt: "yesterday", until: "2026-12-05T14:30:00Z" }] }));
    expect(maintenanceWindows(dir)).toMatchObject({ problem: expect.stringContaining("not in the expected form") });
    writeFileSync(path, JSON.stringify({ version: 1, windows: [], extra: "x".repeat(STATE_MAX_BYTES) }));
    expect(maintenanceWindows(dir)).toMatchObject({ problem: expect.stringContaining("larger than 64 KiB") });
    writeFileSync(path, JSON.stringify({ version: 1, windows: [] }));
    chmodSync(path, 0o666);
    expect(maintenanceWindows(dir)).toMatchObject({ problem: expect.stringContaining("writable by everyone") });
    rmSync(path);
    mkdirSync(path);
    expect(maintenanceWindows(dir)).toMatchObject({ problem: expect.stringContaining("a directory") });
    rmSync(path, { recursive: true });
    writeFileSync(join(dir, "elsewhere"), JSON.stringify({ version: 1, windows: [] }), { mode: 0o600 });
    symlinkSync(join(dir, "elsewhere"), path);
    expect(maintenanceWindows(dir)).toMatchObject({ problem: expect.stringContaining("a symbolic link") });
  });

  it("a start replaces an unusable file; a stop refuses it", () => {
    writeFileSync(join(dir, STATE_FILE), "garbage", { mode: 0o600 });
    expect(() => stopMaintenance(dir, now)).toThrow(UsageError);
    startMaintenance(dir, "primary", 60, undefined, now);
    expect(maintenanceWindows(dir)).toMatchObject({ value: [{ role: "primary" }] });
  });

  it("keeps the peer's windows as last learned", () => {
    const window: MaintenanceWindow = { role: "primary", startedAt: now.toISOString(), until: "2026-12-05T14:30:00.000Z" };
    expect(lastKnownPeerWindows(dir)).toEqual({ value: [] });
    expect(savePeerWindows(dir, [window], now)).toBeUndefined();
    expect(lastKnownPeerWindows(dir)).toEqual({ value: [window] });
  });
});

describe("excuseFindings: the one place where maintenance changes a verdict", () => {
  const start = new Date(2026, 11, 5, 12, 30);
  const until = new Date(2026, 11, 5, 14, 30);
  const onPrimary: MaintenanceWindow = { role: "primary", startedAt: start.toISOString(), until: until.toISOString(), reason: "upgrade to 7.9" };
  const during = new Date(2026, 11, 5, 13, 0);
  const after = new Date(2026, 11, 5, 14, 35);
  const demote: Finding = { status: "WARNING", summary: "primary carp demote 50 via group carp", detail: "primary: carp demote count 50", maintenance: ["primary"] };
  const splitBrain: Finding = { status: "CRITICAL", summary: "split brain: carp203 vhid 203 MASTER on both hosts" };

  it("excused findings only: OK, the note first", () => {
    const res = excuseFindings(resultFromFindings([demote], "all well", ["context"]), { primary: [onPrimary] }, during);
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("maintenance on primary until 14:30: primary carp demote 50 via group carp");
    const short = excuseFindings(resultFromFindings([{ ...demote, summary: "primary demoted" }], "all well"), { primary: [onPrimary] }, during);
    expect(short.summary).toBe("maintenance on primary until 14:30 (upgrade to 7.9): primary demoted");
    expect(res.details).toEqual(["excused, maintenance on primary until 14:30 (upgrade to 7.9): primary: carp demote count 50", "context"]);
    expect(res.excusable).toBeUndefined();
  });

  it("every other finding alerts as before, the excused ones as details", () => {
    const res = excuseFindings(resultFromFindings([demote, splitBrain], "all well"), { primary: [onPrimary] }, during);
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe(splitBrain.summary);
    expect(res.details).toContain("excused, maintenance on primary until 14:30 (upgrade to 7.9): primary: carp demote count 50");
  });

  it("only the named host's maintenance excuses", () => {
    const res = excuseFindings(resultFromFindings([demote], "all well"), { secondary: [{ ...onPrimary, role: "secondary" }] }, during);
    expect(res).toEqual({ status: "WARNING", summary: demote.summary, details: [demote.detail], perfdata: [] });
  });

  it("after the window, a finding still there alerts saying maintenance ended", () => {
    const res = excuseFindings(resultFromFindings([demote], "all well"), { primary: [onPrimary] }, after);
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("maintenance on primary ended 14:30: primary carp demote 50 via group...");
    const stopped = excuseFindings(resultFromFindings([demote], "all well"), { primary: [{ ...onPrimary, stoppedAt: new Date(2026, 11, 5, 13, 10).toISOString() }] }, new Date(2026, 11, 5, 13, 20));
    expect(stopped.summary).toBe("maintenance on primary ended 13:10: primary carp demote 50 via group...");
  });

  it("a day after the window, a finding is told as before", () => {
    const res = excuseFindings(resultFromFindings([demote], "all well"), { primary: [onPrimary] }, new Date(2026, 11, 6, 15, 0));
    expect(res.summary).toBe(demote.summary);
    expect(lastEnded([onPrimary], new Date(2026, 11, 6, 15, 0))).toBeUndefined();
  });

  it("no maintenance: the Result is the check's own", () => {
    const before = resultFromFindings([demote], "all well", ["context"]);
    const { excusable, ...plain } = before;
    expect(excusable?.findings).toEqual([demote]);
    expect(excuseFindings(before, {}, during)).toEqual(plain);
  });

  it("a missing pair view is excused by the peer's maintenance, the host's own faults are not", () => {
    const missing = { missing: "cannot reach primary: connection refused" };
    const alone = withoutPeerView([], missing, "secondary", ["state line"]);
    expect(alone.status).toBe("UNKNOWN");
    expect(alone.excusable?.peerAnswered).toBe(false);
    const excused = excuseFindings(alone, { primary: [onPrimary] }, during);
    expect(excused.status).toBe("OK");
    expect(excused.summary).toMatch(/^maintenance on primary until 14:30: pair view missing: cannot reach/);
    const withOwn = excuseFindings(withoutPeerView([splitBrain], missing, "secondary", []), { primary: [onPrimary] }, during);
    expect(withOwn.status).toBe("CRITICAL");
    expect(withOwn.summary).toBe(splitBrain.summary);
    const ended = excuseFindings(withoutPeerView([], missing, "secondary", []), { primary: [onPrimary] }, after);
    expect(ended.status).toBe("UNKNOWN");
    expect(ended.summary).toMatch(/^maintenance on primary ended 14:30: pair view missing/);
  });
});

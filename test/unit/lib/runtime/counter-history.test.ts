import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compareWithHistory, historyFile, measureCounterGrowth, type CounterHistory } from "../../../../src/lib/runtime/counter-history.js";

const at = (minutesAgo: number, now: Date): string => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
const NOW = new Date("2026-12-05T12:00:00.000Z");

describe("compareWithHistory", () => {
  it("is a first reading without history, and keeps it", () => {
    const { byRole, next } = compareWithHistory(undefined, { primary: { a: 1 } }, NOW, 3600);
    expect(byRole).toEqual({ primary: { kind: "first" } });
    expect(next.readings.primary).toEqual([{ at: NOW.toISOString(), counters: { a: 1 } }]);
  });

  it("compares with the previous reading and with the start of the window, and prunes older readings", () => {
    const history: CounterHistory = {
      version: 1,
      readings: {
        primary: [
          { at: at(120, NOW), counters: { a: 1 } },
          { at: at(70, NOW), counters: { a: 2 } },
          { at: at(30, NOW), counters: { a: 3 } },
          { at: at(1, NOW), counters: { a: 4 } },
        ],
      },
    };
    const { byRole, next } = compareWithHistory(history, { primary: { a: 5 } }, NOW, 3600);
    const growth = byRole.primary;
    expect(growth?.kind).toBe("compared");
    if (growth?.kind !== "compared") return;
    expect(growth.previous.counters).toEqual({ a: 4 });
    expect(growth.windowStart.counters).toEqual({ a: 2 });
    expect(next.readings.primary?.map((reading) => reading.counters["a"])).toEqual([2, 3, 4, 5]);
  });

  it("says reset when a counter went down, and starts over", () => {
    const history: CounterHistory = { version: 1, readings: { secondary: [{ at: at(1, NOW), counters: { a: 9, b: 1 } }] } };
    const { byRole, next } = compareWithHistory(history, { secondary: { a: 2, b: 1 } }, NOW, 0);
    expect(byRole.secondary).toEqual({ kind: "reset", counter: "a" });
    expect(next.readings.secondary).toHaveLength(1);
  });

  it("keeps a host's readings when it was not read this time, and ignores readings from the future", () => {
    const history: CounterHistory = { version: 1, readings: { secondary: [{ at: at(1, NOW), counters: { a: 1 } }], primary: [{ at: at(-5, NOW), counters: { a: 1 } }] } };
    const { byRole, next } = compareWithHistory(history, { primary: { a: 1 } }, NOW, 0);
    expect(byRole).toEqual({ primary: { kind: "first" } });
    expect(next.readings.secondary).toEqual(history.readings.secondary);
  });
});

describe("measureCounterGrowth", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const newDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "history-"));
    chmodSync(dir, 0o700);
    dirs.push(dir);
    return dir;
  };

  it("writes the history and reads it back on the next run", () => {
    const dir = newDir();
    expect(measureCounterGrowth(dir, "x.json", { primary: { a: 1 } }, 60, new Date(NOW.getTime() - 60_000)).byRole.primary).toEqual({ kind: "first" });
    const second = measureCounterGrowth(dir, "x.json", { primary: { a: 3 } }, 60, NOW);
    expect(second.notes).toEqual([]);
    expect(second.byRole.primary?.kind).toBe("compared");
    expect(JSON.parse(readFileSync(join(dir, "x.json"), "utf8"))).toMatchObject({ version: 1 });
  });

  it("reads a planted history file (the simulated pair's), and starts over from one in another form", () => {
    const dir = newDir();
    writeFileSync(join(dir, "x.json"), historyFile({ primary: [{ at: at(2, NOW), counters: { a: 1 } }] }));
    expect(measureCounterGrowth(dir, "x.json", { primary: { a: 2 } }, 0, NOW).byRole.primary?.kind).toBe("compared");
    writeFileSync(join(dir, "x.json"), JSON.stringify({ version: 2, readings: {} }));
    const result = measureCounterGrowth(dir, "x.json", { primary: { a: 2 } }, 0, NOW);
    expect(result.byRole.primary).toEqual({ kind: "first" });
    expect(result.notes[0]).toMatch(/not in the expected form; starting over$/);
  });

  it("still compares when the directory cannot be written, and says so", () => {
    const dir = newDir();
    writeFileSync(join(dir, "x.json"), historyFile({ primary: [{ at: at(2, NOW), counters: { a: 1 } }] }));
    chmodSync(dir, 0o777);
    const result = measureCounterGrowth(dir, "x.json", { primary: { a: 2 } }, 0, NOW);
    expect(result.byRole.primary?.kind).toBe("compared");
    expect(result.notes).toEqual([`counter readings not kept: ${dir} is writable by others (mode 777)`]);
  });
});

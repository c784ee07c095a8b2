import { describe, expect, it } from "vitest";
import { UsageError } from "../../../../src/lib/runtime/errors.js";
import { parseRange, rangeAlerts } from "../../../../src/lib/runtime/thresholds.js";

describe("Nagios ranges", () => {
  const cases: [string, number, boolean][] = [
    ["10", -1, true],
    ["10", 0, false],
    ["10", 10, false],
    ["10", 11, true],
    ["10:", 9, true],
    ["10:", 10, false],
    ["10:", 1e9, false],
    ["~:10", -1e9, false],
    ["~:10", 11, true],
    ["10:20", 9, true],
    ["10:20", 15, false],
    ["10:20", 21, true],
    ["@10:20", 9, false],
    ["@10:20", 10, true],
    ["@10:20", 20, true],
    ["@10:20", 21, false],
  ];
  it.each(cases)("range %s with value %d alerts: %s", (text, value, alerts) => {
    expect(rangeAlerts(parseRange(text), value)).toBe(alerts);
  });
  it.each(["", "abc", "20:10", "1:2:3", "@"])("rejects %j", (text) => {
    expect(() => parseRange(text, "warning")).toThrow(UsageError);
  });
});

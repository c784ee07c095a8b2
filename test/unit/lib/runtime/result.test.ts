import { describe, expect, it } from "vitest";
import { escapeControl, firstLine, formatText, result, toJson, worstStatus } from "../../../../src/lib/runtime/result.js";

describe("what a check prints", () => {
  it("keeps the text before perfdata within 80 characters", () => {
    const res = result("CRITICAL", "table badhosts differs: ".repeat(10), [], [{ label: "only_primary", value: 3, min: 0 }]);
    const line = firstLine(res);
    const [head, perf] = line.split(" | ");
    expect(head?.length).toBeLessThanOrEqual(80);
    expect(head).toMatch(/^CRITICAL: table badhosts differs: .*\.\.\.$/);
    expect(perf).toBe("only_primary=3;;;0");
  });

  it("keeps the default output within 500 bytes and says how much more -v shows", () => {
    const details = Array.from({ length: 100 }, (_, i) => `entry ${i} only on primary: 10.0.${i}.1`);
    const out = formatText(result("CRITICAL", "many", details), false);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(500);
    expect(out).toMatch(/\.\.\. \d+ more lines with -v\n$/);
    const verbose = formatText(result("CRITICAL", "many", details), true);
    expect(verbose.split("\n")).toHaveLength(102);
  });

  it("prints everything when it fits, without a 'more' line", () => {
    const out = formatText(result("OK", "fine", ["a", "b"]), false);
    expect(out).toBe("OK: fine\na\nb\n");
  });

  it("escapes control characters from files and commands", () => {
    expect(escapeControl("a\nb\tc\x1b[31m\x00\u2028")).toBe("a\\nb\\tc\\x1b[31m\\x00\\u2028");
    const out = formatText(result("WARNING", "line\nOK: fake", ["x\ry"]), false);
    expect(out.split("\n")).toEqual(["WARNING: line\\nOK: fake", "x\\ry", ""]);
  });

  it("ranks UNKNOWN above CRITICAL for a run's exit code", () => {
    expect(worstStatus(["OK", "CRITICAL", "UNKNOWN", "WARNING"])).toBe("UNKNOWN");
    expect(worstStatus(["OK", "WARNING"])).toBe("WARNING");
    expect(worstStatus([])).toBe("OK");
  });

  it("gives one JSON object with the result, the check, the host and the duration", () => {
    const json = toJson(result("WARNING", "s\x07", ["d"], [{ label: "x", value: 1 }]), { check: "carp", host: "fw1", durationMs: 12.6 });
    expect(Object.keys(json).sort()).toEqual(["check", "code", "details", "durationMs", "host", "perfdata", "status", "summary"]);
    expect(json).toMatchObject({ check: "carp", status: "WARNING", code: 1, summary: "s\\x07", durationMs: 13 });
  });
});

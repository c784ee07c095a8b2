import { describe, expect, it } from "vitest";
import { EXECUTABLES } from "../../build-executables.mjs";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { helpText } from "../../src/lib/runner.js";

describe("the check registry", () => {
  it("builds one executable per registered check, and nothing else", () => {
    const built = EXECUTABLES.map((e: { executable: string }) => e.executable).sort();
    expect(built).toEqual(ALL_CHECKS.map((c) => `check_${c.name}`).sort());
  });
  it.each(ALL_CHECKS.map((c) => [c.name, c] as const))("check_%s documents what it reads and every state", (_name, check) => {
    expect(check.reads.length).toBeGreaterThan(0);
    for (const status of ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const) expect(check.states[status].length).toBeGreaterThan(3);
    expect(helpText(check)).toContain("Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");
  });
});

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../../src/checks/index.js";
import { helpText } from "../../../src/lib/runtime/runner.js";

describe("the check registry", () => {
  const built = new URL("../../../dist/checks/", import.meta.url);
  it("builds one executable per registered check, and nothing else", () => {
    expect(existsSync(built), "dist/checks is missing: npm run build").toBe(true);
    expect(readdirSync(built).sort()).toEqual(ALL_CHECKS.map((c) => `check_${c.name}`).sort());
  });
  // The titles are string literals that minifying keeps: another check's title in an executable
  // means its entry bundled more than its own check module.
  it.each(ALL_CHECKS.filter((c) => !c.name.startsWith("drift")).map((c) => [c.name, c] as const))("check_%s bundles its own check and no other", (name, check) => {
    const code = readFileSync(new URL(`check_${name}`, built), "utf8");
    expect(code).toContain(JSON.stringify(check.title).slice(1, -1));
    expect(ALL_CHECKS.filter((other) => other !== check && code.includes(other.title)).map((other) => other.name)).toEqual([]);
  });
  it.each(ALL_CHECKS.map((c) => [c.name, c] as const))("check_%s documents what it reads and every state", (_name, check) => {
    expect(check.reads.length).toBeGreaterThan(0);
    for (const status of ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const) expect(check.states[status].length).toBeGreaterThan(3);
    expect(helpText(check)).toContain("Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checksMarkdown } from "../../src/cli/docs.js";

describe("README.md", () => {
  it("describes every check exactly as its --help does (run `npm run docs` after changing a check)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const begin = readme.indexOf("<!-- checks:begin");
    const end = readme.indexOf("<!-- checks:end -->") + "<!-- checks:end -->".length;
    expect(readme.slice(begin, end)).toBe(checksMarkdown());
  });
  it("gives the test command that .ci/run calls", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npm install && npm test");
    expect(ci).toMatch(/^npm install && npm test$/m);
  });
});

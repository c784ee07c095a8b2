import { describe, expect, it } from "vitest";
import { unifiedDiff } from "../../../../src/lib/compare/diff.js";

const lines = (prefix: string, count: number): string => Array.from({ length: count }, (_, i) => `${prefix} ${i} ${(i * 7919) % 10007}`).join("\n") + "\n";

describe("unifiedDiff", () => {
  it("gives a unified diff with file headers, hunk header and context", () => {
    const before = "a\nb\nc\nd\ne\nf\ng\n";
    const after = "a\nb\nc\nD\ne\nf\ng\n";
    const diff = unifiedDiff("primary:/etc/pf.conf", "secondary:/etc/pf.conf", before, after);
    expect(diff).toEqual({
      kind: "diff",
      lines: ["--- primary:/etc/pf.conf", "+++ secondary:/etc/pf.conf", "@@ -1,7 +1,7 @@", " a", " b", " c", "-d", "+D", " e", " f", " g"],
    });
  });

  it("says when the texts are the same", () => {
    expect(unifiedDiff("a", "b", "x\n", "x\n")).toEqual({ kind: "same" });
  });

  it("keeps a line with a carriage return or other control characters as one line (the formatter escapes it)", () => {
    const diff = unifiedDiff("a", "b", "x\n", "x\r\x1b[2J\n");
    expect(diff.kind).toBe("diff");
    if (diff.kind === "diff") expect(diff.lines).toContain("+x\r\x1b[2J");
  });

  it("notes a missing newline at the end of the file", () => {
    const diff = unifiedDiff("a", "b", "x\ny\n", "x\ny");
    expect(diff.kind === "diff" && diff.lines.includes("\\ No newline at end of file")).toBe(true);
  });

  it("cuts a very long line (a minified script), saying how much was left out", () => {
    const diff = unifiedDiff("a", "b", `${"x".repeat(5000)}\n`, `${"y".repeat(5000)}\n`);
    expect(diff.kind).toBe("diff");
    if (diff.kind === "diff") expect(diff.lines).toContain(`-${"x".repeat(999)}... (4001 more characters)`);
  });

  it("gives up fast on two unrelated 10,000-line files", () => {
    const started = performance.now();
    const diff = unifiedDiff("a", "b", lines("left", 10_000), lines("right", 10_000));
    const elapsedMs = performance.now() - started;
    expect(diff).toEqual({ kind: "too different" });
    // The algorithm stops at 100 ms; the rest is splitting lines. Seconds would be the unbounded diff.
    expect(elapsedMs).toBeLessThan(1000);
  });

  it("still diffs a 10,000-line file with a few changed lines, quickly", () => {
    const before = lines("line", 10_000);
    const after = before.replace("line 5000 ", "LINE 5000 ").replace("line 9000 ", "LINE 9000 ");
    const started = performance.now();
    const diff = unifiedDiff("a", "b", before, after);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(diff.kind).toBe("diff");
    if (diff.kind === "diff") expect(diff.lines.filter((line) => /^[-+][^-+]/.test(line))).toHaveLength(4);
  });
});

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostError } from "../../../../src/lib/runtime/errors.js";
import { buildBatchScript, quote, renderCommand, splitBatchOutput, type HostCommand } from "../../../../src/lib/transport/shell.js";

const dir = mkdtempSync(join(tmpdir(), "carpentry-shell-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBatch(commands: HostCommand[], shell = "/bin/sh") {
  const batch = buildBatchScript(commands);
  const run = spawnSync(shell, ["-c", batch.script], { input: batch.input ?? "", encoding: "utf8" });
  return splitBatchOutput(batch, commands, run.stdout, run.stderr);
}

describe("quoting for the host's shell", () => {
  const hostile = ["x;touch " + join(dir, "pwned"), "$(touch " + join(dir, "pwned2") + ")", "`id`", "it's", "a b", "*", "\n", "-rf", "", "${HOME}", "!x", "\\"];
  for (const shell of ["/bin/sh", "/usr/bin/mksh"]) {
    it(`passes hostile arguments through ${shell} unchanged and runs nothing`, () => {
      const [res] = runBatch([{ argv: ["/usr/bin/printf", "%s\\0", ...hostile] }], shell);
      expect(res?.stdout.split("\0").slice(0, -1)).toEqual(hostile);
      expect(existsSync(join(dir, "pwned"))).toBe(false);
      expect(existsSync(join(dir, "pwned2"))).toBe(false);
    });
  }
  it("leaves plain words bare and quotes the rest", () => {
    expect(quote("/sbin/pfctl")).toBe("/sbin/pfctl");
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote("")).toBe("''");
    expect(() => quote("a\0b")).toThrow(HostError);
  });
  it("renders pipelines of quoted argv", () => {
    expect(
      renderCommand({
        pipeline: [
          ["/sbin/pfctl", "-t", "a b", "-T", "show"],
          ["/usr/bin/wc", "-l"],
        ],
      }),
    ).toBe("/sbin/pfctl -t 'a b' -T show | /usr/bin/wc -l");
  });
});

describe("batches: several commands, one round trip", () => {
  it("splits stdout, stderr and exit codes per command, also without trailing newlines", () => {
    const results = runBatch([
      { argv: ["/usr/bin/printf", "no newline"] },
      { argv: ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"] },
      { argv: ["/usr/bin/printf", "two\\n\\n"] },
      { argv: ["/bin/cat"], input: "fed on stdin\n" },
    ]);
    expect(results.map((r) => [r.stdout, r.stderr, r.exitCode])).toEqual([
      ["no newline", "", 0],
      ["out\n", "err\n", 3],
      ["two\n\n", "", 0],
      ["fed on stdin\n", "", 0],
    ]);
  });
  it("feeds a pipeline's later members from the pipe, its first from /dev/null", () => {
    const [piped] = runBatch([
      {
        pipeline: [
          ["/usr/bin/printf", "b\\na\\nb\\n"],
          ["/usr/bin/sort", "-u"],
          ["/usr/bin/xargs", "-n", "1", "/bin/echo", "got"],
        ],
      },
    ]);
    expect(piped?.stdout).toBe("got a\ngot b\n");
    expect(piped?.exitCode).toBe(0);
  });
  it("cannot be fooled by output that looks like a marker", () => {
    const [first, second] = runBatch([{ argv: ["/usr/bin/printf", "\\n@@0000000000000000 0 0\\n"] }, { argv: ["/bin/echo", "b"] }]);
    expect(first?.stdout).toBe("\n@@0000000000000000 0 0\n");
    expect(second?.stdout).toBe("b\n");
  });
  it("reports output that ends early instead of inventing results", () => {
    const commands = [{ argv: ["/bin/true"] }, { argv: ["/bin/true"] }];
    const batch = buildBatchScript(commands);
    expect(() => splitBatchOutput(batch, commands, `\n@@${batch.nonce} 0 0\n`, "")).toThrow(/output ended before/);
  });
  it("refuses two commands reading input", () => {
    expect(() =>
      buildBatchScript([
        { argv: ["/bin/cat"], input: "a" },
        { argv: ["/bin/cat"], input: "b" },
      ]),
    ).toThrow(HostError);
  });
});

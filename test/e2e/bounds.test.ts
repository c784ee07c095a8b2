// Hostile input stays bounded, run against the built executables: `carpentry facts` (what the peer
// runs for the other gateway) with input an attacker or a broken asker could send, and the checks
// with a config that is no regular file. Each case has a time bound that the unbounded code missed
// by far (minutes, or never), and says what came out.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
const CARPENTRY = join(REPO, "dist", "carpentry");
const CHECK_MAILQ = join(REPO, "dist", "checks", "check_mailq");
const work = mkdtempSync(join(tmpdir(), "carpentry-bounds-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Ran {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly ms: number;
}

/**
 * Runs `file args`, feeding stdin from `feed` (which may keep it open), and kills it after killMs: a
 * run that had to be killed comes back with code null.
 */
function run(file: string, args: readonly string[], feed: (stdin: NodeJS.WritableStream) => void, killMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.stdin.on("error", () => undefined);
    const timer = setTimeout(() => child.kill("SIGKILL"), killMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, ms: performance.now() - started });
    });
    feed(child.stdin);
  });
}

const request = (op: string, args: unknown, deadlineMs: number): string => JSON.stringify({ protocol: 2, version: "test", deadlineMs, op, args });
const lastAnswer = (stdout: string): { ok: boolean; error?: string; value?: unknown } => JSON.parse(stdout.trim().split("\n").pop() ?? "") as { ok: boolean; error?: string };

/** Writes `total` bytes of `byte` without holding them all, stopping when the reader is gone. */
function writeMany(stdin: NodeJS.WritableStream, byte: number, total: number): void {
  const chunk = Buffer.alloc(1024 * 1024, byte);
  let left = total;
  const more = (): void => {
    while (left > 0) {
      left -= chunk.length;
      if (!stdin.write(chunk)) {
        stdin.once("drain", more);
        return;
      }
    }
    stdin.end();
  };
  stdin.on("close", () => (left = 0));
  more();
}

describe("carpentry facts on hostile input", () => {
  it("refuses 200 MB of whitespace on stdin in seconds, without holding it", async () => {
    const ran = await run(CARPENTRY, ["facts"], (stdin) => writeMany(stdin, 0x20, 200 * 1024 * 1024), 20_000);
    expect(ran.code).toBe(0);
    expect(lastAnswer(ran.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/line longer than 8 MiB/) as unknown });
    expect(ran.ms).toBeLessThan(15_000);
  });

  it("refuses 200 KB of 0xff varints at once, well within deadlineMs 1000", async () => {
    const keys = { count: 1, byCreator: { "0a0b0c0d": Buffer.alloc(200 * 1024, 0xff).toString("base64") } };
    const ran = await run(CARPENTRY, ["facts"], (stdin) => stdin.end(request("pfStateMatch", { keys, minAgeSeconds: 0 }, 1000) + "\n"), 20_000);
    expect(lastAnswer(ran.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/varint longer than 64 bits/) as unknown });
    expect(ran.ms).toBeLessThan(5_000);
  });

  it("refuses JSON nested a million deep, or of millions of empty objects", async () => {
    const deep = await run(CARPENTRY, ["facts"], (stdin) => stdin.end("[".repeat(4_000_000) + "\n"), 20_000);
    expect(lastAnswer(deep.stdout)).toMatchObject({ ok: false, error: "the request is JSON nested deeper than 64" });
    const wide = await run(CARPENTRY, ["facts"], (stdin) => stdin.end(`[${"{},".repeat(2_000_000)}{}]\n`), 20_000);
    expect(lastAnswer(wide.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/more than 1000000 objects and arrays/) as unknown });
  });

  it("ends an unanswered question at the request's deadline, stdin still open", async () => {
    let held: NodeJS.WritableStream | undefined;
    const ran = await run(
      CARPENTRY,
      ["facts"],
      (stdin) => {
        held = stdin;
        stdin.write(request("fileSets", { sets: [] }, 1000) + "\n");
      },
      20_000,
    );
    held?.end();
    expect(ran.code).toBe(0);
    expect(ran.stdout.split("\n")[0]).toMatch(/"question":\{"digests":\{\}\}/);
    expect(lastAnswer(ran.stdout)).toMatchObject({ ok: false, error: "gave up at the request's deadline (1000 ms)" });
    expect(ran.ms).toBeLessThan(10_000);
  });

  it("clamps deadlineMs 1e12 to its maximum, without a warning on stderr", async () => {
    const ran = await run(CARPENTRY, ["facts"], (stdin) => stdin.end(request("readFiles", { paths: ["/etc/hostname"], withContent: false, maxBytes: 0 }, 1e12) + "\n"), 20_000);
    expect(ran.stderr).toBe("");
    expect(lastAnswer(ran.stdout)).toMatchObject({ ok: true });
  });

  it("reads no more of a file than maxBytes asks for, yet hashes it whole", async () => {
    const ran = await run(CARPENTRY, ["facts"], (stdin) => stdin.end(request("readFiles", { paths: ["/dev/zero"], withContent: true, maxBytes: 10 }, 1000) + "\n"), 20_000);
    // /dev/zero is no regular file: neither read nor hashed.
    expect(lastAnswer(ran.stdout)).toMatchObject({ ok: true, value: [{ path: "/dev/zero", type: "other" }] });
    const big = join(work, "big");
    execFileSync("dd", ["if=/dev/zero", `of=${big}`, "bs=1M", "count=64", "status=none"]);
    const answered = await run(CARPENTRY, ["facts"], (stdin) => stdin.end(request("readFiles", { paths: [big], withContent: true, maxBytes: 10 }, 5000) + "\n"), 20_000);
    const [file] = lastAnswer(answered.stdout).value as { sha256: string; content?: string }[];
    expect(file?.content).toBeUndefined();
    expect(file?.sha256).toBe(createHash("sha256").update(readFileSync(big)).digest("hex"));
  });
});

describe("a check with a config that is no regular file", () => {
  it.each([["/dev/zero", /is a device, not a regular file/]])("--config %s: UNKNOWN at once, naming the file", async (path, why) => {
    const ran = await run(CHECK_MAILQ, ["--config", path, "-t", "2"], (stdin) => stdin.end(), 10_000);
    expect(ran.code).toBe(3);
    expect(ran.stdout).toMatch(new RegExp(`^UNKNOWN: config error: ${path}\n`));
    expect(ran.stdout).toMatch(why);
    expect(ran.ms).toBeLessThan(5_000);
  });

  it("--config FIFO: UNKNOWN at once, not waiting for a writer", async () => {
    const fifo = join(work, "carpentry.toml");
    execFileSync("mkfifo", [fifo]);
    const ran = await run(CHECK_MAILQ, ["--config", fifo, "-t", "2"], (stdin) => stdin.end(), 10_000);
    expect(ran.code).toBe(3);
    expect(ran.stdout).toContain(`config error: ${fifo}`);
    expect(ran.stdout).toMatch(/is a FIFO, not a regular file/);
  });
});

describe("carpentry check and run --json: a usage error is JSON too", () => {
  it.each([
    [["check", "mailq", "--json", "--bogus"], /^bad arguments: unknown option '--bogus'/],
    [["check", "mailq", "--json", "-w", "20:10"], /^bad warning '20:10'/],
    [["check", "no_such_check", "--json"], /^no check named no_such_check/],
    [["run", "--json", "-j", "99"], /^bad --parallel 99/],
  ])("carpentry %j", async (args, summary) => {
    const config = join(work, "ok.toml");
    writeFileSync(config, 'role = "secondary"\n[peer]\nhost = "192.0.2.1"\n', { mode: 0o600 });
    const ran = await run(CARPENTRY, ["--config", config, ...args], (stdin) => stdin.end(), 20_000);
    expect(ran.code).toBe(3);
    const out = JSON.parse(ran.stdout) as { status: string; code: number; summary: string };
    expect(out).toMatchObject({ status: "UNKNOWN", code: 3 });
    expect(out.summary).toMatch(summary);
  });
});

// The cycle server's exchange, in-process: requests as the checks' shell header sends them, answers
// as it reads them (readCycleAnswer mirrors the header's case patterns), over a real unix socket.
import { mkdtempSync, rmSync, statSync, chmodSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CycleServer, unsafeDirectory } from "../../../src/cli/cycle.js";
import { findCheck } from "../../../src/checks/index.js";
import { answerText, formatCycleRequest, parseCycleRequest, readCycleAnswer, refusalLine, acceptedLine, type CycleRequest } from "../../../src/lib/runtime/cycle.js";
import { answerStandalone } from "../../../src/lib/runtime/runner.js";

const BUILD = "0123456789abcdef";
const request = (over: Partial<CycleRequest> = {}): CycleRequest => ({ build: BUILD, check: "mailq", cwd: "/", config: undefined, argv: ["-t", "10"], ...over });

function ask(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.end(text);
  });
}

describe("the request", () => {
  it("reads back what the header sends, arguments with spaces and empty ones included", () => {
    const sent = request({ config: "/etc/other.toml", argv: ["--config", "/etc/a b.toml", "", "-w", "~:10"] });
    expect(parseCycleRequest(formatCycleRequest(sent))).toEqual(sent);
  });

  it("is incomplete until its end line, and refused when it is not a request or too long", () => {
    const text = formatCycleRequest(request());
    expect(parseCycleRequest(text.slice(0, -4))).toBe("incomplete");
    expect(parseCycleRequest("GET / HTTP/1.0\nend\n")).toEqual({ bad: "not a cycle request" });
    expect(parseCycleRequest(`carpentry-cycle ${BUILD}\ncheck mailq\ncwd /\nenv X=1\nend\n`)).toEqual({ bad: "unknown line 'env'" });
    expect(parseCycleRequest(`carpentry-cycle ${BUILD}\narg x\nend\n`)).toEqual({ bad: "no check or no cwd" });
    expect(parseCycleRequest("x".repeat(70_000))).toEqual({ bad: "request too long" });
  });
});

describe("the answer, as the header reads it", () => {
  it("gives back the exact output and exit code, trailing newlines and all", () => {
    for (const output of ["OK: fine\n", "CRITICAL: a\nb\n\n", "no newline", ""]) {
      expect(readCycleAnswer(BUILD, acceptedLine(BUILD) + answerText(BUILD, 2, output))).toEqual({ kind: "answered", code: 2, output });
    }
  });

  it("tells an answer cut short (a server that died mid-check) from none and from a refusal", () => {
    const whole = acceptedLine(BUILD) + answerText(BUILD, 0, "OK: fine\n");
    expect(readCycleAnswer(BUILD, whole.slice(0, -3))).toEqual({ kind: "cut" });
    expect(readCycleAnswer(BUILD, acceptedLine(BUILD))).toEqual({ kind: "cut" });
    expect(readCycleAnswer(BUILD, "")).toEqual({ kind: "none" });
    expect(readCycleAnswer(BUILD, refusalLine(BUILD, "other build"))).toEqual({ kind: "refused", reason: "other build" });
    // Another build's answer is no answer for this header.
    expect(readCycleAnswer(BUILD, acceptedLine("fedcba9876543210") + answerText("fedcba9876543210", 0, "OK\n"))).toEqual({ kind: "none" });
  });
});

describe("the directory", () => {
  let dir: string | undefined;
  afterEach(() => rmSync(dir ?? "/nonexistent", { recursive: true, force: true }));

  it("must be ours alone", () => {
    dir = mkdtempSync(join(tmpdir(), "carpentry-cycle-"));
    const uid = process.geteuid?.() ?? 0;
    expect(unsafeDirectory(dir, uid)).toBeUndefined();
    chmodSync(dir, 0o750);
    expect(unsafeDirectory(dir, uid)).toMatch(/open to group or others \(mode 750\)/);
    expect(unsafeDirectory(dir, uid + 1)).toMatch(/belongs to uid/);
    expect(unsafeDirectory(join(dir, "none"), uid)).toMatch(/does not exist/);
  });
});

describe("the server", () => {
  let dir: string | undefined;
  let server: CycleServer | undefined;
  afterEach(async () => {
    server?.close();
    await server?.closed;
    rmSync(dir ?? "/nonexistent", { recursive: true, force: true });
  });

  async function started(idleExitMs = 60_000): Promise<CycleServer> {
    dir = mkdtempSync(join(tmpdir(), "carpentry-cycle-"));
    server = new CycleServer({ dir, build: BUILD, idleExitMs });
    expect(await server.listen()).toBe(true);
    return server;
  }

  it("answers a check exactly as the check alone gives it, on a socket only its owner may use", async () => {
    const { path } = await started();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const mailq = findCheck("mailq");
    if (!mailq) throw new Error("no mailq check");
    const config = join(dir ?? "", "missing.toml");
    for (const argv of [["--version"], ["--help"], ["--config", config, "-t", "5"], ["--config", config, "--json"], ["--bogus"]]) {
      const alone = await answerStandalone(mailq, argv);
      const served = readCycleAnswer(BUILD, await ask(path, formatCycleRequest(request({ argv }))));
      const expected = argv.includes("--json") ? { ...alone, text: alone.text.replace(/"durationMs":[\d.]+/, "") } : alone;
      const got = served.kind === "answered" ? { text: served.output.replace(/"durationMs":[\d.]+/, ""), code: served.code } : served;
      expect(got).toEqual(expected);
    }
  });

  it("takes $CARPENTRY_CONFIG from the check's environment, not its own", async () => {
    const { path } = await started();
    const answer = readCycleAnswer(BUILD, await ask(path, formatCycleRequest(request({ config: "/nonexistent/from-env.toml" }))));
    expect(answer.kind === "answered" && answer.output).toMatch(/from-env\.toml/);
  });

  it("refuses another build's check, an unknown check and a relative config from another directory: they run alone", async () => {
    const { path } = await started();
    const other = "fedcba9876543210";
    expect(readCycleAnswer(other, await ask(path, formatCycleRequest(request({ build: other }))))).toEqual({ kind: "refused", reason: `server of build ${BUILD}, check of build ${other}` });
    expect(readCycleAnswer(BUILD, await ask(path, formatCycleRequest(request({ check: "nosuch" }))))).toEqual({ kind: "refused", reason: "no check nosuch in this build" });
    const relative = request({ cwd: "/somewhere/else", argv: ["--config", "carpentry.toml"] });
    expect(readCycleAnswer(BUILD, await ask(path, formatCycleRequest(relative)))).toEqual({ kind: "refused", reason: "relative config path from another directory" });
  });

  it("keeps the answers of requests that overlap apart", async () => {
    const { path } = await started();
    const argvs = Array.from({ length: 12 }, (_, i) => (i % 2 ? ["--version"] : ["--config", `/nonexistent/${i}.toml`]));
    const answers = await Promise.all(argvs.map((argv) => ask(path, formatCycleRequest(request({ argv })))));
    answers.forEach((answer, i) => {
      const read = readCycleAnswer(BUILD, answer);
      expect(read.kind).toBe("answered");
      if (read.kind === "answered") expect(read.output).toContain(i % 2 ? "check_mailq " : `/nonexistent/${i}.toml`);
    });
  });

  it("leaves a live server of its build alone, and takes over the socket of a dead one", async () => {
    const first = await started();
    const second = new CycleServer({ dir: dir ?? "", build: BUILD, idleExitMs: 60_000 });
    expect(await second.listen()).toBe(false);
    // A server killed without closing leaves its socket file behind.
    const stale = join(dir ?? "", `${BUILD}.sock`);
    first.close();
    await first.closed;
    const { Server } = await import("node:net");
    const leftover = new Server();
    await new Promise<void>((resolve) => leftover.listen(stale, resolve));
    // Close the listener but keep the file, as a SIGKILL would.
    (leftover as unknown as { _handle: { close(): void } | null })._handle?.close();
    const third = new CycleServer({ dir: dir ?? "", build: BUILD, idleExitMs: 60_000 });
    expect(await third.listen()).toBe(true);
    server = third;
  });

  it("never leaves a header hanging that connects as it closes: it is answered or turned away at once", async () => {
    const outcomes: string[] = [];
    const asked = (path: string): Promise<string> =>
      Promise.race([
        ask(path, formatCycleRequest(request({ argv: ["--version"] }))).then(
          (answer) => readCycleAnswer(BUILD, answer).kind,
          (error: NodeJS.ErrnoException) => `turned away: ${error.code ?? "?"}`,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve("hung"), 2000)),
      ]);
    // A header each around the moment the server, idle for 50 ms, ends.
    for (let delayMs = 44; delayMs <= 58; delayMs++) {
      const s = await started(50);
      expect(await asked(s.path)).toBe("answered");
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      outcomes.push(await asked(s.path));
      s.close();
      await s.closed;
      rmSync(dir ?? "/nonexistent", { recursive: true, force: true });
    }
    server = undefined;
    expect(outcomes).not.toContain("hung");
    expect(outcomes).toContain("answered");
    expect(outcomes.some((o) => o.startsWith("turned away"))).toBe(true);
  });

  it("ends by itself when idle, removing its socket", async () => {
    const s = await started(200);
    await s.closed;
    expect(() => statSync(s.path)).toThrow();
    server = undefined;
  });
});

// The header's side of an answer through its FIFO, run as the header runs it: its own shell
// functions, in mksh (the simulated gateways' /bin/sh), reading what the server writes there
// (fifoAnswerText). The output must come out byte for byte as the check prints it alone.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptedLine, fifoAnswerText, readFifoAnswer, refusalLine } from "../../../src/lib/runtime/cycle.js";

const BUILD = "0123456789abcdef";
let dir: string;
// The build's own JavaScript (build.mjs makes the headers with it), which has no type declarations.
const HEADER_MODULE = "../../../cycle-header.mjs";
let cycleHeaderLines: (check: string, build: string) => string[];

beforeAll(async () => {
  ({ cycleHeaderLines } = (await import(HEADER_MODULE)) as { cycleHeaderLines: typeof cycleHeaderLines });
  dir = mkdtempSync(join(tmpdir(), "carpentry-fifo-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The header's functions (not its call), then a FIFO set up as carpentry_cycle_ask sets it up, holding `text`. */
function readAsHeader(text: string): { stdout: string; code: number | null } {
  const functions = cycleHeaderLines("check_mailq", BUILD).slice(0, -1).join("\n");
  const answer = join(dir, "answer");
  writeFileSync(answer, text);
  const script = [
    functions,
    `cy_d='${dir}'; cy_nl='`,
    "'; cy_t=2; cy_w=3; cy_0=$SECONDS",
    'carpentry_cycle_say() { print -rn -- "$1"; }',
    'cy_f=$cy_d/a.$$; rm -f "$cy_f"; mkfifo -m 600 "$cy_f"; exec 4<>"$cy_f" 3<"$cy_f"',
    // What the server writes, through the header's own writing end, which carpentry_cycle_fifo
    // closes first: then the end of what was written is the end of the file, as when a server dies.
    `cat '${answer}' >&4`,
    "carpentry_cycle_fifo",
    'echo "returned $?: run alone"',
  ].join("\n");
  // stdin open (/dev/null), as monit and a shell give it: with 0 closed, the FIFO's own open would take fd 0.
  const run = spawnSync("mksh", ["-c", script], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
  return { stdout: run.stdout, code: run.status };
}

describe("an answer through the header's FIFO", () => {
  it("is the check's exact output and exit code, whatever its lines hold", () => {
    const outputs = ["OK: fine\n", "CRITICAL: a\nb\n\n", "no newline", "", "\n", "  leading\\back\\slash\ttab \n", "carpentry-cycle-end\nmore\n"];
    for (const [i, output] of outputs.entries()) {
      expect(readAsHeader(fifoAnswerText(BUILD, i % 4, output)), JSON.stringify(output)).toEqual({ stdout: output, code: i % 4 });
      // As the server writes it: "accepted" first, once it has the FIFO open.
      expect(readAsHeader(acceptedLine(BUILD) + fifoAnswerText(BUILD, i % 4, output)), JSON.stringify(output)).toEqual({ stdout: output, code: i % 4 });
    }
  });

  it("cut short by a server that died, or garbled, is no answer: the check runs alone while it has time", () => {
    const whole = fifoAnswerText(BUILD, 2, "CRITICAL: a\nb\nc\n");
    // The watchdog's word that the server is gone ends what the server wrote, wherever that stopped.
    const gone = "carpentry-cycle-gone\n";
    for (const text of [
      gone,
      whole.slice(0, whole.indexOf("\n") + 1) + gone,
      whole.replace(/c\ncarpentry-cycle-end\n$/, gone),
      whole.replace(/carpentry-cycle-end\n$/, gone),
      "x\n",
      "carpentry-cycle fedcba9876543210 0 0 1\ncarpentry-cycle-end\n",
      fifoAnswerText(BUILD, 0, "OK\ncarpentry-cycle-late\n"),
    ]) {
      expect(readAsHeader(text), JSON.stringify(text)).toEqual({ stdout: "returned 0: run alone\n", code: 0 });
    }
  });

  it("refused (another build, a relative config from elsewhere) is no answer either: the check runs alone", () => {
    expect(readAsHeader(refusalLine(BUILD, "server of build x, check of build y"))).toEqual({ stdout: "returned 0: run alone\n", code: 0 });
  });

  it("ends at the watchdog's late line: UNKNOWN, timed out, exit 3", () => {
    expect(readAsHeader("carpentry-cycle-late\n")).toEqual({ stdout: "UNKNOWN: timed out after 2s waiting for the cycle server\n", code: 3 });
    // Between the lines of an answer the server wrote too late: the same.
    const late = fifoAnswerText(BUILD, 0, "OK: a\nb\n").replace("b\n", "carpentry-cycle-late\nb\n");
    expect(readAsHeader(late).code).toBe(3);
  });

  it("reads back in the tests' reader as the shell does", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", " ", "\n", "\\", "\t", "é", "carpentry-cycle-end") }), fc.integer({ min: 0, max: 3 }), (output, code) => {
        expect(readFifoAnswer(BUILD, fifoAnswerText(BUILD, code, output))).toEqual({ kind: "answered", code, output });
      }),
    );
  });
});

it("asks nothing and says nothing on stderr while there is no watchdog, no server pid and no socket yet", () => {
  const functions = cycleHeaderLines("check_mailq", BUILD).slice(0, -1).join("\n");
  const empty = mkdtempSync(join(dir, "empty-"));
  const script = [
    functions,
    `cy_d='${empty}'; cy_nl='`,
    `'; cy_t=2; cy_w=3; cy_0=$SECONDS; cy_s='${empty}/${BUILD}.sock'; cy_l='${empty}/${BUILD}.start'`,
    'carpentry_cycle_say() { print -rn -- "$1"; }',
    "carpentry_cycle_ask -t 2",
    'echo "returned $?"',
  ].join("\n");
  const run = spawnSync("mksh", ["-c", script], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
  expect({ stdout: run.stdout, stderr: run.stderr }).toEqual({ stdout: "returned 1\n", stderr: "" });
});

describe("a header that asks through its FIFO", () => {
  /** The header's ask in `askDir`, with a stand-in watchdog and server (each a `sleep` the test
   * started; SIGURG leaves it be), plus `extra` shell lines before the ask. */
  function asking(askDir: string, extra: string[] = []): ReturnType<typeof spawn> {
    const functions = cycleHeaderLines("check_mailq", BUILD).slice(0, -1).join("\n");
    const script = [
      functions,
      `cy_d='${askDir}'; cy_nl='`,
      `'; cy_t=2; cy_w=3; cy_0=$SECONDS; cy_s='${askDir}/${BUILD}.sock'; cy_l='${askDir}/${BUILD}.start'`,
      'carpentry_cycle_say() { print -rn -- "$1"; }',
      ...extra,
      "carpentry_cycle_ask -t 2",
      'echo "returned $?"',
    ].join("\n");
    return spawn("mksh", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
  }

  async function finished(child: ReturnType<typeof spawn>, ms: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await Promise.race([new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c))), new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), ms))]);
    if (code === "hung") {
      child.kill("SIGKILL");
      throw new Error(`the header still waits after ${String(ms)} ms: ${stdout}${stderr}`);
    }
    return { stdout, stderr, code };
  }

  function standIns(askDir: string): { watchdog: ReturnType<typeof spawn>; server: ReturnType<typeof spawn> } {
    const watchdog = spawn("sleep", ["30"], { stdio: "ignore" });
    const server = spawn("sleep", ["30"], { stdio: "ignore" });
    execFileSync("mkdir", [join(askDir, `${BUILD}.start`)]);
    writeFileSync(join(askDir, `${BUILD}.start`, "pid"), `${String(server.pid)}\n`);
    writeFileSync(join(askDir, `${BUILD}.watch`), `${String(watchdog.pid)}\n`);
    return { watchdog, server };
  }

  it("leaves its request, says it waits, and prints the answer the server writes into its FIFO", async () => {
    const askDir = mkdtempSync(join(dir, "ask-"));
    const { watchdog, server } = standIns(askDir);
    try {
      const header = asking(askDir);
      const done = finished(header, 8000);
      // The server's part: the request file, then the answer through the header's FIFO.
      let request = "";
      for (let i = 0; i < 200 && !request.endsWith("end\n"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        request = existsSync(join(askDir, `r.${String(header.pid)}`)) ? readFileSync(join(askDir, `r.${String(header.pid)}`), "utf8") : "";
      }
      expect(request).toBe(`carpentry-cycle ${BUILD}\ncheck mailq\ncwd ${process.cwd()}\narg -t\narg 2\nend\n`);
      expect(readFileSync(join(askDir, `w.${String(header.pid)}`), "utf8")).toMatch(new RegExp(`^left [23] ${String(server.pid)}\n$`));
      const fifo = openSync(join(askDir, `a.${String(header.pid)}`), constants.O_WRONLY | constants.O_NONBLOCK);
      writeFileSync(fifo, acceptedLine(BUILD) + fifoAnswerText(BUILD, 1, "WARNING: mail waits\n"));
      closeSync(fifo);
      expect(await done).toEqual({ stdout: "WARNING: mail waits\n", stderr: "", code: 1 });
      expect(readFileSync(join(askDir, `w.${String(header.pid)}`), "utf8")).toBe("done\n");
    } finally {
      for (const child of [watchdog, server]) child.kill("SIGKILL");
    }
  });

  it("does not wait unwatched when the watchdog ends as it says it waits: it takes its files back and turns to the socket", async () => {
    const askDir = mkdtempSync(join(dir, "ask-"));
    const { watchdog, server } = standIns(askDir);
    try {
      // The watchdog's last step, taken just as the header writes that it waits.
      const say = ['carpentry_cycle_say() { case $1 in left*) rm -f "$cy_d/' + BUILD + '.watch";; esac; print -rn -- "$1"; }'];
      const header = asking(askDir, say);
      // No socket here: the way over it ends at once, with "not asked".
      expect(await finished(header, 8000)).toEqual({ stdout: "returned 1\n", stderr: "", code: 0 });
      expect(readdirSync(askDir).sort()).toEqual([`${BUILD}.start`]);
    } finally {
      for (const child of [watchdog, server]) child.kill("SIGKILL");
    }
  });
});

it("never lets the watchdog's command line through to node, whatever makes the cycle block return", () => {
  const lines = [...cycleHeaderLines("check_mailq", BUILD), '":" //; echo node-ran; exit 0'].join("\n");
  const script = join(dir, "check_mailq");
  writeFileSync(script, `#!/bin/sh\n${lines}\n`, { mode: 0o755 });
  const run = spawnSync("mksh", [script, "--cycle-watch", "123"], { encoding: "utf8", timeout: 10_000, env: { ...process.env, CARPENTRY_CYCLE: "alone" }, stdio: ["ignore", "pipe", "pipe"] });
  expect({ stdout: run.stdout, code: run.status }).toEqual({ stdout: "UNKNOWN: --cycle-watch is the cycle server's own\n", code: 3 });
  // Typed by hand with no pid: the same one line.
  const byHand = spawnSync("mksh", [script, "--cycle-watch", "x"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
  expect({ stdout: byHand.stdout, code: byHand.status }).toEqual({ stdout: "UNKNOWN: --cycle-watch is the cycle server's own\n", code: 3 });
  // A check's own arguments still go on to node.
  expect(spawnSync("mksh", [script, "-t", "5"], { encoding: "utf8", timeout: 10_000, env: { ...process.env, CARPENTRY_CYCLE: "alone" } }).stdout).toBe("node-ran\n");
});

describe("the watchdog", () => {
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  /** What is waiting in a FIFO the test holds open (read-write, not blocking), or "" */
  function drain(fd: number): string {
    const buffer = Buffer.alloc(4096);
    try {
      return buffer.subarray(0, readSync(fd, buffer)).toString();
    } catch {
      return "";
    }
  }

  it("times its server's headers out, tells them when it is gone, removes only what is done, and ends after its server", async () => {
    const watchDir = mkdtempSync(join(dir, "watch-"));
    // A stand-in for the server: the watchdog only asks whether its pid lives.
    const server = spawn("sleep", ["30"], { stdio: "ignore" });
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    const fifo = (name: string): number => {
      execFileSync("mkfifo", ["-m", "600", join(watchDir, name)]);
      return openSync(join(watchDir, name), constants.O_RDWR | constants.O_NONBLOCK);
    };
    // 1: waits with no time left; 2: waits with time left; 3: done; 4: being written (empty);
    // 5: another server's header.
    const late = fifo("a.1");
    const waiting = fifo("a.2");
    const foreign = fifo("a.5");
    writeFileSync(join(watchDir, "w.1"), `left 0 ${server.pid}\n`);
    writeFileSync(join(watchDir, "w.2"), `left 60 ${server.pid}\n`);
    writeFileSync(join(watchDir, "r.2"), "a request\n");
    writeFileSync(join(watchDir, "w.3"), "done\n");
    fifo("a.3");
    writeFileSync(join(watchDir, "w.4"), "");
    writeFileSync(join(watchDir, "w.5"), `left 0 ${other.pid}\n`);
    const functions = cycleHeaderLines("check_mailq", BUILD).slice(0, -1).join("\n");
    const script = [functions, `cy_d='${watchDir}'; cy_nl='`, "'", 'carpentry_cycle_say() { print -rn -- "$1"; }', `carpentry_cycle_watch ${server.pid}`, "echo ended"].join("\n");
    const watchdog = spawn("mksh", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    watchdog.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const ended = new Promise<void>((resolve) => watchdog.on("exit", () => resolve()));
    try {
      // Its own clock's whole seconds, one more, and its look every half second.
      await sleep(3000);
      expect(drain(late)).toBe("carpentry-cycle-late\n");
      expect(existsSync(join(watchDir, "w.1"))).toBe(false);
      expect(readFileSync(join(watchDir, "w.2"), "utf8")).toMatch(new RegExp(`^at \\d+ ${server.pid}\n$`));
      expect(drain(waiting)).toBe("");
      expect(["w.3", "a.3"].map((name) => existsSync(join(watchDir, name)))).toEqual([false, false]);
      expect(existsSync(join(watchDir, "w.4"))).toBe(true);
      expect(drain(foreign)).toBe("");
      expect(readFileSync(join(watchDir, "w.5"), "utf8")).toBe(`left 0 ${other.pid}\n`);
      server.kill();
      await Promise.race([ended, sleep(3000)]);
      expect(drain(waiting)).toBe("carpentry-cycle-gone\n");
      expect(["w.2", "a.2", "r.2"].map((name) => existsSync(join(watchDir, name)))).toEqual([false, false, false]);
      expect(out).toBe("ended\n");
    } finally {
      for (const child of [server, other, watchdog]) child.kill("SIGKILL");
      for (const fd of [late, waiting, foreign]) closeSync(fd);
    }
  }, 15_000);

  it("idle while its server lives, takes its own pid file away and ends; another's pid file stays", async () => {
    for (const owner of ["itself", "another"] as const) {
      const watchDir = mkdtempSync(join(dir, "idle-"));
      const server = spawn("sleep", ["30"], { stdio: "ignore" });
      const functions = cycleHeaderLines("check_mailq", BUILD).slice(0, -1).join("\n");
      const pidFile = join(watchDir, `${BUILD}.watch`);
      // The starter writes the watchdog's pid once it has started it: here, the watchdog's shell itself.
      const script = [
        functions,
        `cy_d='${watchDir}'; cy_nl='`,
        "'",
        'carpentry_cycle_say() { print -rn -- "$1"; }',
        owner === "itself" ? `echo $$ >'${pidFile}'` : `echo 1 >'${pidFile}'`,
        `carpentry_cycle_watch ${String(server.pid)}`,
        "echo ended",
      ].join("\n");
      const watchdog = spawn("mksh", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      watchdog.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      const ended = new Promise<boolean>((resolve) => watchdog.on("exit", () => resolve(true)));
      try {
        expect(await Promise.race([ended, sleep(5000).then(() => false)]), owner).toBe(true);
        expect(out).toBe("ended\n");
        expect(existsSync(pidFile), owner).toBe(owner === "another");
      } finally {
        for (const child of [server, watchdog]) child.kill("SIGKILL");
      }
    }
  }, 15_000);
});

it("mksh is here (the header's shell in the simulated gateways)", () => {
  expect(execFileSync("mksh", ["-c", "echo $KSH_VERSION"], { encoding: "utf8" })).toMatch(/MIRBSD KSH/);
});

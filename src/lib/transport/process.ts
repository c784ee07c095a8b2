// Every process the suite starts goes through execa, and every one a check starts goes through one
// ProcessScope, bound to the check's one deadline: each process runs in its own process group, and
// when the deadline's signal aborts, the whole group (ssh and what a shell started included) is
// killed, so nothing outlives the check.
import type { Options, Result as ExecaResult } from "execa";
import { asError, HostError, TimeoutError } from "../runtime/errors.js";

type Execa = typeof import("execa").execa;
let execaLoading: Promise<Execa> | undefined;

/**
 * execa, loaded when the first process starts: its start-up work is a good part of a check's cold
 * start, and --help, --version and the checks that start nothing should not pay for it.
 */
export function loadExeca(): Promise<Execa> {
  execaLoading ??= import("execa").then((module) => module.execa);
  return execaLoading;
}

/**
 * The most stdout kept of one command, so that a runaway one cannot exhaust memory. The largest
 * output read is `pfctl -vvss`, about 220 bytes a state: 64 MiB holds some 300,000 states, three times
 * OpenBSD's default state limit; everything else we run prints a few MB at most. stderr is only ever
 * quoted in a message, and gets 1 MiB.
 */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const MAX_STDERR_BYTES = 1024 * 1024;

/** How long a process asked to stop (SIGTERM) has before it is killed. */
const FORCE_KILL_AFTER_MS = 1000;

export interface SpawnOptions {
  /** What a user should read if we time out while this runs: "ssh root@secondary: /sbin/pfctl -si". */
  readonly description: string;
  readonly input?: string | Uint8Array;
  readonly env?: NodeJS.ProcessEnv;
}

export interface ProcessOutcome {
  readonly stdout: string;
  readonly stderr: string;
  /** undefined when killed by a signal */
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
}

/** The stdin of a process we converse with. */
export interface ConversationInput {
  write(text: string): void;
  end(): void;
}

/** The options every process gets: no shell, our environment, whole output as UTF-8, never a throw. */
function baseOptions(signal: AbortSignal, env: NodeJS.ProcessEnv | undefined): Options {
  return {
    reject: false,
    stripFinalNewline: false,
    encoding: "buffer",
    maxBuffer: { stdout: MAX_OUTPUT_BYTES, stderr: MAX_STDERR_BYTES },
    cancelSignal: signal,
    forceKillAfterDelay: FORCE_KILL_AFTER_MS,
    cleanup: true,
    ...(env ? { env, extendEnv: false } : {}),
  };
}

/**
 * A process that could not be started, ran past its output bound, or was stopped by the deadline
 * is an error naming what ran; an exit code, even a bad one, is the caller's to judge.
 */
function throwIfNotRun(file: string, result: ExecaResult, description: string): void {
  if (result.isCanceled) {
    const reason: unknown = result.cause;
    throw reason instanceof TimeoutError ? reason : new TimeoutError(`gave up at the deadline: ${description}`);
  }
  if (result.isMaxBuffer) throw new HostError(`${file} printed more than ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB (or ${MAX_STDERR_BYTES / 1024 / 1024} MiB on stderr)`);
  if (result.exitCode === undefined && result.signal === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    const why = code === "ENOENT" ? "not found" : code === "EACCES" ? "permission denied" : (result.shortMessage?.split("\n")[0] ?? "could not be started");
    throw new HostError(`cannot run ${file}: ${why}`);
  }
}

/** Output kept as bytes and decoded once: execa's own decoding, chunk by chunk, is several times slower on the 10 MB a large state table prints. */
function text(output: unknown): string {
  if (output instanceof Uint8Array) return Buffer.from(output.buffer, output.byteOffset, output.byteLength).toString("utf8");
  return typeof output === "string" ? output : "";
}

function outcomeOf(result: ExecaResult, stdout?: string): ProcessOutcome {
  return {
    stdout: stdout ?? text(result.stdout),
    stderr: text(result.stderr),
    exitCode: result.exitCode,
    signal: result.signal,
  };
}

export class ProcessScope {
  private readonly running = new Map<number, string>();
  private readonly waits = new Set<string>();

  /** `signal` is the one deadline: when it aborts, every process group still running is killed. */
  constructor(readonly signal: AbortSignal) {
    if (signal.aborted) return;
    signal.addEventListener("abort", () => this.killAll(), { once: true });
  }

  /** Names what an in-process wait is for (a DNS query, a directory walk), so a time-out can say so. */
  async waitFor<T>(description: string, work: Promise<T>): Promise<T> {
    this.waits.add(description);
    try {
      return await work;
    } finally {
      this.waits.delete(description);
    }
  }

  /** Runs a process to its end and returns its whole output. */
  async run(file: string, args: readonly string[], options: SpawnOptions): Promise<ProcessOutcome> {
    const execa = await this.start();
    const subprocess = execa(file, args, {
      ...baseOptions(this.signal, options.env),
      detached: true,
      ...(options.input === undefined ? { stdin: "ignore" } : { input: options.input }),
    });
    return this.track(subprocess.pid, options.description, async () => {
      const result = await subprocess;
      throwIfNotRun(file, result, options.description);
      return outcomeOf(result);
    });
  }

  /**
   * Runs a process whose output is too large to hold as one string: `onChunk` sees each piece of its
   * stdout as it arrives. The outcome's stdout is empty.
   */
  async stream(file: string, args: readonly string[], options: SpawnOptions, onChunk: (chunk: Buffer) => void): Promise<ProcessOutcome> {
    const execa = await this.start();
    const subprocess = execa(file, args, { ...baseOptions(this.signal, options.env), buffer: { stdout: false }, detached: true, stdin: "ignore" });
    return this.track(subprocess.pid, options.description, async () => {
      const reading = (async () => {
        if (subprocess.stdout) for await (const chunk of subprocess.stdout) onChunk(chunk as Buffer);
      })();
      const result = await subprocess;
      await reading.catch(() => undefined);
      throwIfNotRun(file, result, options.description);
      return outcomeOf(result, "");
    });
  }

  /**
   * Runs a process that talks back: `onLine` sees each line of its stdout as it arrives (in order, one
   * at a time) and may write to its stdin; the first input is written at once. The outcome's stdout
   * holds every line, talk included.
   */
  async converse(
    file: string,
    args: readonly string[],
    options: SpawnOptions & { readonly input: string },
    onLine: (line: string, input: ConversationInput) => Promise<void>,
  ): Promise<ProcessOutcome> {
    const execa = await this.start();
    const subprocess = execa(file, args, { ...baseOptions(this.signal, options.env), detached: true, stdin: "pipe", buffer: { stdout: false } });
    // A peer that exits without reading all we write must not crash us with EPIPE.
    subprocess.stdin.on("error", () => undefined);
    const input: ConversationInput = {
      write: (text) => void (subprocess.stdin.writable && subprocess.stdin.write(text)),
      end: () => void subprocess.stdin.end(),
    };
    return this.track(subprocess.pid, options.description, async () => {
      input.write(options.input);
      let stdout = "";
      let pending = "";
      let talk: Promise<void> = Promise.resolve();
      let talkError: unknown;
      subprocess.stdout?.setEncoding("utf8");
      subprocess.stdout?.on("data", (text: string) => {
        stdout += text;
        pending += text;
        if (stdout.length > MAX_OUTPUT_BYTES) {
          talkError ??= new HostError(`${file} printed more than ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB`);
          subprocess.kill("SIGKILL");
          return;
        }
        let newline = pending.indexOf("\n");
        while (newline !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          talk = talk
            .then(() => onLine(line, input))
            .catch((error: unknown) => {
              talkError ??= error;
              input.end();
            });
          newline = pending.indexOf("\n");
        }
      });
      const result = await subprocess;
      await talk;
      if (talkError !== undefined && !result.isCanceled) throw asError(talkError);
      throwIfNotRun(file, result, options.description);
      return outcomeOf(result, stdout);
    });
  }

  /** What we are waiting for right now, oldest first. */
  waitingFor(): string[] {
    return [...this.running.values(), ...this.waits];
  }

  private async start(): Promise<Execa> {
    this.throwIfAborted();
    const execa = await loadExeca();
    this.throwIfAborted();
    return execa;
  }

  private throwIfAborted(): void {
    if (!this.signal.aborted) return;
    const reason: unknown = this.signal.reason;
    throw reason instanceof TimeoutError ? reason : new TimeoutError("the deadline has passed");
  }

  private async track<T>(pid: number | undefined, description: string, work: () => Promise<T>): Promise<T> {
    if (pid !== undefined) this.running.set(pid, description);
    try {
      return await work();
    } finally {
      if (pid !== undefined) this.running.delete(pid);
    }
  }

  /** The deadline: every process group still running is killed (execa alone would spare a shell's children). */
  private killAll(): void {
    for (const pid of this.running.keys()) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone: nothing to kill.
      }
    }
  }
}

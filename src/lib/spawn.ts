// Starting processes with node's own child_process. execa did this before and cost a check 29 ms on
// each host in every monit cycle (16 ms to load, 13 ms more on its first call, against 4 ms for a
// plain spawn), for features we do not use: we need a process group, our stdin, bounded output, and a
// kill when the caller gives up.
import { spawn, type ChildProcess } from "node:child_process";

export interface StartOptions {
  /** Its own process group, so that killing -pid takes its children too. */
  readonly detached?: boolean;
  /** "pipe": the caller writes stdin; "ignore": /dev/null. */
  readonly stdin: "pipe" | "ignore";
  readonly env?: NodeJS.ProcessEnv;
  /** Aborting it sends SIGTERM, then SIGKILL a second later if the process is still there. */
  readonly signal?: AbortSignal;
}

export interface Exit {
  /** undefined when killed by a signal or never started */
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** Why the process could not be started (ENOENT, EACCES), when it could not. */
  readonly startError: NodeJS.ErrnoException | undefined;
  /** The caller's signal was aborted before the process ended. */
  readonly canceled: boolean;
}

export interface Started {
  readonly child: ChildProcess;
  /** Settles once the process has exited and its stdout and stderr are closed; never rejects. */
  readonly exited: Promise<Exit>;
  /** Kills the process (its group when detached); harmless once it has exited. */
  kill(signal?: NodeJS.Signals): void;
}

const FORCE_KILL_AFTER_MS = 1000;

/** Output no command we run comes near; a bound, so that a runaway one cannot exhaust memory. */
export const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

/** Why a process could not be started, in words. */
export function describeStartError(error: NodeJS.ErrnoException): string {
  if (error.code === "ENOENT") return "not found";
  if (error.code === "EACCES") return "permission denied";
  return error.message || "could not be started";
}

// A check ended by its deadline exits without unwinding: what it started must not outlive it.
const live = new Set<() => void>();
let exitHookInstalled = false;

function killAtExit(kill: () => void): void {
  live.add(kill);
  if (!exitHookInstalled) {
    process.once("exit", () => [...live].forEach((killNow) => killNow()));
    exitHookInstalled = true;
  }
}

export function startProcess(file: string, args: readonly string[], options: StartOptions): Started {
  const child = spawn(file, args, {
    detached: options.detached ?? false,
    stdio: [options.stdin, "pipe", "pipe"],
    env: options.env,
  });
  let ended = false;
  const kill = (signal: NodeJS.Signals = "SIGTERM"): void => {
    if (ended || child.pid === undefined) return;
    try {
      if (options.detached) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Gone already.
    }
  };
  const killNow = (): void => kill("SIGKILL");
  killAtExit(killNow);
  let canceled = false;
  let forceKill: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    canceled = true;
    kill("SIGTERM");
    forceKill = setTimeout(() => kill("SIGKILL"), FORCE_KILL_AFTER_MS);
    forceKill.unref();
  };
  if (options.signal?.aborted) queueMicrotask(onAbort);
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  // A peer that exits without reading all we write must not crash us with EPIPE.
  child.stdin?.on("error", () => undefined);
  const exited = new Promise<Exit>((resolve) => {
    const settle = (exit: Exit): void => {
      ended = true;
      live.delete(killNow);
      if (forceKill) clearTimeout(forceKill);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(exit);
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      // 'close' does not follow an error to start; after a start, 'close' settles.
      if (child.pid === undefined) settle({ exitCode: undefined, signal: undefined, startError: error, canceled });
    });
    child.once("close", (code, signal) => settle({ exitCode: code ?? undefined, signal: signal ?? undefined, startError: undefined, canceled }));
  });
  return { child, exited, kill };
}

export interface Collected extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  /** Output beyond maxBuffer: the process was killed and its output cut. */
  readonly overflowed: boolean;
}

/** Runs a process to its end and returns its whole output, decoded as UTF-8. */
export async function runCollected(
  file: string,
  args: readonly string[],
  options: Omit<StartOptions, "stdin"> & { readonly input?: string | Uint8Array; readonly maxBuffer: number; readonly onStart?: (pid: number | undefined) => void },
): Promise<Collected> {
  const started = startProcess(file, args, { ...options, stdin: options.input === undefined ? "ignore" : "pipe" });
  options.onStart?.(started.child.pid);
  const stdout = collect(started, started.child.stdout, options.maxBuffer);
  const stderr = collect(started, started.child.stderr, options.maxBuffer);
  if (options.input !== undefined) started.child.stdin?.end(options.input);
  const exit = await started.exited;
  return { ...exit, stdout: stdout.text(), stderr: stderr.text(), overflowed: stdout.overflowed() || stderr.overflowed() };
}

/** Keeps what a stream says, up to a bound; past it, the process is killed. */
export function collect(started: Started, stream: NodeJS.ReadableStream | null, maxBytes: number): { text(): string; overflowed(): boolean } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let over = false;
  stream?.on("data", (chunk: Buffer) => {
    if (over) return;
    bytes += chunk.length;
    if (bytes > maxBytes) {
      over = true;
      started.kill("SIGKILL");
      return;
    }
    chunks.push(chunk);
  });
  return { text: () => Buffer.concat(chunks).toString("utf8"), overflowed: () => over };
}

// Every process a check starts goes through one ProcessScope: each runs in its own process group, so
// that on the check's deadline the whole group (ssh included) is killed and nothing outlives the check.
import { HostError, TimeoutError } from "./errors.js";
import { collect, describeStartError, MAX_OUTPUT_BYTES, runCollected, startProcess, type Exit } from "./spawn.js";

export interface SpawnOptions {
  /** What a user should read if we time out while this runs: "ssh root@secondary: /sbin/pfctl -si". */
  readonly description: string;
  readonly input?: string;
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

/** A process that could not be started at all (no exit code, no signal) is a HostError naming why. */
function throwIfNotStarted(file: string, exit: Exit): void {
  if (exit.startError !== undefined) throw new HostError(`cannot run ${file}: ${describeStartError(exit.startError)}`);
}

function throwIfOverflowed(file: string, overflowed: boolean): void {
  if (overflowed) throw new HostError(`${file} printed more than ${MAX_OUTPUT_BYTES / 1024 / 1024} MB`);
}

export class ProcessScope {
  private readonly running = new Map<number, string>();
  private readonly waits = new Set<string>();
  private closedReason: string | undefined;

  /** Names what an in-process wait is for (a DNS query), so a time-out can say so. */
  async waitFor<T>(description: string, work: Promise<T>): Promise<T> {
    this.waits.add(description);
    try {
      return await work;
    } finally {
      this.waits.delete(description);
    }
  }

  async run(file: string, args: readonly string[], options: SpawnOptions): Promise<ProcessOutcome> {
    if (this.closedReason) throw new TimeoutError(this.closedReason);
    let pid: number | undefined;
    try {
      const outcome = await runCollected(file, args, {
        detached: true,
        input: options.input,
        env: options.env,
        maxBuffer: MAX_OUTPUT_BYTES,
        onStart: (started) => {
          pid = started;
          if (pid !== undefined) this.running.set(pid, options.description);
        },
      });
      throwIfNotStarted(file, outcome);
      throwIfOverflowed(file, outcome.overflowed);
      return { stdout: outcome.stdout, stderr: outcome.stderr, exitCode: outcome.exitCode, signal: outcome.signal };
    } finally {
      if (pid !== undefined) this.running.delete(pid);
    }
  }

  /**
   * Runs a process that talks back: `onLine` sees each line of its stdout as it arrives (in order, one
   * at a time) and may write to its stdin; the first input is written at once. The outcome's stdout
   * holds every line, talk included.
   */
  async converse(file: string, args: readonly string[], options: SpawnOptions & { readonly input: string }, onLine: (line: string, input: ConversationInput) => Promise<void>): Promise<ProcessOutcome> {
    if (this.closedReason) throw new TimeoutError(this.closedReason);
    const started = startProcess(file, args, { detached: true, stdin: "pipe" });
    const child = started.child;
    const pid = child.pid;
    if (pid !== undefined) this.running.set(pid, options.description);
    const input: ConversationInput = {
      write: (text) => void child.stdin?.write(text),
      end: () => void child.stdin?.end(),
    };
    const stderr = collect(started, child.stderr, MAX_OUTPUT_BYTES);
    input.write(options.input);
    let stdout = "";
    let pending = "";
    let talk: Promise<void> = Promise.resolve();
    let talkError: unknown;
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => {
      stdout += text;
      pending += text;
      let newline = pending.indexOf("\n");
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        talk = talk.then(() => onLine(line, input)).catch((error: unknown) => {
          talkError ??= error;
          input.end();
        });
        newline = pending.indexOf("\n");
      }
    });
    try {
      const exit = await started.exited;
      await talk;
      if (talkError !== undefined) throw talkError;
      throwIfNotStarted(file, exit);
      throwIfOverflowed(file, stdout.length > MAX_OUTPUT_BYTES || stderr.overflowed());
      return { stdout, stderr: stderr.text(), exitCode: exit.exitCode, signal: exit.signal };
    } finally {
      if (pid !== undefined) this.running.delete(pid);
    }
  }

  /** What we are waiting for right now, oldest first. */
  waitingFor(): string[] {
    return [...this.running.values(), ...this.waits];
  }

  /** Kills every process group still running and refuses new ones. */
  close(reason: string): void {
    this.closedReason = reason;
    for (const pid of this.running.keys()) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone: nothing to kill.
      }
    }
  }
}

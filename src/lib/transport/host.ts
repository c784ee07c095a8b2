// One small interface for "run these commands on that gateway" and "ask that gateway's carpentry for
// facts", with a local transport and an OpenSSH one. Checks never call ssh themselves and never ask
// which host is which: they name commands and facts, a Host gets them in one round trip.
import type { PeerConfig, Role } from "../runtime/config.js";
import type { Deadline } from "../runtime/deadline.js";
import { asError, HostError } from "../runtime/errors.js";
import { answerHere, factsRequest, PeerFacts, type FactsAnswer, type PeerBatcher, type FactsOptions, type FactsTransport } from "../facts/protocol.js";
import type { ConversationInput, ProcessOutcome, ProcessScope } from "./process.js";
import { buildBatchScript, QUESTION_PREFIX, renderCommand, type BatchScript, splitBatchOutput, truncateCommand, type CommandResult, type HostCommand } from "./shell.js";
import { acquireMasterSlot, acquireSessionSlot, controlPath, describeSshFailure, ensureControlDir, isHandshakeDrop, sshArgs, sshDestination, type Multiplexing } from "./ssh.js";

export interface Host {
  /** Which gateway of the pair this is. */
  readonly role: Role;
  /** For messages: "secondary (root@192.168.110.102)" or "primary (this host)". */
  readonly label: string;
  /** Runs the commands in order in one round trip; a failing command is a result, not an error. */
  run(commands: readonly HostCommand[]): Promise<CommandResult[]>;
  /**
   * Runs one command that reads `firstLine` and may then ask questions: each line it prints starting
   * with QUESTION_PREFIX is answered with one line on its stdin. Question lines are left out of the
   * result's stdout. One process and one round trip per question, instead of one of each per round.
   */
  converse(command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult>;
  /**
   * Asks this host's own carpentry for facts (an op of `carpentry facts`): answered in-process on this
   * host, by the peer's carpentry over ssh, within the check's deadline either way.
   */
  facts(op: string, args: unknown, options?: FactsOptions): Promise<FactsAnswer>;
}

/** "secondary 192.168.110.102", or just "secondary" when that is also its host name. */
export function peerName(role: Role, host: string): string {
  return host === role ? role : `${role} ${host}`;
}

export async function runOne(host: Host, command: HostCommand): Promise<CommandResult> {
  const [first] = await host.run([command]);
  if (!first) throw new HostError(`no result from ${host.label}`);
  return first;
}

function describeBatch(commands: readonly HostCommand[]): string {
  return commands.map((command) => truncateCommand(renderCommand(command), 60)).join("; ");
}

/**
 * One command that converses (Host.converse), whatever carries it: its batch script, and its
 * questions answered as they come, without waiting for the previous answer (the command may have
 * several out at once and match the replies itself); the first failure ends our input.
 */
class Conversation {
  readonly batch: BatchScript;
  readonly description: string;
  private failure: unknown;
  private readonly commands: readonly HostCommand[];

  constructor(
    command: HostCommand,
    private readonly answer: (question: string) => Promise<string>,
  ) {
    this.commands = [{ ...command, input: "" }];
    this.batch = buildBatchScript(this.commands);
    this.description = describeBatch(this.commands);
  }

  readonly onLine = async (line: string, input: ConversationInput): Promise<void> => {
    if (line.startsWith(QUESTION_PREFIX)) {
      this.answer(line.slice(QUESTION_PREFIX.length)).then(
        (reply) => input.write(`${reply}\n`),
        (error: unknown) => {
          this.failure ??= error;
          input.end();
        },
      );
    } else if (line.startsWith("{")) {
      input.end(); // The final answer: nothing more will be asked.
    }
  };

  /** The command's result, its questions left out of its stdout. */
  result(outcome: ProcessOutcome, label: string): CommandResult {
    if (this.failure !== undefined) throw asError(this.failure);
    const stdout = outcome.stdout
      .split("\n")
      .filter((line) => !line.startsWith(QUESTION_PREFIX))
      .join("\n");
    const [result] = splitBatchOutput(this.batch, this.commands, stdout, outcome.stderr);
    if (!result) throw new HostError(`no result from ${label}`);
    return result;
  }
}

/** Runs the commands in order in one /bin/sh on this host, within the scope's deadline. */
export async function runInShell(scope: ProcessScope, commands: readonly HostCommand[]): Promise<CommandResult[]> {
  if (commands.length === 0) return [];
  const batch = buildBatchScript(commands);
  const outcome = await scope.run("/bin/sh", ["-c", batch.script], { description: describeBatch(commands), input: batch.input });
  if (outcome.signal) throw new HostError(`local commands killed by ${outcome.signal}`, describeBatch(commands));
  return splitBatchOutput(batch, commands, outcome.stdout, outcome.stderr);
}

/** The gateway we run on. Commands go through /bin/sh, as on the peer, so both see the same shell rules. */
export class LocalHost implements Host {
  readonly label: string;

  constructor(
    readonly role: Role,
    private readonly scope: ProcessScope,
    private readonly deadline: Deadline,
  ) {
    this.label = `${role} (this host)`;
  }

  facts(op: string, args: unknown, options: FactsOptions = {}): Promise<FactsAnswer> {
    return answerHere(this.role, factsRequest(op, args, this.deadline.peerBudgetMs()), this.deadline.signal, options, (commands) => this.run(commands));
  }

  run(commands: readonly HostCommand[]): Promise<CommandResult[]> {
    return runInShell(this.scope, commands);
  }

  async converse(command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult> {
    const talk = new Conversation(command, answer);
    const outcome = await this.scope.converse("/bin/sh", ["-c", talk.batch.script], { description: talk.description, input: `${firstLine}\n` }, talk.onLine);
    if (outcome.signal) throw new HostError(`local commands killed by ${outcome.signal}`, talk.description);
    return talk.result(outcome, this.label);
  }
}

export interface SshHostOptions {
  readonly role: Role;
  readonly peer: PeerConfig;
  readonly scope: ProcessScope;
  readonly deadline: Deadline;
  /** undefined for a fresh, unshared connection (check_peer: a live master must not hide a dead sshd). */
  readonly multiplexing: Multiplexing | undefined;
  /** Shares one ssh session and one peer process between the checks run together (carpentry run, the cycle server). */
  readonly batcher?: PeerBatcher | undefined;
}

export class SshHost implements Host {
  readonly role: Role;
  readonly label: string;
  private controlDirChecked = false;
  private readonly peerFacts: PeerFacts;

  constructor(private readonly options: SshHostOptions) {
    this.role = options.role;
    this.label = `${options.role} (${sshDestination(options.peer)})`;
    this.peerFacts = new PeerFacts(this.transport(), options.peer.carpentry_path, options.batcher);
  }

  /** How the peer's carpentry and the batcher reach the peer: a session each, in this check's scope. */
  private transport(): FactsTransport {
    return {
      role: this.role,
      label: this.label,
      signal: this.options.deadline.signal,
      run: (commands) => this.runNow(commands),
      converse: (command, firstLine, answer) => this.converse(command, firstLine, answer),
      under: (scope) => new SshHost({ ...this.options, scope, batcher: undefined }).transport(),
    };
  }

  facts(op: string, args: unknown, options: FactsOptions = {}): Promise<FactsAnswer> {
    const request = factsRequest(op, args, this.options.deadline.peerBudgetMs());
    const work = this.peerFacts.ask(request, options);
    return options.alongside?.length ? work : this.shared([{ argv: [this.options.peer.carpentry_path, "facts"] }], work);
  }

  /** In one session of its own, or with a batcher, in one with other checks' commands and requests. */
  run(commands: readonly HostCommand[]): Promise<CommandResult[]> {
    // The peer's shell gets until a little after this check's own deadline: a command that hangs
    // there is given up here first, in the words a session of its own would have got.
    return this.shared(commands, this.peerFacts.run(commands, this.options.deadline.remainingMs() + 1000));
  }

  /** Work that may ride in a session of other checks' is named in this check's scope as its own session would be, for a time-out's message. */
  private shared<T>(commands: readonly HostCommand[], work: Promise<T>): Promise<T> {
    return this.options.batcher ? this.options.scope.waitFor(`ssh ${sshDestination(this.options.peer)}: ${describeBatch(commands)}`, work) : work;
  }

  private async runNow(commands: readonly HostCommand[]): Promise<CommandResult[]> {
    if (commands.length === 0) return [];
    const batch = buildBatchScript(commands);
    const outcome = await this.session(batch, describeBatch(commands), (args, description) => this.options.scope.run(this.options.peer.ssh_path, args, { description, input: batch.input }));
    return splitBatchOutput(batch, commands, outcome.stdout, outcome.stderr);
  }

  async converse(command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult> {
    const talk = new Conversation(command, answer);
    const outcome = await this.session(
      talk.batch,
      talk.description,
      // A second try asks the questions again: the peer's work is read-only, and our answers the same.
      (args, description) => this.options.scope.converse(this.options.peer.ssh_path, args, { description, input: `${firstLine}\n` }, talk.onLine),
    );
    return talk.result(outcome, this.label);
  }

  /** One ssh session for a batch script: the shared connection's slots, one retry, failures in words. */
  private async session(batch: BatchScript, what: string, spawn: (args: string[], description: string) => Promise<ProcessOutcome>): Promise<ProcessOutcome> {
    const { peer, multiplexing } = this.options;
    if (multiplexing && !this.controlDirChecked) {
      ensureControlDir(multiplexing.controlDir);
      this.controlDirChecked = true;
    }
    const description = `ssh ${sshDestination(peer)}: ${what}`;
    const args = sshArgs(peer, multiplexing, batch.script);
    const firstMarker = `\n@@${batch.nonce} 0 `;
    // One budget for both waits, so that a check held up by the others still runs its own ssh (and
    // can say so) before its deadline; and the waits are named, for a time-out's message.
    const waitUntil = Date.now() + (peer.connect_timeout + 2) * 1000;
    const socket = multiplexing ? controlPath(multiplexing, peer) : undefined;
    // The session slot first: the one who makes the master then also holds a session on it.
    const releaseSession = multiplexing && socket ? await this.options.scope.waitFor(description, acquireSessionSlot(socket, multiplexing.maxSessions, waitUntil - Date.now())) : undefined;
    let release: (() => void) | undefined;
    let outcome: ProcessOutcome;
    try {
      release = socket ? await this.options.scope.waitFor(description, acquireMasterSlot(socket, Math.max(0, waitUntil - Date.now()))) : undefined;
      outcome = await spawn(args, description);
      // A client of the shared connection can also exit 255 without a word when its master dies
      // under it; a second try makes a new master, or gets the real reason.
      const silent = multiplexing !== undefined && outcome.stderr.trim() === "";
      if (outcome.exitCode === 255 && (isHandshakeDrop(outcome.stderr) || silent) && !outcome.stdout.includes(firstMarker)) {
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 300));
        outcome = await spawn(args, description);
      }
    } finally {
      release?.();
      releaseSession?.();
    }
    if (outcome.signal) throw new HostError(`ssh to ${this.options.role} killed by ${outcome.signal}`);
    if (outcome.exitCode === 255 && !outcome.stdout.includes(firstMarker)) {
      throw new HostError(`cannot reach ${peerName(this.options.role, peer.host)}: ${describeSshFailure(outcome.stderr)}`, lastStderr(outcome.stderr));
    }
    return outcome;
  }
}

function lastStderr(stderr: string): string | undefined {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.length > 0 ? lines.slice(-2).join(" / ") : undefined;
}

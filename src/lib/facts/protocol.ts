// Facts from our own code on a host: `carpentry facts` reads one JSON request on stdin and answers one
// JSON object. The primary runs it on the peer through ssh (the suite is installed on both gateways),
// so hashing and comparing happen in-process on each side with no BSD/GNU tool differences, and only
// digests cross the wire until something differs. The same handlers run in-process for the local host.
//
// The two gateways are upgraded one at a time, so the exchange is versioned: a request names its
// protocol; a peer answers any protocol from MIN_PROTOCOL to PROTOCOL and says which version it runs.
import * as v from "valibot";
import { HostError } from "../runtime/errors.js";
import type { CommandResult, HostCommand } from "../transport/shell.js";
import { ProcessScope } from "../transport/process.js";
import { VERSION } from "../runtime/version.js";

// 2: a request is one line, and an op may ask the asker questions before it answers (FactsOptions.answer).
export const PROTOCOL = 2;
const MIN_PROTOCOL = 1;

export interface FactsRequest {
  readonly protocol: number;
  readonly version: string;
  /** Milliseconds the peer may spend before it gives up by itself (ssh being killed does not stop it). */
  readonly deadlineMs: number;
  readonly op: string;
  readonly args: unknown;
}

/** Every answer's envelope, as the asker checks it: the op's value is checked by whoever asked for it. */
const responseSchema = v.variant("ok", [
  v.object({ protocol: v.number(), version: v.string(), ok: v.literal(true), value: v.unknown() }),
  v.object({ protocol: v.number(), version: v.string(), ok: v.literal(false), error: v.string() }),
]);

export type FactsResponse =
  | { readonly protocol: number; readonly version: string; readonly ok: true; readonly value: unknown }
  | { readonly protocol: number; readonly version: string; readonly ok: false; readonly error: string };

/** The asker, for an op that needs its answer half-way (its hashes, to decide what to send back). */
export interface Talk {
  /** Sends plain JSON to the asker and resolves with its reply; rejects where the asker cannot talk. */
  ask(question: unknown): Promise<unknown>;
}

const CANNOT_TALK: Talk = {
  ask: () => Promise.reject(new Error("this request cannot be asked back (an asker of protocol 1)")),
};

/** An op takes plain JSON arguments and returns plain JSON; it must validate its arguments itself. */
export type FactsHandler = (args: unknown, deadline: AbortSignal, talk: Talk) => Promise<unknown>;

const handlers = new Map<string, FactsHandler>();

export function registerFacts(op: string, handler: FactsHandler): void {
  handlers.set(op, handler);
}

/** An answer that says why there is none. */
export function failedAnswer(error: string): FactsResponse {
  return { protocol: PROTOCOL, version: VERSION, ok: false, error };
}
const failed = failedAnswer;

/**
 * The range a request's deadlineMs is clamped to: below 100 ms nothing could be answered, and no
 * check waits longer than 10 minutes (its -t is at most an hour, but a peer that works that long
 * for a monit check is stuck). A request without one gets DEADLINE_DEFAULT_MS.
 */
const DEADLINE_MIN_MS = 100;
export const DEADLINE_MAX_MS = 10 * 60 * 1000;
const DEADLINE_DEFAULT_MS = 30_000;

function clampDeadlineMs(deadlineMs: unknown): number {
  if (typeof deadlineMs !== "number" || Number.isNaN(deadlineMs)) return DEADLINE_DEFAULT_MS;
  return Math.min(DEADLINE_MAX_MS, Math.max(DEADLINE_MIN_MS, Math.round(deadlineMs)));
}

/** The deepest nesting and the most objects and arrays a line from the asker may hold. */
const JSON_MAX_DEPTH = 64;
const JSON_MAX_CONTAINERS = 1_000_000;

/**
 * Parses one line from the asker, after a linear scan that refuses what JSON.parse would turn into
 * far more memory than the line's size (millions of empty objects, arrays nested millions deep): the
 * memory of an answer stays bounded by the line's length.
 */
export function parseAskerLine(line: string): { value: unknown } | { error: string } {
  let depth = 0;
  let containers = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++;
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) {
      if (++depth > JSON_MAX_DEPTH) return { error: `JSON nested deeper than ${JSON_MAX_DEPTH}` };
      if (++containers > JSON_MAX_CONTAINERS) return { error: `JSON of more than ${JSON_MAX_CONTAINERS} objects and arrays` };
    } else if (code === 0x7d || code === 0x5d) depth--;
  }
  try {
    return { value: JSON.parse(line) as unknown };
  } catch {
    return { error: "not JSON" };
  }
}

/** Rejects when `signal` aborts: an op that waits on something that never comes still ends then. */
function abortedBy(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const stop = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error("gave up at the request's deadline"));
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
}

async function runOp(op: unknown, args: unknown, signal: AbortSignal, talk: Talk): Promise<FactsResponse> {
  const handler = typeof op === "string" ? handlers.get(op) : undefined;
  if (!handler) return failed(`unknown op ${JSON.stringify(op)} (carpentry ${VERSION})`);
  try {
    return { protocol: PROTOCOL, version: VERSION, ok: true, value: await Promise.race([handler(args, signal, talk), abortedBy(signal)]) };
  } catch (error) {
    return failed(error instanceof Error ? error.message : String(error));
  }
}

/**
 * `talk` reaches the asker; only a request of protocol 2 or later may use it. `signal` is the asker's
 * own deadline when it answers in-process; the peer keeps to the request's deadlineMs.
 */
export async function answerFacts(request: unknown, talk: Talk = CANNOT_TALK, signal?: AbortSignal): Promise<FactsResponse> {
  if (typeof request !== "object" || request === null) return failed("request is not a JSON object");
  const { protocol, op, args, deadlineMs } = request as Partial<FactsRequest>;
  if (typeof protocol !== "number" || protocol < MIN_PROTOCOL || protocol > PROTOCOL) {
    return failed(`protocol ${String(protocol)} not supported (this host speaks ${MIN_PROTOCOL}-${PROTOCOL}, carpentry ${VERSION})`);
  }
  const asker = protocol >= 2 ? talk : CANNOT_TALK;
  if (signal) return runOp(op, args, signal, asker);
  const controller = new AbortController();
  const ms = clampDeadlineMs(deadlineMs);
  const timer = setTimeout(() => controller.abort(new Error(`gave up at the request's deadline (${ms} ms)`)), ms);
  try {
    return await runOp(op, args, controller.signal, asker);
  } finally {
    clearTimeout(timer);
  }
}

export function factsRequest(op: string, args: unknown, deadlineMs: number): FactsRequest {
  return { protocol: PROTOCOL, version: VERSION, deadlineMs, op, args };
}

// ---- asking: what Host.facts is made of ----

/** How a host asks for facts: the op, its arguments, and what comes with it. */
export interface FactsOptions {
  /** Replies to the questions the op asks back (fileSets, pfTables); one process holds the exchange. */
  readonly answer?: (question: unknown) => Promise<unknown>;
  /** Commands to run in the same round trip; their results come back with the answer. */
  readonly alongside?: readonly HostCommand[];
}

export interface FactsAnswer {
  readonly value: unknown;
  /** The results of FactsOptions.alongside, in order. */
  readonly alongside: readonly CommandResult[];
  /** What crossed the wire, for a request that had a round trip of its own; none on this host. */
  readonly wire?: { readonly requestBytes: number; readonly answerBytes: number };
}

/** This host's own answer, in-process, bound to the asker's deadline. */
export async function answerHere(
  role: string,
  request: FactsRequest,
  signal: AbortSignal,
  options: FactsOptions,
  runAlongside: (commands: readonly HostCommand[]) => Promise<CommandResult[]>,
): Promise<FactsAnswer> {
  const talk = options.answer ? { ask: options.answer } : undefined;
  const [response, alongside] = await Promise.all([answerFacts(request, talk, signal), runAlongside(options.alongside ?? [])]);
  if (!response.ok) throw new HostError(`${role}: ${response.error}`.slice(0, 70), response.error);
  return { value: response.value, alongside };
}

/** What carries a request to the peer's carpentry: the ssh host's commands and conversations. */
export interface FactsTransport {
  readonly role: string;
  readonly label: string;
  run(commands: readonly HostCommand[]): Promise<CommandResult[]>;
  converse(command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult>;
  /** The asker's deadline: its processes are killed when it ends. */
  readonly signal?: AbortSignal;
  /** The same way to the peer, its processes in `scope` instead of the asker's. */
  under?(scope: ProcessScope): FactsTransport;
}

/** One command's result as the "shell" op answers it. */
const commandResultSchema = v.strictObject({ command: v.string(), stdout: v.string(), stderr: v.string(), exitCode: v.number() });

/**
 * The peer's carpentry, asked through a transport: each request one `carpentry facts` process, or,
 * with a batcher, the requests of checks that ask together in one.
 */
export class PeerFacts {
  constructor(
    readonly transport: FactsTransport,
    private readonly carpentryPath: string,
    private readonly batcher: PeerBatcher | undefined,
  ) {}

  /** The same peer and carpentry, reached through another transport, unbatched. */
  via(transport: FactsTransport): PeerFacts {
    return transport === this.transport ? this : new PeerFacts(transport, this.carpentryPath, undefined);
  }

  /** The peer and the carpentry asked there: requests with the same identity may share a process. */
  get identity(): string {
    return `${this.transport.label}\0${this.carpentryPath}`;
  }

  async ask(request: FactsRequest, options: FactsOptions): Promise<FactsAnswer> {
    const alongside = options.alongside ?? [];
    if (alongside.length > 0) return this.askWith(request, alongside, options);
    const value = this.batcher ? await this.batcher.ask(this, request, options.answer) : await this.askNow(request, options.answer);
    return { value, alongside: [] };
  }

  /**
   * Commands for the peer's shell. With a batcher they go as a "shell" request among the other checks'
   * requests: the peer's carpentry runs each check's commands in a shell of their own, side by side,
   * so a slow command holds up its own check only. A peer too old for "shell" runs them in a session
   * of their own.
   */
  async run(commands: readonly HostCommand[], deadlineMs: number): Promise<CommandResult[]> {
    if (!this.batcher || commands.length === 0) return this.transport.run(commands);
    let answer: unknown;
    try {
      answer = await this.batcher.ask(this, factsRequest("shell", { commands }, deadlineMs), undefined);
    } catch (error) {
      if (error instanceof HostError && /unknown op "shell"/.test(error.detail ?? "")) return this.transport.run(commands);
      throw error;
    }
    return readPeerMessage(v.array(commandResultSchema), answer, this.transport.role, "shell");
  }

  /** One request, now, in one process of its own. */
  async askNow(request: FactsRequest, answer: ((question: unknown) => Promise<unknown>) | undefined): Promise<unknown> {
    return this.read(await this.exchange(request, answer));
  }

  /** The peer's carpentry's reply to one request, unread: a transport failure throws, an answer does not. */
  async exchange(request: FactsRequest, answer: ((question: unknown) => Promise<unknown>) | undefined): Promise<CommandResult> {
    const command = this.command(request);
    if (answer) return this.transport.converse(command, command.input, replyLine(this.transport.role, answer));
    const [result] = await this.transport.run([command]);
    if (!result) throw new HostError(`no answer from ${this.transport.label}`);
    return result;
  }

  private async askWith(request: FactsRequest, alongside: readonly HostCommand[], options: FactsOptions): Promise<FactsAnswer> {
    if (options.answer) throw new Error("a conversing request cannot carry other commands");
    // The other commands first, as they would run before the request was sent.
    const command = this.command(request);
    const results = await this.transport.run([...alongside, command]);
    const result = results[alongside.length];
    const others = results.slice(0, alongside.length);
    if (!result) throw new HostError(`no answer from ${this.transport.label}`);
    return { value: this.read(result), alongside: others, wire: { requestBytes: Buffer.byteLength(command.input), answerBytes: Buffer.byteLength(result.stdout) } };
  }

  /** The facts command for a request: the peer's carpentry, the request on its stdin. */
  command(request: FactsRequest): HostCommand & { readonly input: string } {
    return { argv: [this.carpentryPath, "facts"], input: JSON.stringify(request) };
  }

  /** The peer's answer, or a HostError that says why there is none. */
  read(result: CommandResult): unknown {
    const role = this.transport.role;
    const where = `${role}'s carpentry (${this.carpentryPath})`;
    if (result.exitCode === 127 || /not found|No such file/.test(result.stderr)) {
      throw new HostError(`${role} has no ${this.carpentryPath}`, `install the same carpentry build on both gateways; ${result.stderr.trim()}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout);
    } catch {
      const said = (result.stdout.trim() || result.stderr.trim()).split("\n")[0] ?? "";
      throw new HostError(`${role}'s carpentry gave no answer (exit ${result.exitCode})`, `${where}: ${said.slice(0, 200)}`);
    }
    const checked = v.safeParse(responseSchema, parsed);
    if (!checked.success) throw new HostError(`${role}'s carpentry answered something else`, where);
    const response = checked.output;
    if (!response.ok) {
      if (/^protocol /.test(response.error) || /^unknown op/.test(response.error)) {
        throw new HostError(`${role} runs carpentry ${response.version}, this host ${VERSION}`, `${where}: ${response.error}; upgrade both gateways to one version`);
      }
      throw new HostError(`${role}: ${response.error}`.slice(0, 70), `${where}: ${response.error}`);
    }
    return response.value;
  }

  /** The answer to one request of a batch, as read() judges a whole answer. */
  readBatched(answer: unknown, index: number): unknown {
    const role = this.transport.role;
    if (answer === undefined) throw new HostError(`${role}'s carpentry answered a batch without request ${index + 1}`);
    const checked = v.safeParse(responseSchema, answer);
    if (!checked.success) throw new HostError(`${role}'s carpentry answered request ${index + 1} of a batch with something else`);
    const response = checked.output;
    if (!response.ok) throw new HostError(`${role}: ${response.error}`.slice(0, 70), `${this.carpentryPath}: ${response.error}`);
    return response.value;
  }
}

/** A question on the wire, and its reply: tagged, since several may be out at once (a batch). */
export interface TaggedQuestion {
  readonly id: number;
  readonly question: unknown;
}

export interface TaggedReply {
  readonly id: number;
  readonly reply: unknown;
}

/** Answers one question line of a conversation with `answer`, as a reply line. */
function replyLine(role: string, answer: (question: unknown) => Promise<unknown>): (line: string) => Promise<string> {
  return async (line) => {
    let tagged: TaggedQuestion;
    try {
      tagged = JSON.parse(line) as TaggedQuestion;
    } catch {
      throw new HostError(`${role}'s carpentry asked something unreadable`, line.slice(0, 200));
    }
    if (typeof tagged !== "object" || tagged === null || typeof tagged.id !== "number") throw new HostError(`${role}'s carpentry asked something unreadable`, line.slice(0, 200));
    const reply: TaggedReply = { id: tagged.id, reply: await answer(tagged.question) };
    return JSON.stringify(reply);
  };
}

// ---- several checks in one process (carpentry run, report, the cycle server): one ssh session ----
//
// Each `carpentry facts` on the peer is a node start (60-90 ms of CPU on a small gateway) and each
// ssh session a client process on this host (some 7 MB and 15 ms of CPU); checks run together in one
// process ask at nearly the same moment, so their requests and their shell commands for the peer
// wait a little for one another and travel in one session, the requests as one "batch" request. A
// peer too old for "batch" gets them one by one. Whatever rides together, each check gets exactly
// what it would have got alone: an answer of the batch that cannot be read as a whole is asked
// again request by request, so that each check's words are its own.

interface Waiting {
  readonly request: FactsRequest;
  /** The asker's deadline. */
  readonly signal: AbortSignal | undefined;
  /** For an op that asks questions back: its answers. */
  readonly answer: ((question: unknown) => Promise<unknown>) | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A question from inside a batch: which request of it asks. */
interface BatchQuestion {
  readonly request: number;
  readonly question: unknown;
}

/**
 * One request's answer of a batch, told as soon as it is ready (when the asker asks for that with
 * `stream`), so that a request that hangs on the peer (a wedged smtpctl) holds up its own asker only:
 * the others of its session get theirs and go on. It goes as a question (the asker's reply is only
 * its receipt), and the batch's own answer then holds STREAMED in its place.
 */
interface BatchPart {
  readonly part: number;
  readonly answer: unknown;
}

const STREAMED = { carpentry: "streamed" } as const;

/**
 * How long a batch waits for more: until nothing new has come for quietMs, and never longer than
 * maxWaitMs after its first request; and how many sessions a peer has at once: while they are all
 * busy, what comes waits for one to end and goes in the next, however long that takes.
 */
export interface BatchTiming {
  readonly quietMs: number;
  readonly maxWaitMs: number;
  readonly sessionsAtOnce: number;
}

interface PendingBatch {
  readonly peer: PeerFacts;
  readonly startedAt: number;
  readonly facts: Waiting[];
  timer: NodeJS.Timeout | undefined;
  /** Its wait is over; it goes as soon as a session is free. */
  due: boolean;
}

/** One peer's batch being filled and its sessions under way. */
interface PeerLine {
  pending: PendingBatch | undefined;
  sessions: number;
}

/**
 * Lets the peer requests and commands that checks of one process make close together share one ssh
 * session and one peer process. One batcher serves every check of a `carpentry run`; a check run
 * alone has none.
 */
export class PeerBatcher {
  /**
   * One line a peer, by what names it (every check has a PeerFacts of its own): a request goes to
   * the host it was asked of, never along with another host's.
   */
  private readonly lines = new Map<string, PeerLine>();

  constructor(private readonly timing: BatchTiming) {}

  ask(peer: PeerFacts, request: FactsRequest, answer: ((question: unknown) => Promise<unknown>) | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => this.join(peer).facts.push({ request, answer, signal: peer.transport.signal, resolve, reject }));
  }

  private join(peer: PeerFacts): PendingBatch {
    const key = peer.identity;
    const line = this.lines.get(key) ?? { pending: undefined, sessions: 0 };
    this.lines.set(key, line);
    const now = Date.now();
    const batch = (line.pending ??= { peer, startedAt: now, facts: [], timer: undefined, due: false });
    if (batch.due) return batch;
    clearTimeout(batch.timer);
    const waitMs = Math.max(0, Math.min(this.timing.quietMs, batch.startedAt + this.timing.maxWaitMs - now));
    batch.timer = setTimeout(() => {
      batch.due = true;
      this.flush(line);
    }, waitMs);
    return batch;
  }

  private flush(line: PeerLine): void {
    const batch = line.pending;
    if (!batch?.due || line.sessions >= this.timing.sessionsAtOnce) return;
    line.pending = undefined;
    line.sessions++;
    sendBatch(batch)
      .catch((error: unknown) => {
        for (const waiting of batch.facts) waiting.reject(error);
      })
      .finally(() => {
        line.sessions--;
        this.flush(line);
      });
  }
}

/**
 * The way to the peer for a batch of several askers: its processes live until the last of the
 * askers' deadlines, not the first's (an asker that finishes early ends its own processes).
 */
function sharedTransport(peer: PeerFacts, askers: readonly (AbortSignal | undefined)[]): FactsTransport {
  const { transport } = peer;
  const signals = askers.filter((signal): signal is AbortSignal => signal !== undefined);
  // Even for one asker: its scope then names what it waits for as its own session would, not the batch's.
  if (signals.length < askers.length || !transport.under) return transport;
  const lastDeadline = new AbortController();
  let left = signals.length;
  const oneEnded = (): void => {
    if (--left === 0) lastDeadline.abort();
  };
  for (const signal of signals) {
    if (signal.aborted) oneEnded();
    else signal.addEventListener("abort", oneEnded, { once: true });
  }
  return transport.under(new ProcessScope(lastDeadline.signal));
}

async function sendBatch(pending: PendingBatch): Promise<void> {
  const { facts } = pending;
  await sendFacts(
    pending.peer.via(
      sharedTransport(
        pending.peer,
        facts.map((w) => w.signal),
      ),
    ),
    facts,
  );
}

/** The requests as one: the batch op, or the one request itself. */
function batchOf(waiting: readonly Waiting[]): FactsRequest {
  const [one] = waiting;
  if (waiting.length === 1 && one) return one.request;
  const deadlineMs = Math.max(...waiting.map((w) => w.request.deadlineMs));
  // A peer of a build without streaming answers all at once, as before.
  return factsRequest("batch", { requests: waiting.map((w) => ({ op: w.request.op, args: w.request.args })), stream: true }, deadlineMs);
}

async function sendFacts(peer: PeerFacts, waiting: readonly Waiting[]): Promise<void> {
  if (waiting.length === 0) return;
  // Its requests' questions come tagged with the request's place in the batch. An asker that cannot
  // answer (its own host's output not understood, say) fails its own request alone, with its own
  // error, as it would alone: the peer is told to give that request up and the others go on.
  const askerFailed = new Map<number, unknown>();
  const streamed = new Set<number>();
  const answerInBatch = async (question: unknown): Promise<unknown> => {
    const { part, answer: partAnswer } = (question ?? {}) as Partial<BatchPart>;
    if (typeof part === "number") {
      const w = waiting[part];
      if (!w) throw new HostError("the peer's carpentry told an answer for no request of the batch");
      if (streamed.has(part)) return true;
      streamed.add(part);
      settleBatched(peer, w, part, askerFailed.has(part) ? { failed: askerFailed.get(part) } : { answer: partAnswer });
      return true;
    }
    const { request, question: asked } = (question ?? {}) as Partial<BatchQuestion>;
    const answer = typeof request === "number" ? waiting[request]?.answer : undefined;
    if (!answer || typeof request !== "number") throw new HostError("the peer's carpentry asked a question for no request of the batch");
    try {
      return await answer(asked);
    } catch (error) {
      if (!askerFailed.has(request)) askerFailed.set(request, error);
      return ASKER_FAILED;
    }
  };
  const one = waiting[0];
  let result: CommandResult;
  try {
    // A batch always converses: its answers come request by request as the peer has them.
    result = await peer.exchange(batchOf(waiting), waiting.length === 1 && one ? one.answer : answerInBatch);
  } catch (error) {
    for (const w of waiting) w.reject(error);
    return;
  }
  const settled = waiting.map((w, index) => (askerFailed.has(index) ? { ...w, resolve: () => w.reject(askerFailed.get(index)), reject: () => w.reject(askerFailed.get(index)) } : w));
  await readFacts(peer, settled, result, streamed);
}

/** One request's answer of a batch, read as readBatched judges it, or its asker's own failure. */
function settleBatched(peer: PeerFacts, w: Waiting, index: number, outcome: { answer: unknown } | { failed: unknown }): void {
  if ("failed" in outcome) {
    w.reject(outcome.failed);
    return;
  }
  try {
    w.resolve(peer.readBatched(outcome.answer, index));
  } catch (error) {
    w.reject(error);
  }
}

/** Each request's answer from the reply to the batch (or to the one request), but those told already. */
async function readFacts(peer: PeerFacts, waiting: readonly Waiting[], result: CommandResult, streamed: ReadonlySet<number>): Promise<void> {
  const one = waiting[0];
  if (waiting.length === 1 && one) {
    try {
      one.resolve(peer.read(result));
    } catch (error) {
      one.reject(error);
    }
    return;
  }
  let answers: unknown;
  try {
    answers = peer.read(result);
  } catch {
    // Unreadable as a whole (a peer too old for batch among them): each request alone, so each check
    // gets the answer, or the words, it would have got alone.
    await Promise.all(waiting.filter((_, index) => !streamed.has(index)).map((w) => peer.askNow(w.request, w.answer).then(w.resolve, w.reject)));
    return;
  }
  waiting.forEach((w, index) => {
    if (!streamed.has(index)) settleBatched(peer, w, index, { answer: Array.isArray(answers) ? (answers[index] as unknown) : undefined });
  });
}

/** The reply to a question of a batch's request whose asker could not answer: that request ends there. */
const ASKER_FAILED = { carpentry: "asker failed" } as const;

registerFacts("batch", async (args, signal, talk) => {
  const { requests, stream } = (args ?? {}) as { requests?: unknown; stream?: unknown };
  if (!Array.isArray(requests)) throw new Error("batch: requests must be an array");
  return Promise.all(
    requests.map(async (item: unknown, index) => {
      const { op, args: opArgs } = (item ?? {}) as { op?: unknown; args?: unknown };
      const asBatch: Talk = {
        ask: async (question) => {
          const reply = await talk.ask({ request: index, question } satisfies BatchQuestion);
          if ((reply as { carpentry?: unknown } | null)?.carpentry === ASKER_FAILED.carpentry) throw new Error("the asker gave this request up");
          return reply;
        },
      };
      const answer = op === "batch" ? failed("batch: a batch cannot hold a batch") : await runOp(op, opArgs, signal, asBatch);
      if (stream !== true) return answer;
      try {
        await talk.ask({ part: index, answer } satisfies BatchPart);
        return STREAMED;
      } catch {
        // Not taken (an asker that cannot be talked to): it goes in the batch's answer.
        return answer;
      }
    }),
  );
});

// ---- what crosses the wire is checked against a schema, on both sides ----

/** A message from the peer, or a HostError naming where it is wrong: never trusted into a verdict. */
export function readPeerMessage<S extends v.GenericSchema>(schema: S, value: unknown, peerRole: string, what: string): v.InferOutput<S> {
  const parsed = v.safeParse(schema, value);
  if (parsed.success) return parsed.output;
  const where = (parsed.issues[0].path ?? []).map((item) => String(item.key)).join(".") || "top";
  throw new HostError(`${peerRole}'s carpentry gave a bad ${what} answer`, `at ${where}: ${parsed.issues[0].message}; install the same carpentry build on both gateways`);
}

/** An op's arguments, or the asker's reply, or an error `op: what is wrong` for the asker to read. */
export function readAskerMessage<S extends v.GenericSchema>(schema: S, value: unknown, op: string): v.InferOutput<S> {
  const parsed = v.safeParse(schema, value);
  if (parsed.success) return parsed.output;
  throw new Error(`${op}: ${parsed.issues[0].message}`);
}

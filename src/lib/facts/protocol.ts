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
}

/**
 * The peer's carpentry, asked through a transport: each request one `carpentry facts` process, or,
 * with a batcher, the requests of checks that ask together in one.
 */
export class PeerFacts {
  constructor(
    private readonly transport: FactsTransport,
    private readonly carpentryPath: string,
    private readonly batcher: FactsBatcher | undefined,
  ) {}

  async ask(request: FactsRequest, options: FactsOptions): Promise<FactsAnswer> {
    const alongside = options.alongside ?? [];
    if (alongside.length > 0) return this.askWith(request, alongside, options);
    const value = this.batcher ? await this.batcher.ask(this, request, options.answer) : await this.askNow(request, options.answer);
    return { value, alongside: [] };
  }

  /** One request, now, in one process of its own. */
  async askNow(request: FactsRequest, answer: ((question: unknown) => Promise<unknown>) | undefined): Promise<unknown> {
    if (answer) {
      const command = this.command(request);
      const result = await this.transport.converse(command, command.input, replyLine(this.transport.role, answer));
      return this.read(result);
    }
    return (await this.askWith(request, [], {})).value;
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

  private command(request: FactsRequest): HostCommand & { readonly input: string } {
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

// ---- several checks in one process (carpentry run, report): one peer process for their requests ----
//
// Each `carpentry facts` on the peer is a node start (60-90 ms of CPU on a small gateway); checks run
// together in one process ask at nearly the same moment, so their requests wait a few milliseconds
// for one another and travel as one "batch" request. A peer too old for "batch" gets them one by one.

interface Waiting {
  readonly request: FactsRequest;
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
 * Lets the peer requests that checks of one process make within `windowMs` of each other share one
 * peer process. One batcher serves every check of a `carpentry run`; a check run alone has none.
 */
export class FactsBatcher {
  /** One batch a peer: a request goes to the host it was asked of, never along with another host's. */
  private readonly pending = new Map<PeerFacts, Waiting[]>();

  constructor(private readonly windowMs: number) {}

  ask(peer: PeerFacts, request: FactsRequest, answer: ((question: unknown) => Promise<unknown>) | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let waiting = this.pending.get(peer);
      if (!waiting) {
        const batch: Waiting[] = [];
        waiting = batch;
        this.pending.set(peer, batch);
        setTimeout(() => {
          this.pending.delete(peer);
          void sendBatch(peer, batch);
        }, this.windowMs);
      }
      waiting.push({ request, answer, resolve, reject });
    });
  }
}

async function sendBatch(peer: PeerFacts, waiting: readonly Waiting[]): Promise<void> {
  const alone = (w: Waiting): Promise<unknown> => peer.askNow(w.request, w.answer);
  const one = waiting[0];
  if (waiting.length === 1 && one) {
    await alone(one).then(one.resolve, one.reject);
    return;
  }
  const deadlineMs = Math.max(...waiting.map((w) => w.request.deadlineMs));
  const batch = factsRequest("batch", { requests: waiting.map((w) => ({ op: w.request.op, args: w.request.args })) }, deadlineMs);
  // Its requests' questions come tagged with the request's place in the batch.
  const answerInBatch = async (question: unknown): Promise<unknown> => {
    const { request, question: asked } = (question ?? {}) as Partial<BatchQuestion>;
    const answer = typeof request === "number" ? waiting[request]?.answer : undefined;
    if (!answer) throw new HostError("the peer's carpentry asked a question for no request of the batch");
    return answer(asked);
  };
  let answers: unknown;
  try {
    answers = await peer.askNow(batch, waiting.some((w) => w.answer) ? answerInBatch : undefined);
  } catch (error) {
    if (error instanceof HostError && /unknown op "batch"/.test(error.detail ?? "")) {
      await Promise.all(waiting.map((w) => alone(w).then(w.resolve, w.reject)));
      return;
    }
    for (const w of waiting) w.reject(error);
    return;
  }
  waiting.forEach((w, index) => {
    try {
      w.resolve(peer.readBatched(Array.isArray(answers) ? (answers[index] as unknown) : undefined, index));
    } catch (error) {
      w.reject(error);
    }
  });
}

registerFacts("batch", async (args, signal, talk) => {
  const requests = (args as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw new Error("batch: requests must be an array");
  return Promise.all(
    requests.map((item: unknown, index) => {
      const { op, args: opArgs } = (item ?? {}) as { op?: unknown; args?: unknown };
      const asBatch: Talk = { ask: (question) => talk.ask({ request: index, question } satisfies BatchQuestion) };
      return op === "batch" ? Promise.resolve(failed("batch: a batch cannot hold a batch")) : runOp(op, opArgs, signal, asBatch);
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

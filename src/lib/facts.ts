// Facts from our own code on a host: `carpentry facts` reads one JSON request on stdin and answers one
// JSON object. The primary runs it on the peer through ssh (the suite is installed on both gateways),
// so hashing and comparing happen in-process on each side with no BSD/GNU tool differences, and only
// digests cross the wire until something differs. The same handlers run in-process for the local host.
//
// The two gateways are upgraded one at a time, so the exchange is versioned: a request names its
// protocol; a peer answers any protocol from MIN_PROTOCOL to PROTOCOL and says which version it runs.
import type { Config } from "./config.js";
import { HostError } from "./errors.js";
import type { Host } from "./host.js";
import type { HostCommand, CommandResult } from "./shell.js";
import { VERSION } from "./version.js";

// 2: a request is one line, and an op may ask the asker questions before it answers (converseFacts).
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

function failed(error: string): FactsResponse {
  return { protocol: PROTOCOL, version: VERSION, ok: false, error };
}

async function runOp(op: unknown, args: unknown, signal: AbortSignal, talk: Talk): Promise<FactsResponse> {
  const handler = typeof op === "string" ? handlers.get(op) : undefined;
  if (!handler) return failed(`unknown op ${JSON.stringify(op)} (carpentry ${VERSION})`);
  try {
    return { protocol: PROTOCOL, version: VERSION, ok: true, value: await handler(args, signal, talk) };
  } catch (error) {
    return failed(error instanceof Error ? error.message : String(error));
  }
}

/** `talk` reaches the asker; only a request of protocol 2 or later may use it. */
export async function answerFacts(request: unknown, talk: Talk = CANNOT_TALK): Promise<FactsResponse> {
  if (typeof request !== "object" || request === null) return failed("request is not a JSON object");
  const { protocol, op, args, deadlineMs } = request as Partial<FactsRequest>;
  if (typeof protocol !== "number" || protocol < MIN_PROTOCOL || protocol > PROTOCOL) {
    return failed(`protocol ${String(protocol)} not supported (this host speaks ${MIN_PROTOCOL}-${PROTOCOL}, carpentry ${VERSION})`);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), typeof deadlineMs === "number" && deadlineMs > 0 ? deadlineMs : 30_000);
  try {
    return await runOp(op, args, controller.signal, protocol >= 2 ? talk : CANNOT_TALK);
  } finally {
    clearTimeout(timer);
  }
}

export function factsRequest(op: string, args: unknown, deadlineMs: number): FactsRequest {
  return { protocol: PROTOCOL, version: VERSION, deadlineMs, op, args };
}

/** The command that asks a host's own carpentry; for batching with other commands in one round trip. */
export function factsCommand(config: Config, request: FactsRequest): HostCommand {
  return { argv: [config.peer.carpentry_path, "facts"], input: JSON.stringify(request) };
}

export function readFactsResult(host: Host, config: Config, result: CommandResult): unknown {
  const where = `${host.role}'s carpentry (${config.peer.carpentry_path})`;
  if (result.exitCode === 127 || /not found|No such file/.test(result.stderr)) {
    throw new HostError(`${host.role} has no ${config.peer.carpentry_path}`, `install the same carpentry build on both gateways; ${result.stderr.trim()}`);
  }
  let response: FactsResponse;
  try {
    response = JSON.parse(result.stdout) as FactsResponse;
  } catch {
    const said = (result.stdout.trim() || result.stderr.trim()).split("\n")[0] ?? "";
    throw new HostError(`${host.role}'s carpentry gave no answer (exit ${result.exitCode})`, `${where}: ${said.slice(0, 200)}`);
  }
  if (typeof response !== "object" || response === null || typeof response.protocol !== "number") {
    throw new HostError(`${host.role}'s carpentry answered something else`, where);
  }
  if (!response.ok) {
    if (/^protocol /.test(response.error) || /^unknown op/.test(response.error)) {
      throw new HostError(`${host.role} runs carpentry ${response.version}, this host ${VERSION}`, `${where}: ${response.error}; upgrade both gateways to one version`);
    }
    throw new HostError(`${host.role}: ${response.error}`.slice(0, 70), `${where}: ${response.error}`);
  }
  return response.value;
}

/** This host's own answer, in-process. */
async function answerHere(host: Host, request: FactsRequest, talk?: Talk): Promise<unknown> {
  const response = await answerFacts(request, talk);
  if (!response.ok) throw new HostError(`${host.role}: ${response.error}`.slice(0, 70), response.error);
  return response.value;
}

/**
 * Asks one host for a fact: in-process for this host, through ssh for the peer. The deadline given to
 * the peer is a little shorter than ours, so it gives up and says why before we kill the connection.
 */
export async function askFacts(host: Host, config: Config, op: string, args: unknown, deadlineMs: number): Promise<unknown> {
  const request = factsRequest(op, args, Math.max(1000, deadlineMs - 1000));
  if (host.isLocal) return answerHere(host, request);
  if (mergeWindowMs > 0) return mergedAsk(host, config, request);
  return askPeerNow(host, config, request);
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
function replyLine(host: Host, answer: (question: unknown) => Promise<unknown>): (line: string) => Promise<string> {
  return async (line) => {
    let tagged: TaggedQuestion;
    try {
      tagged = JSON.parse(line) as TaggedQuestion;
    } catch {
      throw new HostError(`${host.role}'s carpentry asked something unreadable`, line.slice(0, 200));
    }
    if (typeof tagged !== "object" || tagged === null || typeof tagged.id !== "number") throw new HostError(`${host.role}'s carpentry asked something unreadable`, line.slice(0, 200));
    const reply: TaggedReply = { id: tagged.id, reply: await answer(tagged.question) };
    return JSON.stringify(reply);
  };
}

/**
 * Asks one host for a fact whose op asks questions back (its handler's `talk`): `answer` replies to
 * each. For the peer, one `carpentry facts` process holds the whole exchange over one ssh session, so
 * what it read for the first question is still there for the last.
 */
export async function converseFacts(host: Host, config: Config, op: string, args: unknown, deadlineMs: number, answer: (question: unknown) => Promise<unknown>): Promise<unknown> {
  const request = factsRequest(op, args, Math.max(1000, deadlineMs - 1000));
  if (host.isLocal) return answerHere(host, request, { ask: answer });
  if (mergeWindowMs > 0) return mergedAsk(host, config, request, answer);
  return conversePeerNow(host, config, request, answer);
}

async function conversePeerNow(host: Host, config: Config, request: FactsRequest, answer: (question: unknown) => Promise<unknown>): Promise<unknown> {
  const result = await host.converse(factsCommand(config, request), JSON.stringify(request), replyLine(host, answer));
  return readFactsResult(host, config, result);
}

async function askPeerNow(host: Host, config: Config, request: FactsRequest): Promise<unknown> {
  const [result] = await host.run([factsCommand(config, request)]);
  if (!result) throw new HostError(`no answer from ${host.label}`);
  return readFactsResult(host, config, result);
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

interface PendingBatch {
  readonly host: Host;
  readonly config: Config;
  readonly waiting: Waiting[];
}

let mergeWindowMs = 0;
const pendingBatches = new Map<string, PendingBatch>();

/** Lets peer requests made within windowMs of each other share one peer process. */
export function mergePeerFacts(windowMs: number): void {
  mergeWindowMs = windowMs;
}

function mergedAsk(host: Host, config: Config, request: FactsRequest, answer?: (question: unknown) => Promise<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const key = `${host.label}|${config.peer.carpentry_path}`;
    let batch = pendingBatches.get(key);
    if (!batch) {
      const created: PendingBatch = { host, config, waiting: [] };
      batch = created;
      pendingBatches.set(key, created);
      setTimeout(() => {
        pendingBatches.delete(key);
        void sendBatch(created);
      }, mergeWindowMs);
    }
    batch.waiting.push({ request, answer, resolve, reject });
  });
}

async function sendBatch({ host, config, waiting }: PendingBatch): Promise<void> {
  const alone = (w: Waiting): Promise<unknown> => (w.answer ? conversePeerNow(host, config, w.request, w.answer) : askPeerNow(host, config, w.request));
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
    if (!answer) throw new HostError(`${host.role}'s carpentry asked a question for no request of the batch`);
    return answer(asked);
  };
  let answers: unknown;
  try {
    answers = waiting.some((w) => w.answer) ? await conversePeerNow(host, config, batch, answerInBatch) : await askPeerNow(host, config, batch);
  } catch (error) {
    if (error instanceof HostError && /unknown op "batch"/.test(error.detail ?? "")) {
      await Promise.all(waiting.map((w) => alone(w).then(w.resolve, w.reject)));
      return;
    }
    for (const w of waiting) w.reject(error);
    return;
  }
  waiting.forEach((w, index) => {
    const answer = Array.isArray(answers) ? (answers[index] as FactsResponse | undefined) : undefined;
    if (!answer) w.reject(new HostError(`${host.role}'s carpentry answered a batch without request ${index + 1}`));
    else if (answer.ok) w.resolve(answer.value);
    else w.reject(new HostError(`${host.role}: ${answer.error}`.slice(0, 70), `${config.peer.carpentry_path}: ${answer.error}`));
  });
}

registerFacts("batch", async (args, signal, talk) => {
  const requests = (args as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw new Error("batch: requests must be an array");
  return Promise.all(
    requests.map((item: unknown, index) => {
      const { op, args: opArgs } = (item ?? {}) as { op?: unknown; args?: unknown };
      const asBatch: Talk = { ask: (question) => talk.ask({ request: index, question } satisfies BatchQuestion) };
      return op === "batch" ? failed("batch: a batch cannot hold a batch") : runOp(op, opArgs, signal, asBatch);
    }),
  );
});

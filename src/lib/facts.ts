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

export const PROTOCOL = 1;
export const MIN_PROTOCOL = 1;

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

/** An op takes plain JSON arguments and returns plain JSON; it must validate its arguments itself. */
export type FactsHandler = (args: unknown, deadline: AbortSignal) => Promise<unknown>;

const handlers = new Map<string, FactsHandler>();

export function registerFacts(op: string, handler: FactsHandler): void {
  handlers.set(op, handler);
}

export async function answerFacts(request: unknown): Promise<FactsResponse> {
  const fail = (error: string): FactsResponse => ({ protocol: PROTOCOL, version: VERSION, ok: false, error });
  if (typeof request !== "object" || request === null) return fail("request is not a JSON object");
  const { protocol, op, args, deadlineMs } = request as Partial<FactsRequest>;
  if (typeof protocol !== "number" || protocol < MIN_PROTOCOL || protocol > PROTOCOL) {
    return fail(`protocol ${String(protocol)} not supported (this host speaks ${MIN_PROTOCOL}-${PROTOCOL}, carpentry ${VERSION})`);
  }
  const handler = typeof op === "string" ? handlers.get(op) : undefined;
  if (!handler) return fail(`unknown op ${JSON.stringify(op)} (carpentry ${VERSION})`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), typeof deadlineMs === "number" && deadlineMs > 0 ? deadlineMs : 30_000);
  try {
    return { protocol: PROTOCOL, version: VERSION, ok: true, value: await handler(args, controller.signal) };
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
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

/**
 * Asks one host for a fact: in-process for this host, through ssh for the peer. The deadline given to
 * the peer is a little shorter than ours, so it gives up and says why before we kill the connection.
 */
export async function askFacts(host: Host, config: Config, op: string, args: unknown, deadlineMs: number): Promise<unknown> {
  const request = factsRequest(op, args, Math.max(1000, deadlineMs - 1000));
  if (host.isLocal) {
    const response = await answerFacts(request);
    if (!response.ok) throw new HostError(`${host.role}: ${response.error}`.slice(0, 70), response.error);
    return response.value;
  }
  const [result] = await host.run([factsCommand(config, request)]);
  if (!result) throw new HostError(`no answer from ${host.label}`);
  return readFactsResult(host, config, result);
}

// What check_pf, check_carp_stats, check_ntp and check_versions share: the same commands on both
// hosts, one round trip each and both at once, each host's answers read by the check's own reader.
// This host's view must be had; the peer's may be missing (unreachable, or output the reader does
// not understand), and then the check judges this host alone and says why the pair was not compared.
import type { CheckContext } from "../lib/runtime/check.js";
import type { Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError } from "../lib/runtime/errors.js";
import { peerViewMissing, type PeerViewMissing } from "../lib/runtime/findings.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";

/** A reader's ParseError, naming the host it came from: "cannot parse secondary's pfctl -sm output line 3". */
export function parsedOn<T>(role: Role, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(`${role}'s ${error.what}`, error.reason, error.lineNumber, error.lineText);
    throw error;
  }
}

/** stdout of a command that must succeed; its failure, naming the host, otherwise. */
export function outputOf(role: Role, answer: CommandResult): string {
  if (answer.exitCode === 0) return answer.stdout;
  throw commandFailed(answer.command, role, answer);
}

export interface BothViews<T> {
  readonly local: T;
  readonly peer: T | PeerViewMissing;
}

/** Runs the commands on both hosts at once and reads each host's answers (in the commands' order). */
export async function readBothHosts<T>(ctx: CheckContext, commands: readonly HostCommand[], read: (role: Role, answers: readonly CommandResult[]) => T): Promise<BothViews<T>> {
  const readHost = async (role: Role, run: Promise<CommandResult[]>): Promise<T> => {
    const answers = await run;
    if (answers.length !== commands.length) throw new HostError(`no output from ${role}`);
    return read(role, answers);
  };
  const [local, peer] = await Promise.allSettled([readHost(ctx.role, ctx.local.run(commands)), readHost(ctx.peerRole, ctx.peer.run(commands))]);
  if (local.status === "rejected") throw local.reason;
  return { local: local.value, peer: peer.status === "fulfilled" ? peer.value : peerViewMissing(ctx.peerRole, peer.reason) };
}

/** The two views primary first, when both were had. */
export function inRoleOrder<T extends { readonly role: Role }>(views: readonly T[]): T[] {
  return [...views].sort((a, b) => (a.role === b.role ? 0 : a.role === "primary" ? -1 : 1));
}

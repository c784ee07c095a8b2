// What a check is: metadata that the CLI, the build, --help and the README all read, and one run()
// from facts to a Result. A check never formats output and never calls ssh itself.
import type { Config, Role, SettingsSchema } from "./config.js";
import type { Deadline } from "./deadline.js";
import type { Host } from "../transport/host.js";
import type { ProcessScope } from "../transport/process.js";
import type { Result, Status } from "./result.js";
import type { Range } from "./thresholds.js";

export interface ExtraOption {
  readonly name: string;
  readonly short?: string;
  readonly valueName?: string;
  readonly description: string;
}

export interface CheckDefinition {
  /** "carp" is built as dist/checks/check_carp and run as `carpentry check carp`. */
  readonly name: string;
  /** One line for `carpentry list`. */
  readonly title: string;
  readonly roles: readonly Role[];
  /** Whether the check asks the peer; a dead peer makes such a check UNKNOWN (or partial, where documented). */
  readonly usesPeer: boolean;
  /** What it reads, on which host: one item a line in --help. */
  readonly reads: readonly string[];
  /** Exactly when each status is given. */
  readonly states: Readonly<Record<Status, string>>;
  /** A table that says more than the states can in a sentence: a heading, then rows of (case, status, why). */
  readonly table?: { readonly heading: string; readonly rows: readonly (readonly [string, string, string])[] };
  /** Whether -w/-c apply, and what they measure. */
  readonly thresholds?: string;
  readonly options?: readonly ExtraOption[];
  /** The schema of its [checks.NAME] table, defaults included; a check without one accepts no such table. */
  readonly settings?: SettingsSchema;
  run(ctx: CheckContext): Promise<Result>;
}

export interface CheckContext {
  readonly config: Config;
  readonly configPath: string;
  readonly role: Role;
  readonly peerRole: Role;
  readonly local: Host;
  /** The peer over the shared, multiplexed connection. */
  readonly peer: Host;
  /** The peer over a connection of its own. */
  freshPeer(): Host;
  /** The primary and the secondary, whichever of them we are. */
  readonly primary: Host;
  readonly secondary: Host;
  readonly verbose: boolean;
  readonly warning: Range | undefined;
  readonly critical: Range | undefined;
  readonly extra: Readonly<Record<string, string | undefined>>;
  /** Starts and names this check's processes and waits; all of them end at the deadline. */
  readonly scope: ProcessScope;
  /** The check's one deadline: its signal stops every process, wait and facts request. */
  readonly deadline: Deadline;
}

export function otherRole(role: Role): Role {
  return role === "primary" ? "secondary" : "primary";
}

// Every failure a user can meet is one of these: each carries a short summary (it becomes the first
// output line, so it must fit in 80 characters with the status) and an optional longer detail.
// Anything else that escapes a check is a bug and is reported as UNKNOWN by the runner.

export abstract class CarpentryError extends Error {
  constructor(
    readonly summary: string,
    readonly detail?: string,
  ) {
    super(detail ? `${summary}: ${detail}` : summary);
  }
}

/** Bad command-line arguments (unknown option, malformed threshold). */
export class UsageError extends CarpentryError {}

/** The config file is missing or wrong: names the file, the key, the line where known, what is expected. */
export class ConfigError extends CarpentryError {
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    readonly line: number | undefined,
    readonly expected: string,
  ) {
    const where = [file, line !== undefined ? `line ${line}` : undefined, key].filter(Boolean).join(": ");
    super(`config error: ${key ?? file}`, `${where}: ${expected}`);
  }
}

/** A host could not be asked: ssh failed, a command could not be started, output ended early. */
export class HostError extends CarpentryError {}

/**
 * Command output that a parser does not understand. The check becomes UNKNOWN naming the line;
 * it never turns into OK.
 */
export class ParseError extends CarpentryError {
  constructor(
    readonly what: string,
    readonly reason: string,
    readonly lineNumber?: number,
    readonly lineText?: string,
  ) {
    const at = lineNumber !== undefined ? ` line ${lineNumber}` : "";
    const text = lineText !== undefined ? `: ${JSON.stringify(lineText.slice(0, 120))}` : "";
    super(`cannot parse ${what}${at}`, `${reason}${text}`);
  }
}

/** The check's own deadline expired while waiting for something. */
export class TimeoutError extends CarpentryError {}

/** How a command ended, for a failure: what ran, where, its exit status and what it said on stderr. */
export interface CommandEnd {
  readonly exitCode: number | undefined;
  readonly signal?: string | undefined;
  readonly stderr: string;
}

/**
 * The one wording of a command that failed, wherever it ran: "/sbin/pfctl -si failed on secondary
 * (exit 1)", with the first line of its stderr as the detail. `where` is left out by code that runs on
 * either host and has its caller name it.
 */
export function commandFailed(command: string, where: string | undefined, end: CommandEnd): HostError {
  const how = end.exitCode !== undefined ? `exit ${end.exitCode}` : end.signal ? `killed by ${end.signal}` : "no exit status";
  const shown = command.length > 40 ? `${command.slice(0, 37)}...` : command;
  const said = end.stderr
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line !== "");
  return new HostError(`${shown} failed${where ? ` on ${where}` : ""} (${how})`, said);
}

/** What was thrown, as an Error to throw on: our own code throws Errors, anything else is named as such. */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : `a non-error was thrown (${typeof thrown})`);
}

// Commands for a host's shell (OpenBSD's ksh, on the peer through ssh): every argument is quoted,
// several commands go in one script so a check costs one round trip, and their outputs come back
// separated by markers that no command output can forge (a random nonce per script).
import { randomBytes } from "node:crypto";
import { HostError } from "../runtime/errors.js";

/** One program and its arguments, or a pipeline of them. Never a string: nothing is left unquoted. */
export type Argv = readonly string[];
export interface HostCommand {
  readonly argv?: Argv;
  readonly pipeline?: readonly Argv[];
  /** What to feed the command on stdin; at most one command of a batch may have it. */
  readonly input?: string;
}

export interface CommandResult {
  readonly command: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX single-quote quoting, safe for ksh, mksh, dash and bash. */
export function quote(arg: string): string {
  if (arg.includes("\0")) throw new HostError("argument contains a NUL byte", JSON.stringify(arg.slice(0, 40)));
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function renderArgv(argv: Argv): string {
  if (argv.length === 0) throw new HostError("empty command");
  return argv.map(quote).join(" ");
}

export function renderCommand(command: HostCommand): string {
  if (command.argv && !command.pipeline) return renderArgv(command.argv);
  if (command.pipeline && !command.argv && command.pipeline.length > 0) return command.pipeline.map(renderArgv).join(" | ");
  throw new HostError("a command needs either argv or a non-empty pipeline");
}

/** Starts a line a conversing command (Host.converse) prints to ask a question rather than answer. */
export const QUESTION_PREFIX = "?";

export interface BatchScript {
  readonly script: string;
  readonly nonce: string;
  readonly input: string | undefined;
}

/**
 * Runs each command with stdin from /dev/null (or the batch's input), then prints a marker with its
 * exit code on stdout and a marker on stderr, so both streams can be split per command.
 */
export function buildBatchScript(commands: readonly HostCommand[]): BatchScript {
  const withInput = commands.filter((command) => command.input !== undefined);
  if (withInput.length > 1) throw new HostError("at most one command of a batch may read input");
  const nonce = randomBytes(8).toString("hex");
  const parts = commands.map((command, index) => {
    // Around the whole command: after a pipeline's last member it would feed that member instead of the pipe.
    const stdin = command.input !== undefined ? "" : " </dev/null";
    return `{ { ${renderCommand(command)}; }${stdin}; }; printf '\\n@@%s %d %d\\n' ${nonce} ${index} $?; printf '\\n@@%s %d\\n' ${nonce} ${index} >&2`;
  });
  return { script: parts.join("\n"), nonce, input: withInput[0]?.input };
}

export function splitBatchOutput(batch: BatchScript, commands: readonly HostCommand[], stdout: string, stderr: string): CommandResult[] {
  const results: CommandResult[] = [];
  let outPos = 0;
  let errPos = 0;
  for (let index = 0; index < commands.length; index++) {
    const command = commands[index];
    if (!command) break;
    const outMarker = `\n@@${batch.nonce} ${index} `;
    const outAt = stdout.indexOf(outMarker, outPos);
    if (outAt === -1) {
      throw new HostError(`output ended before '${truncateCommand(renderCommand(command))}' finished`, lastLine(stderr.slice(errPos)) || undefined);
    }
    const codeEnd = stdout.indexOf("\n", outAt + outMarker.length);
    const exitCode = Number(stdout.slice(outAt + outMarker.length, codeEnd === -1 ? undefined : codeEnd));
    const errMarker = `\n@@${batch.nonce} ${index}\n`;
    const errAt = stderr.indexOf(errMarker, errPos);
    results.push({
      command: renderCommand(command),
      stdout: stdout.slice(outPos, outAt),
      stderr: errAt === -1 ? stderr.slice(errPos) : stderr.slice(errPos, errAt),
      exitCode: Number.isInteger(exitCode) ? exitCode : -1,
    });
    outPos = codeEnd === -1 ? stdout.length : codeEnd + 1;
    if (errAt !== -1) errPos = errAt + errMarker.length;
  }
  return results;
}

export function truncateCommand(text: string, max = 40): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

export function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

// The exchange between a check's shell header and the cycle server (`carpentry serve-cycle`), which
// runs the checks of one monit cycle in one node process. The header speaks it with printf and
// OpenBSD's nc(1) -U, so it is lines of text: the request names the build, the check, the working
// directory, $CARPENTRY_CONFIG and each argument (the header serves no argument holding a newline);
// the answer says "accepted" at once, then the exit code, the output as the check prints it alone,
// and an end line, so a header can tell a whole answer from one cut short by a server that died.
//
// A header with a FIFO of its own instead leaves the same request as a file and signals the server,
// which answers into the FIFO: no nc at all, and the header waits in its shell's own `read`. The
// answer in the FIFO counts its lines, since the shell reads line by line and must know where the
// output ends.

/** Where the server listens and the lock its starter takes: in the suite's state directory, root's alone. */
export const CYCLE_DIR = "/var/db/carpentry/cycle";
const CYCLE_MAGIC = "carpentry-cycle";
/** A request is a few hundred bytes; a peer that sends more is not a check's header. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface CycleRequest {
  readonly build: string;
  /** The check's name without check_, as in the registry. */
  readonly check: string;
  readonly cwd: string;
  /** $CARPENTRY_CONFIG in the check's environment; undefined when unset. */
  readonly config: string | undefined;
  readonly argv: readonly string[];
}

/** A header's pid, as it names its files in the cycle directory. */
const HEADER_PID = "[1-9][0-9]{0,9}";
/** The header's answer FIFO is a.PID in the cycle directory: nothing else is opened for it. */
export const ANSWER_FIFO_NAME = new RegExp(`^a\\.${HEADER_PID}$`);

/**
 * A header with a FIFO leaves its request as r.PID in the cycle directory and tells the server with
 * SIGURG, which every process ignores unless it asks for it: a server's pid taken over by another
 * process after a crash is then never hurt. No nc at all for such a check.
 */
export const REQUEST_FILE_NAME = new RegExp(`^r\\.(${HEADER_PID})$`);
/** A waiting header's files, each named by its pid: its request (r.), its answer FIFO (a.), and
 * what it tells the watchdog (w.). */
export const HEADER_FILE_NAME = new RegExp(`^[arw]\\.(${HEADER_PID})$`);
export const REQUEST_SIGNAL = "SIGURG";

export function socketPath(dir: string, build: string): string {
  return `${dir}/${build}.sock`;
}

export function lockPath(dir: string, build: string): string {
  return `${dir}/${build}.start`;
}

/**
 * The request once its end line has come; "incomplete" while it has not; a string saying what is
 * wrong for anything else.
 */
export function parseCycleRequest(text: string): CycleRequest | "incomplete" | { readonly bad: string } {
  const end = text.indexOf("\nend\n");
  if (end < 0) return text.length > MAX_REQUEST_BYTES ? { bad: "request too long" } : "incomplete";
  const lines = text.slice(0, end).split("\n");
  const first = lines.shift() ?? "";
  const magic = `${CYCLE_MAGIC} `;
  if (!first.startsWith(magic)) return { bad: "not a cycle request" };
  let check: string | undefined;
  let cwd: string | undefined;
  let config: string | undefined;
  const argv: string[] = [];
  for (const line of lines) {
    const space = line.indexOf(" ");
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? "" : line.slice(space + 1);
    if (key === "check") check = value;
    else if (key === "cwd") cwd = value;
    else if (key === "config") config = value;
    else if (key === "arg") argv.push(value);
    else return { bad: `unknown line '${key.slice(0, 20)}'` };
  }
  if (!check || !cwd) return { bad: "no check or no cwd" };
  return { build: first.slice(magic.length), check, cwd, config, argv };
}

/** The request as the header sends it (the tests speak as the header does). */
export function formatCycleRequest(request: CycleRequest): string {
  return [
    `${CYCLE_MAGIC} ${request.build}`,
    `check ${request.check}`,
    `cwd ${request.cwd}`,
    ...(request.config !== undefined ? [`config ${request.config}`] : []),
    ...request.argv.map((arg) => `arg ${arg}`),
    "end",
    "",
  ].join("\n");
}

/** Sent as soon as a request is taken: the header then knows the check runs, and waits for it. */
export function acceptedLine(build: string): string {
  return `${CYCLE_MAGIC} ${build} accepted\n`;
}

/** What the header's watchdog writes into its FIFO: the deadline has come; the server is gone. */
const WATCHDOG_LINES = [`${CYCLE_MAGIC}-late`, `${CYCLE_MAGIC}-gone`];

/**
 * The answer as it goes to the header's FIFO: a line with the exit code, the number of output lines
 * and whether the output ends with a newline, then those lines, then the end line. The header reads
 * exactly that many lines, so no output line is taken for the end.
 */
export function fifoAnswerText(build: string, code: number, output: string): string {
  // The watchdog's words end an answer wherever they stand: an output line that is one of them (no
  // check prints one) would be taken for them, so that check's header is told to run it alone.
  if (output.split("\n").some((line) => WATCHDOG_LINES.includes(line))) return `${WATCHDOG_LINES[1]}\n`;
  const endsWithNewline = output === "" || output.endsWith("\n");
  const body = endsWithNewline ? output : `${output}\n`;
  const lines = body === "" ? 0 : body.split("\n").length - 1;
  return `${CYCLE_MAGIC} ${build} ${code} ${lines} ${endsWithNewline ? 1 : 0}\n${body}${CYCLE_MAGIC}-end\n`;
}

/** A build id as a pattern that matches it and nothing else. */
function literal(build: string): string {
  return build.replace(/[^A-Za-z0-9]/g, "\\$&");
}

/** What a header makes of its FIFO's text: the same reading as its shell code, for the tests. */
export function readFifoAnswer(build: string, text: string): CycleAnswer {
  const lines = text.split("\n");
  const head = new RegExp(`^${CYCLE_MAGIC} ${literal(build)} ([0-3]) ([0-9]+) ([01])$`).exec(lines[0] ?? "");
  if (!head) return { kind: "cut" };
  const count = Number(head[2]);
  if (lines.slice(1, count + 2).some((line) => WATCHDOG_LINES.includes(line))) return { kind: "cut" };
  if (lines.length < count + 2 || lines[count + 1] !== `${CYCLE_MAGIC}-end`) return { kind: "cut" };
  const output = lines
    .slice(1, count + 1)
    .map((line) => `${line}\n`)
    .join("");
  return { kind: "answered", code: Number(head[1]), output: head[3] === "1" ? output : output.replace(/\n$/, "") };
}

/** The check's exit code and output, exactly as it prints them when it runs alone. */
export function answerText(build: string, code: number, output: string): string {
  return `${CYCLE_MAGIC} ${build} ${code}\n${output}\n${CYCLE_MAGIC}-end\n`;
}

/** The server will not run this one (another build, a relative config from another directory...): the header runs it alone. */
export function refusalLine(build: string, reason: string): string {
  return `${CYCLE_MAGIC} ${build} alone ${reason.replace(/\n/g, " ")}\n`;
}

export type CycleAnswer =
  | { readonly kind: "answered"; readonly code: number; readonly output: string }
  | { readonly kind: "refused"; readonly reason: string }
  /** Taken and then cut short: the server died, or did not answer in time. */
  | { readonly kind: "cut" }
  | { readonly kind: "none" };

/** What a header makes of what came back: the same reading as its shell code, for the tests. */
export function readCycleAnswer(build: string, text: string): CycleAnswer {
  const accepted = acceptedLine(build);
  const refused = `${CYCLE_MAGIC} ${build} alone `;
  if (text.startsWith(refused)) return { kind: "refused", reason: text.slice(refused.length).split("\n")[0] ?? "" };
  if (!text.startsWith(accepted)) return { kind: "none" };
  const rest = text.slice(accepted.length);
  const match = new RegExp(`^${CYCLE_MAGIC} ${literal(build)} ([0-3])\\n`).exec(rest);
  const end = `\n${CYCLE_MAGIC}-end\n`;
  if (!match || !rest.endsWith(end) || rest.length < match[0].length + end.length) return { kind: "cut" };
  return { kind: "answered", code: Number(match[1]), output: rest.slice(match[0].length, rest.length - end.length) };
}

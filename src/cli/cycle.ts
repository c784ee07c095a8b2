// `carpentry serve-cycle BUILD`: runs the checks of one monit cycle in this one node process, for the
// checks' shell headers, which ask it over a unix socket in the state directory before they start a
// node of their own (build.mjs makes the header). monit starts every check of a cycle at once: one
// node for all of them instead of one each takes the cycle's memory from some 40 MB a check to one
// process, and their commands to the peer share one ssh connection and their facts one peer process.
// Each check runs exactly as its executable runs it alone (answerStandalone) and its header prints
// what it would print and exits with its code. The first header of a cycle that finds no server
// starts this one; it ends after a few seconds with nothing to do, so it never outlives the cycle.
import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { createConnection, createServer, Socket } from "node:net";
import { basename, dirname, isAbsolute } from "node:path";
import { findCheck } from "../checks/index.js";
import { PeerBatcher } from "../lib/facts/protocol.js";
import {
  acceptedLine,
  ANSWER_FIFO_NAME,
  answerText,
  CYCLE_DIR,
  fifoAnswerText,
  MAX_REQUEST_BYTES,
  HEADER_FILE_NAME,
  REQUEST_FILE_NAME,
  REQUEST_SIGNAL,
  lockPath,
  parseCycleRequest,
  refusalLine,
  socketPath,
  type CycleRequest,
} from "../lib/runtime/cycle.js";
import { answerStandalone } from "../lib/runtime/runner.js";
import { processAlive } from "../lib/transport/pidfile.js";
import { BUILD } from "../lib/runtime/version.js";

/** Checks of one cycle start within a second of each other; a server idle this long has served its cycle. */
const IDLE_EXIT_MS = 2000;
/** A header sends its request at once; a connection that has not within this is not a header. */
const REQUEST_WAIT_MS = 2000;
/**
 * The headers of a cycle reach the server over a few hundred milliseconds (as it starts, or as they
 * find it, 150 ms and then every 200 ms apart): their checks' requests for the peer wait for one
 * another a little longer than under carpentry run, so a cycle takes a few sessions, not one a check.
 */
const PEER_BATCH_TIMING = { quietMs: 60, maxWaitMs: 300, sessionsAtOnce: 2 };

export interface CycleServerOptions {
  readonly dir: string;
  readonly build: string;
  readonly idleExitMs: number;
}

/** Why the directory is not fit to hold the socket, or undefined: root's (our euid's) alone, not a link. */
export function unsafeDirectory(dir: string, uid: number): string | undefined {
  let stat;
  try {
    stat = lstatSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (!stat.isDirectory()) return `${dir} is not a directory`;
  if (stat.uid !== uid) return `${dir} belongs to uid ${stat.uid}, not ${uid}`;
  if ((stat.mode & 0o077) !== 0) return `${dir} is open to group or others (mode ${(stat.mode & 0o777).toString(8)})`;
  return undefined;
}

/** Whether something answers on the socket: a live server of this build, which this one leaves alone. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/** The environment a check would have had: ours (the starter's, monit's), with its $CARPENTRY_CONFIG. */
function environmentOf(request: CycleRequest): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (request.config === undefined) delete env["CARPENTRY_CONFIG"];
  else env["CARPENTRY_CONFIG"] = request.config;
  return env;
}

/**
 * The header's answer FIFO, opened for writing, or undefined when it is not one we may use (the
 * header is gone, or the file is not its FIFO). Only a.PID in our own directory,
 * a FIFO of ours not reached through a link; without blocking: a header that is gone (no reader) is
 * ENXIO at once, never a server stuck in open.
 */
function openAnswerFifo(path: string, dir: string, uid: number): number | undefined {
  if (dirname(path) !== dir || !ANSWER_FIFO_NAME.test(basename(path))) return undefined;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  const stat = fstatSync(fd);
  if (!stat.isFIFO() || stat.uid !== uid) {
    closeSync(fd);
    return undefined;
  }
  return fd;
}

/** Why this request must run alone, or undefined when it can be served here. */
function mustRunAlone(request: CycleRequest, build: string): string | undefined {
  if (request.build !== build) return `server of build ${build}, check of build ${request.build}`;
  if (!findCheck(request.check)) return `no check ${request.check} in this build`;
  // A relative --config or $CARPENTRY_CONFIG names a file in the check's directory, not in ours.
  const relative = request.argv.some((arg, i) => (arg === "--config" && !isAbsolute(request.argv[i + 1] ?? "/")) || (arg.startsWith("--config=") && !isAbsolute(arg.slice(9))));
  const relativeEnv = request.config !== undefined && request.config !== "" && !isAbsolute(request.config);
  if ((relative || relativeEnv) && request.cwd !== process.cwd()) return "relative config path from another directory";
  return undefined;
}

/**
 * Checks share a peer process only when they ask the same peer (the same config) under the same
 * deadline: a batch runs under the deadline of the check that opened it.
 */
function batchKey(request: CycleRequest): string {
  const named = (option: string, short?: string): string[] =>
    request.argv.flatMap((arg, i) => {
      if (arg === option || arg === short) return [request.argv[i + 1] ?? ""];
      if (arg.startsWith(`${option}=`)) return [arg.slice(option.length + 1)];
      if (short && arg.startsWith(short) && arg.length > short.length) return [arg.slice(short.length)];
      return [];
    });
  return [request.cwd, request.config ?? "", ...named("--config"), "|", ...named("--timeout", "-t")].join("\0");
}

export class CycleServer {
  private readonly batchers = new Map<string, PeerBatcher>();
  private active = 0;
  private closing = false;
  private idleTimer: NodeJS.Timeout | undefined;
  // The header shuts down its side once its request is sent (nc -N): the answer still goes back.
  private readonly server = createServer({ allowHalfOpen: true }, (socket) => this.take(socket));
  readonly closed: Promise<void>;
  private markClosed: () => void = () => undefined;

  constructor(private readonly options: CycleServerOptions) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  get path(): string {
    return socketPath(this.options.dir, this.options.build);
  }

  /** Listens, unless another live server of this build does already (false then). */
  async listen(): Promise<boolean> {
    const previousUmask = process.umask(0o077);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
          this.server.once("error", resolve);
          this.server.listen(this.path, () => {
            this.server.off("error", resolve);
            resolve(undefined);
          });
        });
        if (!error) {
          chmodSync(this.path, 0o600);
          this.armIdleTimer();
          return true;
        }
        if (error.code !== "EADDRINUSE" || (await answers(this.path))) return false;
        // The socket of a server that was killed: nobody listens on it any more.
        rmSync(this.path, { force: true });
      }
      return false;
    } finally {
      process.umask(previousUmask);
    }
  }

  /**
   * The requests the headers left as files (REQUEST_FILE_NAME), each answered through its header's
   * FIFO. Called on the headers' signal; a file not yet whole is left for the next signal (its own
   * header signals once it has written it). Only regular files of ours, bounded in size.
   */
  scanRequests(): void {
    if (this.closing) return;
    const uid = process.geteuid?.() ?? 0;
    let names: string[];
    try {
      names = readdirSync(this.options.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const pid = REQUEST_FILE_NAME.exec(name)?.[1];
      if (!pid) continue;
      const path = `${this.options.dir}/${name}`;
      let text: string;
      try {
        const stat = lstatSync(path);
        if (!stat.isFile() || stat.uid !== uid || stat.size > MAX_REQUEST_BYTES) {
          rmSync(path, { force: true });
          continue;
        }
        text = readFileSync(path, "utf8");
      } catch {
        continue;
      }
      const request = parseCycleRequest(text);
      if (request === "incomplete") continue;
      rmSync(path, { force: true });
      const fifo = openAnswerFifo(`${this.options.dir}/a.${pid}`, this.options.dir, uid);
      // No FIFO with its header reading it: the header is gone, and so is the question.
      if (fifo === undefined) continue;
      this.dispatch(request, this.answerStream(fifo), true);
    }
  }

  /** A request, whichever way it came: refused at once, or accepted and answered the same way. */
  private dispatch(request: CycleRequest | { readonly bad: string }, answerTo: Socket, throughFifo: boolean): void {
    if ("bad" in request) {
      answerTo.end(refusalLine(this.options.build, request.bad));
      return;
    }
    const alone = mustRunAlone(request, this.options.build);
    if (alone) {
      // In the header's own build's words, so that even a header of another build runs alone at once.
      answerTo.end(refusalLine(request.build, alone));
      return;
    }
    // At once: over the socket the header then knows the check runs; through its FIFO, that it may
    // let go of its own writing end.
    answerTo.write(acceptedLine(this.options.build));
    void this.answer(request, answerTo, throughFifo);
  }

  /** A header's FIFO as a stream: the check counts as active until its answer is written. */
  private answerStream(fifo: number): Socket {
    clearTimeout(this.idleTimer);
    // A pipe's writes wait in the event loop, as stdout's do.
    const stream = new Socket({ fd: fifo, readable: false, writable: true });
    stream.on("error", () => stream.destroy());
    this.active++;
    stream.on("close", () => {
      this.active--;
      this.armIdleTimer();
    });
    return stream;
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.active === 0) this.idleTimer = setTimeout(() => this.close(), this.options.idleExitMs);
  }

  close(): void {
    this.closing = true;
    clearTimeout(this.idleTimer);
    // New headers find no socket from now on; the ones already connected get their answers.
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
    this.server.close(() => {
      releaseLock(this.options.dir, this.options.build);
      this.markClosed();
    });
  }

  private batcherFor(configKey: string): PeerBatcher {
    let batcher = this.batchers.get(configKey);
    if (!batcher) {
      batcher = new PeerBatcher(PEER_BATCH_TIMING);
      this.batchers.set(configKey, batcher);
    }
    return batcher;
  }

  private take(socket: Socket): void {
    this.active++;
    clearTimeout(this.idleTimer);
    let text = "";
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.active--;
      this.armIdleTimer();
    };
    const giveUp = setTimeout(() => socket.destroy(), REQUEST_WAIT_MS);
    socket.on("close", finish);
    socket.on("error", () => socket.destroy());
    socket.setEncoding("utf8");
    const onData = (chunk: string): void => {
      text += chunk;
      const request = parseCycleRequest(text);
      if (request === "incomplete") return;
      clearTimeout(giveUp);
      socket.off("data", onData);
      this.dispatch(request, socket, false);
    };
    socket.on("data", onData);
  }

  private async answer(request: CycleRequest, answerTo: Socket, throughFifo: boolean): Promise<void> {
    const check = findCheck(request.check);
    if (!check) {
      answerTo.end();
      return;
    }
    const answer = await answerStandalone(check, request.argv, environmentOf(request), this.batcherFor(batchKey(request)), true);
    answerTo.end(throughFifo ? fifoAnswerText(this.options.build, answer.code, answer.text) : answerText(this.options.build, answer.code, answer.text));
  }
}

/** The starter's lock names the pid of the server it started; only that server removes it. */
function releaseLock(dir: string, build: string): void {
  const lock = lockPath(dir, build);
  try {
    if (readFileSync(`${lock}/pid`, "utf8").trim() !== String(process.pid)) return;
  } catch {
    return;
  }
  rmSync(lock, { recursive: true, force: true });
}

/** `carpentry serve-cycle BUILD`, as a check's header starts it: quiet, and gone when idle. */
export async function runCycleServer(build: string | undefined): Promise<void> {
  const dir = CYCLE_DIR;
  const uid = process.geteuid?.() ?? 0;
  // A header of another build asks for a server of its own: this one would refuse all it sends.
  if (build !== BUILD || unsafeDirectory(dir, uid)) {
    releaseLock(dir, build ?? "");
    process.exit(3);
  }
  // A check run alone exits as soon as it has printed, and a promise of its that fails later (a
  // process killed as its deadline ends) fails unseen. Here it would end the server, and with it the
  // checks it holds: they are each answered already, whatever such a late failure says.
  process.on("unhandledRejection", () => undefined);
  // Started in the background by a check whose shell exits before the server does.
  process.on("SIGHUP", () => undefined);
  const server = new CycleServer({ dir, build, idleExitMs: IDLE_EXIT_MS });
  // The files of headers that are gone are nobody's now (the pid may come again with another check):
  // removed, so that no request is answered into another header's FIFO, and so that what a header
  // left when its watchdog had ended before it (a FIFO, its word to the watchdog) does not pile up.
  for (const name of readdirSync(dir)) {
    const pid = Number(HEADER_FILE_NAME.exec(name)?.[1] ?? 0);
    if (pid > 0 && !processAlive(pid)) rmSync(`${dir}/${name}`, { force: true });
  }
  process.on(REQUEST_SIGNAL, () => server.scanRequests());
  if (!(await server.listen())) {
    releaseLock(dir, build);
    process.exit(0);
  }
  // The requests of the headers that did not wait for the socket: they were told of the server by
  // the starter's pid file and wrote theirs while it started.
  server.scanRequests();
  await server.closed;
  process.exit(0);
}

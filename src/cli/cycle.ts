// `carpentry serve-cycle BUILD`: runs the checks of one monit cycle in this one node process, for the
// checks' shell headers, which ask it over a unix socket in the state directory before they start a
// node of their own (build.mjs makes the header). monit starts every check of a cycle at once: one
// node for all of them instead of one each takes the cycle's memory from some 40 MB a check to one
// process, and their commands to the peer share one ssh connection and their facts one peer process.
// Each check runs exactly as its executable runs it alone (answerStandalone) and its header prints
// what it would print and exits with its code. The first header of a cycle that finds no server
// starts this one; it ends after a few seconds with nothing to do, so it never outlives the cycle.
import { chmodSync, lstatSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { isAbsolute } from "node:path";
import { findCheck } from "../checks/index.js";
import { PeerBatcher } from "../lib/facts/protocol.js";
import { acceptedLine, answerText, CYCLE_DIR, lockPath, parseCycleRequest, refusalLine, socketPath, type CycleRequest } from "../lib/runtime/cycle.js";
import { answerStandalone } from "../lib/runtime/runner.js";
import { BUILD } from "../lib/runtime/version.js";

/** Checks of one cycle start within a second of each other; a server idle this long has served its cycle. */
const IDLE_EXIT_MS = 2000;
/** A header sends its request at once; a connection that has not within this is not a header. */
const REQUEST_WAIT_MS = 2000;
/**
 * The headers of a cycle reach the server over a few hundred milliseconds (they look for it at 50 ms,
 * 100 ms, then every 200 ms): their checks' requests for the peer wait for one another a little longer
 * than under carpentry run, so a cycle takes a few sessions, not one a check.
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

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.active === 0) this.idleTimer = setTimeout(() => this.close(), this.options.idleExitMs);
  }

  close(): void {
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
      if ("bad" in request) {
        socket.end(refusalLine(this.options.build, request.bad));
        return;
      }
      const alone = mustRunAlone(request, this.options.build);
      if (alone) {
        // In the header's own build's words, so that even a header of another build runs alone at once.
        socket.end(refusalLine(request.build, alone));
        return;
      }
      void this.serve(socket, request);
    };
    socket.on("data", onData);
  }

  private async serve(socket: Socket, request: CycleRequest): Promise<void> {
    socket.write(acceptedLine(this.options.build));
    const check = findCheck(request.check);
    if (!check) return;
    const env = environmentOf(request);
    const answer = await answerStandalone(check, request.argv, env, this.batcherFor(batchKey(request)), true);
    socket.end(answerText(this.options.build, answer.code, answer.text));
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
  if (!(await server.listen())) {
    releaseLock(dir, build);
    process.exit(0);
  }
  await server.closed;
  process.exit(0);
}

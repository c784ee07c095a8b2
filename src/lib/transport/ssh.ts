// How we use the system's OpenSSH client: BatchMode (never a prompt under monit), a connect timeout,
// host-key checking left on, one multiplexed connection shared by the checks (ControlMaster with the
// socket in a directory only we can enter), and ssh's failures turned into words an admin acts on.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { PeerConfig } from "../runtime/config.js";
import { HostError } from "../runtime/errors.js";
import { releasePidFile, removeIfStale, takePidFile } from "./pidfile.js";
import { lastLine } from "./shell.js";

export interface Multiplexing {
  readonly controlDir: string;
  readonly persistSeconds: number;
  /** the peer sshd's MaxSessions: how many sessions one connection may carry at once */
  readonly maxSessions: number;
}

export function defaultControlDir(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) return "/var/run/carpentry";
  return join(env["XDG_RUNTIME_DIR"] || "/tmp", `carpentry-${uid}`);
}

/**
 * The control socket lets anyone who can reach it run commands as us on the peer, so its directory
 * must be ours alone: created 0700, and refused if it is a symlink, someone else's, or open to others.
 */
export function ensureControlDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700, recursive: true });
  } catch (error) {
    throw new HostError(`cannot create ssh control directory ${dir}`, String((error as Error).message));
  }
  const stat = lstatSync(dir);
  const uid = process.geteuid?.() ?? 0;
  if (!stat.isDirectory()) throw new HostError(`ssh control directory ${dir} is not a directory`);
  if (stat.uid !== uid) throw new HostError(`ssh control directory ${dir} is not owned by uid ${uid}`);
  if ((stat.mode & 0o077) !== 0) throw new HostError(`ssh control directory ${dir} is open to others`, `mode ${(stat.mode & 0o777).toString(8)}, expected 700`);
}

/**
 * Our own socket name rather than ssh's %C, so we know the path: we must see whether a master is
 * alive before deciding who may create one. Short, for the 104-byte unix socket path limit.
 */
export function controlPath(multiplexing: Multiplexing, peer: PeerConfig): string {
  const id = createHash("sha256").update(`${peer.user}@${peer.host}:${peer.port}`).digest("hex").slice(0, 16);
  return join(multiplexing.controlDir, `cm-${id}`);
}

/**
 * Whether a master is up behind the socket. A master too busy to accept at once (EAGAIN: its backlog
 * is full while many checks start) is up; only a missing socket or a refused one means no master.
 */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(!["ENOENT", "ECONNREFUSED", "ENOTSOCK"].includes(error.code ?? "")));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * When monit starts many checks at once and no master is up, each ssh would open its own connection,
 * and sshd's MaxStartups (10 unauthenticated by default) starts dropping them. So one process at a
 * time may create the master, under a lock file (O_EXCL, holding its pid); the others wait for it and
 * then ride on the master. Returns a release function when we hold the lock, undefined when a master
 * is already up.
 */
export async function acquireMasterSlot(path: string, deadlineMs: number): Promise<(() => void) | undefined> {
  const lockPath = `${path}.lock`;
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await socketAnswers(path)) return undefined;
    if (takeOrFail(lockPath)) {
      const release = (): void => releasePidFile(lockPath);
      // The master may have come up between our look at the socket and the lock: the previous
      // holder made it and let go. Then it is ours to use. A stale socket is left to ssh, which
      // removes it itself when the connection to it is refused: removing it ourselves could orphan a
      // live master we merely failed to reach.
      if (await socketAnswers(path)) {
        release();
        return undefined;
      }
      return release;
    }
    if (removeIfStale(lockPath)) continue;
    // Give up waiting before the deadline and connect on our own: slower, but still an answer.
    if (Date.now() > until) return undefined;
    await sleep(15 + Math.random() * 20);
  }
}

// ---- pid files: the master lock and the session slots ----

function takeOrFail(path: string): boolean {
  try {
    return takePidFile(path);
  } catch (error) {
    throw new HostError(`cannot create ${path}`, (error as Error).message);
  }
}

/**
 * sshd refuses a connection's session beyond its MaxSessions (10 by default, on OpenBSD too), and ssh
 * then quietly opens a connection of its own: the burst monit makes when it starts every check at once
 * would hit sshd's MaxStartups after all. So the checks share out the master's sessions through slot
 * files beside the socket (O_EXCL, holding the pid). One fewer than MaxSessions, because sshd frees a
 * closed session a moment after the client has seen it end. Past the deadline we go on without a slot:
 * a connection of our own is slower but still an answer.
 */
export async function acquireSessionSlot(path: string, maxSessions: number, deadlineMs: number): Promise<() => void> {
  const slots = Math.max(1, maxSessions - 1);
  const until = Date.now() + deadlineMs;
  const first = process.pid % slots;
  for (;;) {
    for (let k = 0; k < slots; k++) {
      const slotPath = `${path}.s${(first + k) % slots}`;
      if (takeOrFail(slotPath) || (removeIfStale(slotPath) && takeOrFail(slotPath))) return () => releasePidFile(slotPath);
    }
    if (Date.now() > until) return () => undefined;
    await sleep(10 + Math.random() * 20);
  }
}

export function sshDestination(peer: PeerConfig): string {
  return `${peer.user}@${peer.host}`;
}

/**
 * ssh keeps the first value it sees for an option, so the admin's ssh_options come first (they may
 * tune anything) except BatchMode, which must stay on: a prompt under monit would hang the check.
 */
export function sshArgs(peer: PeerConfig, multiplexing: Multiplexing | undefined, remoteScript: string): string[] {
  const args = ["-o", "BatchMode=yes"];
  for (const option of peer.ssh_options) args.push("-o", option);
  args.push(
    "-o",
    `ConnectTimeout=${peer.connect_timeout}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=2",
    "-o",
    "LogLevel=ERROR",
    "-p",
    String(peer.port),
    "-l",
    peer.user,
  );
  if (peer.identity_file) args.push("-o", "IdentitiesOnly=yes", "-i", peer.identity_file);
  if (peer.known_hosts_file) args.push("-o", `UserKnownHostsFile=${peer.known_hosts_file}`);
  if (multiplexing) {
    args.push("-o", "ControlMaster=auto", "-o", `ControlPath=${controlPath(multiplexing, peer)}`, "-o", `ControlPersist=${multiplexing.persistSeconds}`);
  } else {
    args.push("-o", "ControlMaster=no", "-o", "ControlPath=none");
  }
  args.push("-T", "--", peer.host, remoteScript);
  return args;
}

const FAILURES: readonly [RegExp, string][] = [
  [/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i, "host key mismatch (the peer's key changed)"],
  [/No \S+ host key is known for|Host key verification failed/i, "host key not trusted (not in known_hosts or changed)"],
  [/Permission denied \(/i, "authentication refused"],
  [/Connection refused/i, "connection refused"],
  [/Connection timed out|Operation timed out|timed out during banner exchange/i, "connection timed out"],
  [/Could not resolve hostname|Name or service not known|no address associated/i, "host name does not resolve"],
  [/No route to host/i, "no route to host"],
  [/Network is unreachable/i, "network unreachable"],
  [/Connection closed by|Connection reset by|kex_exchange_identification/i, "connection closed by the peer during login"],
  [/Too many authentication failures/i, "authentication refused (too many keys offered)"],
  [/Bad owner or permissions on/i, "ssh refuses its own files: bad owner or permissions"],
];

/**
 * sshd drops connections beyond MaxStartups during the handshake; that is load, not a dead peer, and
 * is worth one more try. A refused or timed-out connection is not retried: it is the answer.
 */
export function isHandshakeDrop(stderr: string): boolean {
  return /kex_exchange_identification|Connection closed by .* port|Connection reset by/i.test(stderr);
}

/** ssh exits 255 for its own errors; this says which, in words. */
export function describeSshFailure(stderr: string): string {
  for (const [pattern, words] of FAILURES) if (pattern.test(stderr)) return words;
  const last = lastLine(stderr);
  return last ? `ssh failed: ${last.replace(/^ssh: /, "")}` : "ssh failed without a message";
}

// How we use the system's OpenSSH client: BatchMode (never a prompt under monit), a connect timeout,
// host-key checking left on, one multiplexed connection shared by the checks (ControlMaster with the
// socket in a directory only we can enter), and ssh's failures turned into words an admin acts on.
import { lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PeerConfig } from "./config.js";
import { HostError } from "./errors.js";
import { lastLine } from "./shell.js";

export interface Multiplexing {
  readonly controlDir: string;
  readonly persistSeconds: number;
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
    "-o", `ConnectTimeout=${peer.connect_timeout}`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=2",
    "-o", "LogLevel=ERROR",
    "-p", String(peer.port),
    "-l", peer.user,
  );
  if (peer.identity_file) args.push("-o", "IdentitiesOnly=yes", "-i", peer.identity_file);
  if (peer.known_hosts_file) args.push("-o", `UserKnownHostsFile=${peer.known_hosts_file}`);
  if (multiplexing) {
    args.push(
      "-o", "ControlMaster=auto",
      "-o", `ControlPath=${join(multiplexing.controlDir, "%C")}`,
      "-o", `ControlPersist=${multiplexing.persistSeconds}`,
    );
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

/** ssh exits 255 for its own errors; this says which, in words. */
export function describeSshFailure(stderr: string): string {
  for (const [pattern, words] of FAILURES) if (pattern.test(stderr)) return words;
  const last = lastLine(stderr);
  return last ? `ssh failed: ${last.replace(/^ssh: /, "")}` : "ssh failed without a message";
}

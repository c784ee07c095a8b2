/**
 * The simulated OpenBSD CARP gateway pair that the e2e tests and the benchmark run the built check
 * executables against. How it works, what is real and what is simulated: test/harness/README.md.
 *
 * Each host is one long-running holder process that owns a network namespace (veth pair,
 * primary 10.231.0.1/30, secondary 10.231.0.2/30), a PID namespace of its own (ps, pgrep and pkill
 * inside a host see that host's processes alone, as on a real gateway) and a private mount + UTS
 * namespace with overlays on /etc, /usr and /var, and private /proc, /root, /run, /tmp, /var/spool and
 * /usr/local/bin. Everything else runs inside with `nsenter -t INIT -m -n -u -p`.
 * Root only (namespaces, mounts, sshd on port 22 inside the namespace).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { healthyPair } from "../../src/sim/gateways.js";
import { standinKey } from "../../src/sim/standin-key.js";
import { standinScript, type StandinSettings } from "../../src/sim/standin.js";

const execFileAsync = promisify(execFile);

export type HostName = "primary" | "secondary";
export const HOST_NAMES: readonly HostName[] = ["primary", "secondary"];

/** The OpenBSD-only commands replaced by the stand-in (src/sim/standin.sh). */
export type StandinTool = "ifconfig" | "pfctl" | "sysctl" | "smtpctl" | "rcctl" | "netstat" | "ntpctl" | "syspatch" | "pkg_info";
const STANDIN_TOOLS: readonly StandinTool[] = ["ifconfig", "pfctl", "sysctl", "smtpctl", "rcctl", "netstat", "ntpctl", "syspatch", "pkg_info"];

/** PATH of OpenBSD's rc.d, hence of monit and of the checks it runs (no /usr/local/bin). */
export const MONIT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin";
/** A strayProcesses line of what outlives a check by design: the cycle server (2 s after its last
 * answer) and its watchdog (the check's own script with --cycle-watch, and its sleep). */
export const CYCLE_LEFTOVER = / serve-cycle | --cycle-watch |^\d+ sleep 0\.5$/;
/** PATH that OpenBSD's sshd gives root (login.conf "default" class); /usr/local/bin is last. */
const OPENBSD_LOGIN_PATH = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/X11R6/bin:/usr/local/bin:/usr/local/sbin";

export interface PairOptions {
  /** Node binary bound at /usr/local/bin/node inside both hosts. Default: process.execPath. */
  nodeBinary?: string;
  /** Where installBuild() takes the built files from. Default: <repo>/dist. */
  distDir?: string;
  /** Also run an sshd on the primary, so the secondary can reach it. Default: true. */
  primarySshd?: boolean;
  /** Which OpenBSD commands are stand-ins. Default: all of STANDIN_TOOLS. A tool left out is the
   * real Debian binary (e.g. leave out "smtpctl" to query a real OpenSMTPD inside the host). */
  standins?: readonly StandinTool[];
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** true when run() killed the process after timeoutMs */
  timedOut: boolean;
}

export interface RunOptions {
  /** SIGKILL to the process alone (as monit does) after this long. Default 30000. */
  timeoutMs?: number;
  /** added to the sparse environment (PATH=MONIT_PATH HOME=/root); may override PATH */
  env?: Record<string, string>;
  /** written to stdin, which is then closed. Without it stdin is a pipe that stays open
   * and empty until the process exits, as with monit. */
  input?: string;
}

export interface OutputStep {
  stdout: string;
  stderr?: string;
  exitCode?: number;
  /** the stand-in sleeps this long before answering */
  delayMs?: number;
}

export type CommandKind = "ssh" | "sh" | "standin" | "refused" | "unset" | "rejected";

export interface CommandLogEntry {
  /** ssh: a command line that reached the host's sshd (SSH_ORIGINAL_COMMAND); sh: /bin/sh was
   * run; standin: a stand-in answered; refused: a state-changing stand-in call was refused;
   * unset: a stand-in was called with no output set; rejected: a GNU-only option was rejected. */
  kind: CommandKind;
  pid: number;
  /** ssh: [command line]; others: the argv, argv[0] as invoked (e.g. "/sbin/pfctl") */
  argv: string[];
  /** ssh: the command line; others: argv joined with spaces */
  line: string;
}

export interface DaemonOptions {
  env?: Record<string, string>;
  /** stdout and stderr are appended here (a path outside the host). Default: <host dir>/daemons/<name>.log */
  logFile?: string;
  /** resolve once the log (from this start on) matches */
  ready?: RegExp;
  readyTimeoutMs?: number;
  /** enter the host's mount namespace too (default true); false runs a root-namespace binary
   * inside the host's network namespace only */
  mountNamespace?: boolean;
}

export interface Daemon {
  readonly host: HostName;
  /** the program's pid as the machine numbers it (inside the host it has another) */
  readonly pid: number;
  readonly logFile: string;
  /** settles when the process has exited */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** SIGTERM, then SIGKILL after timeoutMs (default 3000); resolves when it has exited */
  stop(timeoutMs?: number): Promise<void>;
}

export interface SshdControl {
  readonly host: HostName;
  /** "running", "hanging" (the silent listener), or "stopped" */
  readonly state: "running" | "hanging" | "stopped";
  stop(): Promise<void>;
  start(): Promise<void>;
  /** replace sshd by a listener on the host's address, port 22, that accepts TCP and never answers */
  hang(): Promise<void>;
  /** new host key (restarts sshd if it runs): the peer's known_hosts no longer matches.
   * pair.trustHostKeys() makes them match again. */
  rotateHostKey(): Promise<void>;
  /** sshd_config lines added to the harness's own (restarts sshd if it runs); [] restores the default */
  configure(extraLines: readonly string[]): Promise<void>;
  /** connections accepted so far (sshd's "Connection from" lines, plus the hanging listener's) */
  countConnections(): Promise<number>;
  /** the sshd log so far (sshd -D -e, LogLevel VERBOSE) */
  log(): Promise<string>;
}

export interface Pair {
  /** the run's temporary directory (one subdirectory per host) */
  readonly root: string;
  /** each host's own address */
  readonly address: Record<HostName, string>;
  /** the address of each host's peer: peerAddress.primary is the secondary's address */
  readonly peerAddress: Record<HostName, string>;
  /** the name each host has for its peer in its /etc/hosts: peerName.primary is "secondary" */
  readonly peerName: Record<HostName, string>;
  /** pid 1 of a host's PID namespace, as the machine numbers it (its namespaces: /proc/PID/ns/...) */
  pid(host: HostName): number;
  /** a host's view of an absolute path, through /proc/PID/root (absolute symlinks inside the host
   * resolve in the caller's view, not the host's) */
  hostPath(host: HostName, absolutePath: string): string;
  /** write a file inside a host's view (e.g. "/etc/pf.conf"); parents are created (0755, root).
   * Default mode 0644, owner root:wheel(0:0). */
  writeFile(host: HostName, absolutePath: string, content: string | Buffer, opts?: { mode?: number; uid?: number; gid?: number }): Promise<void>;
  readFile(host: HostName, absolutePath: string): Promise<Buffer>;
  /** remove a file or an empty directory (never recursive); no error if absent */
  removeFile(host: HostName, absolutePath: string): Promise<void>;
  /** what a stand-in prints for an invocation, e.g. setOutput("secondary", ["ifconfig", "carp"], text).
   * argv[0] is the tool (a path is fine: "/sbin/pfctl"); "mailq" is "smtpctl show queue". */
  setOutput(host: HostName, argv: readonly string[], stdout: string, opts?: { stderr?: string; exitCode?: number; delayMs?: number }): Promise<void>;
  /** successive calls get successive steps; the last step repeats */
  setOutputSequence(host: HostName, argv: readonly string[], steps: readonly OutputStep[]): Promise<void>;
  clearOutput(host: HostName, argv: readonly string[]): Promise<void>;
  /** the stand-in keeps printing what it prints for an invocation, but only after delayMs (a tool that hangs) */
  delayOutput(host: HostName, argv: readonly string[], delayMs: number): Promise<void>;
  /** run a command inside a host as monit does: environment PATH=/sbin:/bin:/usr/sbin:/usr/bin
   * HOME=/root (+opts.env) only, no TTY, stdin a pipe, cwd /, uid 0; SIGKILL to that process
   * alone after timeoutMs (its children stay: see strayProcesses) */
  run(host: HostName, argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** copy <distDir>/checks/check_* and <distDir>/carpentry into /etc/carpentry.monit/ on both
   * hosts (root, 0700; the directory too) */
  installBuild(): Promise<string[]>;
  /** write /etc/carpentry.monit/carpentry.toml on a host (root, 0600) */
  writeConfig(host: HostName, toml: string): Promise<void>;
  /** the secondary's sshd (the one the primary's checks reach) */
  readonly sshd: SshdControl;
  /** either host's sshd; the primary's exists unless primarySshd was false */
  sshdOf(host: HostName): SshdControl;
  /** rewrite both hosts' /root/.ssh/known_hosts from the current host keys */
  trustHostKeys(): Promise<void>;
  /** start a long-running process inside a host (excluded from strayProcesses, stopped first by stop()) */
  startDaemon(host: HostName, name: string, argv: readonly string[], opts?: DaemonOptions): Promise<Daemon>;
  /** every command line that reached a host's shell or a stand-in, in order (CommandLogEntry.line) */
  commandLog(host: HostName): Promise<string[]>;
  commandEntries(host: HostName): Promise<CommandLogEntry[]>;
  /** state-changing stand-in calls that were refused (the suite asserts there are none) */
  refusedCommands(host: HostName): Promise<string[]>;
  clearCommandLog(host: HostName): Promise<void>;
  /** "PID cmdline" of every process in the host's PID namespace except its init and the daemons the
   * harness started (PID as the machine numbers it). Waits up to settleMs (default 1000) for
   * processes that are still exiting. */
  strayProcesses(host: HostName, opts?: { settleMs?: number }): Promise<string[]>;
  /** kill everything (daemons in reverse start order, holders, then every process left in the
   * namespaces), delete the namespaces and the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------

const HARNESS_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HARNESS_DIR, "..", "..");
const TMP_BASE = "/tmp";
const TMP_PREFIX = "carpentry-pair-";
const NETNS_DIR = "/run/netns";
const NETNS_RE = /^c(?:pri|sec)(\d+)x[0-9a-z]+$/;
const VETH_RE = /^cv[ps](\d+)x[0-9a-z]+$/;
const DIR_RE = /^carpentry-pair-(\d+)x[0-9a-z]+-/;
const PROC_MARK = `${TMP_BASE}/${TMP_PREFIX}`;

const ADDRESS: Record<HostName, string> = { primary: "10.231.0.1", secondary: "10.231.0.2" };
const PEER: Record<HostName, HostName> = { primary: "secondary", secondary: "primary" };

/** Debian tools that OpenBSD does not have: absent (overlay whiteouts) inside the hosts. */
const ABSENT_TOOLS = [
  "node",
  "sha1sum",
  "sha224sum",
  "sha256sum",
  "sha384sum",
  "sha512sum",
  "md5sum",
  "b2sum",
  "base32",
  "base64",
  "basenc",
  "bash",
  "rbash",
  "dash",
  "tac",
  "stdbuf",
  "flock",
  "nproc",
  "numfmt",
];
const ABSENT_PREFIXES = ["python"];
/** Tools guarded or emulated by gnu-guard.sh (installed in /usr/bin). */
const GUARDED_TOOLS = ["env", "find", "head", "sed", "sort", "stat", "xargs", "md5", "sha1", "sha256", "sha512"];
const STANDIN_DIR: Record<StandinTool, "usr/sbin" | "usr/bin"> = {
  ifconfig: "usr/sbin",
  pfctl: "usr/sbin",
  sysctl: "usr/sbin",
  smtpctl: "usr/sbin",
  rcctl: "usr/sbin",
  netstat: "usr/bin",
  ntpctl: "usr/sbin",
  syspatch: "usr/sbin",
  pkg_info: "usr/sbin",
};
const OVERLAYS = ["etc", "usr", "var"] as const;

/**
 * The holder: runs in the new network namespace (ip netns exec) and a new mount + UTS + PID
 * namespace (unshare --pid --fork: this script is pid 1 of the host, with the host's own /proc),
 * sets up the host's view, prints "ready" and waits for EOF on stdin (or SIGKILL).
 * Positional parameters: host dir, host name, address, veth, node binary, whiteout names...
 * Inside the host, the host dir is visible at its own path (scripts, state, log, sshd files) with
 * the real /usr/bin read-only at real-bin; the overlay upper/work dirs are hidden there, so nothing
 * done inside a host (or through /proc/PID/root) can reach the real file system through them.
 */
const HOLDER_SCRIPT = [
  "set -eu",
  "H=$1 NAME=$2 ADDR=$3 IF=$4 NODE=$5",
  "shift 5",
  "/usr/sbin/ip link set lo up",
  '/usr/sbin/ip addr add "$ADDR/30" dev "$IF"',
  '/usr/sbin/ip link set "$IF" up',
  'echo "$NAME" >/proc/sys/kernel/hostname',
  'for f; do /usr/bin/mknod "$H/upper/usr/bin/$f" c 0 0; done',
  'ro_bind() { /usr/bin/mount --bind "$1" "$2" && /usr/bin/mount -o remount,bind,ro "$2"; }',
  'ro_bind /usr/bin "$H/real-bin"',
  'ro_bind "$NODE" "$H/usr-local-bin/node"',
  "/usr/bin/mount -t tmpfs -o mode=0755 tmpfs /run",
  "/usr/bin/mkdir -m 0755 /run/sshd /run/.harness",
  '/usr/bin/mount --rbind "$H" /run/.harness',
  'for d in upper work root usr-local-bin; do /usr/bin/mount -t tmpfs -o ro,mode=0555,size=4k tmpfs "/run/.harness/$d"; done',
  "for d in etc usr var; do",
  '  /usr/bin/mount -t overlay overlay -o "lowerdir=/$d,upperdir=$H/upper/$d,workdir=$H/work/$d" "/$d"',
  "done",
  '/usr/bin/mount --rbind "$H/usr-local-bin" /usr/local/bin',
  "/usr/bin/mount -t tmpfs -o mode=0755 tmpfs /var/spool",
  '/usr/bin/mount --bind "$H/root" /root',
  "/usr/bin/mount -t tmpfs -o mode=1777 tmpfs /tmp",
  '/usr/bin/mkdir -p "$H"',
  '/usr/bin/mount --move /run/.harness "$H"',
  "/usr/bin/rmdir /run/.harness",
  // pid 1 of the host's PID namespace: it waits for a job that ends at EOF on its stdin, and while
  // it waits it also reaps the host's orphans (wait(2) takes any child), so no zombie stays in
  // ps or pgrep. When it exits, the kernel kills every process left in the host. The job is its
  // only child when it says ready: the harness tells it from the host's own processes that way.
  "exec 3<&0",
  "{ read -r _ <&3 || true; } &",
  "echo ready",
  'wait "$!"',
].join("\n");

/** Listener that accepts TCP on port 22 and never answers (node -e; argv: log file, address). */
const HANG_SCRIPT = [
  'const net = require("node:net"), fs = require("node:fs");',
  "const [log, address] = process.argv.slice(1);",
  "const held = new Set();",
  "net.createServer({ pauseOnConnect: true }, (s) => {",
  "  held.add(s);",
  "  fs.appendFileSync(log, `Connection from ${s.remoteAddress} port ${s.remotePort} on ${address} port 22 (hanging listener)\\n`);",
  "}).listen(22, address, () => console.log(`hanging listener listening on ${address} port 22`));",
  'process.on("SIGTERM", () => process.exit(0));',
].join("\n");

// -- stand-ins (src/sim/standin.sh, the demo's too) --------------------------------------------

export { standinKey };

/** The stand-in in a host: mksh (the host's /bin/sh would log each call as a shell), its outputs in
 * the host's state directory, every call in the host's command log. */
function standinSettings(hostDir: string): StandinSettings {
  return {
    shell: "/usr/bin/mksh",
    setup: [`. ${hostDir}/bin/harness-lib.sh`, "STATE=$HARNESS_DIR/state", 'standin_log() { harness_log "$@"; }'].join("\n"),
  };
}

/** [tool, args] for an argv given to setOutput/clearOutput. */
function standinTarget(argv: readonly string[]): { tool: string; args: string[] } {
  const [first, ...args] = argv;
  if (first === undefined) throw new Error("stand-in argv is empty");
  const tool = path.posix.basename(first);
  if (tool === "mailq") return { tool: "smtpctl", args: ["show", "queue"] };
  if (!(STANDIN_TOOLS as readonly string[]).includes(tool)) {
    throw new Error(`${tool} is not a stand-in (stand-ins: ${STANDIN_TOOLS.join(", ")})`);
  }
  return { tool, args };
}

// -- small helpers --------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** the kernel's name for a process (at most 15 characters), or undefined once it is gone */
function readComm(pid: number | undefined): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trimEnd();
  } catch {
    return undefined;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

function readCmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** pids whose namespace of this kind is the one with this inode (zombies have none: not listed) */
function isInNamespace(pid: number, kind: "net" | "pid", inode: number): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${kind}`) === `${kind}:[${inode}]`;
  } catch {
    return false;
  }
}

function pidsInNamespace(kind: "net" | "pid", inode: number): number[] {
  return allPids().filter((pid) => isInNamespace(pid, kind, inode));
}

function pidsInNetns(inode: number): number[] {
  return pidsInNamespace("net", inode);
}

/** the inode of a process's namespace of this kind, or undefined once it is gone */
function namespaceInode(pid: number, kind: "net" | "pid"): number | undefined {
  try {
    return fs.statSync(`/proc/${pid}/ns/${kind}`).ino;
  } catch {
    return undefined;
  }
}

/**
 * The children of a process, as the machine numbers them. nsenter -p and unshare --pid --fork fork
 * the program into the host's PID namespace and wait for it: the child is the process to signal.
 */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function netnsInode(name: string): number | undefined {
  try {
    return fs.statSync(path.join(NETNS_DIR, name)).ino;
  } catch {
    return undefined;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function writeAtomic(file: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp${process.pid}${Math.random().toString(36).slice(2)}`;
  await fsp.writeFile(tmp, content, { mode });
  await fsp.rename(tmp, file);
}

// -- process-wide bookkeeping: live pairs, exit hooks, garbage of dead runs ----------------------

const livePairs = new Set<PairImpl>();
let hooksInstalled = false;
let pairSeq = 0;

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const pair of livePairs) pair.stopSync();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      for (const pair of livePairs) pair.stopSync();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

interface Leftover {
  owner: number;
  description: string;
  remove(): void;
}

function ownedBySomeoneElseAlive(owner: number): boolean {
  return owner !== process.pid && alive(owner);
}

/** Everything of ours (any run, any process) still present. */
function scanLeftovers(): Leftover[] {
  const found: Leftover[] = [];
  const seenPids = new Set<number>();
  let netnsNames: string[] = [];
  try {
    netnsNames = fs.readdirSync(NETNS_DIR);
  } catch {
    /* no netns yet */
  }
  for (const name of netnsNames) {
    const m = NETNS_RE.exec(name);
    if (!m) continue;
    const owner = Number(m[1]);
    const inode = netnsInode(name);
    const pids = inode === undefined ? [] : pidsInNetns(inode);
    for (const pid of pids) {
      seenPids.add(pid);
      found.push({
        owner,
        description: `process ${pid} in netns ${name}: ${readCmdline(pid) ?? "?"}`,
        remove: () => killQuietly(pid, "SIGKILL"),
      });
    }
    found.push({
      owner,
      description: `netns ${name}`,
      remove: () => {
        for (const pid of inode === undefined ? [] : pidsInNetns(inode)) killQuietly(pid, "SIGKILL");
        try {
          execFileSync("/usr/sbin/ip", ["netns", "del", name], { stdio: "ignore" });
        } catch {
          /* gone */
        }
      },
    });
  }
  let links: string[] = [];
  try {
    links = fs.readdirSync("/sys/class/net");
  } catch {
    /* no sysfs */
  }
  for (const name of links) {
    const m = VETH_RE.exec(name);
    if (!m) continue;
    found.push({
      owner: Number(m[1]),
      description: `veth ${name} in the root namespace`,
      remove: () => {
        try {
          execFileSync("/usr/sbin/ip", ["link", "del", name], { stdio: "ignore" });
        } catch {
          /* gone */
        }
      },
    });
  }
  for (const pid of allPids()) {
    if (seenPids.has(pid) || pid === process.pid) continue;
    const cmdline = readCmdline(pid);
    if (cmdline === undefined) continue;
    const at = cmdline.indexOf(PROC_MARK);
    if (at < 0) continue;
    const m = DIR_RE.exec(cmdline.slice(at + TMP_BASE.length + 1));
    if (!m) continue;
    found.push({ owner: Number(m[1]), description: `process ${pid}: ${cmdline}`, remove: () => killQuietly(pid, "SIGKILL") });
  }
  for (const name of fs.readdirSync(TMP_BASE)) {
    const m = DIR_RE.exec(name);
    if (!m) continue;
    const dir = path.join(TMP_BASE, name);
    found.push({ owner: Number(m[1]), description: `directory ${dir}`, remove: () => fs.rmSync(dir, { recursive: true, force: true }) });
  }
  return found;
}

/**
 * Namespaces, veths, processes and temporary directories of ours that are still present, as
 * "netns cpri123x0", "process 4567: ...", "directory /tmp/carpentry-pair-...". Includes this
 * process's pairs that are still running; leaves out those of other live processes (another test
 * worker's running pair) unless includeOtherProcesses.
 */
export async function leftovers(opts: { includeOtherProcesses?: boolean } = {}): Promise<string[]> {
  return scanLeftovers()
    .filter((item) => opts.includeOtherProcesses === true || !ownedBySomeoneElseAlive(item.owner))
    .map((item) => item.description);
}

/** Remove what dead runs (owner process gone, e.g. SIGKILLed) left behind. Processes first. */
function collectGarbage(): void {
  const dead = scanLeftovers().filter((item) => item.owner !== process.pid && !alive(item.owner));
  const order = (d: string): number => (d.startsWith("process") ? 0 : d.startsWith("netns") ? 1 : d.startsWith("veth") ? 2 : 3);
  dead.sort((a, b) => order(a.description) - order(b.description));
  for (const item of dead) item.remove();
}

// -- the pair ---------------------------------------------------------------------------------------

interface HostState {
  readonly name: HostName;
  readonly ns: string;
  readonly veth: string;
  readonly dir: string;
  /** unshare, which waits for the host's init; killing it kills the init (--kill-child) */
  holder?: ChildProcess;
  /** pid 1 of the host's PID namespace, as the machine numbers it */
  init?: number | undefined;
  /** the init's child that waits for EOF on its stdin */
  initJob?: number | undefined;
  netnsInode?: number | undefined;
  pidnsInode?: number | undefined;
  readonly daemons: DaemonImpl[];
}

/**
 * Ends a host: SIGKILL to its init, which takes every process of the host's PID namespace with it;
 * unshare, waiting for the init, reaps it and exits with the same signal. (Killing unshare first
 * would kill the init too, through --kill-child, but leave it a zombie for the machine's init to
 * reap, seconds later on some machines.) unshare alone if there is no init to kill.
 */
function endHost(h: HostState): void {
  const holder = h.holder;
  if (!holder || holder.exitCode !== null || holder.signalCode !== null) return;
  if (h.init !== undefined) killQuietly(h.init, "SIGKILL");
  else holder.kill("SIGKILL");
}

/** every process in a host's network or PID namespace (all of them started by the pair) */
function hostPids(h: HostState): number[] {
  const pids = new Set<number>();
  if (h.netnsInode !== undefined) for (const pid of pidsInNamespace("net", h.netnsInode)) pids.add(pid);
  if (h.pidnsInode !== undefined) for (const pid of pidsInNamespace("pid", h.pidnsInode)) pids.add(pid);
  return [...pids];
}

class DaemonImpl implements Daemon {
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** the program nsenter forked into the host (the child is nsenter, which only waits for it) */
  program?: number;
  constructor(
    readonly host: HostName,
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = waitExit(child);
  }
  get pid(): number {
    return this.program ?? this.child.pid ?? -1;
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** the program itself (nsenter does not pass signals on); nsenter if it has not forked yet */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    const program = this.program ?? childPids(this.child.pid)[0];
    if (program === undefined) this.child.kill(signal);
    else killQuietly(program, signal);
  }
  async stop(timeoutMs = 3000): Promise<void> {
    if (!this.running) return;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

class SshdImpl implements SshdControl {
  private daemon?: DaemonImpl;
  private hanger?: DaemonImpl;
  constructor(
    private readonly pair: PairImpl,
    readonly host: HostName,
  ) {}
  get dir(): string {
    return path.join(this.pair.hostDir(this.host), "sshd");
  }
  get logFile(): string {
    return path.join(this.dir, "sshd.log");
  }
  get keyFile(): string {
    return path.join(this.dir, "ssh_host_ed25519_key");
  }
  get state(): "running" | "hanging" | "stopped" {
    if (this.daemon?.running) return "running";
    if (this.hanger?.running) return "hanging";
    return "stopped";
  }
  async start(): Promise<void> {
    if (this.daemon?.running) return;
    await this.hanger?.stop();
    this.daemon = await this.pair.startDaemonImpl(this.host, "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", path.join(this.dir, "sshd_config")], {
      logFile: this.logFile,
      ready: new RegExp(`Server listening on ${ADDRESS[this.host].replace(/\./g, "\\.")} port 22`),
    });
  }
  async stop(): Promise<void> {
    await this.daemon?.stop();
    await this.hanger?.stop();
  }
  async hang(): Promise<void> {
    await this.stop();
    this.hanger = await this.pair.startDaemonImpl(this.host, "hanging-listener", [process.execPath, "-e", HANG_SCRIPT, this.logFile, ADDRESS[this.host]], {
      logFile: this.logFile,
      ready: /hanging listener listening/,
      mountNamespace: false,
    });
  }
  async rotateHostKey(): Promise<void> {
    const wasRunning = this.daemon?.running === true;
    if (wasRunning) await this.daemon?.stop();
    await fsp.rm(this.keyFile, { force: true });
    await fsp.rm(`${this.keyFile}.pub`, { force: true });
    await sshKeygen(this.keyFile, `host key of ${this.host}, rotated`);
    if (wasRunning) await this.start();
  }
  async configure(extraLines: readonly string[]): Promise<void> {
    const wasRunning = this.daemon?.running === true;
    if (wasRunning) await this.daemon?.stop();
    await fsp.writeFile(path.join(this.dir, "sshd_config"), sshdConfig(this.host, this.pair.hostDir(this.host)) + extraLines.map((line) => `${line}\n`).join(""));
    if (wasRunning) await this.start();
  }
  async countConnections(): Promise<number> {
    return (await this.log()).split("\n").filter((line) => line.startsWith("Connection from ")).length;
  }
  async log(): Promise<string> {
    try {
      return await fsp.readFile(this.logFile, "utf8");
    } catch {
      return "";
    }
  }
  daemons(): DaemonImpl[] {
    return [this.daemon, this.hanger].filter((d): d is DaemonImpl => d !== undefined);
  }
}

async function sshKeygen(file: string, comment: string): Promise<void> {
  await execFileAsync("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
}

function sshdConfig(host: HostName, dir: string): string {
  return [
    "# sshd of the simulated host; see test/harness/README.md",
    `ListenAddress ${ADDRESS[host]}`,
    "Port 22",
    `HostKey ${dir}/sshd/ssh_host_ed25519_key`,
    "PidFile none",
    "AuthorizedKeysFile .ssh/authorized_keys",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "LogLevel VERBOSE",
    `SetEnv PATH=${OPENBSD_LOGIN_PATH}`,
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    `ForceCommand ${dir}/bin/ssh-command`,
    "",
  ].join("\n");
}

const OPENBSD_SSH_CONFIG = [
  "#\t$OpenBSD: ssh_config,v 1.36 2023/08/02 23:04:38 djm Exp $",
  "# Simulated host: like OpenBSD's, every option is commented out (no Debian SendEnv/GSSAPI/Include).",
  "",
  "# Host *",
  "#   ForwardAgent no",
  "#   PasswordAuthentication yes",
  "#   StrictHostKeyChecking ask",
  "#   Port 22",
  "",
].join("\n");

class PairImpl implements Pair {
  readonly root: string;
  readonly address: Record<HostName, string> = { ...ADDRESS };
  readonly peerAddress: Record<HostName, string> = { primary: ADDRESS.secondary, secondary: ADDRESS.primary };
  readonly peerName: Record<HostName, string> = { ...PEER };
  readonly sshd: SshdControl;
  private readonly hosts: Record<HostName, HostState>;
  private readonly sshds: Partial<Record<HostName, SshdImpl>> = {};
  private readonly nodeBinary: string;
  private readonly distDir: string;
  private readonly standins: readonly StandinTool[];
  private readonly primarySshd: boolean;
  private stopping?: Promise<void>;
  private stoppedSync = false;

  constructor(opts: PairOptions) {
    const tag = `${process.pid}x${(pairSeq++).toString(36)}`;
    this.root = fs.mkdtempSync(path.join(TMP_BASE, `${TMP_PREFIX}${tag}-`));
    fs.chmodSync(this.root, 0o755);
    this.nodeBinary = fs.realpathSync(opts.nodeBinary ?? process.execPath);
    this.distDir = opts.distDir ?? process.env["CARPENTRY_DIST_DIR"] ?? path.join(REPO_ROOT, "dist");
    this.standins = opts.standins ?? STANDIN_TOOLS;
    this.primarySshd = opts.primarySshd ?? true;
    const host = (name: HostName, short: "pri" | "sec"): HostState => ({
      name,
      ns: `c${short}${tag}`,
      veth: `cv${short[0]}${tag}`,
      dir: path.join(this.root, name),
      daemons: [],
    });
    this.hosts = { primary: host("primary", "pri"), secondary: host("secondary", "sec") };
    const secondarySshd = new SshdImpl(this, "secondary");
    this.sshds.secondary = secondarySshd;
    if (this.primarySshd) this.sshds.primary = new SshdImpl(this, "primary");
    this.sshd = secondarySshd;
  }

  hostDir(host: HostName): string {
    return this.hosts[host].dir;
  }

  pid(host: HostName): number {
    const pid = this.hosts[host].init;
    if (pid === undefined) throw new Error(`${host} is not running`);
    return pid;
  }

  hostPath(host: HostName, absolutePath: string): string {
    if (!path.posix.isAbsolute(absolutePath)) throw new Error(`not an absolute path: ${absolutePath}`);
    return `/proc/${this.pid(host)}/root${path.posix.normalize(absolutePath)}`;
  }

  // -- start ------------------------------------------------------------------------------------

  async start(): Promise<void> {
    for (const name of HOST_NAMES) this.prepareHostDir(name);
    const keys = Promise.all(
      HOST_NAMES.flatMap((name) => {
        const dir = this.hosts[name].dir;
        return [sshKeygen(path.join(dir, "sshd", "ssh_host_ed25519_key"), `host key of ${name}`), sshKeygen(path.join(dir, "root", ".ssh", "id_ed25519"), `root@${name}`)];
      }),
    );
    const { primary, secondary } = this.hosts;
    await Promise.all([primary, secondary].map((h) => execFileAsync("/usr/sbin/ip", ["netns", "add", h.ns])));
    for (const h of [primary, secondary]) h.netnsInode = netnsInode(h.ns);
    await execFileAsync("/usr/sbin/ip", ["link", "add", primary.veth, "netns", primary.ns, "type", "veth", "peer", "name", secondary.veth, "netns", secondary.ns]);
    await Promise.all([keys, ...HOST_NAMES.map((name) => this.startHolder(name))]);
    await this.writeSshFiles();
    await Promise.all(HOST_NAMES.map((name) => this.sshds[name]?.start() ?? Promise.resolve()));
  }

  private prepareHostDir(name: HostName): void {
    const dir = this.hosts[name].dir;
    const mkdir = (p: string, mode = 0o755): void => {
      fs.mkdirSync(path.join(dir, p), { recursive: true, mode });
      fs.chmodSync(path.join(dir, p), mode);
    };
    for (const d of ["bin", "state", "sshd", "daemons", "real-bin", "usr-local-bin"]) mkdir(d);
    for (const tool of STANDIN_TOOLS) mkdir(path.join("state", tool));
    for (const d of OVERLAYS) {
      mkdir(path.join("upper", d));
      mkdir(path.join("work", d));
    }
    mkdir("root", 0o700);
    mkdir(path.join("root", ".ssh"), 0o700);
    for (const d of ["etc/ssh", "usr/bin", "usr/sbin"]) mkdir(path.join("upper", d));
    fs.writeFileSync(path.join(dir, "commands.log"), "", { mode: 0o666 });
    fs.chmodSync(path.join(dir, "commands.log"), 0o666);
    fs.writeFileSync(path.join(dir, "usr-local-bin", "node"), "", { mode: 0o755 });

    // in-host scripts, with the host directory filled in
    const install = (source: string, target: string): void => {
      const text = fs.readFileSync(path.join(HARNESS_DIR, source), "utf8").replaceAll("@HARNESS_DIR@", dir);
      fs.writeFileSync(path.join(dir, "bin", target), text, { mode: 0o755 });
    };
    install("harness-lib.sh", "harness-lib.sh");
    fs.writeFileSync(path.join(dir, "bin", "standin"), standinScript(standinSettings(dir)), { mode: 0o755 });
    install("gnu-guard.sh", "gnu-guard");
    install("shell-log.sh", "shell-log");
    fs.symlinkSync("shell-log", path.join(dir, "bin", "ssh-command"));

    // /usr/bin and /usr/sbin: shells, guards, stand-ins (whiteouts are made by the holder: mknod)
    const link = (upper: string, name: string, target: string): void => fs.symlinkSync(target, path.join(dir, "upper", upper, name));
    link("usr/bin", "sh", path.join(dir, "bin", "shell-log"));
    link("usr/bin", "ksh", "/usr/bin/mksh");
    for (const tool of GUARDED_TOOLS) link("usr/bin", tool, path.join(dir, "bin", "gnu-guard"));
    for (const tool of this.standins) link(STANDIN_DIR[tool], tool, path.join(dir, "bin", "standin"));
    if (this.standins.includes("smtpctl")) link("usr/bin", "mailq", path.join(dir, "bin", "standin"));

    // /etc: root's shell is ksh, names of the pair, OpenBSD-like resolver and ssh_config
    const etc = (file: string, content: string, mode = 0o644): void => fs.writeFileSync(path.join(dir, "upper", "etc", file), content, { mode });
    const passwd = fs
      .readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((line) => (line.startsWith("root:") ? line.replace(/:[^:]*$/, ":/bin/ksh") : line))
      .join("\n");
    etc("passwd", passwd);
    const shells = fs.readFileSync("/etc/shells", "utf8");
    etc("shells", shells.split("\n").includes("/bin/ksh") ? shells : `${shells.replace(/\n?$/, "\n")}/bin/ksh\n`);
    etc("hosts", ["127.0.0.1\tlocalhost", "::1\t\tlocalhost", `${ADDRESS.primary}\tprimary`, `${ADDRESS.secondary}\tsecondary`, ""].join("\n"));
    etc("myname", `${name}\n`);
    etc("resolv.conf", "nameserver 127.0.0.1\nlookup file bind\n");
    etc(path.join("ssh", "ssh_config"), OPENBSD_SSH_CONFIG);
    fs.writeFileSync(path.join(dir, "sshd", "sshd_config"), sshdConfig(name, dir));
  }

  private whiteouts(): string[] {
    const present = fs.readdirSync("/usr/bin");
    return present.filter((f) => ABSENT_TOOLS.includes(f) || ABSENT_PREFIXES.some((p) => f.startsWith(p)));
  }

  private async startHolder(name: HostName): Promise<void> {
    const h = this.hosts[name];
    const child = spawn(
      "/usr/bin/setpriv",
      [
        "--pdeathsig",
        "KILL",
        "/usr/sbin/ip",
        "netns",
        "exec",
        h.ns,
        "/usr/bin/unshare",
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--propagation",
        "private",
        "/usr/bin/dash",
        "-c",
        HOLDER_SCRIPT,
        "carpentry-holder",
        h.dir,
        name,
        ADDRESS[name],
        h.veth,
        this.nodeBinary,
        ...this.whiteouts(),
      ],
      { stdio: ["pipe", "pipe", "pipe"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
    );
    h.holder = child;
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    let stdout = "";
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: holder not ready after 10 s: ${stderr}`)), 10_000);
      child.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("ready\n")) {
          clearTimeout(timer);
          // unshare forked the script, which printed "ready": it is unshare's one child
          const [init] = childPids(child.pid);
          h.init = init;
          h.initJob = childPids(init)[0];
          h.pidnsInode = init === undefined ? undefined : namespaceInode(init, "pid");
          if (h.pidnsInode === undefined || h.pidnsInode === namespaceInode(process.pid, "pid")) reject(new Error(`${name}: the holder has no PID namespace of its own`));
          else resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name}: holder exited (${code ?? signal}) before it was ready: ${stderr.trim()}`));
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private async writeSshFiles(): Promise<void> {
    const hostKey = async (name: HostName): Promise<string> => {
      const pub = await fsp.readFile(path.join(this.hosts[name].dir, "sshd", "ssh_host_ed25519_key.pub"), "utf8");
      return pub.split(" ").slice(0, 2).join(" ");
    };
    const clientKey = (name: HostName): Promise<string> => fsp.readFile(path.join(this.hosts[name].dir, "root", ".ssh", "id_ed25519.pub"), "utf8");
    for (const name of HOST_NAMES) {
      const peer = PEER[name];
      const ssh = path.join(this.hosts[name].dir, "root", ".ssh");
      await fsp.writeFile(path.join(ssh, "known_hosts"), `${peer},${ADDRESS[peer]} ${await hostKey(peer)}\n`, { mode: 0o644 });
      await fsp.writeFile(path.join(ssh, "authorized_keys"), await clientKey(peer), { mode: 0o600 });
    }
  }

  async trustHostKeys(): Promise<void> {
    await this.writeSshFiles();
  }

  // -- daemons ------------------------------------------------------------------------------------

  async startDaemonImpl(host: HostName, name: string, argv: readonly string[], opts: DaemonOptions = {}): Promise<DaemonImpl> {
    const h = this.hosts[host];
    const logFile = opts.logFile ?? path.join(h.dir, "daemons", `${name}.log`);
    const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const fd = fs.openSync(logFile, "a", 0o644);
    const namespaces = opts.mountNamespace === false ? ["-n", "-p"] : ["-m", "-n", "-u", "-p"];
    let child: ChildProcess;
    try {
      child = spawn("/usr/bin/setpriv", ["--pdeathsig", "KILL", "/usr/bin/nsenter", "-t", String(this.pid(host)), ...namespaces, "--", ...argv], {
        stdio: ["ignore", fd, fd],
        cwd: "/",
        env: { PATH: MONIT_PATH, HOME: "/root", ...opts.env },
      });
    } finally {
      fs.closeSync(fd);
    }
    child.unref();
    const daemon = new DaemonImpl(host, name, child, logFile);
    h.daemons.push(daemon);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
    // Started means nsenter's child in the host is the program asked for: until nsenter has forked
    // and the child has exec'd, pgrep inside the host does not find it and /proc shows nsenter's
    // environ, or none. Its pid is read as the machine numbers it (nsenter, our child, runs in the
    // machine's PID namespace, so /proc/<nsenter>/task/*/children and /proc/<child> are ours to read).
    const program = path.basename(argv[0] ?? "").slice(0, 15);
    for (;;) {
      const [forked] = childPids(child.pid);
      if (forked !== undefined && readComm(forked) === program) {
        daemon.program = forked;
        break;
      }
      if (!daemon.running || Date.now() > deadline) {
        await daemon.stop();
        throw new Error(`${host}: ${name} did not start ${argv[0]}:\n${fs.readFileSync(logFile).subarray(offset).toString().slice(-2000)}`);
      }
      await sleep(2);
    }
    if (opts.ready) {
      for (;;) {
        const text = fs.readFileSync(logFile).subarray(offset).toString();
        if (opts.ready.test(text)) break;
        if (!daemon.running || Date.now() > deadline) {
          await daemon.stop();
          throw new Error(`${host}: ${name} did not become ready (${opts.ready}):\n${text.slice(-2000)}`);
        }
        await sleep(5);
      }
    }
    return daemon;
  }

  startDaemon(host: HostName, name: string, argv: readonly string[], opts?: DaemonOptions): Promise<Daemon> {
    return this.startDaemonImpl(host, name, argv, opts);
  }

  sshdOf(host: HostName): SshdControl {
    const sshd = this.sshds[host];
    if (!sshd) throw new Error(`${host} has no sshd (primarySshd: false)`);
    return sshd;
  }

  // -- files ----------------------------------------------------------------------------------------

  async writeFile(host: HostName, absolutePath: string, content: string | Buffer, opts: { mode?: number; uid?: number; gid?: number } = {}): Promise<void> {
    const target = this.hostPath(host, absolutePath);
    await this.mkdirInHost(host, path.posix.dirname(absolutePath));
    await fsp.writeFile(target, content);
    await fsp.chmod(target, opts.mode ?? 0o644);
    await fsp.chown(target, opts.uid ?? 0, opts.gid ?? 0);
  }

  private async mkdirInHost(host: HostName, absoluteDir: string): Promise<void> {
    const missing: string[] = [];
    for (let dir = absoluteDir; !fs.existsSync(this.hostPath(host, dir)); dir = path.posix.dirname(dir)) missing.unshift(dir);
    for (const dir of missing) {
      await fsp.mkdir(this.hostPath(host, dir), { mode: 0o755 });
      await fsp.chown(this.hostPath(host, dir), 0, 0);
    }
  }

  readFile(host: HostName, absolutePath: string): Promise<Buffer> {
    return fsp.readFile(this.hostPath(host, absolutePath));
  }

  async removeFile(host: HostName, absolutePath: string): Promise<void> {
    const target = this.hostPath(host, absolutePath);
    let stat: fs.Stats;
    try {
      stat = await fsp.lstat(target);
    } catch {
      return;
    }
    if (stat.isDirectory()) await fsp.rmdir(target);
    else await fsp.unlink(target);
  }

  async installBuild(): Promise<string[]> {
    const checksDir = path.join(this.distDir, "checks");
    let names: string[];
    try {
      names = (await fsp.readdir(checksDir)).filter((f) => f.startsWith("check_")).sort();
    } catch {
      throw new Error(`no build in ${this.distDir}: run npm run build first`);
    }
    const files = [...names.map((f) => path.join(checksDir, f)), path.join(this.distDir, "carpentry")];
    for (const host of HOST_NAMES) {
      await this.mkdirInHost(host, "/etc/carpentry.monit");
      await fsp.chmod(this.hostPath(host, "/etc/carpentry.monit"), 0o700);
      for (const file of files) await this.writeFile(host, `/etc/carpentry.monit/${path.basename(file)}`, await fsp.readFile(file), { mode: 0o700 });
    }
    return files.map((f) => `/etc/carpentry.monit/${path.basename(f)}`);
  }

  writeConfig(host: HostName, toml: string): Promise<void> {
    return this.writeFile(host, "/etc/carpentry.monit/carpentry.toml", toml, { mode: 0o600 });
  }

  // -- stand-ins --------------------------------------------------------------------------------------

  private standinBase(host: HostName, argv: readonly string[]): string {
    const { tool, args } = standinTarget(argv);
    const key = standinKey(args);
    if (Buffer.byteLength(key) > 200) throw new Error(`stand-in key too long (${Buffer.byteLength(key)} bytes): ${key.slice(0, 80)}...`);
    return path.join(this.hosts[host].dir, "state", tool, key);
  }

  private async writeStep(base: string, step: OutputStep): Promise<void> {
    await writeAtomic(`${base}.out`, step.stdout);
    if (step.stderr !== undefined && step.stderr !== "") await writeAtomic(`${base}.err`, step.stderr);
    if (step.exitCode !== undefined && step.exitCode !== 0) await writeAtomic(`${base}.rc`, `${step.exitCode}\n`);
    if (step.delayMs !== undefined && step.delayMs > 0) await writeAtomic(`${base}.delay`, `${(step.delayMs / 1000).toFixed(3)}\n`);
  }

  async setOutput(host: HostName, argv: readonly string[], stdout: string, opts: { stderr?: string; exitCode?: number; delayMs?: number } = {}): Promise<void> {
    await this.clearOutput(host, argv);
    await this.writeStep(this.standinBase(host, argv), { stdout, ...opts });
  }

  async delayOutput(host: HostName, argv: readonly string[], delayMs: number): Promise<void> {
    const base = this.standinBase(host, argv);
    if (!fs.existsSync(`${base}.out`)) throw new Error(`delayOutput: nothing is set for ${argv.join(" ")} on the ${host}`);
    await writeAtomic(`${base}.delay`, `${(delayMs / 1000).toFixed(3)}\n`);
  }

  async setOutputSequence(host: HostName, argv: readonly string[], steps: readonly OutputStep[]): Promise<void> {
    if (steps.length === 0) throw new Error("setOutputSequence needs at least one step");
    await this.clearOutput(host, argv);
    const base = this.standinBase(host, argv);
    for (const [i, step] of steps.entries()) await this.writeStep(`${base}.${i + 1}`, step);
    await writeAtomic(`${base}.seq`, `${steps.length}\n`);
  }

  async clearOutput(host: HostName, argv: readonly string[]): Promise<void> {
    const base = this.standinBase(host, argv);
    const dir = path.dirname(base);
    const key = path.basename(base);
    const ours = /^(?:\d+\.)?(?:out|err|rc|delay)$|^(?:seq|calls)$/;
    for (const file of await fsp.readdir(dir)) {
      if (file.startsWith(`${key}.`) && ours.test(file.slice(key.length + 1))) await fsp.rm(path.join(dir, file), { force: true });
    }
  }

  // -- running things -----------------------------------------------------------------------------------

  async run(host: HostName, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0) throw new Error("run: empty argv");
    const started = performance.now();
    const child = spawn("/usr/bin/nsenter", ["-t", String(this.pid(host)), "-m", "-n", "-u", "-p", "--", ...argv], {
      cwd: "/",
      env: { PATH: MONIT_PATH, HOME: "/root", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const outputsClosed = Promise.all([child.stdout, child.stderr].map((stream) => new Promise<void>((resolve) => stream.once("close", () => resolve()))));
    child.stdin.on("error", () => {
      /* the process did not read its input */
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // nsenter forked the program into the host and waits for it, passing on how it ended (a
      // program killed by SIGKILL makes nsenter kill itself with SIGKILL): the program is the one
      // to kill. Before the fork there is only nsenter.
      const [program] = childPids(child.pid);
      if (program === undefined) child.kill("SIGKILL");
      else killQuietly(program, "SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
    const { code, signal } = await Promise.race([waitExit(child), spawnError]);
    const durationMs = performance.now() - started;
    clearTimeout(timer);
    // children left behind may hold the pipes open: give the output a moment, then stop reading
    await Promise.race([outputsClosed, sleep(200)]);
    child.stdin.destroy();
    child.stdout.destroy();
    child.stderr.destroy();
    return { code, signal, stdout, stderr, durationMs, timedOut };
  }

  // -- logs and processes ---------------------------------------------------------------------------------

  async commandEntries(host: HostName): Promise<CommandLogEntry[]> {
    const text = await fsp.readFile(path.join(this.hosts[host].dir, "commands.log"), "utf8");
    return text
      .split("\x1e\n")
      .filter((record) => record !== "")
      .map((record) => {
        const [kind = "", pid = "", ...argv] = record.split("\x1f");
        return { kind: kind as CommandKind, pid: Number(pid), argv, line: argv.join(" ") };
      });
  }

  async commandLog(host: HostName): Promise<string[]> {
    return (await this.commandEntries(host)).map((entry) => entry.line);
  }

  async refusedCommands(host: HostName): Promise<string[]> {
    return (await this.commandEntries(host)).filter((entry) => entry.kind === "refused").map((entry) => entry.line);
  }

  async clearCommandLog(host: HostName): Promise<void> {
    await fsp.truncate(path.join(this.hosts[host].dir, "commands.log"), 0);
  }

  private harnessPids(host: HostName): Set<number> {
    const h = this.hosts[host];
    const pids = new Set<number>(h.daemons.filter((d) => d.running).map((d) => d.pid));
    for (const pid of [h.init, h.initJob]) if (pid !== undefined) pids.add(pid);
    return pids;
  }

  async strayProcesses(host: HostName, opts: { settleMs?: number } = {}): Promise<string[]> {
    const inode = this.hosts[host].pidnsInode;
    if (inode === undefined) return [];
    const deadline = Date.now() + (opts.settleMs ?? 1000);
    for (;;) {
      const ours = this.harnessPids(host);
      const strays = pidsInNamespace("pid", inode).filter((pid) => !ours.has(pid));
      if (strays.length === 0 || Date.now() >= deadline) {
        // Read, then looked at again: a pid that ended in between may already be another namespace's
        // process (the machine's pids wrap), whose command line is not the host's.
        return strays.flatMap((pid) => {
          const line = `${pid} ${readCmdline(pid) ?? "?"}`;
          return isInNamespace(pid, "pid", inode) ? [line] : [];
        });
      }
      await sleep(20);
    }
  }

  // -- stop -------------------------------------------------------------------------------------------------

  stop(): Promise<void> {
    this.stopping ??= this.stopAsync();
    return this.stopping;
  }

  private async stopAsync(): Promise<void> {
    const keepAlive = setInterval(() => undefined, 1000); // the children are unref'd
    try {
      await this.stopChildren();
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async stopChildren(): Promise<void> {
    const hosts = [...HOST_NAMES].reverse().map((name) => this.hosts[name]);
    for (const h of hosts) {
      for (const daemon of [...h.daemons].reverse()) await daemon.stop();
    }
    await Promise.all(
      hosts.map(async (h) => {
        if (!h.holder) return;
        endHost(h);
        const holder = h.holder;
        const fallback = setTimeout(() => holder.kill("SIGKILL"), 3000);
        await waitExit(holder);
        clearTimeout(fallback);
      }),
    );
    // The init's end took the host's PID namespace down; what may be left are the nsenters of
    // run() and startDaemon() (in the host's network namespace, outside its PID namespace).
    const deadline = Date.now() + 5000;
    for (const h of hosts) {
      for (let pids = hostPids(h); pids.length > 0 && Date.now() < deadline; pids = hostPids(h)) {
        for (const pid of pids) killQuietly(pid, "SIGKILL");
        await sleep(10);
      }
    }
    await Promise.all(hosts.map((h) => execFileAsync("/usr/sbin/ip", ["netns", "del", h.ns]).catch(() => undefined)));
    await fsp.rm(this.root, { recursive: true, force: true });
    livePairs.delete(this);
  }

  /** For process exit and signals: the same, synchronously, best effort. */
  stopSync(): void {
    if (this.stoppedSync) return;
    this.stoppedSync = true;
    const hosts = [...HOST_NAMES].reverse().map((name) => this.hosts[name]);
    for (const h of hosts) {
      for (const daemon of [...h.daemons].reverse()) daemon.signal("SIGKILL");
      endHost(h);
    }
    const deadline = Date.now() + 2000;
    for (const h of hosts) {
      for (let pids = hostPids(h); pids.length > 0 && Date.now() < deadline; pids = hostPids(h)) {
        for (const pid of pids) killQuietly(pid, "SIGKILL");
        sleepSync(10);
      }
    }
    for (const h of hosts) {
      try {
        execFileSync("/usr/sbin/ip", ["netns", "del", h.ns], { stdio: "ignore" });
      } catch {
        /* never created, or gone */
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true });
    livePairs.delete(this);
  }
}

/** Start the simulated pair: both hosts, their namespaces and the sshd(s). Root only. */
export async function startPair(opts: PairOptions = {}): Promise<Pair> {
  installProcessHooks();
  collectGarbage();
  const pair = new PairImpl(opts);
  livePairs.add(pair);
  try {
    await pair.start();
  } catch (err) {
    await pair.stop().catch(() => undefined);
    throw err;
  }
  return pair;
}

// -- a healthy pair -------------------------------------------------------------------------------------

/** `pfctl -si` as OpenBSD 7.x prints it (print_status() in pfctl_parser.c; no real capture exists,
 * see the fixtures' README, so this is derived from the source's format strings). */
export function pfctlStatusText(f: { runtimeSeconds: number; currentEntries: number; searches: number; inserts: number; removals: number; match: number }): string {
  const days = Math.floor(f.runtimeSeconds / 86400);
  const hms = new Date((f.runtimeSeconds % 86400) * 1000).toISOString().slice(11, 19);
  const rate = (n: number): string => `${(n / f.runtimeSeconds).toFixed(1)}/s`.padStart(16);
  const row = (name: string, n: number): string => `  ${name.padEnd(25)} ${String(n).padStart(14)} ${rate(n)}\n`;
  const gauge = (name: string, n: number): string => `  ${name.padEnd(25)} ${String(n).padStart(14)} ${"".padStart(14)}\n`;
  const counters = [
    "match",
    "bad-offset",
    "fragment",
    "short",
    "normalize",
    "memory",
    "bad-timestamp",
    "congestion",
    "ip-option",
    "proto-cksum",
    "state-mismatch",
    "state-insert",
    "state-limit",
    "src-limit",
    "synproxy",
    "translate",
    "no-route",
  ];
  return (
    `${`Status: Enabled for ${days} days ${hms}`.padEnd(44)}${"Debug: err".padStart(15)}\n\n` +
    `${"State Table".padEnd(27)} ${"Total".padStart(14)} ${"Rate".padStart(16)}\n` +
    gauge("current entries", f.currentEntries) +
    gauge("half-open tcp", 0) +
    row("searches", f.searches) +
    row("inserts", f.inserts) +
    row("removals", f.removals) +
    "Counters\n" +
    counters.map((name) => row(name, name === "match" ? f.match : 0)).join("")
  );
}

/**
 * What the stand-ins print on the healthy pair of the simulation model (src/sim/gateways.ts, the demo's
 * too), from the real captures: the primary MASTER and the secondary BACKUP of carp203 (advskew 0 /
 * 100), pfsync0 up with a syncdev, demote counters 0, net.inet.carp.preempt=1 on both, pf enabled with
 * nearly equal state counts (derived format), the same pf tables, smtpd running with an empty queue,
 * the carpentry rc.d service ok. Files, configs and daemons are the scenarios' (scenarios.ts).
 */
export async function healthyDefaults(pair: Pair): Promise<void> {
  const healthy = healthyPair();
  for (const host of HOST_NAMES) {
    for (const { argv, stdout, exitCode } of healthy.hosts[host].outputs.values()) await pair.setOutput(host, argv, stdout, exitCode !== undefined ? { exitCode } : {});
  }
}

// The demo's sandbox, from the caller's side: one user namespace in which the caller is root, with its
// own mount and PID namespaces. Nothing in it needs privileges on the machine, and nothing survives
// it: when the demo's process in it ends, the kernel kills every process of its PID namespace and
// drops its mounts. Ctrl-C, a crash of this process (PR_SET_PDEATHSIG through setpriv) or an error
// all end it the same way, and the demo's directory is removed after.
import { execaSync } from "execa";
import { loadExeca } from "../lib/transport/process.js";
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { delimiter, join } from "node:path";
import { processAlive } from "../lib/transport/pidfile.js";

/** util-linux, on every Debian: the demo needs nothing else from the machine. */
const TOOLS = ["unshare", "nsenter", "setpriv", "mount"] as const;
export type ToolPaths = Readonly<Record<(typeof TOOLS)[number], string>>;

const SYSTEM_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** Each tool's absolute path (PATH first, then the system directories), or the names not found. */
export function findTools(): ToolPaths | { readonly missing: readonly string[] } {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter).filter((dir) => dir.startsWith("/")), ...SYSTEM_DIRS];
  const found: Partial<Record<(typeof TOOLS)[number], string>> = {};
  const missing: string[] = [];
  for (const tool of TOOLS) {
    const path = dirs
      .map((dir) => join(dir, tool))
      .find((candidate) => {
        try {
          accessSync(candidate, constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
    if (path) found[tool] = path;
    else missing.push(tool);
  }
  return missing.length > 0 ? { missing } : (found as ToolPaths);
}

/** unshare's options for the demo's namespaces; --kill-child: the demo's process dies with unshare. */
const SANDBOX_ARGS = ["--user", "--map-root-user", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc"];

/** The kernel settings that decide whether a normal user may create user namespaces. */
export interface NamespaceSettings {
  /** Debian's own switch before bookworm (kernel.unprivileged_userns_clone), absent elsewhere. */
  readonly unprivilegedClone?: string;
  readonly maxUserNamespaces?: string;
  /** Ubuntu 23.10 and later (kernel.apparmor_restrict_unprivileged_userns). */
  readonly apparmorRestricted?: string;
}

function readNamespaceSettings(): NamespaceSettings {
  return {
    unprivilegedClone: readProcValue("/proc/sys/kernel/unprivileged_userns_clone"),
    maxUserNamespaces: readProcValue("/proc/sys/user/max_user_namespaces"),
    apparmorRestricted: readProcValue("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
  };
}

function readProcValue(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Why the sandbox could not be made, and what to set: the first line a summary, then the cause and
 * the fix, one a line. `unshareSaid` is unshare's own message.
 */
export function describeSandboxFailure(unshareSaid: string, settings: NamespaceSettings, asRoot: boolean): string[] {
  const said = unshareSaid.trim().split("\n").filter(Boolean).pop() ?? "unshare failed without a message";
  const lines = ["cannot create the demo's user namespace", `unshare said: ${said}`];
  if (settings.maxUserNamespaces === "0") {
    lines.push("cause: user namespaces are switched off (user.max_user_namespaces = 0)", "fix: sysctl -w user.max_user_namespaces=15000 (as root; to keep it, add it to /etc/sysctl.d/)");
  } else if (!asRoot && settings.unprivilegedClone === "0") {
    lines.push("cause: this kernel allows user namespaces to root only (kernel.unprivileged_userns_clone = 0)", "fix: sysctl -w kernel.unprivileged_userns_clone=1 (as root), or run the demo as root");
  } else if (!asRoot && settings.apparmorRestricted === "1") {
    lines.push(
      "cause: AppArmor restricts user namespaces for normal users (kernel.apparmor_restrict_unprivileged_userns = 1)",
      "fix: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (as root), or run the demo as root",
    );
  } else {
    lines.push(
      "cause: unknown; the demo needs user, mount and PID namespaces and a /proc of its own (a container may forbid them)",
      "look at: sysctl user.max_user_namespaces kernel.unprivileged_userns_clone kernel.apparmor_restrict_unprivileged_userns",
    );
  }
  return lines;
}

/** Makes and drops a sandbox like the demo's; undefined when that works, else the lines saying why not. */
export function probeSandbox(tools: ToolPaths): string[] | undefined {
  const probe = execaSync(tools.unshare, [...SANDBOX_ARGS, "/bin/true"], { timeout: 10_000, reject: false });
  if (probe.exitCode === 0) return undefined;
  return describeSandboxFailure(probe.stderr || probe.shortMessage || "", readNamespaceSettings(), process.geteuid?.() === 0);
}

/** Processes whose command line names the directory: the demo's, if any were left. */
function processesNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1").includes(dir)) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The demo's directory: its name says whose it is, so a later demo can remove it if we are killed. */
const DIR_PREFIX = "carpentry-demo-";

export function makeDemoDir(parent: string): string {
  return mkdtempSync(join(parent, `${DIR_PREFIX}${process.pid}-`));
}

/**
 * A demo killed with SIGKILL cannot remove its directory (its sandbox goes anyway, with the tmpfs that
 * held everything in it): the empty directories of this user's dead demos are removed here.
 */
export function removeStaleDemoDirs(parent: string): void {
  const uid = process.geteuid?.();
  for (const entry of readdirSync(parent)) {
    const owner = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry);
    if (!owner || processAlive(Number(owner[1]))) continue;
    const path = join(parent, entry);
    try {
      if (statSync(path).uid === uid) rmdirSync(path);
    } catch {
      // Not empty, or not ours to remove: left alone.
    }
  }
}

export interface SandboxEnd {
  readonly exitCode: number;
  /** Processes still naming the demo's directory after the sandbox ended (none, unless the kernel is slow). */
  readonly leftProcesses: readonly number[];
}

/**
 * Runs argv in the sandbox, with this process's stdio, and returns once every process of the sandbox
 * is gone and `dir` is removed. On SIGINT, SIGTERM or SIGHUP the sandbox is killed first; the exit
 * code is then 128 + the signal's number, as a shell reports it.
 */
export async function runInSandbox(tools: ToolPaths, argv: readonly string[], dir: string): Promise<SandboxEnd> {
  // setpriv --pdeathsig: unshare, and through --kill-child everything in the sandbox, dies with us.
  const execa = await loadExeca();
  const child = execa(tools.setpriv, ["--pdeathsig", "KILL", "--", tools.unshare, ...SANDBOX_ARGS, "--", ...argv], { stdio: "inherit", reject: false });
  let interruptedBy: NodeJS.Signals | undefined;
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = (signal: NodeJS.Signals): void => {
    interruptedBy ??= signal;
    child.kill("SIGKILL");
  };
  for (const signal of signals) process.on(signal, onSignal);
  const ended = await child;
  const exitCode = ended.exitCode ?? (ended.signal === "SIGKILL" ? 137 : 3);
  // The kernel ends a PID namespace's processes when its first one dies; give it a moment to finish.
  let leftProcesses = processesNaming(dir);
  for (let waitedMs = 0; leftProcesses.length > 0 && waitedMs < 5000; waitedMs += 50) {
    await sleep(50);
    leftProcesses = processesNaming(dir);
  }
  rmSync(dir, { recursive: true, force: true });
  for (const signal of signals) process.off(signal, onSignal);
  return { exitCode: interruptedBy ? 128 + osConstants.signals[interruptedBy] : exitCode, leftProcesses };
}

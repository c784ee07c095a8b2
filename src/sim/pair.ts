// The demo's simulated gateway pair. Runs inside the demo's user namespace (src/sim/namespace.ts),
// where we are root: each host is one holder process (holder.sh) owning a mount, a UTS and a PID
// namespace (pid 1 of it, with its own /proc: ps in a host sees that host's processes alone), and
// everything else enters it with nsenter. Unlike the test harness (test/harness/pair.ts), it needs no
// real root, no network namespace and no sshd: the peer link is ssh.sh, which has the other host's
// holder run the command. The checks and `carpentry` run unchanged inside the hosts, by their real paths.
import type { ResultPromise } from "execa";
import { loadExeca } from "../lib/transport/process.js";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import holderScript from "./holder.sh";
import sshScript from "./ssh.sh";
import { standinKey } from "./standin-key.js";
import { DEMO_STANDIN_SETTINGS, standinScript } from "./standin.js";

export type HostName = "primary" | "secondary";
export const HOST_NAMES: readonly HostName[] = ["primary", "secondary"];

/** Where the demo's directory is seen inside the hosts (holder.sh mounts it there). */
const RUN_DIR_IN_HOSTS = "/run/carpentry-demo";
export const SSH_STANDIN_PATH = `${RUN_DIR_IN_HOSTS}/bin/ssh`;
export const INSTALL_DIR = "/etc/carpentry.monit";

/** The OpenBSD tools the checks run, by their OpenBSD paths: each prints what setOutput set. */
const STANDIN_PATHS = [
  "/sbin/ifconfig",
  "/sbin/pfctl",
  "/sbin/sysctl",
  "/usr/sbin/smtpctl",
  "/usr/sbin/rcctl",
  "/usr/bin/netstat",
  "/usr/bin/pgrep",
  "/usr/sbin/ntpctl",
  "/usr/sbin/syspatch",
  "/usr/sbin/pkg_info",
];

/** monit's environment for a check, as OpenBSD's rc gives it. */
const MONIT_ENV = { PATH: "/sbin:/bin:/usr/sbin:/usr/bin", HOME: "/root" };

export type Layers = "overlay" | "farm";

export interface SimPairOptions {
  /** The demo's directory: a tmpfs of this namespace, seen in the hosts as RUN_DIR_IN_HOSTS. */
  readonly dir: string;
  readonly node: string;
  readonly nsenter: string;
  readonly unshare: string;
  readonly layers: Layers;
  /** Directories in /etc and /var that hold only what the demo plants. */
  readonly ownDirs: readonly string[];
  /** Each host's management address: what the other's [peer] host names, and ssh.sh reaches. */
  readonly addresses: Readonly<Record<HostName, string>>;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The real directories the stand-ins go in (/sbin is /usr/sbin on a merged-/usr system). */
function standinDirs(): string[] {
  return [...new Set(STANDIN_PATHS.map((path) => realpathSync(dirname(path))))];
}

/**
 * A process's first child. unshare --pid --fork starts the holder as its child, pid 1 of the host's
 * PID namespace; this is its pid in ours.
 */
function firstChild(pid: number | undefined): number | undefined {
  try {
    const [child] = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return child;
  } catch {
    return undefined;
  }
}

/** A simulated host: unshare (waits for the holder; ending it ends the holder, --kill-child) and the holder. */
interface Host {
  readonly unshare: ResultPromise;
  /** pid 1 of the host's PID namespace, as the demo's namespace numbers it */
  readonly init: number;
}

export class SimPair {
  private constructor(
    private readonly options: SimPairOptions,
    private readonly hosts: Readonly<Record<HostName, Host>>,
  ) {}

  static async start(options: SimPairOptions): Promise<SimPair> {
    const bin = join(options.dir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "standin"), standinScript(DEMO_STANDIN_SETTINGS), { mode: 0o755 });
    writeFileSync(join(bin, "ssh"), sshScript, { mode: 0o755 });
    mkdirSync(join(options.dir, "link"));
    for (const host of HOST_NAMES) {
      mkdirSync(join(options.dir, "hosts", host), { recursive: true });
      symlinkSync(host, join(options.dir, "hosts", options.addresses[host]));
    }
    const env = {
      ...MONIT_ENV,
      SIM_SHADOW: ["/etc", "/var", ...standinDirs()].join(" "),
      SIM_OWN: options.ownDirs.join(" "),
      SIM_STANDINS: STANDIN_PATHS.join(" "),
    };
    const started = HOST_NAMES.map((name) => SimPair.startHolder(name, options, env));
    const settled = await Promise.allSettled(started);
    const failure = settled.find((outcome) => outcome.status === "rejected");
    if (failure) {
      for (const outcome of settled) if (outcome.status === "fulfilled") outcome.value.unshare.kill("SIGKILL");
      throw failure.reason;
    }
    const [primary, secondary] = settled.map((outcome) => (outcome as PromiseFulfilledResult<Host>).value);
    if (!primary || !secondary) throw new Error("a simulated host did not start");
    return new SimPair(options, { primary, secondary });
  }

  private static startHolder(name: HostName, options: SimPairOptions, env: NodeJS.ProcessEnv): Promise<Host> {
    const hostDir = join(options.dir, "hosts", name);
    mkdirSync(join(hostDir, "layers"));
    return loadExeca().then((execa) =>
      SimPair.holderStarted(
        name,
        execa(
          options.unshare,
          ["--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "/bin/sh", "-c", holderScript, "holder", name, options.dir, options.node, options.layers],
          { env, extendEnv: false, stdin: "pipe", buffer: false, reject: false },
        ),
      ),
    );
  }

  /** Resolves once the holder says it is ready, with its init's pid; rejects with its complaint if it ends first. */
  private static holderStarted(name: HostName, holder: ResultPromise): Promise<Host> {
    return new Promise((resolve, reject) => {
      let said = "";
      let complaint = "";
      holder.stderr?.on("data", (chunk: Buffer) => (complaint += chunk.toString("utf8")));
      holder.stdout?.on("data", (chunk: Buffer) => {
        said += chunk.toString("utf8");
        if (said.includes("ready\n")) {
          const init = firstChild(holder.pid);
          if (init === undefined) reject(new Error(`the simulated ${name} said ready, but its holder is gone`));
          else resolve({ unshare: holder, init });
        }
      });
      void holder.then((ended) => reject(new Error(`the simulated ${name} did not start (${ended.signal ?? `exit ${ended.exitCode}`}): ${complaint.trim().split("\n").pop() ?? ""}`)));
    });
  }

  /** A path of the host's file system, as this process can reach it. */
  hostPath(host: HostName, path: string): string {
    return `/proc/${this.hosts[host].init}/root${path}`;
  }

  private stateDir(host: HostName): string {
    return join(this.options.dir, "state", host);
  }

  /** What the stand-in prints for exactly this command line (argv[0]: the tool's name), exit 0. */
  setOutput(host: HostName, argv: readonly string[], stdout: string, failure?: { readonly stderr?: string; readonly exitCode?: number }): void {
    const [tool, ...args] = argv;
    if (!tool) throw new Error("setOutput needs a command");
    const base = join(this.stateDir(host), tool, standinKey(args));
    mkdirSync(dirname(base), { recursive: true });
    writeFileSync(`${base}.out`, stdout);
    if (failure?.stderr !== undefined && failure.stderr !== "") writeFileSync(`${base}.err`, failure.stderr);
    else rmSync(`${base}.err`, { force: true });
    if (failure?.exitCode !== undefined && failure.exitCode !== 0) writeFileSync(`${base}.rc`, `${failure.exitCode}\n`);
    else rmSync(`${base}.rc`, { force: true });
  }

  /** Forgets every output set for the host: its tools answer as if nothing were running. */
  clearOutputs(host: HostName): void {
    rmSync(this.stateDir(host), { recursive: true, force: true });
  }

  /**
   * Replaces a file (the machine's own, seen through the host's layer, cannot be written in place:
   * it belongs to an id outside the demo's user namespace). Parents are created 0755.
   */
  writeFile(host: HostName, path: string, content: string, mode = 0o644): void {
    const target = this.hostPath(host, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    rmSync(target, { force: true });
    writeFileSync(target, content, { mode });
    chmodSync(target, mode);
  }

  /** Empties a directory the demo owns (a planted tree, the checks' state). */
  emptyDir(host: HostName, path: string): void {
    const target = this.hostPath(host, path);
    for (const entry of readdirSync(target)) rmSync(join(target, entry), { recursive: true, force: true });
  }

  chmod(host: HostName, path: string, mode: number): void {
    chmodSync(this.hostPath(host, path), mode);
  }

  /** The built checks and CLI into /etc/carpentry.monit on both hosts, root-only, as the README installs them. */
  installBuild(distDir: string, executables: readonly string[]): void {
    for (const host of HOST_NAMES) {
      this.chmod(host, INSTALL_DIR, 0o700);
      for (const executable of executables) {
        const target = this.hostPath(host, `${INSTALL_DIR}/${executable}`);
        copyFileSync(join(distDir, executable === "carpentry" ? "" : "checks", executable), target);
        chmodSync(target, 0o700);
      }
    }
  }

  /** ssh from `from` to the other host fails as a refused connection does, or works again. */
  setPeerReachable(from: HostName, reachable: boolean): void {
    const peer = from === "primary" ? "secondary" : "primary";
    const marker = join(this.options.dir, "link", `${this.options.addresses[peer]}.down`);
    if (reachable) rmSync(marker, { force: true });
    else writeFileSync(marker, "");
  }

  /** Runs a command in the host as monit runs a check: root, cwd /, rc's sparse environment, no TTY. */
  async run(host: HostName, argv: readonly string[]): Promise<RunResult> {
    const execa = await loadExeca();
    // nsenter -p forks the command into the host's PID namespace and passes on how it ended.
    const ran = await execa(this.options.nsenter, ["-m", "-u", "-p", "-t", String(this.hosts[host].init), "--", ...argv], {
      env: MONIT_ENV,
      extendEnv: false,
      input: "",
      reject: false,
      stripFinalNewline: false,
    });
    if (ran.exitCode === undefined && ran.signal === undefined) throw new Error(`cannot run ${this.options.nsenter}: ${ran.shortMessage ?? "not started"}`);
    return { code: ran.exitCode ?? 128 + (ran.signal ? constants.signals[ran.signal] : 0), stdout: ran.stdout, stderr: ran.stderr };
  }

  /** Ends both hosts: closing a holder's stdin lets it exit, and its namespaces go with it. */
  async stop(): Promise<void> {
    await Promise.all(
      HOST_NAMES.map((host) => {
        const holder = this.hosts[host].unshare;
        holder.stdin?.end();
        return holder.then(() => undefined);
      }),
    );
  }
}

// What the benchmark measures and how: a process run inside a simulated host as monit runs it, with its
// wall time and, when asked, its peak memory and CPU time sampled from /proc; the peer's facts process
// watched the same way; the bytes a host's veth sent; the ssh connections and commands that reached the
// secondary; medians.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { MONIT_PATH, type HostName, type Pair } from "../test/harness/pair.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the /proc samples of one process showed: peaks, and the CPU time at the last sample. */
export interface Sampled {
  /** VmHWM: the kernel's own high-water mark of the resident set, read until the process exits. */
  readonly rssKb: number;
  /** The largest Private_Clean + Private_Dirty seen in /proc/PID/smaps_rollup (pages no other process maps). */
  readonly privateKb: number;
  /** The largest Private_Dirty seen: heap, stacks, written data; free of page-cache sharing effects. */
  readonly privateDirtyKb: number;
  /** Time the main thread spent on a CPU (/proc/PID/schedstat), at the last sample before exit: unlike
   * wall time, it hardly grows when other work on the machine competes for the CPUs. */
  readonly cpuMs: number;
  readonly samples: number;
}

export interface Measured {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  readonly sampled?: Sampled;
}

export interface MeasureOptions {
  /** Sample /proc/PID every this many ms (0: no sampling, the timing is then undisturbed). */
  readonly sampleEveryMs?: number;
  readonly timeoutMs?: number;
  /** Also watch processes started later whose command line contains this (the peer's `carpentry facts`). */
  readonly watch?: PeerProcessWatch;
  /** Written to stdin, which is then closed (otherwise it stays open and empty, as under monit). */
  readonly input?: string;
}

function statusField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

/** One reading of a live process; undefined once it is gone (or a zombie: no memory fields). */
function readSample(pid: number): Omit<Sampled, "samples"> | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const onCpuNs = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
    const dirty = statusField(rollup, "Private_Dirty");
    return { rssKb: statusField(status, "VmHWM"), privateKb: statusField(rollup, "Private_Clean") + dirty, privateDirtyKb: dirty, cpuMs: onCpuNs / 1e6 };
  } catch {
    return undefined;
  }
}

class PeakTracker {
  rssKb = 0;
  privateKb = 0;
  privateDirtyKb = 0;
  cpuMs = 0;
  samples = 0;

  take(pid: number): void {
    const reading = readSample(pid);
    if (!reading || reading.rssKb === 0) return;
    this.samples++;
    this.rssKb = Math.max(this.rssKb, reading.rssKb);
    this.privateKb = Math.max(this.privateKb, reading.privateKb);
    this.privateDirtyKb = Math.max(this.privateDirtyKb, reading.privateDirtyKb);
    this.cpuMs = Math.max(this.cpuMs, reading.cpuMs);
  }

  peak(): Sampled {
    return { rssKb: this.rssKb, privateKb: this.privateKb, privateDirtyKb: this.privateDirtyKb, cpuMs: this.cpuMs, samples: this.samples };
  }
}

function livePids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/**
 * The peak memory and CPU time of processes that start after it does, inside one network namespace (the pair's
 * secondary: other test runs on the machine have their own), and whose command line contains `needle`
 * (the secondary's `carpentry facts`, started by sshd). A process changes its command line when it
 * execs (ksh -> sh -> node), so one is ignored for good only once it is node running something else.
 */
export class PeerProcessWatch {
  private readonly trackers = new Map<number, PeakTracker>();
  private readonly ignored = new Set<number>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly needle: string,
    private readonly netnsPid: number,
  ) {}

  start(everyMs: number): void {
    this.trackers.clear();
    this.ignored.clear();
    for (const pid of livePids()) this.ignored.add(pid);
    const netns = netnsOf(this.netnsPid);
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        this.scan(netns);
        await sleep(everyMs);
      }
    })();
  }

  private scan(netns: string | undefined): void {
    for (const pid of livePids()) {
      if (this.ignored.has(pid)) continue;
      const tracked = this.trackers.get(pid);
      if (tracked) {
        tracked.take(pid);
        continue;
      }
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      } catch {
        continue;
      }
      if (cmdline.includes(this.needle)) {
        if (netnsOf(pid) !== netns) {
          this.ignored.add(pid);
          continue;
        }
        const tracker = new PeakTracker();
        tracker.take(pid);
        this.trackers.set(pid, tracker);
      } else if (/(^|\/)node\0/.test(cmdline)) {
        this.ignored.add(pid);
      }
    }
  }

  /** Stops watching; the largest peak of any one matching process, or undefined if none was seen. */
  async stop(): Promise<Sampled | undefined> {
    this.running = false;
    await this.loop;
    let best: Sampled | undefined;
    for (const tracker of this.trackers.values()) {
      const peak = tracker.peak();
      if (peak.samples > 0 && (!best || peak.rssKb > best.rssKb)) best = peak;
    }
    return best;
  }
}

/**
 * Runs argv inside a host the way pair.run() does (nsenter into its mount, network and UTS namespaces;
 * environment PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root only; cwd /; stdin an open, empty pipe),
 * but keeps the pid: nsenter execs the command, so the pid is the check's own, through its /bin/sh
 * launcher to node.
 */
export async function measureIn(pair: Pair, host: HostName, argv: readonly string[], options: MeasureOptions = {}): Promise<Measured> {
  const started = performance.now();
  const child = spawn("/usr/bin/nsenter", ["-t", String(pair.pid(host)), "-m", "-n", "-u", "--", ...argv], {
    cwd: "/",
    env: { PATH: MONIT_PATH, HOME: "/root" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  child.stdin.on("error", () => {
    /* the process did not read its stdin */
  });
  if (options.input !== undefined) child.stdin.end(options.input);
  const exit = new Promise<{ code: number | null; signal: string | null; wallMs: number }>((resolve, reject) => {
    child.once("exit", (code, signal) => resolve({ code, signal, wallMs: performance.now() - started }));
    child.once("error", reject);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
  const tracker = new PeakTracker();
  let exited = false;
  const sampling =
    options.sampleEveryMs && child.pid !== undefined
      ? (async (pid: number, everyMs: number) => {
          while (!exited) {
            tracker.take(pid);
            await sleep(everyMs);
          }
        })(child.pid, options.sampleEveryMs)
      : Promise.resolve();
  options.watch?.start(10);
  const { code, signal, wallMs } = await exit;
  exited = true;
  clearTimeout(timer);
  await sampling;
  await Promise.race([new Promise((resolve) => child.once("close", resolve)), sleep(200)]);
  child.stdin.destroy();
  return { code, signal, stdout, stderr, wallMs, ...(options.sampleEveryMs ? { sampled: tracker.peak() } : {}) };
}

export interface LinkCounters {
  readonly bytes: number;
  readonly packets: number;
}

/**
 * What a host's veth has transmitted so far: /proc/PID/net/dev shows the network namespace of PID, so
 * the holder's pid gives the host's own counters without entering it. The secondary's transmit
 * counters are what the primary received from it: every Ethernet frame, ssh handshake included.
 */
export function transmitted(pair: Pair, host: HostName): LinkCounters {
  const text = readFileSync(`/proc/${pair.pid(host)}/net/dev`, "utf8");
  for (const line of text.split("\n").slice(2)) {
    const [name = "", counters = ""] = line.split(":");
    if (name.trim() === "" || name.trim() === "lo") continue;
    const fields = counters.trim().split(/\s+/).map(Number);
    return { bytes: fields[8] ?? 0, packets: fields[9] ?? 0 };
  }
  throw new Error(`${host}: no veth in /proc/${pair.pid(host)}/net/dev`);
}

export function since(before: LinkCounters, after: LinkCounters): LinkCounters {
  return { bytes: after.bytes - before.bytes, packets: after.packets - before.packets };
}

/** Connections the secondary's sshd has accepted so far (its "Connection from" log lines). */
export function connections(pair: Pair): Promise<number> {
  return pair.sshd.countConnections();
}

/** Command lines that reached the secondary through ssh so far: round trips. */
export async function sshCommands(pair: Pair): Promise<number> {
  return (await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh").length;
}

// -- statistics -------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}

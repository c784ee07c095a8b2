// The "cycle" section: every check of the primary's monitrc started at once, as monit starts a cycle,
// measured as a whole on the primary: peak summed memory, CPU, each check's time, ssh connections.
// Three designs side by side: the admin's old one (a ksh script a check, each with its own ssh login), the
// suite with each check running alone (CARPENTRY_CYCLE=alone: one node each), and the suite served
// by its cycle server (one node for the cycle). Method: bench/README.md.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { HostName, Pair, RunResult } from "../test/harness/pair.js";
import type { ScenarioLab } from "../test/harness/scenarios.js";
import { programCommand, readExample } from "../test/support/monitrc.js";
import { connections, spread, type Spread } from "./probe.js";

const OLD_DIR = "/etc/carpentry.old";
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface CycleFigures {
  readonly design: string;
  readonly wallMs: Spread;
  /** CPU (user + system) of every process of the cycle on the primary, the detached ones included. */
  readonly cpuMs: Spread;
  /** Peak of the summed resident sets of the processes the cycle started, idle processes and the harness's nsenter excluded. */
  readonly peakRssKb: Spread;
  /** New connections the secondary's sshd saw (check_peer's own fresh one included for the suite). */
  readonly connections: Spread;
  /** Each check's (or script's) wall time in the cycle, median of the runs. */
  readonly perCheckMs: Readonly<Record<string, number>>;
  readonly exitCodes: Readonly<Record<string, number | null>>;
  /** What the peak of the median run was made of: per program name, how many and their summed RSS. */
  readonly peakMakeup: readonly PeakPart[];
}

export interface PeakPart {
  readonly program: string;
  readonly count: number;
  readonly rssKb: number;
}

export interface CycleResults {
  readonly checks: readonly string[];
  /** Each check run by itself (nothing else running, ssh master up), median wall time. */
  readonly aloneMs: Readonly<Record<string, number>>;
  readonly designs: readonly CycleFigures[];
}

/** The check programs of monitrc.primary.example with their arguments, in its order. */
function primaryChecks(): { name: string; argv: string[] }[] {
  return readExample("primary")
    .stanzas.filter((stanza) => stanza.kind === "program")
    .map((stanza) => {
      const argv = programCommand(stanza);
      return { name: argv[0]?.split("/").pop() ?? "", argv };
    });
}

/** What the admin's scripts did, each with its own ssh login: one command here, the same there, compared. */
function oldScript(name: string): string {
  const remote = (command: string): string => `ssh -o BatchMode=yes root@secondary ${command}`;
  const compare = (command: string): string => `a=$(${command}); b=$(${remote(`'${command}'`)}) || { echo "cannot reach secondary"; exit 2; }\n[ "$a" = "$b" ] || { echo "${name} differs"; exit 2; }`;
  const body: Record<string, string> = {
    check_peer: `${remote("true")} || { echo "cannot reach secondary"; exit 2; }`,
    check_carp: `ifconfig carp >/dev/null; ${remote("ifconfig carp")} | grep -q BACKUP || exit 2`,
    check_pfsync: `pfctl -si | grep -i entries; ${remote("pfctl -si")} | grep -i entries`,
    check_sysctl: compare("cat /etc/sysctl.conf"),
    check_mailq: `${remote("true")}; n=$(mailq | grep -c '^[0-9A-F]'); [ "$n" -lt 50 ] || exit 1`,
    check_dns: `${remote("true")}; ping -c 1 -w 1 127.0.0.1 >/dev/null`,
    check_installed: `${remote("true")}; ls -l /etc/carpentry.monit >/dev/null`,
    check_carp_interfaces: compare("ls /etc/hostname.carp*"),
    check_pf_tables: compare("pfctl -t badhosts -T show"),
    check_drift_scripts: compare("cksum /root/bin/* /etc/carpentry.bin/*"),
    check_drift_pf: compare("cksum /etc/pf.conf"),
    check_drift_dhcp: compare("cksum /etc/dhcpd.conf"),
    check_drift_unbound: compare("cksum /var/unbound/etc/unbound.conf"),
    check_drift_vpn: compare("ls -R /etc/openvpn"),
    check_drift_ifstated: compare("cksum /etc/ifstated.conf"),
    check_drift: compare("cksum /etc/syslog.conf"),
  };
  return `#!/bin/ksh\n${body[name] ?? remote("true")}\necho "OK"\n`;
}

function netnsOf(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

function pidsIn(netns: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name) && netnsOf(name) === netns)
    .map(Number);
}

/**
 * The harness's own wrapper: pair.run enters the host through nsenter, which stays as the program's
 * parent (it forks to enter the PID namespace). monit starts a program itself, so nsenter is no part
 * of a cycle on a gateway, and each design would carry some 1.8 MB of it per program.
 */
function isHarnessWrapper(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === "/usr/bin/nsenter";
  } catch {
    return false;
  }
}

/** A process's name; for node, with its script and first argument, which say which program it is. */
function programOf(pid: number): string {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    if (comm !== "node") return comm;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return `node ${argv.slice(1, 3).join(" ")}`;
  } catch {
    return "?";
  }
}

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** utime + stime + cutime + cstime of a process in ms (clock ticks of 10 ms). */
function cpuOf(pid: number | "self", children: boolean): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // After "pid (comm) ": state is field 3, so utime (14) is index 11.
  const at = (i: number): number => Number(fields[i] ?? 0) * 10;
  return children ? at(13) + at(14) : at(11) + at(12);
}

interface OneCycle {
  wallMs: number;
  cpuMs: number;
  peakRssKb: number;
  peakMakeup: PeakPart[];
  connections: number;
  runs: Map<string, RunResult>;
}

async function oneCycle(pair: Pair, lab: ScenarioLab, programs: readonly { name: string; argv: string[] }[], env: Record<string, string>): Promise<OneCycle> {
  const host: HostName = "primary";
  const netns = netnsOf(pair.pid(host)) ?? "";
  const idle = new Set(pidsIn(netns));
  const init = pair.pid(host);
  const cpuBefore = cpuOf("self", true) + cpuOf(init, true);
  const connectionsBefore = await connections(pair);
  let peak = 0;
  let peakMakeup: PeakPart[] = [];
  let done = false;
  const sampling = (async () => {
    while (!done) {
      let sum = 0;
      const sample: { pid: number; kb: number }[] = [];
      for (const pid of pidsIn(netns)) {
        if (idle.has(pid) || isHarnessWrapper(pid)) continue;
        const kb = rssKb(pid);
        sum += kb;
        sample.push({ pid, kb });
      }
      if (sum > peak) {
        peak = sum;
        const parts = new Map<string, PeakPart>();
        for (const { pid, kb } of sample) {
          const program = programOf(pid);
          const part = parts.get(program) ?? { program, count: 0, rssKb: 0 };
          parts.set(program, { program, count: part.count + 1, rssKb: part.rssKb + kb });
        }
        peakMakeup = [...parts.values()].sort((a, b) => b.rssKb - a.rssKb);
      }
      await sleep(5);
    }
  })();
  const started = performance.now();
  const runs = await Promise.all(programs.map(async ({ name, argv }) => [name, await pair.run(host, argv, { env, timeoutMs: 60_000 })] as const));
  const wallMs = performance.now() - started;
  // The detached processes (the cycle server and its watchdog, ssh's shared connection) count too:
  // wait for all but ssh to end, close the connection, then read what the host's init reaped.
  const detached = (): boolean => pidsIn(netns).some((pid) => !idle.has(pid) && !isHarnessWrapper(pid) && !["ssh", "?"].includes(programOf(pid)));
  for (let i = 0; i < 100 && detached(); i++) await sleep(50);
  done = true;
  await sampling;
  await lab.closeSharedConnections();
  await sleep(100);
  const cpuMs = cpuOf("self", true) + cpuOf(init, true) - cpuBefore;
  return { wallMs, cpuMs, peakRssKb: peak, peakMakeup, connections: (await connections(pair)) - connectionsBefore, runs: new Map(runs) };
}

export async function cycleSection(pair: Pair, lab: ScenarioLab, runs: number, log: (line: string) => void): Promise<CycleResults> {
  const checks = primaryChecks();
  for (const { name } of checks) await pair.writeFile("primary", `${OLD_DIR}/${name}`, oldScript(name), { mode: 0o700 });
  const old = checks.map(({ name }) => ({ name, argv: ["/bin/ksh", `${OLD_DIR}/${name}`] }));

  log(`cycle: each of ${checks.length} checks alone x ${runs} (ssh master up)`);
  const aloneRuns = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    for (const { name, argv } of checks) {
      const run = await pair.run("primary", argv, { env: { CARPENTRY_CYCLE: "alone" }, timeoutMs: 60_000 });
      aloneRuns.set(name, [...(aloneRuns.get(name) ?? []), run.durationMs]);
    }
  }
  const aloneMs = Object.fromEntries([...aloneRuns].map(([name, times]) => [name, spread(times).median]));

  const designs: CycleFigures[] = [];
  const variants: { design: string; programs: { name: string; argv: string[] }[]; env: Record<string, string> }[] = [
    { design: "old design: a ksh script a check, an ssh login each", programs: old, env: {} },
    { design: "this suite, each check alone (one node each)", programs: checks, env: { CARPENTRY_CYCLE: "alone" } },
    { design: "this suite, served (one node for the cycle)", programs: checks, env: {} },
  ];
  const measured = new Map<string, OneCycle[]>(variants.map((v) => [v.design, []]));
  for (let i = 0; i < runs; i++) {
    for (const variant of variants) {
      log(`cycle: ${variant.design}, run ${i + 1}/${runs}`);
      await lab.closeSharedConnections();
      measured.get(variant.design)?.push(await oneCycle(pair, lab, variant.programs, variant.env));
    }
  }
  for (const variant of variants) {
    const cycles = measured.get(variant.design) ?? [];
    const names = variant.programs.map((p) => p.name);
    const peaks = spread(cycles.map((c) => c.peakRssKb));
    const medianCycle = cycles.find((c) => c.peakRssKb === peaks.median) ?? [...cycles].sort((a, b) => a.peakRssKb - b.peakRssKb)[Math.floor(cycles.length / 2)];
    designs.push({
      design: variant.design,
      wallMs: spread(cycles.map((c) => c.wallMs)),
      cpuMs: spread(cycles.map((c) => c.cpuMs)),
      peakRssKb: peaks,
      connections: spread(cycles.map((c) => c.connections)),
      perCheckMs: Object.fromEntries(names.map((name) => [name, spread(cycles.map((c) => c.runs.get(name)?.durationMs ?? 0)).median])),
      exitCodes: Object.fromEntries(names.map((name) => [name, cycles.at(-1)?.runs.get(name)?.code ?? null])),
      peakMakeup: medianCycle?.peakMakeup ?? [],
    });
  }
  return { checks: checks.map((c) => c.name), aloneMs, designs };
}

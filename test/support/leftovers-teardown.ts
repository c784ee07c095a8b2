// vitest globalSetup: after every test file has finished, fails the run if the simulated pairs left
// anything behind: network namespaces, veths, their mounts, processes, run directories
// (test/harness/pair.ts leftovers()). A test file cannot be relied on to run last when files run
// in parallel forks; this teardown runs once all of them are done, and a teardown that throws fails
// the run. Only what this run made counts: anything there before it started, or owned by another
// live process that is not one of ours (another test run on the same machine), is left out.
//
// It also starts bystanders before any test file runs (test/support/guards.ts: a sleep and an ssh
// connection master look-alike, outside every pair) and fails the run if one of them did not live
// to the end: tests kill processes by name inside a simulated host, and must reach none outside it.
import { readFileSync } from "node:fs";
import { leftovers } from "../harness/pair.js";
import { startGuards, type Guards } from "./guards.js";

/** The owner pid that pair.ts puts in every name it makes (cpri<pid>x..., /tmp/carpentry-pair-<pid>x...). */
const OWNER = /(?:c(?:pri|sec)|cv[ps]|carpentry-pair-)(\d+)x/;

function parentOf(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, the last ")" ends it.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function isOursOrDead(owner: number): boolean {
  for (let pid: number | undefined = owner; pid !== undefined && pid > 1; pid = parentOf(pid)) {
    if (pid === process.pid) return true;
  }
  return parentOf(owner) === undefined;
}

/** Mounts in this (the machine's) mount namespace that a pair made: its /run/netns bind mounts. */
function pairMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => OWNER.test(line))
    .map((line) => `mount ${line.split(" ")[4] ?? line}`);
}

async function everything(): Promise<string[]> {
  return [...(await leftovers({ includeOtherProcesses: true })), ...pairMounts()];
}

let before = new Set<string>();
let guards: Guards | undefined;

export async function setup(): Promise<void> {
  before = new Set(await everything());
  guards = await startGuards();
}

export async function teardown(): Promise<void> {
  const killed = guards?.dead() ?? ["the guards were never started"];
  await guards?.stop();
  const left = (await everything()).filter((item) => {
    if (before.has(item)) return false;
    const owner = Number(OWNER.exec(item)?.[1]);
    return !Number.isInteger(owner) || isOursOrDead(owner);
  });
  const problems = [
    ...(killed.length > 0
      ? [
          `processes outside the pairs did not survive the test run (guards started before it: ${killed.join(", ")}): a test killed by name outside its simulated host, ` +
            "or something else on this machine did (a copy of this suite from before the hosts had PID namespaces of their own kills every sleep and ssh master it sees)",
        ]
      : []),
    ...(left.length > 0 ? [`the test run left behind (test/harness/pair.ts leftovers()):\n${left.join("\n")}`] : []),
  ];
  if (problems.length > 0) throw new Error(problems.join("\n"));
}

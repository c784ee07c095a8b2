// vitest globalSetup: after every test file has finished, fails the run if the simulated pairs left
// anything behind: network namespaces, veths, their mounts, processes, run directories
// (test/harness/pair.ts leftovers()). A test file cannot be relied on to run last when files run
// in parallel forks; this teardown runs once all of them are done, and a teardown that throws fails
// the run. Only what this run made counts: anything there before it started, or owned by another
// live process that is not one of ours (another test run on the same machine), is left out.
import { readFileSync } from "node:fs";
import { leftovers } from "../harness/pair.js";

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

export async function setup(): Promise<void> {
  before = new Set(await everything());
}

export async function teardown(): Promise<void> {
  const left = (await everything()).filter((item) => {
    if (before.has(item)) return false;
    const owner = Number(OWNER.exec(item)?.[1]);
    return !Number.isInteger(owner) || isOursOrDead(owner);
  });
  if (left.length > 0) throw new Error(`the test run left behind (test/harness/pair.ts leftovers()):\n${left.join("\n")}`);
}

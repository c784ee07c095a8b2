// End of the e2e suite: nothing of the simulated pairs may be left behind. Files run in parallel forks
// in an order that cannot be fully relied on, so this file checks what it can see when it runs: what
// finished test processes left (a file whose teardown did not run, a worker that crashed or was
// killed), before a start of its own would collect it. The run-wide check, after every file has
// finished, is test/support/leftovers-teardown.ts (vitest globalSetup): it fails the run if anything
// of this run is still there.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { leftovers, startPair } from "../harness/pair.js";

const pairMounts = (): string[] =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => /\/run\/netns\/c(pri|sec)\d+x|carpentry-pair-\d+x/.test(line));

it("finds nothing left by the test processes that have finished", async () => {
  // Other live workers' pairs are theirs (leftovers() leaves them out); their netns mounts are not
  // told apart here, so only what belongs to no live process counts.
  expect(await leftovers()).toEqual([]);
});

it("leaves nothing behind itself: a pair started and stopped takes its namespaces, mounts, processes and directory with it", async () => {
  const pair = await startPair();
  const mine = (line: string): boolean => line.includes(`${process.pid}x`);
  expect((await leftovers()).length).toBeGreaterThan(0);
  expect(pairMounts().filter(mine).length).toBeGreaterThan(0);
  await pair.stop();
  expect(await leftovers()).toEqual([]);
  expect(pairMounts().filter(mine)).toEqual([]);
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { collect, runCollected, startProcess } from "../../../src/lib/spawn.js";

describe("spawn", () => {
  it("returns output, exit code and what was written to stdin", async () => {
    const outcome = await runCollected("/bin/sh", ["-c", "cat; echo err >&2; exit 3"], { input: "héllo\n", maxBuffer: 1024 });
    expect(outcome).toMatchObject({ stdout: "héllo\n", stderr: "err\n", exitCode: 3, signal: undefined, startError: undefined, canceled: false, overflowed: false });
  });

  it("says why a program could not be started, without throwing", async () => {
    const outcome = await runCollected("/nonexistent/prog", [], { maxBuffer: 1024 });
    expect(outcome.startError?.code).toBe("ENOENT");
    expect(outcome.exitCode).toBeUndefined();
  });

  it("kills on abort and says it was canceled", async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const outcome = await runCollected("/bin/sleep", ["10"], { signal: controller.signal, maxBuffer: 1024 });
    expect(outcome.canceled).toBe(true);
    expect(outcome.signal).toBe("SIGTERM");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("kills what ignores SIGTERM a second later", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const outcome = await runCollected("/bin/sh", ["-c", "trap '' TERM; sleep 10 & wait; sleep 10"], { signal: controller.signal, maxBuffer: 1024, detached: true });
    expect(outcome.signal).toBe("SIGKILL");
  });

  it("stops a process whose output passes the bound", async () => {
    const outcome = await runCollected("/usr/bin/yes", [], { maxBuffer: 64 * 1024 });
    expect(outcome.overflowed).toBe(true);
    expect(outcome.signal).toBe("SIGKILL");
    expect(outcome.stdout.length).toBeLessThanOrEqual(64 * 1024);
  });

  it("kills a detached process's whole group", async () => {
    const started = startProcess("/bin/sh", ["-c", "sleep 30 & echo $!; wait"], { detached: true, stdin: "ignore" });
    const stdout = collect(started, started.child.stdout, 1024);
    await new Promise((resolve) => started.child.stdout?.once("data", resolve));
    const grandchild = Number(stdout.text().trim());
    started.kill("SIGKILL");
    await started.exited;
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    let state = "gone";
    try {
      state = /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${grandchild}/stat`, "utf8"))?.[1] ?? "gone";
    } catch {
      // No such process.
    }
    expect(["gone", "Z"]).toContain(state);
  });
});

// Bystanders: processes outside the simulated pair that look like what tests kill by name inside a
// host. A `sleep`, and an ssh connection master as OpenSSH names it (process name "ssh", command
// line "ssh: PATH [mux]"). Commands run in a host must not see them, let alone signal them: a test
// starts them, runs its pkill inside the host, and asserts they are still alive.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Long enough for the whole suite; setpriv --pdeathsig ends them with their starter anyway. */
const LIFETIME_S = "1800";

export interface Guards {
  /** "name pid" of each guard */
  readonly described: readonly string[];
  /** the guards that are gone, "name pid", with how they ended when known */
  dead(): string[];
  /** kill the guards (by their pids: they are ours) and remove their files */
  stop(): Promise<void>;
}

interface Guard {
  readonly name: string;
  readonly child: ChildProcess;
  /** what /proc/PID/cmdline holds while it runs (NULs as spaces) */
  readonly cmdline: string;
}

function cmdlineOf(pid: number | undefined): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the guards in the machine's own namespaces and resolves once each runs its program. */
export async function startGuards(): Promise<Guards> {
  const dir = mkdtempSync(join(tmpdir(), "carpentry-guard-"));
  // a copy of sleep(1) named ssh, so its process name is "ssh" like a real connection master's
  copyFileSync("/usr/bin/sleep", join(dir, "ssh"));
  const muxTitle = `ssh: ${join(dir, "cm-guard")} [mux]`;
  const start = (name: string, argv: readonly string[], cmdline: string): Guard => ({
    name,
    child: spawn("/usr/bin/setpriv", ["--pdeathsig", "KILL", ...argv], { stdio: "ignore" }),
    cmdline,
  });
  const guards: Guard[] = [
    start("sleep", ["/usr/bin/sleep", LIFETIME_S], `/usr/bin/sleep ${LIFETIME_S}`),
    // bash's exec -a sets argv[0], as OpenSSH's setproctitle sets the master's command line
    start("ssh-mux", ["/usr/bin/bash", "-c", 'exec -a "$0" "$1" "$2"', muxTitle, join(dir, "ssh"), LIFETIME_S], `${muxTitle} ${LIFETIME_S}`),
  ];
  const deadline = Date.now() + 5000;
  while (!guards.every((g) => cmdlineOf(g.child.pid) === g.cmdline)) {
    if (Date.now() > deadline) throw new Error(`guards did not start: ${guards.map((g) => `${g.name}: ${cmdlineOf(g.child.pid) ?? "gone"}`).join(", ")}`);
    await sleep(5);
  }
  return {
    described: guards.map((g) => `${g.name} ${g.child.pid}`),
    dead: () =>
      guards
        .filter((g) => cmdlineOf(g.child.pid) !== g.cmdline)
        .map((g) => `${g.name} ${g.child.pid}${g.child.signalCode ? ` (${g.child.signalCode})` : g.child.exitCode !== null ? ` (exit ${g.child.exitCode})` : ""}`),
    stop: async () => {
      await Promise.all(
        guards.map(async (g) => {
          if (g.child.exitCode !== null || g.child.signalCode !== null) return;
          const exited = new Promise<void>((resolve) => g.child.once("exit", () => resolve()));
          g.child.kill("SIGKILL");
          await exited;
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The simulated pair's stand-in outputs as a check's command results, for unit tests of a check's
// reader and decision on the same outputs the e2e matrix plants.
import { posix } from "node:path";
import type { HostState } from "../../src/sim/gateways.js";
import type { CommandResult, HostCommand } from "../../src/lib/transport/shell.js";

/** What each command would answer on the simulated host: its planted output, or the stand-in's "not simulated" failure. */
export function simAnswers(host: HostState, commands: readonly HostCommand[]): CommandResult[] {
  return commands.map((command) => {
    const argv = command.argv ?? [];
    const [program = "", ...args] = argv;
    const planted = host.outputs.get(JSON.stringify([posix.basename(program), ...args]));
    const text = argv.join(" ");
    if (!planted) return { command: text, stdout: "", stderr: `${posix.basename(program)}: not simulated\n`, exitCode: 1 };
    return { command: text, stdout: planted.stdout, stderr: planted.stderr ?? "", exitCode: planted.exitCode ?? 0 };
  });
}

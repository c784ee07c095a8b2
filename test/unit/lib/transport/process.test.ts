// ProcessScope: every process through execa, bound to one deadline that kills whole process groups.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Deadline } from "../../../../src/lib/runtime/deadline.js";
import { commandFailed, HostError, TimeoutError } from "../../../../src/lib/runtime/errors.js";
import { ProcessScope } from "../../../../src/lib/transport/process.js";

/** Gone, or a zombie waiting for its parent to reap it: either way no longer running. */
function running(pid: number): boolean {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1] !== "Z";
  } catch {
    return false;
  }
}

const open = (): ProcessScope => new ProcessScope(new AbortController().signal);

describe("ProcessScope", () => {
  it("returns output, exit code and what was written to stdin", async () => {
    const outcome = await open().run("/bin/sh", ["-c", "cat; echo err >&2; exit 3"], { description: "sh", input: "héllo\n" });
    expect(outcome).toEqual({ stdout: "héllo\n", stderr: "err\n", exitCode: 3, signal: undefined });
  });

  it("says why a program could not be started, naming it", async () => {
    await expect(open().run("/nonexistent/prog", [], { description: "prog" })).rejects.toThrow(new HostError("cannot run /nonexistent/prog: not found"));
  });

  it("names what it waits for while it waits", async () => {
    const scope = open();
    const running = scope.run("/bin/sleep", ["0.2"], { description: "ssh root@secondary: sleep" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(scope.waitingFor()).toEqual(["ssh root@secondary: sleep"]);
    await running;
    expect(scope.waitingFor()).toEqual([]);
  });

  it("stops at the deadline with the deadline's own error, and kills the whole process group", async () => {
    const deadline = new Deadline(300);
    const scope = new ProcessScope(deadline.signal);
    let grandchild = 0;
    const started = Date.now();
    const run = scope.stream("/bin/sh", ["-c", "trap '' TERM; sleep 30 & echo $!; wait"], { description: "sh" }, (chunk) => {
      grandchild = Number(chunk.toString().trim());
    });
    await expect(run).rejects.toThrow(new TimeoutError("timed out after 0.3s"));
    expect(Date.now() - started).toBeLessThan(3000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(grandchild).toBeGreaterThan(0);
    expect(running(grandchild)).toBe(false);
  });

  it("refuses to start anything once the deadline has passed", async () => {
    const controller = new AbortController();
    controller.abort(new TimeoutError("timed out after 1s"));
    await expect(new ProcessScope(controller.signal).run("/bin/true", [], { description: "true" })).rejects.toThrow(TimeoutError);
  });

  it("converses: each line to onLine, answers written back, every line in the outcome", async () => {
    const lines: string[] = [];
    const outcome = await open().converse("/bin/sh", ["-c", 'read a; echo "?$a"; read b; echo "got $b"'], { description: "sh", input: "one\n" }, async (line, input) => {
      lines.push(line);
      if (line.startsWith("?")) input.write("two\n");
    });
    expect(lines).toEqual(["?one", "got two"]);
    expect(outcome).toMatchObject({ stdout: "?one\ngot two\n", exitCode: 0 });
  });
});

describe("commandFailed: one wording for a failed command", () => {
  it("says what ran, where, how it ended, and the first line of its stderr", () => {
    const error = commandFailed("/sbin/pfctl -si", "secondary", { exitCode: 1, stderr: "\npfctl: /dev/pf: Permission denied\nmore\n" });
    expect(error.summary).toBe("/sbin/pfctl -si failed on secondary (exit 1)");
    expect(error.detail).toBe("pfctl: /dev/pf: Permission denied");
    expect(commandFailed("/usr/sbin/smtpctl show queue with a very long tail", undefined, { exitCode: undefined, signal: "SIGKILL", stderr: "" }).summary).toBe(
      "/usr/sbin/smtpctl show queue with a v... failed (killed by SIGKILL)",
    );
  });
});

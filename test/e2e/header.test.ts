// The two-line sh header of every built executable, inside a simulated gateway whose
// /usr/local/bin/node is there but cannot be executed (as OpenBSD refuses node, which needs W^X
// memory, from a /usr/local not mounted wxallowed): one line saying so, exit 3, as monit wants it.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPair, type Pair } from "../harness/pair.js";

let pair: Pair;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "carpentry-header-"));
  // An executable whose exec fails (its interpreter does not exist): the shell's exec of it fails as
  // the kernel's refusal of a W^X binary outside a wxallowed mount does.
  const node = join(dir, "node");
  writeFileSync(node, "#!/nonexistent/interpreter\n");
  chmodSync(node, 0o755);
  pair = await startPair({ nodeBinary: node });
  await pair.installBuild();
});

afterAll(async () => {
  await pair?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it.each(["/etc/carpentry.monit/check_carp", "/etc/carpentry.monit/carpentry"])("%s says in one line that node cannot start, exit 3", async (file) => {
  const run = await pair.run("primary", [file, "-V"]);
  expect(run.stdout).toBe("UNKNOWN: /usr/local/bin/node cannot start (OpenBSD: mount /usr/local wxallowed)\n");
  expect(run.code).toBe(3);
});

// File names that are not UTF-8 (a name written under a Latin-1 locale: "pf\xe9.conf"), on the
// simulated pair: both hosts read them as bytes, compare them exactly and print them escaped. None is
// skipped, so a drifted one or a world-writable one alerts like any other.
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HOST_NAMES, startPair, type HostName, type Pair, type RunResult } from "../harness/pair.js";

let pair: Pair;

/** A host's path with raw bytes in its last component. */
function bytePath(host: HostName, dir: string, name: readonly number[]): Buffer {
  return Buffer.concat([Buffer.from(pair.hostPath(host, dir)), Buffer.from("/"), Buffer.from(name)]);
}
const PF_E9 = [...Buffer.from("pf"), 0xe9, ...Buffer.from(".conf")];
const PF_E8 = [...Buffer.from("pf"), 0xe8, ...Buffer.from(".conf")];

async function run(host: HostName, argv: string[]): Promise<RunResult> {
  const result = await pair.run(host, argv);
  expect(result.stderr).toBe("");
  return result;
}

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
  await pair.writeConfig("primary", 'role = "primary"\n[peer]\nhost = "secondary"\n');
  await pair.writeConfig("secondary", 'role = "secondary"\n[peer]\nhost = "primary"\n[checks.installed]\npaths = ["/etc/bytes-test/"]\n');
});

afterAll(async () => {
  await pair?.stop();
});

beforeEach(async () => {
  for (const host of HOST_NAMES) {
    for (const path of ["/etc/pf.tables", "/etc/bytes-test"]) rmSync(pair.hostPath(host, path), { recursive: true, force: true });
    await pair.writeFile(host, "/etc/pf.conf", "set skip on lo\npass out\n", { mode: 0o600 });
    await pair.writeFile(host, "/etc/pf.tables/badhosts.txt", "192.0.2.1\n", { mode: 0o600 });
  }
});

describe("file names that are not UTF-8", () => {
  it("check_drift_pf: the same bytes on both hosts are the same file; a differing content is drift, named escaped", async () => {
    for (const host of HOST_NAMES) writeFileSync(bytePath(host, "/etc/pf.tables", PF_E9), "192.0.2.9\n", { mode: 0o600 });
    const same = await run("primary", ["/etc/carpentry.monit/check_drift_pf"]);
    expect(same.stdout).toMatch(/^OK: pf: 4 paths the same/);

    writeFileSync(bytePath("secondary", "/etc/pf.tables", PF_E9), "192.0.2.10\n", { mode: 0o600 });
    const drifted = await run("primary", ["/etc/carpentry.monit/check_drift_pf", "-v"]);
    expect(drifted.code).toBe(2);
    expect(drifted.stdout.split("\n")[0]).toContain("/etc/pf.tables/pf\\xe9.conf content differs");
    expect(drifted.stdout).toContain("+192.0.2.10");
  });

  it("check_drift_pf: two names that differ only in a byte that is not UTF-8 are two files", async () => {
    writeFileSync(bytePath("primary", "/etc/pf.tables", PF_E9), "192.0.2.9\n", { mode: 0o600 });
    writeFileSync(bytePath("secondary", "/etc/pf.tables", PF_E8), "192.0.2.9\n", { mode: 0o600 });
    const result = await run("primary", ["/etc/carpentry.monit/check_drift_pf", "-v"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("/etc/pf.tables/pf\\xe9.conf: only on primary");
    expect(result.stdout).toContain("/etc/pf.tables/pf\\xe8.conf: only on secondary");
  });

  it("check_installed: a world-writable file with such a name is found and named", async () => {
    await pair.writeFile("secondary", "/etc/bytes-test/ok.sh", "#!/bin/ksh\n", { mode: 0o700 });
    chmodSync(pair.hostPath("secondary", "/etc/bytes-test"), 0o700);
    expect((await run("secondary", ["/etc/carpentry.monit/check_installed"])).code).toBe(0);
    const wide = bytePath("secondary", "/etc/bytes-test", [...Buffer.from("x"), 0xe9, ...Buffer.from(".sh")]);
    writeFileSync(wide, "#!/bin/ksh\n");
    chmodSync(wide, 0o777);
    const result = await run("secondary", ["/etc/carpentry.monit/check_installed"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("/etc/bytes-test/x\\xe9.sh");
  });
});

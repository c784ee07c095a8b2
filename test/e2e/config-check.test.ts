// `carpentry config check` on the built CLI: besides the config, it says which pf tables
// check_pf_tables compares with it on this host and which it leaves out, with why, from this
// host's pf.conf and carpentry's sync config (here in a temporary directory, named in the config).
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
let work: string;

beforeAll(() => {
  work = mkdtempSync("/tmp/carpentry-config-check-");
  // A copy of the build: other tests rebuild dist/ while this one runs.
  cpSync(join(REPO, "dist"), join(work, "dist"), { recursive: true });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function configCheck(pfTables: string): { code: number | null; stdout: string; stderr: string } {
  const config = join(work, "carpentry.toml");
  writeFileSync(config, `role = "primary"\n[peer]\nhost = "secondary"\n[checks.pf_tables]\npf_conf = "${join(work, "pf.conf")}"\nsync_config = "${join(work, "carpentry.conf")}"\n${pfTables}\n`);
  const run = spawnSync(process.execPath, [join(work, "dist", "carpentry"), "--config", config, "config", "check"], { encoding: "utf8", timeout: 30_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("carpentry config check", () => {
  it("lists the tables compared and those left out, each with why", () => {
    writeFileSync(
      join(work, "pf.conf"),
      'table <badhosts> persist file "/etc/pf.tables/badhosts.txt"\ntable <bruteforce> persist\ntable <spamd-white> persist\n' +
        "block quick from <bruteforce>\npass in proto tcp to port ssh keep state (max-src-conn 10, overload <bruteforce> flush global)\n",
    );
    writeFileSync(join(work, "carpentry.conf"), 'peer=192.168.110.102\npf_tables="trusted"\n');
    const run = configCheck("");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const section = run.stdout.slice(run.stdout.indexOf("# pf tables"));
    expect(section.split("\n").slice(0, 5)).toEqual([
      "# pf tables check_pf_tables compares (the default rule: this host's pf.conf and carpentry's sync config):",
      "  compared: badhosts: file-backed in pf.conf (the file is synced with pf.conf)",
      "  compared: trusted: named by carpentry's sync config (pf_tables)",
      "  left out: bruteforce: filled by an overload rule on each host: differs between the hosts by design",
      "  left out: spamd-white: spamd's table, filled on each host by spamd, spamd-setup or spamlogd (or per host): differs by design",
    ]);
  });

  it("follows [checks.pf_tables] tables when set, and says when it cannot read pf.conf", () => {
    const listed = configCheck('tables = ["bruteforce"]');
    expect(listed.stdout).toContain(
      "# pf tables check_pf_tables compares ([checks.pf_tables] tables):\n  compared: bruteforce: in [checks.pf_tables] tables\n  left out: badhosts: not in [checks.pf_tables] tables\n",
    );
    rmSync(join(work, "pf.conf"));
    writeFileSync(join(work, "pf.conf"), "x".repeat(1024 * 1024 + 1));
    const huge = configCheck("");
    expect(huge.code).toBe(0);
    expect(huge.stdout).toContain(`# pf tables check_pf_tables compares: cannot tell: ${join(work, "pf.conf")} is larger than 1024 KiB\n`);
  });
});

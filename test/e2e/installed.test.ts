// check_installed against the simulated pair, run as monit runs it on each gateway: the carpentry
// files as they are meant to be (chmod -R 700, rc.d script chmod u+x), the rc.d service through the
// rcctl stand-in, and the entr watchers as real processes in the primary.
import { chmodSync, chownSync, existsSync, readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HOST_NAMES, startPair, type Daemon, type HostName, type Pair } from "../harness/pair.js";

const CHECK = "/etc/carpentry.monit/check_installed";
const CONFIG: Record<HostName, string> = {
  primary: 'role = "primary"\n[peer]\nhost = "secondary"\n',
  secondary: 'role = "secondary"\n[peer]\nhost = "primary"\n',
};
// A watcher named in the config ([checks.installed] watcher), besides the default entr. Each host
// has its own PID namespace, so pgrep in a host counts that host's processes alone.
const WATCHER = "carpwatch";
const WITH_OWN_WATCHER = `${CONFIG.primary}[checks.installed]\nwatcher = "${WATCHER}"\n`;

/** What carpentry's setup installs: /etc/carpentry on the primary only; scripts 0700; the rc.d script 0755. */
function plantedFiles(host: HostName): Record<string, number> {
  return {
    ...(host === "primary" ? { "/etc/carpentry/carpentry.conf": 0o600 } : {}),
    "/etc/carpentry.bin/pf.sh": 0o700,
    "/etc/carpentry.bin/pf-tables-memory.sh": 0o700,
    "/etc/rc.d/carpentry": 0o755,
  };
}
const PLANTED_DIRS = ["/etc/carpentry", "/etc/carpentry.bin"];

let pair: Pair;
let watcher: Daemon | undefined;
let defaultWatcher: Daemon | undefined;

/** A process of that name that waits, as entr(1) does: a copy of sleep(1) in the host's /usr/sbin. */
async function startWatcher(name: string, host: HostName = "primary"): Promise<Daemon> {
  // written once: a copy that runs cannot be written again (ETXTBSY)
  if (!existsSync(pair.hostPath(host, `/usr/sbin/${name}`))) await pair.writeFile(host, `/usr/sbin/${name}`, readFileSync("/usr/bin/sleep"), { mode: 0o755 });
  return pair.startDaemon(host, name, [`/usr/sbin/${name}`, "infinity"]);
}

async function check(host: HostName): Promise<{ code: number | null; firstLine: string; stdout: string }> {
  const run = await pair.run(host, [CHECK]);
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout };
}

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
  defaultWatcher = await startWatcher("entr");
});

afterAll(async () => {
  await watcher?.stop();
  await defaultWatcher?.stop();
  await pair?.stop();
});

beforeEach(async () => {
  for (const host of HOST_NAMES) {
    for (const dir of [...PLANTED_DIRS, "/etc/rc.d/carpentry"]) rmSync(pair.hostPath(host, dir), { recursive: true, force: true });
    for (const [path, mode] of Object.entries(plantedFiles(host))) await pair.writeFile(host, path, `#!/bin/ksh\n# ${path}\n`, { mode });
    for (const dir of PLANTED_DIRS) if (host === "primary" || dir !== "/etc/carpentry") chmodSync(pair.hostPath(host, dir), 0o700);
    await pair.writeConfig(host, host === "primary" ? WITH_OWN_WATCHER : CONFIG[host]);
    await pair.setOutput(host, ["rcctl", "check", "carpentry"], "carpentry(ok)\n");
    await pair.clearCommandLog(host);
  }
  watcher ??= await startWatcher(WATCHER);
});

describe("check_installed", () => {
  it("is OK on the primary: everything in place and private, the service ok, its watcher running", async () => {
    const run = await check("primary");
    expect(run.firstLine).toMatch(new RegExp(`^OK: 4 paths in place, root-only \\(\\d+ entries\\); carpentry\\(ok\\), 1 ${WATCHER} watcher \\| entries=\\d+;;;0 watchers=1;;;0$`));
    expect(run.stdout).toContain("\n/etc/carpentry: dir 0700 uid 0, 1 entry inside\n/etc/carpentry.bin: dir 0700 uid 0, 2 entries inside\n");
    expect(run.stdout).toMatch(/\n\/etc\/rc\.d\/carpentry: file 0755 uid 0\n/);
    expect(run.code).toBe(0);
    expect((await pair.commandEntries("primary")).filter((e) => e.kind === "standin").map((e) => e.line)).toEqual(["/usr/sbin/rcctl check carpentry"]);
    expect(await pair.refusedCommands("primary")).toEqual([]);
  });

  it("finds the default watcher, entr, by its exact process name", async () => {
    await pair.writeConfig("primary", CONFIG.primary);
    const run = await check("primary");
    expect(run.firstLine).toMatch(/^OK: 4 paths in place, root-only \(\d+ entries\); carpentry\(ok\), 1 entr watcher \| .* watchers=1;;;0$/);
    expect(run.code).toBe(0);
  });

  it("counts only its own host's watchers: entr processes on the secondary are not the primary's", async () => {
    const onSecondary = [await startWatcher("entr", "secondary"), await startWatcher("entr", "secondary")];
    try {
      expect((await pair.run("secondary", ["/usr/bin/pgrep", "-x", "entr"])).stdout.trim().split("\n")).toHaveLength(2);
      expect((await pair.run("primary", ["/usr/bin/pgrep", "-lx", "entr"])).stdout).toMatch(/^\d+ entr\n$/);
      await pair.writeConfig("primary", CONFIG.primary);
      expect((await check("primary")).firstLine).toMatch(/, 1 entr watcher \| .* watchers=1;;;0$/);
      await defaultWatcher?.stop();
      defaultWatcher = undefined;
      const none = await check("primary");
      expect(none.firstLine).toMatch(/^CRITICAL: no entr watchers running \| entries=\d+;;;0 watchers=0;;;0$/);
      expect(none.code).toBe(2);
    } finally {
      for (const daemon of onSecondary) await daemon.stop();
      defaultWatcher ??= await startWatcher("entr");
    }
  });

  it("is OK on the secondary without /etc/carpentry, and asks no rc.d service there", async () => {
    const run = await check("secondary");
    expect(run.firstLine).toMatch(/^OK: 3 paths in place, root-only \(\d+ entries\) \| entries=\d+;;;0$/);
    expect(run.code).toBe(0);
    expect((await pair.commandEntries("secondary")).filter((e) => e.kind === "standin")).toEqual([]);
  });

  it("without carpentry's sync on the host needs only the checks, and asks no rc.d service or watcher", async () => {
    for (const dir of [...PLANTED_DIRS, "/etc/rc.d/carpentry"]) rmSync(pair.hostPath("primary", dir), { recursive: true, force: true });
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^OK: 1 path in place, root-only \(\d+ entries\); carpentry sync not installed \| /);
    expect(res.code).toBe(0);
    expect((await pair.commandEntries("primary")).filter((e) => e.kind === "standin")).toEqual([]);
    // Half of it back (the rc.d script alone): all of it is required again.
    await pair.writeFile("primary", "/etc/rc.d/carpentry", "#!/bin/ksh\n", { mode: 0o755 });
    const partial = await check("primary");
    expect(partial.firstLine).toMatch(/^CRITICAL: \/etc\/carpentry missing \(\+1 more\) \| /);
    expect(partial.stdout).toContain("carpentry's sync partly installed (found /etc/rc.d/carpentry)");
  });

  it("takes carpentry_sync = false from the config: the sync's paths, service and watchers are not asked for", async () => {
    for (const dir of PLANTED_DIRS) rmSync(pair.hostPath("primary", dir), { recursive: true, force: true });
    await pair.writeConfig("primary", `${CONFIG.primary}[checks.installed]\ncarpentry_sync = false\n`);
    const res = await check("primary");
    expect(res.firstLine).toMatch(/^OK: 1 path in place, root-only \(\d+ entries\); carpentry sync not installed \| /);
    expect(res.stdout).toContain("carpentry's sync not required ([checks.installed] carpentry_sync = false)");
  });

  it("is CRITICAL when a path is missing", async () => {
    await pair.removeFile("primary", "/etc/rc.d/carpentry");
    const run = await check("primary");
    expect(run.firstLine).toMatch(/^CRITICAL: \/etc\/rc\.d\/carpentry missing \| /);
    expect(run.code).toBe(2);
  });

  it("is WARNING for a group-readable script, CRITICAL for a group-writable one", async () => {
    chmodSync(pair.hostPath("secondary", "/etc/carpentry.bin/pf.sh"), 0o750);
    const readable = await check("secondary");
    expect(readable.firstLine).toMatch(/^WARNING: \/etc\/carpentry\.bin\/pf\.sh readable by group \(0750\) \| /);
    expect(readable.code).toBe(1);
    chmodSync(pair.hostPath("secondary", "/etc/carpentry.bin/pf.sh"), 0o770);
    const writable = await check("secondary");
    expect(writable.firstLine).toMatch(/^CRITICAL: \/etc\/carpentry\.bin\/pf\.sh writable by group \(0770\) \| /);
    expect(writable.code).toBe(2);
  });

  it("is CRITICAL for a monit check not owned by root", async () => {
    chownSync(pair.hostPath("primary", "/etc/carpentry.monit/check_peer"), 1000, 1000);
    try {
      const run = await check("primary");
      expect(run.firstLine).toMatch(/^CRITICAL: \/etc\/carpentry\.monit\/check_peer owned by uid 1000, not root \| /);
      expect(run.code).toBe(2);
    } finally {
      chownSync(pair.hostPath("primary", "/etc/carpentry.monit/check_peer"), 0, 0);
    }
  });

  it("is CRITICAL when the rc.d script cannot be run", async () => {
    chmodSync(pair.hostPath("primary", "/etc/rc.d/carpentry"), 0o644);
    const run = await check("primary");
    expect(run.firstLine).toMatch(/^CRITICAL: \/etc\/rc\.d\/carpentry not executable \(0644\) \| /);
    expect(run.code).toBe(2);
  });

  it("is CRITICAL when rcctl check says the service failed", async () => {
    await pair.setOutput("primary", ["rcctl", "check", "carpentry"], "carpentry(failed)\n", { exitCode: 1 });
    const run = await check("primary");
    expect(run.firstLine).toMatch(/^CRITICAL: carpentry not running \(rcctl check: carpentry\(failed\)\) \| /);
    expect(run.code).toBe(2);
  });

  it("is CRITICAL when its watchers are not running", async () => {
    await watcher?.stop();
    watcher = undefined;
    const run = await check("primary");
    expect(run.firstLine).toMatch(new RegExp(`^CRITICAL: no ${WATCHER} watchers running \\| entries=\\d+;;;0 watchers=0;;;0$`));
    expect(run.code).toBe(2);
  });
});

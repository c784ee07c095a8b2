// carpentry demo, end to end: the built CLI as a newcomer runs it (`node dist/carpentry demo`), as a
// normal user (nobody) and as root, with the output read as a log reads it (no TTY). It must show a
// healthy pair and each fault with the status the check gives it, in under a minute, print no secret,
// change nothing on the machine, and leave nothing behind: no process, no directory, also when it is
// interrupted. And where user namespaces are off, it must say so and which sysctl to set.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { SECRETS } from "../../src/sim/secrets.js";
import { CLOCK_TIME } from "../support/clock.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const NOBODY = 65534;
const MINUTE_MS = 60_000;
/** What the simulated hosts see the demo's directory as: in any command line of a leftover process. */
const IN_HOST_DIR = "/run/carpentry-demo";

interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

let work: string;
let dist: string;

beforeAll(() => {
  // A copy of the build: other tests rebuild dist/ while this one runs. Readable by nobody.
  work = mkdtempSync("/tmp/carpentry-demo-test-");
  chmodSync(work, 0o755);
  dist = join(work, "dist");
  cpSync(join(REPO, "dist"), dist, { recursive: true });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A TMPDIR of the run's own, so what the demo leaves there (nothing) can be seen. */
function freshTmpdir(name: string, uid: number): string {
  const dir = join(work, name);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, uid, uid);
  return dir;
}

function processesNaming(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ");
      if (cmdline.includes(text)) found.push(`${pid} ${cmdline.slice(0, 120)}`);
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

function demo(options: { uid: number; tmpdir: string; args?: readonly string[]; interruptWhen?: RegExp }): Promise<DemoRun> {
  const argv = [process.execPath, join(dist, "carpentry"), "demo", ...(options.args ?? [])];
  const [file, args] = options.uid === 0 ? [argv[0] ?? "", argv.slice(1)] : ["setpriv", [`--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups", "--", ...argv]];
  const started = performance.now();
  // Its own process group, as a shell gives a job: Ctrl-C is SIGINT to the whole group.
  const child = spawn(file, args, { env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", HOME: options.tmpdir, TMPDIR: options.tmpdir }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  let interrupted = false;
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    if (options.interruptWhen && !interrupted && options.interruptWhen.test(stdout) && child.pid !== undefined) {
      interrupted = true;
      process.kill(-child.pid, "SIGINT");
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr, durationMs: performance.now() - started })));
}

/** The healthy part: each host's `carpentry run`, as "check_NAME STATUS" per line. */
function healthyStatuses(stdout: string, host: "primary" | "secondary"): Record<string, string> {
  const section = stdout.split(`${host}# /etc/carpentry.monit/carpentry run\n`)[1]?.split("\n\n")[0] ?? "";
  return Object.fromEntries(
    section
      .split("\n")
      .map((line) => /^(check_\w+) (OK|WARNING|CRITICAL|UNKNOWN):/.exec(line))
      .filter((m) => m !== null)
      .map((m): [string, string] => [m[1] ?? "", m[2] ?? ""]),
  );
}

interface TourRun {
  readonly command: string;
  readonly firstLine: string;
  readonly details: string;
}

/** The tour: per fault, the command shown ("primary# /etc/carpentry.monit/check_carp"), its first line and details. */
function tourRuns(stdout: string): TourRun[] {
  const tour = (stdout.split(/^2\. A tour of faults.*$/m)[1] ?? "").split(/^3\. Consolidating/m)[0] ?? "";
  const runs: TourRun[] = [];
  for (const match of tour.matchAll(/^ {2}(\w+# \S+)\n {4}(\S.*)\n((?: {6}.*\n)*)/gm)) runs.push({ command: match[1] ?? "", firstLine: match[2] ?? "", details: match[3] ?? "" });
  return runs;
}

const EXPECTED_TOUR: readonly { command: string; firstLine: RegExp; details?: RegExp }[] = [
  { command: "primary# /etc/carpentry.monit/check_carp", firstLine: /^WARNING: failed over: secondary took carp203 vhid 203 from primary/ },
  { command: "primary# /etc/carpentry.monit/check_carp", firstLine: /^CRITICAL: split brain: carp203 vhid 203 MASTER on both hosts$/ },
  { command: "primary# /etc/carpentry.monit/check_carp", firstLine: /^WARNING: primary carp demote 50 via group carp/ },
  // The same, under a maintenance window on the primary: both hosts say it, OK.
  // The tour cuts a line to its width: sooner when the window's end names its day (after 22:00).
  { command: "primary# /etc/carpentry.monit/check_carp", firstLine: new RegExp(String.raw`^OK: maintenance on primary until ${CLOCK_TIME}: primary carp demote 5.* \(\+1 more\)$`) },
  { command: "secondary# /etc/carpentry.monit/check_carp", firstLine: new RegExp(String.raw`^OK: maintenance on primary until ${CLOCK_TIME}: primary carp demote 5.* \(\+1 more\)$`) },
  { command: "primary# /etc/carpentry.monit/check_sysctl", firstLine: /^CRITICAL: net\.inet\.carp\.preempt: primary 0, secondary 1, expected 1$/ },
  {
    command: "primary# /etc/carpentry.monit/check_pf_tables",
    firstLine: /^CRITICAL: table badhosts differs: 1 only on primary, 1 only on secondary$/,
    details: /only on primary: 192\.0\.2\.1\n[\s\S]*only on secondary: 203\.0\.113\.66\n/,
  },
  {
    command: "primary# /etc/carpentry.monit/check_drift_pf",
    firstLine: /^CRITICAL: \/etc\/pf\.conf content differs$/,
    details: /^ {6}--- primary:\/etc\/pf\.conf\n {6}\+\+\+ secondary:\/etc\/pf\.conf\n[\s\S]*^ {6}-pass in on vio2 proto tcp to port 22$/m,
  },
  { command: "secondary# /etc/carpentry.monit/check_mailq", firstLine: /^CRITICAL: 600 messages queued/ },
  { command: "primary# /etc/carpentry.monit/check_pfsync", firstLine: /^CRITICAL: pfsync0 down on secondary$/ },
  { command: "primary# /etc/carpentry.monit/check_dns", firstLine: /^CRITICAL: all 2 names fail via 127\.0\.0\.1:\d+: SERVFAIL$/ },
  {
    command: "primary# /etc/carpentry.monit/check_peer",
    firstLine: /^CRITICAL: cannot reach secondary 192\.168\.110\.102: connection refused$/,
    details: /ssh: connect to host 192\.168\.110\.102 port 22: Connection refused/,
  },
  { command: "primary# /etc/carpentry.monit/check_pf", firstLine: /^CRITICAL: pf disabled on secondary$/, details: /secondary: pfctl -si says "Disabled for 0 days 00:14:02"/ },
  { command: "primary# /etc/carpentry.monit/check_ifstated", firstLine: /^CRITICAL: \/etc\/mail\/smtpd\.conf is the carp-backup variant, carp203 is MASTER$/ },
];

function expectWholeTour(run: DemoRun, tmpdir: string): void {
  expect(run.stderr).toBe("");
  expect(run.code, run.stdout).toBe(0);
  expect(run.durationMs).toBeLessThan(MINUTE_MS);
  // Read in a log: no colour codes.
  // eslint-disable-next-line no-control-regex -- a terminal colour starts with ESC [
  expect(run.stdout).not.toMatch(/\x1b\[/);
  for (const secret of Object.values(SECRETS)) expect(run.stdout).not.toContain(secret);

  for (const host of ["primary", "secondary"] as const) {
    const expected = Object.fromEntries(ALL_CHECKS.filter((check) => check.roles.includes(host)).map((check) => [`check_${check.name}`, "OK"]));
    expect(healthyStatuses(run.stdout, host), host).toEqual(expected);
  }
  expect(run.stdout).toContain("peer link is simulated without sshd");

  expect(run.stdout).toMatch(
    new RegExp(
      String.raw`^ {2}primary# \/etc\/carpentry\.monit\/carpentry maintenance start --for 2h --reason "upgrade to 7\.9"\n {4}maintenance on primary until ${CLOCK_TIME} \(upgrade to 7\.9\): started$`,
      "m",
    ),
  );
  const runs = tourRuns(run.stdout);
  expect(runs.map((r) => r.command)).toEqual(EXPECTED_TOUR.map((step) => step.command));
  for (const [index, step] of EXPECTED_TOUR.entries()) {
    const shown = runs[index];
    expect(shown?.firstLine, step.command).toMatch(step.firstLine);
    if (step.details) expect(shown?.details, step.command).toMatch(step.details);
  }
  // After the faults, a consolidation: the alert warns first, then the commands that bring the work back.
  const consolidation = run.stdout.split(/^3\. Consolidating after a primary outage$/m)[1] ?? "";
  expect(consolidation).toMatch(/^ {2}primary# \/etc\/carpentry\.monit\/check_drift_pf\n {4}CRITICAL: newer on the secondary: \/etc\/pf\.conf content differs$/m);
  expect(consolidation).toContain("newer on the secondary: 1 path: /etc/pf.conf\n");
  expect(consolidation).toMatch(/^ {6}scp -p root@192\.168\.110\.102:\/etc\/pf\.conf \/etc\/pf\.conf$/m);
  expect(run.stdout).toMatch(/^Every check said what it should, in \d+\.\d s\. /m);
  expect(run.stdout).toMatch(/^Demo over in \d+\.\d s: its namespaces, processes and files \(.*\) are gone\.$/m);

  expect(readdirSync(tmpdir)).toEqual([]);
  expect(processesNaming(tmpdir)).toEqual([]);
  expect(processesNaming(IN_HOST_DIR)).toEqual([]);
}

describe("carpentry demo", () => {
  it(
    "as a normal user: healthy pair, every fault with its status, < 60 s, no secret, nothing left",
    async () => {
      const tmpdir = freshTmpdir("as-nobody", NOBODY);
      // What a demo killed with SIGKILL leaves (an empty directory, its owner gone) is cleared by the next one.
      const deadPid = spawnSync("true").pid;
      const stale = join(tmpdir, `carpentry-demo-${deadPid}-abcdef`);
      mkdirSync(stale);
      chownSync(stale, NOBODY, NOBODY);
      const run = await demo({ uid: NOBODY, tmpdir });
      console.log(`carpentry demo as nobody: ${Math.round(run.durationMs)} ms`);
      expectWholeTour(run, tmpdir);
    },
    MINUTE_MS + 30_000,
  );

  it(
    "as root: the same tour, and nothing changed on the machine (root in the demo's namespace is root on the files)",
    async () => {
      const tmpdir = freshTmpdir("as-root", 0);
      const machineHostname = hostname();
      const plantedOnHosts = ["/etc/pf.conf", "/etc/hostname.carp203", "/etc/myname", "/etc/carpentry.monit", "/var/db/carpentry", "/root/bin", "/run/carpentry-demo"];
      const before = plantedOnHosts.filter((path) => existsSync(path));
      const run = await demo({ uid: 0, tmpdir });
      console.log(`carpentry demo as root: ${Math.round(run.durationMs)} ms`);
      expectWholeTour(run, tmpdir);
      expect(plantedOnHosts.filter((path) => existsSync(path))).toEqual(before);
      expect(hostname()).toBe(machineHostname);
    },
    MINUTE_MS + 30_000,
  );

  it(
    "as a normal user with the hosts' directories as symlink farms (kernels before 5.11 allow no overlay in a user namespace): the same tour",
    async () => {
      const tmpdir = freshTmpdir("farm", NOBODY);
      const run = await demo({ uid: NOBODY, tmpdir, args: ["--layers", "farm"] });
      console.log(`carpentry demo as nobody, farm: ${Math.round(run.durationMs)} ms`);
      expectWholeTour(run, tmpdir);
    },
    MINUTE_MS + 30_000,
  );

  it("on Ctrl-C: stops at once, exit 130, and leaves no process and no directory", async () => {
    const tmpdir = freshTmpdir("interrupted", NOBODY);
    const run = await demo({ uid: NOBODY, tmpdir, interruptWhen: /^\[1\/\d+\]/m });
    expect(run.code).toBe(130);
    expect(run.stdout).toMatch(/^Demo interrupted after \d+\.\d s: its namespaces, processes and files \(.*\) are gone\.$/m);
    expect(readdirSync(tmpdir)).toEqual([]);
    expect(processesNaming(tmpdir)).toEqual([]);
    expect(processesNaming(IN_HOST_DIR)).toEqual([]);
  }, 30_000);

  it("where user namespaces are off: exit 3, naming the cause and the sysctl to set", () => {
    // user.max_user_namespaces = 0 inside a user namespace of the test's own: the machine's setting stays.
    const run = spawnSync(
      "unshare",
      ["--user", "--map-root-user", "/bin/sh", "-c", 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"', "sh", process.execPath, join(dist, "carpentry"), "demo"],
      {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", TMPDIR: freshTmpdir("no-userns", 0) },
      },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(3);
    expect(run.stdout).toMatch(/^carpentry demo: cannot create the demo's user namespace\n/);
    expect(run.stdout).toContain("cause: user namespaces are switched off (user.max_user_namespaces = 0)");
    expect(run.stdout).toContain("fix: sysctl -w user.max_user_namespaces=15000");
  });
});

/**
 * Runs inside a sandbox like the demo's (user, mount and PID namespace): starts the demo's pair
 * (src/sim/pair.ts), looks at each host's processes from inside, and prints what it saw as JSON.
 */
const HOSTS_PROBE = `
import { spawnSync } from "node:child_process";
import { SimPair } from ${JSON.stringify(join(REPO, "src", "sim", "pair.ts"))};
const dir = process.argv[2];
spawnSync("mount", ["-t", "tmpfs", "-o", "mode=700", "carpentry-demo", dir]);
const pair = await SimPair.start({ dir, node: process.execPath, nsenter: "/usr/bin/nsenter", unshare: "/usr/bin/unshare", layers: "overlay", ownDirs: [], addresses: { primary: "192.168.110.101", secondary: "192.168.110.102" } });
const sh = async (host, script) => (await pair.run(host, ["/bin/sh", "-c", script])).stdout;
const ps = "ps -e -o pid= -o comm=";
const seen = {};
try {
  // a long-running process in the secondary, named as nothing else is
  await sh("secondary", "cp /usr/bin/sleep /tmp/carpsleeper && /tmp/carpsleeper 60 </dev/null >/dev/null 2>&1 &");
  seen.primary = await sh("primary", ps);
  seen.secondary = await sh("secondary", ps);
  seen.overTheLink = await sh("primary", "/run/carpentry-demo/bin/ssh -T -- secondary '" + ps + "'");
  seen.link = await sh("primary", "echo hello | /run/carpentry-demo/bin/ssh -T -- secondary 'read -r x; echo \\"$x from $(cat /etc/myname)\\"; echo oops >&2; exit 3' 2>/tmp/err; echo \\"exit $?\\"; cat /tmp/err");
} finally {
  await pair.stop();
}
console.log(JSON.stringify(seen));
`;

describe("the demo's simulated hosts", () => {
  it("each have a PID namespace of their own: ps sees the host's processes alone, and the peer link runs a command in the peer's", async () => {
    const probe = join(work, "hosts-probe.mjs");
    const source = join(work, "hosts-probe.ts");
    writeFileSync(source, HOSTS_PROBE);
    // An ES module bundle, for the probe's top-level await: the CommonJS packages in it (execa's) need a require.
    const requireBanner = 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);';
    await build({ entryPoints: [source], outfile: probe, bundle: true, platform: "node", format: "esm", banner: { js: requireBanner }, loader: { ".sh": "text", ".txt": "text" }, logLevel: "silent" });
    const dir = mkdtempSync("/tmp/carpentry-demo-hosts-");
    try {
      const run = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", process.execPath, probe, dir], {
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const seen = JSON.parse(run.stdout) as Record<"primary" | "secondary" | "overTheLink" | "link", string>;
      const names = (ps: string): string[] =>
        ps
          .trim()
          .split("\n")
          .map((line) => line.trim().split(/\s+/)[1] ?? "");
      const pids = (ps: string): number[] =>
        ps
          .trim()
          .split("\n")
          .map((line) => Number(line.trim().split(/\s+/)[0]));
      // pid 1 is the host's holder; neither the other host's processes nor the demo's node are there
      for (const host of ["primary", "secondary"] as const) {
        expect(pids(seen[host])[0], host).toBe(1);
        expect(names(seen[host]), host).not.toContain("node");
      }
      expect(names(seen.primary)).not.toContain("carpsleeper");
      expect(names(seen.secondary)).toContain("carpsleeper");
      expect(names(seen.overTheLink)).toContain("carpsleeper");
      expect(seen.link).toBe("hello from secondary\nexit 3\noops\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(processesNaming(dir)).toEqual([]);
  });
});

// Tests of the simulated gateway pair itself (test/harness): what the checks will meet inside it.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthyDefaults, leftovers, standinKey, startPair, type HostName, type Pair } from "../harness/pair.js";
import { startGuards } from "../support/guards.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const pairModule = path.join(repoRoot, "test", "harness", "pair.ts");
const ssh = (...args: string[]): string[] => ["ssh", "-o", "BatchMode=yes", ...args];

describe("lifecycle", { timeout: 60_000 }, () => {
  it("starts and stops a pair, leaving nothing behind", async () => {
    const started = performance.now();
    const pair = await startPair();
    const setupMs = performance.now() - started;
    const stopping = performance.now();
    expect(fs.existsSync(pair.root)).toBe(true);
    expect(await leftovers()).toContainEqual(expect.stringMatching(/^netns cpri\d+x/));
    await pair.stop();
    await pair.stop(); // idempotent
    const stopMs = performance.now() - stopping;
    console.log(`pair setup ${setupMs.toFixed(0)} ms, teardown ${stopMs.toFixed(0)} ms`);
    expect(setupMs).toBeLessThan(2000);
    expect(fs.existsSync(pair.root)).toBe(false);
    expect(await leftovers()).toEqual([]);
  });

  it("cleans up synchronously when the test process is terminated", async () => {
    const child = await runScript(PAIR_THAT_WAITS);
    const root = await child.started;
    expect(fs.existsSync(root)).toBe(true);
    child.process.kill("SIGTERM");
    await child.exited;
    expect(fs.existsSync(root)).toBe(false);
    expect((await leftovers({ includeOtherProcesses: true })).filter((l) => l.includes(String(child.process.pid)))).toEqual([]);
  });

  it("collects what a SIGKILLed run left behind at the next start", async () => {
    const child = await runScript(PAIR_THAT_WAITS);
    const root = await child.started;
    const pid = child.process.pid ?? -1;
    child.process.kill("SIGKILL");
    await child.exited;
    // vite-node's own node process may outlive the wrapper briefly; wait until the owner is gone
    const owner = await waitForOwnerGone(root);
    const left = (await leftovers({ includeOtherProcesses: true })).filter((l) => l.includes(`${owner}x`));
    expect(left.some((l) => l.startsWith("netns "))).toBe(true);
    expect(left.some((l) => l.startsWith("directory "))).toBe(true);
    const pair = await startPair(); // collects them
    await pair.stop();
    expect((await leftovers({ includeOtherProcesses: true })).filter((l) => l.includes(`${owner}x`))).toEqual([]);
    expect(pid).toBeGreaterThan(0);
  });
});

describe("a running pair", { timeout: 60_000 }, () => {
  let pair: Pair;
  const sh = (host: HostName, script: string) => pair.run(host, ["/bin/sh", "-c", script]);

  beforeAll(async () => {
    pair = await startPair();
    await healthyDefaults(pair);
  });
  afterAll(async () => {
    await pair?.stop();
    expect(await leftovers()).toEqual([]);
  });

  it("reaches the secondary over ssh with default options and logs the command there", async () => {
    await pair.clearCommandLog("secondary");
    const result = await pair.run("primary", ssh("root@secondary", "/sbin/pfctl", "-si"));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Status: Enabled for \d+ days/);
    expect(result.stdout).toContain("  current entries                     1279");
    const entries = await pair.commandEntries("secondary");
    expect(entries.map((e) => [e.kind, e.line])).toEqual([
      ["ssh", "/sbin/pfctl -si"],
      ["standin", "/sbin/pfctl -si"],
    ]);
    expect(await pair.commandLog("secondary")).toContain("/sbin/pfctl -si");
  });

  it("gives the remote command mksh, named ksh, with OpenBSD's PATH for root", async () => {
    const result = await pair.run("primary", ssh("root@secondary", 'echo "$KSH_VERSION"; echo "$0"; echo "$PATH"; hostname; nosuchcommand'));
    const [version, name, remotePath, hostname] = result.stdout.split("\n");
    expect(version).toMatch(/MIRBSD KSH/);
    expect(name).toBe("ksh");
    expect(remotePath).toBe("/usr/bin:/bin:/usr/sbin:/sbin:/usr/X11R6/bin:/usr/local/bin:/usr/local/sbin");
    expect(hostname).toBe("secondary");
    expect(result.stderr).toMatch(/ksh: nosuchcommand: .*not found/);
    expect(result.code).toBe(127);
  });

  it("makes /bin/sh mksh in sh mode and root's login shell /bin/ksh", async () => {
    const result = await sh("primary", 'echo "$KSH_VERSION"; grep "^root:" /etc/passwd');
    expect(result.stdout).toMatch(/MIRBSD KSH/);
    expect(result.stdout).toContain(":/root:/bin/ksh");
    const log = await pair.commandEntries("primary");
    expect(log.some((e) => e.kind === "sh" && e.argv[1] === "-c")).toBe(true);
  });

  it("lets the secondary reach the primary too", async () => {
    const result = await pair.run("secondary", ssh("root@primary", "hostname"));
    expect(result).toMatchObject({ code: 0, stdout: "primary\n" });
  });

  it("has node only in /usr/local/bin", async () => {
    const local = await pair.run("primary", ["/usr/local/bin/node", "-e", "console.log(1)"]);
    expect(local).toMatchObject({ code: 0, stdout: "1\n" });
    const usrBin = await sh("primary", "/usr/bin/node -e 'console.log(1)'");
    expect(usrBin.code).toBe(127);
    expect(usrBin.stdout).toBe("");
    const lookup = await sh("primary", "command -v node || echo none");
    expect(lookup.stdout).toBe("none\n"); // not on monit's PATH
    const envShebang = await sh("primary", "printf '#!/usr/bin/env node\\nconsole.log(2)\\n' >/tmp/s; chmod +x /tmp/s; /tmp/s");
    expect(envShebang.code).toBe(127);
  });

  it("offers no GNU-only tools", async () => {
    for (const tool of ["sha256sum", "md5sum", "sha1sum", "base64", "python3", "bash"]) {
      const result = await sh("primary", `${tool} /etc/hosts`);
      expect(result.code, tool).toBe(127);
      expect(result.stderr, tool).toContain("not found");
    }
    const stat = await sh("primary", "stat -c %s /etc/hosts");
    expect(stat.code).toBe(1);
    expect(stat.stderr).toBe("stat: unknown option -- c\nusage: stat [-FLnq] [-f format | -l | -r | -s | -x] [-t timefmt] [file ...]\n");
    expect(await pair.commandEntries("primary")).toContainEqual(expect.objectContaining({ kind: "rejected", argv: ["/bin/stat", "-c", "%s", "/etc/hosts"] }));
    for (const script of [
      "find /etc -maxdepth 1 -printf '%p\\n'",
      "find -name hosts",
      "sort --parallel=2 /etc/hosts",
      "head -c 3 /etc/hosts",
      "xargs -d , echo </dev/null",
      "sed -z p /etc/hosts",
      "env -S true",
    ]) {
      expect((await sh("primary", script)).code, script).not.toBe(0);
    }
  });

  it("runs the OpenBSD forms of find, stat, sed, sort, head and the digests", async () => {
    await pair.writeFile("primary", "/etc/hostname.carp0", "inet 10.0.0.1 255.255.255.0 NONE vhid 1 pass x\n", { mode: 0o640 });
    const result = await sh(
      "primary",
      [
        "find /etc -maxdepth 1 -name 'hostname.*' -type f",
        "stat -f '%N %z %Su:%Sg %Lp' /etc/hostname.carp0",
        "sed -i.orig 's/pass x/pass y/' /etc/hostname.carp0 && sed -n 1p /etc/hostname.carp0",
        "printf 'b\\na\\n' | sort -r",
        "head -1 /etc/hostname.carp0.orig",
        "sha256 -q /etc/hostname.carp0.orig",
        "sha256 -s abc",
      ].join("; "),
    );
    expect(result.stderr).toBe("");
    expect(result.stdout.split("\n")).toEqual([
      "/etc/hostname.carp0",
      "/etc/hostname.carp0 47 root:root 640",
      "inet 10.0.0.1 255.255.255.0 NONE vhid 1 pass y",
      "b",
      "a",
      "inet 10.0.0.1 255.255.255.0 NONE vhid 1 pass x",
      expect.stringMatching(/^[0-9a-f]{64}$/),
      'SHA256 ("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      "",
    ]);
  });

  it("refuses a state-changing command and logs it", async () => {
    await pair.clearCommandLog("secondary");
    const result = await pair.run("primary", ssh("root@secondary", "/sbin/pfctl -f /etc/pf.conf"));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refused");
    expect(await pair.refusedCommands("secondary")).toEqual(["/sbin/pfctl -f /etc/pf.conf"]);
    for (const command of [
      "/sbin/pfctl -F states",
      "/sbin/pfctl -t badhosts -T add 192.0.2.1",
      "/sbin/ifconfig carp0 down",
      "/sbin/ifconfig -g carp carpdemote 50",
      "/sbin/sysctl net.inet.carp.preempt=0",
      "/usr/sbin/rcctl restart smtpd",
      "/usr/sbin/smtpctl schedule all",
    ]) {
      expect((await sh("secondary", command)).code, command).toBe(1);
    }
    expect(await pair.refusedCommands("secondary")).toHaveLength(8);
    await pair.setOutput("secondary", ["pfctl", "-nf", "/etc/pf.conf"], "");
    expect((await sh("secondary", "/sbin/pfctl -nf /etc/pf.conf")).code).toBe(0); // a dry run is fine
    await pair.clearCommandLog("secondary");
  });

  it("answers stand-in calls from the state files", async () => {
    await pair.setOutput("primary", ["/sbin/pfctl", "-t", "badhosts", "-T", "show"], "   192.0.2.1\n   192.0.2.7\n");
    expect(standinKey(["-t", "badhosts", "-T", "show"])).toBe("-t_badhosts_-T_show");
    expect(standinKey(["-f", "/etc/pf.conf"])).toBe("-f_%2Fetc%2Fpf.conf");
    expect(fs.existsSync(path.join(pair.root, "primary", "state", "pfctl", "-t_badhosts_-T_show.out"))).toBe(true);
    expect((await sh("primary", "/sbin/pfctl -t badhosts -T show")).stdout).toBe("   192.0.2.1\n   192.0.2.7\n");

    await pair.setOutput("primary", ["rcctl", "check", "carpentry"], "carpentry(failed)\n", { exitCode: 1, stderr: "oops\n" });
    expect(await sh("primary", "/usr/sbin/rcctl check carpentry")).toMatchObject({ code: 1, stdout: "carpentry(failed)\n", stderr: "oops\n" });

    await pair.setOutputSequence("primary", ["netstat", "-sp", "pfsync"], [{ stdout: "one\n" }, { stdout: "two\n" }]);
    const calls = await sh("primary", "netstat -sp pfsync; netstat -sp pfsync; netstat -sp pfsync");
    expect(calls.stdout).toBe("one\ntwo\ntwo\n");

    await pair.clearOutput("primary", ["rcctl", "check", "carpentry"]);
    const unset = await sh("primary", "/usr/sbin/rcctl check carpentry");
    expect(unset).toMatchObject({ code: 1, stdout: "" });
    expect((await pair.commandEntries("primary")).at(-1)).toMatchObject({ kind: "unset", argv: ["/usr/sbin/rcctl", "check", "carpentry"] });

    await pair.setOutput("primary", ["smtpctl", "show", "queue"], "x|local|mta|auth|a@b|c@d|c@d|1|1|0|0|pending|10|\n");
    expect((await sh("primary", "mailq")).stdout).toContain("|pending|");

    await pair.setOutput("primary", ["sysctl", "-n", "kern.version"], "slow\n", { delayMs: 300 });
    const slow = await pair.run("primary", ["/sbin/sysctl", "-n", "kern.version"]);
    expect(slow.durationMs).toBeGreaterThan(300);
  });

  it("uses the real captures in healthyDefaults", async () => {
    expect((await sh("secondary", "/sbin/ifconfig carp")).stdout).toContain("carp: BACKUP carpdev vio2 vhid 203 advbase 1 advskew 100");
    expect((await sh("primary", "/sbin/ifconfig carp203")).stdout).toContain("carp: MASTER carpdev vio2 vhid 203");
    expect((await sh("primary", "/sbin/ifconfig pfsync0")).stdout).toContain("pfsync: syncdev: vio1 maxupd: 128 defer: off");
    expect((await sh("primary", "/sbin/ifconfig -g carp")).stdout).toBe("carp: carp demote count 0\n");
    expect((await sh("primary", "/sbin/sysctl net.inet.carp.preempt")).stdout).toBe("net.inet.carp.preempt=1\n");
    expect(await sh("secondary", "/usr/sbin/smtpctl show queue")).toMatchObject({ code: 0, stdout: "" });
  });

  it("logs concurrent calls without mixing records", async () => {
    await pair.clearCommandLog("primary");
    const script = Array.from({ length: 40 }, (_, i) => `/sbin/ifconfig -g carp >/dev/null & /sbin/sysctl net.inet.carp.allow >/dev/null & echo ${"x".repeat(i * 50)} >/dev/null`).join("; ");
    await sh("primary", `${script}; wait`);
    const entries = await pair.commandEntries("primary");
    expect(entries.filter((e) => e.kind === "standin")).toHaveLength(80);
    expect(entries.every((e) => ["sh", "standin"].includes(e.kind) && e.pid > 0)).toBe(true);
  });

  it("writes and reads files inside one host only, with mode and owner", async () => {
    await pair.writeFile("secondary", "/etc/pf.conf", "pass all\n", { mode: 0o600 });
    await pair.writeFile("secondary", "/var/unbound/etc/unbound.conf", "server:\n", { mode: 0o644, uid: 0, gid: 0 });
    expect((await pair.readFile("secondary", "/etc/pf.conf")).toString()).toBe("pass all\n");
    const stat = fs.statSync(pair.hostPath("secondary", "/etc/pf.conf"));
    expect(stat.mode & 0o7777).toBe(0o600);
    expect(stat.uid).toBe(0);
    expect((await sh("secondary", "stat -f '%Lp %Su' /etc/pf.conf; cat /var/unbound/etc/unbound.conf")).stdout).toBe("600 root\nserver:\n");
    expect((await sh("primary", "cat /etc/pf.conf")).code).not.toBe(0); // the primary's /etc is its own
    expect(fs.existsSync("/var/unbound/etc/unbound.conf") && fs.readFileSync("/var/unbound/etc/unbound.conf", "utf8") === "server:\n").toBe(false);
    await pair.removeFile("secondary", "/etc/pf.conf");
    await pair.removeFile("secondary", "/etc/pf.conf");
    await expect(pair.readFile("secondary", "/etc/pf.conf")).rejects.toThrow(/ENOENT/);
  });

  it("gives each host private /tmp, /run, /root and /var", async () => {
    await sh("primary", "echo p >/tmp/mark; echo p >/var/db-mark; echo p >/run/mark; echo p >/root/mark");
    expect((await sh("secondary", "cat /tmp/mark /var/db-mark /run/mark /root/mark 2>&1; ls -A /root")).stdout).not.toContain("p\n");
    expect(fs.existsSync("/tmp/mark")).toBe(false);
    expect(fs.existsSync("/root/mark")).toBe(false);
  });

  it("keeps the real file system out of reach from inside a host", async () => {
    const hostDir = path.join(pair.root, "primary");
    const result = await sh(
      "primary",
      `touch ${hostDir}/real-bin/x; echo x >>/usr/local/bin/node; ls -A ${hostDir}/upper ${hostDir}/work; echo x >/usr/share/carpentry-mark; echo x >/opt-mark 2>/dev/null`,
    );
    expect(result.stderr).toContain("real-bin/x': Read-only file system");
    expect(result.stderr).toMatch(/node: create: (Read-only file system|Text file busy)/);
    expect(result.stdout).toBe(`${hostDir}/upper:\n\n${hostDir}/work:\n`); // hidden inside the host
    expect(fs.existsSync("/usr/share/carpentry-mark")).toBe(false);
    expect(() => fs.writeFileSync(path.join(pair.hostPath("primary", hostDir), "real-bin", "x"), "x")).toThrow(/EROFS/);
  });

  it("runs commands with monit's sparse environment, no TTY, stdin a pipe", async () => {
    const result = await pair.run("primary", [
      "/usr/local/bin/node",
      "-e",
      "console.log(JSON.stringify({ env: process.env, tty: process.stdin.isTTY ?? false, cwd: process.cwd(), uid: process.getuid?.() }))",
    ]);
    expect(JSON.parse(result.stdout)).toEqual({ env: { PATH: "/sbin:/bin:/usr/sbin:/usr/bin", HOME: "/root" }, tty: false, cwd: "/", uid: 0 });
    const withEnv = await pair.run("primary", ["/usr/local/bin/node", "-e", "console.log(process.env.MONIT_SERVICE)"], { env: { MONIT_SERVICE: "carp" } });
    expect(withEnv.stdout).toBe("carp\n");
    const input = await pair.run("primary", ["/usr/local/bin/node", "-e", "process.stdin.pipe(process.stdout)"], { input: "piped\n" });
    expect(input.stdout).toBe("piped\n");
  });

  it("kills only the process itself on time-out, as monit does; strayProcesses sees what is left", async () => {
    const result = await pair.run("primary", ["/bin/sh", "-c", "/usr/bin/sleep 30 & /usr/bin/sleep 30"], { timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, signal: "SIGKILL", code: null });
    expect(result.durationMs).toBeLessThan(2000);
    const strays = await pair.strayProcesses("primary", { settleMs: 0 });
    expect(strays.filter((s) => s.includes("sleep 30"))).toHaveLength(2);
    // pkill by name inside the host: a sleep outside the pair is not the host's to see
    const guards = await startGuards();
    try {
      await sh("primary", "/usr/bin/pkill -x sleep");
      expect(await pair.strayProcesses("primary")).toEqual([]);
      expect(guards.dead(), "processes outside the pair").toEqual([]);
    } finally {
      await guards.stop();
    }
    expect(await pair.strayProcesses("secondary")).toEqual([]);
  });

  it("gives each host its own PID namespace: ps, pgrep and pkill see the host's processes alone", async () => {
    const guards = await startGuards();
    // a process of the secondary's that the primary could mistake for its own
    await pair.writeFile("secondary", "/usr/sbin/entr", fs.readFileSync("/usr/bin/sleep"), { mode: 0o755 });
    const secondaryWatcher = await pair.startDaemon("secondary", "entr", ["/usr/sbin/entr", "infinity"]);
    try {
      const ps = await sh("primary", "/bin/ps -e -o pid= -o comm=");
      expect(ps.code).toBe(0);
      const seen = ps.stdout
        .trim()
        .split("\n")
        .map((line) => line.trim().split(/\s+/));
      // pid 1 is the host's init; the primary's sshd runs; nothing of the secondary or the machine
      expect(seen[0]).toEqual(["1", "dash"]);
      expect(seen.map(([, comm]) => comm)).toContain("sshd");
      expect(seen.length).toBeLessThan(10);
      expect(seen.map(([, comm]) => comm)).not.toContain("entr");
      expect(seen.map(([, comm]) => comm)).not.toContain("node");
      expect((await sh("primary", "/usr/bin/pgrep -lx entr")).code).toBe(1);
      expect((await sh("secondary", "/usr/bin/pgrep -lx entr")).stdout).toMatch(/^\d+ entr\n$/);
      expect((await sh("primary", "/usr/bin/pgrep -f '\\[mux\\]'; /usr/bin/pgrep -x ssh; /usr/bin/pgrep -x sleep")).stdout).toBe("");
      // the same names killed in the primary: the secondary's watcher and the guards live on
      expect((await sh("primary", "/usr/bin/pkill -9 -x entr; /usr/bin/pkill -9 -x sleep; /usr/bin/pkill -9 -f '\\[mux\\]'; /usr/bin/pkill -9 -x ssh")).code).toBe(1);
      expect(guards.dead(), "processes outside the pair").toEqual([]);
      expect((await sh("secondary", "/usr/bin/pgrep -x entr")).code).toBe(0);
      // the daemon's pid is the machine's number for it; in the host it has its own, the same process
      const status = fs.readFileSync(`/proc/${secondaryWatcher.pid}/status`, "utf8");
      const [outer, inner] = /^NSpid:\s+(\d+)\s+(\d+)$/m.exec(status)?.slice(1).map(Number) ?? [];
      expect(outer).toBe(secondaryWatcher.pid);
      expect((await sh("secondary", "/usr/bin/pgrep -x entr")).stdout).toBe(`${inner}\n`);
      expect(fs.readFileSync(`/proc/${pair.pid("secondary")}/status`, "utf8")).toMatch(/^NSpid:\s+\d+\s+1$/m);
    } finally {
      await secondaryWatcher.stop();
      await guards.stop();
    }
  });

  it("reaps the host's orphans: no zombie stays behind in ps or pgrep", async () => {
    const result = await sh("primary", "/bin/sh -c '/usr/bin/sleep 0.1 & /usr/bin/sleep 0.1 & exit 0'; /usr/bin/sleep 0.5; /bin/ps -e -o stat= -o comm=");
    expect(result.stdout).not.toMatch(/^Z/m);
    expect(result.stdout).not.toContain("sleep\n");
  });

  it("installs the build into /etc/carpentry.monit and the config next to it", async () => {
    const dist = fs.mkdtempSync(path.join(os.tmpdir(), "carpentry-dist-"));
    try {
      fs.mkdirSync(path.join(dist, "checks"));
      fs.writeFileSync(path.join(dist, "checks", "check_demo"), "#!/bin/sh\necho 'OK: demo'\n", { mode: 0o755 });
      fs.writeFileSync(path.join(dist, "carpentry"), "#!/bin/sh\necho cli\n", { mode: 0o755 });
      const other = await startPair({ distDir: dist, primarySshd: false });
      try {
        expect(await other.installBuild()).toEqual(["/etc/carpentry.monit/check_demo", "/etc/carpentry.monit/carpentry"]);
        await other.writeConfig("primary", 'role = "primary"\n[peer]\nhost = "10.231.0.2"\n');
        const listing = await other.run("secondary", ["/bin/sh", "-c", "stat -f '%Sp %Su %N' /etc/carpentry.monit /etc/carpentry.monit/*; /etc/carpentry.monit/check_demo"]);
        expect(listing.stdout).toBe("drwx------ root /etc/carpentry.monit\n-rwx------ root /etc/carpentry.monit/carpentry\n-rwx------ root /etc/carpentry.monit/check_demo\nOK: demo\n");
        expect((await other.readFile("primary", "/etc/carpentry.monit/carpentry.toml")).toString()).toContain('role = "primary"');
        expect(fs.statSync(other.hostPath("primary", "/etc/carpentry.monit/carpentry.toml")).mode & 0o777).toBe(0o600);
        expect(() => other.sshdOf("primary")).toThrow(/no sshd/);
      } finally {
        await other.stop();
      }
    } finally {
      fs.rmSync(dist, { recursive: true, force: true });
    }
  });

  it("counts sshd connections; stop gives connection refused, start brings it back", async () => {
    const before = await pair.sshd.countConnections();
    await pair.run("primary", ssh("root@secondary", "true"));
    await pair.run("primary", ssh("root@secondary", "true"));
    expect(await pair.sshd.countConnections()).toBe(before + 2);

    await pair.sshd.stop();
    expect(pair.sshd.state).toBe("stopped");
    const refused = await pair.run("primary", ssh("root@secondary", "true"));
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain("Connection refused");
    await pair.sshd.start();
    expect((await pair.run("primary", ssh("root@secondary", "true"))).code).toBe(0);
  });

  it("hangs: a listener that accepts and never answers", async () => {
    await pair.sshd.hang();
    expect(pair.sshd.state).toBe("hanging");
    const before = await pair.sshd.countConnections();
    const hung = await pair.run("primary", ssh("-o", "ConnectTimeout=2", "root@secondary", "true"));
    expect(hung.code).toBe(255);
    expect(hung.stderr).toMatch(/timed out/i);
    expect(hung.durationMs).toBeGreaterThan(1900);
    expect(hung.durationMs).toBeLessThan(5000);
    expect(await pair.sshd.countConnections()).toBe(before + 1);
    await pair.sshd.start();
    expect((await pair.run("primary", ssh("root@secondary", "true"))).code).toBe(0);
  });

  it("rotates the host key: host key verification fails until the keys are trusted again", async () => {
    await pair.sshd.rotateHostKey();
    const rotated = await pair.run("primary", ssh("root@secondary", "true"));
    expect(rotated.code).toBe(255);
    expect(rotated.stderr).toContain("Host key verification failed");
    await pair.trustHostKeys();
    expect((await pair.run("primary", ssh("root@secondary", "true"))).code).toBe(0);
    expect(await pair.strayProcesses("secondary")).toEqual([]);
  });

  it("never changed anything on the simulated gateways", async () => {
    expect(await pair.refusedCommands("primary")).toEqual([]);
    expect(await pair.refusedCommands("secondary")).toEqual([]);
  });
});

// -- helpers ---------------------------------------------------------------------------------------

/** Run a TypeScript module in its own process (vite-node, with the tests' text modules); resolves once it printed "started ROOT". */
/** A process that starts a pair, says where, and waits to be killed. */
const PAIR_THAT_WAITS = `
  import { startPair } from ${JSON.stringify(pairModule)};
  const pair = await startPair();
  console.log("started " + pair.root);
  setInterval(() => {}, 1000);
`;

async function runScript(source: string): Promise<{ process: ReturnType<typeof spawn>; started: Promise<string>; exited: Promise<void> }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "carpentry-script-")), "script.mts");
  fs.writeFileSync(file, source);
  const child = spawn(path.join(repoRoot, "node_modules", ".bin", "vite-node"), ["--config", "vitest.config.ts", file], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const started = new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const m = /started (\S+)/.exec(output);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", () => reject(new Error(`script exited before starting: ${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(
    () => fs.rmSync(path.dirname(file), { recursive: true, force: true }),
    () => undefined,
  );
  return { process: child, started, exited };
}

/** The owner pid in a run directory's name, once that process is gone. */
async function waitForOwnerGone(root: string): Promise<number> {
  const owner = Number(/carpentry-pair-(\d+)x/.exec(root)?.[1]);
  for (let i = 0; i < 200 && fs.existsSync(`/proc/${owner}`); i++) await new Promise((r) => setTimeout(r, 25));
  return owner;
}

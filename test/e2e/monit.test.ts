// The monitrc examples in a real monit 5.x: `monit -t` accepts both with the built executables in
// place, and monit, started inside the simulated primary as rc.d starts it (sparse environment), runs
// the example's own check stanzas against the pair and mails an alert and a recovery, with the check's
// summary line, through a real SMTP server. With the peer dead, the survivor's monit (each side's
// example) mails exactly one check_peer alert and one check_carp alert that says what carp shows.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { healthyDefaults, HOST_NAMES, MONIT_PATH, startPair, type Daemon, type HostName, type Pair } from "../harness/pair.js";
import { PEER_LINK, ScenarioLab } from "../harness/scenarios.js";
import { pairState, type FaultName } from "../../src/sim/gateways.js";
import { fixture } from "../support/fixtures.js";
import { examplePath, readExample, REPO_ROOT, type ExampleRole, type MonitStanza } from "../support/monitrc.js";
import { startSmtpSink, startSmtpSinkIn, type HostSmtpSink, type ReceivedMail, type SmtpSink } from "../support/smtp-sink.js";

const execFileAsync = promisify(execFile);
const MONIT = "/usr/bin/monit";
const DIST = join(REPO_ROOT, "dist");

/** The example's text with one statement replaced; the statement must be there, once. */
function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  const matches = text.match(new RegExp(pattern.source, `${pattern.flags.replace("g", "")}g`)) ?? [];
  if (matches.length !== 1) throw new Error(`expected one ${pattern} in the example, found ${matches.length}`);
  return text.replace(pattern, replacement);
}

async function monitSyntaxCheck(controlFile: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(MONIT, ["-t", "-c", controlFile], { env: { PATH: MONIT_PATH, HOME: "/root" } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}

describe("monit -t", () => {
  let dir: string;
  let sink: SmtpSink;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "carpentry-monit-t-"));
    sink = await startSmtpSink(join(dir, "mailbox"));
    // The built executables, as the install guide copies them: root, 0700, in a 0700 directory.
    mkdirSync(join(dir, "carpentry.monit"), { mode: 0o700 });
    const built = [...readdirSync(join(DIST, "checks")).map((name) => join(DIST, "checks", name)), join(DIST, "carpentry")];
    for (const file of built) {
      const target = join(dir, "carpentry.monit", file.split("/").pop() ?? "");
      copyFileSync(file, target);
      chmodSync(target, 0o700);
    }
  });

  afterAll(async () => {
    await sink?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function controlFileFor(role: ExampleRole): string {
    let text = readFileSync(examplePath(role), "utf8").replaceAll("/etc/carpentry.monit/", `${dir}/carpentry.monit/`).replaceAll("/var/monit/", `${dir}/var-${role}/`);
    text = replaceOnce(text, /^set mailserver 127\.0\.0\.1 port 25 /m, `set mailserver 127.0.0.1 port ${sink.port} `);
    mkdirSync(join(dir, `var-${role}`), { recursive: true });
    const file = join(dir, `monitrc.${role}`);
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
    return file;
  }

  it.each(["primary", "secondary"] as const)("accepts monitrc.%s.example with the built executables", async (role) => {
    const result = await monitSyntaxCheck(controlFileFor(role));
    expect(result.output).toContain("Control file syntax OK");
    expect(result.code).toBe(0);
  });

  it("and would refuse it readable by others, or with an executable missing", async () => {
    const file = controlFileFor("secondary");
    chmodSync(file, 0o644);
    const readable = await monitSyntaxCheck(file);
    expect(readable.code).toBe(1);
    expect(readable.output).toContain("permission 0644 is wrong, maximum 0700 allowed");

    chmodSync(file, 0o600);
    writeFileSync(file, readFileSync(file, "utf8").replaceAll("/check_mailq ", "/check_missing "), { mode: 0o600 });
    const missing = await monitSyntaxCheck(file);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain("Program does not exist");
  });
});

describe("monit in the simulated primary, with the example's check stanzas", () => {
  let pair: Pair;
  let sink: HostSmtpSink;
  let monit: Daemon;
  const stanzas = new Map<string, MonitStanza>(readExample("primary").stanzas.map((stanza) => [stanza.name, stanza]));

  /** The example, as monit will read it: the test's poll cycle and log, and two of its checks. */
  function controlFile(): string {
    let globals = readExample("primary").globals;
    globals = replaceOnce(globals, /^set daemon .*$/m, "set daemon 1");
    globals = replaceOnce(globals, /^set log syslog$/m, "set logfile /var/monit/monit.log\nset pidfile /var/monit/monit.pid");
    const wanted = ["check_peer", "check_carp"].map((name) => {
      const stanza = stanzas.get(name);
      if (!stanza) throw new Error(`no ${name} in monitrc.primary.example`);
      return stanza.text;
    });
    return `${globals}\n${wanted.join("\n")}`;
  }

  const SECONDARY_MASTER = fixture("ifconfig_carp_group_secondary_backup_vio.txt").replace("carp: BACKUP", "carp: MASTER").replace("status: backup", "status: master");

  const monitMails =
    (service: string, event: "Status failed" | "Status succeeded") =>
    (mail: ReceivedMail): boolean =>
      mail.subject.endsWith(` ${service}: ${event}`);

  async function firstLineOf(check: string): Promise<{ code: number | null; line: string }> {
    const run = await pair.run("primary", [`/etc/carpentry.monit/${check}`, "-t", "10"]);
    return { code: run.code, line: run.stdout.split("\n")[0] ?? "" };
  }

  async function waitForSummary(expected: Record<string, string>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      last = (await pair.run("primary", [MONIT, "-B", "-c", "/etc/monitrc", "summary"])).stdout;
      if (Object.entries(expected).every(([service, status]) => new RegExp(`^\\s*${service}\\s+${status}\\s`, "m").test(last))) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`monit summary did not show ${JSON.stringify(expected)} within ${timeoutMs} ms:\n${last}`);
  }

  beforeAll(async () => {
    pair = await startPair();
    await pair.installBuild();
    await healthyDefaults(pair);
    // No shared ssh connection: with the secondary's sshd stopped, every peer check fails at once.
    await pair.writeConfig("primary", 'role = "primary"\n[peer]\nhost = "secondary"\ncontrol_persist = 0\n');
    await pair.writeConfig("secondary", 'role = "secondary"\n[peer]\nhost = "primary"\n');
    sink = await startSmtpSinkIn(pair, "primary");
    await pair.writeFile("primary", "/var/monit/monit.log", "", { mode: 0o600 });
    await pair.writeFile("primary", "/etc/monitrc", controlFile(), { mode: 0o600 });
    const syntax = await pair.run("primary", [MONIT, "-t", "-c", "/etc/monitrc"]);
    expect(syntax.stdout + syntax.stderr).toContain("Control file syntax OK");
    monit = await pair.startDaemon("primary", "monit", [MONIT, "-I", "-c", "/etc/monitrc"]);
  });

  afterEach((context) => {
    // What monit saw is the first thing to read when a test here fails.
    if (context.task.result?.state === "fail") console.log(readFileSync(pair.hostPath("primary", "/var/monit/monit.log"), "utf8").slice(-6000));
  });

  afterAll(async () => {
    await pair?.stop();
  });

  it("runs with rc.d's sparse environment and finds every check healthy: no mail", async () => {
    await waitForSummary({ check_peer: "OK", check_carp: "OK" }, 15_000);
    // Read only once monit answers: while setpriv and nsenter exec their way to monit, the kernel
    // shows an empty environ for a moment (seen in CI).
    expect(readFileSync(`/proc/${monit.pid}/comm`, "utf8").trim()).toBe("monit");
    const environment = readFileSync(`/proc/${monit.pid}/environ`, "utf8").split("\0").filter(Boolean).sort();
    expect(environment).toEqual(["HOME=/root", `PATH=${MONIT_PATH}`]);
    expect(sink.read()).toEqual([]);
  });

  it("a dead secondary is one check_peer alert and one check_carp alert (serving alone), and their recoveries", async () => {
    await pair.sshd.stop();
    const expected = await firstLineOf("check_peer");
    expect(expected.code).toBe(2);
    const [alert] = await sink.wait(1, 15_000, monitMails("check_peer", "Status failed"));
    expect(alert?.text).toContain(`status failed (2) -- ${expected.line}`);
    expect(alert?.envelopeTo).toEqual(["admin@example.org"]);

    // check_carp has no dependency: the primary's own carp states are the news, once.
    const [carp] = await sink.wait(1, 30_000, monitMails("check_carp", "Status failed"));
    expect(carp?.text).toContain("status failed (1) -- WARNING: serving alone: primary MASTER of every vhid (1), secondary unreachable");
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(sink.read().filter(monitMails("check_carp", "Status failed"))).toHaveLength(1);
    await pair.sshd.start();
    const [recovery] = await sink.wait(1, 15_000, monitMails("check_peer", "Status succeeded"));
    expect(recovery?.text).toMatch(/status succeeded \(0\) -- OK: /);
    await waitForSummary({ check_peer: "OK", check_carp: "OK" }, 15_000);
    await sink.wait(1, 15_000, monitMails("check_carp", "Status succeeded"));
  });

  it("split brain: check_carp alerts with its summary line, and recovers", async () => {
    await pair.setOutput("secondary", ["ifconfig", "carp"], SECONDARY_MASTER);
    const expected = await firstLineOf("check_carp");
    expect(expected.code).toBe(2);
    // The test before left one check_carp alert and recovery in the mailbox (the dead secondary).
    const recoveries = sink.read().filter(monitMails("check_carp", "Status succeeded")).length;
    const [alert] = await sink.wait(1, 15_000, (mail) => monitMails("check_carp", "Status failed")(mail) && mail.text.includes("split brain"));
    expect(alert?.text).toContain(`status failed (2) -- ${expected.line}`);

    await healthyDefaults(pair);
    const after = await sink.wait(recoveries + 1, 15_000, monitMails("check_carp", "Status succeeded"));
    expect(after.at(-1)?.text).toMatch(/status succeeded \(0\) -- OK: /);
  });
});

describe("a dead peer, seen by the survivor's monit: one check_peer alert and one check_carp alert that says what carp shows", () => {
  // The example's stanzas of every check that asks the peer: the dependent ones must stay silent.
  const PEER_CHECKS = ["check_peer", "check_carp", "check_pfsync", "check_sysctl"];
  const MAILBOX = "/var/sink/mail";
  let pair: Pair;
  let lab: ScenarioLab;
  const sinks: Partial<Record<HostName, HostSmtpSink>> = {};
  let monit: { host: HostName; daemon: Daemon } | undefined;

  function controlFile(role: ExampleRole): string {
    const example = readExample(role);
    let globals = replaceOnce(example.globals, /^set daemon .*$/m, "set daemon 1");
    globals = replaceOnce(globals, /^set log syslog$/m, "set logfile /var/monit/monit.log\nset pidfile /var/monit/monit.pid");
    const stanzas = PEER_CHECKS.map((name) => {
      const stanza = example.stanzas.find((candidate) => candidate.name === name);
      if (!stanza) throw new Error(`no ${name} in monitrc.${role}.example`);
      return stanza.text;
    });
    return `${globals}\n${stanzas.join("\n")}`;
  }

  beforeAll(async () => {
    pair = await startPair();
    // No shared ssh connection, so a stopped sshd is seen by the very next check.
    lab = new ScenarioLab(pair, { ...PEER_LINK, controlPersist: 0 });
    await lab.setUp();
    for (const host of HOST_NAMES) {
      sinks[host] = await startSmtpSinkIn(pair, host, { mailbox: MAILBOX });
      await pair.writeFile(host, "/etc/monitrc", controlFile(host), { mode: 0o600 });
    }
  }, 300_000);

  afterEach(async (context) => {
    if (monit && context.task.result?.state === "fail") console.log(readFileSync(pair.hostPath(monit.host, "/var/monit/monit.log"), "utf8").slice(-6000));
    await monit?.daemon.stop();
    monit = undefined;
  });

  afterAll(async () => {
    await pair?.stop();
  });

  /**
   * monit started afresh on the survivor once the peer is gone (no state, no queued event, an empty
   * mailbox): the mails it sends within 12 cycles after check_carp's.
   */
  async function mailsOfSurvivor(survivor: HostName, fault: FaultName): Promise<ReceivedMail[]> {
    await lab.plant(pairState(fault));
    for (const path of ["/var/monit/state", "/var/monit/events", "/var/monit/monit.pid", MAILBOX]) rmSync(pair.hostPath(survivor, path), { recursive: true, force: true });
    mkdirSync(pair.hostPath(survivor, MAILBOX), { recursive: true });
    await pair.writeFile(survivor, "/var/monit/monit.log", "", { mode: 0o600 });
    monit = { host: survivor, daemon: await pair.startDaemon(survivor, "monit", [MONIT, "-I", "-c", "/etc/monitrc"]) };
    const sink = sinks[survivor];
    if (!sink) throw new Error(`no sink in the ${survivor}`);
    await sink.wait(1, 60_000, (mail) => mail.subject.endsWith(" check_carp: Status failed"));
    // Long enough for a dependent check's "for 3 cycles" and for a second carp mail, were there one.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    return sink.read();
  }

  const failures = (mails: readonly ReceivedMail[]): string[] => mails.map((mail) => mail.subject.replace(/^\[monit\] \S+ /, "")).sort();

  it.each([
    ["the primary dead, the secondary took over", "secondary", "primary_dead", "status failed (1) -- WARNING: took over: secondary MASTER of every vhid (1), primary unreachable"],
    ["the primary dead, the secondary INIT on carp203", "secondary", "primary_dead_vhid_init", "status failed (2) -- CRITICAL: carp203 vhid 203 INIT on secondary: 10.112.203.254 may have no MASTER"],
    ["the primary's sshd down, the primary still MASTER", "secondary", "primary_sshd_stopped", "status failed (1) -- WARNING: primary not dead: it holds carp203 vhid 203, ssh to it fails"],
    ["the secondary dead, seen from the primary", "primary", "secondary_dead", "status failed (1) -- WARNING: serving alone: primary MASTER of every vhid (1), secondary unreachable"],
  ] as const)(
    "%s",
    async (_what, survivor, fault, carpWords) => {
      const mails = await mailsOfSurvivor(survivor, fault);
      expect(failures(mails)).toEqual(["check_carp: Status failed", "check_peer: Status failed"]);
      const carp = mails.find((mail) => mail.subject.endsWith(" check_carp: Status failed"));
      expect(carp?.text).toContain(carpWords);
      const peer = mails.find((mail) => mail.subject.endsWith(" check_peer: Status failed"));
      expect(peer?.text).toContain(`status failed (2) -- CRITICAL: cannot reach ${survivor === "primary" ? "secondary" : "primary"}: connection refused`);
    },
    120_000,
  );
});

describe("monit in the simulated primary, half of its checks served by the cycle server", () => {
  let pair: Pair;
  let sink: HostSmtpSink;
  const stanzas = new Map<string, MonitStanza>(readExample("primary").stanzas.map((stanza) => [stanza.name, stanza]));
  const SERVED = ["check_peer", "check_carp", "check_sysctl"];
  const SECONDARY_MASTER = fixture("ifconfig_carp_group_secondary_backup_vio.txt").replace("carp: BACKUP", "carp: MASTER").replace("status: backup", "status: master");

  /** The example's stanzas of SERVED as they are, and each again under another name, run alone. */
  function controlFile(): string {
    let globals = readExample("primary").globals;
    globals = replaceOnce(globals, /^set daemon .*$/m, "set daemon 1");
    globals = replaceOnce(globals, /^set log syslog$/m, "set logfile /var/monit/monit.log\nset pidfile /var/monit/monit.pid");
    const texts = SERVED.flatMap((name) => {
      const text = stanzas.get(name)?.text;
      if (!text) throw new Error(`no ${name} in monitrc.primary.example`);
      const alone = replaceOnce(text, new RegExp(`^check program ${name} with path "`, "m"), `check program ${name}_alone with path "/usr/bin/env CARPENTRY_CYCLE=alone `).replace(
        /depends on check_peer/,
        "depends on check_peer_alone",
      );
      return [text, alone];
    });
    return `${globals}\n${texts.join("\n")}`;
  }

  beforeAll(async () => {
    pair = await startPair();
    await pair.installBuild();
    await healthyDefaults(pair);
    await pair.writeConfig("primary", 'role = "primary"\n[peer]\nhost = "secondary"\n');
    await pair.writeConfig("secondary", 'role = "secondary"\n[peer]\nhost = "primary"\n');
    // The suite's state directory, as on a gateway where the checks have run: the cycle server's home.
    mkdirSync(pair.hostPath("primary", "/var/db/carpentry"), { recursive: true, mode: 0o700 });
    sink = await startSmtpSinkIn(pair, "primary");
    await pair.writeFile("primary", "/var/monit/monit.log", "", { mode: 0o600 });
    await pair.writeFile("primary", "/etc/monitrc", controlFile(), { mode: 0o600 });
    const syntax = await pair.run("primary", [MONIT, "-t", "-c", "/etc/monitrc"]);
    expect(syntax.stdout + syntax.stderr).toContain("Control file syntax OK");
    await pair.startDaemon("primary", "monit", [MONIT, "-I", "-c", "/etc/monitrc"]);
  });

  afterAll(async () => {
    await pair?.stop();
  });

  it("split brain: the served check_carp and the one alone send the same alert, and the same recovery", async () => {
    // The cycle server is up while monit runs its cycles (one a second here).
    let served = false;
    for (let i = 0; i < 200 && !served; i++) {
      served = (await pair.strayProcesses("primary", { settleMs: 0 })).some((line) => line.includes("node /etc/carpentry.monit/carpentry serve-cycle"));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(served).toBe(true);
    await pair.setOutput("secondary", ["ifconfig", "carp"], SECONDARY_MASTER);
    const failed =
      (service: string) =>
      (mail: ReceivedMail): boolean =>
        mail.subject.endsWith(` ${service}: Status failed`);
    const succeeded =
      (service: string) =>
      (mail: ReceivedMail): boolean =>
        mail.subject.endsWith(` ${service}: Status succeeded`);
    const [servedAlert] = await sink.wait(1, 20_000, failed("check_carp"));
    const [aloneAlert] = await sink.wait(1, 20_000, failed("check_carp_alone"));
    const line = (mail: ReceivedMail | undefined): string => /status failed \(\d\) -- .*/.exec(mail?.text ?? "")?.[0] ?? "none";
    expect(line(servedAlert)).toMatch(/^status failed \(2\) -- CRITICAL: split brain/);
    expect(line(servedAlert)).toBe(line(aloneAlert));

    await healthyDefaults(pair);
    const [servedRecovery] = await sink.wait(1, 20_000, succeeded("check_carp"));
    const [aloneRecovery] = await sink.wait(1, 20_000, succeeded("check_carp_alone"));
    const recovered = (mail: ReceivedMail | undefined): string => /status succeeded \(0\) -- .*/.exec(mail?.text ?? "")?.[0] ?? "none";
    expect(recovered(servedRecovery)).toMatch(/^status succeeded \(0\) -- OK: /);
    expect(recovered(servedRecovery)).toBe(recovered(aloneRecovery));
    // Only check_carp changed: no other alert, served or alone.
    expect(
      sink
        .read()
        .map((mail) => mail.subject)
        .filter((subject) => !subject.includes("check_carp")),
      "no other mail",
    ).toEqual([]);
  }, 120_000);
});

// The monitrc examples against the check registry: every check of a role is wired into that role's
// example exactly once, the way the examples' header explains (one status rule, a monit timeout above
// the check's own, the peer dependency, the slow checks every 5 minutes or more).
import { describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import type { CheckDefinition } from "../../src/lib/runtime/check.js";
import { parseMonitrc, programCommand, readExample, type ExampleRole, type MonitStanza } from "../support/monitrc.js";

const ROLES: readonly ExampleRole[] = ["primary", "secondary"];
const INSTALL_DIR = "/etc/carpentry.monit";
// They read whole pf tables and file trees: every 5 minutes or more, so that they do not load the gateways.
// Asks the peer, yet has news when the peer is unreachable (this host's carp states): no dependency may silence it.
const SURVIVOR_SPEAKS: readonly string[] = ["carp"];
const isSlowCheck = (check: CheckDefinition): boolean => check.name === "pf_tables" || check.name.startsWith("drift");

function statement(stanza: MonitStanza, pattern: RegExp): RegExpExecArray[] {
  return stanza.statements.map((line) => pattern.exec(line)).filter((match): match is RegExpExecArray => match !== null);
}

function globalSetting(globals: string, pattern: RegExp): RegExpExecArray | null {
  return pattern.exec(
    globals
      .split("\n")
      .map((line) => line.replace(/#.*$/, ""))
      .join("\n"),
  );
}

describe("parseMonitrc", () => {
  it("splits globals and stanzas, drops comments, keeps quoted '#'", () => {
    const parsed = parseMonitrc(
      [
        "set daemon 60 # poll",
        "",
        'check program a with path "/x/a -t 10 #1"',
        "    if status != 0 then alert   # one rule",
        "",
        "# the next one",
        'check process b matching "^/usr/sbin/b"',
        "    if does not exist then alert",
        "",
      ].join("\n"),
    );
    expect(parsed.globals).toBe("set daemon 60 # poll\n");
    expect(parsed.stanzas.map((s) => [s.kind, s.name, s.statements])).toEqual([
      ["program", "a", ["if status != 0 then alert"]],
      ["process", "b", ["if does not exist then alert"]],
    ]);
    expect(programCommand(parsed.stanzas[0] as MonitStanza)).toEqual(["/x/a", "-t", "10", "#1"]);
    expect(parsed.stanzas[1]?.text).toBe('check process b matching "^/usr/sbin/b"\n    if does not exist then alert\n');
  });
});

describe.each(ROLES)("monitrc.%s.example", (role) => {
  const example = readExample(role);
  const programs = example.stanzas.filter((stanza) => stanza.kind === "program");
  const expected = ALL_CHECKS.filter((check) => check.roles.includes(role));
  const daemonSeconds = Number(globalSetting(example.globals, /^set daemon (\d+)/m)?.[1]);

  it("runs every check of the role exactly once, and nothing else", () => {
    expect(programs.map((stanza) => stanza.name).sort()).toEqual(expected.map((check) => `check_${check.name}`).sort());
  });

  it.each(expected.map((check) => [check.name, check] as const))("check_%s: wired as the header says", (_name, check) => {
    const stanza = programs.find((candidate) => candidate.name === `check_${check.name}`);
    expect(stanza, `no 'check program check_${check.name}' in monitrc.${role}.example`).toBeDefined();
    if (!stanza) return;

    const [executable, ...args] = programCommand(stanza);
    expect(executable).toBe(`${INSTALL_DIR}/check_${check.name}`);
    const timeoutIndex = args.indexOf("-t");
    const checkTimeoutSeconds = Number(args[timeoutIndex + 1]);
    expect(timeoutIndex, "the check gets its own deadline with -t").toBeGreaterThanOrEqual(0);
    expect(checkTimeoutSeconds).toBeGreaterThan(0);

    const monitTimeouts = statement(stanza, /^with timeout (\d+) seconds$/);
    expect(monitTimeouts).toHaveLength(1);
    const monitTimeoutSeconds = Number(monitTimeouts[0]?.[1]);
    expect(monitTimeoutSeconds).toBeGreaterThan(Math.max(checkTimeoutSeconds, 10));

    const statusRules = statement(stanza, /^if (?:changed )?status\b.*$/);
    expect(
      statusRules.map((match) => match[0]),
      "exactly one status rule",
    ).toHaveLength(1);
    expect(statusRules[0]?.[0]).toMatch(/^if status != 0 (?:for \d+ cycles )?then alert$/);

    const every = statement(stanza, /^every (\d+) cycles$/);
    const dependsOnPeer = statement(stanza, /^depends on (.+)$/).some((match) => match[1]?.split(/\s*,\s*/).includes("check_peer"));
    const speaksAlone = SURVIVOR_SPEAKS.includes(check.name);
    expect(dependsOnPeer, `depends on check_peer iff the check asks the peer (usesPeer ${check.usesPeer}) and has nothing to say without it`).toBe(
      check.usesPeer && check.name !== "peer" && !speaksAlone,
    );
    const failuresToAlert = Number(/ for (\d+) cycles /.exec(statusRules[0]?.[0] ?? "")?.[1] ?? 1);
    if (speaksAlone) {
      // A failover or a peer's reboot under way is not mailed; a dead peer is, once, after two cycles.
      expect(failuresToAlert).toBe(2);
    } else if (dependsOnPeer) {
      // monit 5.33 still evaluates the run of the cycle in which check_peer first fails, and that run
      // may be the second to find the peer dead; a check run every N cycles is skipped by its next turn.
      expect(failuresToAlert).toBeGreaterThanOrEqual(every.length > 0 ? 2 : 3);
    } else {
      expect(failuresToAlert, "a check that does not ask the peer alerts at once").toBe(1);
    }

    if (isSlowCheck(check)) {
      expect(every, "table and drift checks run every N cycles").toHaveLength(1);
      expect(Number(every[0]?.[1]) * daemonSeconds).toBeGreaterThanOrEqual(300);
    } else {
      expect(every).toHaveLength(0);
    }
  });

  it("keeps the output, queues alerts while the relay is down, watches /var and the services", () => {
    expect(daemonSeconds).toBeGreaterThanOrEqual(30);
    const limit = globalSetting(example.globals, /^set limits \{[^}]*programOutput:\s*(\d+)\s*(B|kB|MB)/im);
    const bytes = Number(limit?.[1]) * ({ B: 1, kB: 1024, MB: 1024 * 1024 }[limit?.[2] as "B" | "kB" | "MB"] ?? Number.NaN);
    expect(bytes).toBeGreaterThanOrEqual(1024);
    expect(globalSetting(example.globals, /^set eventqueue basedir \S+ slots \d+/m)).not.toBeNull();
    expect(globalSetting(example.globals, /^set mailserver /m)).not.toBeNull();
    expect(globalSetting(example.globals, /^set alert \S+@\S+/m)).not.toBeNull();

    const filesystems = example.stanzas.filter((stanza) => stanza.kind === "filesystem");
    expect(filesystems.map((stanza) => stanza.statements)).toContainEqual(expect.arrayContaining([expect.stringMatching(/^if space usage > \d+% then alert$/)]));
    const processes = example.stanzas.filter((stanza) => stanza.kind === "process");
    expect(processes.map((stanza) => stanza.name).sort()).toEqual(["dhcpd", "ifstated", "smtpd", "sshd", "unbound"]);
    for (const stanza of processes) {
      expect(stanza.text.split("\n")[0], `${stanza.name}: found by command line, not a pidfile`).toMatch(/^check process \S+ matching "[^"]+"$/);
      expect(stanza.statements).toContain("if does not exist then alert");
    }
  });
});

describe.each(ROLES)("monitrc.%s.example's partitions", (role) => {
  it("watches every partition of OpenBSD's automatic layout, not only /var", () => {
    const filesystems = readExample(role).stanzas.filter((stanza) => stanza.kind === "filesystem");
    const paths = filesystems.map((stanza) => /with path (\S+)/.exec(stanza.text)?.[1]);
    expect(paths).toEqual(["/", "/tmp", "/var", "/usr", "/usr/local", "/home"]);
    for (const stanza of filesystems) expect(stanza.statements).toEqual(expect.arrayContaining(["if space usage > 80% then alert", "if inode usage > 80% then alert"]));
  });
});

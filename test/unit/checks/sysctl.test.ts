import { describe, expect, it } from "vitest";
import { check, decideSysctl, expectationsFrom, namesToAsk, readLiveValues, readSysctlConf, settingsSchema, SYSCTL_CONF, type SysctlHostView } from "../../../src/checks/sysctl.js";
import { checkSettings, parseConfig, type Role } from "../../../src/lib/runtime/config.js";
import { HostError, ParseError } from "../../../src/lib/runtime/errors.js";
import { firstLine, SUMMARY_MAX_CHARS, type Result } from "../../../src/lib/runtime/result.js";
import type { CommandResult } from "../../../src/lib/transport/shell.js";
import { fixture } from "../../support/fixtures.js";

// A real gateway's /etc/sysctl.conf (forwarding, preempt=1, watchdog...), and the stock one (all commented).
const GATEWAY_CONF = fixture("sysctl_conf_real_gateway_ru_doc.txt");
const STOCK_CONF = fixture("sysctl_conf_openbsd_etc_examples_r1.4.txt");
// `sysctl net.inet.carp` on a host with preempt off (the kernel's default).
const CARP_PREEMPT_OFF = fixture("sysctl_net_inet_carp_bookofpf.txt");

const answer = (stdout: string, exitCode = 0, stderr = ""): CommandResult => ({ command: "/sbin/sysctl", stdout, stderr, exitCode });
const DEFAULTS = expectationsFrom(checkSettings(parseConfig('role = "primary"\n[peer]\nhost = "secondary"\n', "test.toml", { only: check }), "sysctl", settingsSchema));

function conf(role: Role, text: string | null): ReturnType<typeof readSysctlConf> {
  return readSysctlConf(role, text === null ? [{ path: SYSCTL_CONF, type: "missing" }] : [{ path: SYSCTL_CONF, type: "file", mode: 0o644, uid: 0, gid: 0, size: text.length, content: text }]);
}

/** What sysctl prints for the names asked, given the live values (in sysctl.conf order, as the kernel keeps them). */
function sysctlOutput(live: Record<string, string>): string {
  return Object.entries(live)
    .map(([name, value]) => `${name}=${value}\n`)
    .join("");
}

/** The live values a host has after booting with this sysctl.conf, plus carp.allow=1 (the kernel default). */
function bootedWith(confText: string | null, changes: Record<string, string | undefined> = {}): Record<string, string> {
  const live: Record<string, string> = { "net.inet.carp.allow": "1", "net.inet.carp.preempt": "0", "net.inet.ip.forwarding": "0" };
  for (const [name, entry] of conf("primary", confText) ?? []) live[name] = entry.value;
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete live[name];
    else live[name] = value;
  }
  return live;
}

function view(role: Role, confText: string | null, live: Record<string, string>, stderr = ""): SysctlHostView {
  return { role, conf: conf(role, confText), ...readLiveValues(role, answer(sysctlOutput(live), 0, stderr)) };
}

function decide(primary: SysctlHostView, secondary: SysctlHostView, options: { local?: Role; ignore?: string[]; expected?: typeof DEFAULTS } = {}): Result {
  const local = options.local ?? "primary";
  return decideSysctl({
    local: local === "primary" ? primary : secondary,
    peer: local === "primary" ? secondary : primary,
    expected: options.expected ?? DEFAULTS,
    ignore: options.ignore ?? [],
  });
}

function expectFirstLineFits(res: Result): void {
  expect(firstLine(res).split(" | ")[0]?.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
}

describe("reading sysctl.conf and sysctl output", () => {
  it("takes the effective assignments of a real gateway's sysctl.conf; the stock file sets nothing", () => {
    const gateway = conf("primary", GATEWAY_CONF);
    expect(gateway?.get("net.inet.carp.preempt")?.value).toBe("1");
    expect(gateway?.get("net.inet.ip.forwarding")?.value).toBe("1");
    expect(gateway?.has("net.inet.esp.enable")).toBe(false);
    expect(conf("primary", STOCK_CONF)?.size).toBe(0);
    expect(conf("primary", null)).toBeNull();
  });

  it("names the host and the line of a sysctl.conf it cannot read", () => {
    try {
      conf("secondary", "net.inet.ip.forwarding=1\nnet.inet.carp.preempt = 1\n");
      throw new Error("parsed");
    } catch (error) {
      expect(error).toBeInstanceOf(ParseError);
      expect((error as ParseError).summary).toBe("cannot parse secondary's /etc/sysctl.conf line 2");
    }
    expect(() => readSysctlConf("primary", [{ path: SYSCTL_CONF, type: "file", binary: true }])).toThrow(ParseError);
    expect(() => readSysctlConf("primary", [{ path: SYSCTL_CONF, type: "dir" }])).toThrow(HostError);
    expect(() => readSysctlConf("primary", [{ path: SYSCTL_CONF, type: "file" }])).toThrow(/larger than/);
  });

  it("reads live values and keeps sysctl's complaints; FreeBSD syntax or a failed sysctl is an error", () => {
    const read = readLiveValues("primary", answer(CARP_PREEMPT_OFF, 0, "sysctl: third level name foo in net.inet.carp.foo is invalid\n"));
    expect(read.live.get("net.inet.carp.preempt")).toBe("0");
    expect(read.warnings).toEqual(["sysctl: third level name foo in net.inet.carp.foo is invalid"]);
    expect(() => readLiveValues("secondary", answer("net.inet.carp.preempt: 1\n"))).toThrow(/cannot parse secondary's sysctl output line 1/);
    expect(() => readLiveValues("secondary", answer("", 1, "sysctl: permission denied\n"))).toThrow(HostError);
  });

  it("asks every name either sysctl.conf sets and every expected one, sorted, once", () => {
    const names = namesToAsk([conf("primary", GATEWAY_CONF), conf("secondary", "kern.somaxconn=1024\n"), null], DEFAULTS);
    expect(names).toEqual([...names].sort());
    expect(names).toContain("net.inet.carp.allow");
    expect(names).toContain("kern.somaxconn");
    expect(names).toContain("kern.watchdog.period");
    expect(new Set(names).size).toBe(names.length);
  });

  it("says how to write a sysctl name in the config when it is not quoted", () => {
    expect(() => parseConfig('role = "primary"\n[peer]\nhost = "s"\n[checks.sysctl]\nprimary = { net.inet.carp.preempt = 1 }\n', "t.toml", { only: check })).toThrow(
      'checks.sysctl.primary.net: expected a number or string, with the sysctl name quoted: { "net.inet.carp.preempt" = 1 }',
    );
  });

  it("merges [checks.sysctl] primary/secondary over the built-in defaults, numbers as text", () => {
    const config = parseConfig('role = "primary"\n[peer]\nhost = "s"\n[checks.sysctl]\nsecondary = { "net.inet.ip.forwarding" = 0, "kern.somaxconn" = "1024" }\n', "t.toml", { only: check });
    const expected = expectationsFrom(checkSettings(config, "sysctl", settingsSchema));
    expect(expected.primary).toEqual({ "net.inet.carp.allow": "1", "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "1" });
    expect(expected.secondary).toEqual({ "net.inet.carp.allow": "1", "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "0", "kern.somaxconn": "1024" });
  });
});

describe("decideSysctl", () => {
  const healthy = (role: Role): SysctlHostView => view(role, GATEWAY_CONF, bootedWith(GATEWAY_CONF));

  it("is OK when both hosts booted with the same sysctl.conf that meets the expectations", () => {
    const res = decide(healthy("primary"), healthy("secondary"));
    expect(res.status).toBe("OK");
    expect(res.summary).toMatch(/^sysctl\.conf alike on both hosts; \d+ values as set and expected$/);
    expect(res.details).toContain("net.inet.carp.preempt: primary 1 (sysctl.conf 1), secondary 1 (sysctl.conf 1), expected 1");
    expect(res.details).toContain("net.inet.carp.allow: primary 1 (sysctl.conf -), secondary 1 (sysctl.conf -), expected 1");
  });

  it("is CRITICAL when preempt was left at 0 after maintenance, naming the key and both hosts' values", () => {
    const primary = view("primary", GATEWAY_CONF, bootedWith(GATEWAY_CONF, { "net.inet.carp.preempt": "0" }));
    for (const local of ["primary", "secondary"] as const) {
      const res = decide(primary, healthy("secondary"), { local });
      expect(res.status).toBe("CRITICAL");
      expect(res.summary).toBe("net.inet.carp.preempt: primary 0, secondary 1, expected 1");
      expect(res.details[0]).toBe(
        "net.inet.carp.preempt: primary 0 (sysctl.conf 1), secondary 1 (sysctl.conf 1), expected 1: live 0 on primary, expected 1; live 0 on primary differs from its sysctl.conf 1",
      );
      expectFirstLineFits(res);
    }
  });

  it("is CRITICAL when sysctl.conf still says preempt=0 although the live value is back at 1: the next boot breaks it", () => {
    const upgradeConf = GATEWAY_CONF.replace("net.inet.carp.preempt=1", "net.inet.carp.preempt=0");
    const primary = view("primary", upgradeConf, bootedWith(GATEWAY_CONF));
    const res = decide(primary, healthy("secondary"));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("primary's sysctl.conf: net.inet.carp.preempt=0, expected 1");
    expect(res.details[0]).toContain("sysctl.conf differs between the hosts");
    expect(res.details[0]).toContain("live 1 on primary differs from its sysctl.conf 0");
  });

  it("is CRITICAL for the kernel default preempt=0 when sysctl.conf does not set it", () => {
    const primary = view("primary", STOCK_CONF, bootedWith(STOCK_CONF, { "net.inet.ip.forwarding": "1" }));
    const secondary = view("secondary", STOCK_CONF, bootedWith(STOCK_CONF, { "net.inet.ip.forwarding": "1", "net.inet.carp.preempt": "1" }));
    const res = decide(primary, secondary);
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("net.inet.carp.preempt: primary 0, secondary 1, expected 1");
  });

  it("is WARNING when a live value differs from the host's own sysctl.conf", () => {
    const secondary = view("secondary", GATEWAY_CONF, bootedWith(GATEWAY_CONF, { "net.inet.tcp.ecn": "0" }));
    const res = decide(healthy("primary"), secondary);
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("net.inet.tcp.ecn=0 on secondary, sysctl.conf says 1");
  });

  it("is WARNING when sysctl.conf sets a name on one host only, unless the name is ignored", () => {
    const secondaryConf = GATEWAY_CONF.replace("kern.watchdog.period=32\t# >0=Enable hardware watchdog(4) timer if available\n", "");
    expect(secondaryConf).not.toBe(GATEWAY_CONF);
    const secondary = view("secondary", secondaryConf, bootedWith(secondaryConf, { "kern.watchdog.period": "0" }));
    const res = decide(healthy("primary"), secondary);
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("sysctl.conf differs: kern.watchdog.period only on primary");
    expect(res.details[0]).toBe("kern.watchdog.period: primary 32 (sysctl.conf 32), secondary 0 (sysctl.conf -): only in the primary's sysctl.conf");
    expect(decide(healthy("primary"), secondary, { ignore: ["kern.watchdog.period"] }).status).toBe("OK");
  });

  it("is WARNING when the hosts' sysctl.conf set a name to different values, and counts the others", () => {
    const secondaryConf = GATEWAY_CONF.replace("net.inet.tcp.keepidle=100", "net.inet.tcp.keepidle=50").replace("net.inet.gre.wccp=1", "net.inet.gre.wccp=0");
    const res = decide(healthy("primary"), view("secondary", secondaryConf, bootedWith(secondaryConf)));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("sysctl.conf differs: net.inet.gre.wccp primary 1, secondary 0 (+1 more)");
  });

  it("treats a host without /etc/sysctl.conf like an empty one", () => {
    const res = decide(healthy("primary"), view("secondary", null, bootedWith(GATEWAY_CONF)));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toMatch(/^sysctl\.conf differs: \S+ only on primary \(\+\d+ more\)$/);
    expect(res.details[0]).toContain("(no sysctl.conf)");
  });

  it("says which sysctl.conf name the kernel does not know (WARNING) and an expected one it lacks (CRITICAL)", () => {
    const withTypo = `${GATEWAY_CONF}net.inet.carp.prempt=1\n`;
    const stderr = "sysctl: third level name prempt in net.inet.carp.prempt is invalid\n";
    const both = (role: Role): SysctlHostView => view(role, withTypo, bootedWith(GATEWAY_CONF), stderr);
    const res = decide(both("primary"), both("secondary"));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("net.inet.carp.prempt in primary's sysctl.conf unknown to kernel");
    expect(res.details).toContain("primary: sysctl: third level name prempt in net.inet.carp.prempt is invalid");
    const noCarp = view("secondary", STOCK_CONF, bootedWith(STOCK_CONF, { "net.inet.carp.allow": undefined, "net.inet.carp.preempt": undefined, "net.inet.ip.forwarding": "1" }));
    const primary = view("primary", STOCK_CONF, bootedWith(STOCK_CONF, { "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "1" }));
    const critical = decide(primary, noCarp);
    expect(critical.status).toBe("CRITICAL");
    expect(critical.summary).toBe("net.inet.carp.allow missing on secondary, expected 1 (+1 more)");
  });

  it("holds each role to its own expectations", () => {
    const config = parseConfig('role = "primary"\n[peer]\nhost = "s"\n[checks.sysctl]\nsecondary = { "net.inet.carp.preempt" = 0 }\n', "t.toml", { only: check });
    const expected = expectationsFrom(checkSettings(config, "sysctl", settingsSchema));
    const noPreempt = GATEWAY_CONF.replace("net.inet.carp.preempt=1", "net.inet.carp.preempt=0");
    const secondary = view("secondary", noPreempt, bootedWith(noPreempt));
    const res = decide(healthy("primary"), secondary, { expected, ignore: ["net.inet.carp.preempt"] });
    expect(res.status).toBe("OK");
    expect(res.details).toContain("net.inet.carp.preempt: primary 1 (sysctl.conf 1), secondary 0 (sysctl.conf 0), expected primary 1, secondary 0");
    const wrong = decide(view("primary", noPreempt, bootedWith(noPreempt)), secondary, { expected, ignore: ["net.inet.carp.preempt"] });
    expect(wrong.summary).toBe("net.inet.carp.preempt: primary 0, secondary 0, expected 1 on primary");
    expectFirstLineFits(wrong);
  });

  describe("without the peer", () => {
    const missing = { missing: "cannot reach secondary 10.231.0.2: connection refused", detail: "ssh: connect to host 10.231.0.2 port 22: Connection refused" };

    it("still reports this host's own faults, saying the comparison is missing", () => {
      const local = view("primary", GATEWAY_CONF, bootedWith(GATEWAY_CONF, { "net.inet.carp.preempt": "0" }));
      const res = decideSysctl({ local, peer: missing, expected: DEFAULTS, ignore: [] });
      expect(res.status).toBe("CRITICAL");
      expect(res.summary).toBe("net.inet.carp.preempt: primary 0, expected 1");
      expect(res.details).toContain(`pair view missing: ${missing.missing}: ${missing.detail}`);
    });

    it("is UNKNOWN, never OK, when this host alone looks fine", () => {
      const res = decideSysctl({ local: healthy("secondary"), peer: missing, expected: DEFAULTS, ignore: [] });
      expect(res.status).toBe("UNKNOWN");
      expect(res.summary).toBe(`pair view missing: ${missing.missing}`);
      expect(res.details[0]).toBe("secondary alone shows no fault");
    });
  });
});

import { describe, expect, it } from "vitest";
import { decideCarp, parseCarpHost, type CarpHostView } from "../../../src/checks/carp.js";
import type { Role } from "../../../src/lib/runtime/config.js";
import { HostError, ParseError } from "../../../src/lib/runtime/errors.js";
import { firstLine, formatText, type Result } from "../../../src/lib/runtime/result.js";
import type { CommandResult } from "../../../src/lib/transport/shell.js";
import { fixture } from "../../support/fixtures.js";

const VIO_MASTER = fixture("ifconfig_carp_group_primary_master_vio.txt");
const VIO_BACKUP = fixture("ifconfig_carp_group_secondary_backup_vio.txt");
const OLD_MASTER = fixture("ifconfig_carp0_master_openbsd51.txt");
const OLD_BACKUP = fixture("ifconfig_carp0_backup_openbsd51.txt");
const OLD_INIT = fixture("ifconfig_carp0_init_carpdev_down_openbsd51.txt");
const OLD_PROMOTED = fixture("ifconfig_carp0_backup_promoted_to_master_openbsd51.txt");
const OVH_MASTER = fixture("ifconfig_carp0_master_vio2_ovh.txt");
const OVH_BACKUP = fixture("ifconfig_carp0_backup_vio2_ovh.txt");
const BALANCING_HOST1 = fixture("ifconfig_carp_balancing_host1_bookofpf.txt");
const BALANCING_HOST2 = fixture("ifconfig_carp_balancing_host2_bookofpf.txt");
const DEMOTE_0 = fixture("ifconfig_g_carp_faq.txt");
const DEMOTE_50 = fixture("ifconfig_g_internal_after_carpdemote50_faq.txt");
// The FAQ demotes group internal; the same counter on group carp (ifconfig -g carp carpdemote 50).
const DEMOTE_CARP_50 = DEMOTE_50.replace("internal:", "carp:");
const PREEMPT_ON = fixture("sysctl_net_inet_carp_preempt_misc46.txt");
const PREEMPT_OFF = "net.inet.carp.preempt=0\n";

// The primary rebooted with preempt off: its MASTER output, now BACKUP (advskew 0 stays).
const OLD_PRIMARY_NOW_BACKUP = OLD_MASTER.replace("carp: MASTER", "carp: BACKUP").replace("status: master", "status: backup");

const answer = (stdout: string, exitCode = 0, stderr = ""): CommandResult => ({ command: "test", stdout, stderr, exitCode });

function view(role: Role, ifconfig: string, options: { demote?: string; preempt?: string } = {}): CarpHostView {
  return parseCarpHost(role, [answer(ifconfig), answer(options.demote ?? DEMOTE_0), answer(options.preempt ?? PREEMPT_ON)]);
}

function pair(primary: CarpHostView, secondary: CarpHostView, local: Role = "primary", interfaces?: string[]): Result {
  return decideCarp(local === "primary" ? { local: primary, peer: secondary, interfaces } : { local: secondary, peer: primary, interfaces });
}

describe("parseCarpHost", () => {
  it("reads a group listing with pfsync0, the demote counter and preempt", () => {
    const host = view("primary", VIO_MASTER, { demote: DEMOTE_CARP_50 });
    expect(host.interfaces.map((i) => i.name)).toEqual(["carp203"]);
    expect(host.demotions).toEqual([{ group: "carp", demoteCount: 50 }]);
    expect(host.preempt).toBe(true);
  });

  it("takes no carp interface (ifconfig: no such interface) as an empty list", () => {
    const host = parseCarpHost("primary", [answer("", 1, "ifconfig: carp: no such interface\n"), answer("", 1, "ifconfig: carp: no such group"), answer(PREEMPT_OFF)]);
    expect(host).toEqual({ role: "primary", interfaces: [], demotions: [], preempt: false });
  });

  it("turns a failing command into a HostError naming the host", () => {
    expect(() => parseCarpHost("secondary", [answer("", 1, "ifconfig: permission denied"), answer(DEMOTE_0), answer(PREEMPT_ON)])).toThrow(HostError);
    expect(() => parseCarpHost("secondary", [answer(VIO_BACKUP), answer("", 1, "boom"), answer(PREEMPT_ON)])).toThrow(/test failed on secondary \(exit 1\)/);
  });

  it("rejects garbled output as a ParseError naming the line", () => {
    const garbled = VIO_MASTER.replace("\tinet 10.112.203.254 netmask", "\tine 10.112.203.254 netmask");
    expect(() => view("primary", garbled)).toThrow(ParseError);
    try {
      view("primary", garbled);
    } catch (error) {
      expect((error as ParseError).lineNumber).toBe(12);
    }
    expect(() => view("primary", VIO_MASTER, { demote: "carp: carp demote count fifty\n" })).toThrow(ParseError);
    expect(() => view("primary", VIO_MASTER, { preempt: "net.inet.carp.preempt: 1\n" })).toThrow(ParseError);
    expect(() => view("primary", VIO_MASTER, { preempt: "net.inet.carp.allow=1\n" })).toThrow(/no net.inet.carp.preempt/);
    expect(() => view("primary", VIO_MASTER, { preempt: "net.inet.carp.preempt=2\n" })).toThrow(ParseError);
  });
});

describe("decideCarp with both views", () => {
  it("OK for the healthy vio pair (TAB indents, modern header lines)", () => {
    const res = pair(view("primary", VIO_MASTER), view("secondary", VIO_BACKUP));
    expect(firstLine(res)).toBe(
      "OK: primary MASTER, secondary BACKUP of 1 vhid | primary_masters=1;;;0 primary_backups=0;;;0 primary_init=0;;;0 primary_demote=0;;;0 secondary_masters=0;;;0 secondary_backups=1;;;0 secondary_init=0;;;0 secondary_demote=0;;;0 split_brain=0;;;0 no_master=0;;;0 failed_over=0;;;0",
    );
    expect(res.details).toContain("carp203 vhid 203: primary MASTER advskew 0 secondary BACKUP advskew 100");
  });

  it("gives the same verdict on the secondary", () => {
    const res = pair(view("primary", OLD_MASTER), view("secondary", OLD_BACKUP), "secondary");
    expect(res.status).toBe("OK");
  });

  it("OK for the healthy old-release pair (space indents, priority: line, flags without names)", () => {
    expect(pair(view("primary", OLD_MASTER), view("secondary", OLD_BACKUP)).status).toBe("OK");
  });

  it("CRITICAL split brain when both hosts are MASTER", () => {
    const res = pair(view("primary", OLD_MASTER), view("secondary", OLD_PROMOTED));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("split brain: carp0 vhid 1 MASTER on both hosts");
  });

  it("CRITICAL when both hosts are BACKUP", () => {
    const res = pair(view("primary", OLD_PRIMARY_NOW_BACKUP), view("secondary", OLD_BACKUP));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp0 vhid 1 has no MASTER");
  });

  it("CRITICAL when a vhid is INIT (status invalid), the other host having taken over", () => {
    const res = pair(view("primary", OLD_INIT), view("secondary", OLD_PROMOTED));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp0 vhid 1 INIT on primary: 10.1.1.254 (+1 more)");
    expect(res.details[0]).toBe("carp0 vhid 1 (10.1.1.254) on the primary: INIT (carpdev em0, status invalid, UP)");
    expect(res.details).toContain("failed over: carp0 vhid 1: primary INIT advskew 0, secondary MASTER advskew 100; the primary should hold it (advskew)");
  });

  it("CRITICAL for status invalid without INIT", () => {
    const res = pair(view("primary", VIO_MASTER.replace("status: master", "status: invalid")), view("secondary", VIO_BACKUP));
    expect(res.summary).toBe("carp203 status invalid on primary");
  });

  it("WARNING when the secondary holds MASTER (failed over)", () => {
    const res = pair(view("primary", OLD_PRIMARY_NOW_BACKUP, { preempt: PREEMPT_OFF }), view("secondary", OLD_PROMOTED, { preempt: PREEMPT_OFF }));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: secondary took carp0 vhid 1 from primary");
  });

  it("WARNING for a demote counter of 50, the pair still healthy", () => {
    const res = pair(view("primary", VIO_MASTER, { demote: DEMOTE_CARP_50 }), view("secondary", VIO_BACKUP));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("primary carp demote 50 via group carp");
    expect(res.perfdata).toContainEqual({ label: "primary_demote", value: 50, min: 0 });
  });

  it("OVH pair, no preferred_master: the advskew-1 node should hold it, so the primary (advskew 50) holding it failed over", () => {
    const res = pair(view("primary", OVH_MASTER, { preempt: PREEMPT_OFF }), view("secondary", OVH_BACKUP, { preempt: PREEMPT_OFF }));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: primary took carp0 vhid 1 from secondary");
    expect(res.details).toContain("preferred master: carp0 secondary (advskew)");
  });

  it("OVH pair with preferred_master naming the advskew-50 node: CRITICAL, it can never win the election", () => {
    const res = decideCarp({ local: view("primary", OVH_MASTER, { preempt: PREEMPT_OFF }), peer: view("secondary", OVH_BACKUP, { preempt: PREEMPT_OFF }), preferredMaster: { carp0: "primary" } });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp0 vhid 1: advskew lower on secondary, not primary");
  });

  it("WARNING (failed over) for the OVH pair when the advskew-1 node is the primary", () => {
    const res = pair(view("primary", OVH_BACKUP, { preempt: PREEMPT_OFF }), view("secondary", OVH_MASTER, { preempt: PREEMPT_OFF }));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: secondary took carp0 vhid 1 from primary");
  });

  it("OK for the balancing pair: each host MASTER of the vhids it prefers, preempt on", () => {
    const res = pair(view("primary", BALANCING_HOST1), view("secondary", BALANCING_HOST2));
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("4 vhids, each MASTER on its preferred host (primary 2, secondary 2)");
    expect(res.details).toContain("carp0 vhid 6: primary BACKUP advskew 100 secondary MASTER advskew 0");
  });

  it("CRITICAL for a balancing vhid with no MASTER, WARNING for one held by the other host", () => {
    const noMaster = BALANCING_HOST2.replace("state MASTER vhid 6", "state BACKUP vhid 6");
    expect(pair(view("primary", BALANCING_HOST1), view("secondary", noMaster)).summary).toBe("carp0 vhid 6 has no MASTER");
    const host1TookOver = BALANCING_HOST1.replace("state BACKUP vhid 4", "state MASTER vhid 4");
    const host2Lost = BALANCING_HOST2.replace("state MASTER vhid 4", "state BACKUP vhid 4");
    const res = pair(view("primary", host1TookOver), view("secondary", host2Lost));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: primary took carp1 vhid 4 from secondary");
  });

  it("compares vhids by exact number: vhid 2 is not vhid 25", () => {
    const carp1 = fixture("derived_ifconfig_carp_carppeer.txt").split("carp25:")[0] as string;
    const primaryCarp1 = carp1.replace("carp: BACKUP", "carp: MASTER").replace("advskew 100", "advskew 0").replace("status: backup", "status: master");
    const secondaryCarp1 = carp1.replace("vhid 2 ", "vhid 25 ");
    const res = pair(view("primary", primaryCarp1), view("secondary", secondaryCarp1));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp1 vhids differ between hosts");
    expect(res.details[0]).toBe("carp1: vhid 2 on primary, vhid 25 on secondary");
    expect(res.details.join("\n")).not.toMatch(/split brain|no MASTER/);
  });

  it("CRITICAL when advbase differs", () => {
    const res = pair(view("primary", VIO_MASTER), view("secondary", VIO_BACKUP.replace("advbase 1", "advbase 3")));
    expect(res.summary).toBe("carp203 advbase differs between hosts");
  });

  it("CRITICAL when a carp interface exists on one host only", () => {
    const res = pair(view("primary", OLD_MASTER + OLD_MASTER.replaceAll("carp0", "carp1").replace("vhid 1 ", "vhid 2 ")), view("secondary", OLD_BACKUP));
    expect(res.summary).toBe("vhids differ: carp1 only on primary");
  });

  it("CRITICAL split across segments when one host is MASTER and BACKUP, not as preferred, with preempt on; only failed over with it off", () => {
    const carp1Backup = OLD_BACKUP.replaceAll("carp0", "carp1").replace("vhid 1 ", "vhid 2 ");
    const carp1Master = OLD_PROMOTED.replaceAll("carp0", "carp1").replace("vhid 1 ", "vhid 2 ").replace("advskew 100", "advskew 0");
    const primaryMixed = OLD_MASTER + carp1Backup.replace("advskew 100", "advskew 0");
    const secondaryMixed = OLD_BACKUP + carp1Master.replace("advskew 0", "advskew 100");
    const withPreempt = pair(view("primary", primaryMixed), view("secondary", secondaryMixed));
    expect(withPreempt.status).toBe("CRITICAL");
    expect(withPreempt.summary).toBe("split by segment: primary MASTER carp0, BACKUP carp1 (+1 more)");
    expect(withPreempt.details[0]).toMatch(/^split across segments: the primary is MASTER of carp0 vhid 1 and BACKUP of carp1 vhid 2, not as preferred; /);
    const withoutPreempt = pair(view("primary", primaryMixed, { preempt: PREEMPT_OFF }), view("secondary", secondaryMixed, { preempt: PREEMPT_OFF }));
    expect(withoutPreempt.status).toBe("WARNING");
    expect(withoutPreempt.summary).toBe("failed over: secondary took carp1 vhid 2 from primary");
  });

  it("CRITICAL when a host has no carp interface at all", () => {
    const none = parseCarpHost("secondary", [answer("", 1, "ifconfig: carp: no such interface\n"), answer(""), answer(PREEMPT_ON)]);
    const res = pair(view("primary", VIO_MASTER), none);
    expect(res.summary).toBe("no carp interfaces on secondary (+1 more)");
    expect(res.details).toContain("carp203 (vhid 203) exists only on the primary");
  });

  it("checks only the configured interfaces, and each must exist", () => {
    const primary = view("primary", OLD_MASTER + VIO_MASTER.split("carp203:")[1]?.replace(/^/, "carp203:"));
    const secondary = view("secondary", OLD_BACKUP);
    expect(pair(primary, secondary, "primary", ["carp0"]).status).toBe("OK");
    const res = pair(primary, secondary, "primary", ["carp0", "carp9"]);
    expect(res.summary).toBe("carp9 missing on primary (+1 more)");
  });

  it("keeps the text output within what monit keeps", () => {
    const res = pair(view("primary", BALANCING_HOST1), view("secondary", BALANCING_HOST2.replaceAll("MASTER", "BACKUP")));
    expect(Buffer.byteLength(formatText(res, false))).toBeLessThanOrEqual(500);
    expect(firstLine(res).split(" | ")[0]?.length).toBeLessThanOrEqual(80);
  });
});

// An active/active pair from the vio captures: carp203 prefers the primary (advskew 0 there, 100 on the
// secondary), carp204 (vhid 204, on vio3) the secondary, with the advskews the other way round.
const CARP203_BLOCK = (capture: string): string => `carp203:${capture.split("carp203:")[1] ?? ""}`;
function carp204(state: "MASTER" | "BACKUP" | "INIT", advskew: number): string {
  return CARP203_BLOCK(VIO_BACKUP)
    .replaceAll("carp203", "carp204")
    .replace("00:00:5e:00:01:cb", "00:00:5e:00:01:cc")
    .replace("INT_203", "INT_204")
    .replace("index 8 ", "index 9 ")
    .replace("carp: BACKUP carpdev vio2 vhid 203 advbase 1 advskew 100", `carp: ${state} carpdev vio3 vhid 204 advbase 1 advskew ${advskew}`)
    .replace("status: backup", `status: ${state === "INIT" ? "invalid" : state.toLowerCase()}`)
    .replaceAll("10.112.203.", "10.112.204.");
}
const withState = (capture: string, state: "MASTER" | "BACKUP" | "INIT"): string =>
  capture.replace(/carp: (MASTER|BACKUP) carpdev vio2/, `carp: ${state} carpdev vio2`).replace(/status: (master|backup)/, `status: ${state === "INIT" ? "invalid" : state.toLowerCase()}`);
const AA = {
  primary: (carp203: "MASTER" | "BACKUP" | "INIT" = "MASTER", carp204State: "MASTER" | "BACKUP" | "INIT" = "BACKUP"): string => withState(VIO_MASTER, carp203) + carp204(carp204State, 100),
  secondary: (carp203: "MASTER" | "BACKUP" | "INIT" = "BACKUP", carp204State: "MASTER" | "BACKUP" | "INIT" = "MASTER"): string => withState(VIO_BACKUP, carp203) + carp204(carp204State, 0),
};

describe("active/active: carp203 prefers the primary, carp204 the secondary, no balancing", () => {
  it("OK when each host holds what it prefers, preempt on both (derived from advskew, or declared)", () => {
    const res = pair(view("primary", AA.primary()), view("secondary", AA.secondary()));
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("2 vhids, each MASTER on its preferred host (primary 1, secondary 1)");
    expect(res.details).toContain("preferred master: carp203 primary (advskew), carp204 secondary (advskew)");
    const declared = decideCarp({ local: view("secondary", AA.secondary()), peer: view("primary", AA.primary()), preferredMaster: { carp203: "primary", carp204: "secondary" } });
    expect(declared.status).toBe("OK");
    expect(declared.details).toContain("preferred master: carp203 primary (preferred_master), carp204 secondary (preferred_master)");
  });

  it("failover of carp203: the secondary took it from the primary (the primary BACKUP of both)", () => {
    const res = pair(view("primary", AA.primary("BACKUP", "BACKUP")), view("secondary", AA.secondary("MASTER", "MASTER")));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: secondary took carp203 vhid 203 from primary");
  });

  it("failover of carp204: the primary took it from the secondary", () => {
    const res = pair(view("primary", AA.primary("MASTER", "MASTER")), view("secondary", AA.secondary("BACKUP", "BACKUP")), "secondary");
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: primary took carp204 vhid 204 from secondary");
  });

  it("CRITICAL when preferred_master contradicts the advskews", () => {
    const res = decideCarp({ local: view("primary", AA.primary()), peer: view("secondary", AA.secondary()), preferredMaster: { carp204: "primary" } });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp204 vhid 204: advskew lower on secondary, not primary (+2 more)");
  });

  it("CRITICAL split across segments: with preempt the secondary MASTER of carp203 and BACKUP of carp204", () => {
    const res = pair(view("primary", AA.primary("BACKUP", "MASTER")), view("secondary", AA.secondary("MASTER", "BACKUP")));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("split by segment: primary MASTER carp204, BACKUP carp203 (+2 more)");
    expect(res.details).toContain("failed over: carp203 vhid 203: primary BACKUP advskew 0, secondary MASTER advskew 100; the primary should hold it (advskew)");
  });
});

describe("demote counters of every group a carp interface is in", () => {
  const INTERNAL_FAQ = fixture("ifconfig_group_internal_faq.txt");
  const DEMOTE_INTERNAL_0 = fixture("ifconfig_g_internal_faq.txt");

  it("reads one counter per group (the FAQ's carp1, carp2 in groups carp and internal)", () => {
    const host = view("primary", INTERNAL_FAQ, { demote: DEMOTE_0 + DEMOTE_50 });
    expect(host.demotions).toEqual([
      { group: "carp", demoteCount: 0 },
      { group: "internal", demoteCount: 50 },
    ]);
  });

  it("WARNING 'carp demote 50 via group internal', with the interfaces it adds to and how to clear it", () => {
    const res = decideCarp({ local: view("primary", INTERNAL_FAQ, { demote: DEMOTE_0 + DEMOTE_50 }), peer: { missing: "x" } });
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("primary carp demote 50 via group internal");
    expect(res.details).toContain("primary: ifconfig -g internal shows carp demote count 50, added to carp1, carp2 (maintenance left on? clear with ifconfig -g internal -carpdemote 50)");
    expect(res.perfdata).toContainEqual({ label: "primary_demote", value: 50, min: 0 });
  });

  it("no WARNING with every group at 0", () => {
    const res = decideCarp({ local: view("primary", INTERNAL_FAQ, { demote: DEMOTE_0 + DEMOTE_INTERNAL_0 }), peer: { missing: "x" }, peerUnreachable: true });
    expect(res.details.join("\n")).not.toMatch(/demote \d+ via/);
  });

  it("UNKNOWN-worthy ParseError when a group of a carp interface has no counter in the answer", () => {
    expect(() => view("primary", INTERNAL_FAQ, { demote: DEMOTE_0 })).toThrow(/no demote count for group internal/);
    expect(() => view("primary", INTERNAL_FAQ, { demote: DEMOTE_0 })).toThrow(ParseError);
  });
});

describe("the survivor: the peer unreachable over ssh, this host's carp states read with carp(4)", () => {
  const unreachable = (local: CarpHostView, preferredMaster?: Record<string, Role>): Result =>
    decideCarp({ local, peer: { missing: `cannot reach ${local.role === "primary" ? "secondary" : "primary"}: connection refused` }, peerUnreachable: true, preferredMaster });

  it("secondary MASTER of every vhid: took over, WARNING", () => {
    const res = unreachable(view("secondary", OLD_PROMOTED));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("took over: secondary MASTER of every vhid (1), primary unreachable");
    expect(res.details).toContain("pair view missing: cannot reach primary: connection refused");
  });

  it("primary MASTER of every vhid: serving alone, WARNING (a standby sends nothing to tell it from a dead one)", () => {
    const res = unreachable(view("primary", VIO_MASTER));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("serving alone: primary MASTER of every vhid (1), secondary unreachable");
  });

  it("secondary BACKUP: the primary is not dead, only ssh to it fails", () => {
    const res = unreachable(view("secondary", VIO_BACKUP));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("primary not dead: it holds carp203 vhid 203, ssh to it fails");
    expect(res.details[0]).toMatch(/the primary is alive there \(it advertises carp203 vhid 203\) but ssh to the primary fails: sshd or the management path is broken, not the host$/);
  });

  it("primary BACKUP of what it should hold: failed over to a live secondary", () => {
    const res = unreachable(view("primary", OLD_PRIMARY_NOW_BACKUP));
    expect(res.summary).toBe("failed over: secondary took carp0 vhid 1, alive, ssh to it fails");
  });

  it("INIT: CRITICAL naming the vhid and its address; the rest of the story in the details", () => {
    const res = unreachable(view("secondary", OLD_INIT));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp0 vhid 1 INIT on secondary: 10.1.1.254 may have no MASTER");
    const aa = unreachable(view("secondary", AA.secondary("MASTER", "INIT")));
    expect(aa.status).toBe("CRITICAL");
    expect(aa.summary).toBe("carp204 vhid 204 INIT on secondary: 10.112.204.254 may have no MASTER");
    expect(aa.details).toContain(
      "took over: the secondary is MASTER of carp203 vhid 203, taking carp203 vhid 203 from the primary, which advertises none of them (dead, or cut off from these segments) and ssh to the primary fails",
    );
  });

  it("active/active, healthy, ssh down: each host's BACKUP says the peer is alive (advskew tells whose vhid is whose)", () => {
    expect(unreachable(view("secondary", AA.secondary())).summary).toBe("primary not dead: it holds carp203 vhid 203, ssh to it fails");
    expect(unreachable(view("primary", AA.primary())).summary).toBe("secondary not dead: it holds carp204 vhid 204, ssh to it fails");
  });

  it("active/active, the peer dead: the survivor took over its vhid", () => {
    expect(unreachable(view("secondary", AA.secondary("MASTER", "MASTER"))).summary).toBe("took over: secondary MASTER of every vhid (2), primary unreachable");
    expect(unreachable(view("primary", AA.primary("MASTER", "MASTER"))).summary).toBe("took over: primary MASTER of every vhid (2), secondary unreachable");
  });

  it("mixed MASTER and BACKUP, not as preferred, preempt on: CRITICAL split across segments (the peer alive there)", () => {
    const res = unreachable(view("primary", AA.primary("BACKUP", "MASTER")), { carp203: "primary", carp204: "secondary" });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("split by segment: primary MASTER carp204, BACKUP carp203");
    expect(res.details[0]).toContain("the secondary is alive there (it advertises carp203 vhid 203)");
    // The same states with preempt off: a vhid each way, WARNING.
    expect(unreachable(view("primary", AA.primary("BACKUP", "MASTER"), { preempt: PREEMPT_OFF }), { carp203: "primary", carp204: "secondary" }).status).toBe("WARNING");
  });

  it("keeps the summary within 80 characters in every case", () => {
    for (const res of [unreachable(view("secondary", AA.secondary("INIT", "INIT"))), unreachable(view("primary", AA.primary("BACKUP", "MASTER")), { carp203: "primary" })]) {
      expect(firstLine(res).split(" | ")[0]?.length).toBeLessThanOrEqual(80);
    }
  });
});

describe("the peer answered what cannot be read", () => {
  const garbled = { missing: "primary: cannot parse ifconfig carp output line 1" };

  it("UNKNOWN when this host alone looks fine: nothing can be said about the pair", () => {
    const res = decideCarp({ local: view("secondary", VIO_BACKUP), peer: garbled, peerUnreachable: false });
    expect(res.status).toBe("UNKNOWN");
    expect(res.summary).toBe("pair view missing: primary: cannot parse ifconfig carp output line 1");
    expect(res.details).toContain("secondary alone shows no fault");
  });

  it("WARNING when this host's role says it holds the wrong state; CRITICAL for a local INIT", () => {
    expect(decideCarp({ local: view("secondary", OLD_PROMOTED), peer: garbled }).summary).toBe("failed over: secondary is MASTER of carp0 vhid 1");
    expect(decideCarp({ local: view("primary", OLD_INIT), peer: garbled }).summary).toBe("carp0 vhid 1 INIT on primary: 10.1.1.254");
  });
});

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
    const host = view("primary", VIO_MASTER, { demote: DEMOTE_50 });
    expect(host.interfaces.map((i) => i.name)).toEqual(["carp203"]);
    expect(host.demoteCount).toBe(50);
    expect(host.preempt).toBe(true);
  });

  it("takes no carp interface (ifconfig: no such interface) as an empty list", () => {
    const host = parseCarpHost("primary", [answer("", 1, "ifconfig: carp: no such interface\n"), answer("", 1, "ifconfig: carp: no such group"), answer(PREEMPT_OFF)]);
    expect(host).toEqual({ role: "primary", interfaces: [], demoteCount: null, preempt: false });
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
      "OK: primary MASTER, secondary BACKUP of 1 vhid | primary_masters=1;;;0 primary_backups=0;;;0 primary_init=0;;;0 primary_demote=0;;;0 secondary_masters=0;;;0 secondary_backups=1;;;0 secondary_init=0;;;0 secondary_demote=0;;;0",
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
    expect(res.summary).toBe("carp0 vhid 1 INIT on primary (+1 more)");
    expect(res.details[0]).toBe("carp0 vhid 1 on the primary: INIT (carpdev em0, status invalid, UP)");
    expect(res.details).toContain("failed over: carp0 vhid 1: primary INIT advskew 0, secondary MASTER advskew 100");
  });

  it("CRITICAL for status invalid without INIT", () => {
    const res = pair(view("primary", VIO_MASTER.replace("status: master", "status: invalid")), view("secondary", VIO_BACKUP));
    expect(res.summary).toBe("carp203 status invalid on primary");
  });

  it("WARNING when the secondary holds MASTER (failed over)", () => {
    const res = pair(view("primary", OLD_PRIMARY_NOW_BACKUP, { preempt: PREEMPT_OFF }), view("secondary", OLD_PROMOTED, { preempt: PREEMPT_OFF }));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: secondary is MASTER of carp0 vhid 1");
  });

  it("WARNING for a demote counter of 50, the pair still healthy", () => {
    const res = pair(view("primary", VIO_MASTER, { demote: DEMOTE_50 }), view("secondary", VIO_BACKUP));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("primary carp demote counter is 50");
    expect(res.perfdata).toContainEqual({ label: "primary_demote", value: 50, min: 0 });
  });

  it("CRITICAL for the OVH pair whose MASTER has the higher advskew, on the primary", () => {
    const res = pair(view("primary", OVH_MASTER, { preempt: PREEMPT_OFF }), view("secondary", OVH_BACKUP, { preempt: PREEMPT_OFF }));
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("carp0 vhid 1 advskew: primary 50 not below secondary 1");
  });

  it("WARNING (failed over) for the OVH pair when the config makes the advskew-1 node primary", () => {
    const res = pair(view("primary", OVH_BACKUP, { preempt: PREEMPT_OFF }), view("secondary", OVH_MASTER, { preempt: PREEMPT_OFF }));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: secondary is MASTER of carp0 vhid 1");
  });

  it("OK for the balancing pair: each host MASTER of the vhids it prefers, preempt on", () => {
    const res = pair(view("primary", BALANCING_HOST1), view("secondary", BALANCING_HOST2));
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("4 vhids, each MASTER on its preferred host");
    expect(res.details).toContain("carp0 vhid 6: primary BACKUP advskew 100 secondary MASTER advskew 0");
  });

  it("CRITICAL for a balancing vhid with no MASTER, WARNING for one held by the other host", () => {
    const noMaster = BALANCING_HOST2.replace("state MASTER vhid 6", "state BACKUP vhid 6");
    expect(pair(view("primary", BALANCING_HOST1), view("secondary", noMaster)).summary).toBe("carp0 vhid 6 has no MASTER");
    const host1TookOver = BALANCING_HOST1.replace("state BACKUP vhid 4", "state MASTER vhid 4");
    const host2Lost = BALANCING_HOST2.replace("state MASTER vhid 4", "state BACKUP vhid 4");
    const res = pair(view("primary", host1TookOver), view("secondary", host2Lost));
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: primary is MASTER of carp1 vhid 4");
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

  it("CRITICAL when one host is MASTER and BACKUP with preempt on; only failed over with it off", () => {
    const carp1Backup = OLD_BACKUP.replaceAll("carp0", "carp1").replace("vhid 1 ", "vhid 2 ");
    const carp1Master = OLD_PROMOTED.replaceAll("carp0", "carp1").replace("vhid 1 ", "vhid 2 ").replace("advskew 100", "advskew 0");
    const primaryMixed = OLD_MASTER + carp1Backup.replace("advskew 100", "advskew 0");
    const secondaryMixed = OLD_BACKUP + carp1Master.replace("advskew 0", "advskew 100");
    const withPreempt = pair(view("primary", primaryMixed), view("secondary", secondaryMixed));
    expect(withPreempt.status).toBe("CRITICAL");
    expect(withPreempt.summary).toBe("primary is MASTER and BACKUP with preempt on (+2 more)");
    expect(withPreempt.details[0]).toBe("primary's carp interfaces disagree: MASTER of carp0, BACKUP of carp1, with net.inet.carp.preempt=1 they fail over together");
    const withoutPreempt = pair(view("primary", primaryMixed, { preempt: PREEMPT_OFF }), view("secondary", secondaryMixed, { preempt: PREEMPT_OFF }));
    expect(withoutPreempt.status).toBe("WARNING");
    expect(withoutPreempt.summary).toBe("failed over: secondary is MASTER of carp1 vhid 2");
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

describe("decideCarp without the peer's view", () => {
  const missing = { missing: "cannot reach secondary 10.231.0.2: connection refused" };

  it("UNKNOWN when this host alone looks fine: nothing can be said about the pair", () => {
    const res = decideCarp({ local: view("primary", VIO_MASTER), peer: missing });
    expect(res.status).toBe("UNKNOWN");
    expect(res.summary).toBe("pair view missing: cannot reach secondary 10.231.0.2: connection refused");
    expect(res.details).toContain("primary alone shows no fault");
    expect(res.details).toContain("carp203 vhid 203: primary MASTER advskew 0");
  });

  it("WARNING when the secondary alone sees itself MASTER (failed over), with the missing pair view in the details", () => {
    const res = decideCarp({ local: view("secondary", OLD_PROMOTED), peer: { missing: "cannot reach primary 10.231.0.1: timed out" } });
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("failed over: secondary is MASTER of carp0");
    expect(res.details).toContain("pair view missing: cannot reach primary 10.231.0.1: timed out");
  });

  it("WARNING when the primary alone sees itself BACKUP", () => {
    expect(decideCarp({ local: view("primary", OLD_PRIMARY_NOW_BACKUP), peer: missing }).summary).toBe("failed over: primary is BACKUP of carp0");
  });

  it("CRITICAL for a local INIT, and WARNING for a local demote counter", () => {
    expect(decideCarp({ local: view("primary", OLD_INIT), peer: missing }).status).toBe("CRITICAL");
    const demoted = decideCarp({ local: view("primary", VIO_MASTER, { demote: DEMOTE_50 }), peer: missing });
    expect(demoted.status).toBe("WARNING");
    expect(demoted.details).toContain(`pair view missing: ${missing.missing}`);
  });
});

import { describe, expect, it } from "vitest";
import { ParseError } from "../../../../src/lib/runtime/errors.js";
import { parseCarpInterfaces, parseIfconfigGroups, parsePfsyncInterface, type CarpInterface } from "../../../../src/lib/parse/ifconfig.js";
import { fixture, expectParseError } from "../../../support/fixtures.js";

const only = (list: CarpInterface[]): CarpInterface => {
  expect(list).toHaveLength(1);
  return list[0] as CarpInterface;
};

const MODERN_FLAGS = ["UP", "BROADCAST", "RUNNING", "SIMPLEX", "MULTICAST"];

describe("parseCarpInterfaces: modern vio pair (ifconfig carp group listing)", () => {
  it("reads the primary (MASTER) and skips pfsync0", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp_group_primary_master_vio.txt")));
    expect(carp).toEqual({
      name: "carp203",
      line: 5,
      flagsValue: 0x8843,
      flags: MODERN_FLAGS,
      up: true,
      running: true,
      mtu: 1500,
      lladdr: "00:00:5e:00:01:cb",
      description: "INT_203",
      priority: 15,
      carpdev: "vio2",
      advbase: 1,
      balancing: null,
      carppeer: null,
      vhids: [{ vhid: 203, state: "MASTER", advskew: 0 }],
      status: "master",
      inet: [{ address: "10.112.203.254", netmask: "255.255.255.0", prefixLength: 24, broadcast: "10.112.203.255" }],
      inet6: [],
      groups: ["carp"],
    });
  });

  it("reads the secondary (BACKUP, advskew 100)", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp_group_secondary_backup_vio.txt")));
    expect(carp.vhids).toEqual([{ vhid: 203, state: "BACKUP", advskew: 100 }]);
    expect(carp.status).toBe("backup");
    expect(carp.carpdev).toBe("vio2");
  });

  it("finds only carp203 in a full ifconfig listing", () => {
    const list = parseCarpInterfaces(fixture("ifconfig_all_primary_master_vio.txt"));
    expect(list.map((c) => c.name)).toEqual(["carp203"]);
    expect(list[0]?.line).toBe(41);
    expect(list[0]?.vhids[0]?.state).toBe("MASTER");
  });
});

describe("parseCarpInterfaces: OVH pair (master has the higher advskew)", () => {
  it("master", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp0_master_vio2_ovh.txt")));
    expect(carp.vhids).toEqual([{ vhid: 1, state: "MASTER", advskew: 50 }]);
    expect(carp.status).toBe("master");
    expect(carp.inet).toEqual([{ address: "10.25.0.10", netmask: "255.255.0.0", prefixLength: 16, broadcast: "10.25.255.255" }]);
  });
  it("backup", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp0_backup_vio2_ovh.txt")));
    expect(carp.vhids).toEqual([{ vhid: 1, state: "BACKUP", advskew: 1 }]);
    expect(carp.status).toBe("backup");
  });
});

describe("parseCarpInterfaces: OpenBSD 5.1 (old priority: line, flag names stripped by the page)", () => {
  it("master: flags decoded from the hex value", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp0_master_openbsd51.txt")));
    expect(carp.flags).toEqual(MODERN_FLAGS);
    expect(carp.priority).toBe(0);
    expect(carp.vhids).toEqual([{ vhid: 1, state: "MASTER", advskew: 0 }]);
    expect(carp.status).toBe("master");
    expect(carp.inet6).toEqual([{ address: "fe80::200:5eff:fe00:101", zone: "carp0", prefixLength: 64, flags: [], scopeId: "0x6" }]);
    expect(carp.inet[0]?.address).toBe("10.1.1.254");
  });
  it("backup", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp0_backup_openbsd51.txt")));
    expect(carp.vhids).toEqual([{ vhid: 1, state: "BACKUP", advskew: 100 }]);
    expect(carp.status).toBe("backup");
  });
  it("INIT after the carpdev went down: status invalid, RUNNING cleared", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp0_init_carpdev_down_openbsd51.txt")));
    expect(carp.vhids).toEqual([{ vhid: 1, state: "INIT", advskew: 0 }]);
    expect(carp.status).toBe("invalid");
    expect(carp.flagsValue).toBe(0x8803);
    expect(carp.up).toBe(true);
    expect(carp.running).toBe(false);
    expect(carp.flags).not.toContain("RUNNING");
  });
  it("backup promoted to MASTER keeps advskew 100", () => {
    const carp = only(parseCarpInterfaces(fixture("ifconfig_carp0_backup_promoted_to_master_openbsd51.txt")));
    expect(carp.vhids).toEqual([{ vhid: 1, state: "MASTER", advskew: 100 }]);
    expect(carp.status).toBe("master");
  });
});

describe("parseCarpInterfaces: Book of PF", () => {
  it("ep0 master/backup have no status: line", () => {
    const master = only(parseCarpInterfaces(fixture("ifconfig_carp0_master_ep0_bookofpf.txt")));
    const backup = only(parseCarpInterfaces(fixture("ifconfig_carp0_backup_ep0_bookofpf.txt")));
    expect(master.status).toBeNull();
    expect(backup.status).toBeNull();
    expect(master.vhids).toEqual([{ vhid: 1, state: "MASTER", advskew: 0 }]);
    expect(backup.vhids).toEqual([{ vhid: 1, state: "BACKUP", advskew: 100 }]);
    expect(master.carpdev).toBe("ep0");
    expect(master.inet6[0]?.scopeId).toBe("0x5");
  });

  it("balancing form on host 1", () => {
    const list = parseCarpInterfaces(fixture("ifconfig_carp_balancing_host1_bookofpf.txt"));
    expect(list.map((c) => c.name)).toEqual(["carp0", "carp1"]);
    const [carp0, carp1] = list as [CarpInterface, CarpInterface];
    expect(carp0.balancing).toBe("ip");
    expect(carp0.carpdev).toBe("vr0");
    expect(carp0.advbase).toBe(1);
    expect(carp0.lladdr).toBe("01:00:5e:00:01:05");
    expect(carp0.vhids).toEqual([
      { vhid: 5, state: "MASTER", advskew: 0 },
      { vhid: 6, state: "BACKUP", advskew: 100 },
    ]);
    expect(carp1.carpdev).toBe("vr1");
    expect(carp1.vhids).toEqual([
      { vhid: 3, state: "MASTER", advskew: 0 },
      { vhid: 4, state: "BACKUP", advskew: 100 },
    ]);
  });

  it("balancing form on host 2 mirrors host 1: every vhid has exactly one MASTER", () => {
    const h1 = parseCarpInterfaces(fixture("ifconfig_carp_balancing_host1_bookofpf.txt"));
    const h2 = parseCarpInterfaces(fixture("ifconfig_carp_balancing_host2_bookofpf.txt"));
    expect(h2.find((c) => c.name === "carp0")?.vhids).toEqual([
      { vhid: 5, state: "BACKUP", advskew: 100 },
      { vhid: 6, state: "MASTER", advskew: 0 },
    ]);
    const masters = (list: CarpInterface[]): number[] => list.flatMap((c) => c.vhids.filter((v) => v.state === "MASTER").map((v) => v.vhid));
    expect([...masters(h1), ...masters(h2)].sort((a, b) => a - b)).toEqual([3, 4, 5, 6]);
  });
});

describe("parseCarpInterfaces: other shapes", () => {
  it("FAQ group listing with 5-space indentation", () => {
    const list = parseCarpInterfaces(fixture("ifconfig_group_internal_faq.txt"));
    expect(list.map((c) => [c.name, c.carpdev, c.vhids, c.groups])).toEqual([
      ["carp1", "em0", [{ vhid: 1, state: "MASTER", advskew: 100 }], ["carp", "internal"]],
      ["carp2", "em1", [{ vhid: 2, state: "MASTER", advskew: 100 }], ["carp", "internal"]],
    ]);
  });

  it("derived: carppeer on the single and on the balancing form", () => {
    const [carp1, carp25] = parseCarpInterfaces(fixture("derived_ifconfig_carp_carppeer.txt")) as [CarpInterface, CarpInterface];
    expect(carp1.carppeer).toBe("192.0.2.3");
    expect(carp1.vhids).toEqual([{ vhid: 2, state: "BACKUP", advskew: 100 }]);
    expect(carp1.description).toBe("uplink VIP");
    expect(carp25.carppeer).toBe("198.51.100.3");
    expect(carp25.balancing).toBe("ip-unicast");
    expect(carp25.vhids.map((v) => v.vhid)).toEqual([25, 26]);
  });

  it("vhid tokens are exact: vhid 2 is not vhid 25", () => {
    const list = parseCarpInterfaces(fixture("derived_ifconfig_carp_carppeer.txt"));
    const withVhid = (n: number): string[] => list.filter((c) => c.vhids.some((v) => v.vhid === n)).map((c) => c.name);
    expect(withVhid(2)).toEqual(["carp1"]);
    expect(withVhid(25)).toEqual(["carp25"]);
    expect(withVhid(5)).toEqual([]);
    // carp1's vhid 2 line must not be read by a substring search as 25 or vice versa
    const text = fixture("derived_ifconfig_carp_carppeer.txt").replace("vhid 2 advbase", "vhid 25 advbase");
    expect(parseCarpInterfaces(text)[0]?.vhids[0]?.vhid).toBe(25);
  });

  it("pfsync0 alone, ifconfig -g output and FreeBSD carp lines", () => {
    expect(parseCarpInterfaces(fixture("ifconfig_pfsync0_no_syncdev_openbsd51.txt"))).toEqual([]);
    expect(parseCarpInterfaces(fixture("ifconfig_pfsync0_syncpeer_bookofpf.txt"))).toEqual([]);
    expectParseError(() => parseCarpInterfaces(fixture("ifconfig_g_carp_faq.txt")), 1);
    // FreeBSD puts CARP on the parent interface and has no carpdev: never read as OpenBSD data.
    for (const f of [
      "freebsd_ifconfig_vlan316_carp_master.txt",
      "freebsd_ifconfig_vlan316_carp_backup.txt",
      "freebsd_ifconfig_vlan317_carp_mixed_hostA.txt",
      "freebsd_ifconfig_vlan317_carp_mixed_hostB.txt",
    ]) {
      const err = expectParseError(() => parseCarpInterfaces(fixture(f)), 22);
      expect(err.lineText).toMatch(/carp: (MASTER|BACKUP) vhid 14/);
    }
  });

  it("empty output gives []", () => {
    expect(parseCarpInterfaces("")).toEqual([]);
    expect(parseCarpInterfaces("\n")).toEqual([]);
  });
});

describe("parseCarpInterfaces: damaged output", () => {
  const primary = fixture("ifconfig_carp_group_primary_master_vio.txt");
  const secondary = fixture("ifconfig_carp_group_secondary_backup_vio.txt");

  it("unknown state text on the carp: line names line 9", () => {
    const err = expectParseError(() => parseCarpInterfaces(primary.replace("carp: MASTER", "carp: <UNKNOWN>")), 9);
    expect(err.lineText).toBe("\tcarp: <UNKNOWN> carpdev vio2 vhid 203 advbase 1 advskew 0");
    expect(err.message).toContain("line 9");
    expectParseError(() => parseCarpInterfaces(primary.replace("carp: MASTER", "carp: MASTRE")), 9);
    expectParseError(() => parseCarpInterfaces(primary.replace("carp: MASTER", "carp: master")), 9);
  });

  it("unknown state in a balancing state line, and a lone state line", () => {
    const text = fixture("ifconfig_carp_balancing_host1_bookofpf.txt");
    expectParseError(() => parseCarpInterfaces(text.replace("state BACKUP vhid 6", "state <UNKNOWN> vhid 6")), 6);
    // one state line only: carp_status() never prints the balancing form for a single vhid
    expectParseError(() => parseCarpInterfaces(text.replace(/^ +state BACKUP vhid 6 advskew 100\n/m, "")), 4);
  });

  it("other unreadable carp lines", () => {
    const bad = [
      "carp: MASTER carpdev vio2 vhid 203 advbase 1",
      "carp: MASTER carpdev vio2 vhid 2O3 advbase 1 advskew 0",
      "carp: MASTER carpdev vio2 vhid 256 advbase 1 advskew 0",
      "carp: MASTER carpdev vio2 vhid 203 advbase 1 advskew 0 carppeer 10.0.0",
      "carp: MASTER carpdev vio2 vhid 203 advbase 1 advskew 0 junk",
      "carp: carpdev vio2 advbase 1 balancing <UNKNOWN>",
    ];
    for (const line of bad) {
      expectParseError(() => parseCarpInterfaces(primary.replace("carp: MASTER carpdev vio2 vhid 203 advbase 1 advskew 0", line)), 9);
    }
  });

  it("tabs replaced by spaces reads the same", () => {
    expect(parseCarpInterfaces(primary.replaceAll("\t", "        "))).toEqual(parseCarpInterfaces(primary));
    expect(parseCarpInterfaces(secondary.replaceAll("\t", " "))).toEqual(parseCarpInterfaces(secondary));
  });

  it("CRLF line endings read the same", () => {
    expect(parseCarpInterfaces(primary.replaceAll("\n", "\r\n"))).toEqual(parseCarpInterfaces(primary));
    const bal = fixture("ifconfig_carp_balancing_host2_bookofpf.txt");
    expect(parseCarpInterfaces(bal.replaceAll("\n", "\r\n"))).toEqual(parseCarpInterfaces(bal));
  });

  it("status value cut or changed is an error, not a missing status", () => {
    expectParseError(() => parseCarpInterfaces(primary.replace("status: master", "status: mas")), 11);
  });

  it("a mangled unlabelled line inside a carp block is an error", () => {
    expectParseError(() => parseCarpInterfaces(primary.replace("\tinet 10.112.203.254", "\tine 10.112.203.254")), 12);
    expectParseError(() => parseCarpInterfaces(primary.replace("netmask 0xffffff00", "netmask 0xffff")), 12);
  });

  it("flag names that contradict the flags value are an error", () => {
    expectParseError(() => parseCarpInterfaces(primary.replace("flags=8843<UP,BROADCAST,RUNNING", "flags=8803<UP,BROADCAST,RUNNING")), 5);
  });

  // Every possible cut: inside a line it must be a ParseError; at a line end the result may lack
  // later lines but every value it has must equal the full parse.
  for (const [name, text] of [
    ["primary", primary],
    ["secondary", secondary],
    ["balancing host 1", fixture("ifconfig_carp_balancing_host1_bookofpf.txt")],
    ["openbsd51 INIT", fixture("ifconfig_carp0_init_carpdev_down_openbsd51.txt")],
  ] as const) {
    it(`every truncation of ${name} is an error or a consistent prefix`, () => {
      const full = parseCarpInterfaces(text);
      for (let cut = 1; cut < text.length; cut++) {
        const part = text.slice(0, cut);
        if (!part.endsWith("\n")) {
          expectParseError(() => parseCarpInterfaces(part));
          continue;
        }
        let got: CarpInterface[];
        try {
          got = parseCarpInterfaces(part);
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
          continue;
        }
        for (const c of got) {
          const whole = full.find((f) => f.name === c.name);
          expect(whole).toBeDefined();
          if (!whole) continue;
          expect([c.carpdev, c.advbase, c.balancing, c.carppeer, c.vhids]).toEqual([whole.carpdev, whole.advbase, whole.balancing, whole.carppeer, whole.vhids]);
          if (c.status !== null) expect(c.status).toBe(whole.status);
          expect(whole.inet.slice(0, c.inet.length)).toEqual(c.inet);
        }
      }
    });
  }
});

describe("parseIfconfigGroups", () => {
  const CARP_0 = fixture("ifconfig_g_carp_faq.txt");
  const INTERNAL_0 = fixture("ifconfig_g_internal_faq.txt");
  const INTERNAL_50 = fixture("ifconfig_g_internal_after_carpdemote50_faq.txt");

  it("reads the FAQ samples, one group each", () => {
    expect(parseIfconfigGroups(CARP_0)).toEqual([{ group: "carp", demoteCount: 0 }]);
    expect(parseIfconfigGroups(INTERNAL_0)).toEqual([{ group: "internal", demoteCount: 0 }]);
    expect(parseIfconfigGroups(INTERNAL_50)).toEqual([{ group: "internal", demoteCount: 50 }]);
  });
  it("reads one line per group when several groups are asked in a row (carp, then internal after carpdemote 50)", () => {
    expect(parseIfconfigGroups(CARP_0 + INTERNAL_50)).toEqual([
      { group: "carp", demoteCount: 0 },
      { group: "internal", demoteCount: 50 },
    ]);
  });
  it("gives no group for no output: the caller knows which it asked for", () => {
    expect(parseIfconfigGroups("")).toEqual([]);
  });
  it("rejects anything else, naming the line", () => {
    expectParseError(() => parseIfconfigGroups("carp: carp demote count\n"), 1);
    expectParseError(() => parseIfconfigGroups("carp: carp demote count x\n"), 1);
    expectParseError(() => parseIfconfigGroups("carp: carp demote count 5"), 1); // cut: 5 could be 50
    expectParseError(() => parseIfconfigGroups(CARP_0 + "internal: carp demote count 5"), 2);
    expectParseError(() => parseIfconfigGroups(INTERNAL_0 + INTERNAL_50), 2); // the same group twice
    expectParseError(() => parseIfconfigGroups(fixture("ifconfig_carp0_master_vio2_ovh.txt")), 1);
  });
  it("accepts CRLF", () => {
    expect(parseIfconfigGroups("internal: carp demote count 50\r\n")).toEqual([{ group: "internal", demoteCount: 50 }]);
  });
});

describe("parsePfsyncInterface", () => {
  it("with syncdev and syncpeer (Book of PF)", () => {
    expect(parsePfsyncInterface(fixture("ifconfig_pfsync0_syncpeer_bookofpf.txt"))).toEqual({
      name: "pfsync0",
      flagsValue: 0x41,
      flags: ["UP", "RUNNING"],
      up: true,
      running: true,
      syncdev: "ep2",
      syncpeer: "10.0.12.16",
      maxupd: 128,
      defer: false,
      groups: ["carp", "pfsync"],
    });
  });
  it("without syncdev: no pfsync: line at all", () => {
    const p = parsePfsyncInterface(fixture("ifconfig_pfsync0_no_syncdev_openbsd51.txt"));
    expect([p.syncdev, p.syncpeer, p.maxupd, p.defer]).toEqual([null, null, null, null]);
    expect(p.up && p.running).toBe(true); // flags=41, names stripped: decoded from the value
    expect(p.flags).toEqual(["UP", "RUNNING"]);
  });
  it("picks pfsync0 out of ifconfig carp / full listings", () => {
    const primary = parsePfsyncInterface(fixture("ifconfig_carp_group_primary_master_vio.txt"));
    const secondary = parsePfsyncInterface(fixture("ifconfig_carp_group_secondary_backup_vio.txt"));
    expect([primary.syncdev, primary.syncpeer, primary.maxupd, primary.defer]).toEqual(["vio1", null, 128, false]);
    expect(secondary.syncdev).toBe("vio0");
    expect(parsePfsyncInterface(fixture("ifconfig_all_primary_master_vio.txt")).syncdev).toBe("vio1");
    expect(parsePfsyncInterface(fixture("ifconfig_carp_balancing_host1_bookofpf.txt")).syncpeer).toBe("10.0.12.17");
    expect(parsePfsyncInterface(fixture("ifconfig_carp_balancing_host2_bookofpf.txt"), "pfsync0").syncpeer).toBe("10.0.12.16");
  });
  it("damaged pfsync lines and missing interface", () => {
    const text = fixture("ifconfig_pfsync0_syncpeer_bookofpf.txt");
    expectParseError(() => parsePfsyncInterface(text.replace("defer: off", "defer: of")), 3);
    expectParseError(() => parsePfsyncInterface(text.replace("maxupd: 128 ", "")), 3);
    expectParseError(() => parsePfsyncInterface(text.replace("syncpeer: 10.0.12.16", "syncpeer: 10.0.12")), 3);
    expectParseError(() => parsePfsyncInterface(text.replace("\tpfsync: ", "\tpfsyn ").replace("        pfsync: ", "        pfsyn ")), 3);
    expectParseError(() => parsePfsyncInterface(text.slice(0, text.indexOf("maxupd") + 9)), 3);
    expectParseError(() => parsePfsyncInterface(fixture("ifconfig_carp0_master_vio2_ovh.txt")));
    expectParseError(() => parsePfsyncInterface(""));
    expect(parsePfsyncInterface(text.replaceAll("\n", "\r\n").replaceAll("        ", "\t"))).toEqual(parsePfsyncInterface(text));
  });
});

import { describe, expect, it } from "vitest";
import { parseInterfaceLink } from "../../../../src/lib/parse/ifconfig.js";
import { expectParseError, fixture } from "../../../support/fixtures.js";

describe("parseInterfaceLink", () => {
  it("reads a NIC's link status and address from a full ifconfig listing (real capture)", () => {
    const vio1 = parseInterfaceLink(fixture("ifconfig_all_primary_master_vio.txt"), "vio1");
    expect(vio1).toEqual({
      name: "vio1",
      flags: ["UP", "BROADCAST", "RUNNING", "SIMPLEX", "MULTICAST"],
      up: true,
      running: true,
      status: "active",
      inet: [{ address: "192.168.254.2", destination: null }],
      inet6: [],
    });
  });

  it("reads a point-to-point address (gre8 in the same capture) and a link without status", () => {
    const gre = parseInterfaceLink(fixture("ifconfig_all_primary_master_vio.txt"), "gre8");
    expect(gre.inet).toEqual([{ address: "172.16.8.2", destination: "172.16.8.1" }]);
    expect(gre.status).toBeNull();
    expect(parseInterfaceLink(fixture("ifconfig_all_primary_master_vio.txt"), "lo0").inet6).toEqual(["::1", "fe80::1"]);
  });

  it("tells an open tun from a closed one (derived from ifconfig.c and if_tun.c)", () => {
    const text = fixture("derived_ifconfig_tun_openbsd7.txt");
    const open = parseInterfaceLink(text, "tun0");
    const closed = parseInterfaceLink(text, "tun1");
    expect([open.up, open.running, open.status]).toEqual([true, true, "active"]);
    expect([closed.up, closed.running, closed.status]).toEqual([false, false, "down"]);
    expect(closed.inet).toEqual([{ address: "10.9.0.6", destination: "10.9.0.5" }]);
  });

  it("reads `status: no carrier` as it is", () => {
    const text = fixture("ifconfig_all_primary_master_vio.txt").replace(/(vio1:[\s\S]*?)status: active/, "$1status: no carrier");
    expect(parseInterfaceLink(text, "vio1").status).toBe("no carrier");
  });

  it("refuses what it does not understand: a missing interface, an unlabelled line, a bad address line", () => {
    expect(expectParseError(() => parseInterfaceLink(fixture("ifconfig_all_primary_master_vio.txt"), "em9")).what).toBe("ifconfig em9 output");
    expectParseError(() => parseInterfaceLink("tun0: flags=51<UP,POINTOPOINT,RUNNING> mtu 1500\n\tsomething odd\n", "tun0"), 2);
    expectParseError(() => parseInterfaceLink("tun0: flags=51<UP,POINTOPOINT,RUNNING> mtu 1500\n\tinet 10.0.0.1 -> 10.0.0.2 netmask 0xffffffff\n", "tun0"), 2);
    expectParseError(() => parseInterfaceLink("tun0: flags=51<UP,POINTOPOINT,RUNNING> mtu 1500\n\tstatus: active", "tun0"), 2);
  });
});

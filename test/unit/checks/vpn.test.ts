import { describe, expect, it } from "vitest";
import { decideVpn, openvpnDevice, type VpnFacts, type VpnInstance } from "../../../src/checks/vpn.js";
import { parseCarpInterfaces, parseInterfaceLink, type CarpInterface } from "../../../src/lib/parse/ifconfig.js";
import { fixture } from "../../support/fixtures.js";

const MASTER = parseCarpInterfaces(fixture("ifconfig_carp_group_primary_master_vio.txt"))[0] as CarpInterface;
const BACKUP = parseCarpInterfaces(fixture("ifconfig_carp_group_secondary_backup_vio.txt"))[0] as CarpInterface;
const TUNS = fixture("derived_ifconfig_tun_openbsd7.txt");
const OPEN = parseInterfaceLink(TUNS, "tun0");
const CLOSED = parseInterfaceLink(TUNS, "tun1");
const openAs = (name: string): typeof OPEN => ({ ...OPEN, name });
const closedAs = (name: string): typeof CLOSED => ({ ...CLOSED, name });

const CLIENT: VpnInstance = { kind: "client", name: "acme", config: "/etc/openv-client-acme/client.conf", device: "tun1" };
const SERVER: VpnInstance = { kind: "server", name: "server", config: "/etc/openvpn/server.conf", device: "tun0" };

function facts(over: Partial<VpnFacts>): VpnFacts {
  return { role: "primary", instances: [CLIENT, SERVER], carp: MASTER, devices: { tun0: openAs("tun0"), tun1: openAs("tun1") }, servers: "both", ...over };
}

describe("openvpnDevice", () => {
  it("reads `dev tunN`, ignoring comments; `dev tun` has no unit", () => {
    expect(openvpnDevice("client\n# dev tun9\ndev tun1 ; the acme link\nremote x 1194\n")).toBe("tun1");
    expect(openvpnDevice("dev tap0\n")).toBe("tap0");
    expect(openvpnDevice("dev tun\n")).toEqual({ unnumbered: true });
    expect(openvpnDevice("client\n")).toBeNull();
  });
});

describe("decideVpn", () => {
  it("OK with no VPN configured", () => {
    const res = decideVpn(facts({ instances: [], carp: undefined, devices: {} }));
    expect([res.status, res.summary]).toEqual(["OK", "no VPN configured"]);
  });

  it("OK on the MASTER with client and server up, on the BACKUP with the client closed and the server up", () => {
    const master = decideVpn(facts({}));
    expect([master.status, master.summary]).toEqual(["OK", "1 client, 1 server as expected on primary (MASTER of carp203)"]);
    const backup = decideVpn(facts({ role: "secondary", carp: BACKUP, devices: { tun0: openAs("tun0"), tun1: closedAs("tun1") } }));
    expect([backup.status, backup.summary]).toEqual(["OK", "1 client, 1 server as expected on secondary (BACKUP of carp203)"]);
  });

  it("CRITICAL when the client is down on the MASTER: closed, missing, or without an address", () => {
    expect(decideVpn(facts({ devices: { tun0: openAs("tun0"), tun1: closedAs("tun1") } })).summary).toBe("client acme down on primary (MASTER of carp203)");
    expect(decideVpn(facts({ devices: { tun0: openAs("tun0"), tun1: "missing" } })).summary).toBe("client acme down on primary (MASTER of carp203): no tun1");
    expect(decideVpn(facts({ devices: { tun0: openAs("tun0"), tun1: { ...openAs("tun1"), inet: [] } } })).summary).toBe("client acme not connected on primary (MASTER of carp203)");
  });

  it("CRITICAL when the client is up on the BACKUP too", () => {
    const res = decideVpn(facts({ role: "secondary", carp: BACKUP }));
    expect([res.status, res.summary]).toEqual(["CRITICAL", "client acme up on secondary (BACKUP of carp203)"]);
  });

  it("servers run on both hosts by default, or follow the MASTER with servers = master", () => {
    expect(decideVpn(facts({ role: "secondary", carp: BACKUP, devices: { tun0: closedAs("tun0"), tun1: closedAs("tun1") } })).summary).toBe("server server down on secondary (BACKUP of carp203)");
    expect(decideVpn(facts({ role: "secondary", carp: BACKUP, servers: "master", devices: { tun0: closedAs("tun0"), tun1: closedAs("tun1") } })).status).toBe("OK");
  });

  it("UNKNOWN for a config without a numbered device", () => {
    const res = decideVpn(facts({ instances: [{ ...CLIENT, device: null }] }));
    expect([res.status, res.summary]).toEqual(["UNKNOWN", "client acme: no tun device in its config"]);
  });
});

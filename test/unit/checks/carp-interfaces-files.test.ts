import { describe, expect, it } from "vitest";
import { decideCarpInterfaces, interfaceFileLines, type CarpFilesHost } from "../../../src/checks/carp-interfaces.js";
import { hostValueMapper, hostValueMapping } from "../../../src/lib/compare/files.js";
import type { FileFacts } from "../../../src/lib/facts/files.js";
import type { Role } from "../../../src/lib/runtime/config.js";

// The notes' pair: the primary's uplink trunk is re0, the secondary's em0; downlink em0 and em1.
const INTERFACES = { re0: "em0", em0: "em1" };
const HOST_SPECIFIC = { values: [{ primary: "192.168.110.101", secondary: "192.168.110.102" }], interfaces: INTERFACES };
const mapText = hostValueMapper(hostValueMapping(HOST_SPECIFIC, "/c.toml"));

const file = (name: string, content: string): FileFacts => ({ path: `/etc/${name}`, type: "file", mode: 0o640, uid: 0, gid: 0, size: content.length, sha256: "0".repeat(64), binary: false, content });
const host = (role: Role, files: Record<string, string>): CarpFilesHost => ({ role, files: Object.entries(files).map(([name, content]) => file(name, content)), liveInterfaces: [] });

const PRIMARY = {
  "hostname.re0": "up\n",
  "hostname.em0": "up\n",
  "hostname.vlan110": "vnetid 110 parent em0\ninet 192.168.110.101 255.255.255.0\nup\n",
  "hostname.vlan120": "vnetid 120 parent em0 # users\ninet 192.168.120.101/24\nup\n",
  "hostname.pfsync0": "syncdev vlan110 defer\nup\n",
  "hostname.tun1": "up\n",
};
const SECONDARY = {
  "hostname.em0": "up\n",
  "hostname.em1": "# downlink trunk\nup\n",
  "hostname.vlan110": "vnetid 110 parent em1\ninet 192.168.110.102 255.255.255.0\nup\n",
  // Its own address in the users vlan, not declared in [host_specific]: set aside, the prefix is compared.
  "hostname.vlan120": "vnetid 120 parent em1\ninet 192.168.120.102/24\nup\n",
  "hostname.pfsync0": "syncdev vlan110 defer\nup\n",
  "hostname.tun1": "up\n",
};

function decide(primary: Record<string, string>, secondary: Record<string, string>): ReturnType<typeof decideCarpInterfaces> {
  return decideCarpInterfaces({ primary: host("primary", primary), secondary: host("secondary", secondary), hostSpecificInterfaces: INTERFACES, ignore: [], mapText });
}

describe("every other hostname.if file", () => {
  it("OK when each file has its mapped counterpart with the same statements", () => {
    const res = decide(PRIMARY, SECONDARY);
    expect([res.status, res.summary]).toEqual(["OK", "0 hostname.carpN and 6 other interface files agree between the hosts"]);
    expect(res.details).toContain("hostname.re0/hostname.em0: 1 statement agrees (NIC names mapped)");
  });

  it("CRITICAL when a vlan file differs (a netmask), naming the statement, never the values", () => {
    const res = decide(PRIMARY, { ...SECONDARY, "hostname.vlan110": "vnetid 110 parent em1\ninet 192.168.110.102 255.255.255.128\nup\n" });
    expect([res.status, res.summary]).toEqual(["CRITICAL", "hostname.vlan110 differs"]);
    expect(res.details[0]).toBe("hostname.vlan110: statement 2 differs: 'inet ...' on primary, 'inet ...' on secondary (comments, blank lines and each host's own addresses aside)");
    expect(res.details.join("\n")).not.toContain("255.255.255.128");
  });

  it("compares a mapped NIC's file under the secondary's name (hostname.re0 with hostname.em0)", () => {
    const res = decide(PRIMARY, { ...SECONDARY, "hostname.em0": "inet 192.168.0.102 255.255.255.0\nup\n" });
    expect([res.status, res.summary]).toEqual(["CRITICAL", "hostname.re0/hostname.em0 differs"]);
  });

  it("CRITICAL for a file on one host only, with the mapped name it looked for", () => {
    const withoutEm1: Record<string, string> = { ...SECONDARY };
    delete withoutEm1["hostname.em1"];
    const res = decide(PRIMARY, { ...withoutEm1, "hostname.tap0": "up\n" });
    expect(res.summary).toBe("hostname.em0 only on primary (+1 more)");
    expect(res.details.slice(0, 2)).toEqual([
      "/etc/hostname.em0 exists on the primary, no /etc/hostname.em1 on the secondary (mapped to hostname.em1 by [host_specific] interfaces)",
      "/etc/hostname.tap0 exists on the secondary only",
    ]);
  });

  it("without the NIC mapping, the renamed NICs are files on one host only", () => {
    const res = decideCarpInterfaces({ primary: host("primary", PRIMARY), secondary: host("secondary", SECONDARY), hostSpecificInterfaces: {}, ignore: [] });
    expect(res.status).toBe("CRITICAL");
    expect(res.details.join("\n")).toContain("/etc/hostname.re0 exists on the primary, no /etc/hostname.re0 on the secondary");
  });

  it("reads statements as netstart does: comments and blank lines dropped, addresses set aside, netmasks kept", () => {
    expect(interfaceFileLines("# x\n\ninet 10.0.0.1 255.255.255.0 NONE # y\ninet6 2001:db8::1/64\nup\n")).toEqual([["inet", "ADDR", "255.255.255.0", "NONE"], ["inet6", "ADDR/64"], ["up"]]);
  });
});

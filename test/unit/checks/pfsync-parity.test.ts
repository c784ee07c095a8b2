import { describe, expect, it } from "vitest";
import { check, parityProblems, pfsyncSettings, readSyncdevLink, type PfsyncHostFacts, type SyncdevLinks } from "../../../src/checks/pfsync.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { parseInterfaceLink, parsePfsyncInterface, type InterfaceLink } from "../../../src/lib/parse/ifconfig.js";
import { parsePfInfo } from "../../../src/lib/parse/pfctl.js";
import { fixture } from "../../support/fixtures.js";

const settings = pfsyncSettings(parseConfig(`role = "primary"\n[peer]\nhost = "secondary"\n`, "/c.toml", { only: check }));
const INFO = parsePfInfo(fixture("derived_pfctl_si_openbsd7.txt"));
const PRIMARY_LISTING = fixture("ifconfig_carp_group_primary_master_vio.txt");
const SECONDARY_LISTING = fixture("ifconfig_carp_group_secondary_backup_vio.txt");

function host(role: "primary" | "secondary", listing: string): PfsyncHostFacts {
  return { role, pfsync: parsePfsyncInterface(listing, "pfsync0"), info: INFO, counters: {} };
}

// The primary's syncdev vio1 is the real capture; the secondary's vio0 is that NIC with the /30's other address.
const VIO1 = parseInterfaceLink(fixture("ifconfig_all_primary_master_vio.txt"), "vio1");
const VIO0: InterfaceLink = { ...VIO1, name: "vio0", inet: [{ address: "192.168.254.1", destination: null }] };
const LINKS: SyncdevLinks = { primary: VIO1, secondary: VIO0 };

describe("pfsync parity", () => {
  it("no problem when both syncdevs are active and defer/maxupd agree (real captures)", () => {
    expect(parityProblems(host("primary", PRIMARY_LISTING), host("secondary", SECONDARY_LISTING), LINKS, settings)).toEqual([]);
  });

  it("CRITICAL when a syncdev has no carrier, or does not exist", () => {
    const [problem] = parityProblems(host("primary", PRIMARY_LISTING), host("secondary", SECONDARY_LISTING), { ...LINKS, secondary: { ...VIO0, status: "no carrier" } }, settings);
    expect([problem?.status, problem?.summary]).toEqual(["CRITICAL", "syncdev vio0 on secondary: no carrier"]);
    const [gone] = parityProblems(host("primary", PRIMARY_LISTING), host("secondary", SECONDARY_LISTING), { ...LINKS, primary: "missing" }, settings);
    expect(gone?.summary).toBe("syncdev vio1 missing on primary");
  });

  it("WARNING when defer or maxupd differ", () => {
    const problems = parityProblems(host("primary", PRIMARY_LISTING), host("secondary", SECONDARY_LISTING.replace("maxupd: 128 defer: off", "maxupd: 64 defer: on")), LINKS, settings);
    expect(problems.map((p) => [p.status, p.summary])).toEqual([
      ["WARNING", "pfsync0 defer differs: primary off, secondary on"],
      ["WARNING", "pfsync0 maxupd differs: primary 128, secondary 64"],
    ]);
  });

  it("CRITICAL when a syncpeer is not the other host's syncdev address; fine when it is", () => {
    const wrong = host("primary", PRIMARY_LISTING.replace("syncdev: vio1 maxupd", "syncdev: vio1 syncpeer: 192.168.254.9 maxupd"));
    const [problem] = parityProblems(wrong, host("secondary", SECONDARY_LISTING), LINKS, settings);
    expect([problem?.status, problem?.summary]).toEqual(["CRITICAL", "pfsync0 on primary: syncpeer 192.168.254.9 is not the secondary's"]);
    const right = host("primary", PRIMARY_LISTING.replace("syncdev: vio1 maxupd", "syncdev: vio1 syncpeer: 192.168.254.1 maxupd"));
    expect(parityProblems(right, host("secondary", SECONDARY_LISTING), LINKS, settings)).toEqual([]);
  });

  it("reads `ifconfig SYNCDEV` failing with no such interface as a missing syncdev, other failures as errors", () => {
    const answer = (exitCode: number, stderr: string): Parameters<typeof readSyncdevLink>[2] => ({ command: "/sbin/ifconfig vio9", exitCode, stdout: "", stderr });
    expect(readSyncdevLink("primary", "vio9", answer(1, "ifconfig: vio9: no such interface\n"))).toBe("missing");
    expect(() => readSyncdevLink("primary", "vio9", answer(1, "ifconfig: permission denied\n"))).toThrow();
  });
});

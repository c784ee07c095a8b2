import { describe, expect, it } from "vitest";
import { decideCarpInterfaces, type CarpFilesHost } from "../../../src/checks/carp-interfaces.js";
import type { Role } from "../../../src/lib/runtime/config.js";
import type { FileFacts } from "../../../src/lib/facts/files.js";
import { formatText, toJson, type Result } from "../../../src/lib/runtime/result.js";

// hostname.carpN files as an admin writes them: the primary's copied to the secondary with
// advskew 250 and, where the NICs differ, another carpdev.
const SECRET = "Zq8-carp-pass";
const WAN_PRIMARY = `inet 192.168.0.103 255.255.255.0 NONE vhid 1 carpdev re0 advskew 0 pass ${SECRET}\nup\n`;
const WAN_SECONDARY = `# copied from the primary\ninet 192.168.0.103/24\nvhid 1 pass ${SECRET} carpdev em0 advskew 250\nup\n`;
const USERS_PRIMARY = `inet 192.168.120.103 255.255.255.0 NONE vhid 120 carpdev vlan120 advskew 0 pass ${SECRET}\ndescription "users"\n`;
const USERS_SECONDARY = `inet 192.168.120.103 255.255.255.0 NONE vhid 120 carpdev vlan120 advskew 250 pass ${SECRET}\ndescription "users"\n`;

const file = (name: string, content: string): FileFacts => ({ path: `/etc/${name}`, type: "file", mode: 0o640, uid: 0, gid: 0, size: content.length, sha256: "0".repeat(64), binary: false, content });

function host(role: Role, files: Record<string, string>, live: string[] = Object.keys(files).map((name) => name.replace("hostname.", ""))): CarpFilesHost {
  return { role, files: Object.entries(files).map(([name, content]) => file(name, content)), liveInterfaces: live };
}

const MAPPING = { re0: "em0" };

function decide(
  primaryFiles: Record<string, string>,
  secondaryFiles: Record<string, string>,
  options: { map?: Record<string, string>; ignore?: string[]; livePrimary?: string[]; liveSecondary?: string[] } = {},
): Result {
  return decideCarpInterfaces({
    primary: host("primary", primaryFiles, options.livePrimary),
    secondary: host("secondary", secondaryFiles, options.liveSecondary),
    hostSpecificInterfaces: options.map ?? MAPPING,
    ignore: options.ignore ?? [],
  });
}

function everyOutput(res: Result): string {
  return [formatText(res, false), formatText(res, true), JSON.stringify(toJson(res, { check: "carp_interfaces", host: "gw1", durationMs: 1 }))].join("\n");
}

const HEALTHY_PRIMARY = { "hostname.carp0": WAN_PRIMARY, "hostname.carp120": USERS_PRIMARY };
const HEALTHY_SECONDARY = { "hostname.carp0": WAN_SECONDARY, "hostname.carp120": USERS_SECONDARY };

describe("decideCarpInterfaces", () => {
  it("OK when the files agree, through the declared re0 -> em0 carpdev, whatever their layout and advskew", () => {
    const res = decide(HEALTHY_PRIMARY, HEALTHY_SECONDARY);
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("2 hostname.carpN files agree between the hosts");
    expect(res.details).toEqual(["hostname.carp0: vhid 1, inet 192.168.0.103/24, carpdev re0/em0", "hostname.carp120: vhid 120, inet 192.168.120.103/24, carpdev vlan120"]);
  });

  it("CRITICAL for carpdev re0 vs em0 without the declaration, with a hint", () => {
    const res = decide(HEALTHY_PRIMARY, HEALTHY_SECONDARY, { map: {} });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("hostname.carp0 carpdev differs");
    expect(res.details[0]).toBe('hostname.carp0: carpdev re0 on primary, em0 on secondary (if the hosts\' NICs differ, declare [host_specific] interfaces = { re0 = "em0" })');
  });

  it("CRITICAL when the secondary's carpdev is not the declared one", () => {
    const res = decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp0": WAN_SECONDARY.replace("em0", "em1") });
    expect(res.details[0]).toBe("hostname.carp0: carpdev re0 on primary, em1 on secondary (expected em0 per [host_specific] interfaces)");
  });

  it("CRITICAL naming a file that exists on one host only", () => {
    const res = decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp130": USERS_SECONDARY.replaceAll("120", "130") });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("hostname.carp130 only on secondary");
    expect(res.details[0]).toBe("/etc/hostname.carp130 exists on the secondary only");
  });

  it("CRITICAL when the pass differs, and never shows either pass", () => {
    const res = decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp0": WAN_SECONDARY.replace(SECRET, "other-secret") });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("hostname.carp0 pass differs");
    expect(res.details[0]).toBe("hostname.carp0: pass differs between the hosts (values not shown; carp incorrect hash)");
    expect(everyOutput(res)).not.toMatch(/Zq8-carp-pass|other-secret/);
  });

  it("CRITICAL when the pass is set on one host only", () => {
    const res = decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp0": WAN_SECONDARY.replace(`pass ${SECRET} `, "") });
    expect(res.details[0]).toBe("hostname.carp0: pass set on the primary only (carp incorrect hash)");
    expect(everyOutput(res)).not.toContain(SECRET);
  });

  it("CRITICAL for a differing vhid, address or netmask; a netmask written another way is the same", () => {
    expect(decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp120": USERS_SECONDARY.replace("vhid 120", "vhid 12") }).details[0]).toBe(
      "hostname.carp120: vhid 120 on primary, 12 on secondary",
    );
    expect(decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp120": USERS_SECONDARY.replace("192.168.120.103", "192.168.120.104") }).summary).toBe("hostname.carp120 address differs");
    const netmask = decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp120": USERS_SECONDARY.replace("255.255.255.0", "255.255.255.128") });
    expect(netmask.summary).toBe("hostname.carp120 netmask differs");
    expect(netmask.details[0]).toBe("hostname.carp120: inet 192.168.120.103/24 on primary, inet 192.168.120.103/25 on secondary");
    expect(decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp120": USERS_SECONDARY.replace("255.255.255.0 NONE", "0xffffff00") }).status).toBe("OK");
  });

  it("CRITICAL for a differing advbase, with OpenBSD's default 1 for an advbase not written", () => {
    expect(decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp120": `${USERS_SECONDARY}advbase 1\n` }).status).toBe("OK");
    expect(decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp120": `${USERS_SECONDARY}advbase 5\n` }).summary).toBe("hostname.carp120 advbase differs");
  });

  it("accepts advbase 0 on both hosts, and compares it like any advbase", () => {
    expect(decide({ ...HEALTHY_PRIMARY, "hostname.carp120": `${USERS_PRIMARY}advbase 0\n` }, { ...HEALTHY_SECONDARY, "hostname.carp120": `${USERS_SECONDARY}advbase 0\n` }).status).toBe("OK");
    expect(decide({ ...HEALTHY_PRIMARY, "hostname.carp120": `${USERS_PRIMARY}advbase 0\n` }, HEALTHY_SECONDARY).summary).toBe("hostname.carp120 advbase differs");
  });

  it("WARNING when the files' groups differ (a demotion of that group moves one host only); the same groups agree", () => {
    const withGroup = { ...HEALTHY_PRIMARY, "hostname.carp120": `${USERS_PRIMARY}group internal\n` };
    expect(decide(withGroup, { ...HEALTHY_SECONDARY, "hostname.carp120": `${USERS_SECONDARY}group internal\n` }).status).toBe("OK");
    const res = decide(withGroup, HEALTHY_SECONDARY);
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("hostname.carp120 groups differ");
    expect(formatText(res, true)).toContain("groups internal on primary, none on secondary");
  });

  it("reads dest lines and inet6 flags, and sees a differing dest address", () => {
    const p2p = (dest: string) => `inet 10.99.0.1 255.255.255.252\ndest ${dest}\ninet6 2001:db8::1 64 anycast\nvhid 99 carpdev em1 pass ${SECRET}\n`;
    expect(decide({ "hostname.carp99": p2p("10.99.0.2") }, { "hostname.carp99": p2p("10.99.0.2") }, { map: {} }).status).toBe("OK");
    expect(decide({ "hostname.carp99": p2p("10.99.0.2") }, { "hostname.carp99": p2p("10.99.0.3") }, { map: {} }).summary).toBe("hostname.carp99 address differs");
  });

  it("CRITICAL for a file with no live interface on its host", () => {
    const res = decide(HEALTHY_PRIMARY, HEALTHY_SECONDARY, { liveSecondary: ["carp0"] });
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("hostname.carp120 on secondary: no live carp120");
  });

  it("WARNING for a live carp interface with no file (gone after a reboot)", () => {
    const res = decide(HEALTHY_PRIMARY, HEALTHY_SECONDARY, { livePrimary: ["carp0", "carp120", "carp5"] });
    expect(res.status).toBe("WARNING");
    expect(res.summary).toBe("carp5 on primary has no hostname.carp5");
  });

  it("lists every problem, worst first, within monit's 500 bytes", () => {
    const res = decide(
      { ...HEALTHY_PRIMARY, "hostname.carp2": USERS_PRIMARY },
      { "hostname.carp0": WAN_SECONDARY.replace(SECRET, "x"), "hostname.carp120": USERS_SECONDARY.replace("vhid 120", "vhid 121"), "hostname.carp3": USERS_SECONDARY },
      { map: {} },
    );
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("hostname.carp0 pass differs (+4 more)");
    expect(res.details.slice(0, 5)).toEqual([
      "hostname.carp0: pass differs between the hosts (values not shown; carp incorrect hash)",
      'hostname.carp0: carpdev re0 on primary, em0 on secondary (if the hosts\' NICs differ, declare [host_specific] interfaces = { re0 = "em0" })',
      "hostname.carp120: vhid 120 on primary, 121 on secondary",
      "/etc/hostname.carp2 exists on the primary only",
      "/etc/hostname.carp3 exists on the secondary only",
    ]);
    expect(Buffer.byteLength(formatText(res, false))).toBeLessThanOrEqual(500);
    expect(everyOutput(res)).not.toContain(SECRET);
  });

  it("UNKNOWN naming file and line for a file it cannot parse, never its text", () => {
    const res = decide(HEALTHY_PRIMARY, { ...HEALTHY_SECONDARY, "hostname.carp0": `inet 192.168.0.103/24\nvhid 1 passwd ${SECRET}\n` });
    expect(res.status).toBe("UNKNOWN");
    expect(res.summary).toBe("cannot parse /etc/hostname.carp0 on secondary line 2");
    expect(everyOutput(res)).not.toContain(SECRET);
  });

  it("keeps CRITICAL when another file differs, with the unparseable one in the details", () => {
    const res = decide({ ...HEALTHY_PRIMARY, "hostname.carp2": USERS_PRIMARY }, { ...HEALTHY_SECONDARY, "hostname.carp0": "vhid 1 bogus\n" });
    expect(res.status).toBe("CRITICAL");
    expect(res.details).toContain("cannot parse /etc/hostname.carp0 on secondary line 1: word 3 is not a hostname.if keyword this check knows");
  });

  it("UNKNOWN for a file it cannot read as text", () => {
    const primary = host("primary", HEALTHY_PRIMARY);
    const binary: FileFacts = { path: "/etc/hostname.carp0", type: "file", size: 10, binary: true };
    const res = decideCarpInterfaces({
      primary,
      secondary: { role: "secondary", files: [binary, file("hostname.carp120", USERS_SECONDARY)], liveInterfaces: ["carp0", "carp120"] },
      hostSpecificInterfaces: MAPPING,
      ignore: [],
    });
    expect(res.status).toBe("UNKNOWN");
    expect(res.details[0]).toBe("cannot read /etc/hostname.carp0 on secondary: it is not a text file");
  });

  it("leaves out ignored interfaces and files that netstart does not read", () => {
    const res = decide({ ...HEALTHY_PRIMARY, "hostname.carp9": USERS_PRIMARY, "hostname.carp0.orig": "garbage garbage" }, HEALTHY_SECONDARY, {
      ignore: ["carp9"],
      livePrimary: ["carp0", "carp120", "carp9"],
    });
    expect(res.status).toBe("OK");
  });

  it("OK with no files and no carp interface on either host", () => {
    expect(decide({}, {}).summary).toBe("no hostname.carpN files on either host");
  });
});

import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ParseError } from "../../../../src/lib/runtime/errors.js";
import { CarpPass, parseHostnameIf } from "../../../../src/lib/parse/hostname-if.js";

const WHAT = "/etc/hostname.carp0 on primary";

function parseError(text: string): ParseError {
  try {
    parseHostnameIf(text, WHAT);
  } catch (error) {
    expect(error).toBeInstanceOf(ParseError);
    return error as ParseError;
  }
  throw new Error("expected a ParseError, got a result");
}

describe("parseHostnameIf", () => {
  it("reads the one-line form with positional netmask and NONE broadcast", () => {
    const parsed = parseHostnameIf("inet 192.168.0.103 255.255.255.0 NONE vhid 1 carpdev re0 advskew 0 pass secret\n", WHAT);
    expect(parsed.addresses).toEqual([{ family: "inet", address: "192.168.0.103", prefixLength: 24, destination: null, line: 1 }]);
    expect(parsed).toMatchObject({ vhid: 1, carpdev: "re0", advskew: 0, advbase: null, balancing: null, adminState: null });
    expect(parsed.pass?.equals(new CarpPass("secret"))).toBe(true);
    expect(parsed.pass?.equals(new CarpPass("Secret"))).toBe(false);
  });

  it("takes keywords in any order over several lines, with comments, quotes, up and !commands", () => {
    const text = [
      "# managed by carpentry",
      "vhid 1 pass 'two words' carpdev em0 advskew 100",
      "",
      "inet 192.168.0.103/24 # wan",
      '\tdescription "WAN carp"  up',
      "!route add default 192.168.0.1",
      "advbase 2",
    ].join("\n");
    const parsed = parseHostnameIf(text, WHAT);
    expect(parsed).toMatchObject({ vhid: 1, carpdev: "em0", advskew: 100, advbase: 2, description: "WAN carp", adminState: "up", commandLines: 1 });
    expect(parsed.addresses).toEqual([{ family: "inet", address: "192.168.0.103", prefixLength: 24, destination: null, line: 4 }]);
    expect(parsed.pass?.equals(new CarpPass("two words"))).toBe(true);
  });

  it("reads hex and keyword netmasks, inet alias, inet6 with a positional prefix length", () => {
    const parsed = parseHostnameIf(["inet 10.0.0.1 0xffff0000 10.0.255.255", "inet alias 10.1.0.1 netmask 255.255.255.128", "inet6 2001:db8::1 64", "inet6 autoconf", "vhid 7"].join("\n"), WHAT);
    expect(parsed.addresses.map((a) => `${a.family} ${a.address}/${a.prefixLength}`)).toEqual(["inet 10.0.0.1/16", "inet 10.1.0.1/25", "inet6 2001:db8::1/64"]);
  });

  it("keeps a missing netmask as null, and the last of a setting given twice", () => {
    const parsed = parseHostnameIf("inet 10.0.0.1\nvhid 3\nvhid 4\n", WHAT);
    expect(parsed.addresses[0]?.prefixLength).toBeNull();
    expect(parsed.vhid).toBe(4);
  });

  it("reads the balancing form's carpnodes", () => {
    const parsed = parseHostnameIf("inet 192.0.2.19 255.255.255.0 192.0.2.255 balancing ip carpnodes 5:0,6:100 carpdev vr0 pass mekmitasdigoat\n", WHAT);
    expect(parsed.balancing).toBe("ip");
    expect(parsed.carpnodes).toEqual([
      { vhid: 5, advskew: 0 },
      { vhid: 6, advskew: 100 },
    ]);
  });

  it("reads CRLF files", () => {
    expect(parseHostnameIf("vhid 9\r\ninet 10.0.0.1/8\r\n", WHAT)).toMatchObject({ vhid: 9 });
  });

  it("rejects unknown words with the line number, never the word or the line", () => {
    const error = parseError("inet 10.0.0.1/24\nvhid 1 pas s3cr3t carpdev em0\n");
    expect(error.lineNumber).toBe(2);
    expect(error.summary).toBe(`cannot parse ${WHAT} line 2`);
    expect(error.lineText).toBeUndefined();
    expect(`${error.message} ${error.detail}`).not.toMatch(/s3cr3t|pas\b/);
  });

  it("rejects bad values without echoing them", () => {
    expect(parseError("vhid 256").detail).toBe("vhid needs a number from 1 to 255");
    expect(parseError("vhid 2x5").detail).toBe("vhid needs a number from 1 to 255");
    expect(parseError("advskew 255").lineNumber).toBe(1);
    expect(parseError("carpdev 'em 0'").detail).toMatch(/carpdev needs an interface name/);
    expect(parseError("inet 10.0.0.300/24").detail).toMatch(/IPv4 address/);
    expect(parseError("inet 10.0.0.1/33").detail).toMatch(/prefix/);
    expect(parseError("netmask 255.0.255.0").detail).toMatch(/netmask/);
    expect(parseError("carpnodes 5:0,6").detail).toMatch(/carpnodes/);
    expect(parseError("balancing round-robin").detail).toMatch(/balancing needs one of/);
  });

  it("rejects a pass with no value and an unterminated quote without showing the secret", () => {
    expect(parseError("vhid 1\npass").lineNumber).toBe(2);
    const error = parseError("pass 'hunter2");
    expect(error.detail).toBe("unterminated quote");
    expect(error.message).not.toContain("hunter2");
  });

  it("never shows a pass when printed, serialised or inspected", () => {
    const parsed = parseHostnameIf("vhid 1 pass hunter2\n", WHAT);
    expect(JSON.stringify(parsed)).not.toContain("hunter2");
    expect(String(parsed.pass)).toBe("<secret>");
    expect(inspect(parsed, { depth: 5, showHidden: true })).not.toContain("hunter2");
  });
});

describe("parseHostnameIf on files derived from ifconfig.c and netstart (test/fixtures/openbsd/README.md)", () => {
  const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/openbsd/${name}`, import.meta.url), "utf8");

  it("accepts advbase 0, as ifconfig does (0 to 254), and refuses 255", () => {
    expect(parseHostnameIf(fixture("derived_hostname_carp_advbase0.txt"), WHAT)).toMatchObject({ vhid: 203, advbase: 0, advskew: 0, carpdev: "vio2" });
    expect(parseError("advbase 255").detail).toBe("advbase needs a number from 0 to 254");
  });

  it("reads inet6 addresses with their flags (anycast, pltime, vltime, temporary, ...) instead of refusing them", () => {
    const parsed = parseHostnameIf(fixture("derived_hostname_carp_inet6_flags.txt"), WHAT);
    expect(parsed.addresses.map((a) => `${a.address}/${a.prefixLength}`)).toEqual(["2001:db8:203::1/64", "2001:db8:203::2/64", "2001:db8:203::3/64"]);
    expect(parsed).toMatchObject({ vhid: 204, carpdev: "vio2", adminState: "up" });
    expect(parseError("inet6 2001:db8::1 64 pltime forever").detail).toMatch(/pltime needs a number/);
  });

  it("gives a dest line's address to the address before it", () => {
    const parsed = parseHostnameIf(fixture("derived_hostname_carp_dest.txt"), WHAT);
    expect(parsed.addresses).toEqual([{ family: "inet", address: "10.99.0.1", prefixLength: 30, destination: "10.99.0.2", line: 2 }]);
    expect(parseError("dest 10.0.0.2\n").detail).toMatch(/dest needs one address/);
    expect(parseError("inet 10.0.0.1/30\ndest 10.0.0.2 10.0.0.3\n").lineNumber).toBe(2);
    expect(parseError("inet 10.0.0.1/30\ndest 2001:db8::2\n").detail).toMatch(/IPv4/);
  });

  it("keeps the groups a file adds, less those it removes", () => {
    expect(parseHostnameIf(fixture("derived_hostname_carp_group.txt"), WHAT).groups).toEqual(["internal"]);
    expect(parseHostnameIf("vhid 1\n", WHAT).groups).toEqual([]);
    expect(parseError("group internal0").detail).toMatch(/not ending in a digit/);
  });
});

import { describe, expect, it } from "vitest";
import { ParseError } from "../../../../src/lib/runtime/errors.js";
import { normalizeTableEntry, parsePfInfo, parseStates, parseTableList } from "../../../../src/lib/parse/pfctl.js";
import { fixture, expectParseError } from "../../../support/fixtures.js";

/** Every cut inside a line must fail; returns the results of the cuts at line ends. */
function everyCut<T>(text: string, parse: (t: string) => T): T[] {
  const results: T[] = [];
  for (let cut = 1; cut < text.length; cut++) {
    const part = text.slice(0, cut);
    if (!part.endsWith("\n")) {
      expectParseError(() => parse(part));
      continue;
    }
    try {
      results.push(parse(part));
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
    }
  }
  return results;
}

describe("parsePfInfo", () => {
  it("OpenBSD 7.x -si (derived)", () => {
    const info = parsePfInfo(fixture("derived_pfctl_si_openbsd7.txt"));
    expect(info.enabled).toBe(true);
    expect(info.statusLine).toBe("Enabled for 12 days 03:04:05");
    expect(info.runtimeSeconds).toBe(12 * 86400 + 3 * 3600 + 4 * 60 + 5);
    expect(info.debug).toBe("err");
    expect(info.hostid).toBeNull();
    expect(info.states).toEqual({ currentEntries: 412, halfOpenTcp: 3, searches: 52345678, inserts: 834567, removals: 834155 });
    expect(Object.keys(info.counters)).toHaveLength(17);
    expect(info.counters["state-mismatch"]).toBe(118);
    expect(info.counters["no-route"]).toBe(0);
    expect(info.limitCounters).toEqual({});
    expect(info.interfaceStats).toBeNull();
  });

  it("OpenBSD 7.x -vsi (derived)", () => {
    const info = parsePfInfo(fixture("derived_pfctl_vsi_openbsd7.txt"));
    expect(info.hostid).toBe("0x5e1f0a3c");
    expect(info.checksum).toBe("0x8a1f3c9e2b7d4e6f0a1b2c3d4e5f6071");
    expect(info.states.currentEntries).toBe(412);
    expect(info.sections["Source Tracking Table"]?.["current entries"]).toBe(0);
    expect(info.sections["Fragments"]?.["searches"]).toBe(15);
    expect(info.limitCounters["synfloods detected"]).toBe(0);
    expect(Object.keys(info.limitCounters)).toHaveLength(10);
    expect(info.sections["Adaptive Syncookies Watermarks"]).toEqual({ start: 25000, end: 12500 });
  });

  it("FreeBSD -vvs info (shape only)", () => {
    const info = parsePfInfo(fixture("freebsd_pfctl_vvs_info_tykling.txt"));
    expect(info.debug).toBe("Urgent");
    expect(info.runtimeSeconds).toBe(25 * 86400 + 16 * 3600 + 23 * 60 + 32);
    expect(info.states).toEqual({ currentEntries: 2, halfOpenTcp: null, searches: 5165885, inserts: 94115, removals: 94113 });
    expect(info.hostid).toBe("0x68d01842");
    expect(info.counters["map-failed"]).toBe(0);
    expect(info.sections["Source Tracking Table"]?.["current entries"]).toBe(0);
    expect(info.limitCounters["max states per rule"]).toBe(0);
  });

  it("FreeBSD -s info with a loginterface block", () => {
    const info = parsePfInfo(fixture("freebsd_pfctl_s_info_telegraf.txt"));
    expect(info.states.currentEntries).toBe(649);
    expect(info.states.searches).toBe(18421725761);
    expect(info.counters["match"]).toBe(473002784);
    expect(info.interfaceStats).toEqual({
      name: "re1",
      rows: {
        "Bytes In": { ipv4: 2585823744614, ipv6: 1059233657221 },
        "Bytes Out": { ipv4: 1227266932673, ipv6: 3274698578875 },
        "Packets In Passed": { ipv4: 2289953086, ipv6: 1945437219 },
        "Packets In Blocked": { ipv4: 392835739, ipv6: 48609 },
        "Packets Out Passed": { ipv4: 1649146326, ipv6: 2605569054 },
        "Packets Out Blocked": { ipv4: 107, ipv6: 0 },
      },
    });
  });

  it("Status: Disabled without duration", () => {
    const text = fixture("derived_pfctl_si_openbsd7.txt").replace(/^Status: Enabled for 12 days 03:04:05 +/, "Status: Disabled" + " ".repeat(28));
    const info = parsePfInfo(text);
    expect(info.enabled).toBe(false);
    expect(info.runtimeSeconds).toBeNull();
  });

  it("missing current entries, other output, damage", () => {
    const text = fixture("derived_pfctl_si_openbsd7.txt");
    expectParseError(() => parsePfInfo(text.replace(/^ {2}current entries.*\n/m, "")));
    expectParseError(() => parsePfInfo(""));
    expectParseError(() => parsePfInfo(fixture("freebsd_pfctl_s_Tables_mondoo.txt")), 1);
    expectParseError(() => parsePfInfo(text.replace("Debug: err", "Debug: loud")), 1);
    expectParseError(() => parsePfInfo(text.replace("state-mismatch                       118", "state-mismatch                       1x8")), 20);
    // a counter row that lost its rate was cut inside the number
    expectParseError(() => parsePfInfo(text.replace("  match                             901234            0.9/s", "  match                             9012")), 10);
    expect(parsePfInfo(text.replaceAll("\n", "\r\n"))).toEqual(parsePfInfo(text));
  });

  it("every truncation is an error or exact", () => {
    const text = fixture("derived_pfctl_si_openbsd7.txt");
    const full = parsePfInfo(text);
    for (const got of everyCut(text, parsePfInfo)) {
      expect(got.states).toEqual(full.states);
      for (const [k, v] of Object.entries(got.counters)) expect(full.counters[k]).toBe(v);
    }
  });
});

describe("parseTableList", () => {
  it("-vsT (derived)", () => {
    const list = parseTableList(fixture("derived_pfctl_vsT_openbsd7.txt"));
    expect(list.map((t) => t.name)).toEqual(["bruteforce", "carp_peers", "trusted", "webservers"]);
    expect(list[1]).toEqual({
      name: "carp_peers",
      anchor: null,
      const: true,
      persist: true,
      active: true,
      inactive: false,
      referenced: false,
      referencedByAnchor: false,
      counters: false,
      stats: null,
    });
    expect(list[0]?.referenced).toBe(true);
    expect(list[3]?.referencedByAnchor).toBe(true);
  });

  it("-vsT: a name with a space stays one name; only a TAB starts the anchor (derived)", () => {
    const list = parseTableList(fixture("derived_pfctl_vsT_name_with_space.txt"));
    expect(list.map((t) => [t.name, t.anchor])).toEqual([
      ["my hosts", null],
      ["bruteforce", null],
      ["spamd white", "ftp-proxy/12345.1"],
    ]);
  });

  it("-vvsT OpenBSD (derived, with In/Match and Out/Match)", () => {
    const list = parseTableList(fixture("derived_pfctl_vvsT_openbsd7.txt"));
    expect(list).toHaveLength(4);
    const brute = list[0];
    expect(brute?.stats?.addresses).toBe(2);
    expect(brute?.stats?.cleared).toBe("Mon Mar  3 09:15:02 2025");
    expect(brute?.stats?.ruleReferences).toBe(2);
    expect(brute?.stats?.evaluationsNoMatch).toBe(1520);
    expect(brute?.stats?.evaluationsMatch).toBe(17);
    expect(Object.keys(brute?.stats?.traffic ?? {})).toHaveLength(8);
    expect(brute?.stats?.traffic["In/Block"]).toEqual({ packets: 17, bytes: 1020 });
    expect(list[2]?.stats?.traffic["Out/Pass"]).toEqual({ packets: 1006, bytes: 60360 });
  });

  it("-vvsT FreeBSD (6 traffic rows)", () => {
    const list = parseTableList(fixture("freebsd_pfctl_vvs_Tables_tykling.txt"));
    expect(list.map((t) => [t.name, t.persist, t.referenced, t.stats?.addresses])).toEqual([
      ["allowssh", false, true, 12],
      ["nuc2", false, true, 1],
      ["portknock", true, false, 0],
      ["prometheus6", false, true, 1],
    ]);
    expect(list[1]?.stats?.traffic["Out/Pass"]).toEqual({ packets: 661462, bytes: 830514949 });
  });

  it("damaged -vsT / -vvsT", () => {
    expectParseError(() => parseTableList("--a-x--\tbruteforce\n"), 1);
    expectParseError(() => parseTableList("\tAddresses:   2\n"), 1);
    const vv = fixture("derived_pfctl_vvsT_openbsd7.txt");
    expectParseError(() => parseTableList(vv.replace("Rules: 2 ", "Rulez: 2 ")), 4);
    // one traffic row missing = cut listing
    expectParseError(() => parseTableList(vv.replace(/^\tOut\/XPass:.*\n/m, "")));
    const tabsToSpaces = parseTableList(fixture("derived_pfctl_vsT_openbsd7.txt").replaceAll("\t", "    "));
    expect(tabsToSpaces).toEqual(parseTableList(fixture("derived_pfctl_vsT_openbsd7.txt")));
    for (const got of everyCut(vv, parseTableList)) {
      for (const t of got) if (t.stats !== null) expect(Object.keys(t.stats.traffic)).toHaveLength(8);
    }
  });
});

describe("normalizeTableEntry", () => {
  // `pfctl -T show` output as compare-tables reads it: each non-empty line, null where it holds no entry.
  const showEntries = (text: string): (string | null)[] =>
    text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map(normalizeTableEntry);
  it("OpenBSD show (one IPv4 host)", () => {
    expect(showEntries(fixture("pfctl_t_bruteforce_T_show_openbsd_noqqe.txt"))).toEqual(["69.110.96.21"]);
  });
  it("FreeBSD show (host and /24)", () => {
    expect(showEntries(fixture("freebsd_pfctl_t_bruteforce_T_show_mondoo.txt"))).toEqual(["192.0.2.10", "198.51.100.0/24"]);
  });
  it("negated and IPv6 entries (derived)", () => {
    expect(showEntries(fixture("derived_pfctl_t_T_show_negated_ipv6.txt"))).toEqual(["10.0.0.1", "!10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "!2001:db8:1::5", "fe80::1"]);
  });
  it("expire output (stderr count, D feedback lines) is not show output", () => {
    expect(showEntries(fixture("pfctl_vt_bruteforce_T_expire_3600_openbsd_noqqe.txt"))[0]).toBeNull();
    expect(showEntries(fixture("pfctl_vt_bruteforce_T_expire_600_openbsd_noqqe.txt"))[0]).toBeNull();
    expect(normalizeTableEntry("D  69.110.96.21")).toBeNull();
  });
  it("normalizes", () => {
    expect(normalizeTableEntry("   10.0.0.1/32")).toBe("10.0.0.1");
    expect(normalizeTableEntry("   2001:0DB8:0:0::1/128")).toBe("2001:db8::1");
    expect(normalizeTableEntry("  !2001:DB8::/32")).toBe("!2001:db8::/32");
    expect(normalizeTableEntry("   10.0.0.1\t(host.example.org)")).toBe("10.0.0.1");
    expect(normalizeTableEntry("   10.0.0.1@em0")).toBe("10.0.0.1@em0");
    expect(normalizeTableEntry("10.0.0.1\r")).toBe("10.0.0.1");
    for (const bad of ["", "   10.0.0", "   10.0.0.1/33", "   2001:db8::/129", "   999.1.1.1", "   host.example.org", "  !!10.0.0.1", "   10.0.0.1 junk"]) {
      expect(normalizeTableEntry(bad)).toBeNull();
    }
  });
});

describe("parseStates", () => {
  it("7.x -ss lines (derived)", () => {
    const states = parseStates(fixture("derived_pfctl_ss_openbsd7.txt"));
    expect(states).toHaveLength(8);
    expect(states[0]).toEqual({
      line: 1,
      ifname: "all",
      proto: "tcp",
      wire: ["10.112.203.254:22", "10.112.203.10:51234"],
      stack: [null, null],
      direction: "<-",
      stateText: "ESTABLISHED:ESTABLISHED",
    });
    expect(states[1]?.wire).toEqual(["95.163.182.60:61012", "198.51.100.10:443"]);
    expect(states[1]?.stack).toEqual(["10.112.203.20:44120", null]);
    expect(states[1]?.direction).toBe("->");
    expect(states.map((s) => s.stateText)).toContain("FIN_WAIT_2:FIN_WAIT_2");
    expect(states[6]?.wire).toEqual(["2001:db8::1[53]", "2001:db8::20[40112]"]);
    expect(states[7]?.stateText).toBe("PROXY:SRC");
  });

  it("-vvss lines (derived): age, counters, id, creatorid", () => {
    const states = parseStates(fixture("derived_pfctl_vvss_openbsd7.txt"));
    expect(states).toHaveLength(3);
    expect(states[0]).toMatchObject({
      proto: "udp",
      stateText: "MULTIPLE:SINGLE",
      ageSeconds: 12,
      expiresSeconds: 48,
      packets: [2, 1],
      bytes: [142, 210],
      rule: 7,
      stateFlags: [],
      id: "6a1f00000000a3c1",
      creatorid: "5e1f0a3c",
    });
    expect(states[1]?.ageSeconds).toBe(26 * 3600 + 14 * 60 + 3);
    expect(states[2]).toMatchObject({ anchor: 0, rule: 2, stateFlags: ["sloppy"], creatorid: "7b2e91d4" });
  });

  it("TCP sequence line (-v, print_seq), ICMP numeric states, rdomain prefix", () => {
    const text = [
      "all tcp 10.0.0.1:22 <- 10.0.0.2:5555       ESTABLISHED:ESTABLISHED",
      "   [1234567890 + 65535](+1234) wscale 7  [987654321 + 65535] wscale 7",
      "   age 01:02:03, expires in 23:59:58, 10:12 pkts, 1000:2000 bytes, rule 4",
      "   id: 00000000deadbeef creatorid: 0a0b0c0d",
      "all icmp 10.0.0.1:3012 -> 10.0.0.9:3012       0:0",
      "em0 tcp (1) 10.0.0.1:80 <- (1) 10.0.0.3:4000       SYN_SENT:ESTABLISHED",
      "",
    ].join("\n");
    const states = parseStates(text);
    expect(states.map((s) => s.stateText)).toEqual(["ESTABLISHED:ESTABLISHED", "0:0", "SYN_SENT:ESTABLISHED"]);
    expect(states[0]?.ageSeconds).toBe(3723);
    expect(states[2]?.wire).toEqual(["(1) 10.0.0.1:80", "(1) 10.0.0.3:4000"]);
    expect(states[2]?.ifname).toBe("em0");
  });

  it("empty state table", () => {
    expect(parseStates("")).toEqual([]);
  });

  it("the pre-4.7 FAQ sample is not 7.x output", () => {
    expectParseError(() => parseStates(fixture("pfctl_s_state_faq_LEGACY.txt")), 1);
  });

  it("damaged lines", () => {
    const ss = fixture("derived_pfctl_ss_openbsd7.txt");
    expectParseError(() => parseStates(ss.replace("<- 10.112.203.10:51234", "<= 10.112.203.10:51234")), 1);
    expectParseError(() => parseStates(ss.replace("ESTABLISHED:ESTABLISHED", "ESTABLISHED")), 1);
    const vv = fixture("derived_pfctl_vvss_openbsd7.txt");
    expectParseError(() => parseStates(vv.replace("creatorid: 5e1f0a3c", "creatorid: 5e1f0a")), 3);
    expectParseError(() => parseStates(vv.replace("rule 7", "rule x")), 2);
    expectParseError(() => parseStates("   age 00:00:01, expires in 00:00:29, 1:0 pkts, 74:0 bytes\n"), 1);
    expect(parseStates(vv.replaceAll("\n", "\r\n"))).toEqual(parseStates(vv));
    const full = parseStates(vv);
    for (const got of everyCut(vv, parseStates)) {
      got.forEach((s, i) => {
        const whole = full[i];
        expect(s.wire).toEqual(whole?.wire);
        if (s.ageSeconds !== undefined) expect(s.packets).toEqual(whole?.packets);
        if (s.id !== undefined) expect(s.creatorid).toBe(whole?.creatorid);
      });
    }
  });
});

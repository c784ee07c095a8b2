import { describe, expect, it } from "vitest";
import { parseProtocolStats } from "../../../../src/lib/parse/netstat.js";
import { fixture, expectParseError } from "../../../support/fixtures.js";

describe("parseProtocolStats", () => {
  it("netstat -sp carp (derived): singular rows get plural keys", () => {
    const s = parseProtocolStats(fixture("derived_netstat_sp_carp.txt"));
    expect(s.protocol).toBe("carp");
    expect(s.unrecognized).toEqual([]);
    expect(Object.keys(s.counters)).toHaveLength(15);
    expect(s.counters["packets received (IPv4)"]).toBe(1048573);
    expect(s.counters["discarded for bad checksums"]).toBe(1); // printed "bad checksum"
    expect(s.counters["transitions to master"]).toBe(1); // printed "1 transition to master"
    expect(s.counters["discarded for unknown vhid"]).toBe(14);
    expect(s.fields["carps_preempt"]).toBe(1);
    expect(s.fields["carps_badvhid"]).toBe(14);
  });
  it("netstat -ssp carp (derived): zero rows suppressed, same keys", () => {
    const full = parseProtocolStats(fixture("derived_netstat_sp_carp.txt"));
    const ss = parseProtocolStats(fixture("derived_netstat_ssp_carp.txt"));
    expect(Object.keys(ss.counters)).toHaveLength(5);
    for (const [k, v] of Object.entries(ss.counters)) expect(full.counters[k]).toBe(v);
  });
  it("netstat -sp pfsync (derived)", () => {
    const s = parseProtocolStats(fixture("derived_netstat_sp_pfsync.txt"));
    expect(s.protocol).toBe("pfsync");
    expect(s.unrecognized).toEqual([]);
    expect(Object.keys(s.fields)).toHaveLength(16);
    expect(s.counters["stale states"]).toBe(12);
    expect(s.counters["failed state lookup/inserts"]).toBe(1); // printed singular
    expect(s.counters["send error"]).toBe(0);
    expect(s.fields["pfsyncs_opackets"]).toBe(530440);
  });
  it("the key does not depend on the value", () => {
    const one = parseProtocolStats("carp:\n\t1 packet received (IPv4)\n");
    const two = parseProtocolStats("carp:\n\t2 packets received (IPv4)\n");
    expect(Object.keys(one.counters)).toEqual(Object.keys(two.counters));
    // wrong plural for the value is not a known row
    expect(parseProtocolStats("carp:\n\t1 packets received (IPv4)\n\t0 packets sent (IPv4)\n").unrecognized).toEqual(["packets received (IPv4)"]);
  });
  it("unknown shapes are errors", () => {
    expectParseError(() => parseProtocolStats(""));
    expectParseError(() => parseProtocolStats("carp\n"), 1);
    expectParseError(() => parseProtocolStats("carp:\npackets received\n"), 2);
    expectParseError(() => parseProtocolStats("carp:\n\tmany packets received (IPv4)\n"), 2);
    expectParseError(() => parseProtocolStats(fixture("derived_netstat_sp_carp.txt").replace("2211 packets sent", "2211 packets sent (IPv4)\n\t2211 packets sent")));
  });
  it("tabs to spaces and CRLF read the same", () => {
    const text = fixture("derived_netstat_sp_pfsync.txt");
    expect(parseProtocolStats(text.replaceAll("\t", "    "))).toEqual(parseProtocolStats(text));
    expect(parseProtocolStats(text.replaceAll("\n", "\r\n"))).toEqual(parseProtocolStats(text));
  });
  it("every truncation is an error or a subset of the full counters", () => {
    for (const name of ["derived_netstat_ssp_carp.txt", "derived_netstat_sp_carp.txt"]) {
      const text = fixture(name);
      const full = parseProtocolStats(text);
      for (let cut = 1; cut < text.length; cut++) {
        const part = text.slice(0, cut);
        if (!part.endsWith("\n")) {
          expectParseError(() => parseProtocolStats(part));
          continue;
        }
        const got = parseProtocolStats(part);
        for (const [k, v] of Object.entries(got.counters)) expect(full.counters[k]).toBe(v);
      }
    }
  });
});

import { describe, expect, it } from "vitest";
import { ntpOffsetMs, parseNtpctlAll } from "../../../../src/lib/parse/ntpctl.js";
import { expectParseError, fixture } from "../../../support/fixtures.js";

describe("parseNtpctlAll", () => {
  it("reads a synced clock, its stratum and the offset of the peer marked * (real capture)", () => {
    const status = parseNtpctlAll(fixture("ntpctl_s_all_synced_bitsmasher.txt"));
    expect(status).toMatchObject({ synced: true, stratum: 2, peersValid: 1, peersTotal: 1, unsyncedOffsetMs: null });
    expect(status.sources).toEqual([{ name: "10.10.12.13 time.lab.bitsmasher.net", kind: "peer", selected: true, offsetMs: 4.084, stratum: 1 }]);
    expect(ntpOffsetMs(status)).toBe(4.084);
  });

  it("reads a pool's peers, the selected one among them (real capture, leading blank line)", () => {
    const status = parseNtpctlAll(fixture("ntpctl_s_all_leap_shellguardians.txt"));
    expect(status.synced).toBe(true);
    expect(status.stratum).toBe(3);
    expect(status.sources).toHaveLength(4);
    expect(status.sources.filter((source) => source.selected).map((source) => source.name)).toEqual(["62.116.162.126 from pool de.pool.ntp.org"]);
    expect(ntpOffsetMs(status)).toBe(-984.824);
  });

  it("reads an unsynced clock with ntpd's own offset and an invalid peer (derived)", () => {
    const status = parseNtpctlAll(fixture("derived_ntpctl_s_all_secondary_unsynced.txt"));
    expect(status).toMatchObject({ synced: false, stratum: null, unsyncedOffsetMs: 712.513, peersValid: 0, peersTotal: 1 });
    expect(status.sources).toEqual([{ name: "192.168.110.101", kind: "peer", selected: false, offsetMs: null, stratum: null }]);
    expect(ntpOffsetMs(status)).toBe(712.513);
  });

  it("reads sensors and the no-peers status spanning two lines", () => {
    const text = "no peers and no sensors configured\nclock unsynced\n";
    expect(parseNtpctlAll(text)).toMatchObject({ synced: false, peersTotal: 0, sources: [] });
    const sensors = "1/1 sensors valid, clock synced, stratum 1\n\nsensor\n   wt gd st  next  poll          offset  correction\nnmea0  GPS\n *  10  1  0    1s   15s        -0.673ms     0.600ms\n";
    const status = parseNtpctlAll(sensors);
    expect(status.sources).toEqual([{ name: "nmea0  GPS", kind: "sensor", selected: true, offsetMs: -0.673, stratum: 0 }]);
  });

  it.each([
    ["an unknown status part", "1/1 peers valid, clock sort of synced\n", 1],
    ["synced without a stratum", "1/1 peers valid, clock synced\n", 1],
    ["a cut last line", "1/1 peers valid, clock synced, stratum 2", 1],
    ["figures without a name", "1/1 peers valid, clock synced, stratum 2\npeer\n *  1 10  1    7s   30s         4.084ms     0.514ms     0.064ms\n", 3],
    ["a name without figures at the end", "1/1 peers valid, clock synced, stratum 2\npeer\n10.10.12.13\n", 3],
    ["garbled figures", "1/1 peers valid, clock synced, stratum 2\npeer\n10.10.12.13\n *  one ten\n", 4],
    ["rows outside a section", "1/1 peers valid, clock synced, stratum 2\n10.10.12.13\n", 2],
    ["nothing", "", undefined],
  ])("refuses %s", (_what, text, line) => {
    expectParseError(() => parseNtpctlAll(text), line);
  });
});

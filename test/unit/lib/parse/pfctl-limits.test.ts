import { describe, expect, it } from "vitest";
import { parsePfLimits } from "../../../../src/lib/parse/pfctl.js";
import { expectParseError, fixture } from "../../../support/fixtures.js";

describe("parsePfLimits (pfctl -sm)", () => {
  it("reads the hard limits of a real OpenBSD capture", () => {
    expect(parsePfLimits(fixture("pfctl_sm_openbsd_guide.txt"))).toEqual({ states: 10000, "src-nodes": 10000, frags: 5000, tables: 1000, "table-entries": 200000 });
  });

  it("reads newer pools and an unlimited one", () => {
    expect(parsePfLimits("states        hard limit   100000\npktdelay-pkts hard limit    10000\nanchors       unlimited\n")).toEqual({ states: 100000, "pktdelay-pkts": 10000, anchors: "unlimited" });
  });

  it.each([
    ["a garbled row", "states        hard limit    many\n", 1],
    ["no states row", "frags         hard limit     5000\n", undefined],
    ["a row twice", "states        hard limit    10000\nstates        hard limit    10000\n", 2],
    ["a cut last line", "states        hard limit    100", 1],
    ["pfctl -si instead", fixture("derived_pfctl_si_openbsd7.txt"), 1],
  ])("refuses %s", (_what, text, line) => {
    expectParseError(() => parsePfLimits(text), line);
  });
});

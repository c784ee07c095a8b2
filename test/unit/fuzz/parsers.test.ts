// Property-based tests of every command-output parser against real captures, cut and garbled. What a
// parser may do with output that is not a whole capture: refuse it with a ParseError, or read exactly
// what it reads from the whole capture (the damage fell where it reads nothing). Reading something
// else is how a check would say OK about output it did not understand, and fails the property.
// A cut at a line boundary leaves output that may itself be a complete capture (fewer names, fewer
// interfaces); judging it is the check's part, so those cuts are left out here. Fixed seed, bounded
// runs: the same cases every run.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCarpInterfaces, parseIfconfigGroups, parsePfsyncInterface } from "../../../src/lib/parse/ifconfig.js";
import { parseProtocolStats } from "../../../src/lib/parse/netstat.js";
import { parsePfInfo, parseStates, parseTableList } from "../../../src/lib/parse/pfctl.js";
import { parseRcctlCheck } from "../../../src/lib/parse/rcctl.js";
import { parseMailQueue } from "../../../src/lib/parse/smtpctl.js";
import { parseSysctlOutput } from "../../../src/lib/parse/sysctl.js";
import { ParseError } from "../../../src/lib/runtime/errors.js";
import { fixture } from "../../support/fixtures.js";

const NOW = 1_700_000_000;
const CASES: readonly [string, (text: string) => unknown, string][] = [
  ["ifconfig carp", parseCarpInterfaces, "ifconfig_carp_group_primary_master_vio.txt"],
  ["ifconfig carp (all)", parseCarpInterfaces, "ifconfig_all_primary_master_vio.txt"],
  ["ifconfig -g", parseIfconfigGroups, "ifconfig_g_carp_faq.txt"],
  ["ifconfig pfsync", (text) => parsePfsyncInterface(text), "ifconfig_pfsync0_syncpeer_bookofpf.txt"],
  ["netstat -sp carp", parseProtocolStats, "derived_netstat_sp_carp.txt"],
  ["netstat -sp pfsync", parseProtocolStats, "derived_netstat_sp_pfsync.txt"],
  ["pfctl -si", parsePfInfo, "derived_pfctl_si_openbsd7.txt"],
  ["pfctl -vsT", parseTableList, "derived_pfctl_vsT_openbsd7.txt"],
  ["pfctl -vvss", parseStates, "derived_pfctl_vvss_openbsd7.txt"],
  ["rcctl check", parseRcctlCheck, "derived_rcctl_check_ok.txt"],
  ["smtpctl show queue", (text) => parseMailQueue(text, NOW), "smtpctl_show_queue_cheatsheet_redacted.txt"],
  ["sysctl", parseSysctlOutput, "sysctl_net_inet_carp_bookofpf.txt"],
];

type Reading = { ok: true; value: unknown } | { ok: false };

function read(parse: (text: string) => unknown, text: string): Reading {
  try {
    return { ok: true, value: parse(text) };
  } catch (error) {
    // Anything but a ParseError is a crash: the check would say "internal error", not what is wrong.
    if (!(error instanceof ParseError)) throw error;
    return { ok: false };
  }
}

/** Refused, or read as the whole capture is. */
function refusedOrSame(parse: (text: string) => unknown, damaged: string, whole: unknown): void {
  const reading = read(parse, damaged);
  if (reading.ok) expect(reading.value).toEqual(whole);
}

const RUNS = { seed: 20261205, numRuns: 150 };
/** Characters no capture holds: controls, and what a byte that is not UTF-8 decodes to. */
const FOREIGN = fc.constantFrom("\u0000", "\u0001", "\u001b", "\u007f", "\ufffd");

describe.each(CASES)("%s parser on damaged real output", (_name, parse, file) => {
  const text = fixture(file);
  const whole = parse(text);

  it("a cut inside a line is refused (or changes nothing)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 1 }), (at) => {
        const kept = text.slice(0, at);
        fc.pre(kept !== "" && !kept.endsWith("\n"));
        refusedOrSame(parse, kept, whole);
      }),
      RUNS,
    );
  });

  it("a character no capture holds, put anywhere, is refused (or changes nothing)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length }), FOREIGN, (at, ch) => {
        refusedOrSame(parse, text.slice(0, at) + ch + text.slice(at), whole);
      }),
      RUNS,
    );
  });

  it("any text at all: a reading or a ParseError, never a crash", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (garbage) => {
        read(parse, garbage);
      }),
      RUNS,
    );
  });
});

import { describe, expect, it } from "vitest";
import { parseRcctlCheck } from "../../../../src/lib/parse/rcctl.js";
import { fixture, expectParseError } from "../../../support/fixtures.js";

describe("parseRcctlCheck", () => {
  it("ok and failed (derived)", () => {
    expect(parseRcctlCheck(fixture("derived_rcctl_check_ok.txt"))).toEqual({ service: "smtpd", ok: true });
    expect(parseRcctlCheck(fixture("derived_rcctl_check_failed.txt"))).toEqual({ service: "ifstated", ok: false });
    expect(parseRcctlCheck("smtpd(ok)\r\n")).toEqual({ service: "smtpd", ok: true });
  });
  it("anything else is an error", () => {
    expectParseError(() => parseRcctlCheck(""));
    expectParseError(() => parseRcctlCheck("smtpd(o"), 1); // cut
    expectParseError(() => parseRcctlCheck("smtpd(ok)"), 1); // cut before the newline
    expectParseError(() => parseRcctlCheck("smtpd\n"), 1);
    expectParseError(() => parseRcctlCheck("smtpd(OK)\n"), 1);
    expectParseError(() => parseRcctlCheck("rcctl: service foo does not exist\n"), 1);
    expectParseError(() => parseRcctlCheck("smtpd(ok)\nsshd(ok)\n"), 2);
  });
});

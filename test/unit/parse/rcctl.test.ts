import { describe, expect, it } from "vitest";
import { ParseError } from "../../../src/lib/errors.js";
import { parseRcctlCheck, parseRcctlLs } from "../../../src/lib/parse/rcctl.js";
import { fixture, expectParseError } from "../../support/fixtures.js";

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

describe("parseRcctlLs", () => {
  it("ls started (derived)", () => {
    expect(parseRcctlLs(fixture("derived_rcctl_ls_started.txt"))).toEqual(["cron", "ifstated", "ntpd", "pflogd", "smtpd", "sndiod", "sshd", "syslogd"]);
  });
  it("empty and damaged", () => {
    expect(parseRcctlLs("")).toEqual([]);
    expectParseError(() => parseRcctlLs("cron\nsmtpd(ok)\n"), 2);
    expectParseError(() => parseRcctlLs("cron\nsmt"), 2);
    expectParseError(() => parseRcctlLs("cron\nsn iod\n"), 2);
    const text = fixture("derived_rcctl_ls_started.txt");
    expect(parseRcctlLs(text.replaceAll("\n", "\r\n"))).toEqual(parseRcctlLs(text));
  });
});

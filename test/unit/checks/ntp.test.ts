import { describe, expect, it } from "vitest";
import { check, decideNtp, NTP_COMMANDS, ntpSettings, readNtpHost } from "../../../src/checks/ntp.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { parseRange } from "../../../src/lib/runtime/thresholds.js";
import { pairState, type FaultName } from "../../../src/sim/gateways.js";
import { simAnswers } from "../../support/sim-answers.js";

const config = (toml = ""): ReturnType<typeof parseConfig> => parseConfig(`role = "secondary"\n[peer]\nhost = "10.231.0.1"\n[checks.ntp]\n${toml}\n`, "carpentry.toml", { only: check });
const SETTINGS = ntpSettings(config('secondary_source = "192.168.110.101"'));

function run(fault?: FaultName, settings = SETTINGS): ReturnType<typeof decideNtp> {
  const pair = pairState(fault);
  return decideNtp({ local: readNtpHost("secondary", simAnswers(pair.hosts.secondary, NTP_COMMANDS)), peer: readNtpHost("primary", simAnswers(pair.hosts.primary, NTP_COMMANDS)) }, settings);
}

describe("check_ntp on the simulated pair", () => {
  it("is OK with both clocks synced, stratum and offset (seconds) as perfdata", () => {
    const result = run();
    expect([result.status, result.summary]).toEqual(["OK", "clock synced on both hosts, stratum primary 2, secondary 3"]);
    expect(result.perfdata).toEqual([
      { label: "offset_primary", value: 0.004084, uom: "s" },
      { label: "stratum_primary", value: 2, min: 0, max: 16 },
      { label: "offset_secondary", value: -0.000216, uom: "s" },
      { label: "stratum_secondary", value: 3, min: 0, max: 16 },
    ]);
  });

  it.each([
    ["ntp_unsynced", "CRITICAL", "clock not synced on secondary"],
    ["ntpd_down", "CRITICAL", "ntpd not running on primary"],
    ["ntp_wrong_source", "WARNING", "secondary's clock follows 10.10.12.13, not 192.168.110.101"],
  ] as const)("%s: %s %s", (fault, status, summary) => {
    const result = run(fault);
    expect([result.status, result.summary]).toEqual([status, summary]);
  });

  it("alerts on the offset only when thresholds are given", () => {
    expect(run(undefined, ntpSettings(config(), parseRange("1"), parseRange("10"))).summary).toBe("clock offset 4.1 ms on primary");
    expect(run(undefined, ntpSettings(config("warning = 1\ncritical = 3"))).status).toBe("CRITICAL");
    expect(run(undefined, ntpSettings(config())).status).toBe("OK");
  });

  it("refuses garbled output; an ntpctl failure other than the socket is no verdict", () => {
    expect(() => readNtpHost("primary", simAnswers(pairState("garbled").hosts.primary, NTP_COMMANDS))).toThrow(/^cannot parse primary's ntpctl -s all output line 1:/);
    expect(() => readNtpHost("primary", [{ command: "/usr/sbin/ntpctl -s all", stdout: "", stderr: "ntpctl: need root privileges\n", exitCode: 1 }])).toThrow(/failed on primary \(exit 1\)/);
  });
});

import { describe, expect, it } from "vitest";
import { check, decideVersions, readVersionsHost, VERSIONS_COMMANDS, versionsPackages } from "../../../src/checks/versions.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { pairState, type FaultName } from "../../../src/sim/gateways.js";
import { simAnswers } from "../../support/sim-answers.js";

const config = (toml = ""): ReturnType<typeof parseConfig> => parseConfig(`role = "primary"\n[peer]\nhost = "10.231.0.2"\n[checks.versions]\n${toml}\n`, "carpentry.toml", { only: check });

function run(fault?: FaultName, packages = versionsPackages(config())): ReturnType<typeof decideVersions> {
  const pair = pairState(fault);
  return decideVersions({
    local: readVersionsHost("primary", simAnswers(pair.hosts.primary, VERSIONS_COMMANDS)),
    peer: readVersionsHost("secondary", simAnswers(pair.hosts.secondary, VERSIONS_COMMANDS)),
    packages,
  });
}

describe("check_versions on the simulated pair", () => {
  it("is OK when the hosts run the same", () => {
    expect([run().status, run().summary]).toEqual(["OK", "OpenBSD 7.0, 6 syspatches, 4 packages alike on both"]);
  });

  it("names both sides of every difference in a WARNING", () => {
    const result = run("versions_mismatch");
    expect([result.status, result.summary]).toEqual(["WARNING", "kernel differs: primary #5, secondary #3 (+2 more)"]);
    expect(result.details.slice(0, 3)).toEqual([
      "kernel: primary OpenBSD 7.0 (GENERIC.MP) #5: Mon Nov 22 21:05:50 MST 2021; secondary OpenBSD 7.0 (GENERIC.MP) #3: Tue Oct 26 19:12:08 MDT 2021",
      "syspatches only on primary: 005_unpcon 006_x509; only on secondary: none",
      "openvpn: primary 2.5.4; secondary 2.5.3",
    ]);
  });

  it("compares the configured packages too, and one installed on one host only", () => {
    const result = run(undefined, versionsPackages(config('packages = ["curl", "unbound"]')));
    expect(result.summary).toBe("OpenBSD 7.0, 6 syspatches, 6 packages alike on both");
    expect(result.details.at(-1)).toMatch(/unbound not installed$/);
  });

  it("is UNKNOWN without the peer's view, and refuses garbled output", () => {
    const pair = pairState();
    const local = readVersionsHost("primary", simAnswers(pair.hosts.primary, VERSIONS_COMMANDS));
    expect(decideVersions({ local, peer: { missing: "cannot reach secondary: connection refused" }, packages: [] }).status).toBe("UNKNOWN");
    expect(() => readVersionsHost("primary", simAnswers(pairState("garbled").hosts.primary, VERSIONS_COMMANDS))).toThrow(/^cannot parse primary's sysctl -n kern.osrelease output line 1:/);
  });
});

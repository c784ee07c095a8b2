import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { check, decidePf, PF_COMMANDS, pfSettings, readPfHost, type PfHostView } from "../../../src/checks/pf.js";
import { parseConfig, type Role } from "../../../src/lib/runtime/config.js";
import { measureCounterGrowth, type GrowthResult } from "../../../src/lib/runtime/counter-history.js";
import { ParseError } from "../../../src/lib/runtime/errors.js";
import { parseRange } from "../../../src/lib/runtime/thresholds.js";
import { FAULT_NAMES, pairState, type FaultName } from "../../../src/sim/gateways.js";
import { simAnswers } from "../../support/sim-answers.js";

const config = (toml = ""): ReturnType<typeof parseConfig> => parseConfig(`role = "primary"\n[peer]\nhost = "10.231.0.2"\n[checks.pf]\n${toml}\n`, "carpentry.toml", { only: check });
const SETTINGS = pfSettings(config());
const NO_GROWTH: GrowthResult = { byRole: {}, notes: [] };

function views(fault?: FaultName): Record<Role, PfHostView> {
  const pair = pairState(fault);
  return { primary: readPfHost("primary", simAnswers(pair.hosts.primary, PF_COMMANDS)), secondary: readPfHost("secondary", simAnswers(pair.hosts.secondary, PF_COMMANDS)) };
}

describe("check_pf's decision on the simulated pair", () => {
  it("is OK for the healthy pair, with the usage as perfdata", () => {
    const { primary, secondary } = views();
    const result = decidePf({ local: primary, peer: secondary, growth: NO_GROWTH }, SETTINGS);
    expect(result.status).toBe("OK");
    expect(result.summary).toBe("pf enabled on both, state tables at most 12.8% full");
    expect(result.perfdata.find((datum) => datum.label === "state_use_primary")).toMatchObject({ value: 12.8, warn: "80", crit: "95" });
  });

  it.each([
    ["pf_disabled", "CRITICAL", "pf disabled on secondary"],
    ["pf_hostid_shared", "CRITICAL", "primary and secondary share pf hostid 0x5e1f0a3c"],
    ["pf_states_near_limit", "CRITICAL", "pf state table 96.5% full on primary (+1 more)"],
  ] as const)("%s: %s %s", (fault, status, summary) => {
    const { primary, secondary } = views(fault);
    const result = decidePf({ local: secondary, peer: primary, growth: NO_GROWTH }, SETTINGS);
    expect([result.status, result.summary]).toEqual([status, summary]);
  });

  it("takes -w/-c as the usage thresholds", () => {
    const { primary, secondary } = views("pf_states_near_limit");
    const settings = pfSettings(config(), parseRange("97"), parseRange("99"));
    expect(decidePf({ local: primary, peer: secondary, growth: NO_GROWTH }, settings).status).toBe("OK");
    expect(decidePf({ local: primary, peer: secondary, growth: NO_GROWTH }, pfSettings(config("warning = 90\ncritical = 99"))).status).toBe("WARNING");
  });

  it("judges this host alone when the peer's view is missing", () => {
    const { secondary } = views("pf_disabled");
    const result = decidePf({ local: secondary, peer: { missing: "cannot reach primary: connection refused" }, growth: NO_GROWTH }, SETTINGS);
    expect([result.status, result.summary]).toEqual(["CRITICAL", "pf disabled on secondary"]);
    expect(result.details).toContain("pair view missing: cannot reach primary: connection refused");
    const healthy = views().primary;
    expect(decidePf({ local: healthy, peer: { missing: "x" }, growth: NO_GROWTH }, SETTINGS).status).toBe("UNKNOWN");
  });
});

describe("the simulated pair's pf", () => {
  it("keeps the hosts' hostids apart in every fault but the shared hostid", () => {
    for (const fault of FAULT_NAMES.filter((name) => name !== "pf_hostid_shared" && name !== "garbled")) {
      const { primary, secondary } = views(fault);
      expect(primary.info.hostid, fault).not.toBe(secondary.info.hostid);
    }
  });
});

describe("check_pf's counter growth", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("alerts on the rate of the watched counters between two runs, quiet on the first and with no growth", () => {
    const dir = mkdtempSync(join(tmpdir(), "pf-"));
    dirs.push(dir);
    const healthy = views();
    const quiet = { memory: 0, "state-limit": 0, congestion: 0 };
    const t0 = new Date("2026-12-05T12:00:00Z");
    const first = measureCounterGrowth(dir, "pf.json", { primary: quiet, secondary: quiet }, 0, t0);
    expect(decidePf({ local: healthy.primary, peer: healthy.secondary, growth: first }, SETTINGS).status).toBe("OK");
    const same = measureCounterGrowth(dir, "pf.json", { primary: quiet, secondary: quiet }, 0, new Date(t0.getTime() + 60_000));
    expect(decidePf({ local: healthy.primary, peer: healthy.secondary, growth: same }, SETTINGS).status).toBe("OK");
    const grown = measureCounterGrowth(dir, "pf.json", { primary: { ...quiet, memory: 200 }, secondary: { ...quiet, congestion: 3 } }, 0, new Date(t0.getTime() + 180_000));
    const result = decidePf({ local: healthy.primary, peer: healthy.secondary, growth: grown }, SETTINGS);
    expect([result.status, result.summary]).toEqual(["CRITICAL", "pf memory counter grows on primary: 100.0/min (+1 more)"]);
    expect(result.details[1]).toMatch(/^secondary: pf congestion .* grew by 3 in 2\.0 min, 1\.5\/min \(WARNING above 1\/min\)/);
  });

  it("reads the pf_congestion fault's planted history as a WARNING", () => {
    const pair = pairState("pf_congestion");
    const dir = mkdtempSync(join(tmpdir(), "pf-"));
    dirs.push(dir);
    const planted = pair.hosts.primary.files.get("/var/db/carpentry/pf-counters.json");
    expect(planted).toBeDefined();
    const { primary, secondary } = { primary: readPfHost("primary", simAnswers(pair.hosts.primary, PF_COMMANDS)), secondary: readPfHost("secondary", simAnswers(pair.hosts.secondary, PF_COMMANDS)) };
    expect(primary.info.counters["congestion"]).toBe(8);
    writeFileSync(join(dir, "pf-counters.json"), planted?.content ?? "");
    const growth = measureCounterGrowth(dir, "pf-counters.json", { primary: { memory: 0, "state-limit": 0, congestion: 8 }, secondary: { memory: 0, "state-limit": 0, congestion: 0 } }, 0);
    expect(decidePf({ local: primary, peer: secondary, growth }, SETTINGS)).toMatchObject({
      status: "WARNING",
      summary: expect.stringMatching(/^pf congestion counter grows on primary: [34]\.\d\/min$/) as unknown,
    });
  });
});

describe("check_pf's reader", () => {
  it("refuses garbled output and a -si without Hostid, naming the host", () => {
    const pair = pairState("garbled");
    expect(() => readPfHost("primary", simAnswers(pair.hosts.primary, PF_COMMANDS))).toThrow(/cannot parse primary's pfctl -si output line 5/);
    const noHostid = simAnswers(pairState().hosts.primary, PF_COMMANDS).map((answer, index) => (index === 0 ? { ...answer, stdout: answer.stdout.replace(/^Hostid:.*\n/m, "") } : answer));
    expect(() => readPfHost("primary", noHostid)).toThrow(ParseError);
  });

  it("says which command failed where", () => {
    const answers = simAnswers(pairState().hosts.secondary, PF_COMMANDS).map((answer, index) =>
      index === 1 ? { ...answer, stdout: "", stderr: "pfctl: /dev/pf: Permission denied\n", exitCode: 1 } : answer,
    );
    expect(() => readPfHost("secondary", answers)).toThrow("/sbin/pfctl -sm failed on secondary (exit 1)");
  });
});

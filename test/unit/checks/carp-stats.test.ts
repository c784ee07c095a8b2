import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CARP_STATS_COMMANDS, carpStatsSettings, check, decideCarpStats, readCarpStatsHost, type CarpStatsView } from "../../../src/checks/carp-stats.js";
import { parseConfig, type Role } from "../../../src/lib/runtime/config.js";
import { historyFile, measureCounterGrowth } from "../../../src/lib/runtime/counter-history.js";
import { pairState, type FaultName } from "../../../src/sim/gateways.js";
import { simAnswers } from "../../support/sim-answers.js";

const config = (toml = ""): ReturnType<typeof parseConfig> => parseConfig(`role = "primary"\n[peer]\nhost = "10.231.0.2"\n[checks.carp_stats]\n${toml}\n`, "carpentry.toml", { only: check });
const SETTINGS = carpStatsSettings(config());

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The fault's outputs and planted history, as the check on the primary reads them. */
function run(fault?: FaultName, settings = SETTINGS): ReturnType<typeof decideCarpStats> {
  const pair = pairState(fault);
  const views = {
    primary: readCarpStatsHost("primary", simAnswers(pair.hosts.primary, CARP_STATS_COMMANDS)),
    secondary: readCarpStatsHost("secondary", simAnswers(pair.hosts.secondary, CARP_STATS_COMMANDS)),
  };
  const dir = mkdtempSync(join(tmpdir(), "carp-"));
  dirs.push(dir);
  const planted = pair.hosts.primary.files.get("/var/db/carpentry/carp-counters.json");
  if (planted) writeFileSync(join(dir, "carp-counters.json"), planted.content);
  const current = (view: CarpStatsView): Record<string, number> => ({
    carps_badauth: view.counters["carps_badauth"] ?? 0,
    carps_badvhid: view.counters["carps_badvhid"] ?? 0,
    carps_preempt: view.counters["carps_preempt"] ?? 0,
  });
  const growth = measureCounterGrowth(dir, "carp-counters.json", { primary: current(views.primary), secondary: current(views.secondary) }, settings.windowSeconds);
  return decideCarpStats({ local: views.primary, peer: views.secondary, growth }, settings);
}

describe("check_carp_stats on the simulated pair", () => {
  it("is OK on the first run of a healthy pair", () => {
    const result = run();
    expect([result.status, result.summary]).toEqual(["OK", "carp counters quiet on both hosts (window 1 h)"]);
    expect(result.details.join("\n")).toMatch(/first reading/);
  });

  it("is CRITICAL when bad authentication grows, naming the host and the reason", () => {
    const result = run("carp_bad_auth");
    expect([result.status, result.summary]).toEqual(["CRITICAL", "carp bad authentication grew by 37 on secondary"]);
    expect(result.details[0]).toMatch(/carp pass or the vhid's addresses differ/);
  });

  it("is a WARNING when both hosts became master within the window, and explains monit's cycles", () => {
    const result = run("carp_flapping");
    expect([result.status, result.summary]).toEqual(["WARNING", "carp flapping: both hosts became master within 10 min"]);
    expect(result.details.join("\n")).toMatch(/for 3 cycles/);
  });

  it("is quiet once the transitions are older than the window", () => {
    const pair = pairState("carp_flapping");
    const views = {
      primary: readCarpStatsHost("primary", simAnswers(pair.hosts.primary, CARP_STATS_COMMANDS)),
      secondary: readCarpStatsHost("secondary", simAnswers(pair.hosts.secondary, CARP_STATS_COMMANDS)),
    };
    const dir = mkdtempSync(join(tmpdir(), "carp-"));
    dirs.push(dir);
    const reading = (secondsAgo: number, primary: number, secondary: number): Record<Role, { at: string; counters: Record<string, number> }[]> => {
      const at = new Date(Date.now() - secondsAgo * 1000).toISOString();
      return {
        primary: [{ at, counters: { carps_badauth: 0, carps_badvhid: 14, carps_preempt: primary } }],
        secondary: [{ at, counters: { carps_badauth: 0, carps_badvhid: 14, carps_preempt: secondary } }],
      };
    };
    const [before, after] = [reading(900, 1, 0), reading(400, 2, 1)];
    writeFileSync(join(dir, "carp-counters.json"), historyFile({ primary: [...before.primary, ...after.primary], secondary: [...before.secondary, ...after.secondary] }));
    const counters = { primary: { carps_badauth: 0, carps_badvhid: 14, carps_preempt: 2 }, secondary: { carps_badauth: 0, carps_badvhid: 14, carps_preempt: 1 } };
    const settings = carpStatsSettings(config("window = 300"));
    const growth = measureCounterGrowth(dir, "carp-counters.json", counters, settings.windowSeconds);
    expect(decideCarpStats({ local: views.primary, peer: views.secondary, growth }, settings).status).toBe("OK");
    // With the default hour, the same readings are a flip-back.
    writeFileSync(join(dir, "carp-counters.json"), historyFile({ primary: [...before.primary, ...after.primary], secondary: [...before.secondary, ...after.secondary] }));
    const hourly = measureCounterGrowth(dir, "carp-counters.json", counters, SETTINGS.windowSeconds);
    expect(decideCarpStats({ local: views.primary, peer: views.secondary, growth: hourly }, SETTINGS).status).toBe("WARNING");
  });

  it("ignores the counters the config names", () => {
    expect(run("carp_bad_auth", carpStatsSettings(config('ignore_counters = ["badauth"]'))).status).toBe("OK");
  });

  it("refuses garbled output and pfsync's counters, naming the host", () => {
    const garbled = pairState("garbled");
    expect(() => readCarpStatsHost("primary", simAnswers(garbled.hosts.primary, CARP_STATS_COMMANDS))).toThrow(/^cannot parse primary's netstat -s output line 2:/);
    const pfsync = [{ command: "netstat -sp carp", stdout: garbled.hosts.secondary.outputs.get(JSON.stringify(["netstat", "-sp", "pfsync"]))?.stdout ?? "", stderr: "", exitCode: 0 }];
    expect(() => readCarpStatsHost("secondary", pfsync)).toThrow(/expected carp/);
  });
});

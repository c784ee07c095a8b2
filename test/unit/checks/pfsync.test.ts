import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  check,
  counterGrowth,
  countsWithinTolerance,
  decidePfsync,
  measureGrowth,
  pfsyncSettings,
  readHostFacts,
  stateShare,
  type CounterGrowth,
  type PfsyncFacts,
  type PfsyncHostFacts,
  type PfsyncSettings,
  type StateShare,
} from "../../../src/checks/pfsync.js";
import { parseConfig, type Role } from "../../../src/lib/runtime/config.js";
import { ConfigError, HostError, ParseError } from "../../../src/lib/runtime/errors.js";
import { decodeStateKeys, encodeStateKeys, keyCount, matchStates, stateKeys } from "../../../src/lib/facts/pf-states.js";
import { parseStates } from "../../../src/lib/parse/pfctl.js";
import { firstLine, formatText } from "../../../src/lib/runtime/result.js";
import { errorResult } from "../../../src/lib/runtime/runner.js";
import { parseRange } from "../../../src/lib/runtime/thresholds.js";
import type { CommandResult } from "../../../src/lib/transport/shell.js";
import { fixture } from "../../support/fixtures.js";
import { generateStates, pfctlInfoText, stateTableText, type GeneratedState } from "../../support/pf-state-table.js";

const PRIMARY_ID = "5e1f0a3c";
const SECONDARY_ID = "7b2e91d4";

function config(pfsyncToml = "", extra = ""): ReturnType<typeof parseConfig> {
  return parseConfig(`role = "primary"\n[peer]\nhost = "10.231.0.2"\n${extra}\n[checks.pfsync]\n${pfsyncToml}\n`, "carpentry.toml", { only: check });
}

const DEFAULTS = pfsyncSettings(config());

function ok(stdout: string, command = "cmd"): CommandResult {
  return { command, stdout, stderr: "", exitCode: 0 };
}

// The vio pair: pfsync0 syncdev vio1 on the primary, vio0 on the secondary (real `ifconfig carp` listings).
const IFCONFIG_PRIMARY = fixture("ifconfig_carp_group_primary_master_vio.txt");
const IFCONFIG_SECONDARY = fixture("ifconfig_carp_group_secondary_backup_vio.txt");
const NETSTAT = fixture("derived_netstat_sp_pfsync.txt");

function hostFacts(role: Role, states: number, overrides: { ifconfig?: CommandResult; netstat?: string } = {}): PfsyncHostFacts {
  return readHostFacts(role, "pfsync0", {
    ifconfig: overrides.ifconfig ?? ok(role === "primary" ? IFCONFIG_PRIMARY : IFCONFIG_SECONDARY),
    pfctlInfo: ok(pfctlInfoText(states)),
    netstat: ok(overrides.netstat ?? NETSTAT),
  });
}

const NO_GROWTH: CounterGrowth = {
  byRole: {
    primary: { kind: "compared", since: "2026-01-01T00:00:00.000Z", seconds: 3600, increases: [] },
    secondary: { kind: "compared", since: "2026-01-01T00:00:00.000Z", seconds: 3600, increases: [] },
  },
};

function facts(primary: PfsyncHostFacts, secondary: PfsyncHostFacts, more: Partial<PfsyncFacts> = {}): PfsyncFacts {
  return { primary, secondary, growth: NO_GROWTH, ...more };
}

describe("countsWithinTolerance (the admin's 0.93-1.03 of the primary, +/-3 below 100 states)", () => {
  const cases: [number, number, boolean][] = [
    [0, 0, true],
    [2, 5, true],
    [5, 2, true],
    [2, 6, false],
    [0, 3, true],
    [0, 50, false],
    [50, 0, false],
    [99, 96, true],
    [99, 95, false],
    [99, 103, false],
    [100, 93, true],
    [100, 92, false],
    [100, 103, true],
    [100, 104, false],
    [1000, 925, false],
    [1000, 930, true],
    [1000, 935, true],
    [1000, 1030, true],
    [1000, 1040, false],
    [50000, 46500, true],
    [50000, 46499, false],
  ];
  it.each(cases)("primary %i, secondary %i -> within: %s", (primary, secondary, within) => {
    expect(countsWithinTolerance(primary, secondary, DEFAULTS)).toBe(within);
  });

  it("follows the configured ratios and small-count rule", () => {
    const strict = pfsyncSettings(config("ratio_low = 0.99\nratio_high = 1.01\nsmall_count = 10\nsmall_slack = 0"));
    expect(countsWithinTolerance(5, 6, strict)).toBe(false);
    expect(countsWithinTolerance(5, 5, strict)).toBe(true);
    expect(countsWithinTolerance(1000, 985, strict)).toBe(false);
    expect(countsWithinTolerance(1000, 990, strict)).toBe(true);
    // 1.15 * 100 is 114.99999999999999 in floating point: 115 is on the bound, not beyond it.
    const loose = pfsyncSettings(config("ratio_high = 1.15"));
    expect(countsWithinTolerance(100, 115, loose)).toBe(true);
    expect(countsWithinTolerance(100, 116, loose)).toBe(false);
  });
});

describe("decidePfsync: interfaces and counts", () => {
  it("is OK for a healthy pair, with the counts in the summary and as perfdata", () => {
    const res = decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405)), DEFAULTS);
    expect(firstLine(res)).toBe("OK: states primary 412, secondary 405; pfsync0 up on both | states_primary=412;;;0 states_secondary=405;;;0 errors_primary=13c;;;0 errors_secondary=13c;;;0");
    expect(res.details).toContain("primary: pfsync0 up, syncdev vio1, syncpeer none (multicast), maxupd 128, defer off");
    expect(res.details).toContain("secondary: pfsync0 up, syncdev vio0, syncpeer none (multicast), maxupd 128, defer off");
    expect(res.details).toContain("states: primary 412, secondary 405 (98.3%); tolerance 0.93-1.03 of the primary's count, +/-3 below 100 states");
  });

  it("is OK with 0 states on both hosts", () => {
    expect(decidePfsync(facts(hostFacts("primary", 0), hostFacts("secondary", 0)), DEFAULTS)).toMatchObject({ status: "OK", summary: "states primary 0, secondary 0; pfsync0 up on both" });
  });

  it("is OK for 2 vs 5 states (small counts), CRITICAL for 1000 vs 925 and 1040, OK for 935", () => {
    expect(decidePfsync(facts(hostFacts("primary", 2), hostFacts("secondary", 5)), DEFAULTS).status).toBe("OK");
    expect(firstLine(decidePfsync(facts(hostFacts("primary", 1000), hostFacts("secondary", 925)), DEFAULTS))).toMatch(
      /^CRITICAL: states diverged: primary 1000, secondary 925 \| states_primary=1000;;;0 states_secondary=925;;;0/,
    );
    expect(decidePfsync(facts(hostFacts("primary", 1000), hostFacts("secondary", 935)), DEFAULTS).status).toBe("OK");
    const above = decidePfsync(facts(hostFacts("primary", 1000), hostFacts("secondary", 1040)), DEFAULTS);
    expect(above).toMatchObject({ status: "CRITICAL", summary: "states diverged: primary 1000, secondary 1040" });
    expect(above.details[0]).toBe("state counts beyond tolerance: the secondary has 104.0% of the primary's");
  });

  it("is CRITICAL when the primary has no states and the secondary 50", () => {
    const res = decidePfsync(facts(hostFacts("primary", 0), hostFacts("secondary", 50)), DEFAULTS);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "states diverged: primary 0, secondary 50" });
    expect(res.details[0]).toBe("state counts beyond tolerance: the primary has none");
  });

  it("is CRITICAL when pfsync0 is down", () => {
    const down = IFCONFIG_SECONDARY.replace("pfsync0: flags=41<UP,RUNNING>", "pfsync0: flags=0<>");
    const res = decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405, { ifconfig: ok(down) })), DEFAULTS);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "pfsync0 down on secondary" });
    expect(res.details[0]).toBe("secondary: pfsync0 flags <>, expected UP,RUNNING");
  });

  it("is CRITICAL when pfsync0 has no syncdev (real OpenBSD 5.1 output without a pfsync: line)", () => {
    const res = decidePfsync(facts(hostFacts("primary", 412, { ifconfig: ok(fixture("ifconfig_pfsync0_no_syncdev_openbsd51.txt")) }), hostFacts("secondary", 405)), DEFAULTS);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "pfsync0 has no syncdev on primary" });
    expect(res.details).toContain("primary: pfsync0 up, no syncdev");
  });

  it("is CRITICAL when the host has no pfsync0 at all", () => {
    const missing: CommandResult = { command: "/sbin/ifconfig pfsync0", stdout: "", stderr: "ifconfig: pfsync0: no such interface\n", exitCode: 1 };
    const res = decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405, { ifconfig: missing })), DEFAULTS);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "pfsync0 missing on secondary" });
  });

  it("checks the configured syncdev, mapped to the secondary's name through [host_specific] interfaces", () => {
    const mapped = pfsyncSettings(config('syncdev = "vio1"', '[host_specific]\ninterfaces = { vio1 = "vio0" }'));
    expect(decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405)), mapped).status).toBe("OK");
    const unmapped = pfsyncSettings(config('syncdev = "vio1"'));
    const res = decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405)), unmapped);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "pfsync0 on secondary syncs over vio0, not vio1" });
  });

  it("is CRITICAL for a wrong syncpeer, and for none where one is configured", () => {
    const withPeer = ok(fixture("ifconfig_pfsync0_syncpeer_bookofpf.txt")); // syncdev ep2 syncpeer 10.0.12.16
    const right = pfsyncSettings(config('syncpeer = { primary = "10.0.12.16" }'));
    expect(decidePfsync(facts(hostFacts("primary", 412, { ifconfig: withPeer }), hostFacts("secondary", 405)), right).status).toBe("OK");
    const wrong = pfsyncSettings(config('syncpeer = { primary = "10.0.12.17" }'));
    const res = decidePfsync(facts(hostFacts("primary", 412, { ifconfig: withPeer }), hostFacts("secondary", 405)), wrong);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "pfsync0 on primary has syncpeer 10.0.12.16, not 10.0.12.17" });
    const multicast = pfsyncSettings(config('syncpeer = { secondary = "10.0.12.15" }'));
    expect(decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405)), multicast).summary).toBe("pfsync0 on secondary has syncpeer none, not 10.0.12.15");
  });

  it("names the worst problem and counts the others, each in the details", () => {
    const down = IFCONFIG_SECONDARY.replace("pfsync0: flags=41<UP,RUNNING>", "pfsync0: flags=0<>");
    const res = decidePfsync(facts(hostFacts("primary", 1000), hostFacts("secondary", 10, { ifconfig: ok(down) })), DEFAULTS);
    expect(res.summary).toBe("pfsync0 down on secondary (+1 more)");
    expect(res.details.slice(0, 2)).toEqual(["secondary: pfsync0 flags <>, expected UP,RUNNING", "state counts beyond tolerance: the secondary has 1.0% of the primary's"]);
    expect(formatText(res, false).length).toBeLessThanOrEqual(500);
  });

  it("says when pf is disabled on a host", () => {
    const primary = hostFacts("primary", 412);
    const disabled = { ...primary, info: { ...primary.info, enabled: false, statusLine: "Disabled for 0 days 00:01:00" } };
    expect(decidePfsync(facts(disabled, hostFacts("secondary", 405)), DEFAULTS).details).toContain("pf is disabled on primary (Disabled for 0 days 00:01:00)");
  });
});

describe("readHostFacts: output it cannot read is UNKNOWN naming host and line", () => {
  it("names the line of a garbled pfctl -si", () => {
    const garbled = pfctlInfoText(412).replace("  inserts                           834567            0.8/s", "  inserts     83#567 junk");
    let caught: unknown;
    try {
      readHostFacts("secondary", "pfsync0", { ifconfig: ok(IFCONFIG_SECONDARY), pfctlInfo: ok(garbled), netstat: ok(NETSTAT) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ParseError);
    const res = errorResult(caught);
    expect(res.status).toBe("UNKNOWN");
    expect(res.summary).toBe("cannot parse secondary's pfctl -si output line 7");
    expect(res.details[0]).toContain('"  inserts     83#567 junk"');
  });

  it("rejects pfctl -si cut short, ifconfig and netstat noise", () => {
    const cut = pfctlInfoText(412).split("\n").slice(0, 5).join("\n") + "\n";
    expect(() => readHostFacts("primary", "pfsync0", { ifconfig: ok(IFCONFIG_PRIMARY), pfctlInfo: ok(cut), netstat: ok(NETSTAT) })).toThrow(ParseError);
    expect(() =>
      readHostFacts("primary", "pfsync0", {
        ifconfig: ok("pfsync0: flags=41<UP,RUNNING> mtu 1500\n\tpfsync: syncdev: vio1 maxupd: x defer: off\n"),
        pfctlInfo: ok(pfctlInfoText(1)),
        netstat: ok(NETSTAT),
      }),
    ).toThrow(/cannot parse primary's ifconfig pfsync output line 2/);
    expect(() => readHostFacts("primary", "pfsync0", { ifconfig: ok(IFCONFIG_PRIMARY), pfctlInfo: ok(pfctlInfoText(1)), netstat: ok(fixture("derived_netstat_sp_carp.txt")) })).toThrow(
      /expected pfsync:/,
    );
  });

  it("turns a failing command into a HostError naming it, its host and its stderr", () => {
    const failed: CommandResult = { command: "/sbin/pfctl -si", stdout: "", stderr: "pfctl: /dev/pf: Permission denied\n", exitCode: 1 };
    try {
      readHostFacts("primary", "pfsync0", { ifconfig: ok(IFCONFIG_PRIMARY), pfctlInfo: failed, netstat: ok(NETSTAT) });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HostError);
      expect(errorResult(error)).toMatchObject({ status: "UNKNOWN", summary: "/sbin/pfctl -si failed on primary (exit 1)", details: ["pfctl: /dev/pf: Permission denied"] });
    }
  });
});

describe("pfsync error counters", () => {
  const grown = NETSTAT.replace("\t\t1 failed state lookup/insert\n", "\t\t4 failed state lookup/inserts\n");
  const rebooted = NETSTAT.replace("\t530012 packets received (IPv4)\n", "\t12 packets received (IPv4)\n").replace("\t\t12 stale states\n", "\t\t0 stale states\n");

  const LIMITS = DEFAULTS.limits;
  const T0 = new Date("2026-01-01T00:00:00Z");
  const later = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);
  const netstatWith = (stale: number, badstate: number, badttl = 0): string =>
    NETSTAT.replace("\t\t12 stale states\n", `\t\t${stale} stale states\n`)
      // netstat's plural(): no "s" for exactly 1.
      .replace("\t\t1 failed state lookup/insert\n", `\t\t${badstate} failed state lookup/insert${badstate === 1 ? "" : "s"}\n`)
      .replace(/\t\t0 packets discarded for bad ttl\n/, `\t\t${badttl} packet${badttl === 1 ? "" : "s"} discarded for bad ttl\n`);
  /** Readings of both hosts, the secondary's netstat as given, one run after another. */
  function runs(steps: readonly { minutes: number; netstat: string }[]): ReturnType<typeof counterGrowth>["byRole"] {
    let stored: unknown;
    let last: ReturnType<typeof counterGrowth>["byRole"] | undefined;
    for (const step of steps) {
      const result = counterGrowth(stored, [hostFacts("primary", 1), hostFacts("secondary", 1, { netstat: step.netstat })], LIMITS, later(step.minutes));
      stored = JSON.parse(JSON.stringify(result.stored));
      last = result.byRole;
    }
    if (!last) throw new Error("no run");
    return last;
  }

  it("has defaults: a window of an hour, 3600/h for stale and badstate, 60/h for the others", () => {
    expect(LIMITS).toMatchObject({ windowSeconds: 3600, busyPerHour: 3600, errorsPerHour: 60 });
    expect(NETSTAT).toContain("\t\t0 packets discarded for bad ttl\n");
  });

  it("measures growth as a rate over at least the window, and a reboot (counters went down) as a new start", () => {
    const first = counterGrowth(undefined, [hostFacts("primary", 1)], LIMITS, T0);
    expect(first.byRole.primary).toEqual({ kind: "first" });
    const growth = runs([
      { minutes: 0, netstat: netstatWith(12, 1) },
      { minutes: 5, netstat: netstatWith(12, 4) },
    ]);
    expect(growth.primary).toEqual({ kind: "compared", since: T0.toISOString(), seconds: 300, increases: [] });
    // 3 in 5 minutes, counted against the whole hour: 3/h.
    expect(growth.secondary).toEqual({ kind: "compared", since: T0.toISOString(), seconds: 300, increases: [{ field: "pfsyncs_badstate", from: 1, to: 4, seconds: 300, perHour: 3, limit: 3600 }] });
    expect(
      runs([
        { minutes: 0, netstat: netstatWith(12, 5) },
        { minutes: 1, netstat: rebooted },
      ]).secondary,
    ).toEqual({ kind: "reset" });
    expect(counterGrowth({ version: 7 }, [hostFacts("primary", 1)], LIMITS, T0).byRole.primary).toEqual({ kind: "first" });
  });

  it("stays OK for a quiet healthy pair: a trickle of stale states and failed lookups every run for hours", () => {
    const steps = Array.from({ length: 6 * 60 + 1 }, (_, minute) => ({ minutes: minute, netstat: netstatWith(12 + minute * 2, 1 + Math.floor(minute / 3)) }));
    const growth = runs(steps);
    const res = decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405, { netstat: steps[steps.length - 1]?.netstat ?? "" }), { growth: { byRole: growth } }), DEFAULTS);
    expect(res.status).toBe("OK");
    // The base is the reading an hour ago: 120 stale states and 20 failed lookups an hour.
    expect(growth.secondary).toMatchObject({
      kind: "compared",
      seconds: 3600,
      increases: [
        { field: "pfsyncs_stale", perHour: 120 },
        { field: "pfsyncs_badstate", perHour: 20 },
      ],
    });
  });

  it("is WARNING for a burst, and for a steady fault counter; ignore_counters silences one", () => {
    const burst = runs([
      { minutes: 0, netstat: netstatWith(12, 1) },
      { minutes: 30, netstat: netstatWith(12, 1) },
      { minutes: 31, netstat: netstatWith(12, 5001) },
    ]);
    const hosts = [hostFacts("primary", 412), hostFacts("secondary", 405, { netstat: netstatWith(12, 5001) })] as const;
    const res = decidePfsync(facts(hosts[0], hosts[1], { growth: { byRole: burst } }), DEFAULTS);
    expect(firstLine(res)).toMatch(/^WARNING: pfsync failed state lookups\/inserts at 5000\/h on secondary \| /);
    expect(res.details[0]).toBe("secondary: failed state lookups/inserts grew by 5000 (1 -> 5001) in 31 min: 5000/h over 60 min or more, warning above 3600/h");
    // One bad-ttl packet a second for two minutes: 120 in the window.
    const fault = runs([
      { minutes: 0, netstat: netstatWith(12, 1, 0) },
      { minutes: 2, netstat: netstatWith(12, 1, 120) },
    ]);
    expect(decidePfsync(facts(hosts[0], hostFacts("secondary", 405, { netstat: netstatWith(12, 1, 120) }), { growth: { byRole: fault } }), DEFAULTS).summary).toBe(
      "pfsync packets discarded for bad ttl at 120/h on secondary",
    );
    const ignoring = pfsyncSettings(config('ignore_counters = ["badstate"]'));
    const quiet = decidePfsync(facts(hosts[0], hosts[1], { growth: { byRole: burst } }), ignoring);
    expect(quiet.status).toBe("OK");
    expect(quiet.details).toContain("pfsync errors on secondary: 12 stale states, 5001 failed state lookups/inserts (ignored); in 31 min: failed state lookups/inserts +5000 (5000/h)");
  });

  it("takes rate_window, busy_per_hour and errors_per_hour from the config", () => {
    expect(pfsyncSettings(config("rate_window = 600\nbusy_per_hour = 10\nerrors_per_hour = 0")).limits).toMatchObject({ windowSeconds: 600, busyPerHour: 10, errorsPerHour: 0 });
    expect(() => pfsyncSettings(config("rate_window = 5"))).toThrow(/at least 60 seconds/);
  });

  describe("measureGrowth keeps the last reading in the state directory", () => {
    let dir: string;
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("creates the directory 0700 and the file 0600, then compares the next run with it", () => {
      dir = mkdtempSync(join(tmpdir(), "pfsync-"));
      const stateDir = join(dir, "db", "carpentry");
      const first = measureGrowth(stateDir, [hostFacts("primary", 1), hostFacts("secondary", 1)], LIMITS, T0);
      expect(first.byRole).toEqual({ primary: { kind: "first" }, secondary: { kind: "first" } });
      expect(statSync(stateDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(stateDir, "pfsync-counters.json")).mode & 0o777).toBe(0o600);
      const second = measureGrowth(stateDir, [hostFacts("primary", 1), hostFacts("secondary", 1, { netstat: grown })], LIMITS, later(1));
      expect(second.byRole?.secondary).toMatchObject({ kind: "compared", increases: [{ field: "pfsyncs_badstate", from: 1, to: 4 }] });
      // The base stays the oldest reading until one is a window old: the growth is still seen.
      const third = measureGrowth(stateDir, [hostFacts("primary", 1), hostFacts("secondary", 1, { netstat: grown })], LIMITS, later(2));
      expect(third.byRole?.secondary).toMatchObject({ kind: "compared", seconds: 120, increases: [{ field: "pfsyncs_badstate", from: 1, to: 4 }] });
      const stored = JSON.parse(readFileSync(join(stateDir, "pfsync-counters.json"), "utf8")) as { version: number; history: Record<string, unknown[]> };
      expect(stored.version).toBe(2);
      expect(stored.history["secondary"]).toHaveLength(3);
      // Two hours later, older readings than the base are dropped.
      measureGrowth(stateDir, [hostFacts("primary", 1), hostFacts("secondary", 1, { netstat: grown })], LIMITS, later(120));
      const pruned = JSON.parse(readFileSync(join(stateDir, "pfsync-counters.json"), "utf8")) as { history: Record<string, unknown[]> };
      expect(pruned.history["secondary"]).toHaveLength(2);
    });

    it("does not turn red when the directory cannot be used: counters without growth, and why", () => {
      dir = mkdtempSync(join(tmpdir(), "pfsync-"));
      const notADirectory = join(dir, "file");
      writeFileSync(notADirectory, "");
      const growth = measureGrowth(notADirectory, [hostFacts("primary", 1), hostFacts("secondary", 1)], LIMITS);
      expect(growth.byRole).toBeNull();
      expect(growth.note).toMatch(/^counter growth not measured: .*\/file is not a directory$/);
      const res = decidePfsync(facts(hostFacts("primary", 412), hostFacts("secondary", 405), { growth }), DEFAULTS);
      expect(res.status).toBe("OK");
      expect(res.details).toContain("pfsync errors on primary: 12 stale states, 1 failed state lookups/inserts");
    });

    it("refuses a directory others may write, and starts over after an unreadable reading", () => {
      dir = mkdtempSync(join(tmpdir(), "pfsync-"));
      chmodSync(dir, 0o777);
      expect(measureGrowth(dir, [hostFacts("primary", 1)], LIMITS).note).toMatch(/is writable by others \(mode 777\)$/);
      chmodSync(dir, 0o700);
      writeFileSync(join(dir, "pfsync-counters.json"), "{ half");
      const growth = measureGrowth(dir, [hostFacts("primary", 1)], LIMITS);
      expect(growth.note).toMatch(/^previous counter reading not used: .*pfsync-counters.json is not JSON; starting over$/);
      expect(growth.byRole?.primary).toEqual({ kind: "first" });
      expect(JSON.parse(readFileSync(join(dir, "pfsync-counters.json"), "utf8"))).toMatchObject({ version: 2, history: { primary: [{ counters: { pfsyncs_stale: 12 } }] } });
    });
  });
});

describe("state keys: compact encoding and matching (compare_states)", () => {
  function keysOf(states: readonly GeneratedState[], minAge = 30) {
    return stateKeys(parseStates(stateTableText(states)), minAge);
  }

  it("reads the derived -vvss fixture: ids, creatorids, young states left out", () => {
    const keys = stateKeys(parseStates(fixture("derived_pfctl_vvss_openbsd7.txt")), 30);
    expect(keys.total).toBe(3);
    expect(keys.young).toBe(2); // ages 12 s and 1 s
    expect(keys.settledCount).toBe(1);
    expect([...(keys.settled.get("5e1f0a3c") ?? [])]).toEqual([0x6a1f00000000011bn]);
  });

  it("refuses -ss output without ids (not -vv)", () => {
    expect(() => stateKeys(parseStates(fixture("derived_pfctl_ss_openbsd7.txt")), 30)).toThrow(/no id\/creatorid line/);
  });

  it("round-trips 50,000 keys of two creators in about 1.3 bytes a key", () => {
    const keys = keysOf([...generateStates({ count: 40_000, creatorid: PRIMARY_ID }), ...generateStates({ count: 10_000, creatorid: SECONDARY_ID, seed: 7 })]);
    const encoded = encodeStateKeys(keys.all);
    const wire = JSON.stringify(encoded);
    expect(wire.length).toBeLessThan(50_000 * 1.5);
    const decoded = decodeStateKeys(JSON.parse(wire));
    expect(keyCount(decoded)).toBe(50_000);
    for (const [creatorid, ids] of keys.all) expect([...(decoded.get(creatorid) ?? [])].sort()).toEqual([...ids].sort());
  });

  it("round-trips ids far apart (full 64-bit deltas)", () => {
    const keys = keysOf([
      { id: 1n, creatorid: PRIMARY_ID, ageSeconds: 60, expiresSeconds: 60 },
      { id: 0xffffffffffffffffn, creatorid: PRIMARY_ID, ageSeconds: 60, expiresSeconds: 60 },
    ]);
    expect([...(decodeStateKeys(encodeStateKeys(keys.all)).get(PRIMARY_ID) ?? [])]).toEqual([1n, 0xffffffffffffffffn]);
  });

  it("rejects keys it did not encode", () => {
    expect(() => decodeStateKeys(null)).toThrow(/bad state keys/);
    expect(() => decodeStateKeys({ count: 1, byCreator: { "../x": "AQ==" } })).toThrow(/bad state keys: creator/);
    expect(() => decodeStateKeys({ count: 1, byCreator: { [PRIMARY_ID]: Buffer.from([0x81]).toString("base64") } })).toThrow(/cut short/);
    expect(() => decodeStateKeys({ count: 2, byCreator: { [PRIMARY_ID]: Buffer.from([1]).toString("base64") } })).toThrow(/expected 2 keys, decoded 1/);
  });

  describe("the share of the primary's settled states the secondary holds, asked from either host", () => {
    // The primary: 1000 settled states (its own and some the secondary created), 40 young, 10 about to expire.
    const settledOwn = generateStates({ count: 900, creatorid: PRIMARY_ID, ageSeconds: 300 });
    const settledTheirs = generateStates({ count: 100, creatorid: SECONDARY_ID, ageSeconds: 300, seed: 2 });
    const young = generateStates({ count: 40, creatorid: PRIMARY_ID, firstId: 0x6a1f000100000000n, ageSeconds: 5 });
    const expiring = generateStates({ count: 10, creatorid: PRIMARY_ID, firstId: 0x6a1f000200000000n, ageSeconds: 300, expiresSeconds: 3 });
    const primaryStates = [...settledOwn, ...settledTheirs, ...young, ...expiring];
    // The secondary lacks 50 of the settled ones and every young and expiring one; it has 20 of its own the primary lacks.
    const extra = generateStates({ count: 20, creatorid: SECONDARY_ID, firstId: 0x7000000000000000n, ageSeconds: 300 });
    const secondaryStates = [...settledOwn.slice(50), ...settledTheirs, ...extra];
    const expected: StateShare = { compared: 1000, held: 950, young: 40, expiring: 10 };

    it("from the primary: it sends its settled keys, the secondary counts those it holds", () => {
      const primary = keysOf(primaryStates);
      const answer = matchStates(keysOf(secondaryStates), decodeStateKeys(JSON.parse(JSON.stringify(encodeStateKeys(primary.settled)))));
      expect(stateShare("primary", primary, answer)).toEqual(expected);
    });

    it("from the secondary: it sends all its keys, the primary counts its settled ones among them", () => {
      const secondary = keysOf(secondaryStates);
      const answer = matchStates(keysOf(primaryStates), decodeStateKeys(JSON.parse(JSON.stringify(encodeStateKeys(secondary.all)))));
      expect(stateShare("secondary", secondary, answer)).toEqual(expected);
    });
  });
});

describe("decidePfsync: compare_states", () => {
  const compare = pfsyncSettings(config("compare_states = true"));
  const decide = (share: StateShare, settings: PfsyncSettings = compare) => decidePfsync(facts(hostFacts("primary", 1050), hostFacts("secondary", 1000), { share }), settings);

  it("reports the share in the summary and as perfdata, with the young states left out", () => {
    const res = decide({ compared: 1000, held: 995, young: 40, expiring: 10 });
    expect(firstLine(res)).toBe(
      "OK: states primary 1050, secondary 1000; secondary holds 99.5% | states_primary=1050;;;0 states_secondary=1000;;;0 share=99.5%;95:;80:;0;100 errors_primary=13c;;;0 errors_secondary=13c;;;0",
    );
    expect(res.details).toContain("state tables: 1000 primary states older than 30s compared, secondary holds 995 (99.5%); left out 40 younger, 10 expiring within 10s");
  });

  it("is WARNING below share_warning and CRITICAL below share_critical", () => {
    expect(decide({ compared: 1000, held: 950, young: 0, expiring: 0 }).status).toBe("OK");
    const warning = decide({ compared: 1000, held: 949, young: 0, expiring: 0 });
    expect(warning).toMatchObject({ status: "WARNING", summary: "secondary holds only 94.9% of the primary's states" });
    expect(warning.details[0]).toBe("51 of the primary's 1000 settled states are missing on the secondary (WARNING below 95:)");
    expect(decide({ compared: 1000, held: 799, young: 0, expiring: 0 })).toMatchObject({ status: "CRITICAL", summary: "secondary holds only 79.9% of the primary's states" });
  });

  it("takes -w/-c as Nagios ranges over the config", () => {
    const overridden = pfsyncSettings(config("compare_states = true"), parseRange("99:"), parseRange("90:"));
    expect(decide({ compared: 1000, held: 985, young: 0, expiring: 0 }, overridden).status).toBe("WARNING");
    expect(decide({ compared: 1000, held: 895, young: 0, expiring: 0 }, overridden).status).toBe("CRITICAL");
    const unused = pfsyncSettings(config(), parseRange("99:"));
    expect(decidePfsync(facts(hostFacts("primary", 1), hostFacts("secondary", 1)), unused).details).toContain("-w/-c apply to the state-table share only: set compare_states = true");
  });

  it("is OK with an undetermined share when no state is old enough to compare", () => {
    const res = decide({ compared: 0, held: 0, young: 12, expiring: 0 });
    expect(res).toMatchObject({ status: "OK", summary: "states primary 1050, secondary 1000; no settled state to compare" });
    expect(res.perfdata.find((datum) => datum.label === "share")?.value).toBe("U");
  });

  it("keeps every summary within 80 characters", () => {
    const down = IFCONFIG_SECONDARY.replace("pfsync0: flags=41<UP,RUNNING>", "pfsync0: flags=0<>");
    const res = decidePfsync(facts(hostFacts("primary", 123456), hostFacts("secondary", 12, { ifconfig: ok(down) }), { share: { compared: 123456, held: 1, young: 0, expiring: 0 } }), compare);
    expect(`${res.status}: ${res.summary}`.length).toBeLessThanOrEqual(80);
    expect(res.summary).toBe("pfsync0 down on secondary (+2 more)");
  });
});

describe("config [checks.pfsync]", () => {
  it("has documented defaults", () => {
    expect(config().checks.pfsync).toMatchObject({
      interface: "pfsync0",
      ratio_low: 0.93,
      ratio_high: 1.03,
      small_count: 100,
      small_slack: 3,
      compare_states: false,
      min_state_age: 30,
      share_warning: 95,
      share_critical: 80,
      ignore_counters: [],
      state_dir: "/var/db/carpentry",
    });
  });

  it("refuses a state_dir under /etc, an unknown counter and a syncpeer that is no IPv4 address", () => {
    expect(() => config('state_dir = "/etc/carpentry"')).toThrow(ConfigError);
    expect(() => config('ignore_counters = ["stale", "bogus"]')).toThrow(/ignore_counters/);
    expect(() => config('syncpeer = { primary = "fe80::1" }')).toThrow(/syncpeer.primary/);
    expect(() => config('syncpeer = "10.0.0.1"')).toThrow(/syncpeer/);
  });
});

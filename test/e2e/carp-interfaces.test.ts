// check_carp_interfaces against the simulated pair, run on the primary as monit runs it.
import { describe, expect, it } from "vitest";
import type { HostName, Pair } from "../harness/pair.js";
import { fixture } from "../support/fixtures.js";
import { PAIR_CONFIG, useSimulatedPair } from "../support/sim.js";

const CHECK = "/etc/carpentry.monit/check_carp_interfaces";
const SECRET = "w4n-Carp-s3cret";

// The files behind the live carp203 of the healthy pair (vio fixtures): the one-line form on
// the primary, the secondary's copy with advskew 100 and its options on separate lines.
const CARP203: Record<HostName, string> = {
  primary: `inet 10.112.203.254 255.255.255.0 NONE vhid 203 carpdev vio2 advskew 0 pass ${SECRET}\ndescription "INT_203"\nup\n`,
  secondary: `# copied from the primary\ninet 10.112.203.254/24\nvhid 203 pass ${SECRET} carpdev vio2 advskew 100\ndescription "INT_203"\nup\n`,
};
const EXTRA_FILES = ["/etc/hostname.carp1", "/etc/hostname.carp204"];

let pair: Pair;

async function check(args: string[] = []): Promise<{ code: number | null; firstLine: string; stdout: string }> {
  const run = await pair.run("primary", [CHECK, ...args]);
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout };
}

async function writeCarpFile(host: HostName, name: string, content: string): Promise<void> {
  await pair.writeFile(host, `/etc/${name}`, content, { mode: 0o640 });
}

useSimulatedPair(
  (started) => (pair = started),
  async (_pair, host) => {
    await writeCarpFile(host, "hostname.carp203", CARP203[host]);
    for (const path of EXTRA_FILES) await pair.removeFile(host, path);
  },
);

describe("check_carp_interfaces", () => {
  it("OK when the files agree, in one round trip to the secondary", async () => {
    await pair.clearCommandLog("secondary");
    const res = await check(["-v"]);
    expect(res.firstLine).toBe("OK: 1 hostname.carpN file agrees between the hosts | primary_files=1;;;0 secondary_files=1;;;0 problems=0;;;0 other_files=0;;;0");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("\nhostname.carp203: vhid 203, inet 10.112.203.254/24, carpdev vio2\n");
    expect((await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh")).toHaveLength(1);
  });

  it("CRITICAL naming a file that exists on one host only", async () => {
    await writeCarpFile("primary", "hostname.carp204", CARP203.primary.replaceAll("203", "204"));
    const primaryWithCarp204 =
      fixture("ifconfig_carp_group_primary_master_vio.txt") + fixture("ifconfig_carp_group_primary_master_vio.txt").split("carp203:")[1]?.replace(/^/, "carp204:").replaceAll("203", "204");
    await pair.setOutput("primary", ["ifconfig", "carp"], primaryWithCarp204);
    const res = await check();
    expect(res.firstLine).toMatch(/^CRITICAL: hostname.carp204 only on primary \|/);
    expect(res.code).toBe(2);
    expect(res.stdout).toContain("\n/etc/hostname.carp204 exists on the primary only\n");
  });

  it("CRITICAL when the pass differs, without the pass in any output", async () => {
    await writeCarpFile("secondary", "hostname.carp203", CARP203.secondary.replace(SECRET, `${SECRET}-old`));
    const res = await check();
    expect(res.firstLine).toMatch(/^CRITICAL: hostname.carp203 pass differs \|/);
    expect(res.code).toBe(2);
    expect(res.stdout).toContain("\nhostname.carp203: pass differs between the hosts (values not shown; carp incorrect hash)\n");
    const verbose = await check(["-v"]);
    const json = await check(["--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "CRITICAL", summary: "hostname.carp203 pass differs" });
    for (const output of [res.stdout, verbose.stdout, json.stdout]) expect(output).not.toContain(SECRET);
  });

  it("carpdev re0 on the primary, em0 on the secondary: OK with the declaration, CRITICAL without", async () => {
    await writeCarpFile("primary", "hostname.carp203", CARP203.primary.replace("carpdev vio2", "carpdev re0"));
    await writeCarpFile("secondary", "hostname.carp203", CARP203.secondary.replace("carpdev vio2", "carpdev em0"));
    const undeclared = await check();
    expect(undeclared.firstLine).toMatch(/^CRITICAL: hostname.carp203 carpdev differs \|/);
    expect(undeclared.code).toBe(2);
    expect(undeclared.stdout).toContain('declare [host_specific] interfaces = { re0 = "em0" }');

    await pair.writeConfig("primary", `${PAIR_CONFIG.primary}[host_specific]\ninterfaces = { re0 = "em0" }\n`);
    const declared = await check();
    expect(declared.firstLine).toMatch(/^OK: 1 hostname.carpN file agrees between the hosts \|/);
    expect(declared.code).toBe(0);
  });

  it("CRITICAL for a hostname.carpN with no live interface", async () => {
    for (const host of ["primary", "secondary"] as const) await writeCarpFile(host, "hostname.carp1", "inet 192.168.100.103/24 vhid 1 carpdev vio1 pass x\n");
    const res = await check();
    expect(res.firstLine).toMatch(/^CRITICAL: hostname.carp1 on primary: no live carp1 \(\+1 more\) \|/);
    expect(res.code).toBe(2);
    expect(res.stdout).toContain("\n/etc/hostname.carp1 on the secondary has no live interface: ifconfig carp shows no carp1 (sh /etc/netstart carp1?)\n");
  });

  it("UNKNOWN naming file and line for a file it cannot parse, never the line's text", async () => {
    await writeCarpFile("secondary", "hostname.carp203", `${CARP203.secondary}pas ${SECRET}\n`);
    const res = await check(["-v"]);
    expect(res.firstLine).toMatch(/^UNKNOWN: cannot parse \/etc\/hostname.carp203 on secondary line 6 \|/);
    expect(res.code).toBe(3);
    expect(res.stdout).not.toContain(SECRET);
  });

  it("UNKNOWN when the secondary cannot be reached", async () => {
    await pair.writeConfig("primary", PAIR_CONFIG.primary.replace('host = "secondary"', 'host = "secondary"\nport = 2222'));
    const res = await check();
    expect(res.firstLine).toMatch(/^UNKNOWN: cannot reach secondary: /);
    expect(res.code).toBe(3);
  });
});

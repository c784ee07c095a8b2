// carpentry init's decisions, on fixture outputs: real captures where there are any (test/fixtures/openbsd,
// src/sim/captures), a derived ifstated.conf (test/fixtures/init), and the simulated pair's files.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import primaryExample from "../../../monitrc.primary.example";
import secondaryExample from "../../../monitrc.secondary.example";
import {
  choosePreferredMasters,
  chooseTables,
  hostSpecificTokens,
  ifstatedSwitches,
  localDataNames,
  planFor,
  readPfConfTables,
  renderMonitrc,
  renderToml,
  surveyCommands,
  surveyFrom,
  type HostSurvey,
} from "../../../src/cli/init-plan.js";
import { parseCarpInterfaces } from "../../../src/lib/parse/ifconfig.js";
import { parseTableList } from "../../../src/lib/parse/pfctl.js";
import type { CommandResult } from "../../../src/lib/transport/shell.js";
import { healthyPair, type PairShape } from "../../../src/sim/gateways.js";
import type { HostName } from "../../../src/sim/pair.js";

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");
const capture = (name: string): string => readFileSync(new URL(`../../../src/sim/captures/${name}`, import.meta.url), "utf8");

const PRIMARY_CARP = parseCarpInterfaces(capture("ifconfig_carp_group_primary_master_vio.txt"));
const SECONDARY_CARP = parseCarpInterfaces(capture("ifconfig_carp_group_secondary_backup_vio.txt"));

describe("choosePreferredMasters", () => {
  it("names the host with the lower advskew, from either side", () => {
    expect([...choosePreferredMasters("primary", PRIMARY_CARP, SECONDARY_CARP).map]).toEqual([["carp203", "primary"]]);
    expect([...choosePreferredMasters("secondary", SECONDARY_CARP, PRIMARY_CARP).map]).toEqual([["carp203", "primary"]]);
    // The secondary's advskew the lower one: the secondary is preferred (an active/active interface).
    const chosen = choosePreferredMasters("secondary", PRIMARY_CARP, SECONDARY_CARP);
    expect([...chosen.map]).toEqual([["carp203", "secondary"]]);
    expect(chosen.choices).toEqual([{ subject: "carp203", reason: "the secondary should be MASTER (advskew 100 on the primary, 0 on the secondary)" }]);
  });

  it("prefers the primary on equal advskew", () => {
    const chosen = choosePreferredMasters("primary", PRIMARY_CARP, PRIMARY_CARP);
    expect([...chosen.map]).toEqual([["carp203", "primary"]]);
    expect(chosen.choices[0]?.reason).toBe("the primary should be MASTER (advskew 0 on both: the primary)");
  });

  it("leaves balancing interfaces shared, and says when the peer lacks the vhid", () => {
    const host1 = parseCarpInterfaces(fixture("openbsd/ifconfig_carp_balancing_host1_bookofpf.txt"));
    const host2 = parseCarpInterfaces(fixture("openbsd/ifconfig_carp_balancing_host2_bookofpf.txt"));
    const chosen = choosePreferredMasters("primary", host1, host2);
    expect(chosen.map.size).toBe(0);
    expect(chosen.choices.map((c) => c.reason)).toEqual(["balancing over 2 vhids: shared by design, no preferred master", "balancing over 2 vhids: shared by design, no preferred master"]);
    const lonely = choosePreferredMasters("primary", PRIMARY_CARP, []);
    expect(lonely.map.size).toBe(0);
    expect(lonely.undecided).toEqual(["carp203: the secondary has no carp interface with vhid 203: its preferred master is left to the check"]);
  });
});

describe("readPfConfTables and chooseTables", () => {
  const pfConf = [
    'table <badhosts> persist file "/etc/pf.tables/badhosts.txt"   # synced',
    "table <bruteforce> persist",
    "table <carp_peers> const { 192.0.2.1 192.0.2.2 }",
    "table <spamd-white> persist",
    "pass in on egress proto tcp to port ssh keep state \\",
    "\t(max-src-conn-rate 5/30, overload <bruteforce> flush global)",
    "# table <commented> persist",
  ].join("\n");
  const tables = readPfConfTables(pfConf);
  const listed = parseTableList(fixture("openbsd/derived_pfctl_vsT_openbsd7.txt"));

  it("reads file-backed, const and overload tables, joining continued lines and skipping comments", () => {
    expect([...tables.files]).toEqual([["badhosts", "/etc/pf.tables/badhosts.txt"]]);
    expect([...tables.constant]).toEqual(["carp_peers"]);
    expect([...tables.overload]).toEqual(["bruteforce"]);
    expect([...tables.declared].sort()).toEqual(["badhosts", "bruteforce", "carp_peers", "spamd-white"]);
  });

  it("compares the tables kept the same on both hosts, never those each host fills by itself", () => {
    const byName = (synced: boolean): Record<string, string> => Object.fromEntries(chooseTables(tables, listed, synced).map((t) => [t.subject, `${t.compared}: ${t.reason}`]));
    expect(byName(false)).toEqual({
      badhosts: "true: compared, file-backed (/etc/pf.tables/badhosts.txt)",
      bruteforce: "false: left out, an overload table: each host fills it by itself",
      carp_peers: "false: left out, a const table: pf.conf fixes it, and check_drift_pf compares pf.conf",
      "spamd-white": "false: left out, spamd's: each host's spamd fills it",
      trusted: "false: left out, filled at run time (no file in pf.conf) and no carpentry sync copies it",
      webservers: "false: left out, filled at run time (no file in pf.conf) and no carpentry sync copies it",
    });
    expect(byName(true)["trusted"]).toBe("true: compared, filled at run time and copied by carpentry's sync (/etc/carpentry.bin/pf-tables-memory.sh)");
    expect(byName(true)["bruteforce"]).toBe("false: left out, an overload table: each host fills it by itself");
  });
});

describe("hostSpecificTokens", () => {
  const pair = healthyPair();
  const files = (host: HostName): Map<string, string> => new Map([...pair.hosts[host].files].filter(([path]) => /ifstated|smtpd\.conf/.test(path)).map(([path, file]) => [path, file.content]));

  it("takes the addresses and interface names that differ, once per pair whichever way round", () => {
    expect(hostSpecificTokens(files("primary"), files("secondary"))).toEqual({
      values: [["192.168.110.101", "192.168.110.102"]],
      interfaces: [["re0", "em0"]],
      files: ["/etc/ifstated.conf", "/etc/mail/smtpd.conf.carp-backup"],
    });
  });

  it("takes interface names where they stand as interfaces", () => {
    const a = new Map([
      ["/etc/mail/smtpd.conf.carp-backup", "listen on vio0\n"],
      ["/etc/ifstated.conf", 'up = "vio1.link.up"\n'],
    ]);
    const b = new Map([
      ["/etc/mail/smtpd.conf.carp-backup", "listen on em0\n"],
      ["/etc/ifstated.conf", 'up = "em1.link.up"\n'],
    ]);
    expect(hostSpecificTokens(a, b).interfaces).toEqual([
      ["vio0", "em0"],
      ["vio1", "em1"],
    ]);
  });

  it("never takes other words that differ (a secret stays in its file)", () => {
    const a = new Map([["/etc/ifstated.conf", 'run "login -p s3cret"\nrun "token abc123"\nx = "em1.link.up"\n']]);
    const b = new Map([["/etc/ifstated.conf", 'run "login -p other"\nrun "token xyz789"\nx = "em1.link.up"\n']]);
    expect(hostSpecificTokens(a, b)).toEqual({ values: [], interfaces: [], files: [] });
  });
});

it("localDataNames: the A records unbound answers from its own zone", () => {
  expect(localDataNames('server:\n\tlocal-data: "gw.carp.test. IN A 10.0.0.1"\n\tlocal-data: "ns.carp.test 3600 IN A 10.0.0.2"\n\tlocal-data: "x.test. IN MX 10 gw.carp.test."\n')).toEqual([
    "gw.carp.test",
    "ns.carp.test",
  ]);
  expect(localDataNames("server:\n\tinterface: 127.0.0.1\n")).toEqual([]);
});

it("ifstatedSwitches: the states in which ifstated stops or starts each service", () => {
  const switches = ifstatedSwitches(fixture("init/ifstated_dhcpd_master_only.conf"));
  expect(Object.fromEntries(switches)).toEqual({
    dhcpd: { stoppedIn: ["backup"], startedIn: ["master"] },
    relayd: { stoppedIn: ["backup"], startedIn: [] },
  });
});

// ---- from command outputs to the files ----

/** The survey results a host of the simulated pair would give (the commands' outputs from its state). */
function resultsOf(shape: PairShape, host: HostName, running: readonly string[]): CommandResult[] {
  const state = healthyPair(shape).hosts[host];
  const output = (argv: readonly string[]): string | undefined => state.outputs.get(JSON.stringify(argv))?.stdout;
  const exists = (path: string): boolean => [...state.files.keys()].some((file) => file === path || file.startsWith(`${path}/`));
  return surveyCommands().map(({ argv = [] }): CommandResult => {
    const [tool, ...args] = argv;
    const command = argv.join(" ");
    const name = tool?.slice(tool.lastIndexOf("/") + 1) ?? "";
    if (["ifconfig", "pfctl", "rcctl"].includes(name)) {
      const text = output([name, ...args]);
      return text === undefined ? { command, stdout: "", stderr: `${name}: not there`, exitCode: 1 } : { command, stdout: text, stderr: "", exitCode: 0 };
    }
    if (name === "pgrep") return { command, stdout: running.map((daemon, i) => `${100 + i} ${daemon}\n`).join(""), stderr: "", exitCode: running.length > 0 ? 0 : 1 };
    if (name === "cat") {
      const file = state.files.get(args[0] ?? "");
      return file ? { command, stdout: file.content, stderr: "", exitCode: 0 } : { command, stdout: "", stderr: `cat: ${args[0]}: No such file or directory`, exitCode: 1 };
    }
    if (name === "ls" && args[0] === "-d") {
      const found = args.slice(1).filter(exists);
      return { command, stdout: found.map((path) => `${path}\n`).join(""), stderr: "", exitCode: found.length === args.length - 1 ? 0 : 1 };
    }
    const dir = args[1] ?? "";
    const names = [...new Set([...state.files.keys()].filter((file) => file.startsWith(`${dir}/`)).map((file) => file.slice(dir.length + 1).split("/")[0]))];
    return { command, stdout: names.map((n) => `${n}\n`).join(""), stderr: "", exitCode: 0 };
  });
}

const survey = (shape: PairShape, host: HostName, running: readonly string[] = ["sshd", "unbound"]): HostSurvey => surveyFrom(resultsOf(shape, host, running));

describe("surveyFrom", () => {
  it("reads every answer of a healthy host", () => {
    const primary = survey("full", "primary");
    expect(primary.unread).toEqual([]);
    expect(primary.carp?.map((c) => c.name)).toEqual(["carp203"]);
    expect(primary.pfsync?.syncdev).toBe("vio1");
    expect(primary.tables?.map((t) => t.name)).toEqual(["badhosts", "trusted"]);
    expect([...(primary.servicesOn ?? [])]).toContain("dhcpd");
    expect([...primary.running]).toEqual(["sshd", "unbound"]);
    expect(primary.existing.has("/etc/openv-client-acme")).toBe(true);
    expect(primary.existing.has("/etc/carpentry.bin")).toBe(true);
    expect(survey("minimal", "primary").existing.has("/etc/carpentry.bin")).toBe(false);
  });

  it("says what it could not read, and reads nothing into it", () => {
    const results = resultsOf("full", "primary", []).map((r, i) =>
      i === 0 ? { ...r, stdout: "carp203: flags=8843<UP\n\tcarp: MASTR carpdev vio2 vhid 203\n" } : i === 3 ? { ...r, stdout: "", stderr: "rcctl: not found", exitCode: 127 } : r,
    );
    const garbled = surveyFrom(results);
    expect(garbled.carp).toBeUndefined();
    expect(garbled.servicesOn).toBeUndefined();
    expect(garbled.unread).toHaveLength(1);
    expect(garbled.unread[0]).toMatch(/^ifconfig carp: /);
  });
});

describe("planFor, renderToml and renderMonitrc", () => {
  it("the minimal pair: the overload table and the unused sets left out, with why", () => {
    const plan = planFor("primary", "secondary", survey("minimal", "primary"), survey("minimal", "secondary"));
    expect(plan.undecided).toEqual([]);
    const toml = renderToml(plan, "2026-01-01");
    expect(toml).toContain(
      '\n[checks.pf_tables]\n# table badhosts: compared, file-backed (/etc/pf.tables/badhosts.txt)\n# table bruteforce: left out, an overload table: each host fills it by itself\ntables = ["badhosts"]\n',
    );
    expect(toml).toContain(
      "\n[checks.installed]\n# carpentry's sync: not installed: none of /etc/carpentry.bin, /etc/rc.d/carpentry, /etc/carpentry, /usr/local/bin/entr on either host\ncarpentry_sync = false\n",
    );
    expect(toml).toContain('\n[checks.carp]\n# carp203: the primary should be MASTER (advskew 0 on the primary, 100 on the secondary)\npreferred_master = { carp203 = "primary" }\n');
    const monitrc = renderMonitrc(plan, primaryExample, "2026-01-01", "noc@example.net");
    expect(monitrc).toContain("\n# check_drift_vpn: left out, the drift set vpn is not in use: none of /etc/openvpn/, /etc/openv-client-*/ on either host\n");
    expect(monitrc).toContain("\n# dhcpd: left out, not enabled and not running here\n");
    expect(monitrc).not.toMatch(/check process dhcpd|check program check_drift_dhcp/);
    expect(monitrc).toContain("\nset alert noc@example.net not on { instance }\n");
    expect(monitrc).not.toContain("cp monitrc.primary.example");
  });

  it("check_carp never depends on check_peer; the other peer checks keep it", () => {
    const plan = planFor("secondary", "primary", survey("full", "secondary"), survey("full", "primary"));
    const monitrc = renderMonitrc(plan, secondaryExample, "2026-01-01");
    expect(monitrc).toMatch(/\ncheck program check_carp [^\n]*\n {4}with timeout 30 seconds\n {4}if status != 0 for 2 cycles then alert\n/);
    expect(monitrc).toMatch(/\ncheck program check_sysctl [^\n]*\n {4}with timeout 30 seconds\n {4}depends on check_peer\n/);
    expect(monitrc).toContain('\ncheck process openvpn matching "^/usr/local/sbin/openvpn"\n    if does not exist then alert\n    group system\n');
  });

  it("a service ifstated stops in a state gets no plain check process", () => {
    const base = survey("full", "primary");
    const files = new Map(base.hostSpecificFiles);
    files.set("/etc/ifstated.conf", fixture("init/ifstated_dhcpd_master_only.conf"));
    const plan = planFor("primary", "secondary", { ...base, hostSpecificFiles: files }, survey("full", "secondary"));
    const monitrc = renderMonitrc(plan, primaryExample, "2026-01-01");
    expect(monitrc).toContain("\n# dhcpd: left out, ifstated stops it in state backup: a plain check would alert on every such state (check_carp says which host is MASTER)\n");
    expect(monitrc).not.toContain("check process dhcpd");
    expect(monitrc).toContain('check process smtpd matching "^/usr/sbin/smtpd"');
  });

  it("with the peer unreachable: what this host shows, and what could not be decided, in both files", () => {
    const plan = planFor("primary", "secondary", survey("active-active", "primary"), undefined, "cannot reach secondary: connection refused");
    expect(plan.undecided).toEqual([
      "the secondary could not be asked (cannot reach secondary: connection refused)",
      "preferred master of carp203, carp204: needs both hosts' advskew; left to check_carp, which derives it the same way",
      "pf tables: from this host's pf.conf and tables only",
      "[host_specific]: needs both hosts' ifstated files; none written",
    ]);
    const toml = renderToml(plan, "2026-01-01");
    expect(toml).toContain("\n#   - the secondary could not be asked (cannot reach secondary: connection refused)\n");
    expect(toml).toContain("\n# preferred_master: not written; the check derives it from advskew on both hosts\n");
    expect(toml).not.toContain("[host_specific]\n");
    expect(toml).toContain("carpentry_sync = true");
    expect(renderMonitrc(plan, primaryExample, "2026-01-01")).toContain("\n# init could not decide:\n#   - the secondary could not be asked");
  });

  it("active/active: each interface to the host that prefers it", () => {
    const plan = planFor("secondary", "primary", survey("active-active", "secondary"), survey("active-active", "primary"));
    expect([...plan.preferredMaster]).toEqual([
      ["carp203", "primary"],
      ["carp204", "secondary"],
    ]);
  });
});

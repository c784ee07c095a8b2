// What the demo's two gateways hold: a pair set up as this README describes, in good health (files, configs, and what
// ifconfig, pfctl, sysctl, smtpctl, rcctl, netstat and pgrep print, from real OpenBSD captures), and
// the faults of the tour, each a change to that healthy state.
import type { Status } from "../lib/result.js";
import carpGroupPrimary from "../../test/fixtures/openbsd/ifconfig_carp_group_primary_master_vio.txt";
import carpGroupSecondary from "../../test/fixtures/openbsd/ifconfig_carp_group_secondary_backup_vio.txt";
import pfInfo from "../../test/fixtures/openbsd/derived_pfctl_si_openbsd7.txt";
import netstatPfsync from "../../test/fixtures/openbsd/derived_netstat_sp_pfsync.txt";
import demoteAfterMaintenance from "../../test/fixtures/openbsd/ifconfig_g_internal_after_carpdemote50_faq.txt";
import demoteNone from "../../test/fixtures/openbsd/ifconfig_g_carp_faq.txt";
import { HOST_NAMES, INSTALL_DIR, SSH_STANDIN_PATH, type HostName, type SimPair } from "./pair.js";
import { DEMO_CARP_PASS } from "./secrets.js";

/** The names the demo's resolver answers, and where they point. */
export const DNS_RECORDS: Readonly<Record<string, string>> = { "gw.carp.test": "10.112.203.254", "ns.carp.test": "10.112.203.1" };

/** Directories that hold only what the demo plants (holder.sh covers those the machine has with an empty tmpfs). */
export const OWN_DIRS = [
  INSTALL_DIR, "/etc/carpentry", "/etc/carpentry.bin", "/etc/rc.d", "/etc/pf.tables", "/etc/mail", "/etc/openvpn", "/etc/openv-client-acme", "/var/unbound", "/var/db",
];

const SYSCTL_CONF = (preempt: number): string => `# carpentry gateway\nnet.inet.ip.forwarding=1\nnet.inet.carp.preempt=${preempt}\n`;
const PF_CONF = '# managed by carpentry\nset skip on lo\nblock return log\npass out\ntable <badhosts> persist file "/etc/pf.tables/badhosts.txt"\n';

/** hostname.carp203 in its one-line form: the primary's line, the secondary's copy with advskew 100. */
function hostnameCarp203(host: HostName): string {
  return host === "primary"
    ? `inet 10.112.203.254 255.255.255.0 NONE vhid 203 carpdev vio2 advskew 0 pass ${DEMO_CARP_PASS}\ndescription "INT_203"\nup\n`
    : `# copied from the primary\ninet 10.112.203.254/24\nvhid 203 pass ${DEMO_CARP_PASS} carpdev vio2 advskew 100\ndescription "INT_203"\nup\n`;
}

/** The hosts' management addresses: the files that name them differ between the hosts by design ([host_specific]). */
export const ADDRESS: Readonly<Record<HostName, string>> = { primary: "192.168.110.101", secondary: "192.168.110.102" };
const UPLINK: Record<HostName, string> = { primary: "re0", secondary: "em0" };
const peerOf = (host: HostName): HostName => (host === "primary" ? "secondary" : "primary");

function ifstatedConf(host: HostName): string {
  return [
    `# ifstated.conf of ${ADDRESS[host]}: switches smtpd with the carp state`,
    `uplink_up = "${UPLINK[host]}.link.up"`,
    "init-state auto",
    "state auto {",
    "\tif carp203.link.up set-state master",
    "\tif ! carp203.link.up set-state backup",
    "}",
    "state master {",
    "\tinit {",
    `\t\trun "cp /etc/mail/smtpd.conf.carp-master /etc/mail/smtpd.conf && rcctl restart smtpd"`,
    `\t\trun "logger -t ifstated ${ADDRESS[host]} became carp master"`,
    "\t}",
    "}",
    "state backup {",
    "\tinit {",
    `\t\trun "cp /etc/mail/smtpd.conf.carp-backup /etc/mail/smtpd.conf && rcctl restart smtpd"`,
    "\t}",
    "}",
    "",
  ].join("\n");
}

interface PlantedFile {
  readonly content: string;
  readonly mode?: number;
}

function plantedFiles(host: HostName): Record<string, PlantedFile> {
  const files: Record<string, PlantedFile> = {
    "/etc/hostname.carp203": { content: hostnameCarp203(host), mode: 0o640 },
    "/etc/sysctl.conf": { content: SYSCTL_CONF(1) },
    "/etc/pf.conf": { content: PF_CONF, mode: 0o600 },
    "/etc/pf.tables/badhosts.txt": { content: "192.0.2.1\n192.0.2.2\n", mode: 0o600 },
    "/etc/dhcpd.conf": { content: "# managed by carpentry\nsubnet 10.112.203.0 netmask 255.255.255.0 {\n\toption routers 10.112.203.254;\n\trange 10.112.203.10 10.112.203.200;\n}\n" },
    "/var/unbound/etc/unbound.conf": { content: 'server:\n\tinterface: 127.0.0.1\n\tlocal-zone: "carp.test." static\n\tlocal-data: "gw.carp.test. IN A 10.112.203.254"\n' },
    "/etc/openvpn/server.conf": { content: "# managed by carpentry\nport 1194\ndev tun0\n" },
    "/etc/openv-client-acme/client.conf": { content: "client\nremote vpn.acme.example 1194\n" },
    "/etc/ifstated.conf": { content: ifstatedConf(host) },
    "/etc/mail/smtpd.conf.carp-backup": { content: `listen on ${ADDRESS[host]}\naction "relay" relay host smtp://${ADDRESS[peerOf(host)]}\nmatch from local for any action "relay"\n` },
    "/etc/mail/smtpd.conf.carp-master": { content: 'listen on lo0\naction "out" relay\nmatch from local for any action "out"\n' },
    "/etc/syslog.conf": { content: "*.notice;auth,authpriv,cron,ftp,kern,lpr,mail,user.none\t/var/log/messages\n" },
    "/root/bin/pf-tables-update.sh": { content: "#!/bin/ksh\n/sbin/pfctl -t badhosts -T replace -f /etc/pf.tables/badhosts.txt\n", mode: 0o700 },
    "/etc/carpentry.bin/pf.sh": { content: "#!/bin/ksh\nscp -p /etc/pf.conf root@secondary:/etc/\n", mode: 0o700 },
    "/etc/rc.d/carpentry": { content: '#!/bin/ksh\ndaemon="/etc/carpentry.bin/entr-all"\n. /etc/rc.d/rc.subr\nrc_cmd $1\n', mode: 0o755 },
  };
  // /etc/carpentry holds the primary's own settings.
  if (host === "primary") files["/etc/carpentry/carpentry.conf"] = { content: "peer=192.168.110.102\n", mode: 0o600 };
  return files;
}

const PRIVATE_DIRS = ["/etc/pf.tables", "/root/bin", "/etc/carpentry.bin", "/etc/carpentry"];

/** Each host's carpentry.toml: the two-line config, the demo's peer link and resolver, the pair's host-specific values. */
function configFor(host: HostName, resolverPort: number): string {
  return [
    `role = "${host}"`,
    "",
    "[peer]",
    `host = "${ADDRESS[peerOf(host)]}"`,
    "# the demo has no sshd: this stands in for /usr/bin/ssh and enters the other simulated host",
    `ssh_path = "${SSH_STANDIN_PATH}"`,
    "",
    "[host_specific]",
    `values = [{ primary = "${ADDRESS.primary}", secondary = "${ADDRESS.secondary}" }]`,
    `interfaces = { ${UPLINK.primary} = "${UPLINK.secondary}" }`,
    "",
    "[checks.dns]",
    `port = ${resolverPort}`,
    `names = [${Object.keys(DNS_RECORDS).map((name) => `"${name}"`).join(", ")}]`,
    "query_timeout = 2",
    ...(host === "primary" ? ["", "[drift.syslog]", 'description = "syslogd"', 'paths = ["/etc/syslog.conf"]'] : []),
    "",
  ].join("\n");
}

// -- what the tools print ---------------------------------------------------------------------------

const CARP_GROUP: Record<HostName, string> = { primary: carpGroupPrimary, secondary: carpGroupSecondary };
const primaryBackup = carpGroupPrimary.replace("carp: MASTER", "carp: BACKUP").replace("status: master", "status: backup");
const secondaryMaster = carpGroupSecondary.replace("carp: BACKUP", "carp: MASTER").replace("status: backup", "status: master");
const BADHOSTS = ["192.0.2.1", "192.0.2.2", "198.51.100.0/24", "2001:db8::/48"];
const TRUSTED = ["192.0.2.10", "203.0.113.0/24"];
const LIVE_SYSCTL = { "net.inet.carp.allow": "1", "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "1" };

/** `pfctl -si` with this many states (the derived OpenBSD 7 capture, its columns kept). */
function pfInfoWith(states: number): string {
  return pfInfo.replace(/(current entries)(\s+)(\d+)/, (_, label: string, space: string, count: string) => `${label}${" ".repeat(Math.max(1, space.length + count.length - String(states).length))}${states}`);
}

/** The interface blocks of an `ifconfig` listing, by name. */
function ifconfigBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const block of text.split(/\n(?=\S)/)) blocks.set(block.slice(0, block.indexOf(":")), block.endsWith("\n") ? block : `${block}\n`);
  return blocks;
}

function setCarp(pair: SimPair, host: HostName, listing: string): void {
  pair.setOutput(host, ["ifconfig", "carp"], listing);
  for (const [name, block] of ifconfigBlocks(listing)) pair.setOutput(host, ["ifconfig", name], block);
}

function setTables(pair: SimPair, host: HostName, tables: Readonly<Record<string, readonly string[]>>): void {
  pair.setOutput(host, ["pfctl", "-vsT"], Object.keys(tables).map((name) => `-pa-r--\t${name}\n`).join(""));
  for (const [name, entries] of Object.entries(tables)) pair.setOutput(host, ["pfctl", "-t", name, "-T", "show"], entries.map((entry) => `   ${entry}\n`).join(""));
}

function setSysctl(pair: SimPair, host: HostName, values: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(values)) {
    pair.setOutput(host, ["sysctl", name], `${name}=${value}\n`);
    pair.setOutput(host, ["sysctl", "-n", name], `${value}\n`);
  }
  const carp = Object.entries(values).filter(([name]) => name.startsWith("net.inet.carp."));
  pair.setOutput(host, ["sysctl", "net.inet.carp"], [...carp, ["net.inet.carp.log", "2"]].map(([name, value]) => `${name}=${value}\n`).join(""));
  // check_sysctl asks every name at once, sorted.
  const names = Object.keys(values).sort();
  pair.setOutput(host, ["sysctl", ...names], names.map((name) => `${name}=${values[name] ?? ""}\n`).join(""));
}

/** A queue of `count` messages to a dead relay, the oldest `oldestSeconds` old (smtpctl show queue's fields). */
function queueText(count: number, oldestSeconds: number, nowSeconds: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = nowSeconds - Math.round((oldestSeconds * (count - i)) / count);
    const id = (0x20e9202c5e70252an + BigInt(i)).toString(16).padStart(16, "0");
    lines.push(`${id}|local|mta|auth|root@secondary|noc@example.com|noc@example.com|${created}|${created}|0|${1 + (i % 9)}|pending|372|Network error on destination MXs\n`);
  }
  return lines.join("");
}

/** Everything back to the healthy pair: files, configs, tool outputs, the peer link. */
export function plantHealthyPair(pair: SimPair, resolverPort: number): void {
  for (const host of HOST_NAMES) {
    for (const dir of [...OWN_DIRS.filter((dir) => dir !== INSTALL_DIR), "/root"]) pair.emptyDir(host, dir);
    for (const [path, file] of Object.entries(plantedFiles(host))) pair.writeFile(host, path, file.content, file.mode);
    for (const dir of PRIVATE_DIRS) if (dir !== "/etc/carpentry" || host === "primary") pair.chmod(host, dir, 0o700);
    pair.writeFile(host, `${INSTALL_DIR}/carpentry.toml`, configFor(host, resolverPort), 0o600);
    pair.setPeerReachable(host, true);

    pair.clearOutputs(host);
    setCarp(pair, host, CARP_GROUP[host]);
    pair.setOutput(host, ["ifconfig", "-g", "carp"], demoteNone);
    setSysctl(pair, host, LIVE_SYSCTL);
    pair.setOutput(host, ["pfctl", "-si"], pfInfoWith(host === "primary" ? 1284 : 1279));
    pair.setOutput(host, ["netstat", "-sp", "pfsync"], netstatPfsync);
    setTables(pair, host, { badhosts: BADHOSTS, trusted: TRUSTED });
    pair.setOutput(host, ["smtpctl", "show", "status"], "MDA running\nMTA running\nSMTP running\n");
    pair.setOutput(host, ["smtpctl", "show", "queue"], "");
    pair.setOutput(host, ["rcctl", "check", "carpentry"], "carpentry(ok)\n");
  }
  // carpentry's rc.d service runs entr(1) watchers on the primary.
  pair.setOutput("primary", ["pgrep", "-lx", "entr"], "48213 entr\n48217 entr\n");
}

// -- the tour ---------------------------------------------------------------------------------------

export interface FaultRun {
  readonly host: HostName;
  readonly check: string;
  readonly expected: Status;
  /** Detail lines worth showing after the first line (default 2): a diff needs more. */
  readonly detailLines?: number;
}

export interface Fault {
  /** What happened, in the words of the pair's admin. */
  readonly story: string;
  readonly runs: readonly FaultRun[];
  apply(pair: SimPair, resolver: { setFailing(failing: boolean): void }): void;
}

export const FAULTS: readonly Fault[] = [
  {
    story: "The secondary took over: the primary is BACKUP of carp203, the secondary MASTER.",
    runs: [{ host: "primary", check: "carp", expected: "WARNING", detailLines: 1 }],
    apply: (pair) => {
      setCarp(pair, "primary", primaryBackup);
      setCarp(pair, "secondary", secondaryMaster);
    },
  },
  {
    story: "Split brain: the hosts lost sight of each other's advertisements and both are MASTER.",
    runs: [{ host: "primary", check: "carp", expected: "CRITICAL", detailLines: 1 }],
    apply: (pair) => setCarp(pair, "secondary", secondaryMaster),
  },
  {
    story: "Maintenance: `ifconfig -g carp carpdemote 50` on the primary; the secondary took over.",
    runs: [{ host: "primary", check: "carp", expected: "WARNING" }],
    apply: (pair) => {
      pair.setOutput("primary", ["ifconfig", "-g", "carp"], demoteAfterMaintenance.replace("internal:", "carp:"));
      setCarp(pair, "primary", primaryBackup);
      setCarp(pair, "secondary", secondaryMaster);
    },
  },
  {
    story: "After the upgrade net.inet.carp.preempt was left at 0 on the primary, live and in sysctl.conf.",
    runs: [{ host: "primary", check: "sysctl", expected: "CRITICAL", detailLines: 1 }],
    apply: (pair) => {
      setSysctl(pair, "primary", { ...LIVE_SYSCTL, "net.inet.carp.preempt": "0" });
      pair.writeFile("primary", "/etc/sysctl.conf", SYSCTL_CONF(0));
    },
  },
  {
    story: "The in-memory table badhosts drifted: the sync missed one entry each way.",
    runs: [{ host: "primary", check: "pf_tables", expected: "CRITICAL", detailLines: 3 }],
    apply: (pair) => setTables(pair, "secondary", { badhosts: [...BADHOSTS.slice(1), "203.0.113.66"], trusted: TRUSTED }),
  },
  {
    story: "Someone edited /etc/pf.conf on the primary and the sync to the secondary did not run.",
    runs: [{ host: "primary", check: "drift_pf", expected: "CRITICAL", detailLines: 9 }],
    apply: (pair) => pair.writeFile("primary", "/etc/pf.conf", PF_CONF.replace("pass out\n", "pass out\npass in on vio2 proto tcp to port 22\n"), 0o600),
  },
  {
    story: "Mail piles up on the secondary: its relay through the primary fails, 600 messages, 2 days old.",
    runs: [{ host: "secondary", check: "mailq", expected: "CRITICAL" }],
    apply: (pair) => pair.setOutput("secondary", ["smtpctl", "show", "queue"], queueText(600, 2 * 86400, Math.floor(Date.now() / 1000))),
  },
  {
    story: "pfsync0 is down on the secondary: states no longer follow a failover.",
    runs: [{ host: "primary", check: "pfsync", expected: "CRITICAL", detailLines: 1 }],
    apply: (pair) => setCarp(pair, "secondary", carpGroupSecondary.replace("pfsync0: flags=41<UP,RUNNING>", "pfsync0: flags=0<>")),
  },
  {
    story: "unbound fails on both hosts: every query gets SERVFAIL.",
    runs: [{ host: "primary", check: "dns", expected: "CRITICAL" }],
    apply: (_pair, resolver) => resolver.setFailing(true),
  },
  {
    story: "The secondary's sshd is down: the primary's connections are refused.",
    runs: [{ host: "primary", check: "peer", expected: "CRITICAL" }],
    apply: (pair) => pair.setPeerReachable("primary", false),
  },
];

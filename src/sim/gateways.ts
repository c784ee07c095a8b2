// The simulated gateway pair, described once for `carpentry demo` and the e2e harness: a pair set up
// the 'carpentry' way (one-way sync from the primary, entr watchers, ifstated switching smtpd) in good health (files, configs, and what ifconfig, pfctl, sysctl, smtpctl, rcctl and
// netstat print on each host, from real OpenBSD captures) and the catalogue of faults, each a change
// to that healthy state. A state is plain data: the demo plants it on its user-namespace hosts
// (tour.ts), the harness on its network-namespace hosts (test/harness/scenarios.ts).
import carpGroupPrimary from "./captures/ifconfig_carp_group_primary_master_vio.txt";
import carpGroupSecondary from "./captures/ifconfig_carp_group_secondary_backup_vio.txt";
import pfInfo from "./captures/derived_pfctl_si_openbsd7.txt";
import netstatPfsync from "./captures/derived_netstat_sp_pfsync.txt";
import demoteAfterMaintenance from "./captures/ifconfig_g_internal_after_carpdemote50_faq.txt";
import demoteNone from "./captures/ifconfig_g_carp_faq.txt";
import demoteInternalNone from "./captures/ifconfig_g_internal_faq.txt";
import pfInfoVerbose from "./captures/derived_pfctl_vsi_openbsd7.txt";
import pfLimits from "./captures/pfctl_sm_openbsd_guide.txt";
import netstatCarp from "./captures/derived_netstat_sp_carp.txt";
import ntpPrimarySynced from "./captures/ntpctl_s_all_synced_bitsmasher.txt";
import ntpSecondarySynced from "./captures/derived_ntpctl_s_all_secondary_synced.txt";
import ntpSecondaryUnsynced from "./captures/derived_ntpctl_s_all_secondary_unsynced.txt";
import syspatchList from "./captures/syspatch_l_openbsd70_fluca.txt";
import kernelVersion from "./captures/derived_sysctl_n_kern_version_syspatch70.txt";
import packageList from "./captures/derived_pkg_info_q_openbsd70.txt";
import { historyFile, type CounterReading } from "../lib/runtime/counter-history.js";
import ifconfigAll from "./captures/ifconfig_all_primary_master_vio.txt";
import tunDevices from "./captures/derived_ifconfig_tun_openbsd7.txt";
import { HOST_NAMES, type HostName } from "./pair.js";
import { SECRETS } from "./secrets.js";

// -- the state ----------------------------------------------------------------------------------------

export interface PlantedFile {
  readonly content: string;
  readonly mode: number;
}

/** One command line of a stand-in (argv[0] the tool) and what it prints, exit 0 unless exitCode says otherwise. */
export interface StandinOutput {
  readonly argv: readonly string[];
  readonly stdout: string;
  readonly stderr?: string;
  /** Exit status, when not 0 (rcctl check exits 1 for a stopped service). */
  readonly exitCode?: number;
}

export interface HostState {
  /** Every file planted on the host (root's), by path; the rest of the file system is the machine's. */
  readonly files: Map<string, PlantedFile>;
  /** What the stand-ins print, by command line (outputKey). */
  readonly outputs: Map<string, StandinOutput>;
  /** running; stopped: the peer's connections are refused; hanging: it accepts and never answers. */
  sshd: "running" | "stopped" | "hanging";
  /** carpentry's rc.d sync service runs entr(1) watchers here, on the primary (check_installed asks pgrep). */
  entrWatchers: boolean;
}

/**
 * How the pair is laid out. "full": the admin's pair, one carp interface (carp203) the primary
 * prefers. "active-active": carp203 prefers the primary and carp204 the secondary (advskew 0 on the
 * host that should hold it, 100 on the other, no balancing): each host MASTER of its own when healthy.
 * "minimal": a pair set up without carpentry's sync, OpenVPN or dhcpd: no OpenVPN files, no dhcpd, no
 * /etc/carpentry*, rc.d service or entr, and a pf.conf whose `overload <bruteforce>` rule fills a table
 * on each host with its own entries.
 */
export type PairShape = "full" | "minimal" | "active-active";

export interface PairState {
  readonly shape: PairShape;
  readonly hosts: Record<HostName, HostState>;
  /** unbound on both hosts: answering from its local zone, or failing. */
  resolvers: "answering" | "failing";
}

const outputKey = (argv: readonly string[]): string => JSON.stringify(argv);

function setOutput(host: HostState, argv: readonly string[], stdout: string, failure?: { readonly stderr?: string; readonly exitCode?: number }): void {
  host.outputs.set(outputKey(argv), { argv, stdout, ...failure });
}

function writeFile(host: HostState, path: string, content: string, mode = 0o644): void {
  host.files.set(path, { content, mode });
}

function chmodFile(host: HostState, path: string, mode: number): void {
  const file = host.files.get(path);
  if (!file) throw new Error(`${path} is not planted`);
  host.files.set(path, { ...file, mode });
}

// -- the healthy pair: files and configs ----------------------------------------------------------------

/** The management addresses on the pfsync network: the files that name them differ between the hosts by design ([host_specific]). */
export const ADDRESS: Readonly<Record<HostName, string>> = { primary: "192.168.110.101", secondary: "192.168.110.102" };
const UPLINK: Readonly<Record<HostName, string>> = { primary: "re0", secondary: "em0" };
/** pfsync's syncdev on each host, as in the captures (a NIC of its own on the pfsync network). */
const SYNCDEV: Readonly<Record<HostName, string>> = { primary: "vio1", secondary: "vio0" };
const SYNCDEV_ADDRESS: Readonly<Record<HostName, string>> = { primary: "192.168.254.2", secondary: "192.168.254.1" };
export const peerOf = (host: HostName): HostName => (host === "primary" ? "secondary" : "primary");

/** The names the gateways' unbound answers from its local zone, and where they point. */
export const DNS_RECORDS: Readonly<Record<string, string>> = { "gw.carp.test": "10.112.203.254", "ns.carp.test": "10.112.203.1" };

const pem = (label: string, body: string): string => `-----BEGIN ${label}-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC${body}\nBKcwggSjAgEAAoIBAQC7\n-----END ${label}-----\n`;
const staticKey = (body: string): string => `#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n${body}e5f1c2d3a4b5\n-----END OpenVPN Static key V1-----\n`;

/** hostname.carp203 behind the live carp203: the one-line form on the primary, the secondary's copy with advskew 100 (same vhid, pass and address, other layout). */
function hostnameCarp203(host: HostName, pass: string): string {
  return host === "primary"
    ? `inet 10.112.203.254 255.255.255.0 NONE vhid 203 carpdev vio2 advskew 0 pass ${pass}\ndescription "INT_203"\nup\n`
    : `# copied from the primary\ninet 10.112.203.254/24\nvhid 203 pass ${pass} carpdev vio2 advskew 100\ndescription "INT_203"\nup\n`;
}

/** hostname.carp204 of the active/active pair: carp204 prefers the secondary (advskew 0 there). */
function hostnameCarp204(host: HostName, pass: string): string {
  return `inet 10.112.204.254 255.255.255.0 NONE vhid 204 carpdev vio3 advskew ${host === "secondary" ? 0 : 100} pass ${pass}\ndescription "INT_204"\nup\n`;
}

/** The resolver both hosts run (one file, synced like the rest): a local zone, never a query outside. */
const UNBOUND_CONF = [
  "# carpentry: the gateways' resolver, the same file on both",
  "server:",
  "\tinterface: 127.0.0.1",
  "\tport: 53",
  "\tdo-ip6: no",
  "\tdo-daemonize: no",
  '\tchroot: ""',
  '\tusername: ""',
  '\tdirectory: "/var/unbound"',
  '\tpidfile: ""',
  "\tuse-syslog: no",
  '\tlogfile: ""',
  "\tverbosity: 1",
  '\tlocal-zone: "carp.test." static',
  ...Object.entries(DNS_RECORDS).map(([name, address]) => `\tlocal-data: "${name}. IN A ${address}"`),
  "remote-control:",
  "\tcontrol-enable: no",
  "",
].join("\n");

const SYSCTL_CONF = (preempt: number): string => `# carpentry gateway\nnet.inet.ip.forwarding=1\nnet.inet.carp.preempt=${preempt}\n`;
const PF_CONF = '# managed by carpentry\nset skip on lo\nblock return log\npass out\ntable <badhosts> persist file "/etc/pf.tables/badhosts.txt"\n';

const RC_D_CARPENTRY = '#!/bin/ksh\ndaemon="/etc/carpentry.bin/entr-all"\n. /etc/rc.d/rc.subr\nrc_cmd $1\n';

function ifstatedConf(host: HostName): string {
  return [
    `# ifstated.conf of ${ADDRESS[host]}: switches smtpd with the carp state`,
    "init-state auto",
    'carp_up = "carp203.link.up"',
    `uplink_up = "${UPLINK[host]}.link.up"`,
    `peer_alive = '( "ping -q -c 1 -w 1 ${ADDRESS[peerOf(host)]} >/dev/null" every 10 )'`,
    "state auto {",
    "\tif $carp_up set-state master",
    "\tif ! $carp_up set-state backup",
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
    `\tif ! $peer_alive run "logger -t ifstated peer ${ADDRESS[peerOf(host)]} does not answer"`,
    "}",
    "",
  ].join("\n");
}

const sshPrivateKey = (body: string): string =>
  `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW${body}\n-----END OPENSSH PRIVATE KEY-----\n`;
const SSH_PUBLIC_KEY: Readonly<Record<HostName, string>> = {
  primary: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc0rXm1pMvXGm8Bq2u1hY9r5p0v1nE3o7yWcQ2bKd4F root@gwprimary\n",
  secondary: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq9dT2Zx8cF4nY1uK7wR3pL0sV6bJ5mH9aE2iGfXyQe root@gwsecondary\n",
};

/** The hostname.if files besides carp203's: pfsync0, the syncdev NIC, the uplink NIC, a vlan, the VPN's tuns. NIC names differ per host ([host_specific] interfaces). */
const INTERFACE_FILES = ["/etc/hostname.pfsync0", "/etc/hostname.vlan110", "/etc/hostname.tun0", "/etc/hostname.tun1"];
const interfaceFiles = (host: HostName): Record<string, string> => ({
  "/etc/hostname.pfsync0": `syncdev ${SYNCDEV[host]} up\n`,
  [`/etc/hostname.${SYNCDEV[host]}`]: `# pfsync network\ninet ${SYNCDEV_ADDRESS[host]} 255.255.255.252\nup\n`,
  // The uplink carries only the carp address: 'up', no address of its own.
  [`/etc/hostname.${UPLINK[host]}`]: 'description "WAN"\nup\n',
  "/etc/hostname.vlan110": `vnetid 110 parent ${UPLINK[host]}\ninet ${ADDRESS[host]} 255.255.255.0\nup\n`,
  "/etc/hostname.tun0": 'description "openvpn server"\nup\n',
  "/etc/hostname.tun1": 'description "openvpn client acme"\nup\n',
});

function plantInterfaceFiles(state: HostState, host: HostName): void {
  for (const [path, content] of Object.entries(interfaceFiles(host))) writeFile(state, path, content, 0o640);
}

/** Every file of the healthy pair, per host (root's); directories get their modes from DIRECTORY_MODES. */
function plantHealthyFiles(state: HostState, host: HostName): void {
  const plant = (path: string, content: string, mode?: number): void => writeFile(state, path, content, mode);
  plant("/etc/hostname.carp203", hostnameCarp203(host, SECRETS.carpPass), 0o640);
  plant("/etc/sysctl.conf", SYSCTL_CONF(1));
  plant("/etc/pf.conf", PF_CONF, 0o600);
  plant("/etc/pf.tables/badhosts.txt", "192.0.2.1\n192.0.2.2\n", 0o600);
  plant("/etc/pf.tables/spamd.txt", "198.51.100.7\n", 0o600);
  plant("/etc/dhcpd.conf", "# managed by carpentry\nsubnet 10.112.203.0 netmask 255.255.255.0 {\n\toption routers 10.112.203.254;\n\trange 10.112.203.10 10.112.203.200;\n}\n");
  plant("/var/unbound/etc/unbound.conf", UNBOUND_CONF);
  plant("/var/unbound/etc/unbound_control.key", pem("RSA PRIVATE KEY", SECRETS.unboundKey), 0o640);
  plant("/var/unbound/etc/unbound_server.pem", "-----BEGIN CERTIFICATE-----\nMIIDpublic\n-----END CERTIFICATE-----\n");
  plant("/etc/openvpn/server.conf", "# managed by carpentry\nport 1194\ndev tun0\ntls-auth /etc/openvpn/ta.key 0\n");
  plant("/etc/openvpn/ta.key", staticKey(SECRETS.staticKey), 0o600);
  plant("/etc/openv-client-acme/client.conf", "client\ndev tun1\nremote vpn.acme.example 1194\n");
  plant("/etc/ifstated.conf", ifstatedConf(host));
  plant("/etc/mail/smtpd.conf.carp-backup", `listen on ${ADDRESS[host]}\naction "relay" relay host smtp://${ADDRESS[peerOf(host)]}\nmatch from local for any action "relay"\n`);
  plant("/etc/mail/smtpd.conf.carp-master", 'listen on lo0\naction "out" relay\nmatch from local for any action "out"\n');
  plant("/etc/ntpd.conf.carp-master", "servers pool.ntp.org\n");
  plant("/etc/resolv.conf.carp-master", "nameserver 127.0.0.1\n");
  plant("/etc/syslog.conf", "*.notice;auth,authpriv,cron,ftp,kern,lpr,mail,user.none\t/var/log/messages\n");
  plant("/etc/newsyslog.conf", "/var/log/messages\t644  5     300  *     Z\n");
  plant("/root/bin/pf-tables-update.sh", "#!/bin/ksh\n/sbin/pfctl -t badhosts -T replace -f /etc/pf.tables/badhosts.txt\n", 0o700);
  plant("/etc/carpentry.bin/pf.sh", "#!/bin/ksh\nscp -p /etc/pf.conf root@secondary:/etc/\n", 0o700);
  plant("/etc/carpentry.bin/pf-tables-memory.sh", "#!/bin/ksh\n# push the in-memory tables to the secondary\n", 0o700);
  plant("/etc/rc.d/carpentry", RC_D_CARPENTRY, 0o755);
  // /etc/carpentry holds the sync's settings, which only the primary, the side that copies, needs:
  // its peer, and the in-memory tables pf-tables-memory.sh pushes.
  if (host === "primary") plant("/etc/carpentry/carpentry.conf", 'peer=192.168.110.102\npf_tables="trusted"\n', 0o600);
  plantInterfaceFiles(state, host);
  // The secondary holds the primary's host keys: whoever holds the carp address answers with one key.
  plant("/etc/ssh/ssh_host_ed25519_key", sshPrivateKey(SECRETS.sshHostKey), 0o600);
  plant("/etc/ssh/ssh_host_ed25519_key.pub", SSH_PUBLIC_KEY.primary);
}

/** Modes of the planted directories that have one of their own (the rest are made 0755). */
export const DIRECTORY_MODES: Readonly<Record<string, number>> = {
  "/etc/pf.tables": 0o700,
  "/root/bin": 0o700,
  "/etc/carpentry.bin": 0o700,
  "/etc/carpentry": 0o700,
  "/etc/openvpn": 0o755,
  "/var/db/carpentry": 0o700,
};

/** The roots of everything a state plants (files and directories): what a reset removes. */
export const PLANTED_ROOTS = [
  "/etc/hostname.carp203",
  "/etc/hostname.carp204",
  ...INTERFACE_FILES,
  ...Object.values(SYNCDEV).map((nic) => `/etc/hostname.${nic}`),
  ...Object.values(UPLINK).map((nic) => `/etc/hostname.${nic}`),
  "/etc/ssh/ssh_host_ed25519_key",
  "/etc/ssh/ssh_host_ed25519_key.pub",
  "/etc/sysctl.conf",
  "/etc/pf.conf",
  "/etc/pf.tables",
  "/etc/dhcpd.conf",
  "/var/unbound/etc",
  "/etc/openvpn",
  "/etc/openv-client-acme",
  "/etc/ifstated.conf",
  "/etc/mail",
  "/etc/ntpd.conf.carp-master",
  "/etc/resolv.conf.carp-master",
  "/etc/syslog.conf",
  "/etc/newsyslog.conf",
  "/root/bin",
  "/etc/carpentry.bin",
  "/etc/rc.d",
  "/etc/carpentry",
  "/var/db/carpentry",
];

/** How the checks of a host reach its peer and its resolver, where the two simulations differ. */
export interface PeerLink {
  /** What each host's [peer] host is: the other host's name or address. */
  readonly peerHost: Readonly<Record<HostName, string>>;
  /** [peer] ssh_path, where the link is not ssh itself (with the reason, as a comment in the config). */
  readonly ssh?: { readonly path: string; readonly why: string };
  /** [checks.dns] port, where the resolver does not listen on 53. */
  readonly dnsPort?: number;
  /** [peer] control_persist, where shared ssh connections must not outlive a check (0: none). */
  readonly controlPersist?: number;
}

/** Each host's carpentry.toml (in /etc/carpentry.monit, 0600): the two-line config, the link, the host-specific values (addresses, NIC names). */
export function carpentryConfig(host: HostName, link: PeerLink): string {
  return [
    `role = "${host}"`,
    "",
    "[peer]",
    `host = "${link.peerHost[host]}"`,
    ...(link.ssh ? [`# ${link.ssh.why}`, `ssh_path = "${link.ssh.path}"`] : []),
    ...(link.controlPersist === undefined ? [] : [`control_persist = ${link.controlPersist}`]),
    "",
    "[host_specific]",
    `values = [{ primary = "${ADDRESS.primary}", secondary = "${ADDRESS.secondary}" }]`,
    `interfaces = { ${UPLINK.primary} = "${UPLINK.secondary}", ${SYNCDEV.primary} = "${SYNCDEV.secondary}" }`,
    "",
    "[checks.dns]",
    ...(link.dnsPort === undefined ? [] : [`port = ${link.dnsPort}`]),
    `names = [${Object.keys(DNS_RECORDS)
      .map((name) => `"${name}"`)
      .join(", ")}]`,
    "query_timeout = 2",
    ...(host === "primary" ? ["", "[drift.syslog]", 'description = "syslogd and newsyslog"', 'paths = ["/etc/syslog.conf", "/etc/newsyslog.conf"]'] : []),
    "",
    "[checks.ntp]",
    `secondary_source = "${ADDRESS.primary}"`,
    "",
  ].join("\n");
}

// -- the healthy pair: what the tools print ---------------------------------------------------------------

const CARP_GROUP: Readonly<Record<HostName, string>> = { primary: carpGroupPrimary, secondary: carpGroupSecondary };
const CARP_STATES = {
  primaryBackup: carpGroupPrimary.replace("carp: MASTER", "carp: BACKUP").replace("status: master", "status: backup"),
  secondaryMaster: carpGroupSecondary.replace("carp: BACKUP", "carp: MASTER").replace("status: backup", "status: master"),
  // carp203's carpdev went down on the primary, as in the OpenBSD 5.1 INIT capture.
  primaryInit: carpGroupPrimary.replace("carp: MASTER", "carp: INIT").replace("status: master", "status: invalid"),
};
const BADHOSTS = ["192.0.2.1", "192.0.2.2", "198.51.100.0/24", "!198.51.100.128/25", "2001:db8::/48"];
const TRUSTED = ["192.0.2.10", "203.0.113.0/24"];
const LIVE_SYSCTL: Readonly<Record<string, string>> = { "net.inet.carp.allow": "1", "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "1" };
/** The names check_sysctl asks in one `sysctl NAME...`: both sysctl.conf's and the expected ones, sorted. */
const SYSCTL_NAMES = ["net.inet.carp.allow", "net.inet.carp.preempt", "net.inet.ip.forwarding"];
const STATE_COUNTS: Readonly<Record<HostName, number>> = { primary: 1284, secondary: 1279 };

/** The interface blocks of an `ifconfig` listing, by name. */
function ifconfigBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const block of text.split(/\n(?=\S)/)) blocks.set(block.slice(0, block.indexOf(":")), block.endsWith("\n") ? block : `${block}\n`);
  return blocks;
}

type CarpState = "MASTER" | "BACKUP" | "INIT";
/** The state of each carp interface of a shape, by interface. */
type CarpStates = Readonly<Record<string, CarpState>>;

/** Who holds what in the healthy pair of each shape. */
function healthyStates(shape: PairShape, host: HostName): CarpStates {
  const carp203: CarpState = host === "primary" ? "MASTER" : "BACKUP";
  if (shape !== "active-active") return { carp203 };
  return { carp203, carp204: host === "secondary" ? "MASTER" : "BACKUP" };
}

/** A carp block of the captures in another state: INIT shows status invalid, as in the OpenBSD 5.1 INIT capture. */
function inState(block: string, state: CarpState): string {
  return block.replace(/carp: (MASTER|BACKUP|INIT) carpdev/, `carp: ${state} carpdev`).replace(/status: (master|backup|invalid)/, `status: ${state === "INIT" ? "invalid" : state.toLowerCase()}`);
}

/**
 * `ifconfig carp` of a host of the shape, each interface in the given state: the vio captures, with
 * carp204 (active/active) made from the host's carp203 block: vhid 204 on vio3, 10.112.204.254/24,
 * advskew 0 on the secondary, 100 on the primary.
 */
function carpListing(host: HostName, shape: PairShape, states: CarpStates, groups = "carp"): string {
  const capture = CARP_GROUP[host];
  const at = capture.indexOf("carp203:");
  const carp203 = capture.slice(at).replace("\tgroups: carp\n", `\tgroups: ${groups}\n`);
  let listing = capture.slice(0, at) + inState(carp203, states["carp203"] ?? "INIT");
  if (shape === "active-active") {
    const carp204 = carp203
      .replaceAll("carp203", "carp204")
      .replace("00:00:5e:00:01:cb", "00:00:5e:00:01:cc")
      .replace("INT_203", "INT_204")
      .replace("index 8 ", "index 9 ")
      .replace(/carpdev vio2 vhid 203 advbase 1 advskew \d+/, `carpdev vio3 vhid 204 advbase 1 advskew ${host === "secondary" ? 0 : 100}`)
      .replaceAll("10.112.203.", "10.112.204.");
    listing += inState(carp204, states["carp204"] ?? "INIT");
  }
  return listing;
}

/** Every carp interface of the pair's shape on this host in one state. */
function allIn(pair: PairState, host: HostName, state: CarpState): void {
  const states = Object.fromEntries(Object.keys(healthyStates(pair.shape, host)).map((name) => [name, state]));
  setCarp(pair.hosts[host], carpListing(host, pair.shape, states));
  followCarp(pair.hosts[host], state === "MASTER" ? "master" : "backup");
}

/** `ifconfig carp` and each of its interfaces alone. */
function setCarp(host: HostState, listing: string): void {
  setOutput(host, ["ifconfig", "carp"], listing);
  for (const [name, block] of ifconfigBlocks(listing)) setOutput(host, ["ifconfig", name], block);
}

/** `pfctl -vsT` and each table's `pfctl -t NAME -T show`, as print_addrx() writes entries ("!" for a negated one). */
function setTables(host: HostState, tables: Readonly<Record<string, readonly string[]>>): void {
  setOutput(
    host,
    ["pfctl", "-vsT"],
    Object.keys(tables)
      .map((name) => `-pa-r--\t${name}\n`)
      .join(""),
  );
  for (const [name, entries] of Object.entries(tables)) {
    setOutput(host, ["pfctl", "-t", name, "-T", "show"], entries.map((entry) => (entry.startsWith("!") ? `  ${entry}\n` : `   ${entry}\n`)).join(""));
  }
}

/** Live values: `sysctl NAME`, `sysctl -n NAME`, the net.inet.carp subtree and check_sysctl's one call for all names. */
function setSysctl(host: HostState, values: Readonly<Record<string, string>>): void {
  const carp = [...Object.entries(values).filter(([name]) => name.startsWith("net.inet.carp.")), ["net.inet.carp.log", "2"] as const];
  for (const [name, value] of [...Object.entries(values), ["net.inet.carp.log", "2"] as const]) {
    setOutput(host, ["sysctl", name], `${name}=${value}\n`);
    setOutput(host, ["sysctl", "-n", name], `${value}\n`);
  }
  setOutput(host, ["sysctl", "net.inet.carp"], carp.map(([name, value]) => `${name}=${value}\n`).join(""));
  setOutput(host, ["sysctl", "--", ...SYSCTL_NAMES], SYSCTL_NAMES.map((name) => `${name}=${values[name] ?? "?"}\n`).join(""));
}

/** The state count in a `pfctl -si`/`-vsi` capture, its columns kept. */
function withStateCount(text: string, states: number): string {
  return text.replace(
    /(current entries)(\s+)(\d+)/,
    (_, label: string, space: string, count: string) => `${label}${" ".repeat(Math.max(1, space.length + count.length - String(states).length))}${states}`,
  );
}

/** Each host's pf hostid (`pfctl -vsi`): random at boot unless pf.conf sets one, so never the same on two hosts. */
const HOSTIDS: Readonly<Record<HostName, string>> = { primary: "0x5e1f0a3c", secondary: "0x9b2d41e7" };

/** `pfctl -si` and `pfctl -vsi` with this many states (the derived OpenBSD 7 captures, their columns kept); the host keeps its hostid unless one is given. */
function setStateCount(host: HostState, states: number, hostid?: string): void {
  const current = /^Hostid: +(0x[0-9a-f]+)$/m.exec(host.outputs.get(outputKey(["pfctl", "-vsi"]))?.stdout ?? "")?.[1];
  setOutput(host, ["pfctl", "-si"], withStateCount(pfInfo, states));
  setOutput(host, ["pfctl", "-vsi"], withStateCount(pfInfoVerbose, states).replace(/^Hostid: +0x[0-9a-f]+$/m, `Hostid:   ${hostid ?? current ?? HOSTIDS.primary}`));
}

/** A queue of `count` messages to a dead relay, created evenly over the last `oldestSeconds` (smtpctl show queue's fields). */
function queueText(count: number, oldestSeconds: number, nowSeconds: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = nowSeconds - Math.round((oldestSeconds * (count - i)) / count);
    const id = (0x20e9202c5e70252an + BigInt(i)).toString(16).padStart(16, "0");
    lines.push(`${id}|local|mta|auth|root@secondary|noc@example.com|noc@example.com|${created}|${created}|0|${1 + (i % 9)}|pending|372|Network error on destination MXs\n`);
  }
  return lines.join("");
}

/** `ifconfig SYNCDEV`: the capture's vio1 on the primary, the same NIC as vio0 with the /30's other address on the secondary. */
function syncdevBlock(host: HostName, status = "active"): string {
  const vio1 = ifconfigBlocks(ifconfigAll).get("vio1") ?? "";
  const block =
    host === "primary"
      ? vio1
      : vio1
          .replace(/^vio1:/, "vio0:")
          .replace("fa:16:3e:04:e6:64", "fa:16:3e:04:e6:65")
          .replace(`inet ${SYNCDEV_ADDRESS.primary} `, `inet ${SYNCDEV_ADDRESS.secondary} `);
  return block.replace("status: active", `status: ${status}`);
}

const TUN = ifconfigBlocks(tunDevices);
/** A tun as ifconfig shows it while an openvpn holds it open, or after it closed it. */
function tunBlock(name: "tun0" | "tun1", open: boolean): string {
  const block = TUN.get(name) ?? "";
  const closed = block.replace(/flags=\w+<[^>]*>/, "flags=8010<POINTOPOINT,MULTICAST>").replace("status: active", "status: down");
  return open ? closed.replace("flags=8010<POINTOPOINT,MULTICAST>", "flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST>").replace("status: down", "status: active") : closed;
}

/**
 * What follows a host's carp state besides carp itself: ifstated copies the smtpd.conf variant, and
 * only the MASTER runs the OpenVPN client (tun1). The server (tun0) runs on both.
 */
function followCarp(host: HostState, state: "master" | "backup"): void {
  const variant = host.files.get(`/etc/mail/smtpd.conf.carp-${state}`);
  if (!variant) throw new Error(`/etc/mail/smtpd.conf.carp-${state} is not planted`);
  writeFile(host, "/etc/mail/smtpd.conf", variant.content, variant.mode);
  setOutput(host, ["ifconfig", "tun1"], tunBlock("tun1", state === "master"));
}

/** The rc.d services each host has enabled (`rcctl ls on`), by shape: those the suite knows and the base system's usual ones. */
function servicesOn(host: HostName, shape: PairShape): string {
  const services = ["ifstated", "monit", "ntpd", "pflogd", "smtpd", "sshd", "syslogd", "unbound"];
  if (shape !== "minimal") services.push("dhcpd", "openvpn");
  // carpentry's sync service runs where the copies start: on the primary.
  if (shape !== "minimal" && host === "primary") services.push("carpentry");
  return services.sort().join("\n") + "\n";
}

function healthyHost(host: HostName, shape: PairShape): HostState {
  const state: HostState = { files: new Map(), outputs: new Map(), sshd: "running", entrWatchers: host === "primary" };
  plantHealthyFiles(state, host);
  if (shape === "active-active") writeFile(state, "/etc/hostname.carp204", hostnameCarp204(host, SECRETS.carpPass), 0o640);
  setCarp(state, carpListing(host, shape, healthyStates(shape, host)));
  setOutput(state, ["rcctl", "ls", "on"], servicesOn(host, shape));
  setOutput(state, ["ifconfig", "-g", "carp"], demoteNone);
  setSysctl(state, LIVE_SYSCTL);
  setStateCount(state, STATE_COUNTS[host], HOSTIDS[host]);
  setOutput(state, ["netstat", "-sp", "pfsync"], netstatPfsync);
  setOutput(state, ["smtpctl", "show", "status"], "MDA running\nMTA running\nSMTP running\n");
  setOutput(state, ["smtpctl", "show", "queue"], "");
  setTables(state, { badhosts: BADHOSTS, trusted: TRUSTED });
  setOutput(state, ["rcctl", "check", "carpentry"], "carpentry(ok)\n");
  setNewerChecksOutputs(state, host);
  setOutput(state, ["rcctl", "check", "ifstated"], "ifstated(ok)\n");
  setOutput(state, ["ifconfig", SYNCDEV[host]], syncdevBlock(host));
  setOutput(state, ["ifconfig", "tun0"], tunBlock("tun0", true));
  followCarp(state, host === "primary" ? "master" : "backup");
  return state;
}

/** pf.conf of a pair that blocks ssh brute-forcers: each host's own overload table, filled by what it sees. */
const PF_CONF_BRUTEFORCE =
  PF_CONF + "table <bruteforce> persist\nblock quick from <bruteforce>\n" + "pass in proto tcp to port ssh keep state (max-src-conn 10, max-src-conn-rate 5/30, overload <bruteforce> flush global)\n";
/** What each host's overload rule caught: sources that hammered that host, not the other. */
const BRUTEFORCE: Readonly<Record<HostName, readonly string[]>> = { primary: ["203.0.113.7", "198.51.100.23"], secondary: ["192.0.2.99"] };

/** The carpentry sync's pieces on a host (files; the primary's entr watchers and rc.d service answer too). */
const SYNC_FILES = ["/etc/carpentry/", "/etc/carpentry.bin/", "/etc/rc.d/carpentry", "/root/bin/"];

/** The minimal shape from the full one: what a pair set up without carpentry's sync, OpenVPN or dhcpd has. */
function minimalHost(host: HostName): HostState {
  const state = healthyHost(host, "full");
  for (const path of [...state.files.keys()]) {
    const unused = ["/etc/openvpn/", "/etc/openv-client-acme/", "/etc/dhcpd.conf", "/etc/pf.tables/spamd.txt", ...SYNC_FILES].some((prefix) => path === prefix || path.startsWith(prefix));
    if (unused) state.files.delete(path);
  }
  state.entrWatchers = false;
  state.outputs.delete(outputKey(["rcctl", "check", "carpentry"]));
  setOutput(state, ["rcctl", "ls", "on"], servicesOn(host, "minimal"));
  writeFile(state, "/etc/pf.conf", PF_CONF_BRUTEFORCE, 0o600);
  setTables(state, { badhosts: BADHOSTS, bruteforce: BRUTEFORCE[host] });
  return state;
}

/** The pair in good health: each vhid MASTER on the host that prefers it, everything synced, queues empty, resolvers answering. */
export function healthyPair(shape: PairShape = "full"): PairState {
  const host = (name: HostName): HostState => (shape === "minimal" ? minimalHost(name) : healthyHost(name, shape));
  return { shape, hosts: { primary: host("primary"), secondary: host("secondary") }, resolvers: "answering" };
}

// -- the faults ---------------------------------------------------------------------------------------------

export const FAULT_NAMES = [
  "failed_over",
  "split_brain",
  "vhid_init",
  "primary_demoted",
  "pfsync_down",
  "states_diverged",
  "pf_table_drift",
  "file_changed",
  "file_added",
  "file_removed",
  "file_mode",
  "file_secret",
  "preempt_zero",
  "mail_piling",
  "dns_failing",
  "peer_sshd_down",
  "peer_hanging",
  "garbled",
  "demoted_via_group",
  "primary_dead",
  "primary_dead_vhid_init",
  "primary_sshd_stopped",
  "secondary_dead",
  "carp203_failed_over",
  "carp204_failed_over",
  "overload_table_differs",
  "sync_partial",
  "advbase_zero",
  "carp_groups_differ",
  "pf_disabled",
  "pf_hostid_shared",
  "pf_states_near_limit",
  "pf_congestion",
  "carp_bad_auth",
  "carp_flapping",
  "ntp_unsynced",
  "ntpd_down",
  "ntp_wrong_source",
  "versions_mismatch",
  "ifstated_wrong_variant",
  "ifstated_down",
  "vpn_client_down",
  "vpn_up_on_both",
  "hostname_vlan_differs",
  "hostname_nic_differs",
  "syncdev_no_carrier",
  "pfsync_defer_differs",
  "pfsync_syncpeer_wrong",
  "ssh_host_key_differs",
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export interface Fault {
  /** What happened, in the words of the pair's admin. */
  readonly description: string;
  /** The shapes of pair the scenario matrix plants it on; the full pair only when not given. */
  readonly shapes?: readonly PairShape[];
  /** The change to the healthy pair. */
  apply(pair: PairState): void;
}

/** The shapes a fault can be planted on. */
export const faultShapes = (fault: FaultName): readonly PairShape[] => FAULTS[fault].shapes ?? ["full"];

/** A host that is gone: its links down (every carp vhid INIT), nothing answering on its ssh. */
function dead(pair: PairState, host: HostName): void {
  pair.hosts[host].sshd = "stopped";
  allIn(pair, host, "INIT");
}

export const FAULTS: Readonly<Record<FaultName, Fault>> = {
  failed_over: {
    description: "The secondary took over: the primary is BACKUP of carp203, the secondary MASTER.",
    apply: ({ hosts }) => {
      setCarp(hosts.primary, CARP_STATES.primaryBackup);
      setCarp(hosts.secondary, CARP_STATES.secondaryMaster);
      followCarp(hosts.primary, "backup");
      followCarp(hosts.secondary, "master");
    },
  },
  split_brain: {
    description: "Split brain: the hosts lost sight of each other's advertisements and both are MASTER of carp203.",
    apply: ({ hosts }) => {
      setCarp(hosts.secondary, CARP_STATES.secondaryMaster);
      followCarp(hosts.secondary, "master");
    },
  },
  vhid_init: {
    description: "carp203 is INIT on the primary (its carpdev went down), the secondary MASTER.",
    apply: ({ hosts }) => {
      setCarp(hosts.primary, CARP_STATES.primaryInit);
      setCarp(hosts.secondary, CARP_STATES.secondaryMaster);
      followCarp(hosts.primary, "backup");
      followCarp(hosts.secondary, "master");
    },
  },
  primary_demoted: {
    description: "Maintenance: `ifconfig -g carp carpdemote 50` on the primary; the secondary took over.",
    apply: ({ hosts }) => {
      // The FAQ's capture is of group "internal".
      setOutput(hosts.primary, ["ifconfig", "-g", "carp"], demoteAfterMaintenance.replace("internal:", "carp:"));
      setCarp(hosts.primary, CARP_STATES.primaryBackup);
      setCarp(hosts.secondary, CARP_STATES.secondaryMaster);
      followCarp(hosts.primary, "backup");
      followCarp(hosts.secondary, "master");
    },
  },
  pfsync_down: {
    description: "pfsync0 is down on the secondary: states no longer follow a failover.",
    apply: ({ hosts }) => setCarp(hosts.secondary, CARP_GROUP.secondary.replace("pfsync0: flags=41<UP,RUNNING>", "pfsync0: flags=0<>")),
  },
  states_diverged: {
    description: "The state tables are far apart: 1000 states on the primary, 800 on the secondary.",
    apply: ({ hosts }) => {
      setStateCount(hosts.primary, 1000);
      setStateCount(hosts.secondary, 800);
    },
  },
  pf_table_drift: {
    description: "The in-memory table badhosts drifted: the sync missed one entry each way.",
    apply: ({ hosts }) => setTables(hosts.secondary, { badhosts: [...BADHOSTS.slice(1), "203.0.113.66"], trusted: TRUSTED }),
  },
  file_changed: {
    description: "Someone edited pf.conf, ifstated.conf and syslog.conf on the primary and the sync to the secondary did not run.",
    apply: ({ hosts }) => {
      writeFile(hosts.primary, "/etc/pf.conf", PF_CONF.replace("pass out\n", "pass out\npass in on vio2 proto tcp to port 22\n"), 0o600);
      writeFile(hosts.primary, "/etc/ifstated.conf", ifstatedConf("primary").replace("every 10", "every 60"));
      writeFile(hosts.primary, "/etc/syslog.conf", "*.notice;mail.none\t/var/log/messages\n");
    },
  },
  file_added: {
    description: "A script and an OpenVPN client config were added on the primary only (entr misses new files).",
    apply: ({ hosts }) => {
      writeFile(hosts.primary, "/root/bin/unbound-update.sh", "#!/bin/ksh\nrcctl reload unbound\n", 0o700);
      writeFile(hosts.primary, "/etc/openvpn/ccd/laptop", "ifconfig-push 10.8.0.9 255.255.255.0\n");
    },
  },
  file_removed: {
    description: "A pf table file and a sync script were removed from the secondary.",
    apply: ({ hosts }) => {
      hosts.secondary.files.delete("/etc/pf.tables/spamd.txt");
      hosts.secondary.files.delete("/etc/carpentry.bin/pf-tables-memory.sh");
    },
  },
  file_mode: {
    description: "On the secondary dhcpd.conf became 0600 and the OpenVPN ta.key 0644.",
    apply: ({ hosts }) => {
      chmodFile(hosts.secondary, "/etc/dhcpd.conf", 0o600);
      chmodFile(hosts.secondary, "/etc/openvpn/ta.key", 0o644);
    },
  },
  file_secret: {
    description: "Secret-bearing files differ on the secondary: the carp pass, the unbound control key, the OpenVPN static key.",
    apply: ({ hosts }) => {
      writeFile(hosts.secondary, "/etc/hostname.carp203", hostnameCarp203("secondary", SECRETS.carpPassOld), 0o640);
      writeFile(hosts.secondary, "/var/unbound/etc/unbound_control.key", pem("RSA PRIVATE KEY", SECRETS.unboundKeyOld), 0o640);
      writeFile(hosts.secondary, "/etc/openvpn/ta.key", staticKey(SECRETS.staticKeyOld), 0o600);
    },
  },
  preempt_zero: {
    description: "After maintenance net.inet.carp.preempt was left at 0 on the primary, live and in sysctl.conf.",
    apply: ({ hosts }) => {
      setSysctl(hosts.primary, { ...LIVE_SYSCTL, "net.inet.carp.preempt": "0" });
      writeFile(hosts.primary, "/etc/sysctl.conf", SYSCTL_CONF(0));
    },
  },
  mail_piling: {
    description: "Mail piles up on the secondary: its relay through the primary fails, 600 messages, the oldest 2 days old.",
    apply: ({ hosts }) => setOutput(hosts.secondary, ["smtpctl", "show", "queue"], queueText(600, 2 * 86400, Math.floor(Date.now() / 1000))),
  },
  dns_failing: {
    description: "unbound fails on both hosts: no name resolves.",
    apply: (pair) => {
      pair.resolvers = "failing";
    },
  },
  peer_sshd_down: {
    description: "sshd is stopped on both hosts: each host's connections to its peer are refused.",
    apply: ({ hosts }) => {
      for (const host of HOST_NAMES) hosts[host].sshd = "stopped";
    },
  },
  peer_hanging: {
    description: "Port 22 of each host accepts connections and never answers.",
    apply: ({ hosts }) => {
      for (const host of HOST_NAMES) hosts[host].sshd = "hanging";
    },
  },
  overload_table_differs: {
    description: "pf.conf blocks ssh brute-forcers with an overload rule: each host's <bruteforce> holds what that host caught.",
    apply: ({ hosts }) => {
      for (const host of HOST_NAMES) {
        writeFile(hosts[host], "/etc/pf.conf", PF_CONF_BRUTEFORCE, 0o600);
        setTables(hosts[host], { badhosts: BADHOSTS, trusted: TRUSTED, bruteforce: BRUTEFORCE[host] });
      }
    },
  },
  advbase_zero: {
    description: "Both hosts' hostname.carp203 say advbase 0 (ifconfig takes 0 to 254): the fastest advertisements.",
    apply: ({ hosts }) => {
      for (const host of HOST_NAMES) writeFile(hosts[host], "/etc/hostname.carp203", hostnameCarp203(host, SECRETS.carpPass).replace("up\n", "advbase 0\nup\n"), 0o640);
    },
  },
  carp_groups_differ: {
    description: "The primary's hostname.carp203 puts carp203 in group internal, the secondary's does not: a demotion of internal moves the primary only.",
    apply: ({ hosts: { primary } }) => writeFile(primary, "/etc/hostname.carp203", hostnameCarp203("primary", SECRETS.carpPass).replace("up\n", "group internal\nup\n"), 0o640),
  },
  sync_partial: {
    description: "carpentry's sync half-removed on the primary: /etc/rc.d/carpentry is left, its scripts and config are gone, nothing runs.",
    shapes: ["full", "minimal"],
    apply: ({ hosts: { primary } }) => {
      for (const path of [...primary.files.keys()]) if (path.startsWith("/etc/carpentry/") || path.startsWith("/etc/carpentry.bin/")) primary.files.delete(path);
      if (!primary.files.has("/etc/rc.d/carpentry")) writeFile(primary, "/etc/rc.d/carpentry", RC_D_CARPENTRY, 0o755);
      primary.entrWatchers = false;
      setOutput(primary, ["rcctl", "check", "carpentry"], "carpentry(failed)\n");
    },
  },
  garbled: {
    description: "Every OpenBSD command on the primary prints what no parser understands.",
    apply: ({ hosts: { primary } }) => {
      setCarp(primary, CARP_GROUP.primary.replace("\tcarp: MASTER carpdev vio2", "\tcarp: MASTR carpdev vio2").replace("flags=41<UP,RUNNING>", "flags=41<UP,RUNNING"));
      setOutput(primary, ["ifconfig", "-g", "carp"], "carp: carp demote count fifty\n");
      setOutput(
        primary,
        ["pfctl", "-si"],
        "Status: Enabled for 1 days 00:00:01             Debug: err\n\nState Table                          Total             Rate\n  current entries        twelve\n",
      );
      setOutput(primary, ["netstat", "-sp", "pfsync"], "pfsync:\n\tmany packets received (IPv4)\n");
      setOutput(primary, ["pfctl", "-vsT"], "-pa-r--\tbadhosts\n?? table listing cut\n");
      setOutput(primary, ["pfctl", "-t", "badhosts", "-T", "show"], "   192.0.2.1\n   not-an-address\n");
      setOutput(primary, ["sysctl", "--", ...SYSCTL_NAMES], "net.inet.carp.allow: 1\n");
      setOutput(primary, ["sysctl", "net.inet.carp.preempt"], "net.inet.carp.preempt: 1\n");
      setOutput(primary, ["smtpctl", "show", "status"], "MDA up\n");
      setOutput(primary, ["smtpctl", "show", "queue"], "20e9202c5e70252a|inet4|mta\n");
      setOutput(primary, ["rcctl", "check", "carpentry"], "carpentry: ok?\n");
      garbleNewerChecksOutputs(primary);
    },
  },
  demoted_via_group: {
    description: "Maintenance as the FAQ does it: `ifconfig -g internal carpdemote 50` on the primary (carp203 is in groups carp and internal); the secondary took over.",
    apply: (pair) => {
      for (const host of HOST_NAMES) {
        const state: CarpState = host === "primary" ? "BACKUP" : "MASTER";
        setCarp(pair.hosts[host], carpListing(host, pair.shape, { carp203: state }, "carp internal"));
        followCarp(pair.hosts[host], state === "MASTER" ? "master" : "backup");
        setOutput(pair.hosts[host], ["ifconfig", "-g", "internal"], host === "primary" ? demoteAfterMaintenance : demoteInternalNone);
      }
    },
  },
  primary_dead: {
    description: "The primary is gone (links down, every vhid INIT, no ssh): the secondary took over every vhid.",
    shapes: ["full", "active-active"],
    apply: (pair) => {
      dead(pair, "primary");
      allIn(pair, "secondary", "MASTER");
    },
  },
  primary_dead_vhid_init: {
    description: "The primary is gone, and the secondary is INIT on its last carp interface (its carpdev down too): that address has no MASTER.",
    shapes: ["full", "active-active"],
    apply: (pair) => {
      dead(pair, "primary");
      const states: Record<string, CarpState> = Object.fromEntries(Object.keys(healthyStates(pair.shape, "secondary")).map((name) => [name, "MASTER"]));
      const last = Object.keys(states).sort().pop() ?? "carp203";
      states[last] = "INIT";
      setCarp(pair.hosts.secondary, carpListing("secondary", pair.shape, states));
      // ifstated follows carp203.
      followCarp(pair.hosts.secondary, states.carp203 === "MASTER" ? "master" : "backup");
    },
  },
  primary_sshd_stopped: {
    description: "sshd on the primary is stopped; the primary still holds its vhids, so the secondary's BACKUP says it is alive.",
    shapes: ["full", "active-active"],
    apply: ({ hosts }) => {
      hosts.primary.sshd = "stopped";
    },
  },
  secondary_dead: {
    description: "The secondary is gone (links down, every vhid INIT, no ssh): the primary holds every vhid alone.",
    shapes: ["full", "active-active"],
    apply: (pair) => {
      dead(pair, "secondary");
      allIn(pair, "primary", "MASTER");
    },
  },
  carp203_failed_over: {
    description: "Active/active: the primary was demoted; the secondary took carp203 and holds both vhids.",
    shapes: ["active-active"],
    apply: (pair) => {
      allIn(pair, "primary", "BACKUP");
      allIn(pair, "secondary", "MASTER");
    },
  },
  carp204_failed_over: {
    description: "Active/active: the secondary was demoted; the primary took carp204 and holds both vhids.",
    shapes: ["active-active"],
    apply: (pair) => {
      allIn(pair, "primary", "MASTER");
      allIn(pair, "secondary", "BACKUP");
    },
  },
  ...newerFaults(),
  ifstated_wrong_variant: {
    description: "The primary is MASTER but still holds the backup smtpd.conf: ifstated did not switch it back.",
    apply: ({ hosts }) => {
      const backup = hosts.primary.files.get("/etc/mail/smtpd.conf.carp-backup");
      if (backup) writeFile(hosts.primary, "/etc/mail/smtpd.conf", backup.content, backup.mode);
    },
  },
  ifstated_down: {
    description: "ifstated is not running on the secondary: a failover would not switch its files.",
    apply: ({ hosts }) => setOutput(hosts.secondary, ["rcctl", "check", "ifstated"], "ifstated(failed)\n", { exitCode: 1 }),
  },
  vpn_client_down: {
    description: "The OpenVPN client acme is down on the primary, the carp MASTER: its tun1 is closed.",
    apply: ({ hosts }) => setOutput(hosts.primary, ["ifconfig", "tun1"], tunBlock("tun1", false)),
  },
  vpn_up_on_both: {
    description: "The OpenVPN client acme runs on the secondary too, the carp BACKUP: both connect with one identity.",
    apply: ({ hosts }) => setOutput(hosts.secondary, ["ifconfig", "tun1"], tunBlock("tun1", true)),
  },
  hostname_vlan_differs: {
    description: "hostname.vlan110 on the secondary has another netmask than the primary's.",
    apply: ({ hosts }) => writeFile(hosts.secondary, "/etc/hostname.vlan110", `vnetid 110 parent ${UPLINK.secondary}\ninet ${ADDRESS.secondary} 255.255.255.128\nup\n`, 0o640),
  },
  hostname_nic_differs: {
    description: `The secondary's uplink file hostname.${UPLINK.secondary} (the primary's hostname.${UPLINK.primary}) got an address of its own.`,
    apply: ({ hosts }) => writeFile(hosts.secondary, `/etc/hostname.${UPLINK.secondary}`, 'description "WAN"\ninet 192.168.0.102 255.255.255.0\nup\n', 0o640),
  },
  syncdev_no_carrier: {
    description: `The secondary's pfsync syncdev ${SYNCDEV.secondary} lost its link: no carrier.`,
    apply: ({ hosts }) => setOutput(hosts.secondary, ["ifconfig", SYNCDEV.secondary], syncdevBlock("secondary", "no carrier")),
  },
  pfsync_defer_differs: {
    description: "pfsync0 defers on the secondary only (defer: on).",
    apply: ({ hosts }) => setCarp(hosts.secondary, CARP_GROUP.secondary.replace("defer: off", "defer: on")),
  },
  pfsync_syncpeer_wrong: {
    description: "pfsync0 on the primary sends its states to 192.168.254.9, not to the secondary.",
    apply: ({ hosts }) => setCarp(hosts.primary, CARP_GROUP.primary.replace("syncdev: vio1 maxupd", "syncdev: vio1 syncpeer: 192.168.254.9 maxupd")),
  },
  ssh_host_key_differs: {
    description: "The secondary has its own SSH host key: the carp address answers with another key after a failover.",
    apply: ({ hosts }) => {
      writeFile(hosts.secondary, "/etc/ssh/ssh_host_ed25519_key", sshPrivateKey(SECRETS.sshHostKeyOther), 0o600);
      writeFile(hosts.secondary, "/etc/ssh/ssh_host_ed25519_key.pub", SSH_PUBLIC_KEY.secondary);
    },
  },
};

/** The healthy pair of a shape with a fault, or without one. */
export function pairState(fault?: FaultName, shape: PairShape = "full"): PairState {
  const pair = healthyPair(shape);
  if (fault !== undefined) FAULTS[fault].apply(pair);
  return pair;
}

// -- check_pf, check_carp_stats, check_ntp, check_versions ---------------------------------------------

/** `netstat -sp carp` with these counters (the derived capture's rows, their plurals as netstat prints them). */
function carpStats(counts: { readonly badauth: number; readonly transitions: number }): string {
  const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  return netstatCarp
    .replace(/\t0 discarded for bad authentication\n/, `\t${counts.badauth} discarded for bad authentication\n`)
    .replace(/\t1 transition to master\n/, `\t${plural(counts.transitions, "transition to master", "transitions to master")}\n`);
}

/** The carp counters of the healthy pair: the primary became master once, at boot. */
const CARP_COUNTS: Readonly<Record<HostName, { badauth: number; transitions: number }>> = { primary: { badauth: 0, transitions: 1 }, secondary: { badauth: 0, transitions: 0 } };

/** The release, syspatches and packages both hosts run (OpenBSD 7.0, all six syspatches of the time). */
const PACKAGES = packageList;

function setNewerChecksOutputs(state: HostState, host: HostName): void {
  setOutput(state, ["pfctl", "-sm"], pfLimits);
  setOutput(state, ["netstat", "-sp", "carp"], carpStats(CARP_COUNTS[host]));
  // The secondary's ntpd follows the primary's, over the pfsync network.
  setOutput(state, ["ntpctl", "-s", "all"], host === "primary" ? ntpPrimarySynced : ntpSecondarySynced);
  setOutput(state, ["sysctl", "-n", "kern.osrelease"], "7.0\n");
  setOutput(state, ["sysctl", "-n", "kern.version"], kernelVersion);
  setOutput(state, ["syspatch", "-l"], syspatchList);
  setOutput(state, ["pkg_info", "-q"], PACKAGES);
}

function garbleNewerChecksOutputs(primary: HostState): void {
  setOutput(
    primary,
    ["pfctl", "-vsi"],
    "Status: Enabled for 1 days 00:00:01             Debug: err\n\nHostid:   0x5e1f0a3c\nState Table                          Total             Rate\n  current entries        twelve\n",
  );
  setOutput(primary, ["netstat", "-sp", "carp"], "carp:\n\tsome packets received (IPv4)\n");
  setOutput(primary, ["ntpctl", "-s", "all"], "1/1 peers valid, clock sort of synced\n");
  setOutput(primary, ["sysctl", "-n", "kern.osrelease"], "seven\n");
}

/** A history file as check_pf / check_carp_stats keep it, with one earlier reading of each host `secondsAgo`. */
function plantHistory(pair: PairState, file: string, secondsAgo: number, counters: Readonly<Record<HostName, Readonly<Record<string, number>>>>): void {
  const at = new Date(Date.now() - secondsAgo * 1000).toISOString();
  const readings: Record<HostName, CounterReading[]> = { primary: [{ at, counters: counters.primary }], secondary: [{ at, counters: counters.secondary }] };
  for (const host of HOST_NAMES) writeFile(pair.hosts[host], `/var/db/carpentry/${file}`, historyFile(readings), 0o600);
}

const PF_COUNTERS_QUIET = { memory: 0, "state-limit": 0, congestion: 0 };
const carpReading = (counts: { badauth: number; transitions: number }): Record<string, number> => ({
  carps_badauth: counts.badauth,
  carps_badvhid: 14,
  carps_preempt: counts.transitions,
});

type NewerFaultName =
  "pf_disabled" | "pf_hostid_shared" | "pf_states_near_limit" | "pf_congestion" | "carp_bad_auth" | "carp_flapping" | "ntp_unsynced" | "ntpd_down" | "ntp_wrong_source" | "versions_mismatch";

/** A function, so that FAULTS above can take them in before the constants here are set. */
function newerFaults(): Readonly<Record<NewerFaultName, Fault>> {
  return {
    pf_disabled: {
      description: "pf is disabled on the secondary: `pfctl -d` during maintenance, and nobody ran `pfctl -e`.",
      apply: ({ hosts: { secondary } }) => {
        const disabled = (text: string): string => text.replace(/^Status: Enabled for 12 days 03:04:05 +/m, "Status: Disabled for 0 days 00:14:02".padEnd(44 + 5));
        setOutput(secondary, ["pfctl", "-si"], disabled(withStateCount(pfInfo, STATE_COUNTS.secondary)));
        setOutput(secondary, ["pfctl", "-vsi"], disabled(withStateCount(pfInfoVerbose, STATE_COUNTS.secondary)).replace(/^Hostid: +0x[0-9a-f]+$/m, `Hostid:   ${HOSTIDS.secondary}`));
      },
    },
    pf_hostid_shared: {
      description: "The secondary was cloned from the primary's disk, `set hostid` in pf.conf included: both have pf hostid 0x5e1f0a3c.",
      apply: ({ hosts: { secondary } }) => setStateCount(secondary, STATE_COUNTS.secondary, HOSTIDS.primary),
    },
    pf_states_near_limit: {
      description: "The state tables are nearly full: 9650 and 9641 states of the 10000 pf allows.",
      apply: ({ hosts }) => {
        setStateCount(hosts.primary, 9650, HOSTIDS.primary);
        setStateCount(hosts.secondary, 9641, HOSTIDS.secondary);
      },
    },
    pf_congestion: {
      description: "pf's congestion counter on the primary grew by 8 in the last 2 minutes: an interface queue overflows now and then.",
      apply: (pair) => {
        setOutput(
          pair.hosts.primary,
          ["pfctl", "-vsi"],
          withStateCount(pfInfoVerbose, STATE_COUNTS.primary).replace(/^( {2}congestion +)0( +)/m, (_, head: string, space: string) => `${head}8${space}`),
        );
        plantHistory(pair, "pf-counters.json", 120, { primary: PF_COUNTERS_QUIET, secondary: PF_COUNTERS_QUIET });
      },
    },
    carp_bad_auth: {
      description: 'The secondary refuses the primary\'s advertisements: 37 with bad authentication in the last minute ("carp incorrect hash": the passes differ).',
      apply: (pair) => {
        setOutput(pair.hosts.secondary, ["netstat", "-sp", "carp"], carpStats({ badauth: 37, transitions: 0 }));
        plantHistory(pair, "carp-counters.json", 60, { primary: carpReading(CARP_COUNTS.primary), secondary: carpReading(CARP_COUNTS.secondary) });
      },
    },
    carp_flapping: {
      description: "A failover that flipped back 10 minutes ago: the secondary became master, then the primary again; check_carp now sees a healthy pair.",
      apply: (pair) => {
        setOutput(pair.hosts.primary, ["netstat", "-sp", "carp"], carpStats({ badauth: 0, transitions: 2 }));
        setOutput(pair.hosts.secondary, ["netstat", "-sp", "carp"], carpStats({ badauth: 0, transitions: 1 }));
        plantHistory(pair, "carp-counters.json", 600, { primary: carpReading(CARP_COUNTS.primary), secondary: carpReading(CARP_COUNTS.secondary) });
      },
    },
    ntp_unsynced: {
      description: "The secondary's clock is not synced: the primary's ntpd does not serve the pfsync network.",
      apply: ({ hosts: { secondary } }) => setOutput(secondary, ["ntpctl", "-s", "all"], ntpSecondaryUnsynced),
    },
    ntpd_down: {
      description: "ntpd is not running on the primary.",
      apply: ({ hosts: { primary } }) => setOutput(primary, ["ntpctl", "-s", "all"], "", { stderr: "ntpctl: connect: /var/run/ntpd.sock: No such file or directory\n", exitCode: 1 }),
    },
    ntp_wrong_source: {
      description: "The secondary's ntpd.conf is the primary's (the carp-master variant): it follows a server on the internet, not the primary.",
      apply: ({ hosts: { secondary } }) => setOutput(secondary, ["ntpctl", "-s", "all"], ntpPrimarySynced),
    },
    versions_mismatch: {
      description: "The secondary was left behind in an upgrade: an older kernel build, two syspatches and an openvpn update missing.",
      apply: ({ hosts: { secondary } }) => {
        setOutput(secondary, ["sysctl", "-n", "kern.version"], kernelVersion.replace("#5: Mon Nov 22 21:05:50 MST 2021", "#3: Tue Oct 26 19:12:08 MDT 2021"));
        setOutput(secondary, ["syspatch", "-l"], syspatchList.replace("005_unpcon\n006_x509\n", ""));
        setOutput(secondary, ["pkg_info", "-q"], PACKAGES.replace("openvpn-2.5.4", "openvpn-2.5.3"));
      },
    },
  };
}

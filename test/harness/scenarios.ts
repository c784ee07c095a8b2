/**
 * Named states of the simulated gateway pair, built on the harness API (pair.ts): a healthy pair as
 * carpentry's README sets it up, and each fault the checks must tell apart. The e2e matrix
 * (test/e2e/matrix.test.ts) runs every check in every scenario; other tests may use them too.
 *
 *   const lab = new ScenarioLab(pair);
 *   await lab.setUp();                 // once: build installed, resolvers and watcher started
 *   await lab.enter("split_brain");    // back to healthy, then the fault
 *
 * Every scenario starts from the same healthy pair: enter() resets files, stand-in outputs, configs,
 * daemons and shared ssh connections first, so scenarios do not depend on their order.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { healthyDefaults, HOST_NAMES, pfctlStatusText, type Daemon, type HostName, type Pair } from "./pair.js";

export const SCENARIO_NAMES = [
  "healthy",
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
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** What each scenario is, in the words of an admin of the pair. */
export const SCENARIO_DESCRIPTIONS: Readonly<Record<ScenarioName, string>> = {
  healthy: "primary MASTER, secondary BACKUP, everything synced, queues empty, resolvers answering",
  failed_over: "the secondary took over: primary BACKUP, secondary MASTER",
  split_brain: "both hosts MASTER of carp203",
  vhid_init: "carp203 INIT on the primary (carpdev down), the secondary MASTER",
  primary_demoted: "carpdemote 50 on the primary for maintenance, the secondary MASTER",
  pfsync_down: "pfsync0 down on the secondary",
  states_diverged: "state tables far apart: primary 1000 states, secondary 800",
  pf_table_drift: "in-memory table badhosts: one entry only on each host",
  file_changed: "pf.conf, ifstated.conf and syslog.conf edited on the primary and not synced",
  file_added: "a script and an OpenVPN client config added on the primary only (entr misses new files)",
  file_removed: "a pf table file and a sync script removed from the secondary",
  file_mode: "dhcpd.conf 0600 and ta.key 0644 on the secondary",
  file_secret: "secret-bearing files differ: carp pass, unbound control key, OpenVPN static key",
  preempt_zero: "net.inet.carp.preempt left at 0 on the primary (live and in sysctl.conf) after maintenance",
  mail_piling: "600 messages queued on the secondary, the oldest 2 days old",
  dns_failing: "unbound down on both hosts",
  peer_sshd_down: "sshd stopped on both hosts: each host's peer refuses connections",
  peer_hanging: "each host's port 22 accepts and never answers",
  garbled: "every OpenBSD command on the primary prints what no parser understands",
};

// -- what a healthy pair looks like ---------------------------------------------------------------

const FIXTURES = new URL("../fixtures/", import.meta.url);
const fixture = (path: string): string => readFileSync(new URL(path, FIXTURES), "utf8");

/** Secret values planted on the hosts: none of them may ever appear in a check's output. */
export const SECRETS = {
  carpPass: "w4n-Carp-s3cret",
  carpPassOld: "w4n-Carp-0ld-s3cret",
  unboundKey: "CANARYunboundKEYz9",
  unboundKeyOld: "CANARYunboundOLDz9",
  staticKey: "CANARYstaticKEYz9",
  staticKeyOld: "CANARYstaticOLDz9",
} as const;

const pem = (label: string, body: string): string => `-----BEGIN ${label}-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC${body}\nBKcwggSjAgEAAoIBAQC7\n-----END ${label}-----\n`;
const staticKey = (body: string): string => `#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n${body}e5f1c2d3a4b5\n-----END OpenVPN Static key V1-----\n`;

/** The hostname.carp203 behind the live carp203: the one-line form on the primary, the secondary's copy with advskew 100. */
function hostnameCarp203(host: HostName, pass: string): string {
  return host === "primary"
    ? `inet 10.112.203.254 255.255.255.0 NONE vhid 203 carpdev vio2 advskew 0 pass ${pass}\ndescription "INT_203"\nup\n`
    : `# copied from the primary\ninet 10.112.203.254/24\nvhid 203 pass ${pass} carpdev vio2 advskew 100\ndescription "INT_203"\nup\n`;
}

/** The resolver both hosts run (one file, synced like the rest): a local zone, never a query outside. */
const UNBOUND_CONF = `# carpentry: the gateways' resolver, the same file on both
server:
	interface: 127.0.0.1
	port: 53
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "/var/unbound"
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 1
	local-zone: "carp.test." static
	local-data: "gw.carp.test. IN A 10.112.203.254"
	local-data: "ns.carp.test. IN A 10.231.0.1"
remote-control:
	control-enable: no
`;

const DNS_NAMES = ["gw.carp.test", "ns.carp.test"] as const;

const SYSCTL_CONF = (preempt: number): string => `# carpentry gateway\nnet.inet.ip.forwarding=1\nnet.inet.carp.preempt=${preempt}\n`;

const PF_CONF = '# managed by carpentry\nset skip on lo\nblock return log\npass out\ntable <badhosts> persist file "/etc/pf.tables/badhosts.txt"\n';

interface PlantedFile {
  readonly content: string;
  readonly mode?: number;
}

/** Every file the scenarios plant, per host (root-owned); directories get their modes from DIRECTORY_MODES. */
function plantedFiles(host: HostName): Record<string, PlantedFile> {
  const files: Record<string, PlantedFile> = {
    "/etc/hostname.carp203": { content: hostnameCarp203(host, SECRETS.carpPass), mode: 0o640 },
    "/etc/sysctl.conf": { content: SYSCTL_CONF(1) },
    "/etc/pf.conf": { content: PF_CONF, mode: 0o600 },
    "/etc/pf.tables/badhosts.txt": { content: "192.0.2.1\n192.0.2.2\n", mode: 0o600 },
    "/etc/pf.tables/spamd.txt": { content: "198.51.100.7\n", mode: 0o600 },
    "/etc/dhcpd.conf": { content: "# managed by carpentry\nsubnet 10.112.203.0 netmask 255.255.255.0 {\n\toption routers 10.112.203.254;\n\trange 10.112.203.10 10.112.203.200;\n}\n" },
    "/var/unbound/etc/unbound.conf": { content: UNBOUND_CONF },
    "/var/unbound/etc/unbound_control.key": { content: pem("RSA PRIVATE KEY", SECRETS.unboundKey), mode: 0o640 },
    "/var/unbound/etc/unbound_server.pem": { content: "-----BEGIN CERTIFICATE-----\nMIIDpublic\n-----END CERTIFICATE-----\n" },
    "/etc/openvpn/server.conf": { content: "# managed by carpentry\nport 1194\ndev tun0\ntls-auth /etc/openvpn/ta.key 0\n" },
    "/etc/openvpn/ta.key": { content: staticKey(SECRETS.staticKey), mode: 0o600 },
    "/etc/openv-client-acme/client.conf": { content: "client\nremote vpn.acme.example 1194\n" },
    "/etc/ifstated.conf": { content: fixture(`drift/ifstated.conf.${host}`) },
    "/etc/mail/smtpd.conf.carp-backup": { content: fixture(`drift/smtpd.conf.carp-backup.${host}`) },
    "/etc/mail/smtpd.conf.carp-master": { content: 'listen on lo0\naction "out" relay\nmatch from local for any action "out"\n' },
    "/etc/ntpd.conf.carp-master": { content: "servers pool.ntp.org\n" },
    "/etc/resolv.conf.carp-master": { content: "nameserver 127.0.0.1\n" },
    "/etc/syslog.conf": { content: "*.notice;auth,authpriv,cron,ftp,kern,lpr,mail,user.none\t/var/log/messages\n" },
    "/etc/newsyslog.conf": { content: "/var/log/messages\t644  5     300  *     Z\n" },
    "/root/bin/pf-tables-update.sh": { content: "#!/bin/ksh\n/sbin/pfctl -t badhosts -T replace -f /etc/pf.tables/badhosts.txt\n", mode: 0o700 },
    "/etc/carpentry.bin/pf.sh": { content: "#!/bin/ksh\nscp -p /etc/pf.conf root@secondary:/etc/\n", mode: 0o700 },
    "/etc/carpentry.bin/pf-tables-memory.sh": { content: "#!/bin/ksh\n# push the in-memory tables to the secondary\n", mode: 0o700 },
    "/etc/rc.d/carpentry": { content: '#!/bin/ksh\ndaemon="/etc/carpentry.bin/entr-all"\n. /etc/rc.d/rc.subr\nrc_cmd $1\n', mode: 0o755 },
  };
  // /etc/carpentry holds the primary's own settings; the secondary has none.
  if (host === "primary") files["/etc/carpentry/carpentry.conf"] = { content: "peer=192.168.110.102\n", mode: 0o600 };
  return files;
}

const DIRECTORY_MODES: Readonly<Record<string, number>> = {
  "/etc/pf.tables": 0o700,
  "/root/bin": 0o700,
  "/etc/carpentry.bin": 0o700,
  "/etc/carpentry": 0o700,
  "/etc/openvpn": 0o755,
};

/** The roots of everything planted: removed and planted again on every reset. */
const PLANTED_ROOTS = [
  "/etc/hostname.carp203", "/etc/sysctl.conf", "/etc/pf.conf", "/etc/pf.tables", "/etc/dhcpd.conf", "/var/unbound/etc", "/etc/openvpn",
  "/etc/openv-client-acme", "/etc/ifstated.conf", "/etc/mail", "/etc/ntpd.conf.carp-master", "/etc/resolv.conf.carp-master", "/etc/syslog.conf",
  "/etc/newsyslog.conf", "/root/bin", "/etc/carpentry.bin", "/etc/rc.d", "/etc/carpentry",
];

const CONFIG_COMMON = `[host_specific]
values = [{ primary = "192.168.110.101", secondary = "192.168.110.102" }]
interfaces = { re0 = "em0" }

[checks.dns]
names = [${DNS_NAMES.map((name) => `"${name}"`).join(", ")}]
query_timeout = 2
`;

/** Each host's carpentry.toml: the two-line config plus what this pair needs. */
const CONFIGS: Readonly<Record<HostName, string>> = {
  primary: `role = "primary"\n\n[peer]\nhost = "secondary"\n\n${CONFIG_COMMON}\n[drift.syslog]\ndescription = "syslogd and newsyslog"\npaths = ["/etc/syslog.conf", "/etc/newsyslog.conf"]\n`,
  secondary: `role = "secondary"\n\n[peer]\nhost = "primary"\n\n${CONFIG_COMMON}`,
};

// -- stand-in outputs -------------------------------------------------------------------------------

const CARP_GROUP: Record<HostName, string> = {
  primary: fixture("openbsd/ifconfig_carp_group_primary_master_vio.txt"),
  secondary: fixture("openbsd/ifconfig_carp_group_secondary_backup_vio.txt"),
};
const CARP_STATES = {
  primaryBackup: CARP_GROUP.primary.replace("carp: MASTER", "carp: BACKUP").replace("status: master", "status: backup"),
  secondaryMaster: CARP_GROUP.secondary.replace("carp: BACKUP", "carp: MASTER").replace("status: backup", "status: master"),
  // carp203's carpdev went down on the primary, as in the OpenBSD 5.1 INIT capture.
  primaryInit: CARP_GROUP.primary.replace("carp: MASTER", "carp: INIT").replace("status: master", "status: invalid"),
};
const NETSTAT_PFSYNC = fixture("openbsd/derived_netstat_sp_pfsync.txt");
const BADHOSTS = ["192.0.2.1", "192.0.2.2", "198.51.100.0/24", "!198.51.100.128/25", "2001:db8::/48"];
const TRUSTED = ["192.0.2.10", "203.0.113.0/24"];

/** The names check_sysctl asks in one `sysctl NAME...`: both sysctl.conf's and the expected ones, sorted. */
const SYSCTL_NAMES = ["net.inet.carp.allow", "net.inet.carp.preempt", "net.inet.ip.forwarding"];

/** `pfctl -t NAME -T show` as print_addrx() writes it. */
const tableShow = (entries: readonly string[]): string => entries.map((entry) => (entry.startsWith("!") ? `  ${entry}\n` : `   ${entry}\n`)).join("");

/** Split `ifconfig` output into its interface blocks, by name. */
function ifconfigBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const block of text.split(/\n(?=\S)/)) blocks.set(block.slice(0, block.indexOf(":")), block.endsWith("\n") ? block : `${block}\n`);
  return blocks;
}

/** A queue of `count` messages for the dead relay, created evenly over the last `oldestSeconds`. */
function queueText(count: number, oldestSeconds: number, nowEpochSeconds: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = nowEpochSeconds - Math.round((oldestSeconds * (count - i)) / count);
    const id = (0x20e9202c5e70252an + BigInt(i)).toString(16).padStart(16, "0");
    lines.push(`${id}|local|mta|auth|root@secondary|noc@example.com|noc@example.com|${created}|${created}|0|${1 + (i % 9)}|pending|372|Network error on destination MXs\n`);
  }
  return lines.join("");
}

// -- the lab ----------------------------------------------------------------------------------------

/** A pair that can be put into any scenario, in any order. */
export class ScenarioLab {
  private readonly resolvers: Partial<Record<HostName, Daemon>> = {};
  private watcher?: Daemon;

  constructor(readonly pair: Pair) {}

  /**
   * Once per pair: the build in /etc/carpentry.monit on both hosts, unbound on both (each gateway
   * resolves for its own clients), the primary's entr watcher, then the healthy state.
   */
  async setUp(): Promise<void> {
    await this.pair.installBuild();
    // OpenBSD has /var/db; the checks create their own directory inside it.
    for (const host of HOST_NAMES) mkdirSync(this.pair.hostPath(host, "/var/db"), { recursive: true, mode: 0o755 });
    await this.reset();
  }

  /** Back to the healthy pair, then the scenario's fault. */
  async enter(name: ScenarioName): Promise<void> {
    await this.reset();
    await SCENARIOS[name](this);
  }

  /** The healthy pair: files, configs, stand-in outputs, sshds, resolvers, watcher; no shared ssh connection. */
  async reset(): Promise<void> {
    const { pair } = this;
    await this.closeSharedConnections();
    for (const host of HOST_NAMES) {
      if (pair.sshdOf(host).state !== "running") await pair.sshdOf(host).start();
      for (const root of PLANTED_ROOTS) rmSync(pair.hostPath(host, root), { recursive: true, force: true });
      for (const [path, file] of Object.entries(plantedFiles(host))) await pair.writeFile(host, path, file.content, { mode: file.mode ?? 0o644 });
      for (const [dir, mode] of Object.entries(DIRECTORY_MODES)) if (existsSync(pair.hostPath(host, dir))) chmodSync(pair.hostPath(host, dir), mode);
      await pair.writeConfig(host, CONFIGS[host]);
      // check_pfsync keeps the last counter reading: each scenario starts without one.
      rmSync(pair.hostPath(host, "/var/db/carpentry/pfsync-counters.json"), { force: true });
    }
    await healthyDefaults(pair);
    for (const host of HOST_NAMES) {
      await pair.setOutput(host, ["netstat", "-sp", "pfsync"], NETSTAT_PFSYNC);
      await this.setTables(host, { badhosts: BADHOSTS, trusted: TRUSTED });
      await this.setSysctl(host, { "net.inet.carp.allow": "1", "net.inet.carp.preempt": "1", "net.inet.ip.forwarding": "1" });
      await pair.setOutput(host, ["smtpctl", "show", "status"], "MDA running\nMTA running\nSMTP running\n");
      await pair.setOutput(host, ["rcctl", "check", "carpentry"], "carpentry(ok)\n");
      if (this.resolvers[host] === undefined) await this.startResolver(host);
    }
    if (this.watcher === undefined) await this.startWatcher();
  }

  /**
   * Ends the checks' shared ssh connections (ControlPersist keeps them after a check): a stopped
   * sshd must not be hidden by a connection made before, and no process may be left in a host.
   */
  async closeSharedConnections(): Promise<void> {
    for (const host of HOST_NAMES) {
      let sockets: string[];
      try {
        sockets = readdirSync(this.pair.hostPath(host, "/run/carpentry")).filter((name) => name.startsWith("cm-") && !name.endsWith(".lock"));
      } catch {
        continue;
      }
      for (const socket of sockets) {
        await this.pair.run(host, ["/usr/bin/ssh", "-o", `ControlPath=/var/run/carpentry/${socket}`, "-O", "exit", this.pair.peerName[host]], { timeoutMs: 5000 });
      }
    }
  }

  async setCarp(host: HostName, ifconfigCarp: string): Promise<void> {
    await this.pair.setOutput(host, ["ifconfig", "carp"], ifconfigCarp);
    for (const [name, block] of ifconfigBlocks(ifconfigCarp)) await this.pair.setOutput(host, ["ifconfig", name], block);
  }

  async setTables(host: HostName, tables: Readonly<Record<string, readonly string[]>>): Promise<void> {
    const listing = Object.keys(tables).map((name) => `-pa-r--\t${name}\n`).join("");
    await this.pair.setOutput(host, ["pfctl", "-vsT"], listing);
    for (const [name, entries] of Object.entries(tables)) await this.pair.setOutput(host, ["pfctl", "-t", name, "-T", "show"], tableShow(entries));
  }

  /** Live values: `sysctl NAME`, `sysctl -n NAME`, the net.inet.carp subtree and check_sysctl's one call for all names. */
  async setSysctl(host: HostName, values: Readonly<Record<string, string>>): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      await this.pair.setOutput(host, ["sysctl", name], `${name}=${value}\n`);
      await this.pair.setOutput(host, ["sysctl", "-n", name], `${value}\n`);
    }
    const carp = Object.entries(values).filter(([name]) => name.startsWith("net.inet.carp."));
    await this.pair.setOutput(host, ["sysctl", "net.inet.carp"], `${[...carp, ["net.inet.carp.log", "2"]].map(([name, value]) => `${name}=${value}`).join("\n")}\n`);
    await this.pair.setOutput(host, ["sysctl", ...SYSCTL_NAMES], SYSCTL_NAMES.map((name) => `${name}=${values[name] ?? "?"}\n`).join(""));
  }

  async setStateCount(host: HostName, currentEntries: number): Promise<void> {
    await this.pair.setOutput(host, ["pfctl", "-si"], pfctlStatusText({ runtimeSeconds: 1_047_845, currentEntries, searches: 98_765_432, inserts: 2_345_678, removals: 2_344_394, match: 2_401_234 }));
  }

  async stopResolvers(): Promise<void> {
    for (const host of HOST_NAMES) {
      await this.resolvers[host]?.stop();
      delete this.resolvers[host];
    }
  }

  private async startResolver(host: HostName): Promise<void> {
    this.resolvers[host] = await this.pair.startDaemon(host, "unbound", ["/usr/sbin/unbound", "-d", "-c", "/var/unbound/etc/unbound.conf"], { ready: /start of service/ });
  }

  /**
   * carpentry's rc.d service runs entr(1) watchers on the primary; check_installed asks
   * `pgrep -lx entr`. Debian has no entr here, so the watcher is a process of that name that waits:
   * a copy of sleep(1) in the host's own /usr/sbin (an overlay: nothing outside the host changes).
   */
  private async startWatcher(): Promise<void> {
    await this.pair.writeFile("primary", "/usr/sbin/entr", readFileSync("/usr/bin/sleep"), { mode: 0o755 });
    this.watcher = await this.pair.startDaemon("primary", "entr", ["/usr/sbin/entr", "infinity"]);
  }
}

// -- the scenarios ------------------------------------------------------------------------------------

const writeOn = (lab: ScenarioLab, host: HostName, path: string, content: string, mode = 0o644): Promise<void> => lab.pair.writeFile(host, path, content, { mode });

const SCENARIOS: Readonly<Record<ScenarioName, (lab: ScenarioLab) => Promise<void>>> = {
  healthy: async () => {},

  failed_over: async (lab) => {
    await lab.setCarp("primary", CARP_STATES.primaryBackup);
    await lab.setCarp("secondary", CARP_STATES.secondaryMaster);
  },

  split_brain: async (lab) => {
    await lab.setCarp("secondary", CARP_STATES.secondaryMaster);
  },

  vhid_init: async (lab) => {
    await lab.setCarp("primary", CARP_STATES.primaryInit);
    await lab.setCarp("secondary", CARP_STATES.secondaryMaster);
  },

  primary_demoted: async (lab) => {
    // Maintenance demotes with `ifconfig -g carp carpdemote 50`; the FAQ's capture is of group "internal".
    await lab.pair.setOutput("primary", ["ifconfig", "-g", "carp"], fixture("openbsd/ifconfig_g_internal_after_carpdemote50_faq.txt").replace("internal:", "carp:"));
    await lab.setCarp("primary", CARP_STATES.primaryBackup);
    await lab.setCarp("secondary", CARP_STATES.secondaryMaster);
  },

  pfsync_down: async (lab) => {
    await lab.setCarp("secondary", CARP_GROUP.secondary.replace("pfsync0: flags=41<UP,RUNNING>", "pfsync0: flags=0<>"));
  },

  states_diverged: async (lab) => {
    await lab.setStateCount("primary", 1000);
    await lab.setStateCount("secondary", 800);
  },

  pf_table_drift: async (lab) => {
    await lab.setTables("secondary", { badhosts: [...BADHOSTS.slice(1), "203.0.113.66"], trusted: TRUSTED });
  },

  file_changed: async (lab) => {
    await writeOn(lab, "primary", "/etc/pf.conf", PF_CONF.replace("pass out\n", "pass out\npass in on vio2 proto tcp to port 22\n"), 0o600);
    await writeOn(lab, "primary", "/etc/ifstated.conf", fixture("drift/ifstated.conf.primary").replace("every 10", "every 60"));
    await writeOn(lab, "primary", "/etc/syslog.conf", "*.notice;mail.none\t/var/log/messages\n");
  },

  file_added: async (lab) => {
    await writeOn(lab, "primary", "/root/bin/unbound-update.sh", "#!/bin/ksh\nrcctl reload unbound\n", 0o700);
    await writeOn(lab, "primary", "/etc/openvpn/ccd/laptop", "ifconfig-push 10.8.0.9 255.255.255.0\n");
  },

  file_removed: async (lab) => {
    await lab.pair.removeFile("secondary", "/etc/pf.tables/spamd.txt");
    await lab.pair.removeFile("secondary", "/etc/carpentry.bin/pf-tables-memory.sh");
  },

  file_mode: async (lab) => {
    await lab.pair.writeFile("secondary", "/etc/dhcpd.conf", await lab.pair.readFile("secondary", "/etc/dhcpd.conf"), { mode: 0o600 });
    await lab.pair.writeFile("secondary", "/etc/openvpn/ta.key", await lab.pair.readFile("secondary", "/etc/openvpn/ta.key"), { mode: 0o644 });
  },

  file_secret: async (lab) => {
    await writeOn(lab, "secondary", "/etc/hostname.carp203", hostnameCarp203("secondary", SECRETS.carpPassOld), 0o640);
    await writeOn(lab, "secondary", "/var/unbound/etc/unbound_control.key", pem("RSA PRIVATE KEY", SECRETS.unboundKeyOld), 0o640);
    await writeOn(lab, "secondary", "/etc/openvpn/ta.key", staticKey(SECRETS.staticKeyOld), 0o600);
  },

  preempt_zero: async (lab) => {
    await lab.setSysctl("primary", { "net.inet.carp.allow": "1", "net.inet.carp.preempt": "0", "net.inet.ip.forwarding": "1" });
    await writeOn(lab, "primary", "/etc/sysctl.conf", SYSCTL_CONF(0));
  },

  mail_piling: async (lab) => {
    await lab.pair.setOutput("secondary", ["smtpctl", "show", "queue"], queueText(600, 2 * 86400, Math.floor(Date.now() / 1000)));
  },

  dns_failing: async (lab) => {
    await lab.stopResolvers();
  },

  peer_sshd_down: async (lab) => {
    for (const host of HOST_NAMES) await lab.pair.sshdOf(host).stop();
  },

  peer_hanging: async (lab) => {
    for (const host of HOST_NAMES) await lab.pair.sshdOf(host).hang();
  },

  garbled: async (lab) => {
    const { pair } = lab;
    await lab.setCarp("primary", CARP_GROUP.primary.replace("\tcarp: MASTER carpdev vio2", "\tcarp: MASTR carpdev vio2").replace("flags=41<UP,RUNNING>", "flags=41<UP,RUNNING"));
    await pair.setOutput("primary", ["ifconfig", "-g", "carp"], "carp: carp demote count fifty\n");
    await pair.setOutput("primary", ["pfctl", "-si"], "Status: Enabled for 1 days 00:00:01             Debug: err\n\nState Table                          Total             Rate\n  current entries        twelve\n");
    await pair.setOutput("primary", ["netstat", "-sp", "pfsync"], "pfsync:\n\tmany packets received (IPv4)\n");
    await pair.setOutput("primary", ["pfctl", "-vsT"], "-pa-r--\tbadhosts\n?? table listing cut\n");
    await pair.setOutput("primary", ["pfctl", "-t", "badhosts", "-T", "show"], "   192.0.2.1\n   not-an-address\n");
    await pair.setOutput("primary", ["sysctl", ...SYSCTL_NAMES], "net.inet.carp.allow: 1\n");
    await pair.setOutput("primary", ["sysctl", "net.inet.carp.preempt"], "net.inet.carp.preempt: 1\n");
    await pair.setOutput("primary", ["smtpctl", "show", "status"], "MDA up\n");
    await pair.setOutput("primary", ["smtpctl", "show", "queue"], "20e9202c5e70252a|inet4|mta\n");
    await pair.setOutput("primary", ["rcctl", "check", "carpentry"], "carpentry: ok?\n");
  },
};

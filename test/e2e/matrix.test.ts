// Every built check in every scenario (test/harness/scenarios.ts), run inside the simulated gateways
// as monit runs them (no TTY, sparse environment, stdin a pipe: pair.run), on this machine's Node and
// on Node 22, the version OpenBSD 7.8/7.9 ship. Each cell of the table below is an exit code and a
// summary; a check in the registry without a row, or a row without a cell for some scenario, fails.
// The same runs are held to the output rules (stdout only, first line <= 80 characters, 500 bytes, no
// secret), and to safety: no state-changing command, no file changed on either host, no GNU-only
// tool or option in any command line that reached a host, no process left behind.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { HOST_NAMES, startPair, type CommandLogEntry, type HostName, type Pair, type RunResult } from "../harness/pair.js";
import { SCENARIO_DESCRIPTIONS, SCENARIO_NAMES, ScenarioLab, SECRETS, type ScenarioName } from "../harness/scenarios.js";
import { snapshotChanges, snapshotTrees, type Snapshot } from "../support/file-snapshot.js";
import { gnuOnlyInLogEntry } from "../support/gnu-options.js";

// -- the table --------------------------------------------------------------------------------------

type ExitCode = 0 | 1 | 2 | 3;
interface Cell {
  readonly code: ExitCode;
  /** matched against the summary: the first line without "STATUS: " and without " | perfdata" */
  readonly summary: RegExp;
  /** Another outcome that is as right (a race between two timeouts). */
  readonly or?: Cell;
}
const OK = (summary: RegExp): Cell => ({ code: 0, summary });
const WARNING = (summary: RegExp): Cell => ({ code: 1, summary });
const CRITICAL = (summary: RegExp): Cell => ({ code: 2, summary });
const UNKNOWN = (summary: RegExp): Cell => ({ code: 3, summary });

type Row = Readonly<Record<ScenarioName, Cell>>;
/** A row of the table: the cell of the scenarios that do not concern the check, and those that do. */
const row = (elsewhere: Cell, cells: Partial<Record<ScenarioName, Cell>>): Row =>
  Object.fromEntries(SCENARIO_NAMES.map((scenario) => [scenario, cells[scenario] ?? elsewhere])) as Record<ScenarioName, Cell>;

// How a check names an unreachable peer: its role, then the host from the config ("secondary").
const REFUSED = (peer: HostName, prefix = ""): RegExp => new RegExp(`^${prefix}cannot reach ${peer}: connection refused$`);
// A peer that accepts and never answers: ssh gives up after ConnectTimeout (5 s), or, when checks
// started together queue behind the one that opens the shared connection, the check's own 10 s
// deadline comes first and names what it waited for.
const HANGING = (peer: HostName, prefix = ""): RegExp => new RegExp(`^(${prefix}cannot reach ${peer}: connection time(d out|\\.\\.\\.)|timed out after 10s waiting for ssh root@${peer}: .*)$`);

/** The same cell in each of these scenarios. */
const each = (scenarios: readonly ScenarioName[], cell: Cell): Partial<Record<ScenarioName, Cell>> => Object.fromEntries(scenarios.map((scenario) => [scenario, cell]));
// The survivor scenarios, on the full and the active/active pair: whose sshd is stopped.
const PRIMARY_UNREACHABLE: readonly ScenarioName[] = ["primary_dead", "primary_dead_vhid_init", "primary_sshd_stopped"].flatMap((fault) => [fault, `active-active/${fault}`] as ScenarioName[]);
const SECONDARY_UNREACHABLE: readonly ScenarioName[] = ["secondary_dead", "active-active/secondary_dead"];

const CARP_OK = OK(/^primary MASTER, secondary BACKUP of 1 vhid$/);
const CARP_FAULTS: Partial<Record<ScenarioName, Cell>> = {
  failed_over: WARNING(/^failed over: secondary took carp203 vhid 203 from primary$/),
  split_brain: CRITICAL(/^split brain: carp203 vhid 203 MASTER on both hosts$/),
  vhid_init: CRITICAL(/^carp203 vhid 203 INIT on primary: 10\.112\.203\.254 \(\+1 more\)$/),
  // The check's help: a non-zero demote counter is a WARNING (maintenance demotes on purpose), the failover "+1 more".
  primary_demoted: WARNING(/^primary carp demote 50 via group carp \(\+1 more\)$/),
  demoted_via_group: WARNING(/^primary carp demote 50 via group internal \(\+1 more\)$/),
  "active-active": OK(/^2 vhids, each MASTER on its preferred host \(primary 1, secondary 1\)$/),
  "active-active/carp203_failed_over": WARNING(/^failed over: secondary took carp203 vhid 203 from primary$/),
  "active-active/carp204_failed_over": WARNING(/^failed over: primary took carp204 vhid 204 from secondary$/),
};
// With the peer unreachable, the survivor's own carp states speak (the check's help has the table);
// the dead host's own view still reaches its live peer.
const CARP_SURVIVOR: Readonly<Record<HostName, Partial<Record<ScenarioName, Cell>>>> = {
  secondary: {
    primary_dead: WARNING(/^took over: secondary MASTER of every vhid \(1\), primary unreachable$/),
    "active-active/primary_dead": WARNING(/^took over: secondary MASTER of every vhid \(2\), primary unreachable$/),
    primary_dead_vhid_init: CRITICAL(/^carp203 vhid 203 INIT on secondary: 10\.112\.203\.254 may have no MASTER$/),
    "active-active/primary_dead_vhid_init": CRITICAL(/^carp204 vhid 204 INIT on secondary: 10\.112\.204\.254 may have no MASTER$/),
    primary_sshd_stopped: WARNING(/^primary not dead: it holds carp203 vhid 203, ssh to it fails$/),
    "active-active/primary_sshd_stopped": WARNING(/^primary not dead: it holds carp203 vhid 203, ssh to it fails$/),
    secondary_dead: CRITICAL(/^carp203 vhid 203 INIT on secondary: 10\.112\.203\.254$/),
    "active-active/secondary_dead": CRITICAL(/^carp203 vhid 203 INIT on secondary: 10\.112\.203\.254 \(\+\d more\)$/),
  },
  primary: {
    secondary_dead: WARNING(/^serving alone: primary MASTER of every vhid \(1\), secondary unreachable$/),
    "active-active/secondary_dead": WARNING(/^took over: primary MASTER of every vhid \(2\), secondary unreachable$/),
    ...each(
      ["primary_dead", "active-active/primary_dead", "primary_dead_vhid_init", "active-active/primary_dead_vhid_init"],
      CRITICAL(/^carp203 vhid 203 INIT on primary: 10\.112\.203\.254 \(\+\d more\)$/),
    ),
    "active-active/primary_sshd_stopped": OK(/^2 vhids, each MASTER on its preferred host \(primary 1, secondary 1\)$/),
  },
};
const PFSYNC_OK = OK(/^states primary 1284, secondary 1279; pfsync0 up on both$/);
const PFSYNC_FAULTS: Partial<Record<ScenarioName, Cell>> = {
  pfsync_down: CRITICAL(/^pfsync0 down on secondary$/),
  states_diverged: CRITICAL(/^states diverged: primary 1000, secondary 800$/),
  garbled: UNKNOWN(/^cannot parse primary's ifconfig pfsync output line 1$/),
  pf_states_near_limit: OK(/^states primary 9650, secondary 9641; pfsync0 up on both$/),
  syncdev_no_carrier: CRITICAL(/^syncdev vio0 on secondary: no carrier$/),
  pfsync_defer_differs: WARNING(/^pfsync0 defer differs: primary off, secondary on$/),
  pfsync_syncpeer_wrong: CRITICAL(/^pfsync0 on primary: syncpeer 192\.168\.254\.9 is not the secondary's$/),
};
const SYSCTL_OK = OK(/^sysctl\.conf alike on both hosts; 3 values as set and expected$/);
const PREEMPT_ZERO = CRITICAL(/^net\.inet\.carp\.preempt: primary 0, secondary 1, expected 1$/);
const MAILQ_OK = OK(/^mail queue empty$/);
const DNS_OK = OK(/^2 names resolve via 127\.0\.0\.1:53 within \d+ ms$/);
const DNS_DOWN = CRITICAL(/^all 2 names fail via 127\.0\.0\.1:53: connection refused$/);
// What follows carp: ifstated's files and the VPN client move with MASTER (split brain: both are MASTER).
const IFSTATED_OK = (state: string): Cell => OK(new RegExp(`^1 switched file matches carp203 ${state}; ifstated running$`));
const VPN_OK = (host: HostName, state: string): Cell => OK(new RegExp(`^1 client, 1 server as expected on ${host} \\(${state} of carp203\\)$`));
/** The minimal pair has no OpenVPN. */
const NO_VPN = OK(/^no VPN configured$/);
const FOLLOWING: Readonly<Record<HostName, Partial<Record<ScenarioName, string>>>> = {
  primary: {
    failed_over: "BACKUP",
    vhid_init: "INIT",
    primary_demoted: "BACKUP",
    demoted_via_group: "BACKUP",
    primary_dead: "INIT",
    primary_dead_vhid_init: "INIT",
    "active-active/primary_dead": "INIT",
    "active-active/primary_dead_vhid_init": "INIT",
    "active-active/carp203_failed_over": "BACKUP",
  },
  secondary: {
    failed_over: "MASTER",
    split_brain: "MASTER",
    vhid_init: "MASTER",
    primary_demoted: "MASTER",
    demoted_via_group: "MASTER",
    primary_dead: "MASTER",
    primary_dead_vhid_init: "INIT",
    secondary_dead: "INIT",
    "active-active/primary_dead": "MASTER",
    "active-active/primary_dead_vhid_init": "MASTER",
    "active-active/secondary_dead": "INIT",
    "active-active/carp203_failed_over": "MASTER",
  },
};
const following = (cell: (state: string) => Cell, host: HostName): Partial<Record<ScenarioName, Cell>> =>
  Object.fromEntries(Object.entries(FOLLOWING[host]).map(([scenario, state]) => [scenario, cell(state)]));
const IFSTATED_FAILOVER = { primary: following(IFSTATED_OK, "primary"), secondary: following(IFSTATED_OK, "secondary") };
const VPN_FAILOVER = { primary: following((state) => VPN_OK("primary", state), "primary"), secondary: following((state) => VPN_OK("secondary", state), "secondary") };
/** The drift checks read files only: the same faults for each of them, whatever the set. */
const driftRow = (set: string, paths: string, cells: Partial<Record<ScenarioName, Cell>>): Row =>
  row(OK(new RegExp(`^${set}: ${paths} the same on primary and secondary$`)), {
    ...each(SECONDARY_UNREACHABLE, UNKNOWN(REFUSED("secondary"))),
    peer_sshd_down: UNKNOWN(REFUSED("secondary")),
    peer_hanging: UNKNOWN(HANGING("secondary")),
    ...cells,
  });

/** A built-in drift set with no file on either host (the minimal pair has no OpenVPN, no dhcpd). */
const NOT_IN_USE = (set: string): Cell => OK(new RegExp(`^${set}: not in use \\(no file on either host\\)$`));
/** The minimal pair compares its one file-backed table; its <bruteforce> overload table differs by design. */
const MINIMAL_TABLES = OK(/^1 pf table identical on both hosts \(5 entries\)$/);
/** check_installed on a host without carpentry's sync: the checks alone. */
const NO_SYNC = OK(/^1 path in place, root-only \(\d+ entries\); carpentry sync not installed$/);
/** carpentry's sync half there on the primary: all of it is required, each missing piece said. */
const SYNC_PARTIAL = CRITICAL(/^\/etc\/carpentry missing \(\+3 more\)$/);
// check_pf, check_carp_stats, check_ntp: each host judged alone while the peer cannot be asked.
const peerViewMissingCells = (peer: HostName): Partial<Record<ScenarioName, Cell>> => ({
  ...each(peer === "primary" ? PRIMARY_UNREACHABLE : SECONDARY_UNREACHABLE, UNKNOWN(REFUSED(peer, "pair view missing: "))),
  peer_sshd_down: UNKNOWN(REFUSED(peer, "pair view missing: ")),
  peer_hanging: UNKNOWN(HANGING(peer, "pair view missing: ")),
});
const PF_OK = OK(/^pf enabled on both, state tables at most 12\.8% full$/);
const PF_FAULTS: Partial<Record<ScenarioName, Cell>> = {
  // 1000 states on the primary: 10% of the hard limit.
  states_diverged: OK(/^pf enabled on both, state tables at most 10\.0% full$/),
  pf_disabled: CRITICAL(/^pf disabled on secondary$/),
  pf_hostid_shared: CRITICAL(/^primary and secondary share pf hostid 0x5e1f0a3c$/),
  pf_states_near_limit: CRITICAL(/^pf state table 96\.5% full on primary \(\+1 more\)$/),
  // 8 more in the 2 minutes (and the seconds the scenario took) since the planted reading.
  pf_congestion: WARNING(/^pf congestion counter grows on primary: [1-4]\.\d\/min$/),
};
// Each scenario starts without readings: the healthy counters are a first reading, told as such.
const CARP_STATS_OK = OK(/^carp counters quiet on both hosts \(window 1 h\)$/);
const CARP_STATS_FAULTS: Partial<Record<ScenarioName, Cell>> = {
  carp_bad_auth: CRITICAL(/^carp bad authentication grew by 37 on secondary$/),
  carp_flapping: WARNING(/^carp flapping: both hosts became master within 1\d min$/),
};
const NTP_OK = OK(/^clock synced on both hosts, stratum primary 2, secondary 3$/);
const NTP_FAULTS: Partial<Record<ScenarioName, Cell>> = {
  ntp_unsynced: CRITICAL(/^clock not synced on secondary$/),
  ntpd_down: CRITICAL(/^ntpd not running on primary$/),
  ntp_wrong_source: WARNING(/^secondary's clock follows 10\.10\.12\.13, not 192\.168\.110\.101$/),
};

/** check name @ the host it runs on -> scenario -> expected cell */
const EXPECTED: Readonly<Record<string, Row>> = {
  "peer@primary": row(OK(/^secondary answers over SSH in \d+ ms$/), {
    ...each(SECONDARY_UNREACHABLE, CRITICAL(REFUSED("secondary"))),
    peer_sshd_down: CRITICAL(REFUSED("secondary")),
    peer_hanging: CRITICAL(/^cannot reach secondary: connection timed out$/),
  }),
  "peer@secondary": row(OK(/^primary answers over SSH in \d+ ms$/), {
    ...each(PRIMARY_UNREACHABLE, CRITICAL(REFUSED("primary"))),
    peer_sshd_down: CRITICAL(REFUSED("primary")),
    peer_hanging: CRITICAL(/^cannot reach primary: connection timed out$/),
  }),
  "carp@primary": row(CARP_OK, {
    ...CARP_FAULTS,
    ...CARP_SURVIVOR.primary,
    peer_sshd_down: WARNING(/^serving alone: primary MASTER of every vhid \(1\), secondary unreachable$/),
    // ssh gives up after ConnectTimeout (the survivor speaks), or the check's own deadline comes first.
    peer_hanging: { ...WARNING(/^serving alone: primary MASTER of every vhid \(1\), secondary unreachable$/), or: UNKNOWN(HANGING("secondary")) },
    garbled: UNKNOWN(/^cannot parse ifconfig carp output line 1$/),
  }),
  "carp@secondary": row(CARP_OK, {
    ...CARP_FAULTS,
    ...CARP_SURVIVOR.secondary,
    peer_sshd_down: WARNING(/^primary not dead: it holds carp203 vhid 203, ssh to it fails$/),
    peer_hanging: { ...WARNING(/^primary not dead: it holds carp203 vhid 203, ssh to it fails$/), or: UNKNOWN(HANGING("primary")) },
    garbled: UNKNOWN(/^pair view missing: primary: cannot parse ifconfig carp output line 1$/),
  }),
  "carp_interfaces@primary": row(OK(/^1 hostname\.carpN and 6 other interface files agree between the hosts$/), {
    ...each(
      SCENARIO_NAMES.filter((scenario) => scenario.startsWith("active-active")),
      OK(/^2 hostname\.carpN and 6 other interface files agree between the hosts$/),
    ),
    ...each(SECONDARY_UNREACHABLE, UNKNOWN(REFUSED("secondary"))),
    hostname_vlan_differs: CRITICAL(/^hostname\.vlan110 differs$/),
    hostname_nic_differs: CRITICAL(/^hostname\.re0\/hostname\.em0 differs$/),
    file_secret: CRITICAL(/^hostname\.carp203 pass differs$/),
    carp_groups_differ: WARNING(/^hostname\.carp203 groups differ$/),
    peer_sshd_down: UNKNOWN(REFUSED("secondary")),
    peer_hanging: UNKNOWN(HANGING("secondary")),
    garbled: UNKNOWN(/^cannot parse ifconfig carp output line 1$/),
  }),
  "pfsync@primary": row(PFSYNC_OK, {
    ...PFSYNC_FAULTS,
    ...each(SECONDARY_UNREACHABLE, UNKNOWN(REFUSED("secondary"))),
    peer_sshd_down: UNKNOWN(REFUSED("secondary")),
    peer_hanging: UNKNOWN(HANGING("secondary")),
  }),
  "pfsync@secondary": row(PFSYNC_OK, {
    ...PFSYNC_FAULTS,
    ...each(PRIMARY_UNREACHABLE, UNKNOWN(REFUSED("primary"))),
    peer_sshd_down: UNKNOWN(REFUSED("primary")),
    peer_hanging: UNKNOWN(HANGING("primary")),
  }),
  // overload_table_differs: each host's <bruteforce> holds its own entries, by design: left out.
  "pf_tables@primary": row(OK(/^2 pf tables identical on both hosts \(7 entries\)$/), {
    ...each(SECONDARY_UNREACHABLE, UNKNOWN(REFUSED("secondary"))),
    pf_table_drift: CRITICAL(/^table badhosts differs: 1 only on primary, 1 only on secondary$/),
    // Without the sync config, trusted (named there only) is no longer compared.
    sync_partial: OK(/^1 pf table identical on both hosts \(5 entries\)$/),
    minimal: MINIMAL_TABLES,
    "minimal/sync_partial": MINIMAL_TABLES,
    peer_sshd_down: UNKNOWN(REFUSED("secondary")),
    peer_hanging: UNKNOWN(HANGING("secondary")),
    garbled: UNKNOWN(/^primary: cannot parse pfctl -vsT output line 2$/),
  }),
  "sysctl@primary": row(SYSCTL_OK, {
    ...each(SECONDARY_UNREACHABLE, UNKNOWN(REFUSED("secondary", "pair view missing: "))),
    preempt_zero: PREEMPT_ZERO,
    peer_sshd_down: UNKNOWN(REFUSED("secondary", "pair view missing: ")),
    peer_hanging: UNKNOWN(HANGING("secondary", "pair view missing: ")),
    garbled: UNKNOWN(/^cannot parse primary's sysctl output line 1$/),
  }),
  "sysctl@secondary": row(SYSCTL_OK, {
    ...each(PRIMARY_UNREACHABLE, UNKNOWN(REFUSED("primary", "pair view missing: "))),
    preempt_zero: PREEMPT_ZERO,
    peer_sshd_down: UNKNOWN(REFUSED("primary", "pair view missing: ")),
    peer_hanging: UNKNOWN(HANGING("primary", "pair view missing: ")),
    garbled: UNKNOWN(/^pair view missing: cannot parse primary's sysctl output line 1$/),
  }),
  // Each gateway's monit watches its own queue: the peer plays no part.
  "mailq@primary": row(MAILQ_OK, { garbled: UNKNOWN(/^cannot parse smtpctl show status output line 1$/) }),
  "mailq@secondary": row(MAILQ_OK, { mail_piling: CRITICAL(/^600 messages queued \(critical 500\) \(\+1 more\)$/) }),
  "dns@primary": row(DNS_OK, { dns_failing: DNS_DOWN }),
  "dns@secondary": row(DNS_OK, { dns_failing: DNS_DOWN }),
  "drift_scripts@primary": driftRow("scripts", "\\d+ paths", {
    file_added: CRITICAL(/^\/root\/bin\/unbound-update\.sh only on primary$/),
    file_removed: CRITICAL(/^\/etc\/carpentry\.bin\/pf-tables-memory\.sh only on primary$/),
    sync_partial: CRITICAL(/^\/etc\/carpentry\.bin\S* only on secondary \(\+\d+ more\)$/),
    "minimal/sync_partial": CRITICAL(/^\/etc\/rc\.d\/carpentry only on primary$/),
  }),
  "drift_pf@primary": driftRow("pf", "4 paths", {
    file_changed: CRITICAL(/^\/etc\/pf\.conf content differs$/),
    file_removed: CRITICAL(/^\/etc\/pf\.tables\/spamd\.txt only on primary$/),
    minimal: OK(/^pf: 3 paths the same on primary and secondary$/),
    "minimal/sync_partial": OK(/^pf: 3 paths the same on primary and secondary$/),
  }),
  "drift_dhcp@primary": driftRow("dhcp", "1 path", { file_mode: CRITICAL(/^\/etc\/dhcpd\.conf mode differs$/), minimal: NOT_IN_USE("dhcp"), "minimal/sync_partial": NOT_IN_USE("dhcp") }),
  "drift_unbound@primary": driftRow("unbound", "4 paths", { file_secret: CRITICAL(/^\/var\/unbound\/etc\/unbound_control\.key content differs$/) }),
  "drift_vpn@primary": driftRow("vpn", "5 paths", {
    file_added: CRITICAL(/^\/etc\/openvpn\/ccd only on primary \(\+1 more\)$/),
    file_mode: CRITICAL(/^\/etc\/openvpn\/ta\.key mode differs$/),
    file_secret: CRITICAL(/^\/etc\/openvpn\/ta\.key content differs$/),
    minimal: NOT_IN_USE("vpn"),
    "minimal/sync_partial": NOT_IN_USE("vpn"),
  }),
  "drift_ifstated@primary": driftRow("ifstated", "5 paths", { file_changed: CRITICAL(/^\/etc\/ifstated\.conf content differs$/) }),
  // check_drift without --set: the admin's own [drift.syslog] set.
  "drift@primary": driftRow("syslog", "2 paths", { file_changed: CRITICAL(/^\/etc\/syslog\.conf content differs$/) }),
  // pgrep sees the primary's own processes (its own PID namespace): the lab's one watcher.
  "installed@primary": row(OK(/^4 paths in place, root-only \(\d+ entries\); carpentry\(ok\), 1 entr watcher$/), {
    garbled: UNKNOWN(/^cannot parse rcctl check output line 1$/),
    sync_partial: SYNC_PARTIAL,
    minimal: NO_SYNC,
    "minimal/sync_partial": SYNC_PARTIAL,
  }),
  "installed@secondary": row(OK(/^3 paths in place, root-only \(\d+ entries\)$/), { minimal: NO_SYNC, "minimal/sync_partial": NO_SYNC }),
  "pf@primary": row(PF_OK, { ...PF_FAULTS, ...peerViewMissingCells("secondary"), garbled: UNKNOWN(/^cannot parse primary's pfctl -si output line 5$/) }),
  "pf@secondary": row(PF_OK, { ...PF_FAULTS, ...peerViewMissingCells("primary"), garbled: UNKNOWN(/^pair view missing: cannot parse primary's pfctl -si output line 5$/) }),
  "carp_stats@primary": row(CARP_STATS_OK, { ...CARP_STATS_FAULTS, ...peerViewMissingCells("secondary"), garbled: UNKNOWN(/^cannot parse primary's netstat -s output line 2$/) }),
  "carp_stats@secondary": row(CARP_STATS_OK, {
    ...CARP_STATS_FAULTS,
    ...peerViewMissingCells("primary"),
    garbled: UNKNOWN(/^pair view missing: cannot parse primary's netstat -s output line 2$/),
  }),
  "ntp@primary": row(NTP_OK, { ...NTP_FAULTS, ...peerViewMissingCells("secondary"), garbled: UNKNOWN(/^cannot parse primary's ntpctl -s all output line 1$/) }),
  "ntp@secondary": row(NTP_OK, { ...NTP_FAULTS, ...peerViewMissingCells("primary"), garbled: UNKNOWN(/^pair view missing: cannot parse primary's ntpctl -s all output line 1$/) }),
  "versions@primary": row(OK(/^OpenBSD 7\.0, 6 syspatches, 4 packages alike on both$/), {
    versions_mismatch: WARNING(/^kernel differs: primary #5, secondary #3 \(\+2 more\)$/),
    ...peerViewMissingCells("secondary"),
    garbled: UNKNOWN(/^cannot parse primary's sysctl -n kern\.osrelease output line 1$/),
  }),
  "drift_sshkeys@primary": driftRow("sshkeys", "\\d+ paths", { ssh_host_key_differs: CRITICAL(/^\/etc\/ssh\/ssh_host_ed25519_key content differs \(\+1 more\)$/) }),
  // Local checks: each host judges its own state, so a dead peer changes nothing.
  "ifstated@primary": row(IFSTATED_OK("MASTER"), {
    ...IFSTATED_FAILOVER.primary,
    ifstated_wrong_variant: CRITICAL(/^\/etc\/mail\/smtpd\.conf is the carp-backup variant, carp203 is MASTER$/),
    garbled: UNKNOWN(/^cannot parse primary's ifconfig carp output line \d+$/),
  }),
  "ifstated@secondary": row(IFSTATED_OK("BACKUP"), { ...IFSTATED_FAILOVER.secondary, ifstated_down: CRITICAL(/^ifstated not running$/) }),
  "vpn@primary": row(VPN_OK("primary", "MASTER"), {
    ...VPN_FAILOVER.primary,
    vpn_client_down: CRITICAL(/^client acme down on primary \(MASTER of carp203\)$/),
    ...each(["minimal", "minimal/sync_partial"], NO_VPN),
    garbled: UNKNOWN(/^cannot parse primary's ifconfig carp output line \d+$/),
  }),
  "vpn@secondary": row(VPN_OK("secondary", "BACKUP"), {
    ...VPN_FAILOVER.secondary,
    vpn_up_on_both: CRITICAL(/^client acme up on secondary \(BACKUP of carp203\)$/),
    ...each(["minimal", "minimal/sync_partial"], NO_VPN),
  }),
};

// -- running the matrix -----------------------------------------------------------------------------

const REPO = fileURLToPath(new URL("../..", import.meta.url));
/** Every (check, host) the registry has: a check runs on each host of its roles. */
const CELLS = ALL_CHECKS.flatMap((check) => check.roles.map((host) => ({ key: `${check.name}@${host}`, host, executable: `/etc/carpentry.monit/check_${check.name}` })));
/** Checks run at once in one scenario: the machine has 2 cores, and part of a run is waiting for ssh.
 * Against a hanging peer the checks only wait (for ssh's ConnectTimeout or their deadline): all at once. */
const parallelChecks = (scenario: ScenarioName): number => (scenario === "peer_hanging" ? CELLS.length : 4);
/** What the snapshots cover. */
const SNAPSHOT_ROOTS = ["/etc", "/root", "/var", "/run"];
/** The hosts' /etc and /var are overlays on the machine's: a change the machine makes there (a
 * package install adding a user to /etc/group) shows in both hosts. A check inside a host writes to
 * the host's own layer and can never reach the machine's files, so a change the machine shows too,
 * identically, is not a check's. */
const MACHINE_ROOTS = ["/etc", "/var"];
/** What the checks may change there, and nothing else: their own state. */
const ALLOWED_CHANGES = [
  "/var/run/carpentry", // the ssh control sockets and their lock files (src/lib/transport/ssh.ts)
  "/run/carpentry", // the same: on the Debian base /var/run is a symlink to /run, recorded, never followed
  "/var/db/carpentry", // the counter readings of check_pfsync, check_pf and check_carp_stats (*-counters.json)
];

interface CellRun {
  readonly key: string;
  readonly host: HostName;
  readonly executable: string;
  readonly run: RunResult;
}

interface ScenarioOutcome {
  readonly runs: readonly CellRun[];
  readonly fileChanges: readonly string[];
  readonly strays: readonly string[];
  readonly commands: Readonly<Record<HostName, readonly CommandLogEntry[]>>;
}

const SECRET_VALUES = Object.values(SECRETS);
const STATUSES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];

function summaryOf(stdout: string): { status: string; summary: string; firstLineBeforePerfdata: string } {
  const firstLine = stdout.split("\n")[0] ?? "";
  const beforePerfdata = firstLine.split(" | ")[0] ?? "";
  const m = /^(OK|WARNING|CRITICAL|UNKNOWN): (.*)$/.exec(beforePerfdata);
  return { status: m?.[1] ?? "", summary: m?.[2] ?? beforePerfdata, firstLineBeforePerfdata: beforePerfdata };
}

/** What is wrong with one run: against its cell and against the output rules. */
function cellProblems(cell: Cell | undefined, { key, run }: CellRun): string[] {
  const { status, summary, firstLineBeforePerfdata } = summaryOf(run.stdout);
  const actual = `exit ${String(run.code)}: ${run.stdout.split("\n")[0] ?? ""}`;
  const problems: string[] = [];
  if (cell === undefined) problems.push(`${key}: no expected cell; got ${actual}`);
  else if (![cell, cell.or].some((c) => c !== undefined && run.code === c.code && c.summary.test(summary))) {
    problems.push(`${key}: expected exit ${cell.code} ${String(cell.summary)}, got ${actual}\n${run.stdout.split("\n").slice(1).join("\n")}`);
  }
  if (run.timedOut || run.signal !== null) problems.push(`${key}: killed after ${Math.round(run.durationMs)} ms (${run.signal ?? "timeout"})`);
  if (run.stderr !== "") problems.push(`${key}: wrote to stderr: ${JSON.stringify(run.stderr.slice(0, 200))}`);
  if (STATUSES.indexOf(status) !== run.code) problems.push(`${key}: first line says ${status || "no status"}, exit ${String(run.code)}`);
  if (firstLineBeforePerfdata.length > 80) problems.push(`${key}: first line ${firstLineBeforePerfdata.length} characters before perfdata`);
  if (Buffer.byteLength(run.stdout) > 500) problems.push(`${key}: ${Buffer.byteLength(run.stdout)} bytes of output`);
  for (const secret of SECRET_VALUES) if (run.stdout.includes(secret)) problems.push(`${key}: printed a secret (${secret})`);
  return problems;
}

type Snapshots = Record<HostName | "machine", Snapshot>;

function snapshotAll(pair: Pair): Snapshots {
  return {
    primary: snapshotTrees(SNAPSHOT_ROOTS, (path) => pair.hostPath("primary", path)),
    secondary: snapshotTrees(SNAPSHOT_ROOTS, (path) => pair.hostPath("secondary", path)),
    machine: snapshotTrees(MACHINE_ROOTS, (path) => path),
  };
}

/** What changed in either host while its checks ran, less what the machine itself changed meanwhile. */
function hostFileChanges(before: Snapshots, after: Snapshots): string[] {
  const byMachine = new Set(snapshotChanges(before.machine, after.machine, []));
  return HOST_NAMES.flatMap((host) =>
    snapshotChanges(before[host], after[host], ALLOWED_CHANGES)
      .filter((change) => !byMachine.has(change))
      .map((change) => `${host}: ${change}`),
  );
}

async function runScenario(lab: ScenarioLab, scenario: ScenarioName): Promise<ScenarioOutcome> {
  const { pair } = lab;
  await lab.enter(scenario);
  for (const host of HOST_NAMES) await pair.clearCommandLog(host);
  const before = snapshotAll(pair);
  const limit = pLimit(parallelChecks(scenario));
  const runs = await Promise.all(CELLS.map((cell) => limit(async (): Promise<CellRun> => ({ ...cell, run: await pair.run(cell.host, [cell.executable], { timeoutMs: 30_000 }) }))));
  // The shared ssh connection is the one process a check leaves on purpose (ControlPersist).
  await lab.closeSharedConnections();
  const strays = (await Promise.all(HOST_NAMES.map(async (host) => (await pair.strayProcesses(host, { settleMs: 3000 })).map((line) => `${host}: ${line}`)))).flat();
  const fileChanges = hostFileChanges(before, snapshotAll(pair));
  const commands = { primary: await pair.commandEntries("primary"), secondary: await pair.commandEntries("secondary") };
  return { runs, fileChanges, strays, commands };
}

function node22Binary(): string {
  return execFileSync("bash", [`${REPO}/scripts/node22.sh`], { encoding: "utf8", timeout: 300_000 }).trim();
}

const NODE_VERSIONS = [
  { label: `this machine's node (${process.version})`, binary: (): string => process.execPath, versionPattern: new RegExp(`^${process.version.replace(/\./g, "\\.")}$`) },
  { label: "node 22 (OpenBSD 7.8/7.9)", binary: node22Binary, versionPattern: /^v22\./ },
];

describe("the table", () => {
  it("has a cell in every scenario for every registered check on each host it runs on, and no other row", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(CELLS.map((cell) => cell.key).sort());
    for (const [key, cells] of Object.entries(EXPECTED)) expect(Object.keys(cells).sort(), key).toEqual([...SCENARIO_NAMES].sort());
  });
});

describe.each(NODE_VERSIONS.map((version) => [version.label, version] as const))("matrix on %s", (_label, { binary, versionPattern }) => {
  let pair: Pair;
  let lab: ScenarioLab;
  const outcomes = new Map<ScenarioName, ScenarioOutcome>();

  beforeAll(async () => {
    pair = await startPair({ nodeBinary: binary() });
    lab = new ScenarioLab(pair);
    await lab.setUp();
  }, 300_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it("runs the checks with that node inside the hosts", async () => {
    const version = await pair.run("primary", ["/usr/local/bin/node", "--version"]);
    expect(version.stdout.trim()).toMatch(versionPattern);
  });

  it.each(SCENARIO_NAMES.map((scenario) => [scenario, SCENARIO_DESCRIPTIONS[scenario]] as const))(
    "%s (%s): every check's exit code and summary",
    async (scenario) => {
      const outcome = await runScenario(lab, scenario);
      outcomes.set(scenario, outcome);
      const problems = outcome.runs.flatMap((cellRun) => cellProblems(EXPECTED[cellRun.key]?.[scenario], cellRun));
      expect(problems).toEqual([]);
    },
    180_000,
  );

  it("ran no state-changing command on either host", () => {
    expect(outcomes.size).toBe(SCENARIO_NAMES.length);
    const refused = [...outcomes].flatMap(([scenario, outcome]) =>
      HOST_NAMES.flatMap((host) => outcome.commands[host].filter((entry) => entry.kind === "refused").map((entry) => `${scenario}, ${host}: ${entry.line}`)),
    );
    expect(refused).toEqual([]);
  });

  it("changed no file on either host: /etc, /root, /var, /run before and after each scenario's checks", () => {
    expect(outcomes.size).toBe(SCENARIO_NAMES.length);
    expect([...outcomes].flatMap(([scenario, outcome]) => outcome.fileChanges.map((change) => `${scenario}: ${change}`))).toEqual([]);
  });

  it("sent no GNU-only tool or option to either host's shell or tools", () => {
    expect(outcomes.size).toBe(SCENARIO_NAMES.length);
    const logged = [...outcomes].flatMap(([, outcome]) => HOST_NAMES.flatMap((host) => outcome.commands[host]));
    // The scan must have had something to read: the checks' ssh command lines and stand-in calls.
    expect(logged.filter((entry) => entry.kind === "ssh").length).toBeGreaterThan(SCENARIO_NAMES.length);
    expect(logged.filter((entry) => entry.kind === "standin").length).toBeGreaterThan(SCENARIO_NAMES.length);
    expect(logged.flatMap((entry) => gnuOnlyInLogEntry(entry).map((finding) => `${finding} in: ${entry.line.slice(0, 200)}`))).toEqual([]);
  });

  it("left no process behind in either host once the shared ssh connections were closed", () => {
    expect(outcomes.size).toBe(SCENARIO_NAMES.length);
    expect([...outcomes].flatMap(([scenario, outcome]) => outcome.strays.map((stray) => `${scenario}: ${stray}`))).toEqual([]);
  });
});

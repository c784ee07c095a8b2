// carpentry demo's side of the simulated pair (gateways.ts): the tour (which faults of the catalogue
// it shows, the check that watches each and what that check must say), and how a state of the pair
// lands on the demo's hosts.
import { existsSync } from "node:fs";
import type { Status } from "../lib/runtime/result.js";
import type { DemoResolver } from "./dns.js";
import { ADDRESS, carpentryConfig, DIRECTORY_MODES, peerOf, type FaultName, type PairState, type PeerLink } from "./gateways.js";
import { HOST_NAMES, INSTALL_DIR, SSH_STANDIN_PATH, type HostName, type SimPair } from "./pair.js";

/** Directories that hold only what the demo plants (holder.sh covers those the machine has with an empty tmpfs). */
export const OWN_DIRS = [
  INSTALL_DIR,
  "/etc/carpentry",
  "/etc/carpentry.bin",
  "/etc/rc.d",
  "/etc/pf.tables",
  "/etc/mail",
  "/etc/ssh",
  "/etc/openvpn",
  "/etc/openv-client-acme",
  "/var/unbound",
  "/var/db",
];

export interface FaultRun {
  readonly host: HostName;
  readonly check: string;
  readonly expected: Status;
  /** Detail lines worth showing after the first line (default 2): a diff needs more. */
  readonly detailLines?: number;
}

export interface TourStop {
  readonly fault: FaultName;
  /** The host that starts a maintenance window (`carpentry maintenance start`) before the checks run. */
  readonly maintenanceOn?: HostName;
  readonly runs: readonly FaultRun[];
}

export const TOUR: readonly TourStop[] = [
  { fault: "failed_over", runs: [{ host: "primary", check: "carp", expected: "WARNING", detailLines: 1 }] },
  { fault: "split_brain", runs: [{ host: "primary", check: "carp", expected: "CRITICAL", detailLines: 1 }] },
  { fault: "primary_demoted", runs: [{ host: "primary", check: "carp", expected: "WARNING" }] },
  {
    fault: "primary_demoted",
    maintenanceOn: "primary",
    runs: [
      { host: "primary", check: "carp", expected: "OK", detailLines: 1 },
      { host: "secondary", check: "carp", expected: "OK", detailLines: 1 },
    ],
  },
  { fault: "preempt_zero", runs: [{ host: "primary", check: "sysctl", expected: "CRITICAL", detailLines: 1 }] },
  { fault: "pf_table_drift", runs: [{ host: "primary", check: "pf_tables", expected: "CRITICAL", detailLines: 3 }] },
  { fault: "file_changed", runs: [{ host: "primary", check: "drift_pf", expected: "CRITICAL", detailLines: 9 }] },
  { fault: "mail_piling", runs: [{ host: "secondary", check: "mailq", expected: "CRITICAL" }] },
  { fault: "pfsync_down", runs: [{ host: "primary", check: "pfsync", expected: "CRITICAL", detailLines: 1 }] },
  { fault: "dns_failing", runs: [{ host: "primary", check: "dns", expected: "CRITICAL" }] },
  { fault: "peer_sshd_down", runs: [{ host: "primary", check: "peer", expected: "CRITICAL" }] },
  { fault: "pf_disabled", runs: [{ host: "primary", check: "pf", expected: "CRITICAL", detailLines: 1 }] },
  { fault: "ifstated_wrong_variant", runs: [{ host: "primary", check: "ifstated", expected: "CRITICAL", detailLines: 1 }] },
];

/** The demo's link: the management addresses, the ssh stand-in (no sshd), the resolver on a port of its own. */
function peerLink(resolverPort: number): PeerLink {
  return {
    peerHost: { primary: ADDRESS.secondary, secondary: ADDRESS.primary },
    ssh: { path: SSH_STANDIN_PATH, why: "the demo has no sshd: this stands in for /usr/bin/ssh and enters the other simulated host" },
    dnsPort: resolverPort,
  };
}

/**
 * The state on both hosts, whatever they held before: files, configs, tool outputs, the peer link and
 * the resolver. An sshd that stops is a refused connection for its peer; the demo has none that hangs.
 */
export function plantPair(pair: SimPair, state: PairState, resolver: DemoResolver): void {
  for (const host of HOST_NAMES) {
    const planted = state.hosts[host];
    for (const dir of [...OWN_DIRS.filter((dir) => dir !== INSTALL_DIR), "/root"]) pair.emptyDir(host, dir);
    for (const [path, file] of planted.files) pair.writeFile(host, path, file.content, file.mode);
    for (const [dir, mode] of Object.entries(DIRECTORY_MODES)) if (existsSync(pair.hostPath(host, dir))) pair.chmod(host, dir, mode);
    pair.writeFile(host, `${INSTALL_DIR}/carpentry.toml`, carpentryConfig(host, peerLink(resolver.port)), 0o600);

    pair.clearOutputs(host);
    for (const { argv, stdout, stderr, exitCode } of planted.outputs.values()) pair.setOutput(host, argv, stdout, { stderr, exitCode });
    // No process runs in the demo's hosts but the checks: pgrep is a stand-in too.
    if (planted.entrWatchers) pair.setOutput(host, ["pgrep", "-lx", "entr"], "48213 entr\n48217 entr\n");

    if (planted.sshd === "hanging") throw new Error("the demo's peer link cannot hang");
    pair.setPeerReachable(peerOf(host), planted.sshd === "running");
  }
  resolver.setFailing(state.resolvers === "failing");
}

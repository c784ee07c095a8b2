/**
 * The scenarios of the simulated gateway pair on the harness's hosts (pair.ts): the healthy pair and
 * each fault of the catalogue that `carpentry demo` tours too (src/sim/gateways.ts). The e2e matrix
 * (test/e2e/matrix.test.ts) runs every check in every scenario; other tests may use them too.
 *
 *   const lab = new ScenarioLab(pair);
 *   await lab.setUp();                 // once: build installed, the healthy pair
 *   await lab.enter("split_brain");    // the healthy pair with that fault
 *
 * Every scenario is planted whole: enter() sets files, stand-in outputs, configs, daemons and closes
 * shared ssh connections, so scenarios do not depend on their order.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { carpentryConfig, DIRECTORY_MODES, FAULT_NAMES, FAULTS, pairState, PLANTED_ROOTS, type PairState, type PeerLink } from "../../src/sim/gateways.js";
import { HOST_NAMES, type Daemon, type HostName, type Pair } from "./pair.js";

export { SECRETS } from "../../src/sim/secrets.js";

export const SCENARIO_NAMES = ["healthy", ...FAULT_NAMES] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** What each scenario is, in the words of an admin of the pair. */
export const SCENARIO_DESCRIPTIONS: Readonly<Record<ScenarioName, string>> = {
  healthy: "primary MASTER, secondary BACKUP, everything synced, queues empty, resolvers answering",
  ...Object.fromEntries(FAULT_NAMES.map((name) => [name, FAULTS[name].description])),
} as Record<ScenarioName, string>;

/** The harness's link: real ssh between the hosts' names, unbound on port 53. */
const PEER_LINK: PeerLink = { peerHost: { primary: "secondary", secondary: "primary" } };

// -- the lab ----------------------------------------------------------------------------------------

/** A pair that can be put into any scenario, in any order. */
export class ScenarioLab {
  private readonly resolvers: Partial<Record<HostName, Daemon>> = {};
  private readonly watchers: Partial<Record<HostName, Daemon>> = {};
  /** The state planted last: its outputs that the next one lacks are cleared. */
  private planted?: PairState;

  constructor(readonly pair: Pair) {}

  /** Once per pair: the build in /etc/carpentry.monit on both hosts, then the healthy pair. */
  async setUp(): Promise<void> {
    await this.pair.installBuild();
    // OpenBSD has /var/db; the checks create their own directory inside it.
    for (const host of HOST_NAMES) mkdirSync(this.pair.hostPath(host, "/var/db"), { recursive: true, mode: 0o755 });
    await this.plant(pairState());
  }

  /** The scenario: the healthy pair, with its fault. */
  async enter(name: ScenarioName): Promise<void> {
    await this.plant(pairState(name === "healthy" ? undefined : name));
  }

  /**
   * The state on both hosts: files, configs, stand-in outputs, sshds, resolvers (unbound, run
   * on both hosts so that DNS survives a failover), entr watchers; no shared ssh connection, no pfsync counter reading kept.
   */
  async plant(state: PairState): Promise<void> {
    const { pair } = this;
    await this.closeSharedConnections();
    for (const host of HOST_NAMES) {
      const planted = state.hosts[host];
      const sshd = pair.sshdOf(host);
      if (planted.sshd === "running" && sshd.state !== "running") await sshd.start();
      if (planted.sshd === "stopped") await sshd.stop();
      if (planted.sshd === "hanging") await sshd.hang();

      for (const root of PLANTED_ROOTS) rmSync(pair.hostPath(host, root), { recursive: true, force: true });
      for (const [path, file] of planted.files) await pair.writeFile(host, path, file.content, { mode: file.mode });
      for (const [dir, mode] of Object.entries(DIRECTORY_MODES)) if (existsSync(pair.hostPath(host, dir))) chmodSync(pair.hostPath(host, dir), mode);
      await pair.writeConfig(host, carpentryConfig(host, PEER_LINK));
      // check_pfsync keeps the last counter reading: each scenario starts without one.
      rmSync(pair.hostPath(host, "/var/db/carpentry/pfsync-counters.json"), { force: true });

      for (const [key, { argv }] of this.planted?.hosts[host].outputs ?? []) if (!planted.outputs.has(key)) await pair.clearOutput(host, argv);
      for (const { argv, stdout, exitCode } of planted.outputs.values()) await pair.setOutput(host, argv, stdout, exitCode !== undefined ? { exitCode } : {});

      if (state.resolvers === "answering" && this.resolvers[host] === undefined) await this.startResolver(host);
      if (state.resolvers === "failing") await this.stopResolver(host);
      if (planted.entrWatchers && this.watchers[host] === undefined) await this.startWatcher(host);
      if (!planted.entrWatchers) await this.stopWatcher(host);
    }
    this.planted = state;
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

  private async startResolver(host: HostName): Promise<void> {
    this.resolvers[host] = await this.pair.startDaemon(host, "unbound", ["/usr/sbin/unbound", "-d", "-c", "/var/unbound/etc/unbound.conf"], { ready: /start of service/ });
  }

  private async stopResolver(host: HostName): Promise<void> {
    await this.resolvers[host]?.stop();
    delete this.resolvers[host];
  }

  /**
   * check_installed asks `pgrep -lx entr` for the watchers. Debian has no entr here, so a watcher is a
   * process of that name that waits: a copy of sleep(1) in the host's own /usr/sbin (an overlay:
   * nothing outside the host changes).
   */
  private async startWatcher(host: HostName): Promise<void> {
    await this.pair.writeFile(host, "/usr/sbin/entr", readFileSync("/usr/bin/sleep"), { mode: 0o755 });
    this.watchers[host] = await this.pair.startDaemon(host, "entr", ["/usr/sbin/entr", "infinity"]);
  }

  private async stopWatcher(host: HostName): Promise<void> {
    await this.watchers[host]?.stop();
    delete this.watchers[host];
  }
}

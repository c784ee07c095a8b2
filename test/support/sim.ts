// The lifecycle every e2e file shares: one simulated pair per file with the built files installed,
// reset before each test to a healthy pair with the two-line configs, both sshds up and empty logs.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { healthyDefaults, HOST_NAMES, startPair, type HostName, type Pair } from "../harness/pair.js";

export const PAIR_CONFIG: Readonly<Record<HostName, string>> = {
  primary: 'role = "primary"\n[peer]\nhost = "secondary"\n',
  secondary: 'role = "secondary"\n[peer]\nhost = "primary"\n',
};

/**
 * Registers the hooks; `use` receives the pair once it is up. `reset` runs after the common reset,
 * once per host, for what a file sets up on top of the healthy pair.
 */
export function useSimulatedPair(use: (pair: Pair) => void, reset?: (pair: Pair, host: HostName) => Promise<void>): void {
  let pair: Pair | undefined;
  beforeAll(async () => {
    pair = await startPair();
    await pair.installBuild();
    use(pair);
  });
  afterAll(async () => {
    await pair?.stop();
  });
  beforeEach(async () => {
    if (!pair) throw new Error("the simulated pair did not start");
    await healthyDefaults(pair);
    for (const host of HOST_NAMES) {
      await pair.writeConfig(host, PAIR_CONFIG[host]);
      if (pair.sshdOf(host).state !== "running") await pair.sshdOf(host).start();
      await reset?.(pair, host);
      await pair.clearCommandLog(host);
    }
  });
}

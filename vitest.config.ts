import { defineConfig } from "vitest/config";

// e2e tests start simulated gateways (namespaces, sshd, monit) and run the built executables: they
// get long timeouts, and run in forks so a test's cleanup handlers run in a real process.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // Fails the run if any test file left namespaces, mounts, processes or run directories behind.
    globalSetup: ["test/support/leftovers-teardown.ts"],
    reporters: ["default"],
  },
});

import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/** The demo's scripts and captures are modules whose default export is the file's text (esbuild's text
 * loader, build.mjs); tests that load src/sim get them the same way. */
const textModules = {
  name: "text-modules",
  enforce: "pre" as const,
  load(id: string): string | undefined {
    return /\.(sh|txt|example)$/.test(id) ? `export default ${JSON.stringify(readFileSync(id, "utf8"))};` : undefined;
  },
};

// e2e tests start simulated gateways (namespaces, sshd, monit) and run the built executables: they
// get long timeouts, and run in forks so a test's cleanup handlers run in a real process.
export default defineConfig({
  plugins: [textModules],
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

import { writeFileSync } from "node:fs";
import { it } from "vitest";
import { startPair } from "../harness/pair.js";
import { ScenarioLab } from "../harness/scenarios.js";
it("dump", async () => {
  const pair = await startPair();
  try {
    const lab = new ScenarioLab(pair);
    await lab.setUp();
    for (const shape of ["full", "minimal", "active-active"] as const) {
      await lab.enter("healthy", shape);
      for (const host of ["primary", "secondary"] as const) {
        const r = await pair.run(host, ["/etc/carpentry.monit/carpentry", "init", "--role", host, "--peer", pair.peerName[host], "--dry-run"], { timeoutMs: 40000 });
        writeFileSync(`/tmp/h3-${shape}-${host}.txt`, r.stdout + r.stderr + `\nrc=${r.code}\n`);
      }
    }
    await lab.closeSharedConnections();
  } finally {
    await pair.stop();
  }
}, 120000);

// Makes docs/report.png, the README's picture of the daily report: the HTML part of a report built
// from a made-up day (test/support/report-sample.ts), rendered by the headless Chromium the tests use
// (scripts/install-test-deps.sh installs it). Run it after changing the report's HTML:
//   node scripts/report-screenshot.mjs
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "report-screenshot-"));
try {
  const bundle = join(dir, "screenshot.cjs");
  await build({
    entryPoints: [join(repo, "test/support/report-screenshot.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile: bundle,
    logLevel: "warning",
  });
  const { writeReportScreenshot } = (await import(pathToFileURL(bundle).href)).default;
  writeReportScreenshot(join(repo, "docs/report.png"));
  console.log("wrote docs/report.png");
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The README's picture of the report (scripts/report-screenshot.mjs bundles and runs this).
import { screenshotHtml } from "./chromium.js";
import { sampleReport } from "./report-sample.js";

/** The sample report's HTML part, as Chromium shows it in a window the width of a mail client's. */
export function writeReportScreenshot(out: string): void {
  screenshotHtml(sampleReport().html, { width: 900, height: 1000 }, out);
}

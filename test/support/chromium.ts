// Renders HTML as a mail client would show it, in Debian's headless Chromium (scripts/install-test-deps.sh),
// to a PNG, so a test can look at what the reader sees: pixels, not markup. No network: the page is a
// file:// URL, every host name resolves to nothing, and the background services are off.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";

const CHROMIUM = "/usr/bin/chromium";

/** The page's screenshot at this window size (CSS pixels, one device pixel each). */
export function renderHtml(html: string, size: { readonly width: number; readonly height: number }): PNG {
  const dir = mkdtempSync(join(tmpdir(), "carpentry-render-"));
  try {
    const out = join(dir, "out.png");
    screenshotHtml(html, size, out);
    return PNG.sync.read(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the page's screenshot to `out` (a PNG). */
export function screenshotHtml(html: string, size: { readonly width: number; readonly height: number }, out: string): void {
  const dir = mkdtempSync(join(tmpdir(), "carpentry-render-"));
  try {
    const page = join(dir, "page.html");
    writeFileSync(page, html);
    const run = spawnSync(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--force-device-scale-factor=1",
        "--force-color-profile=srgb",
        "--hide-scrollbars",
        `--user-data-dir=${join(dir, "profile")}`,
        `--window-size=${size.width},${size.height}`,
        `--screenshot=${out}`,
        `file://${page}`,
      ],
      { encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL" },
    );
    if (run.status !== 0) throw new Error(`chromium exited ${String(run.status)}: ${run.stderr.slice(-500)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Bar {
  readonly left: number;
  readonly width: number;
  readonly top: number;
  readonly height: number;
}

/** "#1565c0" -> [21, 101, 192]. */
function rgbOf(colour: string): readonly [number, number, number] {
  const hex = colour.replace(/^#/, "");
  return [Number.parseInt(hex.slice(0, 2), 16), Number.parseInt(hex.slice(2, 4), 16), Number.parseInt(hex.slice(4, 6), 16)];
}

/**
 * The boxes of one colour (exactly: a solid fill keeps it, anti-aliased text hardly ever) in the image, left to right: runs of columns that hold it, each with the
 * rows it spans (within `rows`). Bars one pixel apart stay apart: a column without the colour ends a bar.
 */
export function barsOfColour(png: PNG, colour: string, rows: { readonly top: number; readonly bottom: number } = { top: 0, bottom: png.height - 1 }): Bar[] {
  const [r, g, b] = rgbOf(colour);
  const near = (x: number, y: number): boolean => {
    const at = (y * png.width + x) * 4;
    return png.data[at] === r && png.data[at + 1] === g && png.data[at + 2] === b;
  };
  const bars: Bar[] = [];
  let current: { left: number; top: number; bottom: number } | undefined;
  for (let x = 0; x < png.width; x++) {
    let top = -1;
    let bottom = -1;
    for (let y = rows.top; y <= rows.bottom; y++) {
      if (!near(x, y)) continue;
      if (top < 0) top = y;
      bottom = y;
    }
    if (top < 0) {
      if (current) bars.push({ left: current.left, width: x - current.left, top: current.top, height: current.bottom - current.top + 1 });
      current = undefined;
    } else if (current) {
      current.top = Math.min(current.top, top);
      current.bottom = Math.max(current.bottom, bottom);
    } else {
      current = { left: x, top, bottom };
    }
  }
  if (current) bars.push({ left: current.left, width: png.width - current.left, top: current.top, height: current.bottom - current.top + 1 });
  return bars;
}

/** The smallest box that holds every pixel of one colour (exactly), or undefined when there is none. */
export function boxOfColour(png: PNG, colour: string): Bar | undefined {
  const bars = barsOfColour(png, colour);
  const first = bars[0];
  const last = bars[bars.length - 1];
  if (!first || !last) return undefined;
  const top = Math.min(...bars.map((bar) => bar.top));
  const bottom = Math.max(...bars.map((bar) => bar.top + bar.height));
  return { left: first.left, width: last.left + last.width - first.left, top, height: bottom - top };
}

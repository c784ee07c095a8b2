// The report's HTML part as a reader sees it: rendered by headless Chromium (no network, no scripts)
// to a PNG, and the charts measured in pixels: the mail queue's bars as tall as its readings, pfsync's
// two hosts side by side each hour, each failure a bar where and as long as it lasted.
import { describe, expect, it } from "vitest";
import { BAR_WIDTH_PX, CHART_COLOURS, CHART_HEIGHT_PX, HTML_STATUS_COLOURS, TIMELINE_WIDTH_PX } from "../../src/cli/report.js";
import { barsOfColour, boxOfColour, renderHtml, type Bar } from "../support/chromium.js";
import { SAMPLE_MAIL_QUEUE, SAMPLE_STATES, sampleLookBack, sampleReport } from "../support/report-sample.js";

const SIZE = { width: 900, height: 1600 };
const expectedHeight = (value: number, max: number): number => Math.max(1, Math.round((value / max) * CHART_HEIGHT_PX));
const bottomOf = (bar: Bar): number => bar.top + bar.height;

describe("the report's HTML, rendered by Chromium", () => {
  const report = sampleReport();
  const png = renderHtml(report.html, SIZE);

  it("is self-contained: no script, no external resource", () => {
    expect(report.html).not.toMatch(/<script|<link|<img|https?:|url\(/i);
    expect([png.width, png.height]).toEqual([SIZE.width, SIZE.height]);
  });

  it("draws the mail queue's hourly peaks as bars of proportional height on one baseline, a zero as a grey hairline", () => {
    const bars = barsOfColour(png, CHART_COLOURS.mailQueue);
    const nonZero = SAMPLE_MAIL_QUEUE.filter((value) => value > 0);
    const max = Math.max(...nonZero);
    expect(bars.map((bar) => bar.height)).toEqual(nonZero.map((value) => expectedHeight(value, max)));
    expect(bars.every((bar) => bar.width === BAR_WIDTH_PX)).toBe(true);
    expect(new Set(bars.map(bottomOf)).size).toBe(1);
    const baseline = bottomOf(bars[0] as Bar);
    const hairlines = barsOfColour(png, CHART_COLOURS.zero, { top: baseline - CHART_HEIGHT_PX, bottom: baseline - 1 });
    expect(hairlines.length).toBe(SAMPLE_MAIL_QUEUE.filter((value) => value === 0).length);
    expect(hairlines.every((bar) => bar.height === 1 && bottomOf(bar) === baseline)).toBe(true);
  });

  it("draws pfsync's states each hour, the primary's bar before the secondary's", () => {
    const primary = barsOfColour(png, CHART_COLOURS.pfsyncPrimary);
    const secondary = barsOfColour(png, CHART_COLOURS.pfsyncSecondary);
    expect(primary.length).toBe(SAMPLE_STATES.length);
    expect(secondary.length).toBe(SAMPLE_STATES.length);
    const max = Math.max(...SAMPLE_STATES);
    expect(primary.map((bar) => bar.height)).toEqual(SAMPLE_STATES.map((value) => expectedHeight(value, max)));
    primary.forEach((bar, index) => expect((secondary[index] as Bar).left).toBe(bar.left + BAR_WIDTH_PX + 1));
  });

  it("draws each run of failures on the day's time line, where it started and as long as it lasted", () => {
    const back = sampleLookBack();
    const span = back.until.getTime() - back.since.getTime();
    // One column of tracks, one row per failure.
    const track = boxOfColour(png, CHART_COLOURS.track) as Bar;
    expect(track.width).toBe(TIMELINE_WIDTH_PX);
    const segments = back.episodes.map((episode) => {
      const inTrack = (bar: Bar): boolean => bar.left >= track.left && bar.left < track.left + TIMELINE_WIDTH_PX;
      const found = barsOfColour(png, HTML_STATUS_COLOURS[episode.worst], { top: track.top, bottom: bottomOf(track) - 1 }).filter(inTrack);
      return { episode, found };
    });
    expect(back.episodes.map((episode) => `${episode.check} ${episode.worst}`)).toEqual(["carp WARNING", "mailq CRITICAL", "dns WARNING"]);
    const red = segments[1]?.found ?? [];
    expect(red.length).toBe(1);
    const mailq = back.episodes[1];
    const left = Math.round((((mailq?.start.getTime() ?? 0) - back.since.getTime()) / span) * TIMELINE_WIDTH_PX);
    const width = Math.round((((mailq?.end?.getTime() ?? 0) - back.since.getTime()) / span) * TIMELINE_WIDTH_PX) - left;
    expect(Math.abs((red[0] as Bar).left - track.left - left)).toBeLessThanOrEqual(1);
    expect(Math.abs((red[0] as Bar).width - width)).toBeLessThanOrEqual(1);
    // The failure still going on reaches the right end of the line.
    const dns = segments[2]?.found.find((bar) => bar.left + bar.width === track.left + TIMELINE_WIDTH_PX);
    expect(dns).toBeDefined();
  });

  it("says the same facts in the text part, as lines", () => {
    const text = report.text;
    expect(text).toMatch(/^Since the last report \(2026-11-20 07:30:00 [+-]\d{4}\): \d+ readings$/m);
    expect(text).toContain("CARP: 2 transitions");
    expect(text).toMatch(/^ {2}2026-11-20 14:02:00 [+-]\d{4} {2}failover: the secondary took MASTER \(MASTER vhids: primary 1 -> 0, secondary 0 -> 1\)$/m);
    expect(text).toMatch(/^Mail queue: peak 120 at 2026-11-20 18:40:00 [+-]\d{4}, now 0$/m);
    expect(text).toContain("pfsync states: primary 800 to 4800 (now 900), secondary 792 to 4752 (now 891)");
    expect(text).toMatch(/check_mailq {2}CRITICAL {2}2026-11-20 17:40:00 [+-]\d{4} to 2026-11-20 20:40:00 [+-]\d{4} \(3 h 00 min\), recovered/);
    expect(text).toMatch(/check_dns {4}WARNING {3}since 2026-11-21 07:10:00 [+-]\d{4} \(20 min\), not OK now/);
    expect(text).toMatch(/^ {2}secondary {2}2026-11-20 21:00:00 [+-]\d{4} to 2026-11-20 22:15:00 [+-]\d{4} \(1 h 15 min\): upgrade to 7\.9$/m);
  });
});

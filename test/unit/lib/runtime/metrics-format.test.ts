import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeHelp, escapeLabelValue, formatValue, labelName, metricName, perfMetric, renderExposition } from "../../../../src/lib/runtime/metrics-format.js";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the text format reads it back: the inverse of escapeLabelValue. */
function unescapeLabelValue(text: string): string {
  return text.replace(/\\(["\\n])/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
}

describe("names", () => {
  it("folds anything into a valid metric name, keeping valid ones as they are", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(metricName(text)).toMatch(METRIC_NAME);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/), (name) => {
        expect(metricName(name)).toBe(name);
      }),
    );
    expect(metricName("carpentry_perfdata_state use.primary")).toBe("carpentry_perfdata_state_use_primary");
    expect(metricName("9lives")).toBe("_9lives");
  });

  it("folds anything into a valid label name, never one of Prometheus' reserved __ names", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const name = labelName(text);
        expect(name).toMatch(LABEL_NAME);
        expect(name.startsWith("__")).toBe(false);
      }),
    );
    expect(labelName("__name__")).toBe("name");
  });
});

describe("escaping", () => {
  it("escapes backslash, double quote and line feed in label values, and reads back to the same text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (value) => {
        const escaped = escapeLabelValue(value);
        expect(escaped).not.toMatch(/\n/);
        expect(escaped).not.toMatch(/(^|[^\\])(\\\\)*"/);
        expect(unescapeLabelValue(escaped)).toBe(value);
      }),
    );
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it("escapes backslash and line feed in HELP, one line whatever the text", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(escapeHelp(text)).not.toContain("\n");
      }),
    );
    expect(escapeHelp("a\\b\nc")).toBe("a\\\\b\\nc");
  });

  it("writes NaN and infinities as the format spells them", () => {
    expect([NaN, Infinity, -Infinity, 0.5, -3].map(formatValue)).toEqual(["NaN", "+Inf", "-Inf", "0.5", "-3"]);
  });
});

describe("renderExposition", () => {
  it("gives every family one HELP and one TYPE line before its samples, merging families of one name", () => {
    const text = renderExposition([
      { name: "x_seconds", help: "first", type: "gauge", samples: [{ labels: { check: "a" }, value: 1 }] },
      { name: "x_seconds", help: "second", type: "gauge", samples: [{ labels: { check: "b" }, value: 2 }] },
      { name: "y_total", help: "a counter", type: "counter", samples: [{ labels: {}, value: 3 }] },
      { name: "empty", help: "no samples", type: "gauge", samples: [] },
    ]);
    expect(text).toBe(
      ["# HELP x_seconds first", "# TYPE x_seconds gauge", 'x_seconds{check="a"} 1', 'x_seconds{check="b"} 2', "# HELP y_total a counter", "# TYPE y_total counter", "y_total 3", ""].join("\n"),
    );
  });

  it("never writes a series twice (Prometheus would refuse the whole scrape), nor a family under two types", () => {
    const text = renderExposition([
      {
        name: "x",
        help: "h",
        type: "gauge",
        samples: [
          { labels: { a: "1" }, value: 1 },
          { labels: { a: "1" }, value: 2 },
        ],
      },
      { name: "x", help: "h", type: "counter", samples: [{ labels: { a: "2" }, value: 3 }] },
    ]);
    expect(text).toBe(["# HELP x h", "# TYPE x gauge", 'x{a="1"} 1', ""].join("\n"));
  });

  it("writes nothing for no samples", () => {
    expect(renderExposition([])).toBe("");
  });

  it("keeps any label value and HELP text on its own line, for any input", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.double(), (name, help, value, number) => {
        const text = renderExposition([{ name, help, type: "gauge", samples: [{ labels: { check: value }, value: number }] }]);
        const lines = text.split("\n");
        expect(lines).toHaveLength(4);
        expect(lines[0]).toMatch(/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* /);
        expect(lines[1]).toMatch(/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* gauge$/);
        expect(lines[2]).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*\{check="(?:[^"\\\n]|\\["\\n])*"\} (NaN|[+-]Inf|-?[0-9.e+-]+)$/);
      }),
    );
  });
});

describe("perfMetric: perfdata units onto Prometheus base units", () => {
  it.each([
    [{ label: "ssh_time", value: 250, uom: "ms" as const }, "p_ssh_time_seconds", "gauge", 0.25],
    [{ label: "oldest_age", value: 90, uom: "s" as const }, "p_oldest_age_seconds", "gauge", 90],
    [{ label: "state_use_primary", value: 12.5, uom: "%" as const }, "p_state_use_primary_ratio", "gauge", 0.125],
    [{ label: "size", value: 2, uom: "KB" as const }, "p_size_bytes", "gauge", 2048],
    [{ label: "size", value: 3, uom: "MB" as const }, "p_size_bytes", "gauge", 3 * 1024 * 1024],
    [{ label: "heap", value: 7, uom: "B" as const }, "p_heap_bytes", "gauge", 7],
    [{ label: "badauth_primary", value: 4, uom: "c" as const }, "p_badauth_primary_total", "counter", 4],
    [{ label: "messages", value: 4 }, "p_messages", "gauge", 4],
    [{ label: "Tables-Differing", value: 1, uom: "" as const }, "p_tables_differing", "gauge", 1],
  ])("%o -> %s (%s) %d", (datum, name, type, value) => {
    expect(perfMetric("p", datum)).toMatchObject({ name, type, value });
  });

  it("does not repeat a unit the label already ends in", () => {
    expect(perfMetric("p", { label: "wait_seconds", value: 1, uom: "s" })?.name).toBe("p_wait_seconds");
  });

  it("keeps _total for counters", () => {
    expect(perfMetric("p", { label: "errors_total", value: 1 })?.name).toBe("p_errors");
    expect(perfMetric("p", { label: "errors_total", value: 1, uom: "c" })?.name).toBe("p_errors_total");
  });

  it("leaves out a value the check could not read", () => {
    expect(perfMetric("p", { label: "stratum", value: "U" })).toBeUndefined();
    expect(perfMetric("p", { label: "x", value: NaN })).toBeUndefined();
  });

  it("gives a valid name for any label and unit", () => {
    const units = fc.constantFrom(undefined, "", "s", "ms", "%", "B", "KB", "MB", "c");
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom("x_total", "_total", "total", "a_seconds")), units, fc.double({ noNaN: true, noDefaultInfinity: true }), (label, uom, value) => {
        const metric = perfMetric("carpentry_perfdata", { label, value, ...(uom === undefined ? {} : { uom: uom }) });
        expect(metric?.name).toMatch(METRIC_NAME);
        expect(metric?.name.endsWith("_total")).toBe(metric?.type === "counter");
      }),
    );
  });
});

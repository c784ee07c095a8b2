// The Prometheus text exposition format (version 0.0.4, what node_exporter's textfile collector reads):
// metric and label names, label value and HELP escaping, one HELP and one TYPE line a family, and the
// mapping of Nagios perfdata units onto Prometheus base units (seconds, bytes, ratios; counters end in
// _total). Pure: no I/O, so it can be tested on its own.
import type { PerfDatum } from "./result.js";

export type MetricType = "gauge" | "counter";

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

/** A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, anything else folded into one '_'. */
export function metricName(text: string): string {
  const folded = text
    .replace(/[^A-Za-z0-9_:]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (folded === "") return "_";
  return /^[0-9]/.test(folded) ? `_${folded}` : folded;
}

/** A label name: [a-zA-Z_][a-zA-Z0-9_]*, never starting with __ (reserved for Prometheus itself). */
export function labelName(text: string): string {
  const name = metricName(text.replace(/:/g, "_"));
  return name.startsWith("__") ? name.replace(/^_+/, "_") : name;
}

/** A label value inside double quotes: backslash, double quote and line feed escaped, as the format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A HELP text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([name, value]) => `${labelName(name)}="${escapeLabelValue(value)}"`).join(",")}}`;
}

/**
 * The exposition text. Families of the same name are merged (a name is given one HELP and one TYPE,
 * the first family's); a sample whose labels repeat one already written is dropped, since Prometheus
 * rejects the whole scrape over a duplicate series. Families without samples are left out.
 */
export function renderExposition(families: readonly Family[]): string {
  const merged = new Map<string, { help: string; type: MetricType; samples: Sample[] }>();
  for (const family of families) {
    const name = metricName(family.name);
    const entry = merged.get(name) ?? { help: family.help, type: family.type, samples: [] };
    if (entry.type !== family.type) continue;
    entry.samples.push(...family.samples);
    merged.set(name, entry);
  }
  const out: string[] = [];
  for (const [name, family] of merged) {
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const sample of family.samples) {
      const labels = formatLabels(sample.labels);
      if (seen.has(labels)) continue;
      seen.add(labels);
      lines.push(`${name}${labels} ${formatValue(sample.value)}`);
    }
    if (lines.length === 0) continue;
    out.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`, ...lines);
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/** A perfdata unit as Prometheus names it: the base unit's suffix and the factor to it. */
interface UnitMapping {
  readonly suffix: string;
  readonly factor: number;
  readonly type: MetricType;
}

const UNITS: Readonly<Record<NonNullable<PerfDatum["uom"]>, UnitMapping>> = {
  "": { suffix: "", factor: 1, type: "gauge" },
  s: { suffix: "seconds", factor: 1, type: "gauge" },
  ms: { suffix: "seconds", factor: 0.001, type: "gauge" },
  "%": { suffix: "ratio", factor: 0.01, type: "gauge" },
  B: { suffix: "bytes", factor: 1, type: "gauge" },
  KB: { suffix: "bytes", factor: 1024, type: "gauge" },
  MB: { suffix: "bytes", factor: 1024 * 1024, type: "gauge" },
  // Nagios "c" is a continuous counter (it only grows until a reboot): a Prometheus counter, so rate() applies.
  c: { suffix: "total", factor: 1, type: "counter" },
};

/** The metric a perfdata value becomes: its name under `prefix`, its type and its value in the base unit; undefined for "U" (no value). */
export function perfMetric(prefix: string, datum: PerfDatum): { name: string; type: MetricType; value: number; unit: string } | undefined {
  if (datum.value === "U" || !Number.isFinite(datum.value)) return undefined;
  const unit = UNITS[datum.uom ?? ""];
  // "_total" is for counters alone: a gauge whose label ends in it loses it.
  const named = metricName(`${prefix}_${datum.label.toLowerCase()}`);
  const base = unit.type === "gauge" ? named.replace(/(?<=.)_total$/, "") : named;
  const name = unit.suffix === "" || base.endsWith(`_${unit.suffix}`) ? base : `${base}_${unit.suffix}`;
  // Rounded to what the factor can make of a perfdata number, so 0.1% is 0.001, not 0.0010000000000000002.
  const value = unit.factor === 1 ? datum.value : Number((datum.value * unit.factor).toPrecision(12));
  return { name, type: unit.type, value, unit: unit.suffix === "" ? "" : unit.suffix === "total" ? "counter" : unit.suffix };
}

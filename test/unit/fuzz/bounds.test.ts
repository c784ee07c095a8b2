// Property-based tests (fast-check, fixed seed) of what faces hostile or careless input: the config
// loader, the facts request decoder, and the output formatter.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../../src/checks/index.js";
import { answerFacts, parseAskerLine } from "../../../src/lib/facts/protocol.js";
import { decodeStateKeys } from "../../../src/lib/facts/pf-states.js";
import "../../../src/lib/facts/ops.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { ConfigError } from "../../../src/lib/runtime/errors.js";
import { firstLine, formatText, result, SUMMARY_MAX_CHARS, toJson, type PerfDatum, type Status } from "../../../src/lib/runtime/result.js";

const SEED = 20261205;

describe("the config loader on any text", () => {
  const VALID = [
    'role = "primary"',
    "[peer]",
    'host = "192.168.110.102"',
    "port = 22",
    'ssh_options = ["ServerAliveInterval=5"]',
    "[checks.mailq]",
    "warning = 50",
    'critical = "500"',
    "[host_specific]",
    'values = [{ primary = "10.0.0.1", secondary = "10.0.0.2" }]',
    "[mail]",
    'to = ["root"]',
    "[drift.custom]",
    'paths = ["/etc/custom/"]',
    "",
  ].join("\n");

  /** A config is either read whole, or refused with a ConfigError that names a key or a line. */
  function loadsOrNames(text: string): void {
    try {
      parseConfig(text, "/etc/carpentry.monit/carpentry.toml", { all: ALL_CHECKS });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const { key, line } = error as ConfigError;
      expect(key !== undefined || line !== undefined).toBe(true);
    }
  }

  it("a real config cut anywhere", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: VALID.length }), (at) => loadsOrNames(VALID.slice(0, at))),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("a real config with a line replaced by anything", () => {
    const lines = VALID.split("\n");
    const junk = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("[", "[[x]]", "a.b.c = 1", 'x = """', "role = 1", "warning = inf", "port = 1e400", "[peer.x]", "= 1", "to = -x"));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: lines.length - 1 }), junk, (at, line) => loadsOrNames([...lines.slice(0, at), line, ...lines.slice(at + 1)].join("\n"))),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("any text at all", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => loadsOrNames(text)),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe("the facts request decoder on any bytes", () => {
  it("answers any line of up to 2 KB, quickly, never throwing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: "binary", maxLength: 2048 }), fc.json({ maxDepth: 4 })), async (line) => {
        const started = performance.now();
        const parsed = parseAskerLine(line);
        const answer = await answerFacts("value" in parsed ? parsed.value : undefined);
        expect(typeof answer.ok).toBe("boolean");
        expect(performance.now() - started).toBeLessThan(1000);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("decodes any state keys in time linear in their length, or refuses them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: -1, max: 5000 }), (bytes, count) => {
        const started = performance.now();
        try {
          const keys = decodeStateKeys({ count, byCreator: { "0a0b0c0d": Buffer.from(bytes).toString("base64") } });
          expect(keys.get("0a0b0c0d")?.size ?? 0).toBe(count);
        } catch (error) {
          expect((error as Error).message).toMatch(/^pfStateMatch: bad state keys: /);
        }
        expect(performance.now() - started).toBeLessThan(200);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe("the output formatter on any result", () => {
  // Anything a file or a command could put into a summary or a detail, controls and bidi included.
  const text = fc.string({
    unit: fc.oneof(fc.constantFrom("\n", "\r", "\t", "\u001b", "\u0000", "\u009b", "\u202e", "\u2066", "\u200f", "\u061c", "\u2028"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })),
    maxLength: 200,
  });
  const status = fc.constantFrom<Status>("OK", "WARNING", "CRITICAL", "UNKNOWN");
  const range = fc.oneof(fc.string({ maxLength: 3000 }), fc.constantFrom("10", "@10:20", "~:5", "1".repeat(2000)));
  const perfdatum: fc.Arbitrary<PerfDatum> = fc.record({
    label: fc.string({ maxLength: 60 }),
    value: fc.oneof(fc.double(), fc.constant<"U">("U")),
    warn: fc.option(range, { nil: undefined }),
    crit: fc.option(range, { nil: undefined }),
  });
  const anyResult = fc.tuple(status, text, fc.array(text, { maxLength: 30 }), fc.array(perfdatum, { maxLength: 12 })).map(([s, summary, details, perfdata]) => result(s, summary, details, perfdata));
  // eslint-disable-next-line no-control-regex
  const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  it("keeps the summary within 80 characters and the whole output within 500 bytes, with no raw control character", () => {
    fc.assert(
      fc.property(anyResult, (res) => {
        const out = formatText(res, false);
        expect(Buffer.byteLength(out)).toBeLessThanOrEqual(500);
        const head = firstLine(res);
        const beforePerf = head.split(" | ")[0] ?? "";
        expect(beforePerf.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
        expect(out).not.toMatch(RAW_CONTROL);
        expect(formatText(res, true)).not.toMatch(RAW_CONTROL);
        // One printed line per detail: a newline inside a value never starts a line of its own.
        expect(out.split("\n").length - 1).toBeLessThanOrEqual(res.details.length + 2);
        const json = toJson(res, { check: "x", host: "h", durationMs: 1 });
        expect([json.summary, ...json.details].join("")).not.toMatch(RAW_CONTROL);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});

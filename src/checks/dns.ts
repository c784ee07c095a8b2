import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, port, positiveSeconds } from "../lib/runtime/config.js";
import type { ProcessScope } from "../lib/transport/process.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { result, type Result } from "../lib/runtime/result.js";

/** [checks.dns] */
export const settingsSchema = v.strictObject({
  server: v.optional(v.pipe(v.string(), v.ip("an IP address")), "127.0.0.1"),
  port: v.optional(port, 53),
  names: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, "a DNS name"))), []),
  type: v.optional(v.picklist(["A", "AAAA", "MX", "TXT", "NS", "SOA", "PTR", "CNAME"]), "A"),
  query_timeout: v.optional(positiveSeconds, 3),
});
export type DnsSettings = v.InferOutput<typeof settingsSchema>;

/** What one query came to: the answers, or why there were none. */
export type DnsOutcome =
  | { readonly name: string; readonly ok: true; readonly answers: readonly string[]; readonly elapsedMs: number }
  | { readonly name: string; readonly ok: false; readonly code: string; readonly elapsedMs: number };

/** Our own code for a query that got no answer within query_timeout (c-ares's own timer is coarse). */
export const NO_ANSWER = "NO_ANSWER";

// node:dns (c-ares) error codes, in the words of the DNS: the rcode where there is one.
const ERROR_WORDS: Readonly<Record<string, string>> = {
  ENOTFOUND: "NXDOMAIN",
  ESERVFAIL: "SERVFAIL",
  EREFUSED: "REFUSED",
  EFORMERR: "FORMERR",
  ENOTIMP: "NOTIMP",
  ETIMEOUT: "timed out",
  ECONNREFUSED: "connection refused",
  EBADRESP: "bad response",
};

function describeDnsError(code: string, settings: DnsSettings): string {
  if (code === NO_ANSWER) return `no answer within ${settings.query_timeout}s`;
  if (code === "ENODATA") return `no ${settings.type} record`;
  return ERROR_WORDS[code] ?? code;
}

/** `127.0.0.1:53`, `[::1]:53`: the form Resolver.setServers takes and a user reads. */
export function serverAddress(server: string, port: number): string {
  return isIP(server) === 6 ? `[${server}]:${port}` : `${server}:${port}`;
}

/** Answers of any type as one line each: addresses, `10 mx.example.org`, TXT strings joined. */
export function answerTexts(records: unknown): string[] {
  if (!Array.isArray(records)) return [recordText(records)];
  return records.map(recordText);
}

function recordText(record: unknown): string {
  if (typeof record === "string") return record;
  if (Array.isArray(record)) return record.map(String).join("");
  if (typeof record === "object" && record !== null) {
    const r = record as Record<string, unknown>;
    if (typeof r["exchange"] === "string") return `${String(r["priority"])} ${r["exchange"]}`;
    if (typeof r["nsname"] === "string") return `${r["nsname"]} ${String(r["hostmaster"])} ${String(r["serial"])}`;
  }
  return JSON.stringify(record);
}

function countOfNames(count: number): string {
  return `${count} name${count === 1 ? "" : "s"}`;
}

export function decideDns(settings: DnsSettings, outcomes: readonly DnsOutcome[]): Result {
  const via = serverAddress(settings.server, settings.port);
  if (settings.names.length === 0) {
    return result("UNKNOWN", "no names configured in [checks.dns] names", [`add the names the resolver ${via} must answer, e.g. names = ["www.openbsd.org"]`]);
  }
  const failed = outcomes.filter((o): o is Extract<DnsOutcome, { ok: false }> => !o.ok);
  const resolved = outcomes.filter((o): o is Extract<DnsOutcome, { ok: true }> => o.ok);
  const slowestMs = Math.max(0, ...outcomes.map((o) => Math.round(o.elapsedMs)));
  const lines = outcomes.map((o) =>
    o.ok ? `${o.name} ${settings.type}: ${o.answers.join(", ")} (${Math.round(o.elapsedMs)} ms)` : `${o.name} ${settings.type}: ${describeDnsError(o.code, settings)} (${Math.round(o.elapsedMs)} ms)`,
  );
  const perfdata = [
    { label: "resolved", value: resolved.length, min: 0, max: outcomes.length },
    { label: "slowest", value: slowestMs, uom: "ms" as const, min: 0 },
  ];
  const codes = new Set(failed.map((o) => o.code));
  const [onlyCode] = codes;
  // The resolver itself down looks the same for every name: say it once.
  if (failed.length > 1 && failed.length === outcomes.length && codes.size === 1 && onlyCode !== undefined) {
    return result("CRITICAL", `all ${countOfNames(failed.length)} fail via ${via}: ${describeDnsError(onlyCode, settings)}`, lines, perfdata);
  }
  const findings: Finding[] = failed.map((o) => ({
    status: "CRITICAL",
    summary: `${o.name}: ${describeDnsError(o.code, settings)} via ${via}`,
    detail: `${o.name} ${settings.type} via ${via}: ${describeDnsError(o.code, settings)} (${Math.round(o.elapsedMs)} ms)`,
  }));
  const okLines = lines.filter((_, index) => outcomes[index]?.ok === true);
  return resultFromFindings(findings, `${countOfNames(resolved.length)} resolve via ${via} within ${slowestMs} ms`, okLines, perfdata);
}

/**
 * One query with a resolver of its own (so cancelling it cancels nothing else), one try, and our own
 * timer: c-ares rounds its timeout up, and query_timeout is a promise to the admin.
 */
export async function queryName(name: string, settings: DnsSettings, scope: ProcessScope): Promise<DnsOutcome> {
  const timeoutMs = Math.round(settings.query_timeout * 1000);
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([serverAddress(settings.server, settings.port)]);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof NO_ANSWER>((resolve) => {
    timer = setTimeout(() => resolve(NO_ANSWER), timeoutMs);
  });
  const description = `DNS ${settings.type} ${name} from ${serverAddress(settings.server, settings.port)}`;
  try {
    const answer = await scope.waitFor(description, Promise.race([resolver.resolve(name, settings.type), expired]));
    const elapsedMs = performance.now() - started;
    if (answer === NO_ANSWER) {
      resolver.cancel();
      return { name, ok: false, code: NO_ANSWER, elapsedMs };
    }
    return { name, ok: true, answers: answerTexts(answer), elapsedMs };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "EUNKNOWN";
    return { name, ok: false, code, elapsedMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

export const check: CheckDefinition = {
  name: "dns",
  title: "the configured names resolve through the configured resolver in time",
  roles: ["primary", "secondary"],
  usesPeer: false,
  reads: [
    "this host only: one DNS query per name in [checks.dns] names, all at once, to [checks.dns] server (default 127.0.0.1, the local unbound) and port (53), over UDP",
    "[checks.dns] type: the record type asked (default A); query_timeout: seconds each query may take (default 3; keep it below -t)",
  ],
  states: {
    OK: "every configured name resolves, with at least one record of the type asked, within query_timeout",
    WARNING: "never",
    CRITICAL:
      "a name does not resolve: NXDOMAIN, SERVFAIL, REFUSED, no record of the type asked, no answer within query_timeout, or nothing listening on the server's port; " +
      "each failing name is named with its error (when every name fails the same way, the resolver is named instead)",
    UNKNOWN: "no names configured ([checks.dns] names is empty: a check that cannot look never says OK), bad config, or the check's deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const outcomes = await Promise.all(settings.names.map((name) => queryName(name, settings, ctx.scope)));
    return decideDns(settings, outcomes);
  },
};

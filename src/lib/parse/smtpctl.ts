// `smtpctl show queue` (and `mailq`, the same program): one `|`-separated line per envelope, from
// show_queue_envelope() in OpenSMTPD's smtpctl.c. The runstate field contains its own `|` and the
// last field (the error text) may contain more, so a line is cut into at most 14 pieces.

import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export type EnvelopeSource = "local" | "inet4" | "inet6" | "?";
export type EnvelopeAgent = "mda" | "mta" | "bounce" | "?";
export type EnvelopeFlag = "bounce" | "auth" | "internal" | "suspend" | "hold";
/** `offline`: smtpd was not running and smtpctl read the queue from disk. */
export type EnvelopeRunstate = "pending" | "inflight" | "invalid" | "offline";

export interface QueuedEnvelope {
  /** 16 hex digits. */
  id: string;
  src: EnvelopeSource;
  agent: EnvelopeAgent;
  flags: EnvelopeFlag[];
  /** `user@domain`; `@` for the empty sender of bounces. */
  sender: string;
  /** Original recipient. */
  recipient: string;
  destination: string;
  createdEpoch: number;
  /** Creation + ttl. */
  expiresEpoch: number;
  /** null when never tried (smtpctl prints 0). */
  lastTryEpoch: number | null;
  retry: number;
  runstate: EnvelopeRunstate;
  /**
   * pending: seconds until the next try (negative when overdue); inflight: seconds since the try
   * started; null for invalid/offline, which print nothing.
   */
  runstateSeconds: number | null;
  /** Last error line, still strnvis()-encoded as smtpctl prints it; may be empty. */
  error: string;
  /** now - createdEpoch. */
  ageSeconds: number;
}

export interface QueueSummary {
  count: number;
  oldestAgeSeconds: number | null;
}

const SOURCES: readonly EnvelopeSource[] = ["local", "inet4", "inet6", "?"];
const AGENTS: readonly EnvelopeAgent[] = ["mda", "mta", "bounce", "?"];
const FLAGS: readonly EnvelopeFlag[] = ["bounce", "auth", "internal", "suspend", "hold"];
const RUNSTATES: readonly EnvelopeRunstate[] = ["pending", "inflight", "invalid", "offline"];

/** Splits at the first `limit - 1` separators; the last piece keeps any further `|`. */
function splitLimited(line: string, limit: number): string[] {
  const pieces: string[] = [];
  let rest = line;
  while (pieces.length < limit - 1) {
    const at = rest.indexOf("|");
    if (at < 0) break;
    pieces.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  pieces.push(rest);
  return pieces;
}

function pick<T extends string>(allowed: readonly T[], value: string): T | undefined {
  return allowed.find((a) => a === value);
}

/** Parses the whole output; an empty queue prints nothing and gives []. */
export function parseMailQueue(text: string, nowEpochSeconds: number): QueuedEnvelope[] {
  refuseForeign(text, "smtpctl show queue output");
  const what = "smtpctl show queue output";
  const lines = text.split("\n");
  // Output always ends with a newline; without one the last envelope line was cut, possibly
  // inside the error text where nothing else would show it.
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  const envelopes: QueuedEnvelope[] = [];
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const raw = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (raw === "") return;
    const fail = (reason: string): never => {
      throw new ParseError(what, reason, lineNumber, raw);
    };
    const p = splitLimited(raw, 14);
    if (p.length !== 14) fail(`${p.length} fields, expected 14; line truncated?`);
    const [
      id = "",
      srcText = "",
      agentText = "",
      flagsText = "",
      sender = "",
      recipient = "",
      destination = "",
      created = "",
      expires = "",
      lastTry = "",
      retry = "",
      runstateText = "",
      runstateValue = "",
      error = "",
    ] = p;
    if (!/^[0-9a-f]{16}$/.test(id)) fail("envelope id is not 16 hex digits");
    const src = pick(SOURCES, srcText) ?? fail(`unknown source ${JSON.stringify(srcText)}`);
    const agent = pick(AGENTS, agentText) ?? fail(`unknown agent ${JSON.stringify(agentText)}`);
    const flags = flagsText === "" ? [] : flagsText.split(",").map((f) => pick(FLAGS, f) ?? fail(`unknown flag ${JSON.stringify(f)}`));
    for (const [field, value] of [
      ["sender", sender],
      ["recipient", recipient],
      ["destination", destination],
    ] as const) {
      if (!value.includes("@") || /\s/.test(value)) fail(`${field} is not user@domain`);
    }
    const epoch = (field: string, value: string): number => (/^[0-9]+$/.test(value) ? Number(value) : fail(`${field} is not a number`));
    const createdEpoch = epoch("creation time", created);
    const expiresEpoch = epoch("expiry time", expires);
    const lastTryEpoch = epoch("last try", lastTry);
    const retryCount = epoch("retry count", retry);
    const runstate = pick(RUNSTATES, runstateText) ?? fail(`unknown runstate ${JSON.stringify(runstateText)}`);
    let runstateSeconds: number | null = null;
    if (runstate === "pending" || runstate === "inflight") {
      if (!/^-?[0-9]+$/.test(runstateValue)) fail(`${runstate} without a number of seconds`);
      runstateSeconds = Number(runstateValue);
    } else if (runstateValue !== "") {
      fail(`${runstate} followed by ${JSON.stringify(runstateValue)}`);
    }
    envelopes.push({
      id,
      src,
      agent,
      flags,
      sender,
      recipient,
      destination,
      createdEpoch,
      expiresEpoch,
      lastTryEpoch: lastTryEpoch === 0 ? null : lastTryEpoch,
      retry: retryCount,
      runstate,
      runstateSeconds,
      error,
      ageSeconds: nowEpochSeconds - createdEpoch,
    });
  });
  return envelopes;
}

/** Count and age of the oldest envelope (null for an empty queue); clock skew never gives < 0. */
export function summarizeQueue(envelopes: readonly QueuedEnvelope[], nowEpochSeconds: number): QueueSummary {
  let oldest: number | null = null;
  for (const e of envelopes) {
    const age = Math.max(0, nowEpochSeconds - e.createdEpoch);
    if (oldest === null || age > oldest) oldest = age;
  }
  return { count: envelopes.length, oldestAgeSeconds: oldest };
}

/** `smtpctl show status` (do_show_status() in smtpctl.c): whether each part of smtpd is paused. */
export interface SmtpdStatus {
  mda: "running" | "paused";
  mta: "running" | "paused";
  smtp: "running" | "paused";
}

export function parseSmtpdStatus(text: string): SmtpdStatus {
  refuseForeign(text, "smtpctl show status output");
  const what = "smtpctl show status output";
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  const seen: Partial<SmtpdStatus> = {};
  lines.forEach((raw, index) => {
    const m = /^(MDA|MTA|SMTP) (running|paused)$/.exec(raw);
    if (!m) throw new ParseError(what, "expected `MDA|MTA|SMTP running|paused`", index + 1, raw);
    const part = (m[1] ?? "").toLowerCase() as keyof SmtpdStatus;
    if (seen[part] !== undefined) throw new ParseError(what, `${m[1]} printed twice`, index + 1, raw);
    seen[part] = m[2] === "paused" ? "paused" : "running";
  });
  const { mda, mta, smtp } = seen;
  if (mda === undefined || mta === undefined || smtp === undefined) throw new ParseError(what, "expected the three lines MDA, MTA and SMTP");
  return { mda, mta, smtp };
}

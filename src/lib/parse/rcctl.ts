// rcctl(8). `rcctl check NAME` prints `NAME(ok)` or `NAME(failed)` (rc.subr: `echo -n NAME`, then
// _rc_exit adds the result).

import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export interface RcctlCheckResult {
  service: string;
  ok: boolean;
}

// Output always ends with a newline; `smtpd(o` without one was cut, not a new format.
function nonEmptyLines(text: string, what: string): { lineNumber: number; raw: string }[] {
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  return lines.map((l, i) => ({ lineNumber: i + 1, raw: l.endsWith("\r") ? l.slice(0, -1) : l })).filter((l) => l.raw.trim() !== "");
}

export function parseRcctlCheck(text: string): RcctlCheckResult {
  refuseForeign(text, "rcctl check output");
  const what = "rcctl check output";
  const lines = nonEmptyLines(text, what);
  const line = lines[0];
  if (line === undefined) throw new ParseError(what, "no output");
  const extra = lines[1];
  if (extra !== undefined) throw new ParseError(what, "more than one line", extra.lineNumber, extra.raw);
  const m = /^([A-Za-z0-9_]+)\((ok|failed)\)$/.exec(line.raw);
  if (!m) throw new ParseError(what, "expected `NAME(ok)` or `NAME(failed)`", line.lineNumber, line.raw);
  return { service: m[1] ?? "", ok: m[2] === "ok" };
}

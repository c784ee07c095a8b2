// pgrep(1) with -l: one `PID NAME` line per matching process (OpenBSD's pkill.c prints the pid, then
// a space and the process name); exit 0 when something matched, 1 when nothing did.

import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export interface ProcessMatch {
  pid: number;
  name: string;
}

export function parsePgrepLong(text: string): ProcessMatch[] {
  refuseForeign(text, "pgrep output");
  const what = "pgrep -l output";
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", lines.length + 1, last);
  return lines.map((raw, index) => {
    const m = /^([0-9]+) (\S+)$/.exec(raw);
    if (!m) throw new ParseError(what, "expected `PID NAME`", index + 1, raw);
    return { pid: Number(m[1]), name: m[2] ?? "" };
  });
}

// sysctl(8) output and /etc/sysctl.conf. OpenBSD prints `name=value`; FreeBSD prints `name: value`,
// which here is an error so a check never compares values read from the wrong kind of host.

import { ParseError } from "../runtime/errors.js";
import { refuseForeign } from "./text.js";

export interface SysctlConfEntry {
  name: string;
  value: string;
  /** 1-based line in sysctl.conf. */
  line: number;
  /**
   * Line of a later assignment of the same name, which wins at boot (/etc/rc applies the lines in
   * order); null when this entry is the effective one.
   */
  overriddenByLine: number | null;
}

// MIB names are dot-separated words; `kern.watchdog.period`, `net.inet6.ip6.forwarding`. No word
// starts with '-': a name goes on to sysctl's argv, where it would be read as an option.
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$/;

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** `sysctl name …` output: one `name=value` per line. Values are kept verbatim (may be empty). */
export function parseSysctlOutput(text: string): Map<string, string> {
  refuseForeign(text, "sysctl output");
  const what = "sysctl output";
  const values = new Map<string, string>();
  // Command output always ends with a newline; without one the last value may have been cut.
  if (text !== "" && !text.endsWith("\n")) {
    const lines = text.split("\n");
    throw new ParseError(what, "last line has no newline; output cut short?", lines.length, lines[lines.length - 1]);
  }
  splitLines(text).forEach((raw, index) => {
    const lineNumber = index + 1;
    if (raw.trim() === "") return;
    const eq = raw.indexOf("=");
    const name = eq < 0 ? "" : raw.slice(0, eq);
    if (eq < 0 || !NAME_RE.test(name)) {
      const reason = /^[A-Za-z0-9_.-]+: /.test(raw) ? "`name: value` is FreeBSD syntax, expected `name=value`" : "expected `name=value`";
      throw new ParseError(what, reason, lineNumber, raw);
    }
    if (values.has(name)) throw new ParseError(what, `${name} printed twice`, lineNumber, raw);
    values.set(name, raw.slice(eq + 1));
  });
  return values;
}

/**
 * /etc/sysctl.conf. /etc/rc strips everything from the first `#` and surrounding blanks, then runs
 * `sysctl "$line"`, so that is what is read here. Every assignment is returned in file order; a
 * name set twice keeps both entries, the earlier one marked with overriddenByLine.
 */
export function parseSysctlConf(text: string): SysctlConfEntry[] {
  const what = "sysctl.conf";
  const entries: SysctlConfEntry[] = [];
  const lastByName = new Map<string, SysctlConfEntry>();
  splitLines(text).forEach((raw, index) => {
    const lineNumber = index + 1;
    const hash = raw.indexOf("#");
    const content = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (content === "") return;
    const eq = content.indexOf("=");
    if (eq < 0) throw new ParseError(what, "expected `name=value`", lineNumber, raw);
    const name = content.slice(0, eq);
    // `name = value` would reach sysctl as the name "name " and fail at boot: report it here.
    if (!NAME_RE.test(name)) throw new ParseError(what, "bad sysctl name before `=`", lineNumber, raw);
    const entry: SysctlConfEntry = { name, value: content.slice(eq + 1), line: lineNumber, overriddenByLine: null };
    const earlier = lastByName.get(name);
    if (earlier !== undefined) earlier.overriddenByLine = lineNumber;
    lastByName.set(name, entry);
    entries.push(entry);
  });
  return entries;
}

/** The value each name gets at boot: the last assignment in the file. */
export function effectiveSysctlConf(entries: readonly SysctlConfEntry[]): Map<string, SysctlConfEntry> {
  const effective = new Map<string, SysctlConfEntry>();
  for (const e of entries) effective.set(e.name, e);
  return effective;
}

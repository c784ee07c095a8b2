// ifstated.conf(5), read for what check_ifstated needs: which carp interfaces' link state drives it
// (`carp0.link.up`, `.link.down`, `.link.unknown`, in a macro or an `if`), and which files it
// switches by CARP state: every absolute path in the file that ends in `.carp-master` or
// `.carp-backup` (`run "cp /etc/mail/smtpd.conf.carp-master /etc/mail/smtpd.conf"`) names the
// live file without that suffix. Comments (`#` to the end of the line, outside quotes) are skipped.

import { ParseError } from "../runtime/errors.js";

export interface IfstatedConf {
  /** The carp interfaces whose link state the conditions test, in order of first mention. */
  readonly carpInterfaces: readonly string[];
  /** The live files switched between a .carp-master and a .carp-backup variant, sorted. */
  readonly switchedFiles: readonly string[];
}

const LINK_CONDITION = /\b(carp[0-9]+)\.link\.(?:up|down|unknown)\b/g;
const VARIANT_PATH = /(\/[A-Za-z0-9._/+@-]+?)\.carp-(?:master|backup)(?![A-Za-z0-9._-])/g;

/** Drops a `#` comment that is not inside a quoted string. */
function withoutComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#") {
      return line.slice(0, i);
    }
  }
  return line;
}

export function parseIfstatedConf(text: string, where: string): IfstatedConf {
  if (text.includes("\0")) throw new ParseError(where, "not a text file (NUL byte)");
  const carpInterfaces: string[] = [];
  const switched = new Set<string>();
  for (const raw of text.split("\n")) {
    const line = withoutComment(raw);
    for (const match of line.matchAll(LINK_CONDITION)) {
      const name = match[1] ?? "";
      if (!carpInterfaces.includes(name)) carpInterfaces.push(name);
    }
    for (const match of line.matchAll(VARIANT_PATH)) switched.add(match[1] ?? "");
  }
  return { carpInterfaces, switchedFiles: [...switched].sort() };
}

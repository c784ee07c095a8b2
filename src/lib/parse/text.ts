// What no capture of the OpenBSD tools we read holds: NUL and the other C0 controls but tab, CR and
// newline, DEL, and U+FFFD (what bytes that were not UTF-8 decode to). Output with one of them was
// garbled on the way or is not the tool's; it is refused at its line rather than read into values.
import { ParseError } from "../runtime/errors.js";

// eslint-disable-next-line no-control-regex
const FOREIGN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

export function refuseForeign(text: string, what: string): void {
  const at = FOREIGN.exec(text);
  if (!at) return;
  const before = text.slice(0, at.index);
  const lineNumber = before.split("\n").length;
  const lineStart = before.lastIndexOf("\n") + 1;
  const lineEnd = text.indexOf("\n", at.index);
  throw new ParseError(what, "a control character or a byte that is not UTF-8", lineNumber, text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd));
}

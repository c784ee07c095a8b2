// The one way tests read fixtures: real OpenBSD and OpenSMTPD captures and the drift file sets
// (test/fixtures/, with their sources in the READMEs there); and the assertion every parser test
// needs: this input must be refused with a ParseError, never read as data.
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { ParseError } from "../../src/lib/errors.js";

/** The file NAME of test/fixtures/SET/: OpenBSD captures unless said otherwise. */
export const fixture = (name: string, set: "openbsd" | "opensmtpd" | "drift" = "openbsd"): string => readFileSync(new URL(`../fixtures/${set}/${name}`, import.meta.url), "utf8");

export function expectParseError(fn: () => unknown, lineNumber?: number): ParseError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ParseError);
    if (lineNumber !== undefined) expect((error as ParseError).lineNumber).toBe(lineNumber);
    return error as ParseError;
  }
  throw new Error("expected a ParseError, got a result");
}

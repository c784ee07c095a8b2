// Real OpenBSD captures (test/fixtures/, with their sources in the README there) and the assertion
// every parser test needs: this input must be refused with a ParseError, never read as data.
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { ParseError } from "../../src/lib/errors.js";

export const fixture = (name: string): string => readFileSync(new URL(`../fixtures/openbsd/${name}`, import.meta.url), "utf8");

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

// Real OpenBSD captures (test/fixtures/openbsd/, and src/sim/captures/ for those the demo ships; their
// sources in the README of each) and the assertion every parser test needs: this input must be
// refused with a ParseError, never read as data.
import { existsSync, readFileSync } from "node:fs";
import { expect } from "vitest";
import { ParseError } from "../../src/lib/errors.js";

const CAPTURE_DIRS = [new URL("../fixtures/openbsd/", import.meta.url), new URL("../../src/sim/captures/", import.meta.url)];

export const fixture = (name: string): string => {
  const path = CAPTURE_DIRS.map((dir) => new URL(name, dir)).find((candidate) => existsSync(candidate));
  if (!path) throw new Error(`no capture ${name} in test/fixtures/openbsd or src/sim/captures`);
  return readFileSync(path, "utf8");
};

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

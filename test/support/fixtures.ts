// The one way tests read fixtures: real OpenBSD and OpenSMTPD captures and the drift file sets
// (test/fixtures/, with their sources in the READMEs there; the captures the demo ships are in
// src/sim/captures/); and the assertion every parser test needs: this input must be refused with a
// ParseError, never read as data.
import { existsSync, readFileSync } from "node:fs";
import { expect } from "vitest";
import { ParseError } from "../../src/lib/runtime/errors.js";

/** The file NAME of test/fixtures/SET/ (OpenBSD captures unless said otherwise), or of src/sim/captures/. */
export const fixture = (name: string, set: "openbsd" | "opensmtpd" | "drift" = "openbsd"): string => {
  const dirs = [new URL(`../fixtures/${set}/`, import.meta.url), ...(set === "openbsd" ? [new URL("../../src/sim/captures/", import.meta.url)] : [])];
  const path = dirs.map((dir) => new URL(name, dir)).find((candidate) => existsSync(candidate));
  if (!path) throw new Error(`no fixture ${name} in test/fixtures/${set}${set === "openbsd" ? " or src/sim/captures" : ""}`);
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

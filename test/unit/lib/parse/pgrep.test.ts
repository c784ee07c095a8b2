import { describe, expect, it } from "vitest";
import { ParseError } from "../../../../src/lib/runtime/errors.js";
import { parsePgrepLong } from "../../../../src/lib/parse/pgrep.js";

describe("parsePgrepLong", () => {
  it("reads PID NAME lines; no output is no match", () => {
    expect(parsePgrepLong("4242 entr\n4250 entr\n")).toEqual([
      { pid: 4242, name: "entr" },
      { pid: 4250, name: "entr" },
    ]);
    expect(parsePgrepLong("")).toEqual([]);
  });
  it("rejects other shapes and cut output, naming the line", () => {
    for (const [text, line] of [
      ["4242\n", 1],
      ["4242 entr\nentr 4250\n", 2],
      ["4242 entr -r sh\n", 1],
      ["4242 en", 1],
    ] as const) {
      try {
        parsePgrepLong(text);
        throw new Error(`parsed ${JSON.stringify(text)}`);
      } catch (error) {
        expect(error).toBeInstanceOf(ParseError);
        expect((error as ParseError).lineNumber).toBe(line);
      }
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { escapeName, fsPath, readDirectory } from "../../../../src/lib/facts/paths.js";

const dir = mkdtempSync(join(tmpdir(), "paths-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("file names as bytes", () => {
  it("escapes bytes that are not UTF-8 and backslashes, keeps UTF-8 as it is", () => {
    expect(escapeName(Buffer.from([0x70, 0x66, 0xe9, 0x2e, 0x63]))).toBe("pf\\xe9.c");
    expect(escapeName(Buffer.from("café", "utf8"))).toBe("café");
    expect(escapeName(Buffer.from("a\\xe9"))).toBe("a\\\\xe9");
    expect(escapeName(Buffer.from([0xed, 0xa0, 0x80]))).toBe("\\xed\\xa0\\x80");
  });

  it("gives the bytes back for every name, so that escaped names are equal exactly when the bytes are", () => {
    for (const bytes of [
      [0x70, 0xe9],
      [0x5c, 0x78, 0x65, 0x39],
      [0xc3, 0xa9],
      [0xff, 0xfe, 0x41],
      [0xf0, 0x9f, 0x98, 0x80],
    ]) {
      const name = escapeName(Buffer.from(bytes));
      const back = fsPath(`/d/${name}`);
      expect(Buffer.from(back).subarray(3)).toEqual(Buffer.from(bytes));
    }
    expect(escapeName(Buffer.from([0xe9]))).not.toBe(escapeName(Buffer.from([0xe8])));
  });

  it("lists a directory without skipping a name that is not UTF-8", () => {
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x70, 0x66, 0xe9])]), "x");
    writeFileSync(join(dir, "plain"), "y");
    expect(readDirectory(dir).sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual([
      { name: "pf\\xe9", isFile: true },
      { name: "plain", isFile: true },
    ]);
  });
});

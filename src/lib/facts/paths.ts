// Paths as the file system has them: bytes. A file name need not be UTF-8 (a name written under a
// Latin-1 locale holds 0xe9 for 'é'), and node's string API would turn such bytes into U+FFFD and so
// lose the file: it could be neither opened nor told apart from its neighbours. Here a path is a
// string in which every byte that is not part of valid UTF-8 stands as \xNN and a backslash as \\:
// two names are equal exactly when their bytes are, the string prints as it is (the escapes are
// plain ASCII), and fsPath() gives the bytes back for the system calls.
import { readdirSync } from "node:fs";

/** A file name's bytes as a path component: valid UTF-8 as it is, other bytes as \xNN, '\' as \\. */
export function escapeName(bytes: Buffer): string {
  let out = "";
  let index = 0;
  while (index < bytes.length) {
    const length = utf8SequenceLength(bytes, index);
    if (length === 0) {
      out += `\\x${(bytes[index] ?? 0).toString(16).padStart(2, "0")}`;
      index += 1;
      continue;
    }
    const char = bytes.toString("utf8", index, index + length);
    out += char === "\\" ? "\\\\" : char;
    index += length;
  }
  return out;
}

/** The length of the well-formed UTF-8 sequence at `index`, or 0 when the byte there starts none. */
function utf8SequenceLength(bytes: Buffer, index: number): number {
  const first = bytes[index] ?? 0;
  if (first < 0x80) return 1;
  const continuation = (at: number, low = 0x80, high = 0xbf): boolean => {
    const byte = bytes[index + at];
    return byte !== undefined && byte >= low && byte <= high;
  };
  if (first >= 0xc2 && first <= 0xdf) return continuation(1) ? 2 : 0;
  if (first >= 0xe0 && first <= 0xef) {
    const low = first === 0xe0 ? 0xa0 : 0x80;
    const high = first === 0xed ? 0x9f : 0xbf;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (first >= 0xf0 && first <= 0xf4) {
    const low = first === 0xf0 ? 0x90 : 0x80;
    const high = first === 0xf4 ? 0x8f : 0xbf;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

/** What the system calls take for an escaped path: the string itself when it holds no escape, else its bytes. */
export function fsPath(path: string): string | Buffer {
  if (!path.includes("\\")) return path;
  const parts: Buffer[] = [];
  let plain = "";
  for (let index = 0; index < path.length; index++) {
    const char = path[index];
    const next = path[index + 1];
    if (char === "\\" && next === "\\") {
      plain += "\\";
      index += 1;
    } else if (char === "\\" && next === "x" && /^[0-9a-f]{2}$/.test(path.slice(index + 2, index + 4))) {
      parts.push(Buffer.from(plain, "utf8"), Buffer.from([Number.parseInt(path.slice(index + 2, index + 4), 16)]));
      plain = "";
      index += 3;
    } else {
      plain += char;
    }
  }
  parts.push(Buffer.from(plain, "utf8"));
  return Buffer.concat(parts);
}

/** A directory's entries as escaped names, each with whether it is a regular file; nothing is skipped. */
export function readDirectory(path: string): { name: string; isFile: boolean }[] {
  return readdirSync(fsPath(path), { withFileTypes: true, encoding: "buffer" }).map((entry) => ({ name: escapeName(entry.name), isFile: entry.isFile() }));
}

/** '*' and '?' within one path component. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

// Reads the monitrc examples for the tests: the global statements and one stanza per `check`, with
// comments removed, so a test can hold the examples against the check registry and build a control
// file for a real monit out of the example's own lines.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export type ExampleRole = "primary" | "secondary";

export function examplePath(role: ExampleRole): string {
  return join(REPO_ROOT, `monitrc.${role}.example`);
}

export interface MonitStanza {
  /** "program", "process", "filesystem"... */
  readonly kind: string;
  readonly name: string;
  /** the statements after the `check` line, comments removed, whitespace collapsed */
  readonly statements: readonly string[];
  /** the stanza as written, comments included: what a control file built from the example copies */
  readonly text: string;
}

export interface MonitControlFile {
  /** the text before the first `check`: set statements and their comments */
  readonly globals: string;
  readonly stanzas: readonly MonitStanza[];
}

/** A line without its comment: '#' outside double quotes starts one (monit's own rule). */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === "#" && !quoted) return line.slice(0, i);
  }
  return line;
}

const CHECK_LINE = /^check\s+(\w+)\s+(\S+)/;

/**
 * Splits a control file at its `check` lines. A stanza runs to the next `check` line or the next
 * comment block at the start of a line (the examples put a stanza's comment above it).
 */
export function parseMonitrc(text: string): MonitControlFile {
  const lines = text.split("\n");
  const firstCheck = lines.findIndex((line) => CHECK_LINE.test(line));
  if (firstCheck < 0) return { globals: text, stanzas: [] };
  const stanzas: MonitStanza[] = [];
  let current: { kind: string; name: string; lines: string[] } | undefined;
  const finish = (): void => {
    if (!current) return;
    const statements = current.lines
      .slice(1)
      .map((line) => stripComment(line).trim().replace(/\s+/g, " "))
      .filter((line) => line !== "");
    while (current.lines.length > 1 && current.lines[current.lines.length - 1]?.trim() === "") current.lines.pop();
    stanzas.push({ kind: current.kind, name: current.name, statements, text: `${current.lines.join("\n")}\n` });
    current = undefined;
  };
  for (const line of lines.slice(firstCheck)) {
    const check = CHECK_LINE.exec(line);
    if (check?.[1] && check[2]) {
      finish();
      current = { kind: check[1], name: check[2], lines: [line] };
    } else if (/^(#|set\s)/.test(line)) {
      finish();
    } else if (current) {
      current.lines.push(line);
    }
  }
  finish();
  return { globals: lines.slice(0, firstCheck).join("\n"), stanzas };
}

export function readExample(role: ExampleRole): MonitControlFile {
  return parseMonitrc(readFileSync(examplePath(role), "utf8"));
}

/** The program and its arguments of a `check program NAME with path "..."` stanza. */
export function programCommand(stanza: MonitStanza): string[] {
  const header = /^check\s+program\s+\S+\s+(?:with\s+)?path\s+"([^"]+)"/.exec(stanza.text.split("\n")[0] ?? "");
  if (!header?.[1]) throw new Error(`check program ${stanza.name}: no quoted path on its first line`);
  return header[1].split(/\s+/);
}

// Unified diffs of two texts, with the work bounded: two unrelated 10,000-line files would keep the
// diff algorithm busy for seconds, and such a diff would help nobody anyway. Each returned line is one
// line of the diff (the formatter escapes control characters, so a line stays one printed line).
import { structuredPatch } from "diff";

export interface DiffBounds {
  /** Lines added plus removed beyond which the texts count as too different to diff. */
  readonly maxEditLength: number;
  /** Milliseconds the diff algorithm may take for one pair of texts. */
  readonly timeoutMs: number;
  readonly contextLines: number;
}

const DEFAULT_DIFF_BOUNDS: DiffBounds = { maxEditLength: 1000, timeoutMs: 100, contextLines: 3 };

/** A diff line longer than this (a minified script, a one-line table) is cut, saying how much was left out. */
const MAX_DIFF_LINE_CHARS = 1000;

function boundLine(line: string): string {
  return line.length <= MAX_DIFF_LINE_CHARS ? line : `${line.slice(0, MAX_DIFF_LINE_CHARS)}... (${line.length - MAX_DIFF_LINE_CHARS} more characters)`;
}

export type TextDiff =
  | { readonly kind: "same" }
  | { readonly kind: "diff"; readonly lines: readonly string[] }
  /** The bounds were hit: the texts differ too much for a diff to be worth showing. */
  | { readonly kind: "too different" };

export function unifiedDiff(oldName: string, newName: string, oldText: string, newText: string, bounds: DiffBounds = DEFAULT_DIFF_BOUNDS): TextDiff {
  if (oldText === newText) return { kind: "same" };
  const patch = structuredPatch(oldName, newName, oldText, newText, undefined, undefined, {
    context: bounds.contextLines,
    maxEditLength: bounds.maxEditLength,
    timeout: bounds.timeoutMs,
  });
  if (!patch) return { kind: "too different" };
  const lines = [`--- ${oldName}`, `+++ ${newName}`];
  for (const hunk of patch.hunks) {
    lines.push(`@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`);
    lines.push(...hunk.lines.map(boundLine));
  }
  return { kind: "diff", lines };
}

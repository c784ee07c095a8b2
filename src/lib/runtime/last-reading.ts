// A check that reports growth (pfsync error counters) needs the previous run's reading. It is kept as a
// small JSON file in a state directory of ours (never under /etc). A directory that is missing,
// read-only or not ours must not fail a check, so nothing here throws: problems come back as text
// for a detail line.
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type LoadedReading = { readonly value: unknown } | { readonly problem: string };

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error instanceof Error ? error.message : String(error));
}

/** `{ value: undefined }` when there is no previous reading yet (first run, or the directory is new). */
export function loadReading(dir: string, name: string): LoadedReading {
  const path = join(dir, name);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { value: undefined };
    return { problem: `cannot read ${path}: ${reason(error)}` };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { problem: `${path} is not JSON; starting over` };
  }
}

/**
 * Creates the state directory (0700) when missing, and refuses one that another user owns or others
 * may write (a planted symlink or file could redirect our write). Returns undefined when usable, else why not.
 */
export function ensureStateDir(dir: string): string | undefined {
  const uid = process.geteuid?.() ?? 0;
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    if (!stat.isDirectory()) return `${dir} is not a directory`;
    if (stat.uid !== uid) return `${dir} is not owned by uid ${uid}`;
    if ((stat.mode & 0o022) !== 0) return `${dir} is writable by others (mode ${(stat.mode & 0o777).toString(8)})`;
  } catch (error) {
    return `cannot use ${dir}: ${reason(error)}`;
  }
  return undefined;
}

/**
 * Saves the reading in the state directory (ensureStateDir), replacing the file in one rename so a
 * concurrent run never reads half of it. Returns undefined when saved, else why not.
 */
export function saveReading(dir: string, name: string, value: unknown): string | undefined {
  const unusable = ensureStateDir(dir);
  if (unusable !== undefined) return unusable;
  const path = join(dir, name);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(value) + "\n", { mode: 0o600, flag: "wx" });
    renameSync(temporary, path);
    return undefined;
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never written: nothing to clean up.
    }
    return `cannot write ${path}: ${reason(error)}`;
  }
}

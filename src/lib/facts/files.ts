// The readFiles facts op: small files and their metadata (hostname.carpN, sysctl.conf, the installed
// scripts), read by our own code on either host, with '*' globs in the last path component.
import { lstat, readdir, readlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import pLimit from "p-limit";
import * as v from "valibot";
import { readPeerMessage, registerFacts } from "./protocol.js";
import { readBounded, READ_MAX_BYTES, type BoundedRead } from "./read-bounded.js";
import type { Host } from "../transport/host.js";
import type { CommandResult, HostCommand } from "../transport/shell.js";

export type FileType = "file" | "dir" | "symlink" | "missing" | "other";

export interface FileFacts {
  readonly path: string;
  readonly type: FileType;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly sha256?: string;
  /** utf8 text when asked for, the file is small enough, and has no NUL byte */
  readonly content?: string;
  readonly binary?: boolean;
  readonly linkTarget?: string;
  readonly error?: string;
}

export interface ReadFilesArgs {
  readonly paths: readonly string[];
  readonly withContent: boolean;
  readonly maxBytes: number;
}

/** '*' and '?' within one path component. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

/** Expands '*' and '?' in the last component only; sorted, so both hosts list in one order. */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const path of paths) {
    const name = basename(path);
    if (!/[*?]/.test(name)) {
      out.add(path);
      continue;
    }
    const dir = dirname(path);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    const pattern = globToRegExp(name);
    for (const entry of entries) if (pattern.test(entry)) out.add(join(dir, entry));
  }
  return [...out].sort();
}

/** Files read at once by one request, and the most content one answer carries over all its files. */
const FILES_AT_ONCE = 8;
const CONTENT_TOTAL_MAX_BYTES = 16 * 1024 * 1024;

async function readFileFacts(path: string, withContent: boolean, maxBytes: number, signal: AbortSignal, budget: { bytes: number }): Promise<FileFacts> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? { path, type: "missing" } : { path, type: "other", error: String(code) };
  }
  const meta = { path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, size: stat.size };
  if (stat.isSymbolicLink()) return { ...meta, type: "symlink", linkTarget: await readlink(path) };
  if (stat.isDirectory()) return { ...meta, type: "dir" };
  if (!stat.isFile()) return { ...meta, type: "other" };
  let read: BoundedRead;
  try {
    read = await readBounded(path, withContent ? maxBytes : 0, signal);
  } catch (error) {
    if (signal.aborted) throw error;
    return { ...meta, type: "file", error: String((error as NodeJS.ErrnoException).code ?? error) };
  }
  const { sha256, binary } = read;
  const data = withContent && !binary && read.content !== undefined && read.content.length <= budget.bytes ? read.content : undefined;
  if (data) budget.bytes -= data.length;
  const content = data?.toString("utf8");
  return { ...meta, type: "file", sha256, binary, ...(content !== undefined ? { content } : {}) };
}

function validate(args: unknown): ReadFilesArgs {
  const a = args as Partial<ReadFilesArgs> | null;
  if (!a || !Array.isArray(a.paths) || !a.paths.every((p) => typeof p === "string" && p.startsWith("/"))) throw new Error("readFiles: paths must be absolute path strings");
  const maxBytes = typeof a.maxBytes === "number" && Number.isFinite(a.maxBytes) ? Math.max(0, Math.min(READ_MAX_BYTES, Math.floor(a.maxBytes))) : 1024 * 1024;
  return { paths: a.paths, withContent: a.withContent === true, maxBytes };
}

async function readFilesLocally(args: ReadFilesArgs, signal: AbortSignal): Promise<FileFacts[]> {
  const paths = await expandPaths(args.paths);
  const limit = pLimit(FILES_AT_ONCE);
  const budget = { bytes: CONTENT_TOTAL_MAX_BYTES };
  return Promise.all(paths.map((path) => limit(() => readFileFacts(path, args.withContent, args.maxBytes, signal, budget))));
}

registerFacts("readFiles", (args, signal) => readFilesLocally(validate(args), signal));

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** What a host's readFiles answers, as the asker checks it (FileFacts). */
const fileFactsSchema = v.array(
  v.object({
    path: v.string(),
    type: v.picklist(["file", "dir", "symlink", "missing", "other"]),
    mode: v.optional(count),
    uid: v.optional(count),
    gid: v.optional(count),
    size: v.optional(count),
    sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))),
    content: v.optional(v.string()),
    binary: v.optional(v.boolean()),
    linkTarget: v.optional(v.string()),
    error: v.optional(v.string()),
  }),
);

/** Reads files on a host, with `alongside` commands in the same round trip. */
export async function readFilesOn(host: Host, args: ReadFilesArgs, alongside: readonly HostCommand[] = []): Promise<{ files: FileFacts[]; alongside: readonly CommandResult[] }> {
  const answer = await host.facts("readFiles", args, { alongside });
  return { files: readPeerMessage(fileFactsSchema, answer.value, host.role, "readFiles"), alongside: answer.alongside };
}

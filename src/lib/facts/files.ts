// The readFiles facts op: small files and their metadata (hostname.carpN, sysctl.conf, the installed
// scripts), read by our own code on either host, with '*' globs in the last path component.
import { readFile, lstat, readlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import pLimit from "p-limit";
import * as v from "valibot";
import { readPeerMessage, registerFacts } from "./protocol.js";
import { escapeName, fsPath, globToRegExp, readDirectory } from "./paths.js";
import { checkRules, collectNamedSecrets, isSecretFile, noNamedSecrets, redactText, type NamedSecrets, type RedactionRules } from "../compare/redact.js";
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
  /**
   * A one-time random key from the asker: secret values in the content come back as
   * "[redacted:HMAC]", so that the asker can compare them between the hosts (the carp pass) without
   * either host's answer holding them. Without it they come back as "[redacted]".
   */
  readonly secretKey?: string;
  /** The asker's [redact] patterns and secret-file globs, applied here on top of the built-in rules. */
  readonly redaction?: RedactionRules;
}

/** Without the asker's rules: the built-in ones only. */
const BUILTIN_RULES: RedactionRules = { patterns: [], secretFiles: [] };

export { globToRegExp };

/** Expands '*' and '?' in the last component only (names read as bytes); sorted, so both hosts list in one order. */
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
      entries = readDirectory(dir).map((entry) => entry.name);
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

async function readFileFacts(path: string, args: ReadFilesArgs, named: NamedSecrets, signal: AbortSignal, budget: { bytes: number }): Promise<FileFacts> {
  const { withContent, maxBytes } = args;
  const rules = args.redaction ?? BUILTIN_RULES;
  let stat;
  try {
    stat = await lstat(fsPath(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? { path, type: "missing" } : { path, type: "other", error: String(code) };
  }
  const meta = { path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, size: stat.size };
  if (stat.isSymbolicLink()) return { ...meta, type: "symlink", linkTarget: escapeName(await readlink(fsPath(path), { encoding: "buffer" })) };
  if (stat.isDirectory()) return { ...meta, type: "dir" };
  if (!stat.isFile()) return { ...meta, type: "other" };
  let read: BoundedRead;
  try {
    read = await readBounded(fsPath(path), withContent ? maxBytes : 0, signal);
  } catch (error) {
    if (signal.aborted) throw error;
    return { ...meta, type: "file", error: String((error as NodeJS.ErrnoException).code ?? error) };
  }
  const { sha256, binary } = read;
  // Masked here, before the answer leaves the host; a secret file's content is never sent.
  const data = withContent && !binary && read.content !== undefined && read.content.length <= budget.bytes && !isSecretFile(path, rules, named) ? read.content : undefined;
  if (data) budget.bytes -= data.length;
  const content = data === undefined ? undefined : redactText(path, data.toString("utf8"), rules, args.secretKey !== undefined ? { digestKey: args.secretKey } : {});
  return { ...meta, type: "file", sha256, binary, ...(content !== undefined ? { content } : {}) };
}

function validate(args: unknown): ReadFilesArgs {
  const a = args as Partial<ReadFilesArgs> | null;
  if (!a || !Array.isArray(a.paths) || !a.paths.every((p) => typeof p === "string" && p.startsWith("/"))) throw new Error("readFiles: paths must be absolute path strings");
  if (a.secretKey !== undefined && (typeof a.secretKey !== "string" || !/^[0-9a-f]{32,128}$/.test(a.secretKey))) throw new Error("readFiles: secretKey must be 32 to 128 hex digits");
  const redaction = a.redaction === undefined ? undefined : v.safeParse(redactionSchema, a.redaction);
  if (redaction && !redaction.success) throw new Error("readFiles: redaction must be { patterns: string[], secretFiles: string[] }");
  if (redaction) checkRules(redaction.output);
  return {
    paths: a.paths,
    withContent: a.withContent === true,
    maxBytes: typeof a.maxBytes === "number" && Number.isFinite(a.maxBytes) ? Math.max(0, Math.min(READ_MAX_BYTES, Math.floor(a.maxBytes))) : 1024 * 1024,
    ...(a.secretKey !== undefined ? { secretKey: a.secretKey } : {}),
    ...(redaction ? { redaction: redaction.output } : {}),
  };
}

const redactionSchema = v.strictObject({ patterns: v.array(v.string()), secretFiles: v.array(v.string()) });

// OpenVPN configs beside a file may name it as a credential file (auth-user-pass auth.txt).
const CONFIG_NAME = /\.(conf|ovpn)$/;
const MAX_CONFIG_BYTES = 512 * 1024;

/** The credential files that the requested files and the OpenVPN configs in their directories name. */
async function namedSecretsAround(paths: readonly string[]): Promise<NamedSecrets> {
  const named = noNamedSecrets();
  const configs = new Set(paths);
  for (const dir of new Set(paths.map((path) => dirname(path)))) {
    try {
      for (const entry of readDirectory(dir)) if (entry.isFile && CONFIG_NAME.test(entry.name)) configs.add(join(dir, entry.name));
    } catch {
      // A directory that cannot be listed has no configs to read.
    }
  }
  for (const path of configs) {
    try {
      const stat = await lstat(fsPath(path));
      if (stat.isFile() && stat.size <= MAX_CONFIG_BYTES) collectNamedSecrets((await readFile(fsPath(path))).toString("utf8"), named);
    } catch {
      // Unreadable: it names nothing we can know of.
    }
  }
  return named;
}

async function readFilesLocally(args: ReadFilesArgs, signal: AbortSignal): Promise<FileFacts[]> {
  const paths = await expandPaths(args.paths);
  const named = args.withContent ? await namedSecretsAround(paths) : noNamedSecrets();
  const limit = pLimit(FILES_AT_ONCE);
  const budget = { bytes: CONTENT_TOTAL_MAX_BYTES };
  return Promise.all(paths.map((path) => limit(() => readFileFacts(path, args, named, signal, budget))));
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

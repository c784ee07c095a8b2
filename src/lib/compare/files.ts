// Hash-first comparison of file sets between the two gateways. Each host walks the set in our own code
// (no find/stat/sha256 tools, so no BSD/GNU differences) and builds a sorted manifest: path, type, mode,
// owner, and a content digest or a link target for each entry.
//
// Both rounds are one conversation with one `carpentry facts` on the peer, over one ssh session.
// Round 1 costs a few hundred bytes whatever the size of the set: the peer asks whether the digest
// of its manifest is ours, while this host builds its own at the same time. Only when the digests
// differ, round 2 sends this host's manifest (path -> entry digest) up in our reply, and the peer
// answers, from the manifest it already built, the entries that differ, with the content of
// differing text files: bounded per file and in total, and redacted on the peer before it leaves.
//
// The walk uses synchronous file system calls, yielding to the event loop every few milliseconds:
// for thousands of small files (an easy-rsa pki) node's promise-based fs is five times slower, since
// every call takes a trip through the thread pool. Large files are hashed in chunks through one
// buffer, so a 50 MB table costs 1 MB of memory and is never read whole.
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from "node:fs";
import * as v from "valibot";
import type { Config } from "../runtime/config.js";
import { unifiedDiff } from "./diff.js";
import { ConfigError, HostError, TimeoutError } from "../runtime/errors.js";
import { readPeerMessage, registerFacts, type Talk } from "../facts/protocol.js";
import { expandPaths } from "../facts/files.js";
import { escapeName, fsPath, globToRegExp, readDirectory } from "../facts/paths.js";
import type { Host } from "../transport/host.js";
import { checkRules, collectNamedSecrets, isSecretFile, noNamedSecrets, redactText, type NamedSecrets, type RedactionRules } from "./redact.js";

/** What both hosts walk; sent to the peer as it is. */
export interface FileSetSpec {
  readonly name: string;
  /** Absolute paths; directories are walked recursively; '*' and '?' match within the last component. */
  readonly paths: readonly string[];
  /** Paths (with '*' and '?' within a component) left out, with everything beneath them. */
  readonly exclude: readonly string[];
  readonly compareOwner: boolean;
  readonly compareMode: boolean;
  readonly redaction: RedactionRules;
}

export type EntryType = "file" | "dir" | "symlink" | "other" | "unreadable";

export interface ManifestEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Regular files: 128 bits of the sha256 of the content (of the mapped text, for host-specific values). */
  readonly contentDigest?: string;
  /** Regular files with a NUL byte. */
  readonly binary?: boolean;
  readonly linkTarget?: string;
  /** Why an entry is unreadable (EACCES...). */
  readonly error?: string;
  /**
   * When the content last changed, and when the inode did (a chmod or chown moves only this), in
   * milliseconds since the epoch: which host changed a differing path last. Never compared.
   */
  readonly mtimeMs?: number;
  readonly ctimeMs?: number;
}

/** Files up to this size are read whole (to map host-specific values, to diff); larger ones are only hashed. */
export const MAX_TEXT_BYTES = 512 * 1024;
/** The most file content one comparison fetches from the peer, over all sets. */
export const MAX_CONTENT_BYTES_TOTAL = 2 * 1024 * 1024;
/** The walk's one read buffer; above MAX_TEXT_BYTES, so a text file is whole in it for the transform. */
const HASH_CHUNK_BYTES = 2 * MAX_TEXT_BYTES;
/** How long the walk may hold the event loop before it yields, in milliseconds: short, so the ssh to
 * the peer (which waits on the control socket before it starts) is not held back by our own walk. */
const YIELD_EVERY_MS = 5;

// ---- host-specific values ----

/** Token -> replacement, applied in one pass, so that a swapped pair (dhcpd -y/-Y) comes out right. */
export type HostValueMapping = ReadonlyMap<string, string>;

/**
 * From [host_specific]: each value pair maps both ways (the primary's own address becomes the
 * secondary's, and the peer's address it names becomes the primary's); each interface maps one way
 * (re0 -> em0 and em0 -> em1 may both hold, when the hosts' NICs are numbered differently).
 */
export function hostValueMapping(hostSpecific: Config["host_specific"], configPath: string): HostValueMapping {
  const mapping = new Map<string, string>();
  const add = (from: string, to: string, key: string): void => {
    const already = mapping.get(from);
    if (already !== undefined && already !== to) {
      throw new ConfigError(configPath, key, undefined, `"${from}" would map to both "${already}" and "${to}"; each value may appear in one pair`);
    }
    mapping.set(from, to);
  };
  hostSpecific.values.forEach((pair, index) => {
    if (pair.primary === pair.secondary) return;
    add(pair.primary, pair.secondary, `host_specific.values.${index}`);
    add(pair.secondary, pair.primary, `host_specific.values.${index}`);
  });
  for (const [onPrimary, onSecondary] of Object.entries(hostSpecific.interfaces)) add(onPrimary, onSecondary, `host_specific.interfaces.${onPrimary}`);
  return mapping;
}

const TOKEN_CHAR = "A-Za-z0-9_";

/**
 * A function that replaces each mapped value where it stands as a whole token: 192.168.110.10 does not
 * match inside 192.168.110.101, em0 does not match inside em01 or vlan_em0, but it does in
 * "em0.link.up". One pass over the text, so a value that was just written is never replaced again
 * (a -> b and b -> a swap).
 */
export function hostValueMapper(mapping: HostValueMapping): (text: string) => string {
  const alternatives = [...mapping.keys()].sort((a, b) => b.length - a.length).map((value) => value.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"));
  if (alternatives.length === 0) return (text) => text;
  const tokens = new RegExp(`(?<![${TOKEN_CHAR}])(?:${alternatives.join("|")})(?![${TOKEN_CHAR}])`, "g");
  return (text) => text.replace(tokens, (value) => mapping.get(value) ?? value);
}

// ---- the walk ----

export interface ManifestOptions {
  /** Applied to each text file up to MAX_TEXT_BYTES before hashing (host-specific values, on the primary). */
  readonly transformText?: (text: string) => string;
  readonly signal?: AbortSignal;
  /** Collects the credential files that the walked text files name (auth-user-pass FILE...): secret files. */
  readonly namedSecrets?: NamedSecrets;
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function contentDigestOf(data: string | Buffer): string {
  return sha256Hex(data).slice(0, 32);
}

function stripTrailingSlashes(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") || "/" : path;
}

function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/** Holds the event loop for at most YIELD_EVERY_MS at a time, and gives up when the deadline passes. */
class Pacer {
  private sliceStarted = performance.now();
  constructor(private readonly signal: AbortSignal | undefined) {}

  async step(where: string): Promise<void> {
    if (performance.now() - this.sliceStarted < YIELD_EVERY_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.sliceStarted = performance.now();
    if (this.signal?.aborted) throw new TimeoutError(`timed out while reading ${where}`);
  }
}

function changeTimes(stat: Stats): { mtimeMs: number; ctimeMs: number } {
  return { mtimeMs: Math.floor(stat.mtimeMs), ctimeMs: Math.floor(stat.ctimeMs) };
}

// O_NOFOLLOW: a symlink is an entry of its own, never followed. O_NONBLOCK: a FIFO that took a
// file's place between readdir and open must not block the walk.
const OPEN_FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * A regular file's entry, read through one shared buffer: hashed as it is read, so a 50 MB file costs
 * the buffer's size; a file up to MAX_TEXT_BYTES is whole in the buffer at the end, for the transform.
 * When the path cannot be opened or is not (or no longer) a regular file: why, as a string.
 */
function regularFileEntry(path: string, buffer: Buffer, options: ManifestOptions): ManifestEntry | string {
  let fd: number;
  try {
    fd = openSync(fsPath(path), OPEN_FILE_FLAGS);
  } catch (error) {
    return errorCode(error);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return "not a regular file";
    const meta = { path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, ...changeTimes(stat) };
    try {
      return { ...meta, type: "file", ...hashOpenFile(fd, buffer, options) };
    } catch (error) {
      return { ...meta, type: "unreadable", size: 0, error: errorCode(error) };
    }
  } finally {
    closeSync(fd);
  }
}

/** Hashes an open file chunk by chunk; the transform applies when the whole file fit in the buffer. */
function hashOpenFile(fd: number, buffer: Buffer, options: ManifestOptions): { size: number; contentDigest: string; binary: boolean } {
  const hash = createHash("sha256");
  let filled = 0;
  let total = 0;
  let wrapped = false;
  let binary = false;
  for (;;) {
    if (filled === buffer.length) {
      hash.update(buffer);
      wrapped = true;
      filled = 0;
    }
    const wanted = buffer.length - filled;
    const read = readSync(fd, buffer, filled, wanted, null);
    if (!binary && buffer.subarray(filled, filled + read).includes(0)) binary = true;
    filled += read;
    total += read;
    // A short read of a regular file is its end: one read call a file saved, of five syscalls.
    if (read < wanted) break;
  }
  const rest = buffer.subarray(0, filled);
  if (options.namedSecrets && !wrapped && !binary && total <= MAX_TEXT_BYTES) collectNamedSecrets(rest.toString("utf8"), options.namedSecrets);
  if (options.transformText && !wrapped && !binary && total <= MAX_TEXT_BYTES) {
    const text = rest.toString("utf8");
    const mapped = options.transformText(text);
    if (mapped !== text) return { size: Buffer.byteLength(mapped), contentDigest: contentDigestOf(mapped), binary };
  }
  hash.update(rest);
  return { size: total, contentDigest: hash.digest("hex").slice(0, 32), binary };
}

/** A file's content if it has at most maxBytes, else undefined; never reads more than that. */
function readAtMost(path: string, maxBytes: number): Buffer | undefined {
  const buffer = Buffer.allocUnsafe(maxBytes + 1);
  const fd = openSync(fsPath(path), OPEN_FILE_FLAGS);
  let length = 0;
  try {
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) return undefined;
    }
  } finally {
    closeSync(fd);
  }
  return buffer.subarray(0, length);
}

function excluded(path: string, patterns: readonly RegExp[]): boolean {
  return patterns.some((pattern) => pattern.test(path));
}

/** A path that readdir did not say is a regular file: a root, a directory, a symlink, a device... */
function statEntry(path: string, buffer: Buffer, options: ManifestOptions): { entry?: ManifestEntry; children?: { name: string; isFile: boolean }[] } {
  let stat: Stats;
  try {
    stat = lstatSync(fsPath(path));
  } catch (error) {
    const code = errorCode(error);
    // A configured path that does not exist is simply not part of the set on this host.
    return code === "ENOENT" || code === "ENOTDIR" ? {} : { entry: { path, type: "unreadable", mode: 0, uid: 0, gid: 0, size: 0, error: code } };
  }
  const meta = { path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, size: 0, ...changeTimes(stat) };
  if (stat.isFile()) {
    const entry = regularFileEntry(path, buffer, options);
    return { entry: typeof entry === "string" ? { ...meta, type: "unreadable", error: entry } : entry };
  }
  if (!stat.isSymbolicLink() && !stat.isDirectory()) return { entry: { ...meta, type: "other" } };
  try {
    if (stat.isSymbolicLink()) return { entry: { ...meta, type: "symlink", linkTarget: escapeName(readlinkSync(fsPath(path), { encoding: "buffer" })) } };
    return { entry: { ...meta, type: "dir" }, children: readDirectory(path) };
  } catch (error) {
    return { entry: { ...meta, type: "unreadable", error: errorCode(error) } };
  }
}

/** The set's entries on this host, sorted by path (code units), so both hosts list in one order. */
export async function buildManifest(spec: FileSetSpec, options: ManifestOptions = {}): Promise<ManifestEntry[]> {
  const excludePatterns = spec.exclude.map((path) => globToRegExp(stripTrailingSlashes(path)));
  const roots = await expandPaths(spec.paths.map(stripTrailingSlashes));
  const pacer = new Pacer(options.signal);
  const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  const seen = new Set<string>();
  const entries: ManifestEntry[] = [];
  // Paths to visit, each with whether readdir said it is a regular file (one open+fstat then, no lstat).
  const pending: [string, boolean][] = roots.map((root) => [root, false]);
  while (pending.length > 0) {
    const [path, regularFile] = pending.pop() as [string, boolean];
    if (seen.has(path) || excluded(path, excludePatterns)) continue;
    seen.add(path);
    await pacer.step(path);
    const fileEntry = regularFile ? regularFileEntry(path, buffer, options) : undefined;
    if (typeof fileEntry === "object") {
      entries.push(fileEntry);
      continue;
    }
    const { entry, children } = statEntry(path, buffer, options);
    if (entry) entries.push(entry);
    for (const child of children ?? []) pending.push([childPath(path, child.name), child.isFile]);
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// ---- digests ----

/** What is compared of an entry: mode and owner only when the set says so; never a symlink's own mode. */
function entryLine(entry: ManifestEntry, spec: FileSetSpec): string {
  const parts: string[] = [entry.path, entry.type];
  if (entry.type !== "symlink") {
    if (spec.compareMode) parts.push(entry.mode.toString(8));
    if (spec.compareOwner) parts.push(`${entry.uid}:${entry.gid}`);
  }
  if (entry.type === "file") parts.push(entry.contentDigest ?? "");
  if (entry.type === "symlink") parts.push(entry.linkTarget ?? "");
  if (entry.type === "unreadable") parts.push(entry.error ?? "");
  return parts.join("\0");
}

export function entryDigest(entry: ManifestEntry, spec: FileSetSpec): string {
  return sha256Hex(entryLine(entry, spec)).slice(0, 32);
}

export function manifestDigest(entries: readonly ManifestEntry[], spec: FileSetSpec): string {
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(`${entryLine(entry, spec)}\n`);
  return hash.digest("hex");
}

// ---- the facts ops: what the peer answers ----

const redactionSchema = v.strictObject({ patterns: v.array(v.string()), secretFiles: v.array(v.string()) });
const specSchema = v.strictObject({
  name: v.string(),
  paths: v.array(v.pipe(v.string(), v.startsWith("/"))),
  exclude: v.array(v.pipe(v.string(), v.startsWith("/"))),
  compareOwner: v.boolean(),
  compareMode: v.boolean(),
  redaction: redactionSchema,
});
const digestArgsSchema = v.strictObject({ sets: v.array(specSchema) });
/** This host's entries as [path, entry digest, content digest or ""]: what the peer compares against. */
const localEntriesSchema = v.array(v.tuple([v.string(), v.string(), v.string()]));

function validateArgs<S extends v.GenericSchema>(schema: S, args: unknown, op: string): v.InferOutput<S> {
  const parsed = v.safeParse(schema, args);
  if (!parsed.success) throw new Error(`${op}: bad request at ${(parsed.issues[0].path ?? []).map((item) => String(item.key)).join(".") || "top"}: ${parsed.issues[0].message}`);
  return parsed.output;
}

export interface SetDigest {
  readonly digest: string;
  readonly count: number;
  /** Paths this host could not read: the comparison cannot vouch for them. */
  readonly unreadable: readonly string[];
}

function unreadablePaths(entries: readonly ManifestEntry[]): string[] {
  return entries.filter((entry) => entry.type === "unreadable").map((entry) => `${entry.path} (${entry.error ?? "?"})`);
}

/** Why a differing file's content was not compared: a whole-file secret, binary, over MAX_TEXT_BYTES, over the total. */
export type Withheld = "secret" | "binary" | "too large" | "budget" | "unreadable";

export interface PeerEntry extends ManifestEntry {
  /** Redacted text, for a text file whose content differs from the asking host's. */
  readonly content?: string;
  readonly withheld?: Withheld;
}

export interface SetDetails {
  readonly count: number;
  /** The entries that differ from the asking host's, or that it lacks. */
  readonly differing: readonly PeerEntry[];
  /** The asking host's paths that this host lacks. */
  readonly absent: readonly string[];
  readonly unreadable: readonly string[];
}

function withContent(entry: ManifestEntry, spec: FileSetSpec, budget: { bytes: number }, named: NamedSecrets): PeerEntry {
  if (isSecretFile(entry.path, spec.redaction, named)) return { ...entry, withheld: "secret" };
  if (entry.binary) return { ...entry, withheld: "binary" };
  if (entry.size > MAX_TEXT_BYTES) return { ...entry, withheld: "too large" };
  if (entry.size > budget.bytes) return { ...entry, withheld: "budget" };
  let data: Buffer | undefined;
  try {
    data = readAtMost(entry.path, MAX_TEXT_BYTES);
  } catch {
    return { ...entry, withheld: "unreadable" };
  }
  if (data === undefined) return { ...entry, withheld: "too large" };
  if (data.includes(0)) return { ...entry, withheld: "binary" };
  budget.bytes -= data.length;
  return { ...entry, content: redactText(entry.path, data.toString("utf8"), spec.redaction) };
}

/** This host's entries that differ from the asker's, with the content of differing text files. */
function setDetails(spec: FileSetSpec, entries: readonly ManifestEntry[], askingEntries: readonly (readonly [string, string, string])[], budget: { bytes: number }, named: NamedSecrets): SetDetails {
  const asking = new Map(askingEntries.map(([path, digest, contentDigest]) => [path, { digest, contentDigest }]));
  const differing: PeerEntry[] = [];
  const here = new Set<string>();
  for (const entry of entries) {
    here.add(entry.path);
    const theirs = asking.get(entry.path);
    if (theirs && theirs.digest === entryDigest(entry, spec)) continue;
    const contentDiffers = entry.type === "file" && theirs !== undefined && theirs.contentDigest !== "" && theirs.contentDigest !== entry.contentDigest;
    differing.push(contentDiffers ? withContent(entry, spec, budget, named) : entry);
  }
  const absent = askingEntries.map(([path]) => path).filter((path) => !here.has(path));
  return { count: entries.length, differing, absent, unreadable: unreadablePaths(entries) };
}

/** The asker's reply to our digests: its entries of the sets whose digests differ. */
const namedSecretsSchema = v.strictObject({ paths: v.array(v.string()), tails: v.array(v.string()) });
const fileSetsReplySchema = v.strictObject({
  sets: v.array(v.strictObject({ name: v.string(), entries: localEntriesSchema })),
  maxContentBytes: v.number(),
  /** The credential files the asker's configs name: secret here too, whatever this host's configs say. */
  namedSecrets: namedSecretsSchema,
});

/**
 * Both rounds in one process: walk the sets, ask the asker about their digests, and answer the
 * details of the sets it names from the manifests already built (no second walk, no second start).
 */
async function answerFileSets(args: unknown, signal: AbortSignal, talk: Talk): Promise<{ digests: Record<string, SetDigest>; details: Record<string, SetDetails> }> {
  const { sets } = validateArgs(digestArgsSchema, args, "fileSets");
  for (const spec of sets) checkRules(spec.redaction);
  const manifests = new Map<string, { spec: FileSetSpec; entries: ManifestEntry[] }>();
  const digests: Record<string, SetDigest> = {};
  const named = noNamedSecrets();
  for (const spec of sets) {
    const entries = await buildManifest(spec, { signal, namedSecrets: named });
    manifests.set(spec.name, { spec, entries });
    digests[spec.name] = { digest: manifestDigest(entries, spec), count: entries.length, unreadable: unreadablePaths(entries) };
  }
  const reply = validateArgs(fileSetsReplySchema, await talk.ask({ digests }), "fileSets reply");
  const budget = { bytes: Math.min(reply.maxContentBytes, MAX_CONTENT_BYTES_TOTAL) };
  for (const path of reply.namedSecrets.paths) named.paths.add(path);
  for (const tail of reply.namedSecrets.tails) named.tails.add(tail);
  const details: Record<string, SetDetails> = {};
  for (const { name, entries: askingEntries } of reply.sets) {
    const set = manifests.get(name);
    if (!set) throw new Error(`fileSets reply: no set ${JSON.stringify(name)} was asked for`);
    details[name] = setDetails(set.spec, set.entries, askingEntries, budget, named);
  }
  return { digests, details };
}

registerFacts("fileSets", answerFileSets);

// ---- the comparison, on the asking host ----

export type DifferenceKind = "content" | "only here" | "only on peer" | "type" | "mode" | "owner" | "symlink target";

/** What is known of a differing file's content. */
export type ContentComparison =
  | { readonly kind: "diff"; readonly lines: readonly string[] }
  /** The texts are the same once secrets are masked: only a secret differs. */
  | { readonly kind: "secrets only" }
  /** The diff's bounds were hit. */
  | { readonly kind: "too different" }
  | { readonly kind: "withheld"; readonly reason: Withheld };

export interface FileDifference {
  readonly path: string;
  readonly kinds: readonly DifferenceKind[];
  readonly local?: ManifestEntry;
  readonly peer?: ManifestEntry;
  readonly content?: ContentComparison;
}

export interface SetComparison {
  readonly name: string;
  readonly localCount: number;
  readonly peerCount: number;
  readonly differences: readonly FileDifference[];
  /** "path (EACCES)" on this host and on the peer: the comparison cannot vouch for them. */
  readonly unreadableHere: readonly string[];
  readonly unreadableOnPeer: readonly string[];
  /** Exchanges with the peer (one ssh session either way): 1 when the set is identical. */
  readonly roundTrips: number;
}

/** How the two hosts are named in diff headers: "primary", "secondary". */
export interface HostLabels {
  readonly local: string;
  readonly peer: string;
}

/** This host's text of a file, mapped and redacted as the peer's was, or why it cannot be compared. */
export type LocalText = (entry: ManifestEntry) => string | { readonly withheld: Withheld };

function differenceKinds(local: ManifestEntry, peer: ManifestEntry, spec: FileSetSpec): DifferenceKind[] {
  if (local.type !== peer.type) return ["type"];
  const kinds: DifferenceKind[] = [];
  if (local.type === "file" && local.contentDigest !== peer.contentDigest) kinds.push("content");
  if (local.type === "symlink" && local.linkTarget !== peer.linkTarget) kinds.push("symlink target");
  if (local.type !== "symlink") {
    if (spec.compareMode && local.mode !== peer.mode) kinds.push("mode");
    if (spec.compareOwner && (local.uid !== peer.uid || local.gid !== peer.gid)) kinds.push("owner");
  }
  return kinds;
}

function compareContent(local: ManifestEntry, peer: PeerEntry, localText: LocalText, labels: HostLabels): ContentComparison {
  if (peer.withheld) return { kind: "withheld", reason: peer.withheld };
  if (local.binary) return { kind: "withheld", reason: "binary" };
  if (local.size > MAX_TEXT_BYTES) return { kind: "withheld", reason: "too large" };
  if (peer.content === undefined) return { kind: "withheld", reason: "budget" };
  const mine = localText(local);
  if (typeof mine !== "string") return { kind: "withheld", reason: mine.withheld };
  const diff = unifiedDiff(`${labels.local}:${local.path}`, `${labels.peer}:${peer.path}`, mine, peer.content);
  return diff.kind === "same" ? { kind: "secrets only" } : diff;
}

/** Pure but for localText: this host's manifest and the peer's answer -> the differences, diffed where content was sent. */
export function compareManifests(spec: FileSetSpec, localEntries: readonly ManifestEntry[], details: SetDetails, localText: LocalText, labels: HostLabels): FileDifference[] {
  const localByPath = new Map(localEntries.map((entry) => [entry.path, entry]));
  const differences: FileDifference[] = [];
  for (const path of details.absent) {
    const local = localByPath.get(path);
    differences.push({ path, kinds: ["only here"], ...(local ? { local } : {}) });
  }
  for (const peer of details.differing) {
    const local = localByPath.get(peer.path);
    if (!local) {
      differences.push({ path: peer.path, kinds: ["only on peer"], peer });
      continue;
    }
    // An unreadable path is reported as such (SetComparison.unreadable*), never as a drift.
    if (local.type === "unreadable" || peer.type === "unreadable") continue;
    const kinds = differenceKinds(local, peer, spec);
    if (kinds.length === 0) continue; // changed between the two rounds, and back
    const content = kinds.includes("content") ? compareContent(local, peer, localText, labels) : undefined;
    differences.push({ path: peer.path, kinds, local, peer, ...(content ? { content } : {}) });
  }
  return differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** This host's side of a set: with the host-specific mapping for the sets that declare it. */
export interface LocalSet {
  readonly spec: FileSetSpec;
  readonly transformText?: (text: string) => string;
}

export function readLocalText(set: LocalSet, named?: NamedSecrets): LocalText {
  return (entry) => {
    if (isSecretFile(entry.path, set.spec.redaction, named)) return { withheld: "secret" };
    let data: Buffer | undefined;
    try {
      data = readAtMost(entry.path, MAX_TEXT_BYTES);
    } catch {
      return { withheld: "unreadable" };
    }
    if (data === undefined) return { withheld: "too large" };
    if (data.includes(0)) return { withheld: "binary" };
    const text = data.toString("utf8");
    return redactText(entry.path, set.transformText ? set.transformText(text) : text, set.spec.redaction);
  };
}

function entryTuple(entry: ManifestEntry, spec: FileSetSpec): [string, string, string] {
  return [entry.path, entryDigest(entry, spec), entry.type === "file" ? (entry.contentDigest ?? "") : ""];
}

// The peer's answers, checked before use: a peer running another build must give UNKNOWN, never a verdict.
// Plain objects (not strict), so a newer peer may add fields.
const peerEntrySchema = v.object({
  path: v.string(),
  type: v.picklist(["file", "dir", "symlink", "other", "unreadable"]),
  mode: v.number(),
  uid: v.number(),
  gid: v.number(),
  size: v.number(),
  contentDigest: v.optional(v.string()),
  binary: v.optional(v.boolean()),
  linkTarget: v.optional(v.string()),
  error: v.optional(v.string()),
  mtimeMs: v.optional(v.number()),
  ctimeMs: v.optional(v.number()),
  content: v.optional(v.string()),
  withheld: v.optional(v.picklist(["secret", "binary", "too large", "budget", "unreadable"])),
});
const digestAnswerSchema = v.record(v.string(), v.object({ digest: v.string(), count: v.number(), unreadable: v.array(v.string()) }));
const detailsAnswerSchema = v.record(v.string(), v.object({ count: v.number(), differing: v.array(peerEntrySchema), absent: v.array(v.string()), unreadable: v.array(v.string()) }));

function peerAnswer<S extends v.GenericSchema>(schema: S, value: unknown, peer: Host, op: string): v.InferOutput<S> {
  return readPeerMessage(schema, value, peer.role, op);
}

function answerFor<T>(answers: Record<string, T>, name: string, peer: Host, op: string): T {
  const answer = Object.hasOwn(answers, name) ? answers[name] : undefined;
  if (answer === undefined) throw new HostError(`${peer.role}'s carpentry gave no ${op} for ${name}`);
  return answer;
}

async function buildManifests(sets: readonly LocalSet[], signal: AbortSignal, namedSecrets: NamedSecrets): Promise<ManifestEntry[][]> {
  const manifests: ManifestEntry[][] = [];
  for (const set of sets) manifests.push(await buildManifest(set.spec, { ...(set.transformText ? { transformText: set.transformText } : {}), signal, namedSecrets }));
  return manifests;
}

/**
 * Compares file sets between this host and the peer, hash first, in one conversation with the peer's
 * carpentry: it walks its sets while we walk ours and asks about its digests; identical sets end
 * there. For the others our reply carries our entries, and its answer the entries that differ, with
 * the content of differing text files.
 */
export async function compareFileSets(peer: Host, sets: readonly LocalSet[], labels: HostLabels, deadline: AbortSignal): Promise<SetComparison[]> {
  const specs = sets.map((set) => set.spec);
  for (const spec of specs) checkRules(spec.redaction);
  const named = noNamedSecrets();
  const walking = buildManifests(sets, deadline, named);
  walking.catch(() => undefined); // Awaited below; until then a failure must not count as unhandled.
  let digests: v.InferOutput<typeof digestAnswerSchema> | undefined;
  const detailed = new Set<string>();
  const answerQuestion = async (question: unknown): Promise<unknown> => {
    digests = peerAnswer(digestAnswerSchema, (question as { digests?: unknown } | null)?.digests, peer, "fileSets question");
    const localManifests = await walking;
    const toDetail = sets.flatMap((set, index) => {
      const local = localManifests[index] ?? [];
      if (answerFor(digests ?? {}, set.spec.name, peer, "fileSets digest").digest === manifestDigest(local, set.spec)) return [];
      detailed.add(set.spec.name);
      return [{ name: set.spec.name, entries: local.map((entry) => entryTuple(entry, set.spec)) }];
    });
    return { sets: toDetail, maxContentBytes: MAX_CONTENT_BYTES_TOTAL, namedSecrets: { paths: [...named.paths], tails: [...named.tails] } };
  };
  const answer = (await peer.facts("fileSets", { sets: specs }, { answer: answerQuestion })).value;
  const localManifests = await walking;
  if (!digests) throw new HostError(`${peer.role}'s carpentry answered fileSets without asking`, "install the same carpentry build on both gateways");
  const details = peerAnswer(detailsAnswerSchema, (answer as { details?: unknown } | null)?.details, peer, "fileSets");
  return sets.map((set, index): SetComparison => {
    const local = localManifests[index] ?? [];
    const name = set.spec.name;
    const common = { name, localCount: local.length, unreadableHere: unreadablePaths(local) };
    if (!detailed.has(name)) {
      const theirs = answerFor(digests ?? {}, name, peer, "fileSets digest");
      return { ...common, peerCount: theirs.count, differences: [], unreadableOnPeer: theirs.unreadable, roundTrips: 1 };
    }
    const theirs = answerFor(details, name, peer, "fileSets");
    return { ...common, peerCount: theirs.count, differences: compareManifests(set.spec, local, theirs, readLocalText(set, named), labels), unreadableOnPeer: theirs.unreadable, roundTrips: 2 };
  });
}

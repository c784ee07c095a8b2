// Snapshots of a simulated host's file tree, to prove that running the checks changed nothing: every
// path with its type, size, mode, owner, mtime and a sha256 of its content (or its symlink target).
// Symlinks are recorded, never followed: an absolute link inside a host would resolve in our view.
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from "node:fs";
import { join } from "node:path";

export interface SnapshotEntry {
  readonly type: "file" | "dir" | "symlink" | "other";
  readonly size: bigint;
  /** permission bits and setuid/setgid/sticky, in octal */
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  /** sha256 of a file's content or a symlink's target; "" for directories and special files */
  readonly sha256: string;
}

/** path inside the host -> what it was */
export type Snapshot = ReadonlyMap<string, SnapshotEntry>;

// Hashing the machine's /var (gigabytes of apt archives seen through the overlays) for every
// snapshot would take minutes. Any write to a file moves its ctime, which no process can set, so a
// file whose device, inode, size, mtime and ctime are all unchanged holds the same bytes: its hash
// is taken from here.
const hashCache = new Map<string, string>();

function fileHash(realPath: string, stats: BigIntStats): string {
  const key = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  const cached = hashCache.get(key);
  if (cached !== undefined) return cached;
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(realPath, "r");
  try {
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) hash.update(buffer.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  const digest = hash.digest("hex");
  hashCache.set(key, digest);
  return digest;
}

function entryOf(realPath: string, stats: BigIntStats): SnapshotEntry {
  const base = { size: stats.size, mode: (stats.mode & 0o7777n).toString(8).padStart(4, "0"), uid: Number(stats.uid), gid: Number(stats.gid), mtimeNs: stats.mtimeNs };
  if (stats.isFile()) return { type: "file", ...base, sha256: fileHash(realPath, stats) };
  if (stats.isSymbolicLink()) return { type: "symlink", ...base, sha256: createHash("sha256").update(readlinkSync(realPath)).digest("hex") };
  if (stats.isDirectory()) return { type: "dir", ...base, sha256: "" };
  return { type: "other", ...base, sha256: "" };
}

/**
 * Everything at and below each root, as seen through viewOf (e.g. pair.hostPath bound to a host),
 * keyed by the path inside the host. A path that vanishes during the walk is left out.
 */
export function snapshotTrees(roots: readonly string[], viewOf: (absolutePath: string) => string): Snapshot {
  const entries = new Map<string, SnapshotEntry>();
  const visit = (path: string): void => {
    const realPath = viewOf(path);
    let stats: BigIntStats;
    try {
      stats = lstatSync(realPath, { bigint: true });
    } catch {
      return;
    }
    entries.set(path, entryOf(realPath, stats));
    if (!stats.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(realPath);
    } catch {
      return;
    }
    for (const name of names.sort()) visit(join(path, name));
  };
  for (const root of roots) visit(root);
  return entries;
}

function isAtOrUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * What changed between two snapshots, one line per path ("/etc/pf.conf: sha256, mtime changed"),
 * leaving out what is at or below an allowed path. Creating an allowed directory changes its
 * parent's mtime and, on tmpfs, its size: those two (and only those) may change on an allowed
 * path's ancestors.
 */
export function snapshotChanges(before: Snapshot, after: Snapshot, allowed: readonly string[]): string[] {
  const changes: string[] = [];
  const isAllowed = (path: string): boolean => allowed.some((dir) => isAtOrUnder(path, dir));
  const isAncestorOfAllowed = (path: string): boolean => allowed.some((dir) => dir !== path && isAtOrUnder(dir, path));
  for (const [path, old] of before) {
    if (isAllowed(path)) continue;
    const now = after.get(path);
    if (!now) {
      changes.push(`${path}: removed`);
      continue;
    }
    const fields = (["type", "size", "mode", "uid", "gid", "mtimeNs", "sha256"] as const).filter((field) => old[field] !== now[field]);
    const reported = isAncestorOfAllowed(path) && now.type === "dir" ? fields.filter((field) => field !== "mtimeNs" && field !== "size") : fields;
    if (reported.length > 0) changes.push(`${path}: ${reported.map((field) => `${field} ${String(old[field])} -> ${String(now[field])}`).join(", ")}`);
  }
  for (const path of after.keys()) {
    if (!before.has(path) && !isAllowed(path)) changes.push(`${path}: added`);
  }
  return changes.sort();
}

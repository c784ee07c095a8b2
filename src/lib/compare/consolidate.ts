// Consolidation after a primary outage: while the primary was down, admins changed files on the
// secondary; before the next primary-to-secondary sync copies the primary's older files over them,
// they must be brought back. Pure decisions here: which host changed a differing path last, whether
// the sync copies it, and the commands that copy it back (printed for the admin, never run).
import { globToRegExp } from "../facts/paths.js";
import { quote } from "../transport/shell.js";
import type { FileDifference, ManifestEntry } from "./files.js";

/** Which host changed a differing path last. */
export type ChangedLast = "primary" | "secondary" | "same time" | "unknown";

/**
 * Closer than this, the two times say nothing (file systems keep whole seconds, clocks drift by
 * a little even under ntpd): neither host is said to be newer.
 */
export const SAME_TIME_MS = 1000;

/** A change of mode or owner moves only the inode's ctime; a content change moves the mtime. */
export function timeBasis(difference: FileDifference): "mtime" | "ctime" {
  return difference.kinds.every((kind) => kind === "mode" || kind === "owner") ? "ctime" : "mtime";
}

/**
 * The host that changed the path last, from the primary's (local) and the secondary's (peer) view:
 * a path on one host only was made there last (or removed from the other, which leaves no time);
 * otherwise the later mtime (ctime for a mode or owner change), unknown when a host gave no time
 * (a peer of an older carpentry).
 */
export function changedLast(difference: FileDifference, labels: { readonly local: string; readonly peer: string }): ChangedLast {
  const side = (label: string): ChangedLast => (label === "primary" ? "primary" : "secondary");
  if (difference.kinds.includes("only on peer")) return side(labels.peer);
  if (difference.kinds.includes("only here")) return side(labels.local);
  const basis = timeBasis(difference);
  const time = (entry: ManifestEntry | undefined): number | undefined => (basis === "mtime" ? entry?.mtimeMs : entry?.ctimeMs);
  const local = time(difference.local);
  const peer = time(difference.peer);
  if (local === undefined || peer === undefined) return "unknown";
  if (Math.abs(local - peer) < SAME_TIME_MS) return "same time";
  return side(local > peer ? labels.local : labels.peer);
}

// ---- what carpentry's sync copies ----

/**
 * What carpentry's sync copies from the primary when no `sync_paths=` line says otherwise: the
 * synchronisations of a carpentry pair (pf.conf and its tables, dhcpd, unbound, the OpenVPN
 * server and clients), each pushed with scp by the sync's scripts when entr sees a change.
 */
export const DEFAULT_SYNCED_PATHS: readonly string[] = ["/etc/pf.conf", "/etc/pf.tables/", "/etc/dhcpd.conf", "/var/unbound/etc/", "/etc/openvpn/", "/etc/openv-client-*/"];

/** The paths a sync config's `sync_paths="a b"` line names (spaces or commas), else the defaults. */
export function parseSyncedPaths(text: string): readonly string[] {
  const names: string[] = [];
  let named = false;
  for (const line of text.split("\n")) {
    const match = /^\s*(?:export\s+)?(?:sync_paths|SYNC_PATHS)=(?:"([^"]*)"|'([^']*)'|(\S*))/.exec(line);
    if (!match) continue;
    named = true;
    names.push(...(match[1] ?? match[2] ?? match[3] ?? "").split(/[\s,]+/).filter((name) => name.startsWith("/")));
  }
  return named ? [...new Set(names)] : DEFAULT_SYNCED_PATHS;
}

/** Whether a path is one of the synced paths or beneath one ('*' and '?' within a component). */
export function isSynced(path: string, synced: readonly string[]): boolean {
  return synced.some((root) => {
    const trimmed = root.length > 1 ? root.replace(/\/+$/, "") : root;
    const pattern = trimmed.split("/").map((part) => globToRegExp(part).source.slice(1, -1));
    return new RegExp(`^${pattern.join("/")}(?:/.*)?$`).test(path);
  });
}

// ---- the commands that copy a path back ----

/** How the primary reaches the secondary: what scp needs of the [peer] table. */
export interface CopySource {
  readonly user: string;
  readonly host: string;
  readonly port: number;
  readonly identityFile?: string | undefined;
}

/**
 * scp (OpenBSD 7.1 and later speak SFTP by default) takes a remote path literally but for glob
 * characters and backslashes, which it expands: those are escaped with a backslash.
 */
function remotePath(source: CopySource, path: string): string {
  const host = source.host.includes(":") ? `[${source.host}]` : source.host;
  return `${source.user}@${host}:${path.replace(/[\\*?[\]]/g, "\\$&")}`;
}

/** A mode as chmod takes it: 0644. */
export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

/**
 * The commands, for ksh on the primary, that make the primary's path what the secondary has; every
 * path single-quoted. None for a name that is not UTF-8 (no portable ksh quoting holds its bytes), a
 * path whose type differs, or a special file: undefined then, and the admin copies it by hand.
 */
export function copyBackCommands(difference: FileDifference, source: CopySource): readonly string[] | undefined {
  const { path, peer } = difference;
  if (!peer) return [];
  if (path.includes("\\") || (peer.linkTarget ?? "").includes("\\")) return undefined;
  // A file where the primary has a directory (or the other way round): scp would copy into it, rm -r
  // is not ours to print.
  if (difference.kinds.includes("type")) return undefined;
  const scp = ["scp", "-p", ...(source.port !== 22 ? ["-P", String(source.port)] : []), ...(source.identityFile ? ["-i", source.identityFile] : [])].map(quote).join(" ");
  const owner = `chown ${peer.uid}:${peer.gid} ${quote(path)}`;
  const ownerDiffers = difference.kinds.includes("owner") || difference.kinds.includes("only on peer");
  const commands: string[] = [];
  const whole = difference.kinds.some((kind) => kind === "content" || kind === "only on peer" || kind === "symlink target");
  if (peer.type === "dir") {
    if (whole) commands.push(`mkdir -p -m ${octal(peer.mode)} ${quote(path)}`);
    else if (difference.kinds.includes("mode")) commands.push(`chmod ${octal(peer.mode)} ${quote(path)}`);
  } else if (peer.type === "symlink") {
    commands.push(`ln -sfh ${quote(peer.linkTarget ?? "")} ${quote(path)}`);
  } else if (peer.type === "file") {
    // scp -p keeps the mode and the times, never the owner.
    if (whole) commands.push(`${scp} ${quote(remotePath(source, path))} ${quote(path)}`);
    else if (difference.kinds.includes("mode")) commands.push(`chmod ${octal(peer.mode)} ${quote(path)}`);
  } else {
    return undefined;
  }
  if (ownerDiffers && peer.type !== "symlink") commands.push(owner);
  return commands;
}

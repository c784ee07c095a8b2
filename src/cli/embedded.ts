// The parts of dist/carpentry that are carried as strings (the CLI's commands, the cycle server: see
// build.mjs) are compiled when a command needs them. V8 compiles some 400 KB of the cycle server
// every minute on a gateway otherwise: its code cache, kept in the suite's state directory per build,
// halves that (measured: 80 ms of CPU to 35 ms). The cache is V8's own format, checked by V8 against
// the source and its flags; a stale or foreign one is rejected and written anew. It is kept only in a
// directory of ours alone, as the cycle server's socket is.
import { Script } from "node:vm";
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeFileSync, constants } from "node:fs";
import { BUILD } from "../lib/runtime/version.js";

const STATE_DIR = "/var/db/carpentry";
const CACHE_DIR = `${STATE_DIR}/compile-cache`;
/** A code cache is a few hundred KB; anything much larger is not one of ours. */
const MAX_CACHE_BYTES = 16 * 1024 * 1024;

interface EmbeddedModule {
  exports: unknown;
}

/** A directory that is ours alone to trust: not a link, our euid's, writable by no one else. */
function ours(path: string, uid: number): boolean {
  try {
    const stat = lstatSync(path);
    return stat.isDirectory() && stat.uid === uid && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function cacheDirectory(): string | undefined {
  const uid = process.geteuid?.();
  if (uid === undefined || !ours(STATE_DIR, uid)) return undefined;
  try {
    mkdirSync(CACHE_DIR, { mode: 0o700 });
  } catch {
    // there already, or not ours to make: ours() decides
  }
  return ours(CACHE_DIR, uid) ? CACHE_DIR : undefined;
}

function readCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_CACHE_BYTES) return undefined;
    const data = Buffer.alloc(stat.size);
    return readSync(fd, data, 0, stat.size, 0) === stat.size ? data : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes this build's cache and removes the ones of earlier builds of the same module. */
function writeCache(directory: string, name: string, data: Buffer): void {
  const file = `${directory}/${name}-${BUILD}.v8`;
  const temporary = `${file}.${process.pid}`;
  try {
    writeFileSync(temporary, data, { mode: 0o600, flag: "wx" });
    renameSync(temporary, file);
    for (const entry of readdirSync(directory)) {
      if (entry.startsWith(`${name}-`) && entry.endsWith(".v8") && entry !== `${name}-${BUILD}.v8`) unlinkSync(`${directory}/${entry}`);
    }
  } catch {
    // A cache not written costs the next run its compile time, nothing else.
  }
}

/** Runs one embedded module's code as CommonJS, with V8's code cache where the state directory allows. */
export function runEmbedded(code: string, name: string, load: NodeJS.Require, filename: string, dirname: string): unknown {
  const directory = cacheDirectory();
  const file = directory ? `${directory}/${name}-${BUILD}.v8` : undefined;
  const cachedData = file ? readCache(file) : undefined;
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename, cachedData });
  // Written at exit, once the command has compiled what it uses: the next run finds those functions too.
  if (directory && (cachedData === undefined || script.cachedDataRejected === true)) process.once("exit", () => writeCache(directory, name, script.createCachedData()));
  const module: EmbeddedModule = { exports: {} };
  (script.runInThisContext() as (this: unknown, ...args: unknown[]) => void).call(module.exports, module.exports, load, module, filename, dirname);
  return module.exports;
}

// Pid files as locks between processes (O_EXCL create, our pid inside): the ssh master lock and
// session slots, and the report's mail spool. A holder that died leaves its file behind; the next
// process that finds it breaks it.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";

/** A pid file this old is a leftover even if its pid now names a live process (pids are reused). */
const PID_FILE_STALE_MS = 3600_000;
const heldPidFiles = new Set<string>();
let exitHookInstalled = false;

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function releasePidFile(path: string): void {
  heldPidFiles.delete(path);
  try {
    unlinkSync(path);
  } catch {
    // Removed as stale by another process: nothing to release.
  }
}

/**
 * Creates the file holding our pid, if nobody holds it; released at our exit at the latest. Throws
 * what the file system says for anything but the file being there already.
 */
export function takePidFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  }
  writeSync(fd, String(process.pid));
  closeSync(fd);
  heldPidFiles.add(path);
  if (!exitHookInstalled) {
    // A check ended by its deadline exits without unwinding; what it holds must not outlive it.
    process.once("exit", () => [...heldPidFiles].forEach(releasePidFile));
    exitHookInstalled = true;
  }
  return true;
}

/** The pid a pid file holds; undefined when it holds none (yet) or is gone. */
export function pidFileHolder(path: string): number | undefined {
  try {
    const holder = Number.parseInt(readFileSync(path, "utf8"), 10);
    return Number.isInteger(holder) && holder > 0 ? holder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a pid file whose holder is gone: its process has exited, it holds our own pid but not for
 * us (a pid reused), or it is very old (a pid reused by another process, say after a power cut: a
 * spool outlives a reboot). Whether it is gone now. A file with no pid yet is a holder between its
 * open and its write.
 */
export function removeIfStale(path: string): boolean {
  try {
    const holder = pidFileHolder(path);
    const writtenMs = statSync(path).mtimeMs;
    const dead = holder !== undefined && (holder === process.pid ? !heldPidFiles.has(path) : !processAlive(holder));
    if (!dead && Date.now() - writtenMs <= PID_FILE_STALE_MS) return false;
  } catch {
    return true; // Released while we looked: free to take now.
  }
  try {
    unlinkSync(path);
  } catch {
    // Another waiter removed it first.
  }
  return true;
}

// A file read for the readFiles op: hashed whole, chunk by chunk, in bounded memory and within the
// request's deadline; its content kept only up to the size the asker said it wants.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

const CHUNK_BYTES = 64 * 1024;
/** The most content a readFiles request may ask for per file: the largest file a check shows whole is far smaller. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

export interface BoundedRead {
  readonly sha256: string;
  readonly binary: boolean;
  /** The whole content, when the file has at most maxBytes; otherwise undefined. */
  readonly content: Buffer | undefined;
}

/**
 * Reads `path` once: at most maxBytes + 1 bytes are held (to tell a file of maxBytes from a longer
 * one), the rest only passes through the hash. Between chunks the event loop runs, so the deadline
 * can stop a read of a huge file.
 */
export async function readBounded(path: string | Buffer, maxBytes: number, signal: AbortSignal): Promise<BoundedRead> {
  const hash = createHash("sha256");
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let binary = false;
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      if (!binary && chunk.includes(0)) binary = true;
      if (keptBytes <= maxBytes) {
        const room = maxBytes + 1 - keptBytes;
        kept.push(Buffer.from(chunk.subarray(0, room)));
        keptBytes += Math.min(room, bytesRead);
      }
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest("hex"), binary, content: keptBytes <= maxBytes ? Buffer.concat(kept) : undefined };
}

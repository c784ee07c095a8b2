// A check's one deadline: one AbortSignal that every process, wait and facts request obeys, and the
// time left, for what must be told a number (the peer's own budget).
import { TimeoutError } from "./errors.js";

/** What the peer is given is this much less than ours, so it gives up and says why before we kill the connection. */
const PEER_MARGIN_MS = 1000;
/** The least a peer is given, however little we have left: below it, it could not even start. */
const PEER_MIN_MS = 1000;

export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly atMs: number;

  /** Aborts `ms` from now with a TimeoutError saying `timed out after Ns`. */
  constructor(ms: number) {
    this.atMs = performance.now() + ms;
    this.timer = setTimeout(() => this.controller.abort(new TimeoutError(`timed out after ${ms / 1000}s`)), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether it was the deadline, not end(), that aborted the signal. */
  get expired(): boolean {
    return this.controller.signal.reason instanceof TimeoutError;
  }

  remainingMs(): number {
    return Math.max(0, this.atMs - performance.now());
  }

  /** The budget to give the peer's carpentry for a request. */
  peerBudgetMs(): number {
    return Math.max(PEER_MIN_MS, this.remainingMs() - PEER_MARGIN_MS);
  }

  /** The work is over: whatever it left running is stopped now. */
  end(): void {
    clearTimeout(this.timer);
    if (!this.controller.signal.aborted) this.controller.abort(new Error("the check has finished"));
  }
}

import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { HostError } from "../lib/runtime/errors.js";
import { peerName, runOne } from "../lib/transport/host.js";
import { result } from "../lib/runtime/result.js";
import { peerNotAnswered, resultFromFindings } from "../lib/runtime/findings.js";

/**
 * Always a fresh connection: with multiplexing, a live master would keep answering after the peer's
 * sshd died, and the next reboot of the peer would find it unreachable.
 */
export const check: CheckDefinition = {
  name: "peer",
  title: "the peer gateway answers over SSH and runs a command",
  roles: ["primary", "secondary"],
  usesPeer: true,
  reads: ["peer: runs /usr/bin/true over a new SSH connection (never the shared one)"],
  states: {
    OK: "the peer ran the command",
    WARNING: "never",
    CRITICAL:
      "the peer cannot be reached or cannot run a command: connection refused, timed out (also a peer that accepts the connection and never answers), host key mismatch, authentication refused...",
    UNKNOWN: "bad config, or the check's own deadline (-t) expired before ssh's connect timeout ([peer] connect_timeout) did",
  },
  settings: v.strictObject({}),
  async run(ctx) {
    const peer = ctx.freshPeer();
    const started = performance.now();
    try {
      const answer = await runOne(peer, { argv: ["/usr/bin/true"] });
      const elapsedMs = Math.round(performance.now() - started);
      if (answer.exitCode !== 0) {
        return result("CRITICAL", `${peerName(ctx.peerRole, ctx.config.peer.host)} cannot run commands (exit ${answer.exitCode})`, answer.stderr.trim() ? [answer.stderr.trim()] : []);
      }
      return result("OK", `${peerName(ctx.peerRole, ctx.config.peer.host)} answers over SSH in ${elapsedMs} ms`, [], [{ label: "ssh_time", value: elapsedMs, uom: "ms", min: 0 }]);
    } catch (error) {
      // A peer that reboots under maintenance cannot be reached: its maintenance excuses it.
      if (error instanceof HostError) return peerNotAnswered(resultFromFindings([{ status: "CRITICAL", summary: error.summary, detail: error.detail ?? [], maintenance: [ctx.peerRole] }], ""));
      throw error;
    }
  },
};

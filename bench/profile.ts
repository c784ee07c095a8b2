// --profile: where the time of a missed target goes. One run of a check as it really runs, profiled on
// both hosts: the unminified build of the check (.bench/prof/) inside the primary under node
// --cpu-prof, and every `carpentry facts` it starts on the secondary, also unminified and under
// --cpu-prof, through a wrapper the primary's config names as [peer] carpentry_path (so the peer
// answers the check's real requests). The .cpuprofile files go to .bench/profiles/ (open them in
// Chrome DevTools); the summary gives self time by function and by origin.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import type { HostName, Pair } from "../test/harness/pair.js";
import { measureIn } from "./probe.js";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly label: string;
  readonly file: string;
  /** The profiled span (process start to exit, as sampled). */
  readonly profiledMs: number;
  /** Self time by function, the largest first. */
  readonly top: readonly { readonly fn: string; readonly selfMs: number; readonly share: number }[];
  /** Self time by where the code lives: our bundle, node's own modules, GC, idle (waiting). */
  readonly byOrigin: Readonly<Record<string, number>>;
}

export interface ProfiledRun {
  readonly label: string;
  readonly wallMs: number;
  readonly exitCode: number | null;
  readonly firstLine: string;
  /** The primary's check first, then each of the secondary's facts processes in start order. */
  readonly profiles: readonly ProfileSummary[];
}

function origin(frame: ProfileNode["callFrame"]): string {
  if (frame.functionName === "(garbage collector)") return "gc";
  if (frame.functionName === "(idle)") return "idle (waiting: child processes, the peer)";
  if (frame.functionName === "(program)") return "program (native, not JS)";
  if (frame.url.startsWith("node:")) return "node internals";
  if (frame.url.endsWith(".cjs")) return "carpentry code";
  return "other (native fs, crypto)";
}

/** Self time per function from the samples (each sample's time delta goes to the function on top of the stack). */
function summarizeProfile(label: string, file: string, profile: CpuProfile, topCount = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  const byOrigin: Record<string, number> = {};
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    totalUs += delta;
    const name = `${frame.functionName || "(anonymous)"} ${frame.url ? `${path.basename(frame.url)}:${frame.lineNumber + 1}` : ""}`.trim();
    selfUs.set(name, (selfUs.get(name) ?? 0) + delta);
    const where = origin(frame);
    byOrigin[where] = (byOrigin[where] ?? 0) + delta / 1000;
  });
  const top = [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topCount)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, share: us / totalUs }));
  for (const key of Object.keys(byOrigin)) byOrigin[key] = Math.round(byOrigin[key] ?? 0);
  return { label, file, profiledMs: totalUs / 1000, top, byOrigin };
}

const PROFILE_DIR = "/root/bench-prof";
const OUT_DIR = `${PROFILE_DIR}/out`;
const PEER_WRAPPER = `${PROFILE_DIR}/carpentry-profiled`;
const CONFIG_PATH = "/etc/carpentry.monit/carpentry.toml";

/** Copies the unminified builds into both hosts, and the secondary's profiling wrapper for `carpentry`. */
export async function installProfiledBuilds(pair: Pair, repo: string): Promise<void> {
  for (const host of ["primary", "secondary"] as const) {
    for (const file of readdirSync(path.join(repo, ".bench", "prof"))) {
      await pair.writeFile(host, `${PROFILE_DIR}/${file}`, readFileSync(path.join(repo, ".bench", "prof", file)), { mode: 0o700 });
    }
  }
  const wrapper = `#!/bin/sh\nexec /usr/local/bin/node --cpu-prof --cpu-prof-dir=${OUT_DIR} ${PROFILE_DIR}/carpentry.cjs "$@"\n`;
  await pair.writeFile("secondary", PEER_WRAPPER, wrapper, { mode: 0o700 });
}

function keepProfiles(pair: Pair, host: HostName, repo: string, label: string): ProfileSummary[] {
  const keptDir = path.join(repo, ".bench", "profiles");
  mkdirSync(keptDir, { recursive: true });
  // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile: the names sort in start order.
  const written = readdirSync(pair.hostPath(host, OUT_DIR))
    .filter((file) => file.endsWith(".cpuprofile"))
    .sort();
  return written.map((file, index) => {
    const name = written.length > 1 ? `${label}-${index + 1}` : label;
    const kept = path.join(keptDir, `${name}.cpuprofile`);
    copyFileSync(pair.hostPath(host, `${OUT_DIR}/${file}`), kept);
    return summarizeProfile(name, path.relative(repo, kept), JSON.parse(readFileSync(kept, "utf8")) as CpuProfile);
  });
}

/**
 * One profiled run of `program` (an unminified check in .bench/prof/) inside the primary, its peer
 * requests answered by the profiled `carpentry` on the secondary. The primary's config is restored
 * afterwards.
 */
export async function profileCheck(pair: Pair, repo: string, label: string, program: string, args: readonly string[]): Promise<ProfiledRun> {
  for (const host of ["primary", "secondary"] as const) rmSync(pair.hostPath(host, OUT_DIR), { recursive: true, force: true });
  const config = readFileSync(pair.hostPath("primary", CONFIG_PATH), "utf8");
  if (!/^\[peer\]$/m.test(config)) throw new Error(`${CONFIG_PATH} on the primary has no [peer] table`);
  await pair.writeConfig("primary", config.replace(/^\[peer\]$/m, `[peer]\ncarpentry_path = "${PEER_WRAPPER}"`));
  try {
    const argv = ["/usr/local/bin/node", "--cpu-prof", `--cpu-prof-dir=${OUT_DIR}`, `${PROFILE_DIR}/${program}`, ...args];
    const measured = await measureIn(pair, "primary", argv, { timeoutMs: 180_000 });
    return {
      label,
      wallMs: measured.wallMs,
      exitCode: measured.code,
      firstLine: measured.stdout.trim().split("\n")[0]?.slice(0, 120) ?? "",
      profiles: [...keepProfiles(pair, "primary", repo, `${label}-primary`), ...keepProfiles(pair, "secondary", repo, `${label}-peer-facts`)],
    };
  } finally {
    await pair.writeConfig("primary", config);
  }
}

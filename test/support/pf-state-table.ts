// Large `pfctl -vvss` and `pfctl -si` outputs for tests, made by repeating and varying the derived
// OpenBSD 7.x fixtures (test/fixtures/openbsd/derived_pfctl_vvss_openbsd7.txt, src/sim/captures/derived_pfctl_si_openbsd7.txt):
// no real capture of either exists, so a generated table is only ever that format with other numbers.
import { fixture } from "./fixtures.js";

export interface GeneratedState {
  readonly id: bigint;
  /** 8 hex digits: the hostid of the gateway that created the state. */
  readonly creatorid: string;
  readonly ageSeconds: number;
  readonly expiresSeconds: number;
}

/** The derived fixture's states, three lines each: the state, `age …`, `id: … creatorid: …`. */
function templates(): string[][] {
  const lines = fixture("derived_pfctl_vvss_openbsd7.txt")
    .split("\n")
    .filter((line) => line !== "");
  const blocks: string[][] = [];
  for (let i = 0; i < lines.length; i += 3) blocks.push(lines.slice(i, i + 3));
  return blocks;
}

function clock(seconds: number): string {
  const part = (n: number): string => String(n).padStart(2, "0");
  return `${part(Math.floor(seconds / 3600))}:${part(Math.floor(seconds / 60) % 60)}:${part(seconds % 60)}`;
}

/** One state per entry, cycling through the fixture's states with the age, expiry and ids changed. */
export function stateTableText(states: readonly GeneratedState[]): string {
  const blocks = templates();
  const out: string[] = [];
  states.forEach((state, index) => {
    const [head = "", age = "", ids = ""] = blocks[index % blocks.length] ?? [];
    out.push(head);
    out.push(age.replace(/age \d+:\d+:\d+, expires in \d+:\d+:\d+/, `age ${clock(state.ageSeconds)}, expires in ${clock(state.expiresSeconds)}`));
    out.push(ids.replace(/id: [0-9a-f]{16} creatorid: [0-9a-f]{8}/, `id: ${state.id.toString(16).padStart(16, "0")} creatorid: ${state.creatorid}`));
  });
  return out.map((line) => `${line}\n`).join("");
}

/** A small deterministic generator, so a failing test fails the same way every run. */
function prng(seed: number): () => number {
  let value = seed >>> 0;
  return () => {
    value = (value * 1664525 + 1013904223) >>> 0;
    return value / 2 ** 32;
  };
}

export interface StateRun {
  readonly count: number;
  readonly creatorid: string;
  /** pf starts a host's ids at its boot time << 32 and counts up; live ids have gaps where states expired. */
  readonly firstId?: bigint;
  readonly maxGap?: number;
  readonly ageSeconds?: number;
  readonly expiresSeconds?: number;
  readonly seed?: number;
}

export function generateStates(run: StateRun): GeneratedState[] {
  const random = prng(run.seed ?? 1);
  const states: GeneratedState[] = [];
  let id = run.firstId ?? 0x6a1f000000000000n;
  for (let i = 0; i < run.count; i++) {
    id += BigInt(1 + Math.floor(random() * (run.maxGap ?? 8)));
    states.push({ id, creatorid: run.creatorid, ageSeconds: run.ageSeconds ?? 600, expiresSeconds: run.expiresSeconds ?? 86400 });
  }
  return states;
}

/** `pfctl -si` of the derived fixture with another `current entries` count (printed as `  %-25s %14u %14s`). */
export function pfctlInfoText(currentEntries: number): string {
  const row = `  ${"current entries".padEnd(25)} ${String(currentEntries).padStart(14)} ${"".padStart(14)}`;
  return fixture("derived_pfctl_si_openbsd7.txt").replace(/^ {2}current entries .*$/m, row);
}

// carpentry facts: the peer's side of the exchange (see src/lib/facts.ts). Reads one JSON request on
// stdin, prints one JSON answer on stdout, exits 0 whenever it could answer.
import type { Command } from "commander";
import { answerFacts } from "../lib/facts.js";
import { writeOut } from "../lib/runner.js";
import "../lib/facts-ops.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function runFacts(): Promise<never> {
  let request: unknown;
  try {
    request = JSON.parse(await readStdin());
  } catch {
    request = undefined;
  }
  writeOut(JSON.stringify(await answerFacts(request)) + "\n");
  process.exit(0);
}

export function registerFactsCommand(program: Command): void {
  program
    .command("facts", { hidden: true })
    .description("answer a JSON request from the peer on stdin (used over ssh by the other gateway)")
    .action(runFacts);
}

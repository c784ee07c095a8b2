// The registry: every check the CLI lists and runs, in the order `carpentry list` shows them.
import type { CheckDefinition } from "../lib/check.js";
import { check as peer } from "./peer.js";

export const ALL_CHECKS: readonly CheckDefinition[] = [peer];

export function findCheck(name: string): CheckDefinition | undefined {
  const bare = name.replace(/^check_/, "");
  return ALL_CHECKS.find((check) => check.name === bare);
}

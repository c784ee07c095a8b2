// The "shell" op: a check's commands, run here in a /bin/sh of their own, as a session of their own
// would run them. Checks that ask together (carpentry run, a monit cycle) send their commands this way
// among their other requests: one ssh session and one peer process for all, each check's commands
// side by side with the others', so a slow command holds up its own check only.
import * as v from "valibot";
import { runInShell } from "../transport/host.js";
import { ProcessScope } from "../transport/process.js";
import { registerFacts } from "./protocol.js";

/** A check sends a few commands at a time; more is not a check's request. */
const MAX_COMMANDS = 64;
const MAX_ARG_CHARS = 4096;

const argv = v.pipe(v.array(v.pipe(v.string(), v.maxLength(MAX_ARG_CHARS))), v.minLength(1), v.maxLength(64));
const commandSchema = v.strictObject({
  argv: v.optional(argv),
  pipeline: v.optional(v.pipe(v.array(argv), v.minLength(1), v.maxLength(8))),
  input: v.optional(v.pipe(v.string(), v.maxLength(64 * 1024))),
});
const argsSchema = v.strictObject({ commands: v.pipe(v.array(commandSchema), v.maxLength(MAX_COMMANDS)) });

registerFacts("shell", async (args, deadline) => {
  const parsed = v.safeParse(argsSchema, args);
  if (!parsed.success) throw new Error(`shell: ${parsed.issues[0].message}`);
  return runInShell(new ProcessScope(deadline), parsed.output.commands);
});

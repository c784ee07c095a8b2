// The `carpentry` command: the same checks as the standalone executables, for an admin at a shell
// (list, check, run, config check), for cron (report) and for the primary asking the peer (facts).
import { Command, CommanderError, Option } from "commander";
import { installCrashHandlers, writeOut } from "../lib/runtime/runner.js";
import { EXIT_CODE } from "../lib/runtime/result.js";
import { VERSION } from "../lib/runtime/version.js";
import { registerCheckCommands } from "./run.js";
import { registerConfigCommands } from "./config.js";
import { registerDemoCommand } from "./demo.js";
import { registerDocsCommand } from "./docs.js";
import { registerFactsCommand } from "./facts.js";
import { registerInitCommand } from "./init.js";
import { registerReportCommand } from "./report.js";

installCrashHandlers("carpentry");

const program = new Command("carpentry")
  .description("health and drift checks for a pair of OpenBSD CARP gateways")
  .version(VERSION, "-V, --version")
  .addOption(new Option("--config <path>", "config file (default $CARPENTRY_CONFIG or /etc/carpentry.monit/carpentry.toml)"))
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({ writeOut, writeErr: writeOut });

registerCheckCommands(program);
registerConfigCommands(program);
registerInitCommand(program);
registerFactsCommand(program);
registerReportCommand(program);
registerDocsCommand(program);
registerDemoCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    // --help and --version are not failures; a usage error is UNKNOWN, as for the checks.
    const fine = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code);
    process.exit(fine ? 0 : EXIT_CODE.UNKNOWN);
  }
  throw error;
});

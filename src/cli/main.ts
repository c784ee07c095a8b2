// The `carpentry` command: the same checks as the standalone executables, for an admin at a shell
// (list, check, run, config check), for cron (report) and for the primary asking the peer (facts).
import { Command, CommanderError, Option } from "commander";
import { errorResult, installCrashHandlers, writeOut } from "../lib/runtime/runner.js";
import { CarpentryError } from "../lib/runtime/errors.js";
import { EXIT_CODE, formatText } from "../lib/runtime/result.js";
import { VERSION } from "../lib/runtime/version.js";
import { registerCheckCommands } from "./run.js";
import { registerConfigCommands } from "./config.js";
import { registerConsolidateCommand } from "./consolidate.js";
import { registerDemoCommand } from "./demo.js";
import { registerDocsCommand } from "./docs.js";
import { registerFactsCommand } from "./facts.js";
import { registerInitCommand } from "./init.js";
import { registerMaintenanceCommand } from "./maintenance.js";
import { registerMetricsCommand } from "./metrics.js";
import { registerReportCommand } from "./report.js";

installCrashHandlers("carpentry");

// With --json, a usage error is one JSON object too, as a script reading the output expects: what
// commander would print is kept and said in it.
const json = process.argv.slice(2).includes("--json");
let said = "";

function usageFailed(summary: string, details: string[]): never {
  if (json) writeOut(JSON.stringify({ status: "UNKNOWN", code: EXIT_CODE.UNKNOWN, summary, details, checks: [] }) + "\n");
  else writeOut(formatText({ status: "UNKNOWN", summary, details, perfdata: [] }, true));
  process.exit(EXIT_CODE.UNKNOWN);
}

const program = new Command("carpentry")
  .description("health and drift checks for a pair of OpenBSD CARP gateways")
  .version(VERSION, "-V, --version")
  .addOption(new Option("--config <path>", "config file (default $CARPENTRY_CONFIG or /etc/carpentry.monit/carpentry.toml)"))
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({ writeOut, writeErr: json ? (text) => void (said += text) : writeOut });

registerCheckCommands(program);
registerConfigCommands(program);
registerInitCommand(program);
registerFactsCommand(program);
registerReportCommand(program);
registerMetricsCommand(program);
registerMaintenanceCommand(program);
registerConsolidateCommand(program);
registerDocsCommand(program);
registerDemoCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    // --help and --version are not failures; a usage error is UNKNOWN, as for the checks.
    const fine = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code);
    if (fine) process.exit(0);
    if (json)
      usageFailed(
        `bad arguments: ${
          error.message
            .replace(/^error: /, "")
            .split("\n")[0]
            ?.slice(0, 50) ?? ""
        }`,
        said.split("\n").filter((line) => line.trim() !== ""),
      );
    process.exit(EXIT_CODE.UNKNOWN);
  }
  if (error instanceof CarpentryError) {
    const res = errorResult(error);
    usageFailed(res.summary, res.details);
  }
  throw error;
});

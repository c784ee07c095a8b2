// carpentry config check: validate the config, print it with every default filled in, and say what
// each check will read on which host.
import type { Command } from "commander";
import { stringify } from "smol-toml";
import { ALL_CHECKS } from "../checks/index.js";
import { pfTablesSelection } from "../checks/pf-tables.js";
import { CarpentryError } from "../lib/runtime/errors.js";
import { loadConfig } from "../lib/runtime/config.js";
import { EXIT_CODE, formatText } from "../lib/runtime/result.js";
import { errorResult, writeOut } from "../lib/runtime/runner.js";
import { configPathOf } from "./run.js";

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("the config file");
  config
    .command("check")
    .description("validate the config, print the effective config and what each check reads on which host")
    .action(() => {
      const path = configPathOf(program);
      let loaded;
      try {
        loaded = loadConfig(path, { all: ALL_CHECKS });
      } catch (error) {
        writeOut(formatText(errorResult(error), true));
        process.exit(EXIT_CODE.UNKNOWN);
      }
      const lines = [`# ${path}: OK`, "# effective config, defaults included:", stringify(loaded).trimEnd(), "", "# what each check reads:"];
      for (const check of ALL_CHECKS) {
        const applies = check.roles.includes(loaded.role);
        lines.push(`check_${check.name}${applies ? "" : `  (not on the ${loaded.role})`}`);
        if (applies) for (const item of check.reads) lines.push(`  ${item}`);
      }
      lines.push("", ...pfTablesLines(loaded));
      writeOut(lines.join("\n") + "\n");
    });
}

/** Which pf tables check_pf_tables compares with this config on this host, and which it leaves out, with why. */
function pfTablesLines(config: Parameters<typeof pfTablesSelection>[0]): string[] {
  try {
    const selection = pfTablesSelection(config);
    const how = selection.explicit ? "[checks.pf_tables] tables" : "the default rule: this host's pf.conf and carpentry's sync config";
    return [
      `# pf tables check_pf_tables compares (${how}):`,
      ...(selection.comparedWhy.length === 0 ? ["  compared: none"] : selection.comparedWhy.map((table) => `  compared: ${table.name}: ${table.why}`)),
      ...selection.leftOut.map((table) => `  left out: ${table.name}: ${table.why}`),
    ];
  } catch (error) {
    if (!(error instanceof CarpentryError)) throw error;
    return [`# pf tables check_pf_tables compares: cannot tell: ${error.summary}`];
  }
}

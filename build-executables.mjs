// Which executable is built from which check module, derived from the check registry
// (src/checks/index.ts): adding a check is its module plus its line in the registry. Each executable's
// entry imports only the export that holds its check, so it bundles that one check module and not
// the registry's every check.
import { build } from "esbuild";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = fileURLToPath(new URL(".", import.meta.url));

/**
 * @returns {Promise<{ executable: string; entry: string }[]>} in registry order; entry is the
 * TypeScript source of the executable, to be bundled with resolveDir at the repo's root.
 */
// Files the bundles take in as strings: carpentry demo's shell scripts and the OpenBSD captures it
// prints, and the monitrc examples carpentry init writes a gateway's monitrc from.
export const TEXT_LOADERS = { ".sh": "text", ".txt": "text", ".example": "text" };

export async function checkExecutables() {
  const modules = readdirSync(join(repo, "src/checks"))
    .filter((file) => file.endsWith(".ts") && file !== "index.ts")
    .map((file) => file.slice(0, -".ts".length));
  // One bundle holds the registry and every check module, so a registered check is the very object
  // a module exports (or an element of an exported array, as drift's built-in sets are).
  const probe = await build({
    stdin: {
      contents: ['export { ALL_CHECKS } from "./src/checks/index.ts";', ...modules.map((module) => `export * as ${JSON.stringify(module)} from "./src/checks/${module}.ts";`)].join("\n"),
      resolveDir: repo,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    loader: TEXT_LOADERS,
    write: false,
    logLevel: "warning",
  });
  const dir = mkdtempSync(join(tmpdir(), "carpentry-registry-"));
  let loaded;
  try {
    const file = join(dir, "registry.mjs");
    writeFileSync(file, probe.outputFiles[0].text);
    loaded = await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return loaded.ALL_CHECKS.map((check) => {
    const found = [];
    for (const module of modules) {
      for (const [name, value] of Object.entries(loaded[module])) {
        if (value === check) found.push({ module, expression: name });
        else if (Array.isArray(value) && value.includes(check)) found.push({ module, expression: `${name}[${value.indexOf(check)}]` });
      }
    }
    if (found.length !== 1) {
      const where = found.map(({ module, expression }) => `${module}.ts ${expression}`).join(", ");
      throw new Error(
        `check_${check.name}: the registry's check must be exported by exactly one module of src/checks, as a const or an element of a const array; found ${found.length}${where ? `: ${where}` : ""}`,
      );
    }
    const [{ module, expression }] = found;
    const binding = expression.replace(/\[\d+\]$/, "");
    return {
      executable: `check_${check.name}`,
      entry: `import { ${binding} } from "./src/checks/${module}.ts";\nimport { runStandalone } from "./src/lib/runtime/runner.ts";\nrunStandalone(${expression});\n`,
    };
  });
}

// Bundles the benchmark (bench/run.ts and the TypeScript harness it drives) into .bench/run.mjs, so it
// runs on plain node. The harness finds its scripts and fixtures next to itself through
// import.meta.url; in a bundle that would point into .bench/, so each module gets its own source
// location instead, as when it runs unbundled.
// Snapshots dist/ into .bench/dist/ (what the pair installs), so a rebuild of dist/ by someone else
// during a long run cannot change or remove the programs under measurement.
// Also builds unminified copies of the programs `--profile` profiles (.bench/prof/*.cjs), so a CPU
// profile names our functions rather than the minifier's.
import { build } from "esbuild";
import { cpSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TEXT_LOADERS, checkExecutables } from "../build-executables.mjs";

const repo = fileURLToPath(new URL("..", import.meta.url));
rmSync(`${repo}/.bench/dist`, { recursive: true, force: true });
cpSync(`${repo}/dist`, `${repo}/.bench/dist`, { recursive: true });

const PROFILED = ["check_pf_tables", "check_drift_vpn"];
const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const unminified = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  define: { __CARPENTRY_VERSION__: JSON.stringify(pkg.version) },
  loader: TEXT_LOADERS,
  logLevel: "warning",
};
const profiled = (await checkExecutables())
  .filter(({ executable }) => PROFILED.includes(executable))
  .map(({ executable, entry }) =>
    build({
      ...unminified,
      stdin: {
        contents: entry,
        resolveDir: repo,
        sourcefile: `${executable}.ts`,
        loader: "ts",
      },
      outfile: `${repo}/.bench/prof/${executable}.cjs`,
    }),
  );
profiled.push(build({ ...unminified, entryPoints: [`${repo}/src/cli/main.ts`], outfile: `${repo}/.bench/prof/carpentry.cjs` }));
await Promise.all(profiled);

await build({
  entryPoints: [fileURLToPath(new URL("./run.ts", import.meta.url))],
  outfile: fileURLToPath(new URL("../.bench/run.mjs", import.meta.url)),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  packages: "external",
  loader: TEXT_LOADERS, // the harness loads the simulation model of src/sim, as the demo does
  logLevel: "warning",
  plugins: [
    {
      name: "own-location",
      setup(pluginBuild) {
        pluginBuild.onLoad({ filter: /\.ts$/ }, async (args) => ({
          contents: (await readFile(args.path, "utf8")).replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
          loader: "ts",
        }));
      },
    },
  ],
});

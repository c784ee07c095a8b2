// Builds one self-contained executable per check (dist/checks/check_NAME) and the CLI (dist/carpentry).
// Each file starts as a tiny sh script that finds node where OpenBSD puts it (/usr/local/bin), since
// monit's PATH lacks it and `#!/usr/bin/env node` alone would fail there; node then reads the same
// file as JavaScript (the second line is a string and a comment to it). A node that is there but
// cannot be executed (OpenBSD refuses node, which needs W^X memory, from a file system not mounted
// wxallowed) makes the exec fail: ksh and sh then exit through the EXIT trap, which says so in one
// line with exit 3 instead of the shell's "Permission denied" and 126. A successful exec drops the trap.
import { build } from "esbuild";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { TEXT_LOADERS, checkExecutables } from "./build-executables.mjs";
import { cycleHeaderLines } from "./cycle-header.mjs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
// On Node 22 and later the header also points node's compile cache into the suite's state directory
// (when it exists and no cache is set already): V8 then loads each executable's compiled code instead
// of compiling it at every start, which takes back what bundling execa adds to a cold start. Node 20
// ignores the variable; a directory node cannot write only turns the cache off.
const nodeLine =
  '":" //; [ -d /var/db/carpentry ] && [ -z "${NODE_COMPILE_CACHE+set}" ] && export NODE_COMPILE_CACHE=/var/db/carpentry/compile-cache; ' +
  `trap 'echo "UNKNOWN: $n cannot start (OpenBSD: mount /usr/local wxallowed)"; exit 3' 0; ` +
  'for n in /usr/local/bin/node /usr/bin/node; do [ -x "$n" ] && exec "$n" "$0" "$@"; done; ' +
  'n=$(command -v node) && exec "$n" "$0" "$@"; ' +
  'trap - 0; echo "UNKNOWN: node not found in /usr/local/bin, /usr/bin or PATH (pkg_add node)"; exit 3';
const header = ["#!/bin/sh", nodeLine].join("\n");

// The build's id: a check's header is served only by a cycle server of the same build, so a server
// left running by the previous install never answers for the new checks. A digest of what went into
// the build: the same sources give the same id.
function buildId() {
  const digest = createHash("sha256");
  const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(`${dir}/${entry.name}`) : [`${dir}/${entry.name}`]));
  for (const file of [...files("src").sort(), "package.json", "package-lock.json", "build.mjs", "build-executables.mjs", "cycle-header.mjs"]) {
    digest.update(file).update("\0").update(readFileSync(file)).update("\0");
  }
  return digest.digest("hex").slice(0, 16);
}
const BUILD = buildId();

// execa as a check uses it on OpenBSD: the parts of its dependencies that serve only its verbose
// logging (colours, symbols, durations), Windows (cross-spawn) or local npm binaries (npm-run-path)
// are replaced by what they amount to here. Their module set-up was a third of execa's first-call
// cost. The e2e tests run these built files, so a stub that falls short fails them.
const EXECA_ON_POSIX = {
  figures: "export default {};",
  yoctocolors: "const same = (text) => text; export { same as gray, same as bold, same as redBright, same as yellowBright };",
  "pretty-ms": "export default (ms) => `${ms}ms`;",
  "cross-spawn": "export default { _parse: (command, args, options) => ({ command, args, options }) };",
  "npm-run-path": 'export const npmRunPathEnv = () => { throw new Error("preferLocal is not used"); };',
};
const execaOnPosix = {
  name: "execa-on-posix",
  setup(builder) {
    const names = new RegExp(`^(${Object.keys(EXECA_ON_POSIX).join("|")})$`);
    builder.onResolve({ filter: names }, (args) => ({ path: args.path, namespace: "execa-on-posix" }));
    builder.onLoad({ filter: /.*/, namespace: "execa-on-posix" }, (args) => ({ contents: EXECA_ON_POSIX[args.path], loader: "js" }));
  },
};

const common = {
  plugins: [execaOnPosix],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  legalComments: "none",
  banner: { js: header },
  define: { __CARPENTRY_VERSION__: JSON.stringify(pkg.version), __CARPENTRY_BUILD__: JSON.stringify(BUILD) },
  loader: TEXT_LOADERS,
  logLevel: "warning",
};

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/checks", { recursive: true });
// The repo is an ES module package; the built files are CommonJS, which is how they run when copied
// alone, so say so for runs in place too.
writeFileSync("dist/package.json", '{ "type": "commonjs" }\n');

const executables = await checkExecutables();
const jobs = executables.map(({ executable, entry }) =>
  build({
    ...common,
    // Each check asks the cycle server first (cycle-header.mjs), then starts node as before.
    banner: { js: ["#!/bin/sh", ...cycleHeaderLines(executable, BUILD), nodeLine].join("\n") },
    stdin: {
      contents: entry,
      resolveDir: ".",
      sourcefile: `${executable}.ts`,
      loader: "ts",
    },
    outfile: `dist/checks/${executable}`,
  }),
);
// `carpentry facts` starts on the peer for every data check of the primary, and V8 parses a script
// whole before running it: the rest of the CLI (commander, nodemailer, the demo: four fifths of the
// file) is carried as a string, which V8 only scans, and compiled when a command other than facts runs
// (src/cli/embedded.ts, with V8's code cache in the state directory).
const embedMainCli = {
  name: "embed-main-cli",
  setup(builder) {
    builder.onResolve({ filter: /^\.\/(main|cycle)\.js$/ }, (args) => (args.importer.endsWith("carpentry.ts") ? { path: args.path.slice(2, -3), namespace: "embedded" } : undefined));
    builder.onLoad({ filter: /.*/, namespace: "embedded" }, async (args) => {
      const main = await build({ ...common, banner: {}, entryPoints: [`src/cli/${args.path}.ts`], write: false, outfile: `${args.path}.js` });
      const code = main.outputFiles[0].text;
      return {
        loader: "js",
        resolveDir: "src/cli",
        contents: `module.exports = require("./embedded.ts").runEmbedded(${JSON.stringify(code)}, ${JSON.stringify(args.path)}, require, __filename, __dirname);`,
      };
    });
  },
};
jobs.push(build({ ...common, entryPoints: ["src/cli/carpentry.ts"], outfile: "dist/carpentry", plugins: [execaOnPosix, embedMainCli] }));
await Promise.all(jobs);
for (const { executable } of executables) chmodSync(`dist/checks/${executable}`, 0o755);
chmodSync("dist/carpentry", 0o755);
console.log(`built ${executables.length} checks and the CLI into dist/`);

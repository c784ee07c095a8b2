// npm run docs: replaces the generated per-check section of README.md with what the built CLI says.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const generated = execFileSync("node", ["dist/carpentry", "docs"], { encoding: "utf8" }).trimEnd();
const readme = readFileSync("README.md", "utf8");
const begin = readme.indexOf("<!-- checks:begin");
const end = readme.indexOf("<!-- checks:end -->");
if (begin === -1 || end === -1) throw new Error("README.md has no <!-- checks:begin --> ... <!-- checks:end --> section");
writeFileSync("README.md", readme.slice(0, begin) + generated + readme.slice(end + "<!-- checks:end -->".length));
console.log("README.md: check section updated");

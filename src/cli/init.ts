// carpentry init: run once on each gateway. It looks at this host and the peer with plain read-only
// commands and writes carpentry.toml and monitrc for this host's role, each choice commented with its
// reason, so that `carpentry run` on a healthy pair is all OK from the start.
//
// The peer is asked with plain commands of OpenBSD's base system over ssh, never with `carpentry
// facts`: init runs while the pair is being set up, when the peer may not have carpentry yet, or an
// older copy whose facts lack what init needs; ifconfig, pfctl, rcctl, pgrep, cat and ls are there on
// every gateway and only read.
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command, Option } from "commander";
import primaryExample from "../../monitrc.primary.example";
import secondaryExample from "../../monitrc.secondary.example";
import { ALL_CHECKS } from "../checks/index.js";
import { parseConfig, type Role } from "../lib/runtime/config.js";
import { CarpentryError } from "../lib/runtime/errors.js";
import { Deadline } from "../lib/runtime/deadline.js";
import { writeOut } from "../lib/runtime/runner.js";
import { LocalHost, SshHost } from "../lib/transport/host.js";
import { ProcessScope } from "../lib/transport/process.js";
import { configPathOf } from "./run.js";
import { planFor, renderMonitrc, renderToml, surveyCommands, surveyFrom, type HostSurvey } from "./init-plan.js";

/**
 * Exit codes: everything decided and written (or printed); written, with what could not be decided
 * (or what this version's checks would not accept) listed; nothing written.
 */
const INIT_EXIT = { decided: 0, undecided: 1, failed: 3 } as const;

interface InitOptions {
  role: Role;
  peer: string;
  monitrc: string;
  dryRun?: boolean;
  force?: boolean;
  alert?: string;
  timeout: string;
  peerUser?: string;
  peerPort?: string;
  identityFile?: string;
}

function fail(message: string, detail?: string): never {
  writeOut(`init: ${message}\n${detail ? `${detail}\n` : ""}`);
  process.exit(INIT_EXIT.failed);
}

/** Writes the file 0600, keeping what was there as PATH.bak. */
function replaceFile(path: string, text: string): string | undefined {
  let backup: string | undefined;
  if (existsSync(path)) {
    backup = `${path}.bak`;
    copyFileSync(path, backup);
    chmodSync(backup, 0o600);
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return backup;
}

async function runInit(program: Command, options: InitOptions): Promise<void> {
  const configPath = configPathOf(program);
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600) fail(`bad --timeout ${options.timeout}`, "expected seconds, above 0 and at most 600");
  // The [peer] keys given on the command line: init reaches the peer with them, and writes them.
  const peerLines = [
    ...(options.peerUser !== undefined ? [`user = ${JSON.stringify(options.peerUser)}`] : []),
    ...(options.peerPort !== undefined ? [`port = ${Number(options.peerPort)}`] : []),
    ...(options.identityFile !== undefined ? [`identity_file = ${JSON.stringify(options.identityFile)}`] : []),
  ];
  let peerConfig;
  try {
    const toml = `role = ${JSON.stringify(options.role)}\n[peer]\nhost = ${JSON.stringify(options.peer)}\n${peerLines.join("\n")}\n`;
    peerConfig = parseConfig(toml, "--role/--peer options", { all: [] }).peer;
  } catch (error) {
    if (error instanceof CarpentryError) fail(error.summary, error.detail);
    fail(String(error));
  }
  if (!options.dryRun && !options.force) {
    const present = [configPath, options.monitrc].filter((path) => existsSync(path));
    if (present.length > 0)
      fail(`${present.join(" and ")} already exist${present.length === 1 ? "s" : ""}: nothing written`, "--dry-run shows what init would write; --force replaces them, keeping each as .bak");
  }

  const role = options.role;
  const peerRole: Role = role === "primary" ? "secondary" : "primary";
  const deadline = new Deadline(seconds * 1000);
  const scope = new ProcessScope(deadline.signal);
  const commands = surveyCommands();
  let local: HostSurvey;
  let peer: HostSurvey | undefined;
  let peerProblem: string | undefined;
  try {
    const localHost = new LocalHost(role, scope, deadline);
    const peerHost = new SshHost({ role: peerRole, peer: peerConfig, scope, deadline, multiplexing: undefined });
    const [mine, theirs] = await Promise.all([
      localHost.run(commands),
      peerHost.run(commands).then(
        (results) => results,
        (error: unknown) => {
          peerProblem = error instanceof CarpentryError ? error.summary : error instanceof Error ? error.message : String(error);
          return undefined;
        },
      ),
    ]);
    local = surveyFrom(mine);
    peer = theirs && surveyFrom(theirs);
  } catch (error) {
    fail(`cannot read this host: ${error instanceof CarpentryError ? error.summary : error instanceof Error ? error.message : String(error)}`);
  } finally {
    deadline.end();
  }

  const plan = planFor(role, options.peer, local, peer, peerProblem);
  const when = new Date().toISOString().slice(0, 10);
  const toml = renderToml(plan, when, peerLines);
  const monitrc = renderMonitrc(plan, role === "primary" ? primaryExample : secondaryExample, when, options.alert);
  const notes: string[] = [];
  try {
    parseConfig(toml, configPath, { all: ALL_CHECKS });
  } catch (error) {
    notes.push(`this version of the checks does not accept the written config yet: ${error instanceof CarpentryError ? error.summary : String(error)}`);
  }

  const lines: string[] = [];
  if (options.dryRun) {
    lines.push(`==> ${configPath} <==`, toml, `==> ${options.monitrc} <==`, monitrc);
  } else {
    for (const [path, text] of [
      [configPath, toml],
      [options.monitrc, monitrc],
    ] as const) {
      let backup: string | undefined;
      try {
        backup = replaceFile(path, text);
      } catch (error) {
        fail(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      lines.push(`wrote ${path} (0600)${backup ? `, the old one kept as ${backup}` : ""}`);
    }
  }
  lines.push(`the ${peerRole} (${options.peer}): ${peer ? "asked" : `could not be asked: ${peerProblem ?? "no answer"}`}`);
  if (plan.undecided.length > 0) lines.push("could not decide:", ...plan.undecided.map((item) => `  - ${item}`));
  if (notes.length > 0) lines.push("check the config:", ...notes.map((item) => `  - ${item}`));
  lines.push(options.dryRun ? "nothing written (--dry-run)" : `next: ${configPath.endsWith("carpentry.toml") ? "" : `CARPENTRY_CONFIG=${configPath} `}carpentry config check; monit -t; carpentry run`);
  writeOut(`${lines.join("\n")}\n`);
  process.exit(plan.undecided.length > 0 || notes.length > 0 ? INIT_EXIT.undecided : INIT_EXIT.decided);
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description("look at this gateway and its peer (read-only) and write carpentry.toml and monitrc for this role, each choice with its reason")
    .addOption(new Option("--role <role>", "this host's role").choices(["primary", "secondary"]).makeOptionMandatory())
    .requiredOption("--peer <host>", "the other gateway, as ssh reaches it (root's known_hosts must know it)")
    .option("--peer-user <user>", "the user ssh logs in as on the peer ([peer] user, default root)")
    .option("--peer-port <port>", "the peer's ssh port ([peer] port, default 22)")
    .option("--identity-file <path>", "the ssh key to log in with ([peer] identity_file)")
    .option("--monitrc <path>", "where to write monit's control file", "/etc/monitrc")
    .option("--alert <address>", "who gets monit's alerts (set alert)")
    .option("-n, --dry-run", "print both files instead of writing them")
    .option("-f, --force", "replace existing files, keeping each as PATH.bak")
    .option("-t, --timeout <seconds>", "deadline for asking both hosts", "30")
    .addHelpText(
      "after",
      [
        "",
        "The config goes where --config, $CARPENTRY_CONFIG or the default (/etc/carpentry.monit/carpentry.toml) says.",
        "Only reads, on both hosts: ifconfig carp, pfctl -vsT, rcctl ls on, pgrep, cat and ls of the files the checks watch.",
        "Exit: 0 written (or printed) with every choice decided; 1 written, with what could not be decided (or what",
        "this version of the checks does not accept) listed here and in both files; 3 nothing written.",
      ].join("\n"),
    )
    .action((options: InitOptions) => runInit(program, options));
}

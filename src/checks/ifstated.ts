// check_ifstated: the files ifstated(8) switches by CARP state (resolv.conf, smtpd.conf, ntpd.conf,
// each kept as a .carp-master and a .carp-backup variant) are, on this host, the variant for its
// current state of the carp interface that drives ifstated, and ifstated runs. A host that became
// MASTER while still holding the backup smtpd.conf relays its mail to a peer that is no longer there.
// Local only: each gateway's monit judges its own files, so a dead peer does not blind it.
import { basename } from "node:path";
import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { absolutePath, checkSettings, interfaceName, type Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError } from "../lib/runtime/errors.js";
import { parseRcctlCheck } from "../lib/parse/rcctl.js";
import { readFilesOn, type FileFacts } from "../lib/facts/files.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import type { CarpInterface } from "../lib/parse/ifconfig.js";
import { parseIfstatedConf } from "../lib/parse/ifstated.js";
import type { Result } from "../lib/runtime/result.js";
import type { CommandResult } from "../lib/transport/shell.js";
import { readIfconfigCarp } from "./carp.js";

/** The files a carpentry pair switches by carp state (mail relay, time source, resolver) when ifstated.conf names no variant itself. */
const DEFAULT_FILES = ["/etc/mail/smtpd.conf", "/etc/ntpd.conf", "/etc/resolv.conf"];
const MAX_CONF_BYTES = 256 * 1024;
export const VARIANTS = ["carp-master", "carp-backup"] as const;
export type Variant = (typeof VARIANTS)[number];

/** [checks.ifstated] */
const settingsSchema = v.strictObject({
  conf: v.optional(absolutePath, "/etc/ifstated.conf"),
  // The carp interface whose state picks the variant; default: the one ifstated.conf's conditions name.
  carp: v.optional(interfaceName),
  // The switched files; default: those ifstated.conf names with a .carp-master/.carp-backup suffix.
  files: v.optional(v.array(absolutePath)),
  service: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_]+$/, "an rc.d service name")), "ifstated"),
});

export type ServiceState = "ok" | "failed" | "missing";

/** `rcctl check NAME`: NAME(ok) exit 0, NAME(failed) exit 1, an unknown service exit 2 on stderr. */
function readServiceState(service: string, answer: CommandResult): ServiceState {
  if (answer.exitCode === 2 && /does not exist/.test(answer.stderr)) return "missing";
  if (answer.exitCode !== 0 && answer.exitCode !== 1) throw commandFailed(`rcctl check ${service}`, undefined, answer);
  const checked = parseRcctlCheck(answer.stdout);
  if (checked.service !== service) throw new HostError(`rcctl check ${service} answered for ${checked.service}`);
  return checked.ok ? "ok" : "failed";
}

export interface SwitchedFile {
  readonly path: string;
  readonly live: FileFacts;
  readonly master: FileFacts;
  readonly backup: FileFacts;
}

export interface IfstatedFacts {
  readonly role: Role;
  readonly confPath: string;
  /** The carp interface that drives ifstated, and where that was learnt. */
  readonly carp: { readonly name: string; readonly from: "config" | "ifstated.conf" } | undefined;
  /** Why no carp interface could be told, when carp is undefined. */
  readonly carpProblem?: string;
  /** `ifconfig carpN` on this host; null when that interface does not exist. */
  readonly carpInterface: CarpInterface | null;
  readonly files: readonly SwitchedFile[];
  /** Where the file list came from. */
  readonly filesFrom: "config" | "ifstated.conf" | "default";
  readonly service: { readonly name: string; readonly state: ServiceState };
}

/** MASTER: ifstated's `carpN.link.up` holds (carp's link is up only while MASTER); anything else is the backup side. */
export function expectedVariant(carp: CarpInterface): Variant {
  const master = carp.status !== null ? carp.status === "master" : carp.vhids.some((vhid) => vhid.state === "MASTER");
  return master ? "carp-master" : "carp-backup";
}

function carpStateWord(carp: CarpInterface): string {
  const states = [...new Set(carp.vhids.map((vhid) => vhid.state))];
  return states.length > 0 ? states.join("/") : (carp.status ?? "unknown").toUpperCase();
}

function unreadable(file: FileFacts): string | undefined {
  if (file.type === "missing") return undefined;
  if (file.type !== "file") return `it is a ${file.type}, not a regular file`;
  if (file.error !== undefined) return file.error;
  if (file.sha256 === undefined) return "no hash";
  return undefined;
}

/** Facts -> Result; pure. */
export function decideIfstated(facts: IfstatedFacts): Result {
  const findings: Finding[] = [];
  const context: string[] = [];
  if (facts.service.state !== "ok") {
    const why = facts.service.state === "missing" ? `there is no rc.d service ${facts.service.name}` : `rcctl check ${facts.service.name}: ${facts.service.name}(failed)`;
    findings.push({ status: "CRITICAL", summary: `${facts.service.name} not running`, detail: `${why}: nothing switches the files on a failover (rcctl start ${facts.service.name})` });
  }
  if (facts.carp === undefined) {
    findings.push({ status: "UNKNOWN", summary: "cannot tell which carp interface drives ifstated", detail: `${facts.carpProblem ?? ""}: set [checks.ifstated] carp = "carpN"` });
    return resultFromFindings(findings, "", context);
  }
  const carpName = facts.carp.name;
  if (facts.carpInterface === null) {
    findings.push({
      status: "CRITICAL",
      summary: `${carpName} does not exist on ${facts.role}`,
      detail: `ifstated follows ${carpName} (from ${facts.carp.from}), which ifconfig does not know on the ${facts.role}`,
    });
    return resultFromFindings(findings, "", context);
  }
  const wanted = expectedVariant(facts.carpInterface);
  const other: Variant = wanted === "carp-master" ? "carp-backup" : "carp-master";
  const state = carpStateWord(facts.carpInterface);
  const agreeing: string[] = [];
  for (const file of facts.files) {
    const byVariant: Record<Variant, FileFacts> = { "carp-master": file.master, "carp-backup": file.backup };
    // ifstated.conf may switch with `ln -sf VARIANT FILE` instead of cp: the link's target tells the variant.
    if (file.live.type === "symlink") {
      const target = file.live.linkTarget ?? "";
      const pointsTo = (variant: Variant): boolean => target === `${file.path}.${variant}` || target === `${basename(file.path)}.${variant}`;
      if (pointsTo(wanted)) agreeing.push(`${file.path}: a link to the ${wanted} variant`);
      else {
        const found = pointsTo(other) ? `the ${other} variant` : "neither variant";
        findings.push({
          status: "CRITICAL",
          summary: `${file.path} is ${found}, ${carpName} is ${state}`,
          detail: `${file.path} links to ${found === "neither variant" ? "neither variant" : `${file.path}.${other}`} while ${carpName} is ${state} on the ${facts.role}: expected ${file.path}.${wanted}`,
        });
      }
      continue;
    }
    const problems = [file.live, file.master, file.backup].flatMap((f) => {
      const why = unreadable(f);
      return why === undefined ? [] : [`${f.path}: ${why}`];
    });
    if (problems.length > 0) {
      findings.push({ status: "UNKNOWN", summary: `cannot read ${problems[0]?.split(":")[0] ?? file.path}`, detail: problems.join("; ") });
      continue;
    }
    const want = byVariant[wanted];
    if (file.live.type === "missing") {
      findings.push({ status: "CRITICAL", summary: `${file.path} missing (${carpName} ${state})`, detail: `${file.path} does not exist; ${carpName} is ${state}: expected a copy of ${want.path}` });
      continue;
    }
    if (want.type === "missing") {
      findings.push({ status: "CRITICAL", summary: `${want.path} missing`, detail: `${carpName} is ${state} but ${want.path} does not exist: ifstated has nothing to switch to` });
      continue;
    }
    if (file.live.sha256 === want.sha256) {
      agreeing.push(`${file.path}: the ${wanted} variant`);
      continue;
    }
    const found = byVariant[other].type !== "missing" && file.live.sha256 === byVariant[other].sha256 ? `the ${other} variant` : "neither variant";
    findings.push({
      status: "CRITICAL",
      summary: `${file.path} is ${found}, ${carpName} is ${state}`,
      detail: `${file.path} is ${found} while ${carpName} is ${state} on the ${facts.role}: expected ${want.path} (ifstated did not switch it, or it was edited in place)`,
    });
  }
  context.push(`ifstated follows ${carpName} (${facts.carp.from}): ${state} on the ${facts.role}, so the ${wanted} variants`, ...agreeing);
  if (facts.files.length === 0) context.push(`no switched file found (from ${facts.filesFrom})`);
  const count = facts.files.length;
  const okSummary = `${count} switched file${count === 1 ? " matches" : "s match"} ${carpName} ${state}; ${facts.service.name} running`;
  return resultFromFindings(findings, okSummary, context, [{ label: "files", value: count, min: 0 }]);
}

// ---- gathering ----

function fileFacts(files: readonly FileFacts[], path: string): FileFacts {
  return files.find((file) => file.path === path) ?? { path, type: "missing" };
}

export const check: CheckDefinition = {
  name: "ifstated",
  title: "the files ifstated switches are the variant for this host's carp state, and ifstated runs",
  roles: ["primary", "secondary"],
  usesPeer: false,
  reads: [
    "this host only, in-process: /etc/ifstated.conf (which carpN.link conditions drive it, and every path it names with a .carp-master or .carp-backup suffix: the files it switches)",
    "this host: each switched file and its two variants, compared by sha256 (never printed)",
    "this host, one batch: /sbin/ifconfig carpN (the carp interface ifstated follows) and /usr/sbin/rcctl check ifstated",
    "config [checks.ifstated]: conf (/etc/ifstated.conf), carp (default: the carp interface ifstated.conf's conditions name), files (default: the paths ifstated.conf switches, else /etc/mail/smtpd.conf, /etc/ntpd.conf, /etc/resolv.conf where a variant exists), service (ifstated)",
  ],
  states: {
    OK: "each switched file equals its .carp-master variant while this host is MASTER of the carp interface ifstated follows (its link is up), its .carp-backup variant otherwise; ifstated runs. Also OK when there is no ifstated.conf and nothing is configured",
    WARNING: "never",
    CRITICAL:
      "a switched file is the other variant, or neither (the summary names the file, the carp state and what was found), the live file or the variant it should be is missing, the carp interface does not exist, or ifstated is not running (rcctl check)",
    UNKNOWN:
      "ifstated.conf names no carpN.link condition or several (set carp), a file cannot be read, ifconfig or rcctl fail or print what the parser does not understand, bad config, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const { files: confFiles } = await readFilesOn(ctx.local, { paths: [settings.conf], withContent: true, maxBytes: MAX_CONF_BYTES });
    const conf = fileFacts(confFiles, settings.conf);
    const where = `${settings.conf} on ${ctx.role}`;
    if (conf.type === "missing" && settings.carp === undefined && settings.files === undefined) {
      return resultFromFindings([], `no ${settings.conf}: nothing is switched by carp state here`);
    }
    let parsed: { carpInterfaces: readonly string[]; switchedFiles: readonly string[] } = { carpInterfaces: [], switchedFiles: [] };
    if (conf.type !== "missing") {
      const why = unreadable(conf) ?? (conf.content === undefined ? `not text, or larger than ${MAX_CONF_BYTES} bytes` : undefined);
      if (why !== undefined) throw new HostError(`cannot read ${where}`, why);
      parsed = parseIfstatedConf(conf.content ?? "", where);
    }
    let carp: IfstatedFacts["carp"];
    let carpProblem: string | undefined;
    if (settings.carp !== undefined) carp = { name: settings.carp, from: "config" };
    else if (parsed.carpInterfaces.length === 1) carp = { name: parsed.carpInterfaces[0] ?? "", from: "ifstated.conf" };
    else carpProblem = parsed.carpInterfaces.length === 0 ? `${where} tests no carpN.link condition` : `${where} tests several carp interfaces (${parsed.carpInterfaces.join(", ")})`;

    const filesFrom: IfstatedFacts["filesFrom"] = settings.files !== undefined ? "config" : parsed.switchedFiles.length > 0 ? "ifstated.conf" : "default";
    const candidates = settings.files ?? (parsed.switchedFiles.length > 0 ? parsed.switchedFiles : DEFAULT_FILES);
    const paths = candidates.flatMap((path) => [path, `${path}.carp-master`, `${path}.carp-backup`]);
    const commands = [...(carp ? [{ argv: ["/sbin/ifconfig", carp.name] }] : []), { argv: ["/usr/sbin/rcctl", "check", settings.service] }];
    const { files, alongside } = await readFilesOn(ctx.local, { paths, withContent: false, maxBytes: 0 }, commands);
    const rcctl = alongside.at(-1);
    if (!rcctl) throw new HostError(`no answer from ${ctx.local.label}`);
    const ifconfig = carp ? alongside[0] : undefined;
    let carpInterface: CarpInterface | null = null;
    if (carp && ifconfig) {
      try {
        carpInterface = readIfconfigCarp(ctx.role, ifconfig).find((iface) => iface.name === carp.name) ?? null;
      } catch (error) {
        if (error instanceof ParseError) throw new ParseError(`${ctx.role}'s ${error.what}`, error.reason, error.lineNumber, error.lineText);
        throw error;
      }
    }
    const switched = candidates
      .map((path): SwitchedFile => ({ path, live: fileFacts(files, path), master: fileFacts(files, `${path}.carp-master`), backup: fileFacts(files, `${path}.carp-backup`) }))
      // A default file with neither variant is not switched on this pair.
      .filter((file) => filesFrom !== "default" || file.master.type !== "missing" || file.backup.type !== "missing");
    return decideIfstated({
      role: ctx.role,
      confPath: settings.conf,
      carp,
      ...(carpProblem !== undefined ? { carpProblem } : {}),
      carpInterface,
      files: switched,
      filesFrom,
      service: { name: settings.service, state: readServiceState(settings.service, rcctl) },
    });
  },
};

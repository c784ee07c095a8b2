// check_drift_scripts, _pf, _dhcp, _unbound, _vpn, _ifstated, _sshkeys (one built-in file set each) and
// check_drift --set NAME (a [drift.NAME] set of the admin's). Sync runs one way, primary to secondary,
// so these run on the primary: every file of the set must be the same on the secondary, a file added
// in a watched directory included (the entr watchers that trigger the sync miss those).
import type { CheckDefinition, CheckContext } from "../lib/runtime/check.js";
import {
  compareFileSets,
  hostValueMapper,
  hostValueMapping,
  MAX_CONTENT_BYTES_TOTAL,
  MAX_TEXT_BYTES,
  type EntryType,
  type FileDifference,
  type HostLabels,
  type LocalSet,
  type ManifestEntry,
  type SetComparison,
  type Withheld,
} from "../lib/compare/files.js";
import { changedLast, octal } from "../lib/compare/consolidate.js";
import type { Config, DriftSetConfig } from "../lib/runtime/config.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { result, type Result } from "../lib/runtime/result.js";

const SET_DEFAULTS: Omit<DriftSetConfig, "paths"> = { exclude: [], secret_files: [], compare_owner: true, compare_mode: true, host_specific: false };

export type BuiltinSetName = "scripts" | "pf" | "dhcp" | "unbound" | "vpn" | "ifstated" | "sshkeys";

/** The built-in sets; a [drift.NAME] table of the same name replaces one as a whole. */
export const BUILTIN_DRIFT_SETS: Readonly<Record<BuiltinSetName, DriftSetConfig & { readonly description: string }>> = {
  scripts: {
    ...SET_DEFAULTS,
    description: "carpentry's scripts, monit checks and rc.d service",
    paths: ["/root/bin/", "/etc/carpentry.bin/", "/etc/carpentry.monit/", "/etc/rc.d/carpentry"],
    // The config names the host's role: it differs by design.
    exclude: ["/etc/carpentry.monit/carpentry.toml"],
  },
  pf: { ...SET_DEFAULTS, description: "pf.conf and the file-persisted pf tables", paths: ["/etc/pf.conf", "/etc/pf.tables/"] },
  dhcp: { ...SET_DEFAULTS, description: "dhcpd.conf", paths: ["/etc/dhcpd.conf"] },
  unbound: { ...SET_DEFAULTS, description: "unbound's configuration directory", paths: ["/var/unbound/etc/"] },
  vpn: { ...SET_DEFAULTS, description: "the OpenVPN server and client directories", paths: ["/etc/openvpn/", "/etc/openv-client-*/"] },
  ifstated: {
    ...SET_DEFAULTS,
    description: "ifstated.conf and the per-state files it switches",
    paths: [
      "/etc/ifstated.conf",
      "/etc/mail/smtpd.conf.carp-master",
      "/etc/mail/smtpd.conf.carp-backup",
      "/etc/ntpd.conf.carp-master",
      "/etc/ntpd.conf.carp-backup",
      "/etc/resolv.conf.carp-master",
      "/etc/resolv.conf.carp-backup",
    ],
    host_specific: true,
  },
  // The secondary gets the primary's host keys, so that whoever holds the carp address answers ssh
  // with one key. The private keys are secret files: only whether they differ is ever said.
  sshkeys: {
    ...SET_DEFAULTS,
    description: "the SSH host keys",
    paths: ["/etc/ssh/ssh_host_*_key.pub", "/etc/ssh/ssh_host_*_key"],
    secret_files: ["/etc/ssh/ssh_host_*_key"],
  },
};

const isBuiltin = (name: string): name is BuiltinSetName => Object.hasOwn(BUILTIN_DRIFT_SETS, name);
const BUILTIN_PATHS = (name: string): string => (isBuiltin(name) ? BUILTIN_DRIFT_SETS[name].paths.join(", ") : name);

/** The set as this config has it: its own [drift.NAME] table, else the built-in one. */
export function resolveDriftSet(config: Config, name: string): DriftSetConfig | undefined {
  return Object.hasOwn(config.drift, name) ? config.drift[name] : isBuiltin(name) ? BUILTIN_DRIFT_SETS[name] : undefined;
}

/** The admin's own sets: the [drift.NAME] tables that are not built-in sets. */
export function userDriftSets(config: Config): string[] {
  return Object.keys(config.drift)
    .filter((name) => !isBuiltin(name))
    .sort();
}

export function localSet(config: Config, configPath: string, name: string, set: DriftSetConfig): LocalSet {
  const spec = {
    name,
    paths: set.paths,
    exclude: set.exclude,
    compareOwner: set.compare_owner,
    compareMode: set.compare_mode,
    redaction: { patterns: config.redact.patterns, secretFiles: set.secret_files },
  };
  if (!set.host_specific) return { spec };
  const mapping = hostValueMapping(config.host_specific, configPath);
  return mapping.size > 0 ? { spec, transformText: hostValueMapper(mapping) } : { spec };
}

// ---- the decision ----

const TYPE_NAMES: Readonly<Record<EntryType, string>> = { file: "file", dir: "directory", symlink: "symlink", other: "special file", unreadable: "unreadable path" };

function typeName(entry: ManifestEntry | undefined): string {
  return entry ? TYPE_NAMES[entry.type] : "missing path";
}

const WITHHELD_TEXT: Readonly<Record<Exclude<Withheld, "too large">, string>> = {
  secret: "a secret file: content not shown",
  binary: "binary",
  budget: `not diffed: ${MAX_CONTENT_BYTES_TOTAL / 1024 / 1024} MiB of content already fetched`,
  unreadable: "cannot be read for a diff",
};

function contentNote(difference: FileDifference): string {
  const content = difference.content;
  if (!content || content.kind === "diff") return "content differs";
  if (content.kind === "secrets only") return "content differs only in masked secrets (not shown)";
  if (content.kind === "too different") return "content differs (too different to diff)";
  if (content.reason === "too large") {
    const bytes = Math.max(difference.local?.size ?? 0, difference.peer?.size ?? 0);
    return `content differs (${bytes} bytes, too large to diff: over ${MAX_TEXT_BYTES / 1024} KiB)`;
  }
  return `content differs (${WITHHELD_TEXT[content.reason]})`;
}

/** One line a difference: what differs and how, with both hosts' values (never a file's content). */
export function describeDifference(difference: FileDifference, labels: HostLabels): { summary: string; detail: string } {
  const { path, local, peer } = difference;
  const parts: string[] = [];
  for (const kind of difference.kinds) {
    if (kind === "only here") parts.push(`only on ${labels.local}`);
    else if (kind === "only on peer") parts.push(`only on ${labels.peer}`);
    else if (kind === "type") parts.push(`a ${typeName(local)} on ${labels.local}, a ${typeName(peer)} on ${labels.peer}`);
    else if (kind === "content") parts.push(contentNote(difference));
    else if (kind === "mode") parts.push(`mode ${octal(local?.mode ?? 0)} on ${labels.local}, ${octal(peer?.mode ?? 0)} on ${labels.peer}`);
    else if (kind === "owner") parts.push(`owner ${local?.uid}:${local?.gid} on ${labels.local}, ${peer?.uid}:${peer?.gid} on ${labels.peer}`);
    else parts.push(`symlink to ${local?.linkTarget} on ${labels.local}, to ${peer?.linkTarget} on ${labels.peer}`);
  }
  const kinds = difference.kinds;
  const [only] = kinds;
  const short = kinds.length === 1 && (only === "only here" || only === "only on peer" || only === "type") ? (parts[0] ?? "") : `${kinds.join(", ")} differ${kinds.length === 1 ? "s" : ""}`;
  return { summary: `${path} ${short}`, detail: `${path}: ${parts.join("; ")}` };
}

/**
 * Facts -> Result: one finding a differing path (CRITICAL: the secondary would not behave as the
 * primary after a failover, a wrong mode included), the unified diffs after all of them, so the 500
 * bytes monit keeps list every path before the first diff line.
 */
export function driftResult(comparisons: readonly SetComparison[], labels: HostLabels, builtinSets: ReadonlySet<string> = new Set()): Result {
  const findings: Finding[] = [];
  const unused: string[] = [];
  const diffLines: string[] = [];
  const newerFindings: Finding[] = [];
  const prefix = (name: string): string => (comparisons.length > 1 ? `${name}: ` : "");
  let paths = 0;
  let differing = 0;
  for (const comparison of comparisons) {
    paths += Math.max(comparison.localCount, comparison.peerCount);
    differing += comparison.differences.length;
    if (comparison.localCount === 0 && comparison.peerCount === 0 && builtinSets.has(comparison.name)) {
      // A built-in set names what a carpentry pair may run (OpenVPN, dhcpd...): a pair
      // that runs none of it has nothing to keep alike, which is no fault.
      unused.push(comparison.name);
    } else if (comparison.localCount === 0 && comparison.peerCount === 0) {
      findings.push({
        status: "WARNING",
        summary: `${prefix(comparison.name)}none of the set's paths exists on either host`,
        detail: `set ${comparison.name}: none of its paths exists on ${labels.local} or ${labels.peer}: nothing to compare (a typo in [drift.${comparison.name}] paths?)`,
      });
    }
    for (const [role, unreadable] of [
      [labels.local, comparison.unreadableHere],
      [labels.peer, comparison.unreadableOnPeer],
    ] as const) {
      for (const path of unreadable)
        findings.push({ status: "UNKNOWN", summary: `${prefix(comparison.name)}cannot read ${path} on ${role}`, detail: `${prefix(comparison.name)}cannot read ${path} on ${role}` });
    }
    for (const difference of comparison.differences) {
      const { summary, detail } = describeDifference(difference, labels);
      // On both hosts and changed last on the secondary: the next sync would copy the primary's older
      // version over it. Said first, so the alert warns before that work is lost. (A path only on
      // the secondary says so already, and no sync copies over it.)
      const newer = difference.local !== undefined && labels.peer === "secondary" && changedLast(difference, labels) === "secondary";
      const finding: Finding = {
        status: "CRITICAL",
        summary: `${newer ? `newer on the ${labels.peer}: ` : ""}${prefix(comparison.name)}${summary}`,
        detail: `${prefix(comparison.name)}${detail}${newer ? `; newer on the ${labels.peer} (carpentry consolidate tells how to copy it back before a sync overwrites it)` : ""}`,
      };
      (newer ? newerFindings : findings).push(finding);
      if (difference.content?.kind === "diff") diffLines.push(...difference.content.lines);
    }
  }
  findings.unshift(...newerFindings);
  const inUse = comparisons.filter((comparison) => !unused.includes(comparison.name)).map((comparison) => comparison.name);
  const unusedNote = unused.map((name) => `${name}: not in use: none of ${BUILTIN_PATHS(name)} exists on ${labels.local} or ${labels.peer}`);
  const okSummary =
    inUse.length === 0
      ? `${unused.join(", ")}: not in use (no file on either host)`
      : `${inUse.join(", ")}: ${paths} path${paths === 1 ? "" : "s"} the same on ${labels.local} and ${labels.peer}${unused.length > 0 ? `; ${unused.join(", ")} not in use` : ""}`;
  return resultFromFindings(
    findings,
    okSummary,
    [...unusedNote, ...diffLines],
    [
      { label: "paths", value: paths, min: 0 },
      { label: "differing", value: differing, min: 0 },
    ],
  );
}

// ---- the checks ----

async function compareSets(ctx: CheckContext, names: readonly string[]): Promise<Result> {
  const sets = names.map((name) => localSet(ctx.config, ctx.configPath, name, resolveDriftSet(ctx.config, name) as DriftSetConfig));
  const labels = { local: ctx.role, peer: ctx.peerRole };
  // Built-in sets the config does not redefine: with no file on either host, they are not in use.
  const builtin = new Set(names.filter((name) => isBuiltin(name) && !Object.hasOwn(ctx.config.drift, name)));
  return driftResult(await compareFileSets(ctx.peer, sets, labels, ctx.deadline.signal), labels, builtin);
}

const COMMON_READS = [
  "both hosts: each path's type, mode, owner and a sha256 of its content or its symlink target, walked by carpentry's own code (the secondary's through `carpentry facts` over ssh), names read as bytes (one that is not UTF-8 printed as pf\\xe9.conf); identical sets cost one round trip",
  `both hosts, only for files whose content differs: text up to ${MAX_TEXT_BYTES / 1024} KiB a file, ${MAX_CONTENT_BYTES_TOTAL / 1024 / 1024} MiB in all, secrets masked on the host it comes from (key blocks, passwords, keys and the credential files OpenVPN configs name: see the README's Security section)`,
];

function statesFor(what: string, hostSpecific: boolean): CheckDefinition["states"] {
  return {
    OK: `every path of ${what} is the same on both hosts: type, content${hostSpecific ? " (after the [host_specific] values and interfaces are mapped)" : ""}, mode and owner (unless compare_mode/compare_owner = false), symlink target; a path that exists on neither host is fine. A built-in set with no file on either host is "not in use" (a pair without OpenVPN or dhcpd has nothing to keep alike there)`,
    WARNING: `none of the paths of ${what} exists on either host, for a set of the config's own ([drift.NAME], a built-in set redefined included): nothing to compare (a typo in paths?)`,
    CRITICAL:
      "a path differs between the hosts: only on the primary (not synced, or removed from the secondary), only on the secondary (a file added in a watched directory, or removed from the primary), " +
      "content (a unified diff follows the list; secrets masked, secret files only said to differ), type, mode or owner (openvpn needs its modes; scp does not keep owners), symlink target. " +
      'A path changed last on the secondary (its mtime, or its ctime for a mode or owner change, is later) comes first, as "newer on the secondary: PATH ...": the next sync would copy the primary\'s older version over it (`carpentry consolidate` prints the commands that copy it back)',
    UNKNOWN: "the secondary cannot be reached or runs another carpentry version, a path cannot be read on either host, a bad config, or the deadline passed",
  };
}

/** The check of one built-in set, built as check_drift_NAME. */
export function driftCheck(setName: BuiltinSetName): CheckDefinition {
  const set = BUILTIN_DRIFT_SETS[setName];
  return {
    name: `drift_${setName}`,
    title: `${set.description}: the same on both gateways`,
    roles: ["primary"],
    usesPeer: true,
    reads: [
      `both hosts: ${set.paths.join(", ")} (directories recursively)${set.exclude.length > 0 ? `, except ${set.exclude.join(", ")}` : ""}; a [drift.${setName}] table with paths = [...] replaces these`,
      ...COMMON_READS,
      ...(set.host_specific ? ["config: [host_specific] values (mapped both ways, as whole tokens) and interfaces, applied to the primary's text before comparing"] : []),
    ],
    states: statesFor(`the ${setName} set`, set.host_specific),
    run: (ctx) => compareSets(ctx, [setName]),
  };
}

/** check_drift_scripts, _pf, _dhcp, _unbound, _vpn, _ifstated, _sshkeys, in the order `carpentry list` shows them. */
// Marked pure so that check_drift, which does not use them, leaves them out of its bundle.
export const builtinSetChecks: readonly CheckDefinition[] = /* @__PURE__ */ (["scripts", "pf", "dhcp", "unbound", "vpn", "ifstated", "sshkeys"] as const).map(driftCheck);

/** check_drift --set NAME: any set, the admin's [drift.NAME] ones above all; without --set, all of the admin's. */
export const check: CheckDefinition = {
  name: "drift",
  title: "the admin's own file sets ([drift.NAME]) are the same on both gateways",
  roles: ["primary"],
  usesPeer: true,
  reads: ["config: [drift.NAME] paths, exclude, secret_files, compare_owner, compare_mode, host_specific", "both hosts: the set's paths (directories recursively)", ...COMMON_READS],
  options: [
    {
      name: "set",
      valueName: "NAME",
      description: "the set to compare: a [drift.NAME] table or a built-in set (scripts, pf, dhcp, unbound, vpn, ifstated, sshkeys); without it, every [drift.NAME] set that is not built-in",
    },
  ],
  states: {
    ...statesFor("a set", false),
    OK: "every path of the set is the same on both hosts (see check_drift_pf); without --set: also when the config defines no set of its own",
    UNKNOWN: "--set names no set (the summary names it), the secondary cannot be reached or runs another carpentry version, a path cannot be read on either host, a bad config, or the deadline passed",
  },
  async run(ctx) {
    const wanted = ctx.extra["set"];
    if (wanted === undefined) {
      const own = userDriftSets(ctx.config);
      if (own.length === 0)
        return result("OK", "no drift sets of the admin's own ([drift.NAME]) to compare", ["built-in sets are checked by check_drift_scripts, _pf, _dhcp, _unbound, _vpn, _ifstated, _sshkeys"]);
      return compareSets(ctx, own);
    }
    if (!resolveDriftSet(ctx.config, wanted)) {
      const known = [...new Set([...Object.keys(BUILTIN_DRIFT_SETS), ...Object.keys(ctx.config.drift)])].sort();
      return result("UNKNOWN", `unknown drift set '${wanted}'`, [`known sets: ${known.join(", ")}`, `add a [drift.${wanted}] table with paths = [...] to ${ctx.configPath}`]);
    }
    return compareSets(ctx, [wanted]);
  },
};

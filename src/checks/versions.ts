import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, type Config, type Role } from "../lib/runtime/config.js";
import { ParseError } from "../lib/runtime/errors.js";
import { resultFromFindings, withoutPeerView, type Finding, type PeerViewMissing } from "../lib/runtime/findings.js";
import { parseKernelVersion, parseOsRelease, parsePkgInfoQuiet, parseSyspatchList, type InstalledPackage } from "../lib/parse/packages.js";
import type { Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";
import { outputOf, parsedOn, readBothHosts } from "./both-hosts.js";

/** The packages the pair's own machinery runs on: the checks (node), monit, the VPNs, the sync's watchers. */
const BUILTIN_PACKAGES = ["node", "monit", "openvpn", "entr"];

/** [checks.versions] */
const settingsSchema = v.strictObject({
  // Package stems compared besides node, monit, openvpn and entr.
  packages: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/, "a package stem such as unbound or py3-requests"))), []),
});

export function versionsPackages(config: Config): string[] {
  const section = checkSettings(config, check.name, settingsSchema);
  return [...new Set([...BUILTIN_PACKAGES, ...section.packages])];
}

export interface VersionsHostView {
  readonly role: Role;
  readonly release: string;
  readonly kernel: string;
  readonly syspatches: readonly string[];
  readonly packages: readonly InstalledPackage[];
}

// No network: syspatch -l lists what is installed (the directories in /var/syspatch), pkg_info -q
// reads /var/db/pkg. Both only read.
export const VERSIONS_COMMANDS: readonly HostCommand[] = [
  { argv: ["/sbin/sysctl", "-n", "kern.osrelease"] },
  { argv: ["/sbin/sysctl", "-n", "kern.version"] },
  { argv: ["/usr/sbin/syspatch", "-l"] },
  { argv: ["/usr/sbin/pkg_info", "-q"] },
];

export function readVersionsHost(role: Role, answers: readonly CommandResult[]): VersionsHostView {
  const [release, kernel, syspatch, pkgInfo] = answers;
  if (!release || !kernel || !syspatch || !pkgInfo) throw new ParseError(`${role}'s version output`, "missing");
  return {
    role,
    release: parsedOn(role, () => parseOsRelease(outputOf(role, release))),
    kernel: parsedOn(role, () => parseKernelVersion(outputOf(role, kernel))),
    syspatches: parsedOn(role, () => parseSyspatchList(outputOf(role, syspatch))),
    packages: parsedOn(role, () => parsePkgInfoQuiet(outputOf(role, pkgInfo))),
  };
}

export interface VersionsFacts {
  readonly local: VersionsHostView;
  readonly peer: VersionsHostView | PeerViewMissing;
  readonly packages: readonly string[];
}

function installed(view: VersionsHostView, stem: string): string {
  const names = view.packages
    .filter((pkg) => pkg.stem === stem)
    .map((pkg) => pkg.fullName.slice(stem.length + 1))
    .sort();
  return names.length === 0 ? "not installed" : names.join(" ");
}

function listOrNone(items: readonly string[]): string {
  return items.length === 0 ? "none" : items.join(" ");
}

/** Facts -> Result: the hosts run the same release, kernel, syspatches and package versions. */
export function decideVersions(facts: VersionsFacts): Result {
  if ("missing" in facts.peer) return withoutPeerView([], facts.peer, facts.local.role, []);
  const [primary, secondary] = facts.local.role === "primary" ? [facts.local, facts.peer] : [facts.peer, facts.local];
  const findings: Finding[] = [];
  // Whichever host is upgraded first runs other versions than the other until both are done.
  const both: readonly Role[] = ["primary", "secondary"];
  const differ = (what: string, onPrimary: string, onSecondary: string, more = ""): void => {
    findings.push({
      status: "WARNING",
      summary: `${what} differs: primary ${onPrimary}, secondary ${onSecondary}`,
      detail: `${what}: primary ${onPrimary}; secondary ${onSecondary}${more}`,
      maintenance: both,
    });
  };
  if (primary.release !== secondary.release) differ("OpenBSD release", primary.release, secondary.release);
  else if (primary.kernel !== secondary.kernel) {
    // The build numbers ("#5") tell the kernels apart in a summary that must fit 80 characters.
    const build = (kernel: string): string => /\) (#\d+):/.exec(kernel)?.[1] ?? kernel;
    const [onPrimary, onSecondary] = [build(primary.kernel), build(secondary.kernel)];
    const short = onPrimary !== onSecondary && onPrimary.startsWith("#") && onSecondary.startsWith("#");
    findings.push({
      status: "WARNING",
      summary: short ? `kernel differs: primary ${onPrimary}, secondary ${onSecondary}` : "kernel differs between primary and secondary",
      detail: `kernel: primary ${primary.kernel}; secondary ${secondary.kernel}`,
      maintenance: both,
    });
  }
  const onlyPrimary = primary.syspatches.filter((patch) => !secondary.syspatches.includes(patch));
  const onlySecondary = secondary.syspatches.filter((patch) => !primary.syspatches.includes(patch));
  if (primary.release === secondary.release && (onlyPrimary.length > 0 || onlySecondary.length > 0)) {
    findings.push({
      status: "WARNING",
      summary: `syspatches differ: ${onlyPrimary.length} only on primary, ${onlySecondary.length} only on secondary`,
      detail: `syspatches only on primary: ${listOrNone(onlyPrimary)}; only on secondary: ${listOrNone(onlySecondary)}`,
      maintenance: both,
    });
  }
  const same: string[] = [];
  for (const stem of facts.packages) {
    const [onPrimary, onSecondary] = [installed(primary, stem), installed(secondary, stem)];
    if (onPrimary !== onSecondary) differ(stem, onPrimary, onSecondary);
    else same.push(`${stem} ${onPrimary}`);
  }
  const context = [
    `OpenBSD ${primary.release} on ${primary.release === secondary.release ? "both" : "primary"}; kernel ${primary.kernel === secondary.kernel ? "the same on both" : "differs"}: ${primary.kernel}`,
    `syspatches: primary ${primary.syspatches.length}, secondary ${secondary.syspatches.length}; last ${primary.syspatches[primary.syspatches.length - 1] ?? "none"} / ${secondary.syspatches[secondary.syspatches.length - 1] ?? "none"}`,
    `alike: ${same.join(", ") || "none"}`,
  ];
  return resultFromFindings(findings, `OpenBSD ${primary.release}, ${primary.syspatches.length} syspatches, ${facts.packages.length} packages alike on both`, context);
}

export const check: CheckDefinition = {
  name: "versions",
  title: "both gateways run the same OpenBSD release, kernel, syspatches and package versions",
  roles: ["primary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: /sbin/sysctl -n kern.osrelease, /sbin/sysctl -n kern.version, /usr/sbin/syspatch -l (installed patches), /usr/sbin/pkg_info -q (installed packages); nothing is looked up on the network",
    "config [checks.versions]: packages, stems compared besides node, monit, openvpn and entr",
  ],
  states: {
    OK: "the hosts run the same release and kernel build, have the same syspatches installed, and the same versions of node, monit, openvpn, entr and the configured packages (or both lack one)",
    WARNING:
      "the release, the kernel build, the installed syspatches or a package version differs between the hosts, each side named: the pair is upgraded one host at a time, and one left behind fails over to older software",
    CRITICAL: "never: a difference is an upgrade under way or forgotten, not an outage",
    UNKNOWN:
      "the peer cannot be reached ('pair view missing'), a command fails or prints what the parser does not understand (the host and line are named; syspatch -l needs root), bad config, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const packages = versionsPackages(ctx.config);
    return decideVersions({ ...(await readBothHosts(ctx, VERSIONS_COMMANDS, readVersionsHost)), packages });
  },
};

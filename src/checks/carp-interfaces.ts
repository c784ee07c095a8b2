import { randomBytes } from "node:crypto";
import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, interfaceName, type Role } from "../lib/runtime/config.js";
import { HostError, ParseError } from "../lib/runtime/errors.js";
import { readFilesOn, type FileFacts } from "../lib/facts/files.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import type { Host } from "../lib/transport/host.js";
import { parseHostnameIf, type HostnameIf } from "../lib/parse/hostname-if.js";
import type { Result } from "../lib/runtime/result.js";
import { IFCONFIG_CARP, readIfconfigCarp } from "./carp.js";

/** One host's hostname.carpN files and the carp interfaces that live on it. */
export interface CarpFilesHost {
  readonly role: Role;
  /** readFiles facts for /etc/hostname.carp*, with content. */
  readonly files: readonly FileFacts[];
  /** Interface names from `ifconfig carp` on the same host. */
  readonly liveInterfaces: readonly string[];
}

export interface CarpInterfacesFacts {
  readonly primary: CarpFilesHost;
  readonly secondary: CarpFilesHost;
  /** [host_specific] interfaces: the primary's NIC name -> the secondary's (re0 -> em0). */
  readonly hostSpecificInterfaces: Readonly<Record<string, string>>;
  /** [checks.carp_interfaces] ignore: carp interfaces left out entirely. */
  readonly ignore: readonly string[];
}

/** [checks.carp_interfaces] */
const settingsSchema = v.strictObject({
  ignore: v.optional(v.array(interfaceName), []),
});

const FILES_GLOB = "/etc/hostname.carp*";
// netstart configures hostname.carpN only; backups such as hostname.carp0.orig are not looked at.
const CARP_FILE = /^\/etc\/hostname\.(carp[0-9]+)$/;
const MAX_FILE_BYTES = 64 * 1024;
const OPENBSD_DEFAULT_ADVBASE = 1;

type ParsedFiles = Map<string, HostnameIf>;

function fileName(iface: string): string {
  return `hostname.${iface}`;
}

/** Parses a host's carp files; what cannot be read becomes an UNKNOWN finding naming file and line. */
function parseHostFiles(host: CarpFilesHost, ignore: readonly string[], findings: Finding[]): { parsed: ParsedFiles; present: string[] } {
  const parsed: ParsedFiles = new Map();
  const present: string[] = [];
  for (const file of host.files) {
    const iface = CARP_FILE.exec(file.path)?.[1];
    if (iface === undefined || ignore.includes(iface) || file.type === "missing") continue;
    present.push(iface);
    const where = `${file.path} on ${host.role}`;
    const unreadable = (why: string): void => {
      findings.push({ status: "UNKNOWN", summary: `cannot read ${where}`, detail: `cannot read ${where}: ${why}` });
    };
    if (file.type !== "file") unreadable(`it is a ${file.type}, not a regular file`);
    else if (file.error !== undefined) unreadable(file.error);
    else if (file.binary) unreadable("it is not a text file");
    else if (file.content === undefined) unreadable(`larger than ${MAX_FILE_BYTES} bytes`);
    else {
      try {
        parsed.set(iface, parseHostnameIf(file.content, where));
      } catch (error) {
        if (!(error instanceof ParseError)) throw error;
        findings.push({ status: "UNKNOWN", summary: error.summary, detail: `${error.summary}: ${error.detail ?? ""}` });
      }
    }
  }
  return { parsed, present: present.sort() };
}

function addressesOf(config: HostnameIf, withPrefix: boolean): string {
  return (
    config.addresses
      .map((a) => `${a.family} ${a.address}${withPrefix ? `/${a.prefixLength ?? "default"}` : ""}${a.destination === null ? "" : ` dest ${a.destination}`}`)
      .sort()
      .join(", ") || "none"
  );
}

/** The differences that matter between the two hosts' copies of one file; advskew and carppeer differ by design. */
function compareFile(iface: string, p: HostnameIf, s: HostnameIf, hostSpecificInterfaces: Readonly<Record<string, string>>): Finding[] {
  const name = fileName(iface);
  const findings: Finding[] = [];
  const differs = (field: string, detail: string): void => {
    findings.push({ status: "CRITICAL", summary: `${name} ${field} differs`, detail: `${name}: ${detail}` });
  };
  if (p.vhid !== s.vhid) differs("vhid", `vhid ${p.vhid ?? "none"} on primary, ${s.vhid ?? "none"} on secondary`);
  const nodeVhids = (c: HostnameIf): string =>
    c.carpnodes
      .map((n) => n.vhid)
      .sort((a, b) => a - b)
      .join(",") || "none";
  if (nodeVhids(p) !== nodeVhids(s)) differs("carpnodes vhids", `carpnodes vhids ${nodeVhids(p)} on primary, ${nodeVhids(s)} on secondary`);
  if (addressesOf(p, false) !== addressesOf(s, false)) {
    differs("address", `${addressesOf(p, true)} on primary, ${addressesOf(s, true)} on secondary`);
  } else if (addressesOf(p, true) !== addressesOf(s, true)) {
    differs("netmask", `${addressesOf(p, true)} on primary, ${addressesOf(s, true)} on secondary`);
  }
  if (p.pass !== null || s.pass !== null) {
    // Never the values: only that they differ. CARP then drops the peer's advertisements ("carp incorrect hash").
    if (p.pass === null || s.pass === null) differs("pass", `pass set on the ${p.pass === null ? "secondary" : "primary"} only (carp incorrect hash)`);
    else if (!p.pass.equals(s.pass)) differs("pass", "pass differs between the hosts (values not shown; carp incorrect hash)");
  }
  const advbase = (c: HostnameIf): number => c.advbase ?? OPENBSD_DEFAULT_ADVBASE;
  if (advbase(p) !== advbase(s)) differs("advbase", `advbase ${advbase(p)} on primary, ${advbase(s)} on secondary`);
  if ((p.balancing ?? "none") !== (s.balancing ?? "none")) differs("balancing", `balancing ${p.balancing ?? "none"} on primary, ${s.balancing ?? "none"} on secondary`);
  const expectedCarpdev = p.carpdev === null ? null : (hostSpecificInterfaces[p.carpdev] ?? p.carpdev);
  if (s.carpdev !== expectedCarpdev) {
    const mapped = p.carpdev !== null && expectedCarpdev !== p.carpdev ? ` (expected ${expectedCarpdev} per [host_specific] interfaces)` : "";
    const hint = p.carpdev !== null && s.carpdev !== null && mapped === "" ? ` (if the hosts' NICs differ, declare [host_specific] interfaces = { ${p.carpdev} = "${s.carpdev}" })` : "";
    differs("carpdev", `carpdev ${p.carpdev ?? "none"} on primary, ${s.carpdev ?? "none"} on secondary${mapped}${hint}`);
  }
  // The kernel adds up the demote counters of every group a carp interface is in: a group on one
  // host only means a demotion of that group (ifstated, maintenance) moves one host and not the other.
  const groups = (c: HostnameIf): string => c.groups.join(",") || "none";
  if (groups(p) !== groups(s)) {
    findings.push({
      status: "WARNING",
      summary: `${name} groups differ`,
      detail: `${name}: groups ${groups(p)} on primary, ${groups(s)} on secondary (a demotion of a group reaches only the hosts in it)`,
    });
  }
  return findings;
}

function describeFile(iface: string, p: HostnameIf, s: HostnameIf): string {
  const carpdev = p.carpdev === s.carpdev ? (p.carpdev ?? "none") : `${p.carpdev ?? "none"}/${s.carpdev ?? "none"}`;
  const vhids = p.carpnodes.length > 0 ? `carpnodes ${p.carpnodes.map((n) => n.vhid).join(",")}` : `vhid ${p.vhid ?? "none"}`;
  const groups = p.groups.length > 0 ? `, groups ${p.groups.join(",")}` : "";
  return `${fileName(iface)}: ${vhids}, ${addressesOf(p, true)}, carpdev ${carpdev}${groups}`;
}

export function decideCarpInterfaces(facts: CarpInterfacesFacts): Result {
  const findings: Finding[] = [];
  const { primary, secondary, ignore } = facts;
  const onPrimary = parseHostFiles(primary, ignore, findings);
  const onSecondary = parseHostFiles(secondary, ignore, findings);
  const names = [...new Set([...onPrimary.present, ...onSecondary.present])].sort();
  const agreeing: string[] = [];
  for (const iface of names) {
    const inP = onPrimary.present.includes(iface);
    const inS = onSecondary.present.includes(iface);
    if (!inP || !inS) {
      const role = inP ? "primary" : "secondary";
      findings.push({ status: "CRITICAL", summary: `${fileName(iface)} only on ${role}`, detail: `/etc/${fileName(iface)} exists on the ${role} only` });
      continue;
    }
    const p = onPrimary.parsed.get(iface);
    const s = onSecondary.parsed.get(iface);
    if (!p || !s) continue;
    const differences = compareFile(iface, p, s, facts.hostSpecificInterfaces);
    findings.push(...differences);
    if (differences.length === 0) agreeing.push(describeFile(iface, p, s));
  }
  for (const [host, files] of [
    [primary, onPrimary],
    [secondary, onSecondary],
  ] as const) {
    const live = host.liveInterfaces.filter((iface) => !ignore.includes(iface));
    for (const iface of files.present) {
      if (!live.includes(iface)) {
        findings.push({
          status: "CRITICAL",
          summary: `${fileName(iface)} on ${host.role}: no live ${iface}`,
          detail: `/etc/${fileName(iface)} on the ${host.role} has no live interface: ifconfig carp shows no ${iface} (sh /etc/netstart ${iface}?)`,
        });
      }
    }
    for (const iface of live) {
      if (!files.present.includes(iface)) {
        findings.push({
          status: "WARNING",
          summary: `${iface} on ${host.role} has no ${fileName(iface)}`,
          detail: `${iface} is live on the ${host.role} but has no /etc/${fileName(iface)}: it is gone after a reboot`,
        });
      }
    }
  }
  const perfdata = [
    { label: "primary_files", value: onPrimary.present.length, min: 0 },
    { label: "secondary_files", value: onSecondary.present.length, min: 0 },
    { label: "problems", value: findings.length, min: 0 },
  ];
  const count = names.length;
  const okSummary = count === 0 ? "no hostname.carpN files on either host" : count === 1 ? "1 hostname.carpN file agrees between the hosts" : `${count} hostname.carpN files agree between the hosts`;
  return resultFromFindings(findings, okSummary, agreeing, perfdata);
}

/**
 * One round trip per host: the hostname.carp* files (through its carpentry) and `ifconfig carp` together.
 * Each host masks the pass before it answers; under the run's one-time key both hosts' masks of one
 * pass are alike and those of two passes differ, so the passes compare without leaving either host.
 */
async function readHost(host: Host, secretKey: string): Promise<CarpFilesHost> {
  const { files, alongside } = await readFilesOn(host, { paths: [FILES_GLOB], withContent: true, maxBytes: MAX_FILE_BYTES, secretKey }, [IFCONFIG_CARP]);
  const [ifconfigAnswer] = alongside;
  if (!ifconfigAnswer) throw new HostError(`no answer from ${host.label}`);
  const liveInterfaces = readIfconfigCarp(host.role, ifconfigAnswer).map((iface) => iface.name);
  return { role: host.role, files, liveInterfaces };
}

export const check: CheckDefinition = {
  name: "carp_interfaces",
  title: "the hostname.carpN files agree between the hosts and each has a live interface",
  roles: ["primary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: /etc/hostname.carp* (through carpentry's readFiles; each host masks the pass before it answers, as a digest under a key made for the run, so passes compare without leaving either host; contents are never printed) and /sbin/ifconfig carp",
    "[host_specific] interfaces: the primary's NIC name -> the secondary's, for carpdev (re0 = \"em0\")",
    "[checks.carp_interfaces] ignore: carp interfaces to leave out",
  ],
  states: {
    OK: "every hostname.carpN exists on both hosts with the same vhid (or carpnodes vhids), addresses, netmasks and dest addresses, pass, advbase (0 to 254), balancing, carpdev (through [host_specific] interfaces) and groups, and each has a live carp interface",
    WARNING:
      "a live carp interface has no hostname.carpN on its host (it would be gone after a reboot); or a file's `group` lines differ between the hosts (the kernel adds up the demote counters of every group a carp interface is in, so a demotion of a group on one host only moves that host)",
    CRITICAL:
      "a hostname.carpN exists on one host only; a file differs in vhid, address, netmask, pass (said, never shown; a differing pass makes the hosts drop each other's advertisements: 'carp incorrect hash'), advbase, balancing or carpdev; " +
      "or a file has no live interface on its host. advskew and carppeer differ by design and are not compared",
    UNKNOWN:
      "bad config, the secondary cannot be reached or runs another carpentry version, a file cannot be read or parsed (file and line are named, never its text; every keyword ifconfig takes for a carp interface is read, inet6 flags such as anycast and netstart's dest lines included), or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const secretKey = randomBytes(32).toString("hex");
    const [primary, secondary] = await Promise.all([readHost(ctx.primary, secretKey), readHost(ctx.secondary, secretKey)]);
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    return decideCarpInterfaces({ primary, secondary, hostSpecificInterfaces: ctx.config.host_specific.interfaces, ignore: settings.ignore });
  },
};

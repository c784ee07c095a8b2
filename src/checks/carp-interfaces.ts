import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, interfaceName, type Role } from "../lib/runtime/config.js";
import { HostError, ParseError } from "../lib/runtime/errors.js";
import { readFilesOn, type FileFacts } from "../lib/facts/files.js";
import { hostValueMapper, hostValueMapping } from "../lib/compare/files.js";
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
  /** [host_specific] values and interfaces applied to the primary's text of the other interface files (hostValueMapper). */
  readonly mapText?: (text: string) => string;
}

/** [checks.carp_interfaces] */
const settingsSchema = v.strictObject({
  ignore: v.optional(v.array(interfaceName), []),
});

const FILES_GLOB = "/etc/hostname.*";
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
  const others = compareOtherFiles(facts);
  findings.push(...others.findings);
  const count = names.length;
  let okSummary = count === 0 ? "no hostname.carpN files on either host" : count === 1 ? "1 hostname.carpN file agrees between the hosts" : `${count} hostname.carpN files agree between the hosts`;
  if (others.pairs > 0) okSummary = `${count} hostname.carpN and ${others.pairs} other interface file${others.pairs === 1 ? "" : "s"} agree between the hosts`;
  perfdata.push({ label: "other_files", value: others.pairs, min: 0 });
  return resultFromFindings(findings, okSummary, [...agreeing, ...others.agreeing], perfdata);
}

// ---- every other interface file: pfsync, vlan, tun, tap, trunk, aggr, the physical NICs ----

const OTHER_FILE = /^\/etc\/hostname\.([a-z]+[0-9]+)$/;
// An IPv4 or IPv6 address, alone or with its /prefix (kept): each host has its own address on the
// networks it shares, so addresses are compared by their place and prefix, not their value. A dotted
// netmask (255.255.255.0) is kept as it is.
const ADDRESS_TOKEN = /^([0-9a-fA-F:.]+?)(\/[0-9]+)?$/;

function isNetmask(token: string): boolean {
  if (isIP(token) !== 4) return false;
  const bits = token
    .split(".")
    .map((octet) => Number(octet).toString(2).padStart(8, "0"))
    .join("");
  return /^1*0*$/.test(bits);
}

/** The lines netstart runs, each as its words: comments and blank lines dropped, addresses as ADDR. */
export function interfaceFileLines(text: string): string[][] {
  return text
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, "").trim())
    .filter((line) => line !== "")
    .map((line) =>
      line.split(/\s+/).map((word) => {
        const m = ADDRESS_TOKEN.exec(word);
        if (!m || isIP(m[1] ?? "") === 0 || isNetmask(word)) return word;
        return `ADDR${m[2] ?? ""}`;
      }),
    );
}

function fileText(file: FileFacts): string | { problem: string } {
  if (file.type !== "file") return { problem: `it is a ${file.type}, not a regular file` };
  if (file.error !== undefined) return { problem: file.error };
  if (file.binary) return { problem: "it is not a text file" };
  if (file.content === undefined) return { problem: `larger than ${MAX_FILE_BYTES} bytes` };
  return file.content;
}

/**
 * The non-carp hostname.if files: the primary's hostname.IF pairs with the secondary's
 * hostname.MAPPED ([host_specific] interfaces: hostname.re0 with hostname.em0), and their lines
 * must match once the primary's text is mapped and addresses are set aside (a netmask or prefix
 * still counts). A line that differs is named by its number and first word only: a file may hold
 * keys (wgkey, wpakey).
 */
function compareOtherFiles(facts: CarpInterfacesFacts): { findings: Finding[]; agreeing: string[]; pairs: number } {
  const findings: Finding[] = [];
  const agreeing: string[] = [];
  const byInterface = (host: CarpFilesHost): Map<string, FileFacts> => {
    const files = new Map<string, FileFacts>();
    for (const file of host.files) {
      const iface = OTHER_FILE.exec(file.path)?.[1];
      if (iface === undefined || iface.startsWith("carp") || file.type === "missing") continue;
      files.set(iface, file);
    }
    return files;
  };
  const onPrimary = byInterface(facts.primary);
  const onSecondary = byInterface(facts.secondary);
  const mapName = (iface: string): string => facts.hostSpecificInterfaces[iface] ?? iface;
  const matched = new Set<string>();
  let pairs = 0;
  for (const [iface, primaryFile] of [...onPrimary].sort(([a], [b]) => a.localeCompare(b))) {
    if (facts.ignore.includes(iface)) continue;
    const peerName = mapName(iface);
    const mapped = peerName !== iface ? ` (mapped to ${fileName(peerName)} by [host_specific] interfaces)` : "";
    const secondaryFile = onSecondary.get(peerName);
    if (!secondaryFile) {
      findings.push({
        status: "CRITICAL",
        summary: `${fileName(iface)} only on primary`,
        detail: `/etc/${fileName(iface)} exists on the primary, no /etc/${fileName(peerName)} on the secondary${mapped}`,
      });
      continue;
    }
    matched.add(peerName);
    pairs++;
    const label = peerName === iface ? fileName(iface) : `${fileName(iface)}/${fileName(peerName)}`;
    const texts = [fileText(primaryFile), fileText(secondaryFile)] as const;
    const unreadableOn = texts.findIndex((text) => typeof text !== "string");
    if (unreadableOn !== -1) {
      const text = texts[unreadableOn];
      const role = unreadableOn === 0 ? "primary" : "secondary";
      const why = typeof text === "object" ? text.problem : "";
      findings.push({ status: "UNKNOWN", summary: `cannot read ${label} on ${role}`, detail: `cannot read /etc/${unreadableOn === 0 ? fileName(iface) : fileName(peerName)} on ${role}: ${why}` });
      continue;
    }
    const mapText = facts.mapText ?? ((text: string): string => text);
    const p = interfaceFileLines(mapText(texts[0] as string));
    const s = interfaceFileLines(texts[1] as string);
    const differsAt = Array.from({ length: Math.max(p.length, s.length) }, (_, i) => i).find((i) => (p[i] ?? []).join(" ") !== (s[i] ?? []).join(" "));
    if (differsAt === undefined) {
      agreeing.push(`${label}: ${p.length} statement${p.length === 1 ? " agrees" : "s agree"}${mapped === "" ? "" : " (NIC names mapped)"}`);
      continue;
    }
    const word = (lines: string[][]): string => (lines[differsAt] ? `'${lines[differsAt]?.[0] ?? ""} ...'` : "no line");
    findings.push({
      status: "CRITICAL",
      summary: `${label} differs`,
      detail: `${label}: statement ${differsAt + 1} differs: ${word(p)} on primary, ${word(s)} on secondary (comments, blank lines and each host's own addresses aside${mapped === "" ? "" : ", NIC names mapped"})`,
    });
  }
  for (const [iface] of onSecondary) {
    if (matched.has(iface) || facts.ignore.includes(iface)) continue;
    const fromPrimary = Object.entries(facts.hostSpecificInterfaces).find(([, to]) => to === iface)?.[0];
    const expected = fromPrimary !== undefined ? ` (its primary side would be /etc/${fileName(fromPrimary)})` : "";
    findings.push({ status: "CRITICAL", summary: `${fileName(iface)} only on secondary`, detail: `/etc/${fileName(iface)} exists on the secondary only${expected}` });
  }
  return { findings, agreeing, pairs };
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
  title: "the hostname.if files agree between the hosts and each carp file has a live interface",
  roles: ["primary"],
  usesPeer: true,
  reads: [
    "both hosts, one round trip each: every /etc/hostname.IF (carp, pfsync, vlan, tun, tap, trunk, aggr, the physical NICs...; through carpentry's readFiles; each host masks a pass before it answers, as a digest under a key made for the run, so passes compare without leaving either host; contents are compared, never printed) and /sbin/ifconfig carp",
    "[host_specific] interfaces: the primary's NIC name -> the secondary's, for carpdev and for the other files' names and text (re0 = \"em0\": the primary's hostname.re0 is compared with the secondary's hostname.em0)",
    "[host_specific] values: mapped in the other files' text before comparing",
    "[checks.carp_interfaces] ignore: interfaces to leave out (the primary's names)",
  ],
  states: {
    OK: "every other hostname.IF has its counterpart on the other host (hostname.re0 and hostname.em0 when [host_specific] interfaces maps re0 to em0) with the same statements, and every hostname.carpN exists on both hosts with the same vhid (or carpnodes vhids), addresses, netmasks and dest addresses, pass, advbase (0 to 254), balancing, carpdev (through [host_specific] interfaces) and groups, and each has a live carp interface",
    WARNING:
      "a live carp interface has no hostname.carpN on its host (it would be gone after a reboot); or a file's `group` lines differ between the hosts (the kernel adds up the demote counters of every group a carp interface is in, so a demotion of a group on one host only moves that host)",
    CRITICAL:
      "a hostname.IF of any other interface exists on one host only (after the NIC name mapping), or its statements differ (comments and blank lines aside; each host's own addresses are set aside, their netmask or prefix is compared; the statement number and first word are named, never values); " +
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
    const mapText = hostValueMapper(hostValueMapping(ctx.config.host_specific, ctx.configPath));
    return decideCarpInterfaces({ primary, secondary, hostSpecificInterfaces: ctx.config.host_specific.interfaces, ignore: settings.ignore, mapText });
  },
};

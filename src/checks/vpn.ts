// check_vpn: the OpenVPN instances of the pair are up where they should be, judged on this host.
//
// The model, from how the pair is set up: the configs are synced, so both gateways hold every
// instance. A client (a config in /etc/openv-client-NAME/) connects out from the carp address, so
// only the MASTER of the carp interface it leaves through runs it: on the BACKUP it must be down, or
// two gateways hold one client identity and the remote end keeps dropping one of them. A server (a
// config in /etc/openvpn/) listens on the carp address and runs on both gateways, so that a failover
// finds it running ([checks.vpn] servers = "master" when yours follow the MASTER like the clients).
// Each instance is seen through its tun device (`dev tunN` in its config, created by hostname.tunN):
// OpenBSD marks tunN UP and RUNNING while a process holds /dev/tunN open and clears both on close, so
// a RUNNING tun is a live openvpn, and one with an address has finished connecting.
import * as v from "valibot";
import type { CheckDefinition } from "../lib/runtime/check.js";
import { checkSettings, interfaceName, type Role } from "../lib/runtime/config.js";
import { commandFailed, HostError, ParseError } from "../lib/runtime/errors.js";
import { readFilesOn, type FileFacts } from "../lib/facts/files.js";
import { resultFromFindings, type Finding } from "../lib/runtime/findings.js";
import { parseInterfaceLink, type CarpInterface, type InterfaceLink } from "../lib/parse/ifconfig.js";
import type { Result } from "../lib/runtime/result.js";
import type { CommandResult, HostCommand } from "../lib/transport/shell.js";
import { IFCONFIG_CARP, readIfconfigCarp } from "./carp.js";

const MAX_CONF_BYTES = 256 * 1024;
const globPath = v.pipe(v.string(), v.regex(/^\/[^\0]*$/, "an absolute path ('*' in the last component)"));

/** [checks.vpn] */
const settingsSchema = v.strictObject({
  // The carp interface the clients leave through; default: the lowest-numbered carp interface.
  carp: v.optional(interfaceName),
  servers: v.optional(v.picklist(["both", "master"], 'either "both" or "master"'), "both"),
  // Directories of the clients (one each) and of the servers; '*' in the last component.
  client_dirs: v.optional(globPath, "/etc/openv-client-*"),
  server_dir: v.optional(globPath, "/etc/openvpn"),
  ignore: v.optional(v.array(v.string()), []),
});

export type InstanceKind = "client" | "server";

export interface VpnInstance {
  readonly kind: InstanceKind;
  /** "acme" for /etc/openv-client-acme/client.conf, "server" for /etc/openvpn/server.conf. */
  readonly name: string;
  readonly config: string;
  /** `dev tunN` from the config; null when it names none or only `dev tun` (no unit). */
  readonly device: string | null;
}

/** The `dev` directive of an OpenVPN config (`dev tun1`); comments start with '#' or ';'. */
export function openvpnDevice(text: string): string | null | { readonly unnumbered: true } {
  let device: string | null | { readonly unnumbered: true } = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const m = /^dev\s+(\S+)$/.exec(line);
    if (!m) continue;
    const dev = m[1] ?? "";
    device = /^(tun|tap)[0-9]+$/.test(dev) ? dev : { unnumbered: true };
  }
  return device;
}

export interface VpnFacts {
  readonly role: Role;
  readonly instances: readonly VpnInstance[];
  /** The carp interface the clients follow; undefined when this host has none. */
  readonly carp: CarpInterface | undefined;
  /** ifconfig DEVICE by device; "missing" when the device does not exist. */
  readonly devices: Readonly<Record<string, InterfaceLink | "missing">>;
  readonly servers: "both" | "master";
}

function isMaster(carp: CarpInterface): boolean {
  return carp.status !== null ? carp.status === "master" : carp.vhids.some((vhid) => vhid.state === "MASTER");
}

function carpState(carp: CarpInterface | undefined): string {
  if (!carp) return "no carp";
  const states = [...new Set(carp.vhids.map((vhid) => vhid.state))];
  return states.length > 0 ? states.join("/") : (carp.status ?? "unknown").toUpperCase();
}

function hasAddress(link: InterfaceLink): boolean {
  return link.inet.length > 0 || link.inet6.some((address) => !address.startsWith("fe80:"));
}

/** Facts -> Result; pure. */
export function decideVpn(facts: VpnFacts): Result {
  if (facts.instances.length === 0) return resultFromFindings([], "no VPN configured");
  const findings: Finding[] = [];
  const context: string[] = [];
  const master = facts.carp !== undefined && isMaster(facts.carp);
  const state = facts.carp ? `${carpState(facts.carp)} of ${facts.carp.name}` : "without carp";
  const up: string[] = [];
  for (const instance of facts.instances) {
    const label = `${instance.kind} ${instance.name}`;
    if (instance.device === null) {
      findings.push({
        status: "UNKNOWN",
        summary: `${label}: no tun device in its config`,
        detail: `${instance.config} names no numbered device: write dev tunN (and keep /etc/hostname.tunN) so that its tun can be told`,
      });
      continue;
    }
    const shouldRun = instance.kind === "server" && facts.servers === "both" ? true : master;
    const link = facts.devices[instance.device];
    const running = link !== undefined && link !== "missing" && link.up && link.running;
    const where = `on ${facts.role} (${state})`;
    if (shouldRun) {
      if (link === undefined || link === "missing") {
        findings.push({
          status: "CRITICAL",
          summary: `${label} down ${where}: no ${instance.device}`,
          detail: `${label} (${instance.config}): ${instance.device} does not exist ${where}: create /etc/hostname.${instance.device}`,
        });
      } else if (!running) {
        findings.push({
          status: "CRITICAL",
          summary: `${label} down ${where}`,
          detail: `${label} (${instance.config}): ${instance.device} flags <${link.flags.join(",")}>: no openvpn holds it ${where}`,
        });
      } else if (!hasAddress(link)) {
        findings.push({ status: "CRITICAL", summary: `${label} not connected ${where}`, detail: `${label}: ${instance.device} is open but has no address ${where}: the tunnel did not come up` });
      } else {
        up.push(`${label} up: ${instance.device} ${link.inet.map((inet) => inet.address).join(", ") || "inet6"}`);
      }
    } else if (running) {
      findings.push({
        status: "CRITICAL",
        summary: `${label} up ${where}`,
        detail: `${label}: ${instance.device} is running ${where}: only the MASTER should connect; with both up the remote end drops one of them`,
      });
    } else {
      context.push(`${label} down, as it should be ${where}`);
    }
  }
  const counts = (kind: InstanceKind): number => facts.instances.filter((instance) => instance.kind === kind).length;
  const parts = [
    counts("client") > 0 ? `${counts("client")} client${counts("client") === 1 ? "" : "s"}` : "",
    counts("server") > 0 ? `${counts("server")} server${counts("server") === 1 ? "" : "s"}` : "",
  ].filter(Boolean);
  const okSummary = `${parts.join(", ")} as expected on ${facts.role} (${state})`;
  return resultFromFindings(findings, okSummary, [...up, ...context], [{ label: "up", value: up.length, min: 0 }]);
}

// ---- gathering ----

function readText(file: FileFacts, role: Role): string {
  if (file.type !== "file" || file.error !== undefined || file.content === undefined) {
    throw new HostError(`cannot read ${file.path} on ${role}`, file.error ?? (file.type === "file" ? `not text, or larger than ${MAX_CONF_BYTES} bytes` : `a ${file.type}`));
  }
  return file.content;
}

function readDevice(role: Role, device: string, answer: CommandResult): InterfaceLink | "missing" {
  if (answer.exitCode !== 0) {
    if (/no such interface|not configured/i.test(answer.stderr)) return "missing";
    throw commandFailed(answer.command, role, answer);
  }
  try {
    return parseInterfaceLink(answer.stdout, device);
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(`${role}'s ${error.what}`, error.reason, error.lineNumber, error.lineText);
    throw error;
  }
}

const unitOf = (name: string): number => Number(/([0-9]+)$/.exec(name)?.[1] ?? 0);

export const check: CheckDefinition = {
  name: "vpn",
  title: "the OpenVPN clients run on the carp MASTER only, the servers where configured",
  roles: ["primary", "secondary"],
  usesPeer: false,
  reads: [
    "this host only, in-process: the clients' configs (/etc/openv-client-*/*.conf, one client a directory) and the servers' (/etc/openvpn/*.conf), for their `dev tunN`",
    "this host, one batch: /sbin/ifconfig carp (who is MASTER) and /sbin/ifconfig tunN for each instance (flags, addresses)",
    'config [checks.vpn]: carp (the carp interface the clients follow; default the lowest-numbered), servers ("both", default, or "master"), client_dirs, server_dir, ignore (instance names)',
  ],
  states: {
    OK: "no VPN configured; or, on the MASTER of the carp interface, every client's tun is UP and RUNNING (an openvpn holds it) with an address, on the BACKUP every client's tun is closed, and every server's tun is up with an address on both hosts (servers = \"master\": as the clients)",
    WARNING: "never",
    CRITICAL:
      "a client is down (tun missing, closed, or without an address) on the MASTER, a client is up on the BACKUP too (both gateways then hold one client identity), or a server is down where it should run",
    UNKNOWN: "a config names no numbered tun device (dev tunN), a config cannot be read, ifconfig fails or prints what the parser does not understand, bad config, or the deadline expired",
  },
  settings: settingsSchema,
  async run(ctx) {
    const settings = checkSettings(ctx.config, check.name, settingsSchema);
    const { files: clientDirs } = await readFilesOn(ctx.local, { paths: [settings.client_dirs], withContent: false, maxBytes: 0 });
    const dirs = clientDirs.filter((dir) => dir.type === "dir").map((dir) => dir.path);
    const globs = [...dirs.map((dir) => `${dir}/*.conf`), `${settings.server_dir}/*.conf`];
    const { files } = await readFilesOn(ctx.local, { paths: globs, withContent: true, maxBytes: MAX_CONF_BYTES });
    const instances: VpnInstance[] = [];
    const findings: Finding[] = [];
    for (const file of files) {
      if (file.type === "missing" || file.type === "dir") continue;
      const inServerDir = file.path.startsWith(`${settings.server_dir}/`);
      const kind: InstanceKind = inServerDir ? "server" : "client";
      const name = inServerDir ? file.path.slice(settings.server_dir.length + 1).replace(/\.conf$/, "") : (/openv-client-([^/]+)\//.exec(file.path)?.[1] ?? file.path);
      if (settings.ignore.includes(name)) continue;
      const device = openvpnDevice(readText(file, ctx.role));
      instances.push({ kind, name, config: file.path, device: typeof device === "string" ? device : null });
    }
    if (instances.length === 0) return decideVpn({ role: ctx.role, instances, carp: undefined, devices: {}, servers: settings.servers });
    const devices = [...new Set(instances.flatMap((instance) => (instance.device === null ? [] : [instance.device])))].sort();
    const commands: HostCommand[] = [IFCONFIG_CARP, ...devices.map((device) => ({ argv: ["/sbin/ifconfig", device] }))];
    const answers = await ctx.local.run(commands);
    const [carpAnswer, ...deviceAnswers] = answers;
    if (!carpAnswer || deviceAnswers.length !== devices.length) throw new HostError(`no answer from ${ctx.local.label}`);
    let carps: CarpInterface[];
    try {
      carps = readIfconfigCarp(ctx.role, carpAnswer);
    } catch (error) {
      if (error instanceof ParseError) throw new ParseError(`${ctx.role}'s ${error.what}`, error.reason, error.lineNumber, error.lineText);
      throw error;
    }
    const carp = settings.carp !== undefined ? carps.find((iface) => iface.name === settings.carp) : [...carps].sort((a, b) => unitOf(a.name) - unitOf(b.name))[0];
    if (settings.carp !== undefined && carp === undefined)
      findings.push({ status: "CRITICAL", summary: `${settings.carp} does not exist on ${ctx.role}`, detail: `[checks.vpn] carp = "${settings.carp}", which ifconfig does not know here` });
    const linkOf = Object.fromEntries(devices.map((device, i) => [device, readDevice(ctx.role, device, deviceAnswers[i] as CommandResult)]));
    const decided = decideVpn({ role: ctx.role, instances, carp, devices: linkOf, servers: settings.servers });
    if (findings.length === 0) return decided;
    return resultFromFindings(findings, decided.summary, decided.details);
  },
};

// The registry: every check the CLI lists and runs, in the order `carpentry list` shows them.
import type { CheckDefinition } from "../lib/check.js";
import { check as carp } from "./carp.js";
import { check as carpInterfaces } from "./carp_interfaces.js";
import { check as dns } from "./dns.js";
import { check as drift, driftCheck } from "./drift.js";
import { check as installed } from "./installed.js";
import { check as mailq } from "./mailq.js";
import { check as peer } from "./peer.js";
import { check as pfTables } from "./pf_tables.js";
import { check as pfsync } from "./pfsync.js";
import { check as sysctl } from "./sysctl.js";

export const ALL_CHECKS: readonly CheckDefinition[] = [peer, carp, carpInterfaces, pfsync, pfTables, sysctl, mailq, dns, driftCheck("scripts"), driftCheck("pf"), driftCheck("dhcp"), driftCheck("unbound"), driftCheck("vpn"), driftCheck("ifstated"), drift, installed];

export function findCheck(name: string): CheckDefinition | undefined {
  const bare = name.replace(/^check_/, "");
  return ALL_CHECKS.find((check) => check.name === bare);
}

// The registry: every check the CLI lists and runs, in the order `carpentry list` shows them. The build
// makes one executable of each (build-executables.mjs), and `carpentry config check` validates each
// check's [checks.NAME] table with the schema the check carries.
import type { CheckDefinition } from "../lib/runtime/check.js";
import { check as carp } from "./carp.js";
import { check as carpInterfaces } from "./carp-interfaces.js";
import { check as dns } from "./dns.js";
import { builtinSetChecks as driftSets, check as drift } from "./drift.js";
import { check as installed } from "./installed.js";
import { check as mailq } from "./mailq.js";
import { check as peer } from "./peer.js";
import { check as pfTables } from "./pf-tables.js";
import { check as pfsync } from "./pfsync.js";
import { check as sysctl } from "./sysctl.js";
import { check as pf } from "./pf.js";
import { check as carpStats } from "./carp-stats.js";
import { check as ntp } from "./ntp.js";
import { check as versions } from "./versions.js";
import { check as ifstated } from "./ifstated.js";
import { check as vpn } from "./vpn.js";

export const ALL_CHECKS: readonly CheckDefinition[] = [peer, carp, carpInterfaces, pfsync, pfTables, sysctl, mailq, dns, ...driftSets, drift, installed, pf, carpStats, ntp, versions, ifstated, vpn];

export function findCheck(name: string): CheckDefinition | undefined {
  const bare = name.replace(/^check_/, "");
  return ALL_CHECKS.find((check) => check.name === bare);
}

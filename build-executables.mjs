// Which executable is built from which check module. A unit test holds this list against the
// check registry (src/checks/index.ts), so a check cannot be added to one and forgotten in the other.
export const EXECUTABLES = [
  { executable: "check_peer", module: "peer", expression: "check" },
  { executable: "check_carp", module: "carp", expression: "check" },
  { executable: "check_carp_interfaces", module: "carp_interfaces", expression: "check" },
  { executable: "check_pfsync", module: "pfsync", expression: "check" },
  { executable: "check_pf_tables", module: "pf_tables", expression: "check" },
  { executable: "check_sysctl", module: "sysctl", expression: "check" },
  { executable: "check_mailq", module: "mailq", expression: "check" },
  { executable: "check_dns", module: "dns", expression: "check" },
  { executable: "check_drift_scripts", module: "drift", expression: 'driftCheck("scripts")' },
  { executable: "check_drift_pf", module: "drift", expression: 'driftCheck("pf")' },
  { executable: "check_drift_dhcp", module: "drift", expression: 'driftCheck("dhcp")' },
  { executable: "check_drift_unbound", module: "drift", expression: 'driftCheck("unbound")' },
  { executable: "check_drift_vpn", module: "drift", expression: 'driftCheck("vpn")' },
  { executable: "check_drift_ifstated", module: "drift", expression: 'driftCheck("ifstated")' },
  { executable: "check_drift", module: "drift", expression: "check" },
  { executable: "check_installed", module: "installed", expression: "check" },
];

// Which executable is built from which check module. A unit test holds this list against the
// check registry (src/checks/index.ts), so a check cannot be added to one and forgotten in the other.
export const EXECUTABLES = [
  { executable: "check_peer", module: "peer", expression: "check" },
];

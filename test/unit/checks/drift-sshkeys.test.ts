import { describe, expect, it } from "vitest";
import { BUILTIN_DRIFT_SETS, builtinSetChecks } from "../../../src/checks/drift.js";
import { globToRegExp } from "../../../src/lib/facts/files.js";
import { isSecretFile } from "../../../src/lib/compare/redact.js";

describe("the sshkeys drift set", () => {
  const set = BUILTIN_DRIFT_SETS.sshkeys;
  const rules = { patterns: [], secretFiles: set.secret_files };

  it("covers every host key, public and private, and nothing else of /etc/ssh", () => {
    const matches = (name: string): boolean => set.paths.some((path) => globToRegExp(path.split("/").pop() ?? "").test(name));
    for (const name of ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "ssh_host_rsa_key", "ssh_host_ecdsa_key.pub"]) expect(matches(name), name).toBe(true);
    for (const name of ["sshd_config", "moduli", "ssh_host_ed25519_key.old"]) expect(matches(name), name).toBe(false);
  });

  it("treats the private keys as secret files (only 'differs' is said), the public ones not", () => {
    expect(isSecretFile("/etc/ssh/ssh_host_ed25519_key", rules)).toBe(true);
    expect(isSecretFile("/etc/ssh/ssh_host_rsa_key", rules)).toBe(true);
    expect(isSecretFile("/etc/ssh/ssh_host_rsa_key.pub", rules)).toBe(false);
  });

  it("is built as check_drift_sshkeys, run on the primary", () => {
    const check = builtinSetChecks.find((c) => c.name === "drift_sshkeys");
    expect(check?.roles).toEqual(["primary"]);
    expect(check?.title).toBe("the SSH host keys: the same on both gateways");
  });
});

// Why the demo's sandbox could not be made, in the words an admin acts on: the cause and the sysctl.
import { describe, expect, it } from "vitest";
import { describeSandboxFailure } from "../../../src/sim/namespace.js";

const EPERM = "unshare: unshare failed: Operation not permitted\n";

describe("describeSandboxFailure", () => {
  it("names user.max_user_namespaces when it is 0, for root too", () => {
    const lines = describeSandboxFailure("unshare: unshare failed: No space left on device\n", { maxUserNamespaces: "0" }, true);
    expect(lines).toEqual([
      "cannot create the demo's user namespace",
      "unshare said: unshare: unshare failed: No space left on device",
      "cause: user namespaces are switched off (user.max_user_namespaces = 0)",
      "fix: sysctl -w user.max_user_namespaces=15000 (as root; to keep it, add it to /etc/sysctl.d/)",
    ]);
  });

  it("names Debian's kernel.unprivileged_userns_clone for a normal user, and offers root", () => {
    const lines = describeSandboxFailure(EPERM, { unprivilegedClone: "0", maxUserNamespaces: "15000" }, false);
    expect(lines[2]).toBe("cause: this kernel allows user namespaces to root only (kernel.unprivileged_userns_clone = 0)");
    expect(lines[3]).toBe("fix: sysctl -w kernel.unprivileged_userns_clone=1 (as root), or run the demo as root");
  });

  it("names Ubuntu's AppArmor restriction for a normal user", () => {
    const lines = describeSandboxFailure("unshare: write failed /proc/self/uid_map: Operation not permitted\n", { maxUserNamespaces: "15000", apparmorRestricted: "1" }, false);
    expect(lines[1]).toBe("unshare said: unshare: write failed /proc/self/uid_map: Operation not permitted");
    expect(lines[2]).toMatch(/^cause: AppArmor restricts user namespaces for normal users \(kernel\.apparmor_restrict_unprivileged_userns = 1\)$/);
    expect(lines[3]).toMatch(/^fix: sysctl -w kernel\.apparmor_restrict_unprivileged_userns=0/);
  });

  it("says what to look at when no setting explains it (a container), and what unshare said", () => {
    const lines = describeSandboxFailure(EPERM, { maxUserNamespaces: "15000", unprivilegedClone: "0" }, true);
    expect(lines[1]).toBe("unshare said: unshare: unshare failed: Operation not permitted");
    expect(lines[2]).toMatch(/^cause: unknown; .*a container may forbid them/);
    expect(lines[3]).toBe("look at: sysctl user.max_user_namespaces kernel.unprivileged_userns_clone kernel.apparmor_restrict_unprivileged_userns");
  });
});

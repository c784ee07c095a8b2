import { describe, expect, it } from "vitest";
import { parseKernelVersion, parseOsRelease, parsePkgInfoQuiet, parseSyspatchList } from "../../../../src/lib/parse/packages.js";
import { expectParseError, fixture } from "../../../support/fixtures.js";

describe("the version readers", () => {
  it("read a release and a syspatch kernel's first line", () => {
    expect(parseOsRelease("7.0\n")).toBe("7.0");
    expect(parseKernelVersion(fixture("derived_sysctl_n_kern_version_syspatch70.txt"))).toBe("OpenBSD 7.0 (GENERIC.MP) #5: Mon Nov 22 21:05:50 MST 2021");
    expect(parseKernelVersion("OpenBSD 7.6-current (GENERIC.MP) #120: Tue Oct  1 12:00:00 MDT 2024\n    deraadt@amd64.openbsd.org:/usr/src/sys/arch/amd64/compile/GENERIC.MP\n")).toBe(
      "OpenBSD 7.6-current (GENERIC.MP) #120: Tue Oct 1 12:00:00 MDT 2024",
    );
  });

  it("read syspatch -l (real list format) and none at all", () => {
    expect(parseSyspatchList(fixture("syspatch_l_openbsd70_fluca.txt"))).toEqual(["001_nsd", "002_bpf", "003_uipc", "004_rpki", "005_unpcon", "006_x509"]);
    expect(parseSyspatchList("")).toEqual([]);
  });

  it("read pkg_info -q names into stem, version and flavor", () => {
    const packages = parsePkgInfoQuiet(fixture("derived_pkg_info_q_openbsd70.txt"));
    expect(packages.find((pkg) => pkg.stem === "node")).toEqual({ fullName: "node-16.13.0", stem: "node", version: "16.13.0", flavor: "" });
    expect(parsePkgInfoQuiet("vim-9.1.0-no_x11\npy3-requests-2.31.0p1\nopenvpn-2.6.12\n")).toEqual([
      { fullName: "vim-9.1.0-no_x11", stem: "vim", version: "9.1.0", flavor: "no_x11" },
      { fullName: "py3-requests-2.31.0p1", stem: "py3-requests", version: "2.31.0p1", flavor: "" },
      { fullName: "openvpn-2.6.12", stem: "openvpn", version: "2.6.12", flavor: "" },
    ]);
  });

  it.each([
    ["a release word", () => parseOsRelease("seven\n"), 1],
    ["two releases", () => parseOsRelease("7.0\n7.1\n"), 1],
    ["a kernel line of another system", () => parseKernelVersion("Linux version 6.1.0\n"), 1],
    ["a syspatch error", () => parseSyspatchList("syspatch: need root privileges\n"), 1],
    ["a package without a version", () => parsePkgInfoQuiet("node\n"), 1],
    ["pkg_info's long form", () => parsePkgInfoQuiet("node-16.13.0        JavaScript runtime built on Chrome's V8 JavaScript engine\n"), 1],
    ["a cut list", () => parseSyspatchList("001_nsd\n002_b"), 2],
  ])("refuse %s", (_what, read, line) => {
    expectParseError(read, line);
  });
});

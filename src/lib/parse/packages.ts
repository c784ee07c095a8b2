// What a host runs, for comparing the pair during an upgrade done one host at a time:
// `sysctl -n kern.osrelease` ("7.6"), `sysctl -n kern.version` (the kernel's build line and the
// builder's path, e.g. "OpenBSD 7.6 (GENERIC.MP) #6: Thu Sep  3 ..."; syspatch kernels are numbered
// builds of syspatch-NN-ARCH.openbsd.org), `syspatch -l` (one installed patch a line, "001_nsd",
// ls_installed() in usr.sbin/syspatch/syspatch.sh) and `pkg_info -q` (one installed package a line,
// "node-22.11.0", "vim-9.1.0-no_x11": stem, version, flavors, as packages-specs(7) names them).

import { ParseError } from "../runtime/errors.js";

function lines(text: string, what: string): { raw: string; lineNumber: number }[] {
  const all = text.split("\n");
  const last = all.pop() ?? "";
  if (last !== "") throw new ParseError(what, "last line has no newline; output cut short?", all.length + 1, last);
  return all.map((raw, index) => ({ raw: raw.endsWith("\r") ? raw.slice(0, -1) : raw, lineNumber: index + 1 })).filter((line) => line.raw.trim() !== "");
}

export function parseOsRelease(text: string): string {
  const what = "sysctl -n kern.osrelease output";
  const [first, ...rest] = lines(text, what);
  if (first === undefined) throw new ParseError(what, "no output");
  if (!/^\d+\.\d+$/.test(first.raw) || rest.length > 0) throw new ParseError(what, "expected a release such as 7.6", first.lineNumber, first.raw);
  return first.raw;
}

/** The kernel's first line: "OpenBSD 7.6 (GENERIC.MP) #6: Thu Sep  3 14:08:18 MDT 2024". */
export function parseKernelVersion(text: string): string {
  const what = "sysctl -n kern.version output";
  const [first] = lines(text, what);
  if (first === undefined) throw new ParseError(what, "no output");
  if (!/^OpenBSD \d+\.\d+(?:-[a-z]+)? \([^)]+\) #\d+: \S.*$/.test(first.raw)) {
    throw new ParseError(what, "expected `OpenBSD RELEASE (KERNEL) #BUILD: DATE`", first.lineNumber, first.raw);
  }
  return first.raw.replace(/\s+/g, " ");
}

/** Installed syspatches, in the order listed; empty when none is installed. */
export function parseSyspatchList(text: string): string[] {
  const what = "syspatch -l output";
  return lines(text, what).map((line) => {
    if (!/^\d{3}_[A-Za-z0-9_]+$/.test(line.raw)) throw new ParseError(what, "expected a patch name such as 001_nsd", line.lineNumber, line.raw);
    return line.raw;
  });
}

export interface InstalledPackage {
  /** The name as pkg_info prints it. */
  readonly fullName: string;
  readonly stem: string;
  /** Version, with its p/v suffixes: "5.34.3", "2.6.12p0". */
  readonly version: string;
  /** Flavors after the version, joined by "-": "no_x11"; "" for none. */
  readonly flavor: string;
}

// The stem ends before the first "-" followed by a digit; the version runs to the next "-".
const PACKAGE_NAME = /^([A-Za-z0-9][A-Za-z0-9_.+]*(?:-[A-Za-z_.+][A-Za-z0-9_.+]*)*)-(\d[A-Za-z0-9_.+]*)(?:-([A-Za-z0-9_.+-]+))?$/;

export function parsePkgInfoQuiet(text: string): InstalledPackage[] {
  const what = "pkg_info -q output";
  return lines(text, what).map((line) => {
    const m = PACKAGE_NAME.exec(line.raw);
    if (!m) throw new ParseError(what, "expected a package name such as node-22.11.0", line.lineNumber, line.raw);
    return { fullName: line.raw, stem: m[1] ?? "", version: m[2] ?? "", flavor: m[3] ?? "" };
  });
}

import { describe, expect, it } from "vitest";
import { decideIfstated, expectedVariant, type IfstatedFacts, type SwitchedFile } from "../../../src/checks/ifstated.js";
import type { FileFacts } from "../../../src/lib/facts/files.js";
import { parseCarpInterfaces, type CarpInterface } from "../../../src/lib/parse/ifconfig.js";
import { parseIfstatedConf } from "../../../src/lib/parse/ifstated.js";
import { fixture } from "../../support/fixtures.js";

// The notes' form: one carp interface, three files switched with cp in each state's init block.
const NOTES_CONF = `# ifstated.conf
init-state auto
carp_up = "carp0.link.up"
state auto {
\tif $carp_up set-state master
\tif ! $carp_up set-state backup
}
state master {
\tinit {
\t\trun "cp /etc/mail/smtpd.conf.carp-master /etc/mail/smtpd.conf && rcctl restart smtpd"
\t\trun "cp /etc/resolv.conf.carp-master /etc/resolv.conf"
\t\trun "cp /etc/ntpd.conf.carp-master /etc/ntpd.conf && rcctl restart ntpd"
\t}
}
state backup {
\tinit {
\t\trun "cp /etc/mail/smtpd.conf.carp-backup /etc/mail/smtpd.conf && rcctl restart smtpd" # relay via the primary
\t\trun "cp /etc/resolv.conf.carp-backup /etc/resolv.conf"
\t\trun "cp /etc/ntpd.conf.carp-backup /etc/ntpd.conf && rcctl restart ntpd"
\t}
}
`;

// Another shape: two carp interfaces in the conditions, symlinks instead of copies, a commented-out line.
const TWO_CARPS = `wan = "carp0.link.up && carp1.link.up"
down = "carp0.link.down || carp1.link.unknown"
# run "cp /etc/old.conf.carp-master /etc/old.conf"
state primary {
\tinit { run 'ln -sf /etc/pf.anchor.carp-master /etc/pf.anchor' }
\tif $down set-state backup
}
`;

describe("parseIfstatedConf", () => {
  it("finds the carp interface and the switched files of the notes' form", () => {
    expect(parseIfstatedConf(NOTES_CONF, "/etc/ifstated.conf")).toEqual({ carpInterfaces: ["carp0"], switchedFiles: ["/etc/mail/smtpd.conf", "/etc/ntpd.conf", "/etc/resolv.conf"] });
  });
  it("lists every carp interface of the conditions, skips comments, reads single-quoted commands", () => {
    expect(parseIfstatedConf(TWO_CARPS, "x")).toEqual({ carpInterfaces: ["carp0", "carp1"], switchedFiles: ["/etc/pf.anchor"] });
  });
  it("keeps a '#' inside quotes", () => {
    expect(parseIfstatedConf('a = "carp2.link.up" \nstate x { init { run "echo # && cp /etc/a.carp-backup /etc/a" } }\n', "x").switchedFiles).toEqual(["/etc/a"]);
  });
  it("refuses a binary file", () => {
    expect(() => parseIfstatedConf("carp0.link.up\0", "x")).toThrow(/cannot parse x/);
  });
});

const PRIMARY_CARP = parseCarpInterfaces(fixture("ifconfig_carp_group_primary_master_vio.txt"))[0] as CarpInterface;
const SECONDARY_CARP = parseCarpInterfaces(fixture("ifconfig_carp_group_secondary_backup_vio.txt"))[0] as CarpInterface;

const hashed = (path: string, sha: string): FileFacts => ({ path, type: "file", mode: 0o644, uid: 0, gid: 0, size: 10, sha256: sha.repeat(64) });
const missing = (path: string): FileFacts => ({ path, type: "missing" });

function switched(path: string, live: string | null, master = "a", backup = "b"): SwitchedFile {
  return { path, live: live === null ? missing(path) : hashed(path, live), master: hashed(`${path}.carp-master`, master), backup: hashed(`${path}.carp-backup`, backup) };
}

function facts(over: Partial<IfstatedFacts> = {}): IfstatedFacts {
  return {
    role: "primary",
    confPath: "/etc/ifstated.conf",
    carp: { name: "carp203", from: "ifstated.conf" },
    carpInterface: PRIMARY_CARP,
    files: [switched("/etc/mail/smtpd.conf", "a"), switched("/etc/resolv.conf", "a", "a", "c")],
    filesFrom: "ifstated.conf",
    service: { name: "ifstated", state: "ok" },
    ...over,
  };
}

describe("decideIfstated", () => {
  it("picks the variant from the carp interface's link: master on MASTER (real capture), backup on BACKUP", () => {
    expect(expectedVariant(PRIMARY_CARP)).toBe("carp-master");
    expect(expectedVariant(SECONDARY_CARP)).toBe("carp-backup");
  });

  it("OK when every switched file is the variant of the host's state", () => {
    const res = decideIfstated(facts());
    expect([res.status, res.summary]).toEqual(["OK", "2 switched files match carp203 MASTER; ifstated running"]);
    const backup = decideIfstated(facts({ role: "secondary", carpInterface: SECONDARY_CARP, files: [switched("/etc/mail/smtpd.conf", "b")] }));
    expect([backup.status, backup.summary]).toEqual(["OK", "1 switched file matches carp203 BACKUP; ifstated running"]);
  });

  it("CRITICAL naming the file, the state and the variant found", () => {
    const res = decideIfstated(facts({ files: [switched("/etc/mail/smtpd.conf", "b")] }));
    expect([res.status, res.summary]).toEqual(["CRITICAL", "/etc/mail/smtpd.conf is the carp-backup variant, carp203 is MASTER"]);
    const edited = decideIfstated(facts({ files: [switched("/etc/mail/smtpd.conf", "e")] }));
    expect(edited.summary).toBe("/etc/mail/smtpd.conf is neither variant, carp203 is MASTER");
    expect(edited.details.join("\n")).not.toMatch(/aaaa|eeee/);
  });

  it("CRITICAL when the live file or its variant is missing, or when the carp interface is gone", () => {
    expect(decideIfstated(facts({ files: [switched("/etc/ntpd.conf", null)] })).summary).toBe("/etc/ntpd.conf missing (carp203 MASTER)");
    const noVariant: SwitchedFile = { ...switched("/etc/ntpd.conf", "a"), master: missing("/etc/ntpd.conf.carp-master") };
    expect(decideIfstated(facts({ files: [noVariant] })).summary).toBe("/etc/ntpd.conf.carp-master missing");
    expect(decideIfstated(facts({ carpInterface: null })).summary).toBe("carp203 does not exist on primary");
  });

  it("reads a symlinked live file by its target", () => {
    const link = (target: string): SwitchedFile => ({ ...switched("/etc/resolv.conf", "a"), live: { path: "/etc/resolv.conf", type: "symlink", linkTarget: target } });
    expect(decideIfstated(facts({ files: [link("/etc/resolv.conf.carp-master")] })).status).toBe("OK");
    expect(decideIfstated(facts({ files: [link("resolv.conf.carp-backup")] })).summary).toBe("/etc/resolv.conf is the carp-backup variant, carp203 is MASTER");
  });

  it("CRITICAL when ifstated is not running; UNKNOWN when the driving carp interface cannot be told", () => {
    const down = decideIfstated(facts({ service: { name: "ifstated", state: "failed" } }));
    expect([down.status, down.summary]).toEqual(["CRITICAL", "ifstated not running"]);
    const unsure = decideIfstated(facts({ carp: undefined, carpProblem: "/etc/ifstated.conf tests several carp interfaces (carp0, carp1)" }));
    expect([unsure.status, unsure.summary]).toEqual(["UNKNOWN", "cannot tell which carp interface drives ifstated"]);
    expect(unsure.details.join("\n")).toContain('set [checks.ifstated] carp = "carpN"');
  });

  it("UNKNOWN when a file cannot be read", () => {
    const res = decideIfstated(facts({ files: [{ ...switched("/etc/resolv.conf", "a"), backup: { path: "/etc/resolv.conf.carp-backup", type: "file", error: "EACCES" } }] }));
    expect([res.status, res.summary]).toEqual(["UNKNOWN", "cannot read /etc/resolv.conf.carp-backup"]);
  });
});

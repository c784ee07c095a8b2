import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { classifyTables, parsePfConfTables, parseSyncConfigTables, readPfConfTables, tablesToCompare } from "../../../../src/lib/compare/tables/selection.js";
import { HostError } from "../../../../src/lib/runtime/errors.js";
import { fixture } from "../../../support/fixtures.js";

const PF_CONF = fixture("pf_conf_bruteforce_spamd_faq.txt");
const dir = mkdtempSync(join(tmpdir(), "pf-tables-selection-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parsePfConfTables", () => {
  it("reads declarations (file-backed, const, quoted names), overload tables and the tables rules name", () => {
    const tables = parsePfConfTables(PF_CONF);
    expect(Object.fromEntries(tables.declared)).toEqual({
      bruteforce: { file: false, const: false },
      "spamd-white": { file: false, const: false },
      nospamd: { file: true, const: false },
      badhosts: { file: true, const: false },
      "office nets": { file: false, const: true },
      martians: { file: false, const: false },
    });
    expect([...tables.overload]).toEqual(["bruteforce"]);
    // `port > 1023` and `>< 2000` are no tables; a commented declaration is none either.
    expect([...tables.referenced].sort()).toEqual(["badhosts", "bruteforce", "nospamd", "office nets", "spamd-white", "webservers"]);
  });
});

describe("classifyTables (the default rule)", () => {
  it("compares file-backed and synced tables; leaves out overload, spamd, const and run-time tables, each with why", () => {
    const result = classifyTables({ pfConf: parsePfConfTables(PF_CONF), synced: ["trusted", "bruteforce"], configured: null, ignore: [] });
    expect(result.compared).toEqual(["badhosts", "trusted"]);
    expect(result.explicit).toBe(false);
    expect(Object.fromEntries(result.leftOut.map((table) => [table.name, table.why.split(":")[0]]))).toEqual({
      bruteforce: "filled by an overload rule on each host",
      martians: "filled at run time on each host (not file-backed in pf.conf, not named by carpentry's sync config)",
      nospamd: "spamd's table, filled on each host by spamd, spamd-setup or spamlogd (or per host)",
      "office nets": "const",
      "spamd-white": "spamd's table, filled on each host by spamd, spamd-setup or spamlogd (or per host)",
      webservers: "filled at run time on each host (not file-backed in pf.conf, not named by carpentry's sync config)",
    });
    expect(result.comparedWhy).toEqual([
      { name: "badhosts", why: "file-backed in pf.conf (the file is synced with pf.conf)" },
      { name: "trusted", why: "named by carpentry's sync config (pf_tables)" },
    ]);
  });

  it("takes [checks.pf_tables] tables over the rule (an overload table too), and ignore either way", () => {
    const pfConf = parsePfConfTables(PF_CONF);
    const listed = classifyTables({ pfConf, synced: [], configured: ["bruteforce", "badhosts"], ignore: ["badhosts"] });
    expect(listed.compared).toEqual(["bruteforce"]);
    expect(listed.explicit).toBe(true);
    expect(listed.leftOut.find((table) => table.name === "badhosts")?.why).toBe("in [checks.pf_tables] ignore");
    expect(listed.leftOut.find((table) => table.name === "martians")?.why).toBe("not in [checks.pf_tables] tables");
    expect(classifyTables({ pfConf, synced: [], configured: null, ignore: ["badhosts"] }).compared).toEqual([]);
  });
});

describe("the sync config and the files", () => {
  it("reads pf_tables= as the sync's ksh scripts do: quoted or not, spaces or commas", () => {
    expect(parseSyncConfigTables('peer=192.168.110.102\npf_tables="trusted  spamd"\n# pf_tables="old"\nPF_TABLES=a,b\nexport pf_tables=\'c\'\n')).toEqual(["trusted", "spamd", "a", "b", "c"]);
    expect(parseSyncConfigTables("peer=x\n")).toEqual([]);
  });

  it("follows pf.conf's includes, and reads a missing pf.conf or sync config as naming nothing", () => {
    writeFileSync(join(dir, "pf.conf"), 'table <local> persist file "/etc/x"\ninclude "pf.d/more.conf"\n');
    rmSync(join(dir, "pf.d"), { recursive: true, force: true });
    expect([...readPfConfTables(join(dir, "pf.conf")).declared.keys()]).toEqual(["local"]);
    writeFileSync(join(dir, "more.conf"), "pass in from <x> to any (max-src-conn 5, overload <flooders>)\n");
    writeFileSync(join(dir, "pf.conf"), 'table <local> persist file "/etc/x"\ninclude "more.conf"\ninclude "pf.conf"\n');
    expect([...readPfConfTables(join(dir, "pf.conf")).overload]).toEqual(["flooders"]);
    const none = tablesToCompare({ ignore: [] }, { pfConf: join(dir, "missing.conf"), syncConfig: join(dir, "missing-sync.conf") });
    expect(none).toMatchObject({ compared: [], leftOut: [] });
  });

  it("says which file it cannot read", () => {
    writeFileSync(join(dir, "locked.conf"), "table <x> persist\n", { mode: 0o000 });
    if (process.getuid?.() === 0) return expect(readPfConfTables(join(dir, "locked.conf")).declared.size).toBe(1);
    expect(() => readPfConfTables(join(dir, "locked.conf"))).toThrow(HostError);
    expect(() => readPfConfTables(join(dir, "locked.conf"))).toThrow(`cannot read ${join(dir, "locked.conf")}: EACCES`);
  });
});

import { describe, expect, it } from "vitest";
import { check, decidePfTables } from "../../../src/checks/pf-tables.js";
import { TableCapture } from "../../../src/lib/compare/tables/capture.js";
import { type TableComparison } from "../../../src/lib/compare/tables/compare.js";
import { diffEntries } from "../../../src/lib/compare/tables/hashing.js";
import { parseConfig } from "../../../src/lib/runtime/config.js";
import { ConfigError, ParseError } from "../../../src/lib/runtime/errors.js";
import { firstLine, formatText } from "../../../src/lib/runtime/result.js";
import { fixture } from "../../support/fixtures.js";

/** The normalized entries of `-T show` output, as a host reads them (all of them: one bucket). */
function entriesOf(text: string, key = "t"): string[] {
  const read = new TableCapture(key, true);
  read.push(Buffer.from(text));
  read.end();
  return read.entriesInBuckets(0, [0]);
}

/** What compareTables returns for a table, from each host's entries (null: the table is missing there). */
function compared(key: string, primary: readonly string[] | null, secondary: readonly string[] | null): TableComparison {
  const diff = primary && secondary ? diffEntries(primary, secondary) : { onlyInFirst: [], onlyInSecond: [] };
  return { key, count: { primary: primary?.length ?? null, secondary: secondary?.length ?? null }, only: { primary: diff.onlyInFirst, secondary: diff.onlyInSecond } };
}

const SHOW = entriesOf(fixture("derived_pfctl_t_T_show_negated_ipv6.txt"));
const BRUTEFORCE = entriesOf(fixture("freebsd_pfctl_t_bruteforce_T_show_mondoo.txt"));
const options = { maxListed: 5, verbose: false };

describe("decidePfTables", () => {
  it("is OK when every table holds the same entries", () => {
    const res = decidePfTables([compared("badhosts", SHOW, [...SHOW].reverse()), compared("bruteforce", BRUTEFORCE, BRUTEFORCE)], options);
    expect(res.status).toBe("OK");
    expect(res.summary).toBe("2 pf tables identical on both hosts (8 entries)");
    expect(res.details).toEqual(["badhosts identical (6 entries)", "bruteforce identical (2 entries)"]);
    expect(res.perfdata).toEqual([
      { label: "tables", value: 2, min: 0 },
      { label: "tables_differing", value: 0, min: 0 },
    ]);
  });

  it("is OK, saying so, when there is no table to compare", () => {
    expect(decidePfTables([], options)).toMatchObject({ status: "OK", summary: "no pf tables to compare" });
  });

  it("says one line for one differing table, with IPv4, IPv6, networks and negations named", () => {
    // 3 entries only on the primary, 1 only on the secondary.
    const secondary = [...SHOW.filter((entry) => !["!10.0.0.0/8", "2001:db8::/32", "fe80::1"].includes(entry)), "!192.0.2.128/25"];
    const res = decidePfTables([compared("badhosts", SHOW, secondary), compared("bruteforce", BRUTEFORCE, BRUTEFORCE)], options);
    expect(firstLine(res)).toBe("CRITICAL: table badhosts differs: 3 only on primary, 1 only on secondary | tables=2;;;0 tables_differing=1;;;0");
    expect(res.details).toEqual([
      "badhosts differs: 3 only on primary, 1 only on secondary (primary 6 entries, secondary 4 entries)",
      "badhosts only on primary: !10.0.0.0/8",
      "badhosts only on primary: 2001:db8::/32",
      "badhosts only on primary: fe80::1",
      "badhosts only on secondary: !192.0.2.128/25",
      "bruteforce identical (2 entries)",
    ]);
  });

  it("lists at most max_listed entries per side without -v, all with -v", () => {
    const primary = Array.from({ length: 12 }, (_, i) => `10.0.0.${i + 10}`);
    const table = compared("badhosts", primary, []);
    const bounded = decidePfTables([table], { maxListed: 3, verbose: false });
    expect(bounded.summary).toBe("table badhosts differs: 12 only on primary, 0 only on secondary");
    expect(bounded.details).toEqual([
      "badhosts differs: 12 only on primary, 0 only on secondary (primary 12 entries, secondary 0 entries)",
      "badhosts only on primary: 10.0.0.10",
      "badhosts only on primary: 10.0.0.11",
      "badhosts only on primary: 10.0.0.12",
      "badhosts only on primary: 9 more (-v lists all)",
    ]);
    const full = decidePfTables([table], { maxListed: 3, verbose: true });
    expect(full.details).toHaveLength(13);
    expect(full.details.slice(1)).toEqual([...primary].sort().map((entry) => `badhosts only on primary: ${entry}`));
    expect(decidePfTables([table], { maxListed: 0, verbose: false }).details.slice(1)).toEqual(["badhosts only on primary: 12 more (-v lists all)"]);
    // The default output stays within what monit keeps.
    expect(Buffer.byteLength(formatText(bounded, false))).toBeLessThanOrEqual(500);
  });

  it("is CRITICAL for a table missing on one host", () => {
    const res = decidePfTables([compared("bruteforce", BRUTEFORCE, null)], options);
    expect(res).toMatchObject({ status: "CRITICAL", summary: "table bruteforce missing on secondary" });
    expect(res.details).toEqual(["bruteforce missing on secondary (primary 2 entries, secondary missing)"]);
    expect(decidePfTables([compared("spamd", null, [])], options).summary).toBe("table spamd missing on primary");
  });

  it("is WARNING for a configured table that exists on neither host", () => {
    const res = decidePfTables([compared("typo", null, null), compared("bruteforce", BRUTEFORCE, BRUTEFORCE)], options);
    expect(res).toMatchObject({ status: "WARNING", summary: "configured table typo exists on neither host" });
    expect(decidePfTables([compared("a", null, null), compared("b", null, null)], options).summary).toBe("2 configured tables exist on neither host: a, b");
  });

  it("names as many differing tables as fit in the first line, CRITICAL before WARNING", () => {
    const keys = ["badhosts", "bruteforce", "spamd_greytrap", "spamd_white", "trusted_networks", "vpn_clients", "office"];
    const res = decidePfTables([compared("typo", null, null), ...keys.map((key) => compared(key, [key === "office" ? "10.0.0.1" : "10.0.0.2"], ["10.0.0.3"]))], options);
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("7 tables differ between the hosts: badhosts, bruteforce, +5 more");
    expect(firstLine(res).split(" | ")[0]!.length).toBeLessThanOrEqual(80);
    // The details follow the findings, most urgent first: the differing tables, then the missing one.
    expect(res.details[0]).toBe("badhosts differs: 1 only on primary, 1 only on secondary (primary 1 entry, secondary 1 entry)");
    const typoAt = res.details.indexOf("typo exists on neither host (primary missing, secondary missing)");
    expect(typoAt).toBeGreaterThan(res.details.findIndex((line) => line.startsWith("office differs")));
    expect(decidePfTables([compared("a", ["10.0.0.1"], []), compared("b", null, [])], options).summary).toBe("2 tables differ between the hosts: a, b");
  });
});

describe("garbled input and config", () => {
  it("refuses -T show output that holds anything but entries (the check becomes UNKNOWN)", () => {
    expect(() => entriesOf(fixture("pfctl_vt_bruteforce_T_expire_600_openbsd_noqqe.txt"), "bruteforce")).toThrow(ParseError);
    expect(() => entriesOf("   10.0.0.1\n   <html>\n", "badhosts")).toThrow("cannot parse pfctl -t badhosts -T show output line 2");
  });

  it("refuses a table name a shell would split, naming the key", () => {
    const text = 'role = "primary"\n[peer]\nhost = "10.0.0.2"\n[checks.pf_tables]\ntables = ["x;touch /tmp/pwned"]\n';
    const error = (() => {
      try {
        parseConfig(text, "c.toml", { only: check });
      } catch (caught) {
        return caught;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).summary).toBe("config error: checks.pf_tables.tables.0");
    expect((error as ConfigError).detail).toBe('c.toml: line 5: checks.pf_tables.tables.0: expected a pf table name, got "x;touch /tmp/pwned"');
  });
});

describe("decidePfTables with the default rule's selection", () => {
  const selection = (compared: string[], explicit = false) => ({
    compared,
    comparedWhy: compared.map((name) => ({ name, why: "file-backed in pf.conf (the file is synced with pf.conf)" })),
    leftOut: [{ name: "bruteforce", why: "filled by an overload rule on each host: differs between the hosts by design" }],
    explicit,
  });

  it("lists what it left out, and why, after what it compared", () => {
    const res = decidePfTables([compared("badhosts", SHOW, SHOW)], options, selection(["badhosts"]));
    expect(res.status).toBe("OK");
    expect(res.details).toContain("left out: bruteforce: filled by an overload rule on each host: differs between the hosts by design");
  });

  it("takes a table the rule chose but neither host loaded as no fault; one the admin listed still warns", () => {
    const res = decidePfTables([compared("badhosts", SHOW, SHOW), compared("unused", null, null)], options, selection(["badhosts", "unused"]));
    expect(res.status).toBe("OK");
    expect(res.summary).toBe(`1 pf table identical on both hosts (${SHOW.length} entries)`);
    expect(res.details).toContain("unused not loaded on either host (declared in pf.conf, used by no rule, not persist)");
    expect(decidePfTables([compared("unused", null, null)], options, selection(["unused"], true)).status).toBe("WARNING");
  });

  it("is OK with nothing to compare, and says why", () => {
    const res = decidePfTables([], options, selection([]));
    expect(res).toMatchObject({ status: "OK", summary: "no pf tables to compare" });
    expect(res.details[0]).toBe("no table is file-backed in pf.conf or named by carpentry's sync config");
  });
});

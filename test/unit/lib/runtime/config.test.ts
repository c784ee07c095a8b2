import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../../../src/checks/index.js";
import { check as mailq } from "../../../../src/checks/mailq.js";
import { CONFIG_MAX_BYTES, loadConfig, parseConfig, resolveConfigPath, untrustedBecause, type CheckSections } from "../../../../src/lib/runtime/config.js";
import { ConfigError } from "../../../../src/lib/runtime/errors.js";

const dir = mkdtempSync(join(tmpdir(), "carpentry-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(text: string, sections: CheckSections = { all: ALL_CHECKS }): ConfigError {
  try {
    parseConfig(text, "/etc/carpentry.monit/carpentry.toml", sections);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("needs only role and peer.host; everything else has a default", () => {
    const config = parseConfig('role = "primary"\n[peer]\nhost = "192.168.110.102"\n', "c.toml", { all: ALL_CHECKS });
    expect(config.peer).toMatchObject({ host: "192.168.110.102", user: "root", port: 22, ssh_options: [], connect_timeout: 5 });
    expect(config.checks.mailq).toMatchObject({ warning: 50, critical: 500 });
    expect(config.checks["sysctl"]).toMatchObject({ ignore: [] });
  });

  it("names the file when it is missing", () => {
    const path = join(dir, "absent.toml");
    expect(() => loadConfig(path, { all: ALL_CHECKS })).toThrow(new RegExp(`${path}: file not found`));
  });

  it("names the line of a TOML syntax error", () => {
    const error = configError('role = "primary"\n[peer]\nhost = "x\n');
    expect(error.line).toBe(3);
    expect(error.detail).toMatch(/carpentry\.toml: line 3: TOML syntax error/);
  });

  it("names an unknown key, its line, and the keys allowed there", () => {
    const error = configError('role = "primary"\n[peer]\nhost = "a"\nprot = 22\n');
    expect(error.key).toBe("peer.prot");
    expect(error.line).toBe(4);
    expect(error.detail).toMatch(/unknown key \(allowed here: host, user, port/);
  });

  it("names a wrong type with what was expected and what came", () => {
    const error = configError('role = "primary"\n[peer]\nhost = "a"\nport = "22"\n');
    expect(error.key).toBe("peer.port");
    expect(error.line).toBe(4);
    expect(error.detail).toMatch(/expected .*got "22"/);
  });

  it("rejects a port of 70000 and a role of master", () => {
    const port = configError('role = "primary"\n[peer]\nhost = "a"\nport = 70000\n');
    expect(port.detail).toMatch(/peer\.port: expected a port from 1 to 65535, got 70000/);
    const role = configError('role = "master"\n[peer]\nhost = "a"\n');
    expect(role.key).toBe("role");
    expect(role.line).toBe(1);
    expect(role.detail).toMatch(/either "primary" or "secondary", got "master"/);
  });

  it("says what is missing", () => {
    const error = configError('role = "secondary"\n');
    expect(error.key).toBe("peer");
    expect(error.detail).toMatch(/missing/);
  });

  it("refuses a peer host that ssh would read as an option", () => {
    expect(configError('role = "primary"\n[peer]\nhost = "-oProxyCommand=x"\n').key).toBe("peer.host");
  });

  it("keeps the summary short enough for the first output line", () => {
    const error = configError('role = "primary"\n[peer]\nhost = "a"\n[checks.mailq]\nwarning = "abc"\n');
    expect(`UNKNOWN: ${error.summary}`.length).toBeLessThanOrEqual(80);
    expect(error.key).toBe("checks.mailq.warning");
    expect(error.line).toBe(5);
  });

  it("composes [checks] from the checks' own schemas: a table no check owns is a misspelling", () => {
    const unknown = configError('role = "primary"\n[peer]\nhost = "a"\n[checks.mailqq]\nwarning = 5\n');
    expect(unknown.key).toBe("checks.mailqq");
    expect(unknown.line).toBe(4);
    expect(unknown.detail).toMatch(/unknown key \(allowed here: peer, carp, carp_interfaces, pfsync, pf_tables, sysctl, mailq, dns, installed, pf, carp_stats, ntp, versions, ifstated, vpn\)/);
    const inside = configError('role = "primary"\n[peer]\nhost = "a"\n[checks.mailq]\nwarn = 5\n');
    expect(inside.key).toBe("checks.mailq.warn");
    expect(inside.line).toBe(5);
    expect(inside.detail).toMatch(/unknown key \(allowed here: warning, critical, age_warning, age_critical\)/);
  });

  it("validates one check's table only, for that check's own executable", () => {
    const text = 'role = "primary"\n[peer]\nhost = "a"\n[checks.pfsync]\nratio_low = "x"\n[checks.mailq]\nwarning = 5\n';
    expect(parseConfig(text, "c.toml", { only: mailq }).checks["mailq"]).toEqual({ warning: 5, critical: 500, age_warning: 3600, age_critical: 86400 });
    const own = configError('role = "primary"\n[peer]\nhost = "a"\n[checks.mailq]\nage_warning = -1\n', { only: mailq });
    expect(own.detail).toMatch(/checks\.mailq\.age_warning: expected 0 or more, got -1/);
    expect(own.line).toBe(5);
  });

  it("takes --config over CARPENTRY_CONFIG over the default", () => {
    expect(resolveConfigPath("/a", { CARPENTRY_CONFIG: "/b" })).toBe("/a");
    expect(resolveConfigPath(undefined, { CARPENTRY_CONFIG: "/b" })).toBe("/b");
    expect(resolveConfigPath(undefined, {})).toBe("/etc/carpentry.monit/carpentry.toml");
  });

  it("reads a file from disk", () => {
    const path = join(dir, "ok.toml");
    writeFileSync(path, 'role = "secondary"\n[peer]\nhost = "primary"\nport = 2222\n');
    expect(loadConfig(path, { all: ALL_CHECKS }).peer.port).toBe(2222);
  });
});

describe("[redact] patterns", () => {
  it("refuses a pattern that can backtrack without bound, naming the file, the key and its line", () => {
    const text = 'role = "primary"\n[peer]\nhost = "b"\n[redact]\npatterns = ["ok \\\\S+", "(a+)+$"]\n';
    expect(() => parseConfig(text, "/etc/c.toml", { all: [] })).toThrow(/\/etc\/c\.toml.*redact\.patterns\.1.*nested quantifiers/);
  });
});

describe("a config is trusted only when it deserves it", () => {
  const BASE = 'role = "primary"\n[peer]\nhost = "secondary"\n';
  const loadError = (path: string): ConfigError => {
    try {
      loadConfig(path, { all: ALL_CHECKS });
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error("expected a ConfigError");
  };

  it("refuses a FIFO at once, without waiting for a writer", () => {
    const fifo = join(dir, "fifo.toml");
    execFileSync("mkfifo", [fifo]);
    const started = performance.now();
    const error = loadError(fifo);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.message).toContain(fifo);
    expect(error.expected).toMatch(/is a FIFO, not a regular file/);
  });

  it("refuses a device such as /dev/zero before reading a byte of it", () => {
    expect(loadError("/dev/zero").expected).toMatch(/is a device, not a regular file/);
  });

  it("refuses a directory", () => {
    expect(loadError(dir).expected).toMatch(/is a directory/);
  });

  it("refuses a file its group or everyone may write", () => {
    const path = join(dir, "open.toml");
    writeFileSync(path, BASE);
    chmodSync(path, 0o664);
    expect(loadError(path).expected).toMatch(/writable by its group \(mode 0664; chmod go-w\)/);
    chmodSync(path, 0o646);
    expect(loadError(path).expected).toMatch(/writable by everyone/);
    chmodSync(path, 0o600);
    expect(loadConfig(path, { all: ALL_CHECKS }).role).toBe("primary");
  });

  it("refuses a file owned by another user than root or the one running it", () => {
    const stat = {
      mode: 0o100600,
      uid: 1234,
      size: 10,
      isFile: () => true,
      isDirectory: () => false,
      isFIFO: () => false,
      isCharacterDevice: () => false,
      isBlockDevice: () => false,
      isSocket: () => false,
    };
    expect(untrustedBecause(stat, 1000)).toBe("owned by uid 1234, not by root or uid 1000");
    expect(untrustedBecause(stat, 1234)).toBeUndefined();
    expect(untrustedBecause({ ...stat, uid: 0 }, 1000)).toBeUndefined();
  });

  it(`refuses a file larger than ${CONFIG_MAX_BYTES / 1024} KiB`, () => {
    const path = join(dir, "big.toml");
    writeFileSync(path, BASE + "#".repeat(CONFIG_MAX_BYTES));
    expect(loadError(path).expected).toMatch(/larger than 256 KiB/);
  });

  it("refuses a file that is not UTF-8", () => {
    const path = join(dir, "latin1.toml");
    writeFileSync(path, Buffer.concat([Buffer.from(BASE), Buffer.from([0x23, 0xe9, 0x0a])]));
    expect(loadError(path).expected).toBe("not UTF-8 text");
  });
});

describe("the config check refuses what a check would refuse, naming the line", () => {
  const BASE = 'role = "primary"\n[peer]\nhost = "secondary"\n';

  it.each([
    ['""', /empty range/],
    ['"@"', /empty range/],
    ['"20:10"', /start is greater than end/],
    ['"1e400"', /not a number/],
    ["inf", /not a number/],
    [`"${"1".repeat(2000)}"`, /longer than 40 characters/],
  ])("threshold %s", (value, why) => {
    const error = configError(`${BASE}\n[checks.mailq]\nwarning = ${value}\n`);
    expect(error.key).toBe("checks.mailq.warning");
    expect(error.line).toBe(6);
    expect(error.expected).toMatch(why);
  });

  it("conflicting [host_specific] values, at the pair that conflicts", () => {
    const inline = configError(`${BASE}[host_specific]\nvalues = [\n  { primary = "10.0.0.1", secondary = "10.0.0.2" },\n  { primary = "10.0.0.3", secondary = "10.0.0.2" },\n]\n`);
    expect(inline.key).toBe("host_specific.values.1");
    expect(inline.line).toBe(5);
    const tables = configError(`${BASE}[[host_specific.values]]\nprimary = "10.0.0.1"\nsecondary = "10.0.0.2"\n\n[[host_specific.values]]\nprimary = "10.0.0.1"\nsecondary = "10.0.0.3"\n`);
    expect(tables.key).toBe("host_specific.values.1");
    expect(tables.line).toBe(8);
    expect(tables.expected).toMatch(/"10.0.0.1" would map to both "10.0.0.2" and "10.0.0.3"/);
  });

  it("a [mail] to or from that sendmail would read as an option", () => {
    const to = configError(`${BASE}[mail]\nto = ["root", "-oQ/tmp/x"]\n`);
    expect(to.key).toBe("mail.to.1");
    expect(to.line).toBe(5);
    expect(to.expected).toMatch(/not starting with '-'/);
    const from = configError(`${BASE}[mail]\nfrom = "-f root"\n`);
    expect(from.key).toBe("mail.from");
    expect(from.line).toBe(5);
    expect(configError(`${BASE}[mail]\nfrom = "a\\nb@example.org"\n`).key).toBe("mail.from");
    expect(parseConfig(`${BASE}[mail]\nfrom = "Carpentry <carpentry@gw1.example.org>"\nto = ["root", "admin@example.org"]\n`, "c.toml", { all: ALL_CHECKS }).mail.to).toEqual([
      "root",
      "admin@example.org",
    ]);
  });
});

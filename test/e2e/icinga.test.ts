// contrib/icinga2/carpentry.conf in a real Icinga 2 (Debian's icinga2-bin): `icinga2 daemon -C`
// accepts it with gateway hosts of both roles behind agents, and the services it makes are the
// registry's checks of each role, at the monitrc examples' intervals and "for N cycles" as attempts,
// run on the gateway's own agent. Icinga's cache directory is a private tmpfs (unshare --mount), so
// the machine's /var/cache/icinga2 is left as it was.
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../src/checks/index.js";
import { readExample, REPO_ROOT, type ExampleRole } from "../support/monitrc.js";

const CONF = join(REPO_ROOT, "contrib", "icinga2", "carpentry.conf");

function shell(script: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("/usr/bin/unshare", ["--mount", "/bin/sh", "-c", script], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

interface IcingaService {
  name: string;
  attrs: { host_name: string; check_command: string; check_interval: number; retry_interval: number; max_check_attempts: number; command_endpoint: string; vars: { carpentry_check: string } };
}

describe("contrib/icinga2/carpentry.conf", () => {
  let dir: string;
  let validation: { code: number; output: string };
  let services: IcingaService[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "carpentry-icinga-"));
    // icinga2 reads its config as its own user (nagios), after dropping root
    chmodSync(dir, 0o755);
    writeFileSync(
      join(dir, "icinga2.conf"),
      [
        'const NodeName = "icinga.example.org"',
        'const ZoneName = "master"',
        "object Endpoint NodeName {}",
        "object Zone ZoneName { endpoints = [ NodeName ] }",
        'object Endpoint "fw1.example.org" {}',
        'object Zone "fw1.example.org" { endpoints = [ "fw1.example.org" ]; parent = ZoneName }',
        'object Endpoint "fw2.example.org" {}',
        'object Zone "fw2.example.org" { endpoints = [ "fw2.example.org" ]; parent = ZoneName }',
        `include "${CONF}"`,
        'object CheckCommand "alive" { command = [ "/bin/true" ] }',
        'object Host "fw1.example.org" { check_command = "alive"; zone = ZoneName; vars.carpentry_role = "primary"; vars.carpentry_endpoint = "fw1.example.org" }',
        'object Host "fw2.example.org" { check_command = "alive"; zone = ZoneName; vars.carpentry_role = "secondary"; vars.carpentry_endpoint = "fw2.example.org" }',
        'object Host "web.example.org" { check_command = "alive" }',
        "",
      ].join("\n"),
    );
    // validate, then list what it made as JSON lines through Icinga's own console reading the cache
    const result = await shell(
      `mount -t tmpfs -o mode=0777 tmpfs /var/cache/icinga2 && /usr/sbin/icinga2 daemon -C -c '${dir}/icinga2.conf' >'${dir}/validate.log' 2>&1; echo "rc=$?"; cat '${dir}/validate.log'; ` +
        `/usr/sbin/icinga2 object list --type Service >'${dir}/objects.txt' 2>&1`,
    );
    validation = { code: Number(/^rc=(\d+)/.exec(result.output)?.[1] ?? -1), output: result.output };
    services = parseObjectList(await readText(join(dir, "objects.txt")));
  }, 90_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("is accepted by icinga2 daemon -C", () => {
    expect(validation.output).toContain("Finished validating the configuration file(s).");
    expect(validation.output).not.toMatch(/critical\/|warning\//);
    expect(validation.code).toBe(0);
  });

  it.each(["primary", "secondary"] as const)("makes one service per check of the %s, on its agent, at the monitrc example's interval and cycles", (role: ExampleRole) => {
    const host = role === "primary" ? "fw1.example.org" : "fw2.example.org";
    const mine = services.filter((s) => s.attrs.host_name === host);
    expect(mine.map((s) => s.attrs.vars.carpentry_check).sort()).toEqual(
      ALL_CHECKS.filter((c) => c.roles.includes(role))
        .map((c) => c.name)
        .sort(),
    );
    const stanzas = new Map(readExample(role).stanzas.map((s) => [s.name, s.statements.join(" ")]));
    for (const service of mine) {
      const check = service.attrs.vars.carpentry_check;
      const stanza = stanzas.get(`check_${check}`) ?? "";
      expect(stanza, check).not.toBe("");
      const every = /every (\d+) cycles/.exec(stanza);
      const cycles = /for (\d+) cycles/.exec(stanza);
      expect(service.attrs.check_interval, check).toBe(60 * Number(every?.[1] ?? 1));
      expect(service.attrs.retry_interval, check).toBe(service.attrs.check_interval);
      expect(service.attrs.max_check_attempts, check).toBe(Number(cycles?.[1] ?? 1));
      expect(service.attrs.check_command).toBe("carpentry");
      expect(service.attrs.command_endpoint).toBe(host);
    }
  });

  it("leaves hosts without a carpentry role alone", () => {
    expect(services.filter((s) => s.attrs.host_name === "web.example.org")).toEqual([]);
  });
});

async function readText(path: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return readFile(path, "utf8");
}

/** `icinga2 object list` text: "Object 'HOST!NAME' of type 'Service':" then "  * key = value" lines (vars nested one deeper). */
function parseObjectList(text: string): IcingaService[] {
  const out: IcingaService[] = [];
  for (const block of text.split(/^Object '/m).slice(1)) {
    const name = block.slice(0, block.indexOf("'"));
    const value = (key: string): string => /^ {2}\* (\S+) = (.*)$/m.exec(block.split("\n").filter((l) => l.startsWith(`  * ${key} = `))[0] ?? "")?.[2] ?? "";
    const text = (key: string): string => JSON.parse(value(key) || '""') as string;
    const check = /^ {4}\* carpentry_check = (.*)$/m.exec(block)?.[1];
    out.push({
      name,
      attrs: {
        host_name: text("host_name"),
        check_command: text("check_command"),
        check_interval: Number(value("check_interval")),
        retry_interval: Number(value("retry_interval")),
        max_check_attempts: Number(value("max_check_attempts")),
        command_endpoint: text("command_endpoint"),
        vars: { carpentry_check: check ? (JSON.parse(check) as string) : "" },
      },
    });
  }
  return out;
}

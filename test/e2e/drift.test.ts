// check_drift_* and check_drift --set against the simulated pair, run inside the primary as monit runs
// them: each kind of drift, the secrets that must never be printed, host-specific values, a dead peer.
import { appendFileSync, chmodSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPair, type HostName, type Pair } from "../harness/pair.js";
import { fixture } from "../support/fixtures.js";

const HOSTS: readonly HostName[] = ["primary", "secondary"];

const PRIMARY_CONFIG = `role = "primary"
[peer]
host = "secondary"

[host_specific]
values = [{ primary = "192.168.110.101", secondary = "192.168.110.102" }]
interfaces = { re0 = "em0" }

[redact]
patterns = ["(?<=api_token = )\\\\S+"]

[drift.custom]
paths = ["/etc/custom/", "/etc/hostname.carp0"]

[drift.pki]
paths = ["/etc/openvpn/easy-rsa/pki/"]
exclude = ["/etc/openvpn/easy-rsa/pki/private/"]
`;

// Everything the tests plant, removed before each test so every test starts from the same pair.
const PLANTED = [
  "/etc/pf.conf",
  "/etc/pf.tables",
  "/etc/dhcpd.conf",
  "/var/unbound",
  "/etc/openvpn",
  "/etc/openv-client-acme",
  "/etc/ifstated.conf",
  "/etc/mail/smtpd.conf.carp-master",
  "/etc/mail/smtpd.conf.carp-backup",
  "/etc/ntpd.conf.carp-master",
  "/etc/ntpd.conf.carp-backup",
  "/etc/resolv.conf.carp-master",
  "/etc/resolv.conf.carp-backup",
  "/etc/custom",
  "/etc/hostname.carp0",
  "/root/bin",
  "/etc/carpentry.bin",
  "/etc/rc.d",
];

// Secret canaries: each host has its own value, so every secret-bearing file differs and is diffed.
const canary = (kind: string, host: HostName): string => `CANARY${kind}${host === "primary" ? "P" : "S"}9z`;
const pem = (label: string, body: string): string => `-----BEGIN ${label}-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC${body}\nBKcwggSjAgEAAoIBAQC7\n-----END ${label}-----\n`;
const staticKey = (body: string): string => `#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n${body}e5f1c2d3a4b5\n-----END OpenVPN Static key V1-----\n`;

type Planted = Record<string, string | { content: string; mode?: number; uid?: number }>;

function baseline(host: HostName): Planted {
  return {
    "/etc/pf.conf": { content: '# managed by carpentry\nset skip on lo\nblock return log\npass out\ntable <badhosts> persist file "/etc/pf.tables/badhosts.txt"\n', mode: 0o600 },
    "/etc/pf.tables/badhosts.txt": { content: "192.0.2.1\n192.0.2.2\n", mode: 0o600 },
    "/etc/pf.tables/spamd.txt": { content: "198.51.100.7\n", mode: 0o600 },
    "/etc/dhcpd.conf": "# managed by carpentry\nsubnet 192.168.120.0 netmask 255.255.255.0 {\n\toption routers 192.168.120.103;\n\trange 192.168.120.10 192.168.120.200;\n}\n",
    "/var/unbound/etc/unbound.conf": 'server:\n\tinterface: 0.0.0.0\n\tpidfile: "/var/unbound/unbound.pid"\nremote-control:\n\tcontrol-enable: yes\n',
    "/var/unbound/etc/unbound_control.key": { content: pem("RSA PRIVATE KEY", canary("UNBOUNDKEY", host)), mode: 0o640 },
    "/var/unbound/etc/unbound_server.pem": "-----BEGIN CERTIFICATE-----\nMIIDpublic\n-----END CERTIFICATE-----\n",
    "/etc/openvpn/server.conf": `# managed by carpentry (${host === "primary" ? "edited" : "synced"})\nport 1194\ndev tun0\n<tls-auth>\n${staticKey(canary("STATIC", host))}</tls-auth>\n`,
    "/etc/openvpn/ta.key": { content: staticKey(canary("TAKEY", host)), mode: 0o600 },
    "/etc/openvpn/easy-rsa/pki/private/server.key": { content: pem("PRIVATE KEY", canary("PKIKEY", host)), mode: 0o600 },
    "/etc/openvpn/server-inline.pem": `# bundle (${host === "primary" ? "new" : "old"})\n${pem("EC PRIVATE KEY", canary("PEMKEY", host))}`,
    "/etc/openv-client-acme/client.conf": "client\nremote vpn.acme.example 1194\n",
    "/etc/ifstated.conf": fixture(`ifstated.conf.${host}`, "drift"),
    "/etc/mail/smtpd.conf.carp-backup": fixture(`smtpd.conf.carp-backup.${host}`, "drift"),
    "/etc/mail/smtpd.conf.carp-master": 'listen on lo0\naction "out" relay\nmatch from local for any action "out"\n',
    "/etc/ntpd.conf.carp-master": "servers pool.ntp.org\nlisten on 192.168.110.103\n",
    "/etc/resolv.conf.carp-master": "nameserver 127.0.0.1\n",
    "/etc/custom/app.conf": `# app (${host === "primary" ? "v2" : "v1"})\napi_token = ${canary("ADMIN", host)}\nport = 8080\n`,
    "/etc/hostname.carp0": { content: `inet 192.168.0.103 255.255.255.0 192.168.0.255 vhid 1 carpdev re0 pass ${canary("CARPPASS", host)} advskew 0\n`, mode: 0o640 },
    "/root/bin/pf-tables-update.sh": { content: "#!/bin/ksh\n/sbin/pfctl -t badhosts -T replace -f /etc/pf.tables/badhosts.txt\n", mode: 0o700 },
    "/etc/carpentry.bin/pf.sh": { content: "#!/bin/ksh\nscp -p /etc/pf.conf root@192.168.110.102:/etc/\n", mode: 0o700 },
    "/etc/rc.d/carpentry": { content: '#!/bin/ksh\ndaemon="/etc/carpentry.bin/entr-all"\n. /etc/rc.d/rc.subr\nrc_cmd $1\n', mode: 0o755 },
  };
}

// The secret files' differences are deliberate (each host its own canary); these sets are the ones
// that hold no secrets, so they must come out identical.
const SECRET_FREE_SETS = ["scripts", "pf", "dhcp", "ifstated"] as const;

let pair: Pair;

async function plant(host: HostName, files: Planted): Promise<void> {
  for (const [path, spec] of Object.entries(files)) {
    const file = typeof spec === "string" ? { content: spec } : spec;
    await pair.writeFile(host, path, file.content, { mode: file.mode ?? 0o644, uid: file.uid ?? 0, gid: file.uid ?? 0 });
  }
}

async function run(argv: string[]): Promise<{ code: number | null; firstLine: string; stdout: string; durationMs: number }> {
  const res = await pair.run("primary", argv);
  expect(res.stderr).toBe("");
  return { code: res.code, firstLine: res.stdout.split("\n")[0] ?? "", stdout: res.stdout, durationMs: res.durationMs };
}

const drift = (set: string, ...args: string[]): ReturnType<typeof run> => run([`/etc/carpentry.monit/check_drift_${set}`, ...args]);

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
  await pair.writeConfig("primary", PRIMARY_CONFIG);
  await pair.writeConfig("secondary", 'role = "secondary"\n[peer]\nhost = "primary"\n');
});

afterAll(async () => {
  await pair?.stop();
});

beforeEach(async () => {
  if (pair.sshd.state !== "running") await pair.sshd.start();
  for (const host of HOSTS) {
    for (const path of PLANTED) rmSync(pair.hostPath(host, path), { recursive: true, force: true });
    await plant(host, baseline(host));
    // The directories' modes: /etc/openvpn must be 755 (a wrong mode breaks the VPN after a failover), /etc/pf.tables 700.
    chmodSync(pair.hostPath(host, "/etc/pf.tables"), 0o700);
    chmodSync(pair.hostPath(host, "/etc/openvpn"), 0o755);
    await pair.clearCommandLog(host);
  }
});

describe("check_drift_*: identical sets", () => {
  it.each(SECRET_FREE_SETS)("OK for identical %s files, in one round trip to the secondary", async (set) => {
    const res = await drift(set);
    expect(res.firstLine).toMatch(new RegExp(`^OK: ${set}: \\d+ paths? the same on primary and secondary \\| paths=\\d+;;;0 differing=0;;;0$`));
    expect(res.code).toBe(0);
    const ssh = (await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh");
    expect(ssh).toHaveLength(1);
    expect(await pair.refusedCommands("secondary")).toEqual([]);
  });

  it("OK for the ifstated pair that differs only in the declared addresses and interfaces", async () => {
    expect(readFileSync(pair.hostPath("primary", "/etc/ifstated.conf"), "utf8")).not.toBe(readFileSync(pair.hostPath("secondary", "/etc/ifstated.conf"), "utf8"));
    const res = await drift("ifstated");
    expect(res.firstLine).toMatch(/^OK: ifstated: 5 paths the same on primary and secondary \|/);
  });

  it("OK for a user-defined [drift.custom] set via check_drift --set custom", async () => {
    await plant("secondary", { "/etc/custom/app.conf": baseline("primary")["/etc/custom/app.conf"] as string, "/etc/hostname.carp0": baseline("primary")["/etc/hostname.carp0"] as Planted[string] });
    const res = await run(["/etc/carpentry.monit/check_drift", "--set", "custom"]);
    expect(res.firstLine).toMatch(/^OK: custom: 3 paths the same on primary and secondary \|/);
    expect(res.code).toBe(0);
  });
});

describe("check_drift_*: each kind of drift is CRITICAL, named, with its diff", () => {
  it("changed content: the unified diff follows", async () => {
    await plant("secondary", {
      "/etc/pf.conf": { content: '# managed by carpentry\nset skip on lo\nblock return log\npass out quick\ntable <badhosts> persist file "/etc/pf.tables/badhosts.txt"\n', mode: 0o600 },
    });
    const res = await drift("pf");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/pf\.conf content differs \| paths=4;;;0 differing=1;;;0$/);
    expect(res.code).toBe(2);
    expect(res.stdout).toContain("\n/etc/pf.conf: content differs\n--- primary:/etc/pf.conf\n+++ secondary:/etc/pf.conf\n@@ -1,5 +1,5 @@\n");
    expect(res.stdout).toContain("\n-pass out\n+pass out quick\n");
    // Both rounds in one ssh session, with one carpentry on the secondary that walked the set once.
    expect((await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh")).toHaveLength(1);
  });

  it("a file added on the primary and not synced", async () => {
    await plant("primary", { "/etc/pf.tables/new.txt": { content: "203.0.113.5\n", mode: 0o600 } });
    const res = await drift("pf");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/pf\.tables\/new\.txt only on primary \|/);
    expect(res.code).toBe(2);
  });

  it("a file added in a watched directory on the secondary (entr does not see new files)", async () => {
    await plant("secondary", { "/etc/openvpn/ccd/laptop": "ifconfig-push 10.8.0.9 255.255.255.0\n" });
    const res = await drift("vpn", "-v");
    expect(res.stdout).toContain("\n/etc/openvpn/ccd: only on secondary\n/etc/openvpn/ccd/laptop: only on secondary\n");
    expect(res.code).toBe(2);
  });

  it("a file removed from the primary but left on the secondary (scp never deletes)", async () => {
    rmSync(pair.hostPath("primary", "/etc/pf.tables/spamd.txt"));
    const res = await drift("pf");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/pf\.tables\/spamd\.txt only on secondary \|/);
  });

  it("a directory mode: /etc/openvpn 700 on the secondary", async () => {
    chmodSync(pair.hostPath("secondary", "/etc/openvpn"), 0o700);
    const res = await drift("vpn", "-v");
    expect(res.stdout).toContain("\n/etc/openvpn: mode 0755 on primary, 0700 on secondary\n");
    expect(res.code).toBe(2);
  });

  it("a file owner, as scp leaves it", async () => {
    await plant("secondary", { "/etc/dhcpd.conf": { content: baseline("secondary")["/etc/dhcpd.conf"] as string, uid: 1000 } });
    const res = await drift("dhcp");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/dhcpd\.conf owner differs \|/);
    expect(res.stdout).toContain("\n/etc/dhcpd.conf: owner 0:0 on primary, 1000:1000 on secondary\n");
  });

  it("a symlink target", async () => {
    for (const [host, target] of [
      ["primary", "badhosts.txt"],
      ["secondary", "spamd.txt"],
    ] as const)
      symlinkSync(target, pair.hostPath(host, "/etc/pf.tables/current"));
    const res = await drift("pf");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/pf\.tables\/current symlink target differs \|/);
    expect(res.stdout).toContain("\n/etc/pf.tables/current: symlink to badhosts.txt on primary, to spamd.txt on secondary\n");
  });

  it("a real change in the ifstated pair is still CRITICAL despite the declared values", async () => {
    await plant("secondary", { "/etc/ifstated.conf": fixture("ifstated.conf.secondary", "drift").replace("every 10", "every 60") });
    const res = await drift("ifstated");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/ifstated\.conf content differs \|/);
    expect(res.stdout).toContain(`\n-peer_alive = '( "ping -q -c 1 -w 1 192.168.110.101 >/dev/null" every 10 )'\n+peer_alive = '( "ping -q -c 1 -w 1 192.168.110.101 >/dev/null" every 60 )'\n`);
  });

  it("a per-state file present on one host only is drift; absent on both is fine", async () => {
    await plant("primary", { "/etc/resolv.conf.carp-backup": "nameserver 192.168.110.102\n" });
    const res = await drift("ifstated");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/resolv\.conf\.carp-backup only on primary \|/);
  });

  it("a change in the user-defined set via check_drift --set custom", async () => {
    await plant("secondary", { "/etc/custom/extra.conf": "x = 1\n" });
    const res = await run(["/etc/carpentry.monit/check_drift", "--set", "custom"]);
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/custom\/app\.conf content differs \(\+2 more\) \|/);
    expect(res.code).toBe(2);
  });
});

describe("scale: an easy-rsa pki of 5,000 files, a 50 MB table", () => {
  it("5,000 identical files: OK in one round trip, a few hundred bytes from the secondary", async () => {
    // Written by node inside each host: through /proc/PID/root the 10,000 files would take seconds.
    const writeCerts = [
      'const fs = require("node:fs");',
      "for (let dir = 0; dir < 50; dir++) {",
      "  const certs = `/etc/openvpn/easy-rsa/pki/issued/batch${dir}`;",
      "  fs.mkdirSync(certs, { recursive: true });",
      '  for (let n = 0; n < 100; n++) fs.writeFileSync(`${certs}/client${n}.crt`, `-----BEGIN CERTIFICATE-----\\n${"MIIDpublic".repeat(100 + ((dir * 100 + n) % 300))}\\n-----END CERTIFICATE-----\\n`);',
      "}",
    ].join("\n");
    for (const host of HOSTS) expect((await pair.run(host, ["/usr/local/bin/node", "-e", writeCerts])).code).toBe(0);
    const res = await run(["/etc/carpentry.monit/check_drift", "--set", "pki"]);
    expect(res.firstLine).toMatch(/^OK: pki: 5052 paths the same on primary and secondary \|/);
    expect((await pair.commandEntries("secondary")).filter((entry) => entry.kind === "ssh")).toHaveLength(1);
    // What the secondary sends for the set, asked as the check asks it: its question, with its digest.
    const request = {
      protocol: 2,
      version: "test",
      deadlineMs: 20_000,
      op: "fileSets",
      args: {
        sets: [
          { name: "pki", paths: ["/etc/openvpn/easy-rsa/pki/"], exclude: ["/etc/openvpn/easy-rsa/pki/private/"], compareOwner: true, compareMode: true, redaction: { patterns: [], secretFiles: [] } },
        ],
      },
    };
    const answer = await pair.run("primary", ["/usr/bin/ssh", "secondary", "/etc/carpentry.monit/carpentry", "facts"], { input: `${JSON.stringify(request)}\n` });
    const question = answer.stdout.split("\n")[0] ?? "";
    expect(question).toMatch(/^\?\{"id":0,"question":\{"digests":\{"pki":\{"digest":"[0-9a-f]{64}","count":5052,/);
    expect(Buffer.byteLength(question)).toBeLessThan(1024);
  });

  it("a 50 MB table that differs: CRITICAL, said to be too large to diff", async () => {
    const line = "192.0.2.1\n";
    const table = line.repeat((50 * 1024 * 1024) / line.length);
    for (const host of HOSTS) writeFileSync(pair.hostPath(host, "/etc/pf.tables/huge.txt"), table);
    appendFileSync(pair.hostPath("secondary", "/etc/pf.tables/huge.txt"), "203.0.113.9\n");
    const res = await drift("pf");
    expect(res.firstLine).toMatch(/^CRITICAL: \/etc\/pf\.tables\/huge\.txt content differs \|/);
    expect(res.stdout).toMatch(/\n\/etc\/pf\.tables\/huge\.txt: content differs \(52428812 bytes, too large to diff: over 512 KiB\)/);
  });
});

describe("secrets never leave the host in any output", () => {
  const outputs = async (argv: string[]): Promise<string[]> => {
    const plain = await run(argv);
    const verbose = await run([...argv, "-v"]);
    const json = await run([...argv, "--json"]);
    expect(plain.code, plain.stdout).toBe(2);
    expect(verbose.code, verbose.stdout).toBe(2);
    expect(json.code, json.stdout).toBe(2);
    return [plain.stdout, verbose.stdout, json.stdout];
  };

  it("OpenVPN: static keys (inline and ta.key), the pki's *.key and a PEM private key inside a .pem", async () => {
    const texts = await outputs(["/etc/carpentry.monit/check_drift_vpn"]);
    for (const text of texts) expect(text).not.toMatch(/CANARY/);
    const verbose = texts[1] ?? "";
    expect(verbose).toContain("\n/etc/openvpn/ta.key: content differs (a secret file: content not shown)\n");
    expect(verbose).toContain("\n/etc/openvpn/easy-rsa/pki/private/server.key: content differs (a secret file: content not shown)\n");
    // A file with a masked secret still shows what else changed, the secret's place marked.
    expect(verbose).toContain("\n-# managed by carpentry (edited)\n+# managed by carpentry (synced)\n");
    expect(verbose).toContain("\n-# bundle (new)\n+# bundle (old)\n");
    expect(verbose).toContain("[redacted]");
    const json = JSON.parse(texts[2] ?? "") as { status: string; details: string[] };
    expect(json.status).toBe("CRITICAL");
    expect(json.details).toContain("-# bundle (new)");
  });

  it("unbound's control key", async () => {
    for (const text of await outputs(["/etc/carpentry.monit/check_drift_unbound"])) {
      expect(text).not.toMatch(/CANARY/);
      expect(text).toContain("/var/unbound/etc/unbound_control.key");
    }
  });

  it("the carp pass of hostname.carp0 and the admin's [redact] pattern, in a user-defined set", async () => {
    const texts = await outputs(["/etc/carpentry.monit/check_drift", "--set", "custom"]);
    for (const text of texts) expect(text).not.toMatch(/CANARY/);
    expect(texts[1]).toContain("\n/etc/hostname.carp0: content differs only in masked secrets (not shown)\n");
    expect(texts[1]).toContain("\n-# app (v2)\n+# app (v1)\n api_token = [redacted]\n");
  });
});

describe("check_drift: what it cannot decide is UNKNOWN", () => {
  it("UNKNOWN, never a drift verdict, when the secondary cannot be reached", async () => {
    await plant("secondary", { "/etc/pf.conf": "different\n" });
    await pair.sshd.stop();
    // A shared connection left from earlier runs would still answer: close it, as a reboot would.
    await pair.run("primary", ["/bin/sh", "-c", 'for s in /var/run/carpentry/cm-*; do [ -S "$s" ] && /usr/bin/ssh -o ControlPath="$s" -O exit secondary; done; true']);
    const res = await drift("pf");
    expect(res.firstLine).toMatch(/^UNKNOWN: cannot reach secondary/);
    expect(res.code).toBe(3);
  });

  it("UNKNOWN naming an unknown --set", async () => {
    const res = await run(["/etc/carpentry.monit/check_drift", "--set", "firewall"]);
    expect(res.firstLine).toBe("UNKNOWN: unknown drift set 'firewall'");
    expect(res.stdout).toContain("known sets: custom, dhcp, ifstated, pf, pki, scripts, sshkeys, unbound, vpn\n");
    expect(res.code).toBe(3);
  });
});

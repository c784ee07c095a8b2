// The leak corpus: files that hold secrets in every form a gateway's files hold them, each secret a
// canary of its own that differs between the hosts. All of them are planted at once and go through the
// drift checks end to end on the simulated pair (text, -v, --json), through `carpentry report` and
// its mail, and through `carpentry facts` answers: no canary may come out anywhere, and every case
// must still be said to differ.
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { factsRequest } from "../../src/lib/facts/protocol.js";
import { startPair, type HostName, type Pair, type RunResult } from "../harness/pair.js";
import { startSmtpSinkIn, type HostSmtpSink } from "../support/smtp-sink.js";

const CARPENTRY = "/etc/carpentry.monit/carpentry";

interface LeakCase {
  /** Where the secret sits; "differs" must be said of this path. */
  readonly path: string;
  /** The file's text on a host, around that host's canary. */
  readonly text: (canary: string) => string;
  /** A file whose whole content is secret: only "differs" may be said of it. */
  readonly secretFile?: boolean;
  /** Which check compares it. */
  readonly check: "check_drift" | "check_drift_scripts" | "check_drift_vpn";
}

/** Files both hosts hold alike: the configs that name credential files. */
const SHARED: Readonly<Record<string, string>> = {
  "/etc/openv-client-acme/client.conf": "client\nremote vpn.acme.example 1194\nauth-user-pass auth.txt\nhttp-proxy proxy.acme.example 3128 /etc/openv-client-acme/proxy-auth.txt basic\n",
  "/etc/openvpn/server.conf":
    "port 1194\ndev tun0\naskpass /etc/openvpn/askpass.txt\ntls-auth ta-static.txt 0\nsecret static.bin\nmanagement 127.0.0.1 7505 /etc/openvpn/mgmt-pw.txt\npkcs12 bundle.bin\ntls-crypt /etc/openvpn/crypt.txt\n",
};

const pem = (label: string, indent: string, canary: string): string => `${indent}-----BEGIN ${label}-----\n${indent}MIIEvQIB${canary}AAoIBAQC7\n${indent}-----END ${label}-----\n`;

const CASES: readonly LeakCase[] = [
  // carp's pass outside hostname.carpN: scripts, backups, a ';' inside it
  { check: "check_drift_scripts", path: "/root/bin/carp-up.sh", text: (c) => `#!/bin/ksh\nifconfig carp0 vhid 1 carpdev em0 pass ${c} advskew 100\n` },
  { check: "check_drift_scripts", path: "/etc/carpentry.bin/carp.sh", text: (c) => `#!/bin/ksh\n/sbin/ifconfig carp1 pass ${c} up\n` },
  { check: "check_drift_scripts", path: "/root/bin/carp-opts.ksh", text: (c) => `#!/bin/ksh\nset -A opts vhid 3 carpdev em1 pass "two ${c} words"\n` },
  { check: "check_drift_scripts", path: "/root/bin/carp-semi.sh", text: (c) => `ifconfig carp4 vhid 4 pass semi;colon${c}\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.carp1~", text: (c) => `inet 10.0.0.1 255.255.255.0 NONE vhid 1 carpdev em0 pass ${c}\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.carp2.orig", text: (c) => `vhid 2 pass ${c} advskew 0\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.carp3", text: (c) => `inet 10.0.3.1/24\nvhid 3 pass semi;colon${c} carpdev em0\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.carp5", text: (c) => `vhid 5 pass "a ${c} b"\n` },
  // OpenVPN: inline blocks at any indent, and the credential files its configs name
  { check: "check_drift_vpn", path: "/etc/openv-client-beta/client.conf", text: (c) => `client\n<auth-user-pass>\nalice\n${c}\n</auth-user-pass>\n` },
  { check: "check_drift_vpn", path: "/etc/openv-client-acme/auth.txt", secretFile: true, text: (c) => `alice\n${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openv-client-acme/proxy-auth.txt", secretFile: true, text: (c) => `proxyuser\n${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/askpass.txt", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/ta-static.txt", secretFile: true, text: (c) => `6acef03f62675b4b${c}1bbd9d1f\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/static.bin", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/mgmt-pw.txt", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/bundle.bin", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/crypt.txt", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift_vpn", path: "/etc/openvpn/ta.key", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift", path: "/etc/leaks/indented-key.ovpn", text: (c) => `client\n  <key>\n  ${c}\n  </key>\n` },
  { check: "check_drift", path: "/etc/leaks/tls-crypt.ovpn", text: (c) => `client\n\t<tls-crypt>\n\t${c}\n\t</tls-crypt>\n` },
  { check: "check_drift", path: "/etc/leaks/secret.ovpn", text: (c) => `<secret>\n${c}\n</secret>\n` },
  { check: "check_drift", path: "/etc/leaks/tls-auth.ovpn", text: (c) => `remote x 1194\n    <tls-auth>\n${c}\n    </tls-auth>\nkey-direction 1\n` },
  // private keys at any indent, in any file
  { check: "check_drift", path: "/etc/leaks/app.yaml", text: (c) => `tls:\n  cert: /etc/ssl/app.crt\n  key: |\n${pem("PRIVATE KEY", "    ", c)}  port: 443\n` },
  { check: "check_drift", path: "/etc/leaks/tab.conf", text: (c) => `server {\n${pem("RSA PRIVATE KEY", "\t", c)}}\n` },
  { check: "check_drift", path: "/etc/leaks/key.json", text: (c) => `{"cert": "x", "tls": "-----BEGIN EC PRIVATE KEY-----\\nMHc${c}\\n-----END EC PRIVATE KEY-----\\n"}\n` },
  { check: "check_drift", path: "/etc/leaks/id_ed25519", text: (c) => pem("OPENSSH PRIVATE KEY", "", c) },
  { check: "check_drift", path: "/etc/leaks/enc.pem", text: (c) => `# bundle\n${pem("ENCRYPTED PRIVATE KEY", "", c)}` },
  { check: "check_drift", path: "/etc/leaks/cut.pem", text: (c) => `-----BEGIN PRIVATE KEY-----\nMIIE${c}\n` },
  // interface keys: wg(4), 802.11, pppoe; ipsec and iked pre-shared keys
  { check: "check_drift", path: "/etc/leaks/hostname.wg0", text: (c) => `wgkey ${c}=\nwgport 51820\n` },
  { check: "check_drift", path: "/etc/leaks/wg.sh", text: (c) => `ifconfig wg0 wgpeer AbC= wgpsk ${c}= wgaip 10.9.0.2/32\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.iwm0", text: (c) => `join home wpakey ${c}\ninet autoconf\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.ath0", text: (c) => `nwid cafe nwkey 0x${c}\n` },
  { check: "check_drift", path: "/etc/leaks/hostname.pppoe0", text: (c) => `pppoedev em0 authproto chap authname user authkey ${c} up\n` },
  { check: "check_drift", path: "/etc/leaks/ipsec.conf", text: (c) => `ike esp from 10.0.0.0/24 to 10.1.0.0/24 peer 192.0.2.1 psk "${c}"\n` },
  { check: "check_drift", path: "/etc/leaks/iked.conf", text: (c) => `ikev2 active esp from any to any peer 192.0.2.9 psk ${c}\n` },
  // password / secret / key values in config files of every syntax
  { check: "check_drift", path: "/etc/leaks/app.ini", text: (c) => `[db]\nuser = app\npassword = two ${c} words\n` },
  { check: "check_drift", path: "/etc/leaks/env.sh", text: (c) => `DB_PASSWORD=${c}\nexport DB_USER=app\n` },
  { check: "check_drift", path: "/etc/leaks/api.sh", text: (c) => `export API_KEY="${c}"\n` },
  { check: "check_drift", path: "/etc/leaks/app2.yaml", text: (c) => `auth:\n  secret: ${c}\n  user: app\n` },
  { check: "check_drift", path: "/etc/leaks/app.json", text: (c) => `{"user": "app", "password": "${c}", "port": 8080}\n` },
  { check: "check_drift", path: "/etc/leaks/upper.conf", text: (c) => `Secret=${c}\n` },
  { check: "check_drift", path: "/etc/leaks/wg0.conf", text: (c) => `[Interface]\nPrivateKey = ${c}=\n[Peer]\nPresharedKey = ${c}x=\n` },
  { check: "check_drift", path: "/etc/leaks/dhcpd-key.conf", text: (c) => `key "dyn" {\n\talgorithm hmac-md5;\n\tsecret "${c}";\n};\n` },
  { check: "check_drift", path: "/etc/leaks/npppd.conf", text: (c) => `authentication LOCAL type local {\n\tusers-file "/etc/npppd/npppd-users"\n}\nradius password "${c}"\n` },
  { check: "check_drift", path: "/etc/leaks/radiusd.conf", text: (c) => `client 192.0.2.0/24 {\n\tsecret ${c}\n}\n` },
  { check: "check_drift", path: "/etc/leaks/mirror.conf", text: (c) => `url = https://mirror:${c}@mirror.example.net/pub/OpenBSD\n` },
  { check: "check_drift", path: "/etc/leaks/tokens.yaml", text: (c) => `auth_token: ${c}\npassphrase ${c}z\n` },
  { check: "check_drift", path: "/etc/leaks/mixed.conf", text: (c) => `# revision ${c.slice(6, 7)}\npassword = ${c}\n` },
  { check: "check_drift", path: "/etc/leaks/two.sh", text: (c) => `PASSWORD=${c} ./tool --verbose\n` },
  // the admin's [redact] patterns, which hold line by line (^ and $)
  { check: "check_drift", path: "/etc/leaks/snmpd.conf", text: (c) => `# snmp\ncommunity ${c}\nlisten on 127.0.0.1\n` },
  { check: "check_drift", path: "/etc/leaks/notes.conf", text: (c) => `first line\ntoken ${c} # private\nlast line\n` },
  // the set's secret_files, and key stores by name
  { check: "check_drift", path: "/etc/leaks/db.secret", secretFile: true, text: (c) => `${c}\n` },
  { check: "check_drift", path: "/etc/leaks/client.p12", secretFile: true, text: (c) => `${c}\n` },
];

const PRIMARY_CONFIG = `role = "primary"
[peer]
host = "secondary"

[redact]
patterns = ["^community \\\\S+", "\\\\S+(?= # private$)"]

[drift.leaks]
paths = ["/etc/leaks/"]
secret_files = ["*.secret"]

[mail]
to = "admin@example.net"
from = "carpentry@primary.example.net"
timeout = 5
`;

// Unique per case and host, and none is a prefix of another: LEAK07P + "x" stays LEAK07P...
const canary = (index: number, host: HostName): string => `LEAK${String(index).padStart(2, "0")}${host === "primary" ? "P" : "S"}q9`;
const ANY_CANARY = /LEAK\d\d[PS]q9/g;

let pair: Pair;
let sink: HostSmtpSink;

function leaksIn(text: string): string[] {
  return [...new Set(text.match(ANY_CANARY) ?? [])];
}

function expectNoLeak(what: string, run: RunResult): void {
  expect(leaksIn(run.stdout), `${what}: stdout`).toEqual([]);
  expect(leaksIn(run.stderr), `${what}: stderr`).toEqual([]);
}

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
  await pair.writeConfig("primary", PRIMARY_CONFIG);
  await pair.writeConfig("secondary", 'role = "secondary"\n[peer]\nhost = "primary"\n');
  for (const host of ["primary", "secondary"] as const) {
    for (const [path, text] of Object.entries(SHARED)) await pair.writeFile(host, path, text, { mode: 0o600 });
    for (const [index, leak] of CASES.entries()) await pair.writeFile(host, leak.path, leak.text(canary(index, host)), { mode: 0o600 });
    await pair.writeFile(host, "/etc/hostname.carp7", `inet 10.0.7.1 255.255.255.0 NONE vhid 7 carpdev em0 pass ${canary(90, host)}\n`, { mode: 0o640 });
    // A secret in a file whose name is not UTF-8: read by its bytes, masked all the same.
    await pair.writeFile(host, "/etc/leaks/placeholder", "same\n", { mode: 0o600 });
    writeFileSync(Buffer.concat([Buffer.from(pair.hostPath(host, "/etc/leaks/")), Buffer.from([0x70, 0x66, 0xe9]), Buffer.from(".conf")]), `password = ${canary(91, host)}\n`, { mode: 0o600 });
  }
  sink = await startSmtpSinkIn(pair, "primary");
}, 120_000);

afterAll(async () => {
  await pair?.stop();
});

describe("the leak corpus", () => {
  it(`has at least 40 cases, each with canaries of its own`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    const all = CASES.flatMap((_leak, index) => [canary(index, "primary"), canary(index, "secondary")]);
    expect(new Set(all).size).toBe(all.length);
    for (const [index, leak] of CASES.entries()) expect(leak.text(canary(index, "primary")), leak.path).toContain(canary(index, "primary"));
  });

  const checks = ["check_drift", "check_drift_scripts", "check_drift_vpn"] as const;
  for (const check of checks) {
    it(`${check}: no canary in text, -v or --json, and every case of it is said to differ`, async () => {
      const run = (...args: string[]): Promise<RunResult> => pair.run("primary", [`/etc/carpentry.monit/${check}`, ...args], { timeoutMs: 45_000 });
      const [text, verbose, json] = [await run(), await run("-v"), await run("--json", "-v")];
      for (const [mode, result] of [
        ["text", text],
        ["-v", verbose],
        ["--json", json],
      ] as const) {
        expectNoLeak(`${check} ${mode}`, result);
        expect(result.code, `${check} ${mode}: ${result.stdout.slice(0, 300)}`).toBe(2);
      }
      const lines = verbose.stdout.split("\n");
      for (const leak of CASES.filter((c) => c.check === check)) {
        const line = lines.find((l) => l.startsWith(`${leak.path}: `));
        expect(line, `${leak.path} is said to differ`).toMatch(/content differs/);
        if (leak.secretFile) expect(line, `${leak.path} is a secret file`).toContain("a secret file: content not shown");
      }
      // The diff is there (the checks still show what else changed), with the secrets masked.
      if (check === "check_drift") {
        expect(verbose.stdout).toContain("[redacted]");
        expect(
          lines.some((l) => l.startsWith("/etc/leaks/pf\\xe9.conf: content differs")),
          "a name that is not UTF-8, escaped",
        ).toBe(true);
      }
      const parsed = JSON.parse(json.stdout) as { status: string; details: string[] };
      expect(parsed.status).toBe("CRITICAL");
    });
  }

  it("carpentry report and its mail: no canary", async () => {
    const printed = await pair.run("primary", [CARPENTRY, "report"], { timeoutMs: 90_000 });
    expectNoLeak("report", printed);
    expect(printed.stdout).toContain("check_drift_vpn");
    const before = sink.read().length;
    const mailed = await pair.run("primary", [CARPENTRY, "report", "--mail"], { timeoutMs: 90_000 });
    expectNoLeak("report --mail", mailed);
    const mails = await sink.wait(before + 1, 20_000);
    const mail = mails[mails.length - 1];
    expect(mail?.text).toContain("/etc/leaks/");
    expect(leaksIn(`${mail?.subject ?? ""}\n${mail?.text ?? ""}\n${mail?.html ?? ""}`), "the mail").toEqual([]);
  }, 200_000);

  it("carpentry facts readFiles answers come masked from the host that reads the files", async () => {
    for (const host of ["primary", "secondary"] as const) {
      // The asker sends its [redact] patterns and the set's secret_files along, as check_drift does.
      const redaction = { patterns: ["^community \\S+", "\\S+(?= # private$)"], secretFiles: ["*.secret"] };
      const paths = ["/etc/hostname.carp*", "/etc/leaks/*", "/etc/openvpn/*", "/etc/openv-client-acme/*", "/etc/openv-client-beta/*", "/root/bin/*", "/etc/carpentry.bin/*"];
      const request = factsRequest("readFiles", { paths, withContent: true, maxBytes: 65536, redaction }, 10_000);
      const answer = await pair.run(host, [CARPENTRY, "facts"], { input: `${JSON.stringify(request)}\n` });
      expectNoLeak(`facts on ${host}`, answer);
      expect(answer.stdout).toContain("pass [redacted]");
      expect(answer.stdout).toContain("/etc/leaks/pf\\\\xe9.conf");
    }
  });
});

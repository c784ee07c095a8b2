import { describe, expect, it } from "vitest";
import { collectNamedSecrets, isSecretFile, MASK, noNamedSecrets, redactPatternProblem, redactText, type RedactionRules } from "../../../../src/lib/compare/redact.js";

const NO_RULES: RedactionRules = { patterns: [], secretFiles: [] };
const CANARY = "CANARY7f3a9";

describe("isSecretFile: files whose whole content is secret", () => {
  it("takes every *.key as secret: easy-rsa private keys, OpenVPN's ta.key, unbound's control keys", () => {
    for (const path of ["/etc/openvpn/easy-rsa/pki/private/server.key", "/etc/openvpn/ta.key", "/var/unbound/etc/unbound_control.key", "/var/unbound/etc/unbound_server.key"]) {
      expect(isSecretFile(path, NO_RULES), path).toBe(true);
    }
  });

  it("leaves certificates and configs alone", () => {
    for (const path of ["/var/unbound/etc/unbound_server.pem", "/etc/openvpn/server.conf", "/etc/pf.conf", "/etc/keys.txt"]) {
      expect(isSecretFile(path, NO_RULES), path).toBe(false);
    }
  });

  it("adds the set's secret_files globs: a bare glob matches the base name, one with '/' the whole path", () => {
    const rules: RedactionRules = { patterns: [], secretFiles: ["auth-*.txt", "/etc/openv-client-*/credentials"] };
    expect(isSecretFile("/etc/openvpn/auth-user.txt", rules)).toBe(true);
    expect(isSecretFile("/etc/openv-client-acme/credentials", rules)).toBe(true);
    expect(isSecretFile("/etc/openv-client-acme/sub/credentials", rules)).toBe(false);
    expect(isSecretFile("/etc/openvpn/credentials", rules)).toBe(false);
  });
});

describe("redactText", () => {
  it("masks the carp pass of a hostname.carpN line, quoted or not, and keeps the rest of the line", () => {
    const text = `inet 192.168.0.103 255.255.255.0 192.168.0.255 vhid 1 carpdev re0 pass ${CANARY} advskew 0\n`;
    expect(redactText("/etc/hostname.carp0", text, NO_RULES)).toBe(`inet 192.168.0.103 255.255.255.0 192.168.0.255 vhid 1 carpdev re0 pass ${MASK} advskew 0\n`);
    const quoted = redactText("/etc/hostname.carp120", `vhid 120 pass "two ${CANARY} words" carpdev vlan120\n`, NO_RULES);
    expect(quoted).toBe(`vhid 120 pass ${MASK} carpdev vlan120\n`);
  });

  it("masks wg(4) keys in hostname.wg0", () => {
    const text = `wgkey ${CANARY}=\nwgpeer ABC= wgpsk ${CANARY}x= wgaip 10.0.0.2/32\n`;
    const out = redactText("/etc/hostname.wg0", text, NO_RULES);
    expect(out).not.toContain(CANARY);
    expect(out).toContain("wgpeer ABC= wgpsk [redacted] wgaip 10.0.0.2/32");
  });

  it("does not touch 'pass' rules of pf.conf: the keyword masking is for hostname.* files", () => {
    const rules = "pass in on em0 proto tcp to port 22\n";
    expect(redactText("/etc/pf.conf", rules, NO_RULES)).toBe(rules);
  });

  it("masks PEM private key blocks of every flavour and keeps their armour lines", () => {
    for (const label of ["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY"]) {
      const text = `before\n-----BEGIN ${label}-----\nMIIE${CANARY}AAA\nsecond${CANARY}line\n-----END ${label}-----\nafter\n`;
      const out = redactText("/etc/ssl/private/server.pem", text, NO_RULES);
      expect(out, label).toBe(`before\n-----BEGIN ${label}-----\n${MASK}\n-----END ${label}-----\nafter\n`);
    }
  });

  it("masks an unbound control key (PEM) even under a name that is not *.key", () => {
    const text = `-----BEGIN RSA PRIVATE KEY-----\nMIIG${CANARY}\n-----END RSA PRIVATE KEY-----\n`;
    expect(redactText("/var/unbound/etc/unbound_control.key.bak", text, NO_RULES)).not.toContain(CANARY);
  });

  it("masks a block that never ends to the end of the text", () => {
    const out = redactText("/x", `a\n-----BEGIN PRIVATE KEY-----\n${CANARY}\nmore ${CANARY}\n`, NO_RULES);
    expect(out).toBe(`a\n-----BEGIN PRIVATE KEY-----\n${MASK}`);
  });

  it("masks OpenVPN static keys, standalone or inline in <tls-auth>, and tls-crypt-v2 keys", () => {
    const staticKey = `#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n${CANARY}0123456789abcdef\n-----END OpenVPN Static key V1-----\n`;
    expect(redactText("/etc/openvpn/static.txt", staticKey, NO_RULES)).not.toContain(CANARY);
    const inline = `remote vpn.example.net 1194\n<tls-auth>\n${staticKey}</tls-auth>\nkey-direction 1\n`;
    const out = redactText("/etc/openv-client-acme/client.conf", inline, NO_RULES);
    expect(out).not.toContain(CANARY);
    expect(out).toContain("remote vpn.example.net 1194\n<tls-auth>\n");
    expect(out).toContain("</tls-auth>\nkey-direction 1\n");
    const v2 = `-----BEGIN OpenVPN tls-crypt-v2 server key-----\n${CANARY}\n-----END OpenVPN tls-crypt-v2 server key-----\n`;
    expect(redactText("/etc/openvpn/v2.txt", v2, NO_RULES)).not.toContain(CANARY);
  });

  it("masks an inline <key> block even without PEM armour, and keeps certificates", () => {
    const text = `<cert>\n-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----\n</cert>\n<key>\n${CANARY}\n</key>\n`;
    const out = redactText("/etc/openvpn/client.ovpn", text, NO_RULES);
    expect(out).not.toContain(CANARY);
    expect(out).toContain("MIIcert");
  });

  it("masks what the admin's [redact] patterns match, wherever they match", () => {
    const rules: RedactionRules = { patterns: ["(?<=auth-token )\\S+", "community \\S+"], secretFiles: [] };
    const text = `auth-token ${CANARY}\nsnmp community ${CANARY}2 ro\nplain line\n`;
    expect(redactText("/etc/anything.conf", text, rules)).toBe(`auth-token ${MASK}\nsnmp ${MASK} ro\nplain line\n`);
  });

  it("applies the same patterns again and again (global regexes keep no state between calls)", () => {
    const rules: RedactionRules = { patterns: ["secret=\\w+"], secretFiles: [] };
    for (let i = 0; i < 3; i++) expect(redactText("/a", `x secret=${CANARY}\n`, rules)).toBe(`x ${MASK}\n`);
  });
});

describe("redactText: secrets outside hostname.carpN and off column 0", () => {
  const masked = (path: string, text: string, rules: RedactionRules = NO_RULES): string => {
    const out = redactText(path, text, rules);
    expect(out, `${path}: ${out}`).not.toContain(CANARY);
    return out;
  };

  it("masks a carp pass in scripts, on any line that configures an interface, and keeps pf's pass rules", () => {
    expect(masked("/root/bin/carp.sh", `ifconfig carp0 vhid 1 carpdev em0 pass ${CANARY} advskew 100\n`)).toBe(`ifconfig carp0 vhid 1 carpdev em0 pass ${MASK} advskew 100\n`);
    masked("/etc/carpentry.bin/up.ksh", `set -A opts vhid 3 pass "two ${CANARY} words"\n`);
    const pf = "pass in on $carpdev proto carp keep state\npass quick on em0 proto carp\n";
    expect(redactText("/etc/pf.conf", pf, NO_RULES)).toBe(pf);
  });

  it("masks the pass of editor backups of hostname.carpN, and the part after a ';'", () => {
    expect(masked("/etc/hostname.carp1~", `vhid 1 pass ${CANARY}\n`)).toBe(`vhid 1 pass ${MASK}\n`);
    masked("/etc/hostname.carp1.orig", `vhid 1 pass ${CANARY}\n`);
    expect(masked("/etc/hostname.carp1", `vhid 1 pass semi;colon${CANARY} advskew 0\n`)).toBe(`vhid 1 pass ${MASK} advskew 0\n`);
  });

  it("masks OpenVPN inline <auth-user-pass> and key blocks at any indent", () => {
    expect(masked("/etc/openvpn/c.conf", `client\n<auth-user-pass>\nalice\n${CANARY}\n</auth-user-pass>\nverb 3\n`)).toBe(`client\n<auth-user-pass>\n${MASK}\n</auth-user-pass>\nverb 3\n`);
    expect(masked("/x.ovpn", `  <key>\n  ${CANARY}\n  </key>\n`)).toBe(`  <key>\n  ${MASK}\n  </key>\n`);
    masked("/x.ovpn", `\t<tls-crypt>\n${CANARY}\n\t</tls-crypt>\n`);
    masked("/x.ovpn", `<secret>\n${CANARY}\n</secret>\n`);
  });

  it("masks PEM private keys indented in YAML (a `key: |` block whole), and on one line inside a JSON string", () => {
    const yaml = `tls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    MII${CANARY}\n    -----END PRIVATE KEY-----\n  port: 443\n`;
    expect(masked("/etc/app.yaml", yaml)).toBe(`tls:\n  key: |\n    ${MASK}\n  port: 443\n`);
    const nested = `items:\n  - name: a\n    -----BEGIN PRIVATE KEY-----\n    MII${CANARY}\n    -----END PRIVATE KEY-----\n`;
    expect(masked("/etc/list.yaml", nested)).toBe(`items:\n  - name: a\n    -----BEGIN PRIVATE KEY-----\n    ${MASK}\n    -----END PRIVATE KEY-----\n`);
    masked("/etc/app.json", `{"key": "-----BEGIN RSA PRIVATE KEY-----\\nMII${CANARY}\\n-----END RSA PRIVATE KEY-----\\n"}\n`);
  });

  it("masks wgkey, wpakey, psk, and password/secret/key values in any config syntax, keeping each line's name", () => {
    expect(masked("/etc/wg.sh", `ifconfig wg0 wgkey ${CANARY}=\n`)).toBe(`ifconfig wg0 wgkey ${MASK}\n`);
    masked("/etc/hostname.iwm0", `join home wpakey ${CANARY}\n`);
    expect(masked("/etc/ipsec.conf", `ike esp from a to b psk "${CANARY}"\n`)).toBe(`ike esp from a to b psk ${MASK}\n`);
    expect(masked("/etc/app.ini", `password = two ${CANARY} words\n`)).toBe(`password = ${MASK}\n`);
    expect(masked("/etc/env.sh", `DB_PASSWORD=${CANARY}\n`)).toBe(`DB_PASSWORD=${MASK}\n`);
    expect(masked("/etc/env.sh", `user=admin password=${CANARY}\n`)).toBe(`user=admin password=${MASK}\n`);
    expect(masked("/etc/app.conf", `keyboard = us\nssh_pass: ${CANARY}\n`)).toBe(`keyboard = us\nssh_pass: ${MASK}\n`);
    expect(masked("/etc/a.json", `{"user": "u", "password": "${CANARY}", "port": 1}\n`)).toBe(`{"user": "u", "password": ${MASK}, "port": 1}\n`);
    expect(masked("/etc/wg0.conf", `PrivateKey = ${CANARY}=\n`)).toBe(`PrivateKey = ${MASK}\n`);
    expect(masked("/etc/dhcpd.conf", `key "k" { secret "${CANARY}"; };\n`)).toContain(`secret ${MASK}`);
    expect(masked("/etc/m.conf", `url = https://user:${CANARY}@host/\n`)).toBe(`url = https://user:${MASK}@host/\n`);
    masked("/etc/y.yaml", `password: |\n  ${CANARY}\n  more ${CANARY}\nnext: 1\n`);
  });

  it("stays linear on long hostile lines", () => {
    const started = performance.now();
    for (const line of ["a.".repeat(100_000), "x=".repeat(100_000), "-----BEGIN ".repeat(20_000), "a:a".repeat(60_000), "pass ".repeat(50_000)]) {
      redactText("/etc/hostname.carp0", `${line}\n`, { patterns: ["community \\S+"], secretFiles: [] });
    }
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("leaves plain configuration alone", () => {
    const text = "server-key-file: /var/unbound/etc/unbound_server.key\nkey-direction 1\nport = 8080\ntable <badhosts> persist\n";
    expect(redactText("/etc/x.conf", text, NO_RULES)).toBe(text);
  });

  it("runs the admin's patterns line by line: ^ and $ hold at each line", () => {
    const rules: RedactionRules = { patterns: ["^community \\S+", "\\S+(?= # private$)"], secretFiles: [] };
    expect(masked("/etc/snmpd.conf", `# snmp\ncommunity ${CANARY}\ntoken ${CANARY}x # private\n`, rules)).toBe(`# snmp\n${MASK}\ntoken ${MASK} # private\n`);
  });

  it("under a digest key a value becomes a keyed digest: alike for one value, unlike for two, never the value", () => {
    const a = redactText("/etc/hostname.carp0", `vhid 1 pass ${CANARY}\n`, NO_RULES, { digestKey: "k1" });
    expect(a).not.toContain(CANARY);
    expect(a).toMatch(/^vhid 1 pass \[redacted:[0-9a-f]{32}\]\n$/);
    expect(redactText("/etc/hostname.carp0", `vhid 1 pass ${CANARY}\n`, NO_RULES, { digestKey: "k1" })).toBe(a);
    expect(redactText("/etc/hostname.carp0", `vhid 1 pass ${CANARY}2\n`, NO_RULES, { digestKey: "k1" })).not.toBe(a);
  });
});

describe("credential files named by OpenVPN configs", () => {
  it("takes the files of auth-user-pass, askpass, tls-auth, secret, http-proxy and management as secret files", () => {
    const named = noNamedSecrets();
    collectNamedSecrets(
      "auth-user-pass auth.txt\naskpass /etc/openvpn/pw.txt\ntls-auth ta-static 0\nsecret 'static key'\nhttp-proxy p 3128 /etc/openvpn/proxy.txt basic\nmanagement 127.0.0.1 7505 mgmt.pw\nauth-user-pass\n",
      named,
    );
    for (const path of ["/etc/openv-client-acme/auth.txt", "/etc/openvpn/pw.txt", "/etc/openvpn/ta-static", "/etc/openvpn/static key", "/etc/openvpn/proxy.txt", "/etc/openvpn/mgmt.pw"]) {
      expect(isSecretFile(path, NO_RULES, named), path).toBe(true);
    }
    expect(isSecretFile("/etc/openvpn/server.conf", NO_RULES, named)).toBe(false);
  });
});

describe("redactPatternProblem: [redact] patterns that can backtrack without bound are refused", () => {
  it("refuses nested quantifiers and invalid patterns, accepts plain ones and lookarounds", () => {
    expect(redactPatternProblem("(a+)+$")).toMatch(/nested quantifiers/);
    expect(redactPatternProblem("(?:\\w+\\s?)*$")).toMatch(/nested quantifiers/);
    expect(redactPatternProblem("(")).toBe("a valid regular expression");
    for (const ok of ["community \\S+", "(?<=auth-token )\\S+", "\\S+(?= # private$)", "^secret=.*$"]) expect(redactPatternProblem(ok), ok).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { isSecretFile, MASK, redactText, type RedactionRules } from "../../../../src/lib/compare/redact.js";

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

// The benchmark's inputs, generated deterministically: pf tables of IPv4/IPv6 entries as `pfctl -T show`
// prints them, an easy-rsa-like tree for /etc/openvpn, and a bench-only sha256(1) for the baseline.

import { seededRandom } from "../test/support/random.js";

const hex = (n: number): string => n.toString(16);
const MASK24 = 0xffffff;

/**
 * The i-th entry of a table, all distinct: 70% IPv4 hosts (10/8), 10% IPv4 /24 networks, 10% IPv6
 * hosts, 10% IPv6 /48 networks of which a fifth negated. Multiplying by an odd constant permutes
 * 24 bits, so the addresses are scattered yet unique. Written in the canonical form pfctl prints.
 */
function tableEntry(i: number): string {
  const kind = i % 10;
  const j = Math.floor(i / 10);
  if (kind < 7) {
    const v = Math.imul(j * 7 + kind, 0x9e3779b1) & MASK24;
    return `10.${v >>> 16}.${(v >>> 8) & 255}.${v & 255}`;
  }
  if (kind === 7) {
    const v = Math.imul(j, 0x2f9be6cd) & 0x1ffff;
    return `${20 + (v >>> 16)}.${(v >>> 8) & 255}.${v & 255}.0/24`;
  }
  if (kind === 8) return `2001:db8:${hex(0x100 + (j >>> 12))}:${hex(0x1000 + (j & 0xfff))}::${hex(1 + (Math.imul(j, 0x45d9f3b) & 0xfff))}`;
  return `${j % 5 === 0 ? "!" : ""}2001:${hex(0x1000 + (j >>> 8))}:${hex(0x100 + (j & 0xff))}::/48`;
}

/** Entries only the secondary holds in the "differences" variant: the benchmarking range 198.18/15. */
function extraEntry(k: number): string {
  return `198.${18 + (k >>> 16)}.${(k >>> 8) & 255}.${k & 255}`;
}

/** `pfctl -t T -T show`: print_addrx() puts a feedback character, then ' ' or '!', then the address. */
function showLine(entry: string): string {
  return entry.startsWith("!") ? `  ${entry}\n` : `   ${entry}\n`;
}

export interface TableTexts {
  readonly primary: string;
  readonly secondary: string;
  /** Entries only on the primary plus only on the secondary. */
  readonly differences: number;
}

/**
 * Both hosts' `-T show` output for a table of `size` entries. With `differences` > 0 the secondary
 * lacks differences/2 of the primary's entries, spread over the table, and has as many of its own:
 * the same size on both hosts, `differences` entries to report.
 */
export function tableTexts(size: number, differences: number): TableTexts {
  const removedEvery = differences > 0 ? Math.floor(size / (differences / 2)) : 0;
  const primary: string[] = [];
  const secondary: string[] = [];
  let removed = 0;
  for (let i = 0; i < size; i++) {
    const line = showLine(tableEntry(i));
    primary.push(line);
    if (removedEvery > 0 && i % removedEvery === removedEvery - 1 && removed < differences / 2) removed++;
    else secondary.push(line);
  }
  for (let k = 0; k < removed; k++) secondary.push(showLine(extraEntry(k)));
  return { primary: primary.join(""), secondary: secondary.join(""), differences: 2 * removed };
}

// -- an easy-rsa tree ---------------------------------------------------------------------------------

export interface TreeFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

function base64Lines(random: () => number, bytes: number): string {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = Math.floor(random() * 256);
  return (data.toString("base64").match(/.{1,64}/g) ?? []).join("\n");
}

function pem(label: string, random: () => number, bytes: number): string {
  return `-----BEGIN ${label}-----\n${base64Lines(random, bytes)}\n-----END ${label}-----\n`;
}

const ROOT = "/etc/openvpn";
const PKI = `${ROOT}/easy-rsa/pki`;

/**
 * An OpenVPN server with an easy-rsa 3 pki of many clients, `count` files in all: the config, the
 * easy-rsa scripts and templates, the CA, and per client its certificate, key, request and the
 * certificate's copy by serial; client-config-dir files fill up to the exact count.
 */
export function easyRsaTree(count: number): TreeFile[] {
  const random = seededRandom(20240611);
  const files: TreeFile[] = [
    {
      path: `${ROOT}/server.conf`,
      content:
        "# managed by carpentry\nport 1194\nproto udp\ndev tun0\nca easy-rsa/pki/ca.crt\ncert easy-rsa/pki/issued/server.crt\nkey easy-rsa/pki/private/server.key\ndh easy-rsa/pki/dh.pem\ncrl-verify easy-rsa/pki/crl.pem\ntls-auth ta.key 0\nclient-config-dir ccd\nserver 10.8.0.0 255.255.255.0\nkeepalive 10 120\nuser _openvpn\ngroup _openvpn\npersist-key\npersist-tun\n",
      mode: 0o644,
    },
    { path: `${ROOT}/ta.key`, content: `#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n${base64Lines(random, 256)}\n-----END OpenVPN Static key V1-----\n`, mode: 0o600 },
    { path: `${ROOT}/easy-rsa/easyrsa`, content: `#!/bin/sh\n# Easy-RSA 3 -- A Shell-based CA Utility\n${base64Lines(random, 16_000)}\n`, mode: 0o755 },
    { path: `${ROOT}/easy-rsa/openssl-easyrsa.cnf`, content: `# For use with Easy-RSA 3.1 and OpenSSL or LibreSSL\n${base64Lines(random, 3000)}\n`, mode: 0o644 },
    { path: `${ROOT}/easy-rsa/vars`, content: 'set_var EASYRSA_REQ_COUNTRY\t"PT"\nset_var EASYRSA_KEY_SIZE\t2048\nset_var EASYRSA_CA_EXPIRE\t3650\nset_var EASYRSA_CERT_EXPIRE\t825\n', mode: 0o644 },
    ...["COMMON", "ca", "client", "server", "serverClient", "code-signing", "email", "kdc"].map((name) => ({
      path: `${ROOT}/easy-rsa/x509-types/${name}`,
      content: `# X509 extensions for ${name}\nbasicConstraints = CA:FALSE\nsubjectKeyIdentifier = hash\n`,
      mode: 0o644,
    })),
    { path: `${PKI}/ca.crt`, content: pem("CERTIFICATE", random, 1200), mode: 0o644 },
    { path: `${PKI}/private/ca.key`, content: pem("ENCRYPTED PRIVATE KEY", random, 1250), mode: 0o600 },
    { path: `${PKI}/issued/server.crt`, content: pem("CERTIFICATE", random, 1300), mode: 0o600 },
    { path: `${PKI}/private/server.key`, content: pem("PRIVATE KEY", random, 1220), mode: 0o600 },
    { path: `${PKI}/reqs/server.req`, content: pem("CERTIFICATE REQUEST", random, 650), mode: 0o600 },
    { path: `${PKI}/dh.pem`, content: pem("DH PARAMETERS", random, 264), mode: 0o600 },
    { path: `${PKI}/crl.pem`, content: pem("X509 CRL", random, 700), mode: 0o644 },
    { path: `${PKI}/index.txt.attr`, content: "unique_subject = no\n", mode: 0o600 },
    { path: `${PKI}/openssl-easyrsa.cnf`, content: `# For use with Easy-RSA 3.1\n${base64Lines(random, 3000)}\n`, mode: 0o600 },
  ];
  const bookkeeping = 3; // index.txt, serial, serial.old
  const clients = Math.floor((count - files.length - bookkeeping) / 4);
  const index: string[] = [];
  for (let n = 1; n <= clients; n++) {
    const name = `client-${String(n).padStart(4, "0")}`;
    const serial = (0x1000 + n).toString(16).toUpperCase().padStart(32, "0");
    const certificate = pem("CERTIFICATE", random, 1300);
    files.push(
      { path: `${PKI}/issued/${name}.crt`, content: certificate, mode: 0o600 },
      { path: `${PKI}/certs_by_serial/${serial}.pem`, content: certificate, mode: 0o600 },
      { path: `${PKI}/private/${name}.key`, content: pem("PRIVATE KEY", random, 1220), mode: 0o600 },
      { path: `${PKI}/reqs/${name}.req`, content: pem("CERTIFICATE REQUEST", random, 650), mode: 0o600 },
    );
    index.push(`V\t271231235959Z\t\t${serial}\tunknown\t/CN=${name}\n`);
  }
  files.push(
    { path: `${PKI}/index.txt`, content: index.join(""), mode: 0o600 },
    { path: `${PKI}/serial`, content: `${(0x1001 + clients).toString(16).toUpperCase()}\n`, mode: 0o600 },
    { path: `${PKI}/serial.old`, content: `${(0x1000 + clients).toString(16).toUpperCase()}\n`, mode: 0o600 },
  );
  for (let n = 1; files.length < count; n++) files.push({ path: `${ROOT}/ccd/client-${String(n).padStart(4, "0")}`, content: `ifconfig-push 10.8.${n >> 8}.${n & 255} 255.255.255.0\n`, mode: 0o644 });
  return files;
}

/** The `changed` files of the tree edited on the secondary: certificates re-issued there only. */
export function changedOnSecondary(tree: readonly TreeFile[], changed: number): TreeFile[] {
  const certificates = tree.filter((file) => /\/issued\/client-\d+\.crt$/.test(file.path));
  const step = Math.max(1, Math.floor(certificates.length / changed));
  return certificates
    .filter((_, index) => index % step === 0)
    .slice(0, changed)
    .map((file) => ({ ...file, content: file.content.replace("-----END CERTIFICATE-----", "# reissued on the secondary\n-----END CERTIFICATE-----") }));
}

// -- a bench-only sha256(1) ---------------------------------------------------------------------------

/**
 * OpenBSD's sha256(1) for the `find | xargs sha256` baseline: one process hashes every file and prints
 * `SHA256 (file) = hex`, as the real tool does. The harness's stand-in (gnu-guard.sh) runs sha256sum
 * once per file, which on 5,000 files would charge the baseline 10,000 forks OpenBSD never makes.
 * Only the plain form is accepted; the checks never call it (they hash in their own code).
 */
export function sha256Standin(hostDir: string): string {
  return [
    "#!/usr/bin/mksh",
    "# Bench-only OpenBSD sha256(1), installed by bench/run.ts: see bench/data.ts.",
    `. ${hostDir}/bin/harness-lib.sh`,
    "REAL=$HARNESS_DIR/real-bin",
    "if [[ ${1-} = -* ]]; then",
    '\tharness_log rejected "$0" "$@"',
    '\tprint -ru2 -- "sha256: only sha256 [file ...] is simulated for the benchmark"',
    "\texit 1",
    "fi",
    "if (( $# == 0 )); then",
    '\td=$("$REAL/sha256sum")',
    '\tprint -r -- "${d%% *}"',
    "\texit 0",
    "fi",
    '"$REAL/sha256sum" -- "$@" | "$REAL/sed" "s/^\\([0-9a-f]*\\)  \\(.*\\)\\$/SHA256 (\\2) = \\1/"',
    "",
  ].join("\n");
}

// What counts as a secret and how it is hidden. The peer applies these rules to a file before its
// content leaves the host, and the primary applies the same rules (sent along with the request, so
// both sides mask alike whatever the peer's own config says) before it diffs. Nothing here decides
// what to print: a whole-file secret is never read into a diff at all, and a masked text keeps
// only the shape of the secret ("[redacted]"), never a hash or a length of it.
import { basename } from "node:path";
import { globToRegExp } from "../facts/files.js";

export interface RedactionRules {
  /** The admin's [redact] patterns: regular expressions whose matches are masked in any file. */
  readonly patterns: readonly string[];
  /** Globs ([drift.NAME] secret_files) of files whose whole content is secret: only "differs" is said. */
  readonly secretFiles: readonly string[];
}

export const MASK = "[redacted]";

/**
 * Files that are secret as a whole, whatever they hold: private keys (easy-rsa's pki/private/*.key,
 * unbound_control.key, unbound_server.key, OpenVPN's ta.key) and key stores.
 */
const BUILTIN_SECRET_FILES: readonly string[] = ["*.key", "*.p12", "*.pfx"];

// PEM-style armour whose label names a key or a secret: "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
// "OPENSSH PRIVATE KEY", "OpenVPN Static key V1", "OpenVPN tls-crypt-v2 server key". Public keys are
// masked too (harmless); certificates are not. An unterminated block is masked to the end of the text,
// so a file cut short can never show half a key.
const ARMOUR_BLOCK = /^(-----BEGIN ([^\n]*?)-----)[^\n]*$[\s\S]*?(?:^(-----END \2-----)|(?![\s\S]))/gm;
const SECRET_ARMOUR_LABEL = /key|secret|password/i;

// OpenVPN inline blocks that hold keys: <key>, <secret>, <tls-auth>, <tls-crypt>, <tls-crypt-v2>, <pkcs12>.
const OPENVPN_INLINE_BLOCK = /^(<(key|secret|tls-auth|tls-crypt|tls-crypt-v2|pkcs12)>)[^\n]*$[\s\S]*?(?:^(<\/\2>)|(?![\s\S]))/gm;

// hostname.if(5) options whose value is a secret: carp's `pass`, wg(4)'s keys, 802.11 and pppoe keys.
const HOSTNAME_SECRET_OPTION = /(^|[\s;])(pass|wgkey|wgpsk|wpakey|nwkey|authkey)(\s+)("[^"\n]*"|'[^'\n]*'|[^\s;]+)/g;
const HOSTNAME_FILE = /^hostname\.[A-Za-z0-9_.:-]+$/;

interface SecretFileGlob {
  readonly pattern: RegExp;
  /** A glob with a '/' matches the whole path, one without matches the base name ("*.key"). */
  readonly matchesPath: boolean;
}

interface CompiledRules {
  readonly secretFiles: readonly SecretFileGlob[];
  readonly patterns: readonly RegExp[];
}

const compiled = new WeakMap<RedactionRules, CompiledRules>();

function compile(rules: RedactionRules): CompiledRules {
  let rulesCompiled = compiled.get(rules);
  if (!rulesCompiled) {
    rulesCompiled = {
      secretFiles: [...BUILTIN_SECRET_FILES, ...rules.secretFiles].map((glob) => ({ pattern: globToRegExp(glob), matchesPath: glob.includes("/") })),
      patterns: rules.patterns.map((source) => new RegExp(source, "g")),
    };
    compiled.set(rules, rulesCompiled);
  }
  return rulesCompiled;
}

/** Whether a file's whole content is secret: its content is never sent, read into a diff, or shown. */
export function isSecretFile(path: string, rules: RedactionRules): boolean {
  const name = basename(path);
  return compile(rules).secretFiles.some((glob) => glob.pattern.test(glob.matchesPath ? path : name));
}

// Keeps a block's first and last lines, so a diff says which key changed without showing it.
function maskBlocks(text: string, block: RegExp, isSecret: (label: string) => boolean): string {
  return text.replace(block, (whole: string, begin: string, label: string, end: string | undefined) => (isSecret(label) ? `${begin}\n${MASK}${end ? `\n${end}` : ""}` : whole));
}

/**
 * The text with every secret it holds masked: key blocks, OpenVPN inline keys, secret options of
 * hostname.* files, and the admin's patterns. Lines around a secret stay as they are, so a diff still
 * shows what else changed.
 */
export function redactText(path: string, text: string, rules: RedactionRules): string {
  let out = maskBlocks(text, ARMOUR_BLOCK, (label) => SECRET_ARMOUR_LABEL.test(label));
  out = maskBlocks(out, OPENVPN_INLINE_BLOCK, () => true);
  if (HOSTNAME_FILE.test(basename(path))) {
    out = out.replace(HOSTNAME_SECRET_OPTION, (_whole, before: string, option: string, space: string) => `${before}${option}${space}${MASK}`);
  }
  for (const pattern of compile(rules).patterns) {
    pattern.lastIndex = 0;
    out = out.replace(pattern, (match: string) => (match === "" ? match : MASK));
  }
  return out;
}

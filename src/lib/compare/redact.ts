// The secrets policy: what counts as a secret and how it is hidden, for every path a file's content
// takes out of the host that reads it (the drift diff and so the alert, -v, --json, the report and its
// mail; the answers of `carpentry facts`). The host that reads a file masks it before anything else
// sees it: the peer before it answers, the primary before it diffs, with the same rules (sent along
// with the request, so both sides mask alike whatever the peer's own config says).
//
// Three kinds of secret:
// - secret files, whose whole content is secret: private keys and key stores by name, the set's
//   secret_files globs, and the credential files that an OpenVPN config names (auth-user-pass, askpass,
//   tls-auth, secret...). Their content is never read into a diff or sent: only "differs" is said.
// - secret blocks: PEM armour whose label names a key or a secret, and OpenVPN's inline <key>,
//   <secret>, <tls-auth>, <tls-crypt>, <auth-user-pass>... blocks, at any indent and anywhere on a
//   line. The opening and closing lines stay, the body becomes one "[redacted]" line. A block that
//   never ends is masked to the end of the text, so a file cut short never shows half a key.
// - secret values: the value after a carp `pass` (in hostname.* files, their backups, and on any line
//   that configures an interface: ifconfig, vhid, carpdev...), after wgkey, wgpsk, wpakey, nwkey,
//   authkey, psk, password, secret anywhere, after a `name = ` or `name: ` whose name ends in
//   password, secret, key, token or pass, the password of a URL, and what the admin's [redact]
//   patterns match. The value becomes "[redacted]" and the rest of its line stays, so a diff still
//   shows what else changed.
// Masked text keeps only the shape of a secret, never a hash or a length of it. The one exception is
// asked for by a check that must compare a secret between the hosts (carp_interfaces, the carp pass):
// it sends a one-time random key, and each value becomes "[redacted:" + HMAC-SHA256(key, value) + "]",
// which compares equal when the values do and says nothing without that key.
//
// The admin's patterns run on one line at a time (so ^ and $ are a line's start and end) and only
// patterns without nested quantifiers are accepted (safe-regex2), since a pattern such as (a+)+$ can
// backtrack for hours on one line and the match runs synchronously.
import { createHmac } from "node:crypto";
import { basename } from "node:path";
import safeRegex from "safe-regex2";
import { globToRegExp } from "../facts/paths.js";

export interface RedactionRules {
  /** The admin's [redact] patterns: regular expressions whose matches are masked on any line of any file. */
  readonly patterns: readonly string[];
  /** Globs ([drift.NAME] secret_files) of files whose whole content is secret: only "differs" is said. */
  readonly secretFiles: readonly string[];
}

export const MASK = "[redacted]";

/** Why a [redact] pattern is refused, or undefined when it is fine. */
export function redactPatternProblem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch {
    return "a valid regular expression";
  }
  // safe-regex2's parser knows no lookbehind: its body is judged as a plain group, which backtracks the same.
  if (!safeRegex(source.replace(/(?<!\\)\(\?<([=!])/g, "(?:"))) return "a regular expression without nested quantifiers such as (a+)+ (they can backtrack without bound)";
  return undefined;
}

/**
 * Files that are secret as a whole, whatever they hold: private keys (easy-rsa's pki/private/*.key,
 * unbound_control.key, unbound_server.key, OpenVPN's ta.key) and key stores.
 */
const BUILTIN_SECRET_FILES: readonly string[] = ["*.key", "*.p12", "*.pfx"];

// PEM-style armour whose label names a key or a secret: "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
// "OPENSSH PRIVATE KEY", "OpenVPN Static key V1", "OpenVPN tls-crypt-v2 server key". Public keys are
// masked too (harmless); certificates are not.
const ARMOUR_BEGIN = /-----BEGIN ([^\n]*?)-----/;
const SECRET_ARMOUR_LABEL = /key|secret|password/i;

// OpenVPN inline blocks that hold keys or credentials.
const OPENVPN_INLINE_BEGIN = /<(key|secret|tls-auth|tls-crypt|tls-crypt-v2|pkcs12|auth-user-pass|http-proxy-user-pass)>/i;

// OpenVPN directives whose argument names a file of credentials or keys; `management IP PORT FILE` and
// `http-proxy HOST PORT FILE` name one as their third argument.
const CREDENTIAL_DIRECTIVE =
  /^[ \t]*(?:(auth-user-pass|askpass|tls-auth|tls-crypt|tls-crypt-v2|secret|pkcs12|key|http-proxy-user-pass)|(management|http-proxy)[ \t]+\S+[ \t]+\S+)[ \t]+("[^"\n]+"|'[^'\n]+'|[^\s#;]+)/gm;

// Options whose value is a secret wherever they stand: wg(4), 802.11 and pppoe keys, ipsec/iked psk,
// and the password/secret directives of npppd, radiusd, dhcpd and the like.
const SECRET_OPTION = /(^|[\s;"'{(,])(wgkey|wgpsk|wpakey|nwkey|authkey|psk|password|passwd|passphrase|secret)([ \t]+)(?![=:])("[^"\n]*"?|'[^'\n]*'?|[^\s;"']+)/gi;
// carp's `pass`: in hostname.* files (and their backups) and on lines that configure an interface,
// never in pf.conf's `pass in ...` rules.
const CARP_PASS = /(^|[\s;"'])(pass)([ \t]+)("[^"\n]*"?|'[^'\n]*'?|\S+)/g;
const INTERFACE_LINE = /(?<![\w$-])(ifconfig|vhid|carpdev|advskew|advbase|carppeer|carpnodes)(?![\w-])/;
const HOSTNAME_FILE = /hostname\./;
// `name = value`, `name: value`, `"name": "value"`, with a name that ends in a secret word (DB_PASSWORD,
// PrivateKey, api_key, auth_token, ssh_pass); an unquoted value runs to the end of the line.
const ASSIGNMENT =
  /(^|[^\w$.-])(["']?)((?:[A-Za-z_][\w.-]*?)?(?:password|passwd|passphrase|secret|psk|key|token)|(?:[A-Za-z_][\w.-]*?[-_.])?pass|pw)\2([ \t]*[=:][ \t]*)("[^"\n]*"?|'[^'\n]*'?|[^\n]*)/gi;
// The scheme is bounded, so that a long line of dots and letters cannot make every position a start.
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s/:@]*:)([^\s/@]+)(@)/gi;
// A YAML block scalar (`password: |`): its indented lines that follow are the value.
const BLOCK_SCALAR = /^[|>][+-]?\d?$/;

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
      patterns: rules.patterns.map((source) => {
        const problem = redactPatternProblem(source);
        if (problem) throw new Error(`[redact] pattern ${JSON.stringify(source)}: expected ${problem}`);
        return new RegExp(source, "g");
      }),
    };
    compiled.set(rules, rulesCompiled);
  }
  return rulesCompiled;
}

/** Checks the rules as a peer gets them: the same refusal as the config's, before any text is read. */
export function checkRules(rules: RedactionRules): void {
  compile(rules);
}

/** Credential files named by OpenVPN configs: exact absolute paths, and relative names matched as a path's tail. */
export interface NamedSecrets {
  readonly paths: Set<string>;
  readonly tails: Set<string>;
}

export function noNamedSecrets(): NamedSecrets {
  return { paths: new Set(), tails: new Set() };
}

/** Adds the files a config's text names as credentials (auth-user-pass FILE, askpass FILE, tls-auth FILE...). */
export function collectNamedSecrets(text: string, into: NamedSecrets): void {
  if (!/auth-user-pass|askpass|tls-|secret|pkcs12|key|management|http-proxy/.test(text)) return;
  CREDENTIAL_DIRECTIVE.lastIndex = 0;
  for (const match of text.matchAll(CREDENTIAL_DIRECTIVE)) {
    const name = (match[3] ?? "").replace(/^["']|["']$/g, "");
    if (name === "" || name === "[inline]" || name === "stdin") continue;
    if (name.startsWith("/")) into.paths.add(name.replace(/\/+/g, "/"));
    else into.tails.add(`/${name.replace(/^(\.\/)+/, "")}`);
  }
}

/** Whether a file's whole content is secret: its content is never sent, read into a diff, or shown. */
export function isSecretFile(path: string, rules: RedactionRules, named?: NamedSecrets): boolean {
  const name = basename(path);
  if (compile(rules).secretFiles.some((glob) => glob.pattern.test(glob.matchesPath ? path : name))) return true;
  if (!named) return false;
  if (named.paths.has(path)) return true;
  for (const tail of named.tails) if (path.endsWith(tail)) return true;
  return false;
}

export interface RedactOptions {
  /** A one-time key: values become "[redacted:HMAC]" instead of "[redacted]", to be compared, never shown. */
  readonly digestKey?: string;
}

type Masker = (value: string) => string;

function masker(options: RedactOptions): Masker {
  const key = options.digestKey;
  if (key === undefined) return () => MASK;
  return (value) => `[redacted:${createHmac("sha256", key).update(value).digest("hex").slice(0, 32)}]`;
}

/** The end marker of a block that starts on a line, if the line starts one. */
function blockStart(line: string): { begin: number; end: string } | undefined {
  const armour = ARMOUR_BEGIN.exec(line);
  if (armour && SECRET_ARMOUR_LABEL.test(armour[1] ?? "")) return { begin: armour.index + armour[0].length, end: `-----END ${armour[1] ?? ""}-----` };
  const inline = OPENVPN_INLINE_BEGIN.exec(line);
  if (inline) return { begin: inline.index + inline[0].length, end: `</${inline[1] ?? ""}>` };
  return undefined;
}

function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)?.[0] ?? "";
}

function maskValues(line: string, carpContext: boolean, mask: Masker, patterns: readonly RegExp[]): { line: string; blockScalar: boolean } {
  let blockScalar = false;
  // The admin's patterns first: they see the line as it is written.
  let out = line;
  for (const pattern of patterns) {
    pattern.lastIndex = 0;
    out = out.replace(pattern, (match: string) => (match === "" ? match : MASK));
  }
  out = out.replace(URL_PASSWORD, (_whole, before: string, value: string, at: string) => `${before}${mask(value)}${at}`);
  out = out.replace(ASSIGNMENT, (whole: string, before: string, quote: string, name: string, separator: string, value: string) => {
    const trimmed = value.replace(/[ \t]*[;,{}]*[ \t]*$/, "");
    if (trimmed === "" || trimmed === '""' || trimmed === "''" || trimmed.startsWith("[redacted")) return whole;
    if (BLOCK_SCALAR.test(trimmed)) {
      blockScalar = true;
      return whole;
    }
    return `${before}${quote}${name}${quote}${separator}${mask(trimmed)}${value.slice(trimmed.length)}`;
  });
  out = out.replace(SECRET_OPTION, (whole: string, before: string, option: string, space: string, value: string) =>
    value.startsWith("[redacted") ? whole : `${before}${option}${space}${mask(value)}`,
  );
  if (carpContext || INTERFACE_LINE.test(out)) {
    out = out.replace(CARP_PASS, (whole: string, before: string, option: string, space: string, value: string) => (value.startsWith("[redacted") ? whole : `${before}${option}${space}${mask(value)}`));
  }
  return { line: out, blockScalar };
}

/**
 * The text with every secret it holds masked: key blocks, OpenVPN inline keys, secret values and the
 * admin's patterns, line by line. Lines around a secret stay as they are, so a diff still shows what
 * else changed.
 */
export function redactText(path: string, text: string, rules: RedactionRules, options: RedactOptions = {}): string {
  const patterns = compile(rules).patterns;
  const carpContext = HOSTNAME_FILE.test(basename(path));
  const mask = masker(options);
  const out: string[] = [];
  let block: string | undefined;
  let scalarIndent: number | undefined;
  for (const raw of text.split("\n")) {
    let line = raw;
    let prefix = "";
    if (block !== undefined) {
      const at = line.indexOf(block);
      // A body line: the one MASK line after the opening line stands for all of them.
      if (at < 0) continue;
      prefix = `${indentOf(line)}${block}`;
      line = line.slice(at + block.length);
      block = undefined;
    } else if (scalarIndent !== undefined) {
      if (line.trim() === "" || indentOf(line).length > scalarIndent) {
        if (line.trim() !== "" && out.at(-1)?.trim() !== MASK) out.push(`${indentOf(line)}${MASK}`);
        continue;
      }
      scalarIndent = undefined;
    }
    const start = blockStart(line);
    if (start) {
      const head = line.slice(0, start.begin);
      const rest = line.slice(start.begin);
      const endAt = rest.indexOf(start.end);
      if (endAt >= 0) {
        // Begin and end on one line (a key in a JSON string): mask between them.
        out.push(prefix + maskValues(`${head}${MASK}${rest.slice(endAt)}`, carpContext, mask, patterns).line);
        continue;
      }
      out.push(prefix + maskValues(head, carpContext, mask, patterns).line, `${indentOf(line)}${MASK}`);
      block = start.end;
      continue;
    }
    const masked = maskValues(line, carpContext, mask, patterns);
    out.push(prefix + masked.line);
    if (masked.blockScalar) scalarIndent = indentOf(line).length;
  }
  return out.join("\n");
}

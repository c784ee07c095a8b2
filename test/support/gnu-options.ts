// Finds GNU-only tools and options in the commands a check made a host run. The gateways run OpenBSD:
// a `stat -c` or a `sha256sum` that works on the Debian test machine fails there. The simulated hosts
// already lack some GNU tools and reject some options (test/harness/gnu-guard.sh); this scanner reads
// every logged command line instead, so it also catches what a check sends that the harness happens
// to accept or that failed quietly. Pure functions: a shell command line or an argv in, findings out.
import type { CommandLogEntry } from "../harness/pair.js";

/** Tools that exist on Debian (GNU coreutils and friends) but not on OpenBSD's base system. */
const GNU_ONLY_TOOLS = new Map<string, string>([
  ["sha1sum", "sha1"],
  ["sha224sum", "sha224"],
  ["sha256sum", "sha256"],
  ["sha384sum", "sha384"],
  ["sha512sum", "sha512"],
  ["md5sum", "md5"],
  ["b2sum", "no b2sum on OpenBSD"],
  ["base64", "b64encode/openssl base64, or our own code"],
  ["base32", "our own code"],
  ["basenc", "our own code"],
  ["tac", "tail -r"],
  ["stdbuf", "nothing: OpenBSD has no stdbuf"],
  ["nproc", "sysctl -n hw.ncpuonline"],
  ["numfmt", "our own code"],
  ["flock", "our own code"],
  ["bash", "/bin/sh or /bin/ksh (bash is a package)"],
]);

/** OpenBSD base tools: none of them takes GNU-style --long options (OpenBSD's getopt(3) has none). */
const BSD_TOOLS = new Set([
  "awk",
  "basename",
  "cat",
  "chmod",
  "chown",
  "cksum",
  "cmp",
  "cp",
  "cut",
  "date",
  "dd",
  "df",
  "diff",
  "dirname",
  "du",
  "echo",
  "env",
  "expr",
  "find",
  "grep",
  "head",
  "hostname",
  "id",
  "ifconfig",
  "kill",
  "ln",
  "ls",
  "md5",
  "mkdir",
  "mktemp",
  "mv",
  "netstat",
  "pfctl",
  "pgrep",
  "pkill",
  "printf",
  "ps",
  "rcctl",
  "readlink",
  "realpath",
  "rm",
  "rmdir",
  "route",
  "sed",
  "sha1",
  "sha256",
  "sha512",
  "sleep",
  "smtpctl",
  "sort",
  "ssh",
  "stat",
  "sysctl",
  "tail",
  "tar",
  "tee",
  "touch",
  "tr",
  "uname",
  "uniq",
  "wc",
  "which",
  "xargs",
]);

/** Words at a command's start that run the rest as a command. */
const RESERVED_WORDS = new Set(["!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time"]);

const basename = (word: string): string => word.slice(word.lastIndexOf("/") + 1);
const isAssignment = (word: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(word);

/**
 * GNU-only tools and options in one shell command line (what sshd's ForceCommand or `sh -c` got).
 * Each finding names the tool and what is wrong, e.g. "stat -c: GNU-only (OpenBSD: stat -f FORMAT)".
 */
export function gnuOnlyInShellLine(line: string): string[] {
  return splitCommands(line).flatMap((words) => gnuOnlyInArgv(words));
}

/**
 * The findings in one record of a host's command log (pair.commandEntries): an ssh command line is
 * read as a shell line, anything else as an argv; a call the host's OpenBSD userland rejected is a
 * finding by itself.
 */
export function gnuOnlyInLogEntry(entry: CommandLogEntry): string[] {
  if (entry.kind === "rejected") return [`rejected by the host's OpenBSD userland: ${entry.line}`];
  return entry.kind === "ssh" ? gnuOnlyInShellLine(entry.argv[0] ?? "") : gnuOnlyInArgv(entry.argv);
}

/** The same for one command run without a shell (argv[0] the program, as a stand-in logged it). */
export function gnuOnlyInArgv(argv: readonly string[]): string[] {
  let start = 0;
  while (start < argv.length && (isAssignment(argv[start] ?? "") || RESERVED_WORDS.has(argv[start] ?? ""))) start++;
  const words = argv.slice(start);
  const [program, ...args] = words;
  if (program === undefined) return [];
  const tool = basename(program);
  const findings: string[] = [];

  const gnuTool = GNU_ONLY_TOOLS.get(tool);
  if (gnuTool !== undefined) findings.push(`${tool}: not on OpenBSD (use ${gnuTool})`);
  if (/^python(\d+(\.\d+)*)?$/.test(tool)) findings.push(`${tool}: not on OpenBSD (a package at best)`);

  // Options up to the first operand (OpenBSD's getopt stops there) or "--".
  const options: string[] = [];
  for (const arg of args) {
    if (arg === "--" || !arg.startsWith("-") || arg === "-") break;
    options.push(arg);
  }
  if (BSD_TOOLS.has(tool)) {
    const longOption = args.find((arg, index) => /^--[A-Za-z]/.test(arg) && !args.slice(0, index).includes("--"));
    if (longOption !== undefined && tool !== "find") findings.push(`${tool} ${longOption}: GNU-style long option (OpenBSD's ${tool} has none)`);
  }
  switch (tool) {
    case "stat":
      for (const option of options) {
        if (option.startsWith("--")) continue;
        for (const letter of option.slice(1)) {
          if (letter === "f" || letter === "t") break; // the rest is the format
          if (letter === "c") findings.push("stat -c: GNU-only (OpenBSD: stat -f FORMAT)");
        }
      }
      break;
    case "sed":
      for (const option of options) {
        if (option.startsWith("--")) continue;
        const letters = option.slice(1);
        const argAt = letters.search(/[ef]/);
        const flags = argAt === -1 ? letters : letters.slice(0, argAt);
        if (flags.endsWith("i")) findings.push("sed -i without a suffix: GNU habit (OpenBSD: sed -i.orig, or no in-place edit at all)");
      }
      break;
    case "find":
      for (const arg of args) {
        if (arg === "-printf" || arg === "-fprintf") findings.push(`find ${arg}: GNU-only (OpenBSD: find ... -exec stat -f FORMAT, or our own code)`);
        else if (/^--[A-Za-z]/.test(arg)) findings.push(`find ${arg}: GNU-style long option (OpenBSD's find has none)`);
      }
      break;
    case "head":
      if (options.some((option) => /^-[^-]*c/.test(option))) findings.push("head -c: GNU-only (OpenBSD's head takes -n only)");
      break;
    case "grep":
      if (options.some((option) => /^-[^-]*P/.test(option))) findings.push("grep -P: GNU-only (no PCRE in OpenBSD's grep)");
      break;
    case "xargs":
      if (options.some((option) => /^-[^-]*d/.test(option))) findings.push("xargs -d: GNU-only (OpenBSD: xargs -0)");
      break;
    case "date":
      if (options.some((option) => /^-[^-]*d/.test(option))) findings.push("date -d: GNU-only (OpenBSD: date -j -f)");
      break;
  }

  return [...findings, ...nestedFindings(tool, args)];
}

/** Findings in the commands a command runs itself: sh -c SCRIPT, env/xargs/nohup/exec UTILITY, find -exec. */
function nestedFindings(tool: string, args: readonly string[]): string[] {
  if (tool === "sh" || tool === "ksh" || tool === "mksh" || tool === "dash") {
    const at = args.findIndex((arg) => /^-[A-Za-z]*c[A-Za-z]*$/.test(arg));
    const script = at === -1 ? undefined : args[at + 1];
    return script === undefined ? [] : gnuOnlyInShellLine(script);
  }
  if (tool === "exec" || tool === "command" || tool === "nohup" || tool === "doas" || tool === "sudo") {
    const rest = args.filter((arg, index) => !(index === 0 && arg.startsWith("-")));
    return gnuOnlyInArgv(rest);
  }
  if (tool === "env" || tool === "xargs" || tool === "nice") {
    // Skip the wrapper's own options (and their arguments) and env's assignments.
    const takesArgument = tool === "env" ? "u" : tool === "nice" ? "n" : "EIJLnPRs";
    let index = 0;
    while (index < args.length) {
      const arg = args[index] ?? "";
      if (arg === "--") {
        index++;
        break;
      }
      if (arg.startsWith("-") && arg.length > 1) {
        const letter = arg[1] ?? "";
        index += takesArgument.includes(letter) && arg.length === 2 ? 2 : 1;
        continue;
      }
      if (tool === "env" && isAssignment(arg)) {
        index++;
        continue;
      }
      break;
    }
    return index < args.length ? gnuOnlyInArgv(args.slice(index)) : [];
  }
  if (tool === "find") {
    const nested: string[] = [];
    for (let index = 0; index < args.length; index++) {
      if (!["-exec", "-execdir", "-ok", "-okdir"].includes(args[index] ?? "")) continue;
      const end = args.findIndex((arg, at) => at > index && (arg === ";" || arg === "+"));
      nested.push(...gnuOnlyInArgv(args.slice(index + 1, end === -1 ? undefined : end)));
      if (end !== -1) index = end;
    }
    return nested;
  }
  return [];
}

/**
 * A shell command line as the shell sees it, split into simple commands (lists of words): quotes
 * and backslashes are removed, operators (| || && ; & ( ) $( ` newline) separate commands,
 * redirections and their targets are dropped, here-documents and comments skipped. Enough of the
 * POSIX grammar for the scripts checks send, not a shell.
 */
export function splitCommands(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let skipNextWord = false;
  const heredocs: { delimiter: string; stripTabs: boolean }[] = [];
  let pendingHeredoc: { stripTabs: boolean } | undefined;

  const endWord = (): void => {
    if (!inWord) return;
    if (pendingHeredoc) {
      heredocs.push({ delimiter: word, stripTabs: pendingHeredoc.stripTabs });
      pendingHeredoc = undefined;
    } else if (skipNextWord) skipNextWord = false;
    else words.push(word);
    word = "";
    inWord = false;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };

  let i = 0;
  while (i < line.length) {
    const c = line[i] ?? "";
    if (c === "\n") {
      endCommand();
      i++;
      // Here-document bodies start on the next line: skip them up to their delimiters.
      for (const heredoc of heredocs.splice(0)) {
        for (;;) {
          const lineEnd = line.indexOf("\n", i);
          const bodyLine = line.slice(i, lineEnd === -1 ? undefined : lineEnd);
          i = lineEnd === -1 ? line.length : lineEnd + 1;
          if ((heredoc.stripTabs ? bodyLine.replace(/^\t+/, "") : bodyLine) === heredoc.delimiter || lineEnd === -1) break;
        }
      }
      continue;
    }
    if (c === " " || c === "\t") {
      endWord();
      i++;
      continue;
    }
    if (c === "#" && !inWord) {
      const lineEnd = line.indexOf("\n", i);
      i = lineEnd === -1 ? line.length : lineEnd;
      continue;
    }
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      word += line.slice(i + 1, close === -1 ? undefined : close);
      inWord = true;
      i = close === -1 ? line.length : close + 1;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && /["\\$`\n]/.test(line[i + 1] ?? "")) i++;
        word += line[i] ?? "";
        i++;
      }
      inWord = true;
      i++;
      continue;
    }
    if (c === "\\") {
      if (line[i + 1] !== "\n") word += line[i + 1] ?? "";
      inWord = inWord || line[i + 1] !== "\n";
      i += 2;
      continue;
    }
    if (c === "$" && line[i + 1] === "(" && line[i + 2] !== "(") {
      endCommand();
      i += 2;
      continue;
    }
    if ("|&;()`".includes(c)) {
      endCommand();
      i += 1;
      continue;
    }
    if (c === "<" || c === ">") {
      // "2>" : the digits were a file descriptor, not a word.
      if (inWord && /^\d+$/.test(word)) {
        word = "";
        inWord = false;
      }
      endWord();
      let op = c;
      i++;
      while (i < line.length && "<>&|-".includes(line[i] ?? "") && op.length < 3) op += line[i++] ?? "";
      if (op.startsWith("<<")) pendingHeredoc = { stripTabs: op === "<<-" };
      else skipNextWord = true;
      continue;
    }
    word += c;
    inWord = true;
    i++;
  }
  endCommand();
  return commands;
}

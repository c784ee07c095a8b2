// A real SMTP receiver for the tests (npm smtp-server): accepts every message from anyone and writes
// each to a file of its own in a mailbox directory (temporary name, then rename, so a reader never
// sees half a message), with the envelope in two header lines on top. It listens on 127.0.0.1 only:
// in the test process, or as a process of its own inside a simulated host (startSmtpSinkIn), where
// 127.0.0.1 is the host's own loopback.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SMTPServer } from "smtp-server";
import type { Daemon, HostName, Pair } from "../harness/pair.js";

export interface SmtpSink {
  readonly port: number;
  readonly mailbox: string;
  close(): Promise<void>;
}

export interface ReceivedMail {
  readonly file: string;
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  /** header names in lower case, folded lines joined */
  readonly headers: ReadonlyMap<string, string>;
  /** decoded (RFC 2047) */
  readonly subject: string;
  /** the text/plain part (or the whole body of a single-part message), decoded */
  readonly text: string;
  readonly html: string | undefined;
}

const MESSAGE_FILE = /^\d{13}-\d+-[0-9a-f]{8}\.eml$/;

export async function startSmtpSink(mailbox: string, port = 0): Promise<SmtpSink> {
  mkdirSync(mailbox, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const envelope = session.envelope;
        const from = envelope.mailFrom === false ? "" : envelope.mailFrom.address;
        const head = `X-Sink-Envelope-From: ${from}\r\nX-Sink-Envelope-To: ${envelope.rcptTo.map((rcpt) => rcpt.address).join(", ")}\r\n`;
        const name = `${Date.now()}-${process.pid}-${randomBytes(4).toString("hex")}.eml`;
        writeFileSync(join(mailbox, `.${name}.tmp`), Buffer.concat([Buffer.from(head), ...chunks]));
        renameSync(join(mailbox, `.${name}.tmp`), join(mailbox, name));
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("smtp sink: no TCP address");
  return { port: address.port, mailbox, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The messages received so far, in the order they arrived. */
export function readMailbox(mailbox: string): ReceivedMail[] {
  let names: string[];
  try {
    names = readdirSync(mailbox);
  } catch {
    return [];
  }
  return names
    .filter((name) => MESSAGE_FILE.test(name))
    .sort()
    .map((name) => parseMail(readFileSync(join(mailbox, name), "utf8"), join(mailbox, name)));
}

/** Waits until the mailbox holds at least `count` messages that match. */
async function waitForMail(mailbox: string, count: number, timeoutMs: number, matches: (mail: ReceivedMail) => boolean = () => true): Promise<ReceivedMail[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = readMailbox(mailbox).filter(matches);
    if (mails.length >= count) return mails;
    if (Date.now() > deadline) {
      const seen = readMailbox(mailbox).map((mail) => mail.subject);
      throw new Error(`${mails.length} of ${count} awaited messages in ${mailbox} after ${timeoutMs} ms; subjects received: ${JSON.stringify(seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---- a small MIME reader: what our mails and monit's use (multipart, quoted-printable, base64) ----

function splitHeaderBody(raw: string): { header: string; body: string } {
  const text = raw.replace(/\r\n/g, "\n");
  const end = text.indexOf("\n\n");
  return end < 0 ? { header: text, body: "" } : { header: text.slice(0, end), body: text.slice(end + 2) };
}

function parseHeaders(header: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of header.replace(/\n[ \t]+/g, " ").split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
    }
  }
  return headers;
}

function decodeQuotedPrintable(text: string): string {
  const bytes = text.replace(/=\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

function decodeBody(body: string, headers: ReadonlyMap<string, string>): string {
  const encoding = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  if (encoding === "quoted-printable") return decodeQuotedPrintable(body);
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return body;
}

/** RFC 2047 encoded words, as nodemailer writes a long or non-ASCII subject. */
function decodeEncodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, _charset: string, kind: string, data: string) =>
      kind.toUpperCase() === "B" ? Buffer.from(data, "base64").toString("utf8") : decodeQuotedPrintable(data.replace(/_/g, " ")),
    );
}

function textParts(header: string, body: string, found: { text?: string; html?: string }): void {
  const headers = parseHeaders(header);
  const type = headers.get("content-type") ?? "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary}`).slice(1);
    for (const part of parts) {
      if (part.startsWith("--")) break;
      const split = splitHeaderBody(part.replace(/^\n/, ""));
      textParts(split.header, split.body.replace(/\n$/, ""), found);
    }
    return;
  }
  if (/^text\/html/i.test(type)) found.html ??= decodeBody(body, headers);
  else if (/^text\/plain/i.test(type)) found.text ??= decodeBody(body, headers);
}

function parseMail(raw: string, file = ""): ReceivedMail {
  const { header, body } = splitHeaderBody(raw);
  const headers = parseHeaders(header);
  const found: { text?: string; html?: string } = {};
  textParts(header, body, found);
  return {
    file,
    envelopeFrom: headers.get("x-sink-envelope-from") ?? "",
    envelopeTo: (headers.get("x-sink-envelope-to") ?? "")
      .split(",")
      .map((to) => to.trim())
      .filter(Boolean),
    headers,
    subject: decodeEncodedWords(headers.get("subject") ?? ""),
    text: found.text ?? "",
    html: found.html,
  };
}

// ---- the sink as a process inside a simulated host ----

/**
 * `node smtp-sink.cjs MAILBOX PORT`: prints "smtp sink listening on 127.0.0.1:PORT", stops on SIGTERM.
 * @public the entry that bundleSink() generates imports it
 */
export async function runSmtpSinkMain(argv: readonly string[]): Promise<void> {
  const [mailbox, port = "25"] = argv;
  if (!mailbox) throw new Error("usage: smtp-sink MAILBOX [PORT]");
  const sink = await startSmtpSink(mailbox, Number(port));
  process.stdout.write(`smtp sink listening on 127.0.0.1:${sink.port}\n`);
  process.once("SIGTERM", () => void sink.close().then(() => process.exit(0)));
}

let bundled: Promise<Buffer> | undefined;

/** This file and smtp-server as one CommonJS script that a host's node runs. */
function bundleSink(): Promise<Buffer> {
  bundled ??= import("esbuild")
    .then(({ build }) =>
      build({
        stdin: {
          contents: 'import { runSmtpSinkMain } from "./smtp-sink.ts";\nvoid runSmtpSinkMain(process.argv.slice(2));\n',
          resolveDir: fileURLToPath(new URL(".", import.meta.url)),
          sourcefile: "smtp-sink-main.ts",
          loader: "ts",
        },
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        // Loaded by bundleSink() alone, which the bundled sink never calls; nor does it use import.meta.
        external: ["esbuild"],
        logOverride: { "empty-import-meta": "silent" },
        write: false,
        logLevel: "warning",
      }),
    )
    .then((out) => Buffer.from(out.outputFiles[0]?.contents ?? new Uint8Array()));
  return bundled;
}

export interface HostSmtpSink {
  /** the mailbox directory as the host sees it */
  readonly mailbox: string;
  readonly daemon: Daemon;
  /** the messages received so far (read through the host's view of its files) */
  read(): ReceivedMail[];
  wait(count: number, timeoutMs: number, matches?: (mail: ReceivedMail) => boolean): Promise<ReceivedMail[]>;
}

/** Starts the sink inside a simulated host, on that host's 127.0.0.1 (port 25 by default). */
export async function startSmtpSinkIn(pair: Pair, host: HostName, opts: { port?: number; mailbox?: string } = {}): Promise<HostSmtpSink> {
  const mailbox = opts.mailbox ?? "/var/sink/mail";
  const script = "/var/sink/smtp-sink.cjs";
  await pair.writeFile(host, script, await bundleSink(), { mode: 0o644 });
  const daemon = await pair.startDaemon(host, "smtp-sink", ["/usr/local/bin/node", script, mailbox, String(opts.port ?? 25)], { ready: /smtp sink listening on 127\.0\.0\.1:\d+/ });
  const outside = (): string => pair.hostPath(host, mailbox);
  return {
    mailbox,
    daemon,
    read: () => readMailbox(outside()),
    wait: (count, timeoutMs, matches) => waitForMail(outside(), count, timeoutMs, matches),
  };
}

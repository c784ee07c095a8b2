// Mailing the cron report. A report is composed once, written to the spool directory, and removed from
// there only after an SMTP server (or the local sendmail) has accepted it; every run sends whatever the
// spool holds, oldest first, so a report that could not be sent goes out with the next one and nothing
// is lost. nodemailer is imported here, on the send path only: the checks and the other commands never
// load it.
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../lib/runtime/config.js";
import { pidFileHolder, releasePidFile, removeIfStale, takePidFile } from "../lib/transport/pidfile.js";
import { loadExeca } from "../lib/transport/process.js";

export type MailSettings = Config["mail"];

export interface Letter {
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  readonly date?: Date;
}

interface DeliveryResult {
  /** Spool files the server accepted (and that were removed), oldest first. */
  readonly sent: readonly string[];
  /** Spool files still waiting, oldest first: the one that failed and every one after it. */
  readonly pending: readonly string[];
  /** Why the first pending file could not be sent. */
  readonly failure?: string;
}

// Spool file names start with the time in milliseconds, zero-padded, so sorting the names sorts the
// reports by age; the pid and a random part keep two reports of the same millisecond apart.
const SPOOL_NAME = /^\d{15}-\d+-[0-9a-f]{8}\.eml$/;

/** The whole message as it will be sent (RFC 5322, MIME, LF line ends): what the spool keeps. */
export async function composeMessage(settings: MailSettings, letter: Letter): Promise<Buffer> {
  const { createTransport } = await import("nodemailer");
  const composer = createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  const info = await composer.sendMail({
    from: settings.from,
    to: settings.to,
    subject: letter.subject,
    text: letter.text,
    ...(letter.html !== undefined ? { html: letter.html } : {}),
    date: letter.date ?? new Date(),
    // RFC 3834: vacation responders and the like must not answer a machine's report.
    headers: { "Auto-Submitted": "auto-generated" },
  });
  return info.message as Buffer;
}

/** Reports carry the gateways' details: the spool is root's alone, and we never loosen or tighten an
 * existing directory that is not (the admin may have pointed spool_dir at a shared one by mistake). */
function ensureSpoolDir(spoolDir: string): void {
  mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(spoolDir);
  if (!stat.isDirectory()) throw new Error("not a directory");
  if ((stat.mode & 0o077) !== 0) throw new Error(`open to others (mode ${(stat.mode & 0o777).toString(8)}; expected 700)`);
}

/** Writes a message into the spool (temp file, then rename: a reader never sees half a report). */
export function spoolMessage(spoolDir: string, raw: Buffer, nowMs = Date.now()): string {
  ensureSpoolDir(spoolDir);
  const name = `${String(nowMs).padStart(15, "0")}-${process.pid}-${randomBytes(4).toString("hex")}.eml`;
  const temporary = join(spoolDir, `.${name}.tmp`);
  const fd = openSync(temporary, "wx", 0o600);
  try {
    let offset = 0;
    while (offset < raw.length) offset += writeSync(fd, raw, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const path = join(spoolDir, name);
  renameSync(temporary, path);
  return path;
}

/** The spooled messages, oldest first; none when the directory does not exist yet. */
export function spooledMessages(spoolDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(spoolDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names
    .filter((name) => SPOOL_NAME.test(name))
    .sort()
    .map((name) => join(spoolDir, name));
}

/** Sends one raw message; close() once done with it. */
interface Transport {
  sendMail(message: { envelope: { from: string; to: string | string[] }; raw: Buffer }): Promise<unknown>;
  close(): void;
}

class MailError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The local sendmail, run by us rather than by nodemailer's transport: that one waits for sendmail as
 * long as it takes, and a sendmail stuck on a hung smtpd would hold the cron job forever. [mail]
 * timeout bounds it like the SMTP conversation; a sendmail killed before the end of its input queues
 * nothing.
 */
function sendmailTransport(path: string, timeoutMs: number): Transport {
  return {
    async sendMail({ envelope, raw }) {
      // nodemailer's own parse of "Name <addr>" lists, as the SMTP path uses: the stream transport
      // only computes the envelope.
      const { createTransport } = await import("nodemailer");
      const parsed = (await createTransport({ streamTransport: true }).sendMail({ envelope, raw })).envelope;
      const addresses = [parsed.from || "", ...parsed.to];
      // An address sendmail would take for an option: refused, as nodemailer's transport does.
      if (addresses.some((address) => /^"?-/.test(address)) || parsed.to.length === 0) throw new MailError("EENVELOPE", "no recipient, or an address that starts with '-'");
      const args = ["-i", ...(parsed.from ? ["-f", parsed.from] : []), "--", ...parsed.to];
      const execa = await loadExeca();
      const run = await execa(path, args, { input: raw, reject: false, maxBuffer: 64 * 1024, timeout: timeoutMs, forceKillAfterDelay: 1000, encoding: "utf8" });
      const said = run.stderr.trim().split("\n").pop() ?? "";
      if (run.exitCode === undefined && run.signal === undefined) {
        const cause = run.cause as NodeJS.ErrnoException | undefined;
        throw new MailError(cause?.code ?? "ESENDMAIL", `cannot run it: ${cause?.message ?? run.shortMessage ?? "not started"}`);
      }
      if (run.timedOut) throw new MailError("ETIMEDOUT", `sendmail did not finish within ${timeoutMs / 1000} s, killed`);
      // OpenBSD's sendmail (smtpctl) with smtpd down saves the message in /var/spool/smtpd/offline,
      // which smtpd delivers when it starts, and exits 75 (EX_TEMPFAIL) without a word. That is
      // accepted: keeping it as well would send it again with every run until smtpd is back. Another
      // mailer's 75 says why on stderr, and stays a failure.
      if (run.exitCode === 75 && said === "") return;
      if (run.exitCode !== 0) {
        const how = run.exitCode !== undefined ? `exited with code ${run.exitCode}` : `was killed by ${run.signal}`;
        throw new MailError("ESENDMAIL", `sendmail ${how}${said ? `: ${said}` : ""}`);
      }
    },
    close() {},
  };
}

async function openTransport(settings: MailSettings): Promise<Transport> {
  const timeoutMs = Math.round(settings.timeout * 1000);
  if (settings.sendmail_path !== undefined) return sendmailTransport(settings.sendmail_path, timeoutMs);
  const { createTransport } = await import("nodemailer");
  return createTransport({
    host: settings.smtp_host,
    port: settings.smtp_port,
    // 465 speaks TLS from the first byte; every other port starts in clear and upgrades with STARTTLS
    // when the server offers it.
    secure: settings.smtp_port === 465,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
  });
}

/** One line saying where delivery failed and why, for the report's stdout and exit. */
function describeMailError(settings: MailSettings, error: unknown): string {
  const where = settings.sendmail_path ?? `${settings.smtp_host}:${settings.smtp_port}`;
  const mailError = error as { code?: unknown; message?: unknown };
  const code = typeof mailError.code === "string" ? `${mailError.code}: ` : "";
  const message = typeof mailError.message === "string" ? mailError.message : String(error);
  return `${where}: ${code}${message.split("\n")[0] ?? ""}`;
}

function sendRaw(transport: Transport, settings: MailSettings, raw: Buffer): Promise<unknown> {
  // The envelope comes from [mail] as it is now; nodemailer takes the addresses out of "Name <addr>".
  return transport.sendMail({ envelope: { from: settings.from, to: settings.to }, raw });
}

/**
 * Sends every spooled message, oldest first, removing each only after the server accepted it. Stops at
 * the first failure: the server is down or refusing, and the rest would fail the same way.
 */
async function deliverSpool(settings: MailSettings): Promise<DeliveryResult> {
  const files = spooledMessages(settings.spool_dir);
  if (files.length === 0) return { sent: [], pending: [] };
  const transport = await openTransport(settings);
  const sent: string[] = [];
  try {
    for (const [index, file] of files.entries()) {
      try {
        await sendRaw(transport, settings, readFileSync(file));
      } catch (error) {
        return { sent, pending: files.slice(index), failure: describeMailError(settings, error) };
      }
      unlinkSync(file);
      sent.push(file);
    }
  } finally {
    transport.close();
  }
  return { sent, pending: [] };
}

export interface SendOutcome {
  /** This message was accepted (true when there was none to send). */
  readonly delivered: boolean;
  /** Messages spooled by earlier runs that went out now. */
  readonly earlierSent: number;
  /** Spool files still waiting, oldest first; this message's among them when it was not sent. */
  readonly pending: readonly string[];
  /** Why sending stopped; undefined when everything went out. */
  readonly failure?: string;
  /** Why the spool could not be used (this message was then sent directly, if the server took it). */
  readonly spoolFailure?: string;
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
}

const LOCK_NAME = ".sending";
const LOCK_POLL_MS = 100;

class SpoolBusy extends Error {}

/**
 * One sender at a time: two runs that listed the same spool would both send its older reports (cron's
 * run and the admin's by hand). The lock is a pid file (pidfile.ts), broken when its run died; a live
 * holder is waited for up to waitMs, then named.
 */
async function lockSpool(spoolDir: string, waitMs: number): Promise<() => void> {
  const lock = join(spoolDir, LOCK_NAME);
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (takePidFile(lock)) return () => releasePidFile(lock);
    if (removeIfStale(lock)) continue;
    if (Date.now() >= deadline) {
      const holder = pidFileHolder(lock);
      throw new SpoolBusy(`another carpentry report${holder !== undefined ? ` (pid ${holder})` : ""} is still sending it (${lock})`);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/**
 * Keeps the message in the spool, then sends the whole spool oldest first. When the spool cannot be
 * used (not writable, not readable) the message is still sent directly: it is only lost if that fails
 * too, and then the caller prints it, for cron to mail.
 */
export async function sendThroughSpool(settings: MailSettings, raw: Buffer | undefined): Promise<SendOutcome> {
  let ours: string | undefined;
  let spoolFailure: string | undefined;
  if (raw !== undefined) {
    try {
      ours = spoolMessage(settings.spool_dir, raw);
    } catch (error) {
      spoolFailure = `${settings.spool_dir}: ${describeError(error)}`;
    }
  }
  let delivery: DeliveryResult = { sent: [], pending: [] };
  let failure: string | undefined;
  // A spool we could not write to is not locked nor sent from: what it holds waits for a run where it
  // works, and this message goes out directly.
  if (spoolFailure === undefined) {
    try {
      const unlock = await lockSpool(settings.spool_dir, settings.timeout * 1000);
      try {
        delivery = await deliverSpool(settings);
        failure = delivery.failure;
      } finally {
        unlock();
      }
    } catch (error) {
      if (error instanceof SpoolBusy) {
        failure = `${settings.spool_dir}: ${error.message}`;
        delivery = { sent: [], pending: spooledMessages(settings.spool_dir) };
      } else if (!(raw === undefined && (error as NodeJS.ErrnoException).code === "ENOENT")) {
        // ENOENT with no message of ours: no spool yet, nothing waiting.
        spoolFailure = `${settings.spool_dir}: ${describeError(error)}`;
      }
    }
  }
  // Gone from the spool without a failure: the run that held the lock before us sent it.
  let delivered = raw === undefined || (ours !== undefined && (delivery.sent.includes(ours) || (failure === undefined && !existsSync(ours))));
  if (raw !== undefined && !delivered && failure === undefined) {
    const transport = await openTransport(settings);
    try {
      await sendRaw(transport, settings, raw);
      delivered = true;
      // Sent past a spool we could not send from: it must not go out again with the next run.
      if (ours !== undefined) rmSync(ours, { force: true });
    } catch (error) {
      failure = describeMailError(settings, error);
    } finally {
      transport.close();
    }
  }
  return {
    delivered,
    earlierSent: delivery.sent.filter((file) => file !== ours).length,
    pending: delivery.pending,
    ...(failure !== undefined ? { failure } : {}),
    ...(spoolFailure !== undefined ? { spoolFailure } : {}),
  };
}

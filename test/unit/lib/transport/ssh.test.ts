import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../../../../src/checks/index.js";
import { parseConfig } from "../../../../src/lib/runtime/config.js";
import { HostError } from "../../../../src/lib/runtime/errors.js";
import { acquireMasterSlot, acquireSessionSlot, describeSshFailure, ensureControlDir, isHandshakeDrop, sshArgs } from "../../../../src/lib/transport/ssh.js";

const dir = mkdtempSync(join(tmpdir(), "carpentry-ssh-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const peer = parseConfig('role = "primary"\n[peer]\nhost = "secondary"\nssh_options = ["BatchMode=no", "StrictHostKeyChecking=accept-new"]\n', "c.toml", { all: ALL_CHECKS }).peer;

describe("ssh arguments", () => {
  it("keeps BatchMode first (ssh keeps the first value) and lets the admin's options win over ours", () => {
    const args = sshArgs(peer, undefined, "true");
    expect(args.slice(0, 2)).toEqual(["-o", "BatchMode=yes"]);
    expect(args.indexOf("StrictHostKeyChecking=accept-new")).toBeLessThan(args.indexOf("StrictHostKeyChecking=yes"));
    expect(args.slice(-4)).toEqual(["-T", "--", "secondary", "true"]);
    expect(args).toContain("ControlPath=none");
  });
  it("shares one master with a socket in our directory", () => {
    const args = sshArgs(peer, { controlDir: "/var/run/carpentry", persistSeconds: 120, maxSessions: 10 }, "true");
    expect(args).toContain("ControlMaster=auto");
    expect(args.find((a) => a.startsWith("ControlPath="))).toMatch(/^ControlPath=\/var\/run\/carpentry\/cm-[0-9a-f]{16}$/);
  });
});

describe("ssh failures in words", () => {
  const cases: [string, RegExp][] = [
    ["ssh: connect to host 10.231.0.2 port 22: Connection refused", /connection refused/],
    ["ssh: connect to host 10.231.0.2 port 22: Connection timed out", /connection timed out/],
    ["Connection timed out during banner exchange\r\nConnection to 10.231.0.2 port 22 timed out", /connection timed out/],
    ["@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.", /host key mismatch/],
    ["No ED25519 host key is known for secondary and you have requested strict checking.\nHost key verification failed.", /host key not trusted/],
    ["root@10.231.0.2: Permission denied (publickey).", /authentication refused/],
    ["ssh: Could not resolve hostname nowhere: Name or service not known", /does not resolve/],
    ["something odd", /ssh failed: something odd/],
  ];
  it.each(cases)("%s", (stderr, words) => expect(describeSshFailure(stderr)).toMatch(words));
  it("retries only handshake drops, never refusals", () => {
    expect(isHandshakeDrop("kex_exchange_identification: read: Connection reset by peer")).toBe(true);
    expect(isHandshakeDrop("Connection closed by 10.231.0.2 port 22")).toBe(true);
    expect(isHandshakeDrop("ssh: connect to host 10.231.0.2 port 22: Connection refused")).toBe(false);
  });
});

describe("the control directory", () => {
  it("is created 0700 and accepted", () => {
    const path = join(dir, "ctl");
    ensureControlDir(path);
    expect(statSync(path).mode & 0o777).toBe(0o700);
  });
  it("is refused when others can enter it or it is a symlink", () => {
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o755);
    expect(() => ensureControlDir(open)).toThrow(HostError);
    const link = join(dir, "link");
    symlinkSync(open, link);
    expect(() => ensureControlDir(link)).toThrow(/not a directory/);
  });
});

describe("one master at a time", () => {
  it("lets one process create the master while the others wait, then ride on it", async () => {
    const socketPath = join(dir, "cm-test");
    const first = await acquireMasterSlot(socketPath, 2000);
    expect(first).toBeTypeOf("function");
    const waiting = acquireMasterSlot(socketPath, 2000);
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    const server: Server = createServer().listen(socketPath);
    await new Promise((r) => server.once("listening", r));
    first?.();
    expect(await waiting).toBeUndefined();
    await new Promise((r) => server.close(r));
  });
  it("takes over a stale lock left by a dead process, and leaves a dead master's socket to ssh", async () => {
    const socketPath = join(dir, "cm-stale");
    writeFileSync(`${socketPath}.lock`, "999999");
    writeFileSync(socketPath, "");
    const release = await acquireMasterSlot(socketPath, 1000);
    expect(release).toBeTypeOf("function");
    expect(existsSync(socketPath)).toBe(true);
    release?.();
    expect(existsSync(`${socketPath}.lock`)).toBe(false);
  });
});

describe("the shared connection's sessions", () => {
  it("hands out one fewer than MaxSessions at once, and the next waiter gets the first one released", async () => {
    const socketPath = join(dir, "cm-sessions");
    const held = await Promise.all([acquireSessionSlot(socketPath, 4, 2000), acquireSessionSlot(socketPath, 4, 2000), acquireSessionSlot(socketPath, 4, 2000)]);
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith("cm-sessions.s"))
        .sort(),
    ).toEqual(["cm-sessions.s0", "cm-sessions.s1", "cm-sessions.s2"]);
    const fourth = acquireSessionSlot(socketPath, 4, 2000);
    let settled = false;
    void fourth.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(settled).toBe(false);
    held[1]?.();
    const release = await fourth;
    expect(readdirSync(dir).filter((f) => f.startsWith("cm-sessions.s")).length).toBe(3);
    [held[0], held[2], release].forEach((r) => r?.());
    expect(readdirSync(dir).filter((f) => f.startsWith("cm-sessions.s"))).toEqual([]);
  });
  it("takes over a slot left by a dead process, and goes on without a slot past its deadline", async () => {
    const socketPath = join(dir, "cm-dead");
    writeFileSync(`${socketPath}.s0`, "999999");
    const release = await acquireSessionSlot(socketPath, 2, 1000);
    expect(readFileSync(`${socketPath}.s0`, "utf8")).toBe(String(process.pid));
    const started = Date.now();
    const late = await acquireSessionSlot(socketPath, 2, 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    late();
    expect(existsSync(`${socketPath}.s0`)).toBe(true);
    release();
    expect(existsSync(`${socketPath}.s0`)).toBe(false);
  });
});

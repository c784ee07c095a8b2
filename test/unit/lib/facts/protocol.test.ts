// The facts exchange: versioning, and several checks' peer requests merged into one peer process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HostError } from "../../../../src/lib/runtime/errors.js";
import { answerFacts, factsRequest, PeerBatcher, PeerFacts, PROTOCOL, registerFacts, type FactsTransport, type TaggedReply, type Talk } from "../../../../src/lib/facts/protocol.js";
import type { Host } from "../../../../src/lib/transport/host.js";
import type { CommandResult, HostCommand } from "../../../../src/lib/transport/shell.js";
import { hostOver } from "../../../support/facts-peer.js";
import "../../../../src/lib/facts/shell.js";
import { readFilesOn } from "../../../../src/lib/facts/files.js";
registerFacts("echo", async (args) => args);
registerFacts("fail", async () => {
  throw new Error("no such table");
});
// Answers only when the test lets it: a peer command that hangs (a wedged smtpctl).
const held: (() => void)[] = [];
registerFacts("held", (args) => new Promise((resolve) => held.push(() => resolve(args))));
// Asks the asker twice and answers with what it heard: a conversation in its smallest form.
registerFacts("quiz", async (args, _signal, talk) => {
  const first = await talk.ask({ question: 1, args });
  const second = await talk.ask({ question: 2, heard: first });
  return { first, second };
});

/**
 * A peer whose `carpentry facts` is this process's own answerFacts: the transport is the only thing
 * replaced, so what is tested is the real request, merging and answer handling.
 */
class InProcessPeer implements FactsTransport {
  readonly role = "secondary" as const;
  readonly label = "secondary (test)";
  readonly requests: unknown[] = [];
  constructor(private readonly knowsBatch = true) {}
  async run(commands: readonly HostCommand[]): Promise<CommandResult[]> {
    return Promise.all(commands.map((command) => this.respond(command.input ?? "null", undefined)));
  }
  async converse(_command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult> {
    return this.respond(firstLine, talkThrough(answer));
  }
  private async respond(input: string, talk: Talk | undefined): Promise<CommandResult> {
    const request = JSON.parse(input) as { op?: string };
    this.requests.push(request);
    const response = !this.knowsBatch && request.op === "batch" ? { protocol: PROTOCOL, version: "0.0.1", ok: false, error: 'unknown op "batch" (carpentry 0.0.1)' } : await answerFacts(request, talk);
    return { command: "carpentry facts", stdout: JSON.stringify(response), stderr: "", exitCode: 0 };
  }
}

/** As `carpentry facts` talks: each question goes out as a line and its reply comes back as one,
 * through the same JSON text the wire carries. */
function talkThrough(answer: (question: string) => Promise<string>): Talk {
  let id = 0;
  return { ask: async (question: unknown) => (JSON.parse(await answer(JSON.stringify({ id: id++, question }))) as TaggedReply).reply };
}

/** The peer as a Host, its facts batched when `batched`, as under `carpentry run`. */
function peerHost(transport: InProcessPeer, batched = false): InProcessPeer & Host {
  return hostOver(transport, batched ? new PeerBatcher({ quietMs: 20, maxWaitMs: 100, sessionsAtOnce: 2 }) : undefined);
}

const ask = async (peer: Host, op: string, args: unknown): Promise<unknown> => (await peer.facts(op, args)).value;
const converse = async (peer: Host, op: string, args: unknown, answer: (question: unknown) => Promise<unknown>): Promise<unknown> => (await peer.facts(op, args, { answer })).value;

describe("facts", () => {
  it("refuses a protocol it does not speak, naming its own", async () => {
    const response = await answerFacts({ protocol: PROTOCOL + 1, op: "echo", args: 1 });
    expect(response).toMatchObject({ ok: false });
    expect(response.ok ? "" : response.error).toMatch(/^protocol \d+ not supported \(this host speaks/);
  });

  it("asks the peer once per request when requests are not merged", async () => {
    const peer = peerHost(new InProcessPeer());
    expect(await Promise.all([ask(peer, "echo", "a"), ask(peer, "echo", "b")])).toEqual(["a", "b"]);
    expect(peer.requests).toHaveLength(2);
  });

  it("merges requests made together into one peer process, each caller getting its own answer or error", async () => {
    const peer = peerHost(new InProcessPeer(), true);
    const answers = await Promise.allSettled([ask(peer, "echo", { n: 1 }), ask(peer, "fail", null), ask(peer, "echo", { n: 3 })]);
    expect(peer.requests).toHaveLength(1);
    expect(peer.requests[0]).toMatchObject({ op: "batch" });
    expect(answers[0]).toEqual({ status: "fulfilled", value: { n: 1 } });
    expect(answers[1].status).toBe("rejected");
    expect((answers[1] as PromiseRejectedResult).reason).toBeInstanceOf(HostError);
    expect(((answers[1] as PromiseRejectedResult).reason as HostError).detail).toContain("no such table");
    expect(answers[2]).toEqual({ status: "fulfilled", value: { n: 3 } });
  });

  it("asks an older peer without batch one request at a time", async () => {
    const peer = peerHost(new InProcessPeer(false), true);
    expect(await Promise.all([ask(peer, "echo", 1), ask(peer, "echo", 2)])).toEqual([1, 2]);
    expect(peer.requests.map((r) => (r as { op: string }).op)).toEqual(["batch", "echo", "echo"]);
  });

  it("lets an op ask the asker back, over one peer process, and not an asker of protocol 1", async () => {
    const peer = peerHost(new InProcessPeer());
    const heard: unknown[] = [];
    const value = await converse(peer, "quiz", "hello", async (question) => {
      heard.push(question);
      return heard.length * 10;
    });
    expect(heard).toEqual([
      { question: 1, args: "hello" },
      { question: 2, heard: 10 },
    ]);
    expect(value).toEqual({ first: 10, second: 20 });
    expect(peer.requests).toHaveLength(1);
    const old = await answerFacts({ protocol: 1, op: "quiz", args: 1, deadlineMs: 1000 }, { ask: async () => 1 });
    expect(old).toMatchObject({ ok: false, error: expect.stringMatching(/cannot be asked back/) });
  });

  it("merges conversing requests into one batch too, each request's questions going to its own asker", async () => {
    const peer = peerHost(new InProcessPeer(), true);
    const quiz = (name: string) => converse(peer, "quiz", name, async (question) => `${name}:${JSON.stringify(question)}`);
    const [a, echo, b] = await Promise.all([quiz("a"), ask(peer, "echo", 7), quiz("b")]);
    expect(peer.requests).toHaveLength(1);
    expect(peer.requests[0]).toMatchObject({ op: "batch" });
    expect(echo).toBe(7);
    expect(a).toEqual({ first: 'a:{"question":1,"args":"a"}', second: `a:${JSON.stringify({ question: 2, heard: 'a:{"question":1,"args":"a"}' })}` });
    expect((b as { first: string }).first).toBe('b:{"question":1,"args":"b"}');
  });

  describe("checks with a PeerFacts each, as under carpentry run and the cycle server", () => {
    /** A peer whose shell runs commands as "ran ARGV" and whose carpentry answers as answerFacts does; it logs each session. */
    class ShellPeer implements FactsTransport {
      readonly role = "secondary" as const;
      readonly sessions: string[][] = [];
      /** What a session waits for before it answers (a test's slow peer). */
      hold: () => Promise<void> = () => Promise.resolve();
      constructor(
        readonly label = "secondary (test)",
        private readonly garbleBatch = false,
        private readonly knowsShell = true,
      ) {}
      async run(commands: readonly HostCommand[]): Promise<CommandResult[]> {
        this.sessions.push(commands.map((command) => (command.argv?.[1] === "facts" ? `facts ${(JSON.parse(command.input ?? "{}") as { op: string }).op}` : (command.argv ?? []).join(" "))));
        await this.hold();
        return Promise.all(
          commands.map(async (command) =>
            command.argv?.[1] === "facts" ? this.respond(command.input ?? "null", undefined) : { command: "", stdout: `ran ${(command.argv ?? []).join(" ")}`, stderr: "", exitCode: 0 },
          ),
        );
      }
      async converse(_command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult> {
        this.sessions.push([`facts ${(JSON.parse(firstLine) as { op: string }).op}`]);
        await this.hold();
        return this.respond(firstLine, talkThrough(answer));
      }
      private async respond(input: string, talk: Talk | undefined): Promise<CommandResult> {
        const request = JSON.parse(input) as { op?: string };
        // A peer without the shell op (nor streaming, which it ignores).
        const older = (r: unknown): unknown => {
          const { requests } = (r as { args?: { requests?: { op: string }[] } }).args ?? {};
          return !this.knowsShell && requests?.some((q) => q.op === "shell") ? { ...(r as object), args: { requests: requests.map((q) => (q.op === "shell" ? { op: "nosuchop" } : q)) } } : r;
        };
        if (this.garbleBatch && request.op === "batch") return { command: "carpentry facts", stdout: "garbage from a broken peer", stderr: "", exitCode: 0 };
        const stdout = JSON.stringify(await answerFacts(older(request), talk)).replace(/unknown op \\"nosuchop\\"/g, 'unknown op \\"shell\\"');
        return { command: "carpentry facts", stdout, stderr: "", exitCode: 0 };
      }
    }
    const CARPENTRY = "/etc/carpentry.monit/carpentry";
    const request = (op: string, args: unknown) => factsRequest(op, args, 5000);

    it("merges their requests and shell commands for one peer into one session, each check's commands in a shell of their own", async () => {
      const transport = new ShellPeer();
      const batcher = new PeerBatcher({ quietMs: 20, maxWaitMs: 100, sessionsAtOnce: 2 });
      const [carp, drift, sysctl] = [1, 2, 3].map(() => new PeerFacts(transport, CARPENTRY, batcher));
      if (!carp || !drift || !sysctl) throw new Error("three checks");
      // Side by side: each check's first command waits for the other's mark, so one after the
      // other they could not both see it.
      const dir = mkdtempSync(join(tmpdir(), "carpentry-shell-"));
      const meet = (mine: string, theirs: string): HostCommand => ({
        argv: ["/bin/sh", "-c", `touch "$1/${mine}"; i=0; while [ ! -e "$1/${theirs}" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done; [ -e "$1/${theirs}" ] && echo met`, "sh", dir],
      });
      try {
        const [carpRan, driftAnswer, sysctlRan, sysctlAnswer] = await Promise.all([
          carp.run([meet("carp", "sysctl"), { argv: ["echo", "carp"] }], 10_000),
          drift.ask(request("echo", "drift"), {}),
          sysctl.run(
            [
              meet("sysctl", "carp"),
              { argv: ["echo", "a"] },
              {
                pipeline: [
                  ["echo", "b"],
                  ["tr", "b", "B"],
                ],
              },
            ],
            10_000,
          ),
          sysctl.ask(request("echo", "sysctl"), {}),
        ]);
        expect(transport.sessions).toEqual([["facts batch"]]);
        expect(carpRan.map((r) => r.stdout)).toEqual(["met\n", "carp\n"]);
        expect(sysctlRan.map((r) => r.stdout)).toEqual(["met\n", "a\n", "B\n"]);
        expect([driftAnswer.value, sysctlAnswer.value]).toEqual(["drift", "sysctl"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("runs the commands in a session of their own when the peer is too old for the shell op", async () => {
      const transport = new ShellPeer("secondary (test)", false, false);
      const batcher = new PeerBatcher({ quietMs: 20, maxWaitMs: 100, sessionsAtOnce: 2 });
      const [ran, answer] = await Promise.all([
        new PeerFacts(transport, CARPENTRY, batcher).run([{ argv: ["/sbin/ifconfig", "carp"] }], 5000),
        new PeerFacts(transport, CARPENTRY, batcher).ask(request("echo", 1), {}),
      ]);
      expect(ran.map((r) => r.stdout)).toEqual(["ran /sbin/ifconfig carp"]);
      expect(answer.value).toBe(1);
      expect(transport.sessions).toEqual([["facts batch"], ["/sbin/ifconfig carp"]]);
    });

    it("never sends one peer's request along to another peer", async () => {
      const [primary, secondary] = [new ShellPeer("primary (test)"), new ShellPeer("secondary (test)")];
      const batcher = new PeerBatcher({ quietMs: 20, maxWaitMs: 100, sessionsAtOnce: 2 });
      const answers = await Promise.all([new PeerFacts(primary, CARPENTRY, batcher).ask(request("echo", "p"), {}), new PeerFacts(secondary, CARPENTRY, batcher).ask(request("echo", "s"), {})]);
      expect(answers.map((a) => a.value)).toEqual(["p", "s"]);
      expect([primary.sessions, secondary.sessions]).toEqual([[["facts echo"]], [["facts echo"]]]);
    });

    it("asks each request alone when the batch's answer cannot be read, so each check gets its own answer", async () => {
      const transport = new ShellPeer("secondary (test)", true);
      const batcher = new PeerBatcher({ quietMs: 20, maxWaitMs: 100, sessionsAtOnce: 2 });
      const answers = await Promise.allSettled([new PeerFacts(transport, CARPENTRY, batcher).ask(request("echo", 1), {}), new PeerFacts(transport, CARPENTRY, batcher).ask(request("fail", null), {})]);
      expect(answers[0]).toEqual({ status: "fulfilled", value: { value: 1, alongside: [] } });
      expect(((answers[1] as PromiseRejectedResult).reason as HostError).detail).toContain("no such table");
      expect(transport.sessions).toEqual([["facts batch"], ["facts echo"], ["facts fail"]]);
    });

    it("keeps to its sessions at once: what comes while they are busy goes together in the next", async () => {
      let open = 0;
      let most = 0;
      const slow = new ShellPeer();
      slow.hold = async () => {
        most = Math.max(most, ++open);
        await new Promise((resolve) => setTimeout(resolve, 60));
        open--;
      };
      const batcher = new PeerBatcher({ quietMs: 5, maxWaitMs: 10, sessionsAtOnce: 1 });
      const asks: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        asks.push(new PeerFacts(slow, CARPENTRY, batcher).run([{ argv: ["echo", String(i)] }], 5000));
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
      const results = (await Promise.all(asks)) as CommandResult[][];
      expect(results.map((r) => r[0]?.stdout)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${i}\n`));
      expect(most).toBe(1);
      expect(slow.sessions.length).toBeLessThan(8);
    });

    it("sends a batch when nothing new came for the quiet time, and never later than the longest wait", async () => {
      const transport = new ShellPeer();
      const batcher = new PeerBatcher({ quietMs: 30, maxWaitMs: 80, sessionsAtOnce: 2 });
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const asks: Promise<unknown>[] = [];
      // One every 20 ms: each within the quiet time of the last, so only the longest wait ends the batch.
      for (let i = 0; i < 6; i++) {
        asks.push(new PeerFacts(transport, CARPENTRY, batcher).ask(request("echo", i), {}));
        await sleep(20);
      }
      await Promise.all(asks);
      expect(transport.sessions.length).toBeGreaterThanOrEqual(2);
      expect(transport.sessions.flat()).toHaveLength(transport.sessions.length);
      expect(transport.sessions[0]).toEqual(["facts batch"]);
    });
  });

  it("fails only the request whose asker cannot answer, with the asker's own error; the others in the batch go on", async () => {
    const peer = peerHost(new InProcessPeer(), true);
    const broken = new HostError("primary: cannot parse pfctl -vsT output line 2");
    const results = await Promise.allSettled([
      converse(peer, "quiz", "a", async () => {
        throw broken;
      }),
      converse(peer, "quiz", "b", async (question) => `b:${JSON.stringify(question)}`),
      ask(peer, "echo", 7),
    ]);
    expect(peer.requests).toHaveLength(1);
    expect(results[0]).toEqual({ status: "rejected", reason: broken });
    expect(results[1]).toMatchObject({ status: "fulfilled", value: { first: 'b:{"question":1,"args":"b"}' } });
    expect(results[2]).toEqual({ status: "fulfilled", value: 7 });
  });

  it("gives each request of a batch its answer as soon as the peer has it: one that hangs holds up its own asker only", async () => {
    const peer = peerHost(new InProcessPeer(), true);
    const settled: string[] = [];
    const asks = [ask(peer, "echo", "a"), ask(peer, "held", "h"), converse(peer, "quiz", "q", async (question) => JSON.stringify(question)), ask(peer, "fail", null)].map((promise, i) =>
      promise.then(
        () => settled.push(`${String(i)} answered`),
        () => settled.push(`${String(i)} failed`),
      ),
    );
    for (let i = 0; i < 100 && settled.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(peer.requests).toHaveLength(1);
    expect([...settled].sort()).toEqual(["0 answered", "2 answered", "3 failed"]);
    held.shift()?.();
    await Promise.all(asks);
    expect(settled[3]).toBe("1 answered");
  });

  it("answers a batch all at once to an asker that does not ask for each answer as it comes, or cannot be asked back", async () => {
    const requests = [
      { op: "echo", args: 1 },
      { op: "fail", args: null },
    ];
    const whole = await answerFacts({ protocol: PROTOCOL, op: "batch", args: { requests }, deadlineMs: 1000 }, { ask: () => Promise.reject(new Error("never asked")) });
    expect(whole.ok && whole.value).toEqual([expect.objectContaining({ ok: true, value: 1 }), expect.objectContaining({ ok: false, error: "no such table" })]);
    // Asked for it, by an asker that cannot be talked to (an asker of protocol 1): the same.
    const untold = await answerFacts({ protocol: PROTOCOL, op: "batch", args: { requests, stream: true }, deadlineMs: 1000 });
    expect(untold.ok && untold.value).toEqual(whole.ok && whole.value);
  });

  it("refuses a batch inside a batch", async () => {
    const response = await answerFacts({ protocol: PROTOCOL, op: "batch", args: { requests: [{ op: "batch", args: { requests: [] } }] }, deadlineMs: 1000 });
    expect(response.ok && response.value).toEqual([expect.objectContaining({ ok: false, error: expect.stringMatching(/cannot hold a batch/) })]);
  });
});

describe("what the peer answers is checked against a schema before anything reads it", () => {
  /** A peer whose carpentry prints `stdout` whatever it is asked. */
  const peerPrinting = (stdout: string): Host =>
    hostOver({
      role: "secondary",
      label: "secondary (stub)",
      run: async (commands: readonly HostCommand[]): Promise<CommandResult[]> => commands.map(() => ({ command: "carpentry facts", stdout, stderr: "", exitCode: 0 })),
      converse: () => Promise.reject(new Error("not a conversation")),
    });
  const ok = (value: unknown): string => JSON.stringify({ protocol: PROTOCOL, version: "0.1.0", ok: true, value });

  it("refuses an envelope that is no answer", async () => {
    await expect(peerPrinting(JSON.stringify({ protocol: PROTOCOL, version: "0.1.0", value: 1 })).facts("echo", 1)).rejects.toThrow("secondary's carpentry answered something else");
  });

  it("refuses a readFiles answer of the wrong shape, naming where", async () => {
    const ask = (value: unknown) => readFilesOn(peerPrinting(ok(value)), { paths: ["/etc/sysctl.conf"], withContent: true, maxBytes: 1024 });
    await expect(ask([{ path: "/etc/sysctl.conf", type: "file", content: "x" }])).resolves.toMatchObject({ files: [{ content: "x" }] });
    await expect(ask([{ path: "/etc/sysctl.conf", type: "fifo" }])).rejects.toMatchObject({
      summary: "secondary's carpentry gave a bad readFiles answer",
      detail: expect.stringMatching(/^at 0\.type: /),
    });
    await expect(ask({ path: "/etc/sysctl.conf" })).rejects.toThrow(HostError);
  });
});

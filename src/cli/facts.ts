// carpentry facts: the peer's side of the exchange (see src/lib/facts/protocol.ts). Reads one JSON request on
// stdin, prints one JSON answer on stdout, exits 0 whenever it could answer.
import type { Command } from "commander";
import { answerFacts, DEADLINE_MAX_MS, failedAnswer, parseAskerLine, type TaggedQuestion, type TaggedReply, type Talk } from "../lib/facts/protocol.js";
import { QUESTION_PREFIX } from "../lib/transport/shell.js";
import { writeOut } from "../lib/runtime/runner.js";
import "../lib/facts/ops.js";

/**
 * The longest line read from the asker (a request, or a reply to a question), and the most stdin
 * held unread. The largest real request, pfStateMatch's keys of a million states, is about 2 MB; a
 * longer line is refused, not buffered.
 */
const LINE_MAX_BYTES = 8 * 1024 * 1024;

/**
 * stdin as lines: the request is the first (or all of stdin, from an asker that sends no newline),
 * and each later line answers a question we asked. Each chunk is scanned once for newlines (linear
 * in the input), a line may not grow past LINE_MAX_BYTES, and stdin is paused while that much is
 * held unread.
 */
class StdinLines {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly lines: string[] = [];
  private queuedBytes = 0;
  private ended = false;
  private tooLong = false;
  private readonly waiting: { resolve: (line: string | undefined) => void; reject: (error: Error) => void }[] = [];

  constructor() {
    process.stdin.on("data", (chunk: Buffer) => this.take(chunk));
    const end = (): void => {
      this.ended = true;
      this.deliver();
    };
    process.stdin.on("end", end);
    process.stdin.on("error", end);
  }

  next(): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.deliver();
    });
  }

  private take(chunk: Buffer): void {
    if (this.tooLong) return;
    let from = 0;
    for (let newline = chunk.indexOf(0x0a, from); newline !== -1; newline = chunk.indexOf(0x0a, from)) {
      this.partial.push(chunk.subarray(from, newline));
      this.partialBytes += newline - from;
      if (this.partialBytes > LINE_MAX_BYTES) break;
      this.queue(Buffer.concat(this.partial).toString("utf8"));
      this.partial = [];
      this.partialBytes = 0;
      from = newline + 1;
    }
    if (this.partialBytes <= LINE_MAX_BYTES && from < chunk.length) {
      this.partial.push(chunk.subarray(from));
      this.partialBytes += chunk.length - from;
    }
    if (this.partialBytes > LINE_MAX_BYTES) {
      // Nothing more is read: the line is refused, and what is already queued is still answered.
      this.tooLong = true;
      this.partial = [];
      this.partialBytes = 0;
      process.stdin.destroy();
      this.ended = true;
    }
    if (this.queuedBytes > LINE_MAX_BYTES) process.stdin.pause();
    this.deliver();
  }

  private queue(line: string): void {
    this.lines.push(line);
    this.queuedBytes += line.length;
  }

  private deliver(): void {
    while (this.waiting.length > 0) {
      const line = this.lines.shift();
      if (line !== undefined) {
        this.queuedBytes -= line.length;
        if (this.queuedBytes <= LINE_MAX_BYTES && !this.ended) process.stdin.resume();
        this.waiting.shift()?.resolve(line);
      } else if (this.ended && this.tooLong) {
        this.waiting.shift()?.reject(new Error(`a line longer than ${LINE_MAX_BYTES / 1024 / 1024} MiB was sent; refused`));
      } else if (this.ended) {
        const rest = this.partialBytes > 0 ? Buffer.concat(this.partial).toString("utf8") : undefined;
        this.partial = [];
        this.partialBytes = 0;
        this.waiting.shift()?.resolve(rest);
      } else {
        return;
      }
    }
  }
}

/** The longest a request may take to arrive: the longest deadline a request may ask for. */
const REQUEST_WAIT_MS = DEADLINE_MAX_MS;

function readRequest(stdin: StdinLines): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(failedAnswer(`no request within ${REQUEST_WAIT_MS / 1000}s`)), REQUEST_WAIT_MS);
    stdin.next().then(
      (line) => {
        clearTimeout(timer);
        const parsed = parseAskerLine(line ?? "");
        resolve("value" in parsed ? { request: parsed.value } : failedAnswer(`the request is ${parsed.error}`));
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve(failedAnswer((error as Error).message));
      },
    );
  });
}

export async function runFacts(): Promise<never> {
  const stdin = new StdinLines();
  const read = await readRequest(stdin);
  if (!(typeof read === "object" && read !== null && "request" in read)) {
    writeOut(JSON.stringify(read) + "\n");
    process.exit(0);
  }
  const request = read.request;
  // Several questions may be out at once (the requests of a batch): each reply names its question.
  const waiting = new Map<number, { resolve: (reply: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let listening = false;
  let hungUp: Error | undefined;
  const listen = async (): Promise<void> => {
    try {
      for (let line = await stdin.next(); line !== undefined; line = await stdin.next()) {
        const parsed = parseAskerLine(line);
        const tagged = "value" in parsed && typeof parsed.value === "object" && parsed.value !== null ? (parsed.value as Partial<TaggedReply>) : undefined;
        const question = typeof tagged?.id === "number" ? waiting.get(tagged.id) : undefined;
        if (!question || !tagged) continue;
        waiting.delete(tagged.id as number);
        question.resolve(tagged.reply);
      }
      hungUp = new Error("the asker hung up before it answered");
    } catch (error) {
      hungUp = error as Error;
    }
    for (const question of waiting.values()) question.reject(hungUp);
    waiting.clear();
  };
  const talk: Talk = {
    ask(question) {
      if (hungUp) return Promise.reject(hungUp);
      const id = nextId++;
      const answered = new Promise<unknown>((resolve, reject) => waiting.set(id, { resolve, reject }));
      const tagged: TaggedQuestion = { id, question };
      writeOut(`${QUESTION_PREFIX}${JSON.stringify(tagged)}\n`);
      if (!listening) {
        listening = true;
        void listen();
      }
      return answered;
    },
  };
  writeOut(JSON.stringify(await answerFacts(request, talk)) + "\n");
  process.exit(0);
}

export function registerFactsCommand(program: Command): void {
  program.command("facts", { hidden: true }).description("answer a JSON request from the peer on stdin (used over ssh by the other gateway)").action(runFacts);
}

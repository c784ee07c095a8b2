// carpentry facts: the peer's side of the exchange (see src/lib/facts/protocol.ts). Reads one JSON request on
// stdin, prints one JSON answer on stdout, exits 0 whenever it could answer.
import type { Command } from "commander";
import { answerFacts, type TaggedQuestion, type TaggedReply, type Talk } from "../lib/facts/protocol.js";
import { QUESTION_PREFIX } from "../lib/transport/shell.js";
import { writeOut } from "../lib/runtime/runner.js";
import "../lib/facts/ops.js";

/**
 * stdin as lines: the request is the first (or all of stdin, from an asker that sends no newline),
 * and each later line answers a question we asked.
 */
class StdinLines {
  private buffered = "";
  private ended = false;
  private readonly waiting: ((line: string | undefined) => void)[] = [];

  constructor() {
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (text: string) => {
      this.buffered += text;
      this.deliver();
    });
    process.stdin.on("end", () => {
      this.ended = true;
      this.deliver();
    });
    process.stdin.on("error", () => {
      this.ended = true;
      this.deliver();
    });
  }

  next(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.deliver();
    });
  }

  private deliver(): void {
    while (this.waiting.length > 0) {
      const newline = this.buffered.indexOf("\n");
      let line: string | undefined;
      if (newline !== -1) {
        line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
      } else if (this.ended) {
        line = this.buffered === "" ? undefined : this.buffered;
        this.buffered = "";
      } else {
        return;
      }
      this.waiting.shift()?.(line);
    }
  }
}

export async function runFacts(): Promise<never> {
  const stdin = new StdinLines();
  let request: unknown;
  try {
    request = JSON.parse((await stdin.next()) ?? "");
  } catch {
    request = undefined;
  }
  // Several questions may be out at once (the requests of a batch): each reply names its question.
  const waiting = new Map<number, { resolve: (reply: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let listening = false;
  let hungUp = false;
  const listen = async (): Promise<void> => {
    for (let line = await stdin.next(); line !== undefined; line = await stdin.next()) {
      let tagged: Partial<TaggedReply> | undefined;
      try {
        tagged = JSON.parse(line) as Partial<TaggedReply>;
      } catch {
        tagged = undefined;
      }
      const question = typeof tagged?.id === "number" ? waiting.get(tagged.id) : undefined;
      if (!question || !tagged) continue;
      waiting.delete(tagged.id as number);
      question.resolve(tagged.reply);
    }
    hungUp = true;
    for (const question of waiting.values()) question.reject(new Error("the asker hung up before it answered"));
    waiting.clear();
  };
  const talk: Talk = {
    ask(question) {
      if (hungUp) return Promise.reject(new Error("the asker hung up before it answered"));
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

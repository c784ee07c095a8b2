// The demo's resolver: a few lines of DNS over UDP on 127.0.0.1, standing in for the gateways'
// unbound. It answers A queries for its own names, NXDOMAIN for any other name, and SERVFAIL for
// everything while it is told to fail (unbound up but unable to resolve).
import { createSocket } from "node:dgram";

const HEADER_BYTES = 12;
const TYPE_A = 1;
const CLASS_IN = 1;
const TTL_SECONDS = 300;
const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3 } as const;

export interface DemoResolver {
  readonly port: number;
  setFailing(failing: boolean): void;
  close(): Promise<void>;
}

interface Question {
  readonly name: string;
  readonly type: number;
  /** Where the question section ends: the answer follows it. */
  readonly end: number;
}

function readQuestion(query: Buffer): Question | undefined {
  if (query.length < HEADER_BYTES || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = HEADER_BYTES;
  for (;;) {
    const length = query[at];
    if (length === undefined || length > 63) return undefined;
    at += 1;
    if (length === 0) break;
    if (at + length > query.length) return undefined;
    labels.push(query.toString("latin1", at, at + length).toLowerCase());
    at += length;
  }
  if (at + 4 > query.length) return undefined;
  return { name: labels.join("."), type: query.readUInt16BE(at), end: at + 4 };
}

/** The answer to one query, or undefined for what is not a query at all (dropped, as unbound does). */
export function answerQuery(query: Buffer, records: ReadonlyMap<string, string>, failing: boolean): Buffer | undefined {
  if (query.length < HEADER_BYTES || (query[2] ?? 0) & 0x80) return undefined;
  const question = readQuestion(query);
  const address = question ? records.get(question.name) : undefined;
  const rcode = !question ? RCODE.formErr : failing ? RCODE.servFail : address === undefined ? RCODE.nxDomain : RCODE.noError;
  const answers = rcode === RCODE.noError && question?.type === TYPE_A && address !== undefined ? [address] : [];
  const head = Buffer.alloc(HEADER_BYTES);
  query.copy(head, 0, 0, 2);
  // QR, the query's opcode and RD, AA (we are the zone's server), RA, the rcode.
  head.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | rcode, 2);
  head.writeUInt16BE(question ? 1 : 0, 4);
  head.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [head];
  if (question) parts.push(query.subarray(HEADER_BYTES, question.end));
  for (const answer of answers) {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc000 | HEADER_BYTES, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL_SECONDS, 6);
    record.writeUInt16BE(4, 10);
    answer.split(".").forEach((octet, index) => record.writeUInt8(Number(octet), 12 + index));
    parts.push(record);
  }
  return Buffer.concat(parts);
}

/** Listens on 127.0.0.1, on a port of the system's choosing (no privilege needed). */
export async function startResolver(records: Readonly<Record<string, string>>): Promise<DemoResolver> {
  const byName = new Map(Object.entries(records).map(([name, address]) => [name.toLowerCase(), address]));
  let failing = false;
  const socket = createSocket("udp4");
  socket.on("message", (query, from) => {
    const response = answerQuery(query, byName, failing);
    if (response) socket.send(response, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  return {
    port: socket.address().port,
    setFailing: (value) => {
      failing = value;
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

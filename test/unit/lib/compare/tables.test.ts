import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { validateReply } from "../../../../src/lib/compare/tables/answer.js";
import { TableCapture } from "../../../../src/lib/compare/tables/capture.js";
import { replyToPeer } from "../../../../src/lib/compare/tables/compare.js";
import { bucketBitsFor, decodeBucketSums, diffEntries, differingBuckets, encodeBucketSums, MAX_BUCKET_BITS, sameDigest, type TableDigest } from "../../../../src/lib/compare/tables/hashing.js";
import { parseTableKey, tableKey } from "../../../../src/lib/compare/tables/names.js";
import { answerOffer, countEntryLines, offerOf, parseRawTable, type RawTable } from "../../../../src/lib/compare/tables/read.js";
import { ParseError } from "../../../../src/lib/runtime/errors.js";
import { answerFacts, factsRequest } from "../../../../src/lib/facts/protocol.js";
import { normalizeTableEntry } from "../../../../src/lib/parse/pfctl.js";
import { renderCommand } from "../../../../src/lib/transport/shell.js";
import { seededRandom } from "../../../support/random.js";
import { fixture } from "../../../support/fixtures.js";

/** Entries of every shape `-T show` prints, normalized: IPv4 and IPv6 hosts, networks, negations. */
function randomEntries(count: number, next: () => number): string[] {
  const entries = new Set<string>();
  const byte = () => Math.floor(next() * 256);
  const word = () => Math.floor(next() * 65536).toString(16);
  while (entries.size < count) {
    const kind = Math.floor(next() * 5);
    if (kind === 0) entries.add(`${byte()}.${byte()}.${byte()}.${byte()}`);
    else if (kind === 1) entries.add(`${byte()}.${byte()}.${byte()}.0/24`);
    else if (kind === 2) entries.add(`!${byte()}.${byte()}.0.0/16`);
    else if (kind === 3) entries.add(`2001:db8:${word()}:${word()}::${word()}`);
    else entries.add(`!2001:db8:${word()}::/48`);
  }
  return [...entries];
}

function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** `-T show` output as print_addrx() writes it. */
function showText(entries: readonly string[]): string {
  return entries.map((entry) => (entry.startsWith("!") ? `  ${entry}\n` : `   ${entry}\n`)).join("");
}

function capture(text: string, chunks: readonly number[] = [], key = "t"): TableCapture {
  const read = new TableCapture(key, true);
  const bytes = Buffer.from(text, "latin1");
  let from = 0;
  for (const cut of [...chunks, bytes.length]) {
    read.push(bytes.subarray(from, cut));
    from = cut;
  }
  read.end();
  return read;
}

const digestOf = (entries: readonly string[]): TableDigest => capture(showText(entries)).digest();
/** Every entry, in output order: the entries of the only bucket there is with 0 bucket bits. */
const entriesOf = (read: TableCapture): string[] => read.entriesInBuckets(0, [0]);

/**
 * Round 2 as the two hosts run it, without the wire: the primary's offer goes up (through JSON),
 * the peer's answer comes back (through JSON), the primary diffs the buckets.
 */
function exchange(primary: readonly string[], secondary: readonly string[]) {
  const onPrimary = capture(showText(primary));
  const bucketBits = bucketBitsFor(Math.max(primary.length, secondary.length));
  const offer = JSON.parse(JSON.stringify(offerOf(onPrimary, bucketBits))) as ReturnType<typeof offerOf>;
  const answer = JSON.parse(JSON.stringify(answerOffer({ key: "t", const: false }, capture(showText(secondary)), offer))) as ReturnType<typeof answerOffer>;
  const diff = answer.buckets && answer.entries ? diffEntries(onPrimary.entriesInBuckets(offer.bucketBits, answer.buckets), answer.entries) : undefined;
  return { offer, answer, diff };
}

describe("table digests", () => {
  it("gives no two entries of a large random set the same 64-bit hash", () => {
    const entries = randomEntries(20_000, seededRandom(1));
    const sums = new Set(entries.map((entry) => digestOf([entry]).sum));
    expect(sums.size).toBe(entries.length);
  });

  it("digests a set the same whatever the order", () => {
    const next = seededRandom(2);
    const entries = randomEntries(5000, next);
    const digest = digestOf(entries);
    expect(digest.count).toBe(5000);
    expect(digest.sum).toMatch(/^[0-9a-f]{16}$/);
    expect(digestOf(shuffled(entries, next))).toEqual(digest);
    expect(digestOf([...entries].reverse())).toEqual(digest);
  });

  it("changes the digest when one entry changes, is added or removed", () => {
    const entries = randomEntries(5000, seededRandom(3));
    const digest = digestOf(entries);
    const changed = [...entries];
    changed[1234] = "192.0.2.77";
    expect(sameDigest(digestOf(changed), digest)).toBe(false);
    expect(sameDigest(digestOf([...entries, "192.0.2.77"]), digest)).toBe(false);
    expect(sameDigest(digestOf(entries.slice(1)), digest)).toBe(false);
    // Same count, different entries: the sum alone must tell them apart.
    expect(digestOf(changed).count).toBe(digest.count);
  });

  it("digests an empty table to zero, blank lines being no entries", () => {
    expect(digestOf([])).toEqual({ count: 0, sum: "0000000000000000" });
    expect(capture("\n  \n\t\r\n").digest()).toEqual({ count: 0, sum: "0000000000000000" });
    expect(capture("   10.0.0.1\n\n   10.0.0.2\n").digest()).toEqual(digestOf(["10.0.0.1", "10.0.0.2"]));
  });
});

describe("the fast path for lines pfctl prints", () => {
  // normalizeTableEntry() is the definition; the byte-level fast path must agree with it on every
  // line, and hash the bytes exactly as the string of the slow path.
  const edgeCases = [
    "   10.0.0.1",
    "  !10.0.0.0/8",
    "   0.0.0.0/0",
    "   255.255.255.255",
    "   1.2.3.4/31",
    "   1.2.3.4/32",
    "   1.2.3.4/00",
    "   1.2.3.4/08",
    "   01.2.3.4",
    "   256.1.1.1",
    "   1.2.3",
    "   1.2.3.4.5",
    "   1.2.3.4 ",
    "   1.2.3.4\r",
    "\t1.2.3.4",
    "1.2.3.4",
    "  !!1.2.3.4",
    "   1.2.3.4/33",
    "   1.2.3.4/",
    "   1.2.3.4@em0",
    "   1.2.3.4\t(host.example)",
    "   1.2.3.4/24@vio0",
    "   1234.1.1.1",
    "   1.2.3.04",
    "   D  1.2.3.4",
    "   1.2.3.4/320",
    "   -1.2.3.4",
    "   1.2.3.4/3a",
    "   ::",
    "   ::1",
    "   1::",
    "   ::/0",
    "   2001:db8::/32",
    "  !2001:db8:1::5",
    "   fe80::1",
    "   2001:db8::1/128",
    "   2001:db8::1/64",
    "   2001:DB8::1",
    "   2001:0db8::1",
    "   1:0:0:0:0:0:0:1",
    "   1::1:0:0:1",
    "   1:0:0:1::1",
    "   1:0:0:1:1::1",
    "   1:0::1",
    "   1::0:1",
    "   0::",
    "   ::0",
    "   1:2:3:4:5:6:7:8",
    "   1:2:3:4:5:6:7:8::",
    "   ::1:2:3:4:5:6:7",
    "   1:2:3:4:5:6:7",
    "   1::2::3",
    "   1:::2",
    "   ::ffff:1.2.3.4",
    "   ::ffff:102:304",
    "   12345::1",
    "   1:2:3:4:5:6:7:",
    "   :1::2",
    "   fe80::1@em0",
    "   fe80::1%em0",
    "   ::/129",
    "   ::/064",
    "   1:2:3:4:5:6:0:0",
    "   1:2:3:4:5:6::",
    "   1:0:2:3:4:5:6:7",
    "   0:1:2:3:4:5:6:7",
  ];

  function randomIPv4Line(next: () => number): string {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const octets = ["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "01", "001", "300", "1000", ""];
    const prefixes = ["", "", "", "/0", "/8", "/24", "/31", "/32", "/33", "/08", "/", "/100", "/3a"];
    return pick(["   ", "  !", "\t", "", " !!", "D  "]) + [0, 1, 2, 3].map(() => pick(octets)).join(".") + pick(prefixes);
  }

  /** Groups with many zeros, spelled canonically or not: compressed anywhere, uppercase, leading zeros. */
  function randomIPv6Line(next: () => number): string {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const groups = Array.from({ length: 8 }, () => pick(["0", "0", "0", "1", "ffff", "abc", "10", "0010", "ABC"]));
    let text = groups.join(":");
    const zeroRun = /(?:^|:)0(?::0)+(?::|$)/.exec(text);
    if (zeroRun && next() < 0.8) {
      const runs = [...text.matchAll(/(?:^|:)0(?::0)+(?=:|$)/g)];
      const chosen = next() < 0.5 ? runs[0] : pick(runs);
      if (chosen) text = `${text.slice(0, chosen.index)}::${text.slice((chosen.index ?? 0) + chosen[0].length).replace(/^:/, "")}`.replace(/^:::/, "::");
    }
    return pick(["   ", "  !", ""]) + text + pick(["", "", "/64", "/128", "/0", "/127", "/129", "/064"]);
  }

  function randomLine(next: () => number): string {
    let line = next() < 0.5 ? randomIPv4Line(next) : randomIPv6Line(next);
    if (next() < 0.3) {
      const at = Math.floor(next() * (line.length + 1));
      const pick = [".", "/", "!", " ", "\t", "@em0", ":", "::", "a", "F", "\r", "5", "0"][Math.floor(next() * 13)] ?? "";
      line = line.slice(0, at) + pick + line.slice(at + (next() < 0.5 ? 1 : 0));
    }
    return line;
  }

  function expandIPv6(address: string): string {
    const [head = "", tail] = address.split("::");
    const left = head === "" ? [] : head.split(":");
    const right = tail === undefined || tail === "" ? [] : tail.split(":");
    const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
    return [...left, ...zeros, ...right].map((group) => group.padStart(4, "0")).join(":");
  }

  /** A line that normalizes to `entry` but that the fast path leaves to normalizeTableEntry(). */
  function slowSpelling(entry: string): string {
    if (entry.includes("@")) return `   ${entry}`;
    const not = entry.startsWith("!") ? "!" : "";
    const [address = "", prefix] = entry.slice(not.length).split("/");
    if (address.includes(":")) return `   ${not}${expandIPv6(address)}/${prefix ?? "128"}`;
    return `   ${not}${address}/${prefix === undefined ? "32" : `0${prefix}`}`;
  }

  it("agrees with normalizeTableEntry() on edge cases and on random lines", () => {
    const next = seededRandom(20);
    const lines = [...edgeCases, ...Array.from({ length: 30_000 }, () => randomLine(next))];
    let accepted = 0;
    for (const line of lines) {
      const normalized = normalizeTableEntry(line);
      if (line.trim() === "") continue;
      if (normalized === null) {
        expect(() => capture(`${line}\n`), JSON.stringify(line)).toThrow(ParseError);
        continue;
      }
      accepted++;
      const read = capture(`${line}\n`);
      expect(entriesOf(read), JSON.stringify(line)).toEqual([normalized]);
      const slow = slowSpelling(normalized);
      expect(normalizeTableEntry(slow)).toBe(normalized);
      expect(read.digest(), JSON.stringify(line)).toEqual(capture(`${slow}\n`).digest());
    }
    expect(accepted).toBeGreaterThan(5000);
  });
});

describe("buckets", () => {
  it("sizes buckets to about 16 entries, from 1 to 65536 buckets", () => {
    expect(bucketBitsFor(0)).toBe(0);
    expect(bucketBitsFor(16)).toBe(0);
    expect(bucketBitsFor(17)).toBe(1);
    expect(bucketBitsFor(200_000)).toBe(14);
    expect(bucketBitsFor(1_000_000)).toBe(MAX_BUCKET_BITS);
    expect(bucketBitsFor(50_000_000)).toBe(MAX_BUCKET_BITS);
  });

  it("spreads entries evenly over the buckets", () => {
    const read = capture(showText(randomEntries(64_000, seededRandom(4))));
    const bucketBits = bucketBitsFor(64_000);
    const sums = read.bucketSums(bucketBits);
    const empty = differingBuckets(sums, new Uint32Array(sums.length)).length;
    expect(empty).toBeGreaterThan((1 << bucketBits) * 0.99);
    for (const bucket of [0, 1, 1000, (1 << bucketBits) - 1]) expect(read.entriesInBuckets(bucketBits, [bucket]).length).toBeLessThan(45);
  });

  it("puts one changed entry's old and new value in at most two differing buckets", () => {
    const entries = randomEntries(20_000, seededRandom(5));
    const changed = [...entries];
    changed[42] = "198.51.100.7";
    const bucketBits = bucketBitsFor(entries.length);
    const buckets = differingBuckets(capture(showText(entries)).bucketSums(bucketBits), capture(showText(changed)).bucketSums(bucketBits));
    expect(buckets.length).toBeGreaterThanOrEqual(1);
    expect(buckets.length).toBeLessThanOrEqual(2);
    const inThem = [...capture(showText(entries)).entriesInBuckets(bucketBits, buckets), ...capture(showText(changed)).entriesInBuckets(bucketBits, buckets)];
    expect(inThem).toContain(entries[42]);
    expect(inThem).toContain("198.51.100.7");
  });

  it("round-trips bucket sums through their wire form and refuses a wrong size", () => {
    const sums = capture(showText(randomEntries(1000, seededRandom(6)))).bucketSums(6);
    expect(decodeBucketSums(encodeBucketSums(sums), 6)).toEqual(sums);
    expect(() => decodeBucketSums(encodeBucketSums(sums), 7)).toThrow(/expected 1024 bytes/);
  });

  for (const [seed, size, removed, added] of [
    [7, 50_000, 40, 25],
    [8, 3000, 0, 1],
    [9, 3000, 1, 0],
    [10, 200, 200, 0],
    [11, 10, 3, 1],
  ] as const) {
    it(`finds exactly the planted differences (${size} entries, ${removed} only on primary, ${added} only on secondary)`, () => {
      const next = seededRandom(seed);
      const primary = randomEntries(size, next);
      const onPrimary = new Set(primary);
      const extra = randomEntries(added * 2, seededRandom(seed + 1000))
        .filter((entry) => !onPrimary.has(entry))
        .slice(0, added);
      expect(extra).toHaveLength(added);
      const dropped = new Set(shuffled(primary, next).slice(0, removed));
      const secondary = shuffled([...primary.filter((entry) => !dropped.has(entry)), ...extra], next);
      const { diff, answer } = exchange(shuffled(primary, next), secondary);
      expect(diff?.onlyInFirst).toEqual([...dropped].sort());
      expect(diff?.onlyInSecond).toEqual([...extra].sort());
      expect(answer.digest).toEqual(digestOf(secondary));
      // Only the differing buckets come back: a small part of a large table.
      if (size >= 3000) expect(answer.entries?.length).toBeLessThan(Math.max(50, 40 * (removed + added)));
    });
  }

  it("answers identical tables with the digest alone, whatever the order", () => {
    const entries = randomEntries(10_000, seededRandom(12));
    const { answer, diff } = exchange(entries, shuffled(entries, seededRandom(13)));
    expect(answer).toEqual({ key: "t", const: false, digest: digestOf(entries) });
    expect(diff).toBeUndefined();
  });

  it("answers a table the asker does not have with its digest alone", () => {
    const read = new TableCapture("t", false);
    read.push(Buffer.from(showText(["10.0.0.1"])));
    read.end();
    expect(answerOffer({ key: "t", const: false }, read, undefined)).toEqual({ key: "t", const: false, digest: digestOf(["10.0.0.1"]) });
  });

  it("keeps no output or hashes unless asked to", () => {
    const read = new TableCapture("t", false);
    read.push(Buffer.from(showText(["10.0.0.1"])));
    read.end();
    expect(read.digest()).toEqual(digestOf(["10.0.0.1"]));
    expect(() => read.bucketSums(0)).toThrow(/without keeping/);
  });
});

describe("reading -T show output in chunks", () => {
  it("reads IPv4, IPv6, networks and negated entries, cut anywhere", () => {
    const text = fixture("derived_pfctl_t_T_show_negated_ipv6.txt");
    const expected = ["10.0.0.1", "!10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "!2001:db8:1::5", "fe80::1"];
    const whole = capture(text);
    expect(entriesOf(whole)).toEqual(expected);
    expect(whole.digest()).toEqual(digestOf(expected));
    for (let cut = 0; cut <= text.length; cut++) {
      const read = capture(text, [cut]);
      expect(entriesOf(read)).toEqual(expected);
      expect(read.digest()).toEqual(whole.digest());
    }
    expect(
      entriesOf(
        capture(
          text,
          Array.from({ length: text.length }, (_, i) => i),
        ),
      ),
    ).toEqual(expected);
  });

  it("finds the same entries, of some buckets or of all, whatever the chunk sizes", () => {
    const next = seededRandom(30);
    // Some lines unindented, and some cuts right after a newline: entries starting a chunk.
    const text = randomEntries(20_000, next)
      .map((entry) => `${next() < 0.3 ? "" : "   "}${entry}\n`)
      .join("");
    const cuts: number[] = [];
    for (let at = Math.floor(next() * 5000); at < text.length; at += 1 + Math.floor(next() * 5000)) {
      cuts.push(next() < 0.5 ? at : text.indexOf("\n", at) + 1);
    }
    cuts.sort((a, b) => a - b);
    const bucketBits = bucketBitsFor(20_000);
    const buckets = Array.from({ length: 50 }, () => Math.floor(next() * (1 << bucketBits)));
    const whole = capture(text).entriesInBuckets(bucketBits, buckets);
    expect(whole.length).toBeGreaterThan(100);
    const chunked = capture(text, cuts);
    expect(chunked.entriesInBuckets(bucketBits, buckets)).toEqual(whole);
    expect(entriesOf(chunked)).toEqual(entriesOf(capture(text)));
  });

  it("reads real captures and a last line without a newline", () => {
    expect(entriesOf(capture(fixture("pfctl_t_bruteforce_T_show_openbsd_noqqe.txt")))).toEqual(["69.110.96.21"]);
    expect(entriesOf(capture(fixture("freebsd_pfctl_t_bruteforce_T_show_mondoo.txt").trimEnd()))).toEqual(["192.0.2.10", "198.51.100.0/24"]);
    expect(entriesOf(capture(""))).toEqual([]);
  });

  it("refuses garbled output naming the table and the line", () => {
    const error = (() => {
      try {
        capture("   10.0.0.1\n   10.0.0.2\nD  10.0.0.3\n", [14], "badhosts");
      } catch (caught) {
        return caught;
      }
      throw new Error("expected a ParseError");
    })();
    expect(error).toBeInstanceOf(ParseError);
    expect((error as ParseError).lineNumber).toBe(3);
    expect((error as ParseError).summary).toBe("cannot parse pfctl -t badhosts -T show output line 3");
    expect(() => capture("   10.0.0.1\n   999.0.0.1")).toThrow(/line 2/);
    expect(() => capture(fixture("pfctl_vt_bruteforce_T_expire_600_openbsd_noqqe.txt"))).toThrow(ParseError);
    const endless = "1".repeat(100_000);
    expect(() =>
      capture(
        endless,
        Array.from({ length: 99 }, (_, i) => (i + 1) * 1000),
      ),
    ).toThrow(/line 1/);
  });
});

describe("counting the entries of an output both hosts print the same", () => {
  const cutEverywhere = (text: string): Buffer[] => [...Buffer.from(text, "latin1")].map((byte) => Buffer.from([byte]));

  it("counts what the parse counts, on captures, random tables and any cuts", () => {
    const next = seededRandom(31);
    const texts = [
      fixture("derived_pfctl_t_T_show_negated_ipv6.txt"),
      fixture("pfctl_t_bruteforce_T_show_openbsd_noqqe.txt"),
      fixture("freebsd_pfctl_t_bruteforce_T_show_mondoo.txt").trimEnd(),
      showText(randomEntries(5000, next)),
      "\n   10.0.0.1\r\n\n   10.0.0.2",
      "",
    ];
    for (const text of texts) {
      const parsed = capture(text).digest().count;
      expect(countEntryLines([Buffer.from(text, "latin1")])).toBe(parsed);
      expect(countEntryLines(cutEverywhere(text))).toBe(parsed);
    }
  });

  it("refuses what no address line is made of, so that the parse names it", () => {
    for (const text of ["   10.0.0.1\nD  10.0.0.3\n", "   10.0.0.1 junk\n", "pfctl: Table does not exist.\n", "   10.0.0.1\n   ?\n", "   10.0.0.1\t#\n", "   10.0.0.1\u0000\n", "   10.0.\u00ff1\n"]) {
      expect(countEntryLines(cutEverywhere(text))).toBeUndefined();
      expect(() => capture(text)).toThrow(ParseError);
    }
  });
});

function rawOf(key: string, text: string): RawTable {
  const bytes = Buffer.from(text, "latin1");
  // Cut in three, as pfctl's output arrives in pieces.
  const chunks = [bytes.subarray(0, 7), bytes.subarray(7, bytes.length >> 1), bytes.subarray(bytes.length >> 1)];
  return { key, chunks, bytes: bytes.length, sha: createHash("sha256").update(bytes).digest("hex"), entryLines: countEntryLines(chunks) };
}

describe("the reply to the peer's raw hashes", () => {
  const entries = randomEntries(3000, seededRandom(7));
  const ours = new Map([
    ["same", rawOf("same", showText(entries))],
    ["reordered", rawOf("reordered", showText(entries))],
    ["changed", rawOf("changed", showText(entries))],
    ["ignored", rawOf("ignored", showText(entries))],
  ]);
  const theirs = [
    { key: "same", const: false, bytes: ours.get("same")?.bytes, sha: ours.get("same")?.sha },
    { ...rawOf("x", showText([...entries].reverse())), key: "reordered", const: false },
    { ...rawOf("x", showText([...entries.slice(1), "192.0.2.77"])), key: "changed", const: false },
    { ...rawOf("x", "   10.1.1.1\n"), key: "ignored", const: false },
    { ...rawOf("x", "   10.1.1.1\n"), key: "onlythere", const: false },
    { key: "listed", const: true },
  ].map(({ key, const: isConst, bytes, sha }) => ({ key, const: isConst, bytes, sha }));
  const signal = new AbortController().signal;

  it("names the tables printed byte for byte the same, and parses only the others", async () => {
    const parsed: string[] = [];
    const captureOf = async (key: string) => {
      parsed.push(key);
      const raw = ours.get(key);
      if (!raw) throw new Error(key);
      return parseRawTable(raw, true, signal);
    };
    const reply = await replyToPeer(["changed", "onlythere", "reordered", "same"], theirs, ours, captureOf);
    expect(reply.same).toEqual(["same"]);
    expect(reply.skip).toEqual(["ignored"]);
    expect(reply.offers.map((offer) => offer.key)).toEqual(["reordered", "changed"]);
    expect(parsed).toEqual(["reordered", "changed"]);
    expect(reply.offers[0]?.digest).toEqual(digestOf(entries));
    expect(reply.offers[0]?.bucketBits).toBe(bucketBitsFor(3000));
    expect(validateReply(JSON.parse(JSON.stringify(reply)))).toEqual(reply);
  });

  it("parses raw output the same as a capture fed as it arrives, whatever the cuts", async () => {
    const raw = rawOf("t", showText(entries));
    const parsed = await parseRawTable(raw, true, signal);
    expect(parsed.digest()).toEqual(digestOf(entries));
    expect(entriesOf(parsed).sort()).toEqual([...entries].map((e) => normalizeTableEntry(e) ?? e).sort());
  });
});

describe("table names", () => {
  it("names anchored tables as pfctl -vsT prints them", () => {
    expect(parseTableKey("badhosts")).toEqual({ name: "badhosts", anchor: "" });
    expect(parseTableKey("web@relayd/www")).toEqual({ name: "web", anchor: "relayd/www" });
    expect(tableKey({ name: "web", anchor: "relayd/www" })).toBe("web@relayd/www");
  });

  it("quotes a hostile table name as one shell word", () => {
    expect(renderCommand({ argv: ["/sbin/pfctl", "-t", "x;touch /tmp/pwned", "-T", "show"] })).toBe("/sbin/pfctl -t 'x;touch /tmp/pwned' -T show");
  });

  it("has the peer refuse a table name with controls before running anything, and a malformed reply", async () => {
    const ask = (selection: unknown) => answerFacts(factsRequest("pfTables", { selection }, 5000));
    // A space is no threat (names reach pfctl as one argv element) and pf allows one in a quoted name.
    for (const hostile of ["x;touch\t/tmp/pwned", "a\nb", "", " ", "@anchor"]) {
      expect(await ask({ tables: [hostile], ignore: [] })).toMatchObject({ ok: false, error: "pfTables: selection.tables must be null or table names" });
    }
    const offer = { key: "t", digest: { count: 1, sum: "0000000000000000" }, bucketBits: 0, sums: "" };
    const reply =
      (offers: unknown[], same: unknown[] = []) =>
      () =>
        validateReply({ same, skip: [], offers });
    expect(reply([{ ...offer, bucketBits: 17 }])).toThrow("pfTables: offers[].bucketBits must be 0 to 16");
    expect(reply([{ ...offer, key: "a\tb" }])).toThrow("pfTables: offers[].key must be a table name");
    expect(reply([{ ...offer, digest: "x" }])).toThrow("pfTables: offers[].digest must be {count, sum}");
    expect(reply([], ["x;y\nz"])).toThrow("pfTables: reply.same must be table names");
    expect(reply([offer])).not.toThrow();
    expect(await ask({ tables: null, ignore: "x" })).toMatchObject({ ok: false, error: "pfTables: selection.ignore must be table names" });
  });
});

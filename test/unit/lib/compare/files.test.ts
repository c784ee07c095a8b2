import { createHash } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Host } from "../../../../src/lib/transport/host.js";
import type { CommandResult, HostCommand } from "../../../../src/lib/transport/shell.js";
import {
  buildManifest,
  compareFileSets,
  compareManifests,
  entryDigest,
  hostValueMapping,
  manifestDigest,
  hostValueMapper,
  MAX_TEXT_BYTES,
  readLocalText,
  type FileSetSpec,
  type ManifestEntry,
  type SetDetails,
} from "../../../../src/lib/compare/files.js";
import { ConfigError, HostError } from "../../../../src/lib/runtime/errors.js";
import { answerFacts, factsRequest } from "../../../../src/lib/facts/protocol.js";
import { hostOver } from "../../../support/facts-peer.js";

const CANARY = "CANARY5d21e";
const LABELS = { local: "primary", peer: "secondary" };

describe("hostValueMapper: the primary's host-specific values become the secondary's", () => {
  const mapping = hostValueMapping(
    {
      values: [
        { primary: "192.168.110.101", secondary: "192.168.110.102" },
        { primary: "192.168.110.10", secondary: "192.168.110.20" },
      ],
      interfaces: { re0: "em0", em0: "em1" },
    },
    "/c.toml",
  );

  it("replaces whole tokens only: 192.168.110.10 does not match inside 192.168.110.101", () => {
    expect(hostValueMapper(mapping)("a 192.168.110.10 b 192.168.110.101 c 192.168.110.100\n")).toBe("a 192.168.110.20 b 192.168.110.102 c 192.168.110.100\n");
    expect(hostValueMapper(mapping)("net 192.168.110.10/24, 192.168.110.101:53")).toBe("net 192.168.110.20/24, 192.168.110.102:53");
  });

  it("swaps a pair that both hosts name crosswise (dhcpd -y/-Y) without the two replacements colliding", () => {
    const onPrimary = "dhcpd_flags=-Y 192.168.110.102 -y 192.168.110.101\n";
    const onSecondary = "dhcpd_flags=-Y 192.168.110.101 -y 192.168.110.102\n";
    expect(hostValueMapper(mapping)(onPrimary)).toBe(onSecondary);
  });

  it("maps interfaces one way, chained names included (re0 -> em0 while em0 -> em1), also before a dot", () => {
    expect(hostValueMapper(mapping)("re0.link.up && em0.link.up\n")).toBe("em0.link.up && em1.link.up\n");
    expect(hostValueMapper(mapping)("vlan_em0 em01 xre0\n")).toBe("vlan_em0 em01 xre0\n");
  });

  it("leaves text alone with an empty mapping", () => {
    expect(hostValueMapper(hostValueMapping({ values: [], interfaces: {} }, "/c.toml"))("re0\n")).toBe("re0\n");
  });

  it("refuses a value that would map two ways, naming the key", () => {
    const conflicting = {
      values: [
        { primary: "a", secondary: "b" },
        { primary: "b", secondary: "c" },
      ],
      interfaces: {},
    };
    expect(() => hostValueMapping(conflicting, "/c.toml")).toThrow(ConfigError);
    try {
      hostValueMapping(conflicting, "/c.toml");
    } catch (error) {
      expect((error as ConfigError).key).toBe("host_specific.values.1");
    }
  });
});

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), "compare-files-"));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

type Node = string | { content: string; mode?: number; uid?: number } | { symlink: string } | { dir: true; mode?: number };

function plant(root: string, nodes: Record<string, Node>): void {
  mkdirSync(root, { recursive: true });
  for (const [relative, node] of Object.entries(nodes)) {
    const path = join(root, relative);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof node === "string") writeFileSync(path, node);
    else if ("symlink" in node) symlinkSync(node.symlink, path);
    else if ("dir" in node) {
      mkdirSync(path, { recursive: true });
      if (node.mode !== undefined) chmodSync(path, node.mode);
    } else {
      writeFileSync(path, node.content);
      if (node.mode !== undefined) chmodSync(path, node.mode);
      if (node.uid !== undefined) chownSync(path, node.uid, node.uid);
    }
  }
}

function spec(paths: string[], extra: Partial<FileSetSpec> = {}): FileSetSpec {
  return { name: "test", paths, exclude: [], compareOwner: true, compareMode: true, redaction: { patterns: [], secretFiles: [] }, ...extra };
}

describe("buildManifest", () => {
  it("walks directories recursively, sorted, with type, mode, owner, content digest and link targets", async () => {
    plant(join(scratch, "etc"), { "pf.conf": { content: "set skip on lo\n", mode: 0o600 }, "pf.tables/b.txt": "10.0.0.2\n", "pf.tables/a.txt": "10.0.0.1\n", "pf.tables/now": { symlink: "a.txt" } });
    const entries = await buildManifest(spec([`${scratch}/etc/pf.conf`, `${scratch}/etc/pf.tables/`]));
    expect(entries.map((entry) => [entry.path.slice(scratch.length), entry.type])).toEqual([
      ["/etc/pf.conf", "file"],
      ["/etc/pf.tables", "dir"],
      ["/etc/pf.tables/a.txt", "file"],
      ["/etc/pf.tables/b.txt", "file"],
      ["/etc/pf.tables/now", "symlink"],
    ]);
    const pfConf = entries[0] as ManifestEntry;
    expect(pfConf).toMatchObject({ mode: 0o600, uid: 0, gid: 0, size: 15, binary: false });
    expect(pfConf.contentDigest).toBe(createHash("sha256").update("set skip on lo\n").digest("hex").slice(0, 32));
    expect(entries[4]?.linkTarget).toBe("a.txt");
  });

  it("leaves out excluded paths and all beneath them, and paths that exist on neither side", async () => {
    plant(join(scratch, "monit"), { "carpentry.toml": "role = 1\n", check_a: "x", "cache/b": "y" });
    const entries = await buildManifest(spec([`${scratch}/monit/`, `${scratch}/absent/`], { exclude: [`${scratch}/monit/carpentry.toml`, `${scratch}/monit/cach*/`] }));
    expect(entries.map((entry) => entry.path.slice(scratch.length))).toEqual(["/monit", "/monit/check_a"]);
  });

  it("expands '*' in the last component of a directory path (/etc/openv-client-*/)", async () => {
    plant(scratch, { "openv-client-acme/client.conf": "a", "openv-client-beta/client.conf": "b", "openvpn/server.conf": "c" });
    const entries = await buildManifest(spec([`${scratch}/openv-client-*/`]));
    expect(entries.map((entry) => entry.path.slice(scratch.length))).toEqual(["/openv-client-acme", "/openv-client-acme/client.conf", "/openv-client-beta", "/openv-client-beta/client.conf"]);
  });

  it("hashes a file over MAX_TEXT_BYTES in chunks, to the same digest, and marks NUL-bearing files binary", async () => {
    const big = Buffer.alloc(MAX_TEXT_BYTES * 5 + 17, "10.1.2.3\n");
    big[MAX_TEXT_BYTES * 4] = 0;
    plant(scratch, { "table.txt": "x" });
    writeFileSync(join(scratch, "table.txt"), big);
    const [entry] = await buildManifest(spec([`${scratch}/table.txt`]));
    expect(entry).toMatchObject({ type: "file", size: big.length, binary: true, contentDigest: createHash("sha256").update(big).digest("hex").slice(0, 32) });
  });

  it("hashes the mapped text when given a transform (host-specific values on the primary)", async () => {
    plant(scratch, { "ifstated.conf": "ping 192.168.110.102\n" });
    const mapping = hostValueMapping({ values: [{ primary: "192.168.110.101", secondary: "192.168.110.102" }], interfaces: {} }, "/c.toml");
    const [entry] = await buildManifest(spec([`${scratch}/ifstated.conf`]), { transformText: hostValueMapper(mapping) });
    expect(entry?.contentDigest).toBe(createHash("sha256").update("ping 192.168.110.101\n").digest("hex").slice(0, 32));
  });
});

describe("manifestDigest and entryDigest", () => {
  it("is the same for the same tree, and changes with content, mode, owner and link target", async () => {
    plant(scratch, { "d/a": { content: "1\n", mode: 0o644 }, "d/l": { symlink: "a" } });
    const setSpec = spec([`${scratch}/d/`]);
    const digestNow = async (s = setSpec): Promise<string> => manifestDigest(await buildManifest(s), s);
    const first = await digestNow();
    expect(await digestNow()).toBe(first);
    chmodSync(join(scratch, "d/a"), 0o600);
    const afterMode = await digestNow();
    expect(afterMode).not.toBe(first);
    expect(await digestNow(spec([`${scratch}/d/`], { compareMode: false }))).toBe(manifestDigest(await buildManifest(setSpec), { ...setSpec, compareMode: false }));
    chownSync(join(scratch, "d/a"), 1000, 1000);
    expect(await digestNow()).not.toBe(afterMode);
    const withoutOwner = spec([`${scratch}/d/`], { compareOwner: false, compareMode: false });
    const before = await digestNow(withoutOwner);
    chownSync(join(scratch, "d/a"), 0, 0);
    chmodSync(join(scratch, "d/a"), 0o644);
    expect(await digestNow(withoutOwner)).toBe(before);
    writeFileSync(join(scratch, "d/a"), "2\n");
    expect(await digestNow(withoutOwner)).not.toBe(before);
  });

  it("gives an entry digest that depends on the entry alone", () => {
    const entry: ManifestEntry = { path: "/etc/pf.conf", type: "file", mode: 0o600, uid: 0, gid: 0, size: 3, contentDigest: "ab" };
    expect(entryDigest(entry, spec([]))).toBe(entryDigest({ ...entry }, spec([])));
    expect(entryDigest(entry, spec([]))).not.toBe(entryDigest({ ...entry, mode: 0o644 }, spec([])));
    expect(entryDigest(entry, spec([], { compareMode: false }))).toBe(entryDigest({ ...entry, mode: 0o644 }, spec([], { compareMode: false })));
  });
});

/**
 * The two rounds as the peer answers them (the registered facts op, in-process), with the "primary"
 * and the "secondary" as two directories: the primary's manifest is moved under the secondary's root
 * so the paths compare, as they do between two hosts.
 */
async function compareTrees(primaryNodes: Record<string, Node>, secondaryNodes: Record<string, Node>, extra: Partial<FileSetSpec> = {}) {
  const primaryRoot = join(scratch, "primary");
  const secondaryRoot = join(scratch, "secondary");
  plant(primaryRoot, primaryNodes);
  plant(secondaryRoot, secondaryNodes);
  const secondarySpec = spec([`${secondaryRoot}/`], extra);
  const primaryEntries = (await buildManifest(spec([`${primaryRoot}/`], extra))).map((entry) => ({ ...entry, path: entry.path.replace(primaryRoot, secondaryRoot) }));
  const tuples = primaryEntries.map((entry) => [entry.path, entryDigest(entry, secondarySpec), entry.type === "file" ? (entry.contentDigest ?? "") : ""]);
  let same: boolean | undefined;
  // The reply asks for the details whatever the digests say, so that both are seen for every tree.
  const answer = await answerFacts(factsRequest("fileSets", { sets: [secondarySpec] }, 5000), {
    ask: async (question) => {
      same = (question as { digests: Record<string, { digest: string }> }).digests["test"]?.digest === manifestDigest(primaryEntries, secondarySpec);
      return { sets: [{ name: "test", entries: tuples }], maxContentBytes: 1 << 20, namedSecrets: { paths: [], tails: [] } };
    },
  });
  if (!answer.ok) throw new Error(answer.error);
  const details = (answer.value as { details: Record<string, SetDetails> }).details["test"] as SetDetails;
  const readPrimary = readLocalText({ spec: secondarySpec });
  const differences = compareManifests(secondarySpec, primaryEntries, details, (entry) => readPrimary({ ...entry, path: entry.path.replace(secondaryRoot, primaryRoot) }), LABELS);
  const relative = (path: string): string => path.slice(secondaryRoot.length);
  return { same, details, differences: differences.map((d) => ({ ...d, path: relative(d.path) })) };
}

describe("the two rounds: digests first, then the differing entries with redacted content", () => {
  it("identical trees: equal digests and nothing differs", async () => {
    const tree = { "pf.conf": "pass\n", "pf.tables/a.txt": "10.0.0.1\n" };
    const { same, differences, details } = await compareTrees(tree, tree);
    expect(same).toBe(true);
    expect(differences).toEqual([]);
    expect(details.differing).toEqual([]);
  });

  it("reports each kind: content (with a diff), only on either host, mode, owner, symlink target, type", async () => {
    const { same, differences } = await compareTrees(
      { "pf.conf": "block all\npass out\n", "only-p": "x", "modes": { content: "m", mode: 0o755 }, "owner": "o", "link": { symlink: "a" }, "kind": "file" },
      { "pf.conf": "block all\npass in\n", "only-s": "y", "modes": { content: "m", mode: 0o700 }, "owner": { content: "o", uid: 1000 }, "link": { symlink: "b" }, "kind": { symlink: "file" } },
    );
    expect(same).toBe(false);
    expect(differences.map((d) => [d.path, d.kinds])).toEqual([
      ["/kind", ["type"]],
      ["/link", ["symlink target"]],
      ["/modes", ["mode"]],
      ["/only-p", ["only here"]],
      ["/only-s", ["only on peer"]],
      ["/owner", ["owner"]],
      ["/pf.conf", ["content"]],
    ]);
    const pfConf = differences.find((d) => d.path === "/pf.conf");
    expect(pfConf?.content?.kind).toBe("diff");
    if (pfConf?.content?.kind === "diff") expect(pfConf.content.lines.slice(2)).toEqual(["@@ -1,2 +1,2 @@", " block all", "-pass out", "+pass in"]);
  });

  it("never sends a secret: *.key only said to differ, PEM blocks and admin patterns masked on the peer", async () => {
    const pem = (who: string) => `-----BEGIN PRIVATE KEY-----\n${CANARY}${who}\n-----END PRIVATE KEY-----\n`;
    const { details, differences } = await compareTrees(
      { "server.key": `${CANARY}p\n`, "client.conf": `remote a\n${pem("p")}token ${CANARY}pt\n` },
      { "server.key": `${CANARY}s\n`, "client.conf": `remote b\n${pem("s")}token ${CANARY}st\n` },
      { redaction: { patterns: [`${CANARY}\\w+`], secretFiles: [] } },
    );
    expect(JSON.stringify(details)).not.toContain(CANARY);
    expect(JSON.stringify(differences)).not.toContain(CANARY);
    expect(differences.find((d) => d.path === "/server.key")?.content).toEqual({ kind: "withheld", reason: "secret" });
    const conf = differences.find((d) => d.path === "/client.conf")?.content;
    expect(conf?.kind).toBe("diff");
  });

  it("says when only a masked secret differs", async () => {
    const { differences } = await compareTrees({ "hostname.carp0": `vhid 1 pass ${CANARY}1\n` }, { "hostname.carp0": `vhid 1 pass ${CANARY}2\n` });
    expect(differences).toEqual([expect.objectContaining({ path: "/hostname.carp0", kinds: ["content"], content: { kind: "secrets only" } })]);
  });

  it("withholds binary files and files over MAX_TEXT_BYTES, and never reads them whole into the answer", async () => {
    const big = "10.0.0.1\n".repeat(MAX_TEXT_BYTES / 8);
    const { details, differences } = await compareTrees({ "bin": "a\0b", "big.txt": big }, { "bin": "a\0c", "big.txt": `${big}10.0.0.2\n` });
    expect(differences.map((d) => [d.path, d.content])).toEqual([
      ["/big.txt", { kind: "withheld", reason: "too large" }],
      ["/bin", { kind: "withheld", reason: "binary" }],
    ]);
    expect(JSON.stringify(details).length).toBeLessThan(2000);
  });
});

/**
 * A peer whose carpentry asks what it is given (unless nothing) and then prints what it is given:
 * another version, or something broken. The reply to its question goes through the real wire form.
 */
function peerConversing(question: unknown, stdout: string): Host & { requests: unknown[]; replies: unknown[] } {
  const requests: unknown[] = [];
  const replies: unknown[] = [];
  return hostOver({
    role: "secondary",
    label: "secondary (stub)",
    requests,
    replies,
    run(): Promise<CommandResult[]> {
      return Promise.reject(new Error("file sets are compared in a conversation"));
    },
    async converse(_command: HostCommand, firstLine: string, answer: (question: string) => Promise<string>): Promise<CommandResult> {
      requests.push(JSON.parse(firstLine));
      if (question !== undefined) replies.push((JSON.parse(await answer(JSON.stringify({ id: 0, question }))) as { reply: unknown }).reply);
      return { command: "carpentry facts", stdout, stderr: "", exitCode: 0 };
    },
  });
}

describe("compareFileSets: what the peer answers is checked, never trusted into a verdict", () => {
  const answer = (value: unknown): string => JSON.stringify({ protocol: 2, version: "0.1.0", ok: true, value });
  const compare = async (peer: Host) => {
    plant(scratch, { "pf.conf": "pass\n" });
    return compareFileSets(peer, [{ spec: spec([`${scratch}/pf.conf`]) }], LABELS, AbortSignal.timeout(5000));
  };

  it("ends at the peer's question when the digests match", async () => {
    plant(scratch, { "pf.conf": "pass\n" });
    const setSpec = spec([`${scratch}/pf.conf`]);
    const digest = manifestDigest(await buildManifest(setSpec), setSpec);
    const digests = { test: { digest, count: 1, unreadable: [] } };
    const peer = peerConversing({ digests }, answer({ digests, details: {} }));
    const [result] = await compare(peer);
    expect(result).toMatchObject({ name: "test", localCount: 1, peerCount: 1, differences: [], roundTrips: 1 });
    expect(peer.requests).toEqual([expect.objectContaining({ op: "fileSets", args: { sets: [setSpec] } })]);
    expect(peer.replies).toEqual([{ sets: [], maxContentBytes: expect.any(Number), namedSecrets: { paths: [], tails: [] } }]);
  });

  it("replies with this host's entries when they differ, in the same conversation", async () => {
    const digests = { test: { digest: "other", count: 1, unreadable: [] } };
    const peer = peerConversing({ digests }, answer({ digests, details: { test: { count: 0, differing: [], absent: [`${scratch}/pf.conf`], unreadable: [] } } }));
    const [result] = await compare(peer);
    expect(result?.differences).toEqual([expect.objectContaining({ path: `${scratch}/pf.conf`, kinds: ["only here"] })]);
    expect(result?.roundTrips).toBe(2);
    expect(peer.requests).toHaveLength(1);
    expect((peer.replies[0] as { sets: { entries: unknown }[] }).sets[0]?.entries).toEqual([[`${scratch}/pf.conf`, expect.stringMatching(/^[0-9a-f]{32}$/), expect.stringMatching(/^[0-9a-f]{32}$/)]]);
  });

  it("HostError for a garbled answer, a missing set, or a peer running an older carpentry", async () => {
    const differ = { test: { digest: "x", count: 1, unreadable: [] } };
    await expect(compare(peerConversing({ digests: { test: { digest: 5 } } }, answer({})))).rejects.toThrow(HostError);
    await expect(compare(peerConversing({ digests: { other: { digest: "x", count: 1, unreadable: [] } } }, answer({})))).rejects.toThrow("secondary's carpentry gave no fileSets digest for test");
    await expect(compare(peerConversing({ digests: differ }, answer({ digests: differ, details: { test: { count: 1, differing: [{ path: "/x" }], absent: [], unreadable: [] } } })))).rejects.toThrow(
      "secondary's carpentry gave a bad fileSets answer",
    );
    await expect(compare(peerConversing(undefined, "Segmentation fault\n"))).rejects.toThrow(HostError);
    const older = JSON.stringify({ protocol: 1, version: "0.0.9", ok: false, error: "protocol 2 not supported (this host speaks 1-1, carpentry 0.0.9)" });
    await expect(compare(peerConversing(undefined, older))).rejects.toThrow("secondary runs carpentry 0.0.9");
  });
});

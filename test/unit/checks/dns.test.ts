import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { answerTexts, check, decideDns, NO_ANSWER, queryName, serverAddress, settingsSchema, type DnsOutcome, type DnsSettings } from "../../../src/checks/dns.js";
import { checkSettings, parseConfig } from "../../../src/lib/runtime/config.js";
import { ProcessScope } from "../../../src/lib/transport/process.js";
import { firstLine, formatPerfdata } from "../../../src/lib/runtime/result.js";

function settings(toml: string): DnsSettings {
  return checkSettings(parseConfig(`role = "primary"\n[peer]\nhost = "secondary"\n[checks.dns]\n${toml}`, "t.toml", { only: check }), "dns", settingsSchema);
}

const THREE = settings('names = ["www.ok.test", "a.nx.test", "x.fail.test"]\n');
const ok = (name: string, answers: string[], elapsedMs = 2): DnsOutcome => ({ name, ok: true, answers, elapsedMs });
const failed = (name: string, code: string, elapsedMs = 1): DnsOutcome => ({ name, ok: false, code, elapsedMs });

describe("decideDns", () => {
  it("is UNKNOWN, never OK, with no names to look up", () => {
    const res = decideDns(settings(""), []);
    expect([res.status, res.summary]).toEqual(["UNKNOWN", "no names configured in [checks.dns] names"]);
  });

  it("is OK when every name resolves, with the answers and times", () => {
    const res = decideDns(THREE, [ok("www.ok.test", ["192.0.2.10"], 3.4), ok("a.nx.test", ["192.0.2.11", "192.0.2.12"], 1), ok("x.fail.test", ["192.0.2.13"], 12.6)]);
    expect([res.status, res.summary]).toEqual(["OK", "3 names resolve via 127.0.0.1:53 within 13 ms"]);
    expect(res.details).toEqual(["www.ok.test A: 192.0.2.10 (3 ms)", "a.nx.test A: 192.0.2.11, 192.0.2.12 (1 ms)", "x.fail.test A: 192.0.2.13 (13 ms)"]);
    expect(formatPerfdata(res.perfdata)).toBe("resolved=3;;;0;3 slowest=13ms;;;0");
  });

  it("is CRITICAL per failing name, naming it and the error in the DNS's words", () => {
    const res = decideDns(THREE, [ok("www.ok.test", ["192.0.2.10"]), failed("a.nx.test", "ENOTFOUND"), failed("x.fail.test", "ESERVFAIL")]);
    expect(res.status).toBe("CRITICAL");
    expect(res.summary).toBe("a.nx.test: NXDOMAIN via 127.0.0.1:53 (+1 more)");
    expect(res.details).toEqual(["a.nx.test A via 127.0.0.1:53: NXDOMAIN (1 ms)", "x.fail.test A via 127.0.0.1:53: SERVFAIL (1 ms)", "www.ok.test A: 192.0.2.10 (2 ms)"]);
    expect(formatPerfdata(res.perfdata)).toBe("resolved=1;;;0;3 slowest=2ms;;;0");
  });

  it("words REFUSED, empty answers and our own time-out", () => {
    const one = settings('names = ["www.ok.test"]\nquery_timeout = 1.5\n');
    expect(decideDns(one, [failed("www.ok.test", "EREFUSED")]).summary).toBe("www.ok.test: REFUSED via 127.0.0.1:53");
    expect(decideDns(one, [failed("www.ok.test", "ENODATA")]).summary).toBe("www.ok.test: no A record via 127.0.0.1:53");
    expect(decideDns(one, [failed("www.ok.test", NO_ANSWER, 1500)]).summary).toBe("www.ok.test: no answer within 1.5s via 127.0.0.1:53");
    expect(decideDns(one, [failed("www.ok.test", "EWEIRD")]).summary).toBe("www.ok.test: EWEIRD via 127.0.0.1:53");
  });

  it("names the resolver once when every name fails the same way", () => {
    const res = decideDns(THREE, [failed("www.ok.test", "ECONNREFUSED"), failed("a.nx.test", "ECONNREFUSED"), failed("x.fail.test", "ECONNREFUSED")]);
    expect([res.status, res.summary]).toEqual(["CRITICAL", "all 3 names fail via 127.0.0.1:53: connection refused"]);
    expect(firstLine(res)).toBe("CRITICAL: all 3 names fail via 127.0.0.1:53: connection refused | resolved=0;;;0;3 slowest=1ms;;;0");
  });

  it("writes servers and answers of any type readably", () => {
    expect(serverAddress("::1", 5353)).toBe("[::1]:5353");
    expect(answerTexts([{ exchange: "mx.example.org", priority: 10 }])).toEqual(["10 mx.example.org"]);
    expect(answerTexts([["v=spf1 ", "-all"]])).toEqual(["v=spf1 -all"]);
    expect(answerTexts({ nsname: "ns.example.org", hostmaster: "root.example.org", serial: 7 })).toEqual(["ns.example.org root.example.org 7"]);
  });
});

// A real UDP socket on 127.0.0.1 answering as told: the query path, c-ares's error codes, our timer.
describe("queryName", () => {
  let server: Socket | undefined;
  afterEach(() => server?.close());

  /** Answers every query with this rcode (and one A record for rcode 0), or never when rcode is null. */
  async function fakeServer(rcode: number | null): Promise<number> {
    const socket = createSocket("udp4");
    server = socket;
    socket.on("message", (query, peer) => {
      if (rcode === null) return;
      const questionEnd = query.indexOf(0, 12) + 5;
      const header = Buffer.from(query.subarray(0, 12));
      header.writeUInt16BE(0x8180 | rcode, 2);
      header.writeUInt16BE(rcode === 0 ? 1 : 0, 6);
      const parts = [header, query.subarray(12, questionEnd)];
      if (rcode === 0) parts.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10]));
      socket.send(Buffer.concat(parts), peer.port, peer.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return socket.address().port;
  }

  const at = (port: number, timeout = 0.5): DnsSettings => settings(`names = ["www.ok.test"]\nport = ${port}\nquery_timeout = ${timeout}\n`);

  it("returns the answers", async () => {
    const outcome = await queryName("www.ok.test", at(await fakeServer(0)), new ProcessScope(new AbortController().signal));
    expect(outcome).toMatchObject({ ok: true, answers: ["192.0.2.10"] });
  });

  it("tells SERVFAIL, NXDOMAIN and REFUSED apart", async () => {
    for (const [rcode, code] of [
      [2, "ESERVFAIL"],
      [3, "ENOTFOUND"],
      [5, "EREFUSED"],
    ] as const) {
      const outcome = await queryName("www.ok.test", at(await fakeServer(rcode)), new ProcessScope(new AbortController().signal));
      expect(outcome).toMatchObject({ ok: false, code });
      server?.close();
      server = undefined;
    }
  });

  it("gives up at query_timeout, saying what it waited for while it waits", async () => {
    const scope = new ProcessScope(new AbortController().signal);
    const port = await fakeServer(null);
    const pending = queryName("www.ok.test", at(port, 0.3), scope);
    expect(scope.waitingFor()).toEqual([`DNS A www.ok.test from 127.0.0.1:${port}`]);
    const outcome = await pending;
    expect(outcome).toMatchObject({ ok: false, code: NO_ANSWER });
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(290);
    expect(outcome.elapsedMs).toBeLessThan(600);
    expect(scope.waitingFor()).toEqual([]);
  });
});

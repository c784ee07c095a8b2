// The demo's resolver: what check_dns gets from it, through node's own resolver (c-ares), as the check asks.
import { Resolver } from "node:dns/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerQuery, startResolver, type DemoResolver } from "../../../src/sim/dns.js";

let resolver: DemoResolver;
let client: Resolver;

beforeAll(async () => {
  resolver = await startResolver({ "gw.carp.test": "10.112.203.254" });
  client = new Resolver({ timeout: 1000, tries: 1 });
  client.setServers([`127.0.0.1:${resolver.port}`]);
});

afterAll(async () => {
  await resolver.close();
});

describe("the demo's resolver", () => {
  it("answers A for its names, in any case", async () => {
    expect(await client.resolve4("gw.carp.test")).toEqual(["10.112.203.254"]);
    expect(await client.resolve4("GW.Carp.Test")).toEqual(["10.112.203.254"]);
  });

  it("says NXDOMAIN for other names and no data for other types of its own", async () => {
    await expect(client.resolve4("www.carp.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(client.resolve6("gw.carp.test")).rejects.toMatchObject({ code: "ENODATA" });
  });

  it("says SERVFAIL to everything while failing, and answers again after", async () => {
    resolver.setFailing(true);
    await expect(client.resolve4("gw.carp.test")).rejects.toMatchObject({ code: "ESERVFAIL" });
    resolver.setFailing(false);
    expect(await client.resolve4("gw.carp.test")).toEqual(["10.112.203.254"]);
  });

  it("drops responses and answers FORMERR to a query without a readable question", () => {
    const records = new Map([["gw.carp.test", "10.112.203.254"]]);
    const response = Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(answerQuery(response, records, false)).toBeUndefined();
    const truncated = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0x67]);
    const answer = answerQuery(truncated, records, false);
    expect(answer?.readUInt16BE(0)).toBe(0x1234);
    expect((answer?.readUInt16BE(2) ?? 0) & 0x000f).toBe(1);
  });
});

import { describe, expect, it } from "vitest";
import { effectiveSysctlConf, parseSysctlConf, parseSysctlOutput } from "../../../../src/lib/parse/sysctl.js";
import { fixture, expectParseError } from "../../../support/fixtures.js";

describe("parseSysctlOutput", () => {
  it("sysctl net.inet.carp (three knobs)", () => {
    expect(parseSysctlOutput(fixture("sysctl_net_inet_carp_bookofpf.txt"))).toEqual(
      new Map([
        ["net.inet.carp.allow", "1"],
        ["net.inet.carp.preempt", "0"],
        ["net.inet.carp.log", "2"],
      ]),
    );
  });
  it("single-name samples", () => {
    expect(parseSysctlOutput(fixture("sysctl_net_inet_carp_allow_bookofpf.txt")).get("net.inet.carp.allow")).toBe("1");
    expect(parseSysctlOutput(fixture("sysctl_net_inet_carp_preempt_misc46.txt")).get("net.inet.carp.preempt")).toBe("1");
    expect(parseSysctlOutput(fixture("sysctl_net_inet_carp_log_misc46.txt")).get("net.inet.carp.log")).toBe("6");
  });
  it("values are verbatim, may be empty or contain =", () => {
    expect(parseSysctlOutput("kern.domainname=\nkern.version=OpenBSD 7.6 (GENERIC.MP) #1: a=b\n")).toEqual(
      new Map([
        ["kern.domainname", ""],
        ["kern.version", "OpenBSD 7.6 (GENERIC.MP) #1: a=b"],
      ]),
    );
  });
  it("FreeBSD `name: value` is an error", () => {
    const err = expectParseError(() => parseSysctlOutput("net.inet.carp.allow: 1\n"), 1);
    expect(err.detail).toContain("FreeBSD");
  });
  it("damage: cut line, garbage, duplicates, CRLF", () => {
    const text = fixture("sysctl_net_inet_carp_bookofpf.txt");
    expectParseError(() => parseSysctlOutput("net.inet.carp.preempt=1\nnet.inet.carp.log=")); // cut after '='
    expectParseError(() => parseSysctlOutput("net.inet.carp.preempt=1\nnet.inet.ca\n"), 2);
    expectParseError(() => parseSysctlOutput("net.inet.carp.log=2\nnet.inet.carp.log=3\n"), 2);
    expect(parseSysctlOutput(text.replaceAll("\n", "\r\n"))).toEqual(parseSysctlOutput(text));
    for (let cut = 1; cut < text.length; cut++) {
      const part = text.slice(0, cut);
      if (!part.endsWith("\n")) expectParseError(() => parseSysctlOutput(part));
    }
    expect(parseSysctlOutput("")).toEqual(new Map());
  });
});

describe("parseSysctlConf", () => {
  it("stock /etc/examples/sysctl.conf is all comments", () => {
    expect(parseSysctlConf(fixture("sysctl_conf_openbsd_etc_examples_r1.4.txt"))).toEqual([]);
  });
  it("real gateway sysctl.conf: comments after TAB and after space", () => {
    const entries = parseSysctlConf(fixture("sysctl_conf_real_gateway_ru_doc.txt"));
    const eff = effectiveSysctlConf(entries);
    expect(entries).toHaveLength(18);
    expect(eff.get("net.inet.ip.forwarding")).toEqual({ name: "net.inet.ip.forwarding", value: "1", line: 7, overriddenByLine: null });
    // "net.inet.tcp.always_keepalive=1 # 1=Keepalives …" — comment after a space
    expect(eff.get("net.inet.tcp.always_keepalive")?.value).toBe("1");
    expect(eff.get("net.inet.carp.preempt")?.value).toBe("1");
    expect(eff.get("net.inet.carp.log")?.value).toBe("3");
    expect(eff.get("kern.watchdog.period")?.value).toBe("32");
    expect(eff.get("net.inet.ip.ifq.maxlen")).toMatchObject({ value: "2048", line: 43 });
    expect(eff.has("net.inet.esp.enable")).toBe(false); // commented out
  });
  it("duplicates: the last wins, both recorded", () => {
    const entries = parseSysctlConf("net.inet.carp.preempt=1\n\n# later\nnet.inet.carp.preempt=0\t# oops\n");
    expect(entries).toEqual([
      { name: "net.inet.carp.preempt", value: "1", line: 1, overriddenByLine: 4 },
      { name: "net.inet.carp.preempt", value: "0", line: 4, overriddenByLine: null },
    ]);
    expect(effectiveSysctlConf(entries).get("net.inet.carp.preempt")?.value).toBe("0");
  });
  it("lines without = or with a bad name are errors with line numbers", () => {
    expectParseError(() => parseSysctlConf("# ok\nnet.inet.carp.preempt\n"), 2);
    expectParseError(() => parseSysctlConf("net.inet.carp.preempt = 1\n"), 1);
    expectParseError(() => parseSysctlConf("=1\n"), 1);
  });
  it("CRLF and a missing final newline", () => {
    const text = fixture("sysctl_conf_real_gateway_ru_doc.txt");
    expect(parseSysctlConf(text.replaceAll("\n", "\r\n"))).toEqual(parseSysctlConf(text));
    expect(parseSysctlConf("ddb.panic=0")).toEqual([{ name: "ddb.panic", value: "0", line: 1, overriddenByLine: null }]);
  });
});

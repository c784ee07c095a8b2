// check_dns against a real unbound running inside the simulated primary's network namespace, run as
// monit runs it. unbound answers from local zones only: a stub zone for the root and for fail.test
// points at 127.0.0.9, which unbound never queries (do-not-query-localhost, its default), so those
// names SERVFAIL at once and no query ever leaves the namespace (which has no route out anyway).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPair, type Daemon, type Pair } from "../harness/pair.js";

const CHECK = "/etc/carpentry.monit/check_dns";
const DIR = "/var/unbound-e2e";

function unboundConf(port: number, extra: string): string {
  return `server:
	interface: 127.0.0.1
	port: ${port}
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "${DIR}"
	pidfile: "${DIR}/unbound-${port}.pid"
	use-syslog: no
	logfile: ""
	verbosity: 1
	module-config: "iterator"
	# test. is one of unbound's built-in empty zones; the zones below live under it
	local-zone: "test." nodefault
	local-zone: "ok.test." static
	local-data: "www.ok.test. IN A 192.0.2.10"
	local-data: "gw.ok.test. IN A 192.0.2.1"
	local-zone: "nx.test." always_nxdomain
	# unbound drops queries for this zone: the client sees no answer at all
	local-zone: "slow.test." deny
${extra}
stub-zone:
	name: "."
	stub-addr: 127.0.0.9@5353
stub-zone:
	name: "fail.test."
	stub-addr: 127.0.0.9@5353
remote-control:
	control-enable: no
`;
}

let pair: Pair;
let resolver: Daemon | undefined;
let silentResolver: Daemon | undefined;

async function startResolver(): Promise<Daemon> {
  return pair.startDaemon("primary", "unbound", ["/usr/sbin/unbound", "-d", "-c", `${DIR}/unbound.conf`], { ready: /start of service/ });
}

async function configure(dns: string): Promise<void> {
  await pair.writeConfig("primary", `role = "primary"\n[peer]\nhost = "secondary"\n[checks.dns]\n${dns}`);
}

async function check(args: string[] = []): Promise<{ code: number | null; firstLine: string; stdout: string; durationMs: number }> {
  const run = await pair.run("primary", [CHECK, ...args], { timeoutMs: 15_000 });
  expect(run.stderr).toBe("");
  return { code: run.code, firstLine: run.stdout.split("\n")[0] ?? "", stdout: run.stdout, durationMs: run.durationMs };
}

beforeAll(async () => {
  pair = await startPair();
  await pair.installBuild();
  await pair.writeFile("primary", `${DIR}/unbound.conf`, unboundConf(53, ""));
  // A second resolver that receives every query and answers none (access refused by dropping).
  await pair.writeFile("primary", `${DIR}/silent.conf`, unboundConf(5353, "\taccess-control: 127.0.0.0/8 deny"));
  resolver = await startResolver();
  silentResolver = await pair.startDaemon("primary", "unbound-silent", ["/usr/sbin/unbound", "-d", "-c", `${DIR}/silent.conf`], { ready: /start of service/ });
});

afterAll(async () => {
  await resolver?.stop();
  await silentResolver?.stop();
  await pair?.stop();
});

beforeEach(async () => {
  if (resolver === undefined) resolver = await startResolver();
  await configure('names = ["www.ok.test", "gw.ok.test"]\n');
});

describe("check_dns", () => {
  it("is OK when every name resolves through the local unbound", async () => {
    const run = await check();
    expect(run.firstLine).toMatch(/^OK: 2 names resolve via 127\.0\.0\.1:53 within \d+ ms \| resolved=2;;;0;2 slowest=\d+ms;;;0$/);
    expect(run.stdout).toMatch(/\nwww\.ok\.test A: 192\.0\.2\.10 \(\d+ ms\)\ngw\.ok\.test A: 192\.0\.2\.1 \(\d+ ms\)\n$/);
    expect(run.code).toBe(0);
    expect(await pair.refusedCommands("primary")).toEqual([]);
  });

  it("is CRITICAL naming an NXDOMAIN name", async () => {
    await configure('names = ["www.ok.test", "host.nx.test"]\n');
    const run = await check();
    expect(run.firstLine).toMatch(/^CRITICAL: host\.nx\.test: NXDOMAIN via 127\.0\.0\.1:53 \| resolved=1;;;0;2 /);
    expect(run.code).toBe(2);
  });

  it("is CRITICAL naming a name the resolver answers SERVFAIL for", async () => {
    await configure('names = ["x.fail.test", "www.ok.test"]\n');
    const run = await check();
    expect(run.firstLine).toMatch(/^CRITICAL: x\.fail\.test: SERVFAIL via 127\.0\.0\.1:53 \| /);
    expect(run.code).toBe(2);
  });

  it("is CRITICAL when an answer does not come within query_timeout", async () => {
    await configure('names = ["www.ok.test", "x.slow.test"]\nquery_timeout = 1\n');
    const run = await check();
    expect(run.firstLine).toMatch(/^CRITICAL: x\.slow\.test: no answer within 1s via 127\.0\.0\.1:53 \| /);
    expect(run.code).toBe(2);
    expect(run.durationMs).toBeLessThan(4000);
  });

  it("is CRITICAL naming the resolver when it takes the queries and answers none", async () => {
    await configure('names = ["www.ok.test", "gw.ok.test"]\nport = 5353\nquery_timeout = 1\n');
    const run = await check();
    expect(run.firstLine).toMatch(/^CRITICAL: all 2 names fail via 127\.0\.0\.1:5353: no answer within 1s \| resolved=0;;;0;2 slowest=10\d\dms;;;0$/);
    expect(run.code).toBe(2);
  });

  it("is UNKNOWN within the check's deadline naming the query it waited for", async () => {
    await configure('names = ["x.slow.test"]\nquery_timeout = 5\n');
    const run = await check(["-t", "1"]);
    expect(run.firstLine).toBe("UNKNOWN: timed out after 1s waiting for DNS A x.slow.test from 127.0.0.1:53");
    expect(run.code).toBe(3);
  });

  it("is UNKNOWN, never OK, with no names configured", async () => {
    await configure("");
    const run = await check();
    expect(run.firstLine).toBe("UNKNOWN: no names configured in [checks.dns] names");
    expect(run.code).toBe(3);
  });

  it("is CRITICAL when the resolver is down", async () => {
    await resolver?.stop();
    resolver = undefined;
    const run = await check();
    expect(run.firstLine).toMatch(/^CRITICAL: all 2 names fail via 127\.0\.0\.1:53: connection refused \| resolved=0;;;0;2 /);
    expect(run.code).toBe(2);
  });
});

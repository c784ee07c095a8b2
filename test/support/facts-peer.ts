// A Host for unit tests whose transport is a stub (the wire is the only thing replaced): its facts go
// through the real PeerFacts, so the real request, batching and answer handling are what is tested.
import { factsRequest, PeerFacts, type PeerBatcher, type FactsTransport } from "../../src/lib/facts/protocol.js";
import type { Host } from "../../src/lib/transport/host.js";

export function hostOver<T extends FactsTransport>(transport: T, batcher?: PeerBatcher): T & Host {
  const peer = new PeerFacts(transport, "/etc/carpentry.monit/carpentry", batcher);
  const host = transport as T & Host;
  host.facts = (op, args, options = {}) => peer.ask(factsRequest(op, args, 5000), options);
  return host;
}

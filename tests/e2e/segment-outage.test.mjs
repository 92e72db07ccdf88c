// A Segment outage of two real minutes, in the real runtime (Miniflare: queues with their
// delays, KV, DO): every event sent during it arrives once afterwards, nothing is dead-lettered.
// The retry base is 2 s instead of 5 s so that the test takes minutes, not hours: attempts
// then come at about 0, 2, 10, 42 and 170 s (+-20% each), and the outage ends between the 4th
// attempt's latest (50 s) and the 5th's earliest (136 s). src/segment/send.rs checks the
// default schedule through outages of minutes to hours on a virtual clock.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeSegment } from "../fakes/segment.mjs";
import { call, user } from "./payloads.mjs";

const OUTAGE_MS = 120_000;
let aircall, segment, connector;

before(async () => {
  aircall = await new FakeAircall().start();
  aircall.addKey("api-id-out", "api-token-out");
  segment = await new FakeSegment().start();
  segment.writeKeys.add("wk_outage");
  connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, SEGMENT_US_BASE: segment.url, RETRY_BASE_SECONDS: "2", RETRY_MAX_ATTEMPTS: "10" },
  });
});
after(async () => {
  await connector?.dispose();
  await segment?.stop();
  await aircall?.stop();
});

test("a Segment outage of two minutes loses nothing and delivers each event once", { timeout: 400_000 }, async () => {
  const r = await connector.api("POST", "/api/integrations", {
    name: "outage",
    aircall: { api_id: "api-id-out", api_token: "api-token-out" },
    destination: { type: "segment", write_key: "wk_outage", region: "us" },
  });
  assert.equal(r.status, 201, r.text);
  const webhook = aircall.webhooks.get(r.json.aircall.webhook_id);
  const post = (url, init) => connector.dispatch(url, init);

  const downSince = Date.now();
  segment.answer = () => (Date.now() - downSince < OUTAGE_MS ? { status: 503, body: { message: "service unavailable" } } : null);
  const fired = [];
  for (let n = 0; n < 30; n++) {
    const [event, data] = n % 3 === 2 ? ["user.connected.v2", user(600 + n)] : ["call.ended", call(9000 + n)];
    const answer = await aircall.fire(webhook, event, data, { post, timestamp: 1_763_990_000 + n });
    assert.equal(answer.status, 202, answer.body);
    fired.push(JSON.parse(answer.body).delivery_id);
  }
  const trackOf = (id) => segment.accepted.filter((m) => m.messageId === `${id}-track`);
  // Nothing gets through while Segment is down, though the connector keeps trying.
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - downSince) - 1_000));
  assert.equal(fired.filter((id) => trackOf(id).length).length, 0);
  const failed = segment.requests.filter((q) => q.status === 503).length;
  assert.ok(failed >= 4, `${failed} requests met the outage`);

  await waitFor(() => fired.every((id) => trackOf(id).length), { timeout: 150_000, interval: 1_000, what: "every event after the outage" });
  const minutes = ((Date.now() - downSince) / 60_000).toFixed(1);
  const sent = (id) => segment.received.filter((m) => m.messageId === `${id}-track`).length;
  assert.deepEqual(fired.filter((id) => sent(id) !== 1), [], "each event sent once after the outage");
  const letters = await connector.api("GET", `/api/integrations/${r.json.id}/deliveries?status=failed`);
  assert.deepEqual(letters.json.deliveries, [], "nothing dead-lettered");
  console.log(`segment outage: ${fired.length} events, ${failed} requests refused, all delivered ${minutes} min after it began`);
});

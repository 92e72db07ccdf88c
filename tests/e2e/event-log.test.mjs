// The event log end to end: webhooks from the fake Aircall through the worker (Miniflare:
// real queues, KV and the EVENT_LOG Durable Object) to the fake receiver, Segment and HubSpot;
// then the admin API's search, one event with both payloads, and "send again".
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { FakeSegment } from "../fakes/segment.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";
import { call } from "./payloads.mjs";

const SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WRITE_KEY = "wk_event_log_secret";
const HUBSPOT_TOKEN = "pat-na1-event-log-secret";
let aircall, receiver, segment, hubspot, connector;
let hook; // webhook integration: call.ended and call.tagged, number 789 only
const post = (url, init) => connector.dispatch(url, init);
const now = () => Math.floor(Date.now() / 1000);

async function createIntegration(name, destination, extra = {}) {
  const r = await connector.api("POST", "/api/integrations", {
    name, aircall: { api_id: "api-id-log", api_token: "api-token-log" }, destination, ...extra,
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id), token: aircall.webhooks.get(r.json.aircall.webhook_id).token };
}

async function fire(integration, event, data) {
  const r = await aircall.fire(integration.webhook, event, data, { post, timestamp: now() });
  assert.equal(r.status, 202, r.body);
  return JSON.parse(r.body);
}

const events = async (id, query = "") => {
  const r = await connector.api("GET", `/api/integrations/${id}/events${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
};
// Waits until the log shows the event with this status.
const logged = (id, eventId, status, timeout = 20_000) =>
  waitFor(async () => {
    const r = await connector.api("GET", `/api/integrations/${id}/events/${eventId}`);
    return r.status === 200 && r.json.status === status && r.json;
  }, { timeout, what: `event ${eventId} ${status}` });

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey("api-id-log", "api-token-log");
  receiver = await new FakeReceiver().start();
  receiver.secret = SECRET;
  // Call 4040's deliveries are refused for good (410).
  receiver.answer = (attempt) => (attempt.body?.data?.id === 4040 ? { status: 410 } : { status: 200 });
  segment = await new FakeSegment().start();
  segment.writeKeys.add(WRITE_KEY);
  hubspot = await new FakeHubSpot({ tokens: [HUBSPOT_TOKEN] }).start();
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600",
      SEGMENT_US_BASE: segment.url, SEGMENT_EU_BASE: segment.euUrl, HUBSPOT_API_BASE: hubspot.url,
      RETRY_BASE_SECONDS: "1", RETRY_MAX_ATTEMPTS: "2",
    },
  });
  hook = await createIntegration("log", { type: "webhook", url: receiver.url, secret: SECRET }, { events: ["call.ended", "call.tagged"], numbers: [789] });
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await segment?.stop?.();
  await hubspot?.close();
  await aircall?.stop();
});

test("delivered, filtered and failed events are logged with their status, and found by name, call id and phone", async () => {
  const delivered = await fire(hook, "call.ended", call(5001, { raw_digits: "+33 6 11 22 33 44" }));
  const notSelected = await fire(hook, "call.created", call(5002, { raw_digits: "+1 415 555 0199" }));
  const otherNumber = await fire(hook, "call.tagged", call(5003, { number: { id: 999, digits: "+44 20 7946 0000" } }));
  const failed = await fire(hook, "call.tagged", call(4040));
  assert.equal(delivered.status, "queued");
  assert.deepEqual([notSelected.status, otherNumber.status], ["ignored", "ignored"]);

  await logged(hook.id, delivered.delivery_id, "delivered");
  await logged(hook.id, failed.delivery_id, "failed");
  const all = await waitFor(async () => {
    const page = await events(hook.id);
    return page.events.length >= 4 && page;
  }, { timeout: 20_000, what: "4 events in the log" });
  const byCall = Object.fromEntries(all.events.map((e) => [e.call_id, e]));
  assert.equal(byCall[5001].status, "delivered");
  assert.equal(byCall[5001].destination, "webhook");
  assert.deepEqual([byCall[5002].status, byCall[5002].reason], ["filtered", "the integration does not forward this event"]);
  assert.deepEqual([byCall[5003].status, byCall[5003].reason], ["filtered", "the event is about none of the integration's numbers"]);
  assert.equal(byCall[4040].status, "failed");
  assert.match(byCall[4040].reason, /410/);
  // Newest first.
  const times = all.events.map((e) => e.received_at);
  assert.deepEqual(times, [...times].sort((a, b) => b - a));

  const named = await events(hook.id, "?event=call.tagged");
  assert.deepEqual(named.events.map((e) => e.call_id).sort(), [4040, 5003]);
  const byId = await events(hook.id, "?call_id=5001");
  assert.deepEqual(byId.events.map((e) => e.id), [delivered.delivery_id]);
  const byPhone = await events(hook.id, `?phone=${encodeURIComponent("+1 (415) 555-0199")}`);
  assert.deepEqual(byPhone.events.map((e) => e.call_id), [5002]);
  const free = await events(hook.id, "?q=5003");
  assert.deepEqual(free.events.map((e) => e.call_id), [5003]);

  // Paged: one at a time, the cursor leads through all of them once.
  const seen = [];
  let before = "";
  for (;;) {
    const page = await events(hook.id, `?limit=1${before}`);
    seen.push(...page.events.map((e) => e.id));
    if (!page.next) break;
    before = `&before=${encodeURIComponent(page.next)}`;
  }
  assert.deepEqual(seen, all.events.map((e) => e.id));

  const bad = await connector.api("GET", `/api/integrations/${hook.id}/events?phone=abc&limit=500`);
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json.error.fields.map((f) => f.field), ["phone", "limit"]);
});

test("an event shows its payload as received and as delivered, without secrets, and is sent again", async () => {
  const data = call(6001, { raw_digits: "+33 6 55 44 33 22" });
  const queued = await fire(hook, "call.ended", data);
  const first = await logged(hook.id, queued.delivery_id, "delivered");
  assert.deepEqual(first.received.payload, data);
  assert.equal(first.received.truncated, false);
  assert.equal(first.sent.payload.body.type, "call.ended");
  assert.deepEqual(first.sent.payload.body.data, data);
  assert.equal(first.sent.payload.headers["webhook-id"], queued.delivery_id);
  const text = JSON.stringify(first);
  assert.ok(!text.includes(SECRET.slice(6)), "no signing secret");
  assert.ok(!text.includes(hook.token), "no Aircall webhook token");
  assert.ok(!text.includes("webhook-signature") && !text.includes("v1,"), "no signature");

  const before = receiver.delivered.filter((d) => d.body?.data?.id === 6001).length;
  const again = await connector.api("POST", `/api/integrations/${hook.id}/events/${queued.delivery_id}/redeliver`);
  assert.equal(again.status, 202, again.text);
  assert.equal(again.json.delivery_id, `${queued.delivery_id}r1`);
  const resent = await waitFor(() => receiver.delivered.find((d) => d.id === again.json.delivery_id), { timeout: 20_000, what: "the resend at the receiver" });
  assert.equal(resent.valid, true, "signed like any delivery");
  assert.deepEqual(resent.body.data, data);
  assert.equal(receiver.delivered.filter((d) => d.body?.data?.id === 6001).length, before + 1);
  const after = await waitFor(async () => {
    const r = await connector.api("GET", `/api/integrations/${hook.id}/events/${queued.delivery_id}`);
    return r.json.history.length === 2 && r.json;
  }, { timeout: 20_000, what: "the resend in the history" });
  assert.deepEqual(after.history.map((s) => [s.status, s.delivery_id ?? null]), [["delivered", null], ["delivered", again.json.delivery_id]]);
});

test("what Segment and HubSpot were sent is shown without the write key or the token", async () => {
  const seg = await createIntegration("log segment", { type: "segment", write_key: WRITE_KEY, region: "us" });
  const hs = await createIntegration("log hubspot", { type: "hubspot", access_token: HUBSPOT_TOKEN });
  const t = now() - 300;
  const data = call(7001, { started_at: t, answered_at: t + 6, ended_at: t + 186, recording: null });
  const toSegment = await fire(seg, "call.ended", data);
  const toHubspot = await fire(hs, "call.ended", data);
  const segmentEvent = await logged(seg.id, toSegment.delivery_id, "delivered");
  assert.equal(segmentEvent.destination, "segment");
  assert.equal(segmentEvent.sent.payload.batch[0].messageId, `${toSegment.delivery_id}-track`);
  assert.ok(!JSON.stringify(segmentEvent).includes(WRITE_KEY));
  const hubspotEvent = await logged(hs.id, toHubspot.delivery_id, "delivered");
  assert.equal(hubspotEvent.destination, "hubspot");
  assert.match(hubspotEvent.sent.payload.call_engagement.hs_call_body, /7001/);
  assert.ok(!JSON.stringify(hubspotEvent).includes(HUBSPOT_TOKEN));
});

test("deleting the integration deletes its log", async () => {
  const doomed = await createIntegration("log doomed", { type: "webhook", url: receiver.url, secret: SECRET });
  const queued = await fire(doomed, "call.ended", call(8001));
  await logged(doomed.id, queued.delivery_id, "delivered");
  const deleted = await connector.api("DELETE", `/api/integrations/${doomed.id}`);
  assert.equal(deleted.status, 200, deleted.text);
  // The same id's object is empty: nothing is found there any more.
  const ns = await connector.mf.getDurableObjectNamespace("EVENT_LOG");
  const stub = ns.get(ns.idFromName(`event-log:${doomed.id}`));
  const page = await (await stub.fetch("https://event-log/search", { method: "POST", body: JSON.stringify({ limit: 50 }) })).json();
  assert.deepEqual(page.events, []);
});

test("a log that cannot be written loses no delivery", async () => {
  // EVENT_LOG bound to another class: every write to the log fails.
  const broken = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600" },
    durableObjects: { EVENT_LOG: "AccountGate" },
  });
  try {
    const r = await broken.api("POST", "/api/integrations", {
      name: "no log", aircall: { api_id: "api-id-log", api_token: "api-token-log" },
      destination: { type: "webhook", url: receiver.url, secret: SECRET },
    });
    assert.equal(r.status, 201, r.text);
    const webhook = aircall.webhooks.get(r.json.aircall.webhook_id);
    const sent = await aircall.fire(webhook, "call.ended", call(9001), { post: (u, i) => broken.dispatch(u, i) });
    assert.equal(sent.status, 202, sent.body);
    const id = JSON.parse(sent.body).delivery_id;
    const got = await waitFor(() => receiver.delivered.find((d) => d.id === id), { timeout: 20_000, what: "the delivery without a log" });
    assert.equal(got.valid, true);
    await waitFor(() => broken.logs.join("").includes("not written"), { timeout: 10_000, what: "the log's failure logged" });
    const page = await broken.api("GET", `/api/integrations/${r.json.id}/events`);
    assert.equal(page.status, 503, "reading says the log is unavailable");
  } finally {
    await broken.dispose();
  }
});

// The Segment destination end to end: fake Aircall -> worker (Miniflare: real queues, KV,
// DO) -> fake Segment that enforces the documented limits and Basic auth with the write key.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, sleep } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeSegment } from "../fakes/segment.mjs";
import { call, user } from "./payloads.mjs";

// The 26 events of Aircall's own Segment source (seed 003), user events under their current
// .v2 names (Aircall is retiring the v1 ones).
const SEED_EVENTS = [
  "number.created", "number.opened", "number.closed", "number.deleted",
  "contact.created", "contact.updated", "contact.deleted",
  "user.created.v2", "user.opened.v2", "user.connected.v2", "user.closed.v2", "user.disconnected.v2", "user.deleted.v2",
  "call.created", "call.answered", "call.hungup", "call.ended", "call.assigned", "call.archived",
  "call.tagged", "call.untagged", "call.commented", "call.transferred", "call.ringing_on_agent",
  "call.agent_declined", "call.voicemail_left",
];

const AI_EVENTS = ["transcription.created", "summary.created", "topics.created", "sentiment.created", "action_item.created"];

const number = (id) => ({ id, direct_link: `https://api.aircall.io/v1/numbers/${id}`, name: "Sales FR", digits: "+33 1 76 36 06 95", country: "FR", time_zone: "Europe/Paris", open: true });
const contact = (id) => ({
  id, direct_link: `https://api.aircall.io/v1/contacts/${id}`, first_name: "Jean", last_name: "Dupont", company_name: "ACME",
  information: null, is_shared: true, created_at: "2025-11-24T10:00:00.000Z", updated_at: "2025-11-24T10:00:00.000Z",
  phone_numbers: [{ id: 1, label: "work", value: "+33612345678" }], emails: [{ id: 2, label: "work", value: "jean@acme.test" }],
});
// The data Aircall sends with each event, by resource.
const payloadFor = (event, n) => ({ call: () => call(n), user: () => user(n), number: () => number(n), contact: () => contact(n) })[event.split(".")[0]]();

let aircall, segment, connector;
let main; // the default integration: US, the seed's 26 events and the 5 AI events
const post = (url, init) => connector.dispatch(url, init);

async function createIntegration(name, destination, extra = {}, key = { api_id: "api-id-seg", api_token: "api-token-seg" }) {
  const r = await connector.api("POST", "/api/integrations", { name, aircall: key, destination, ...extra });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, view: r.json, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
}

async function fire(integration, event, data, timestamp = 1_763_981_000) {
  const r = await aircall.fire(integration.webhook, event, data, { post, timestamp });
  assert.equal(r.status, 202, r.body);
  return JSON.parse(r.body);
}

const trackOf = (deliveryId) => segment.accepted.find((m) => m.messageId === `${deliveryId}-track`);
const arrived = (deliveryId, timeout = 15_000) => waitFor(() => trackOf(deliveryId), { timeout, what: `track of ${deliveryId}` });
const deadLetters = async (id) => (await connector.api("GET", `/api/integrations/${id}/deliveries?status=failed`)).json.deliveries;

before(async () => {
  aircall = await new FakeAircall().start();
  aircall.addKey("api-id-seg", "api-token-seg");
  segment = await new FakeSegment().start();
  segment.writeKeys.add("wk_good");
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url,
      SEGMENT_US_BASE: segment.url,
      SEGMENT_EU_BASE: segment.euUrl,
      // Short back-off so that an outage of a few seconds is tested in seconds.
      RETRY_BASE_SECONDS: "1",
      RETRY_MAX_ATTEMPTS: "4",
      DELIVERY_TIMEOUT_SECONDS: "2",
    },
  });
  main = await createIntegration("segment us", { type: "segment", write_key: "wk_good", region: "us" });
});
after(async () => {
  await connector?.dispose();
  await segment?.stop();
  await aircall?.stop();
});
beforeEach(() => {
  segment.answer = null;
});

test("a Segment integration defaults to the seed's 26 events and the AI events, and never shows its write key", async () => {
  assert.deepEqual(main.view.destination, { type: "segment", region: "us" });
  // ... and Aircall's five AI events, which Segment gets with their content (ai-segment.test.mjs).
  const defaults = [...SEED_EVENTS, ...AI_EVENTS].sort();
  assert.deepEqual([...main.view.events].sort(), defaults);
  assert.deepEqual([...main.webhook.events].sort(), defaults, "registered with Aircall");
  const kv = JSON.stringify(await connector.kvDump());
  assert.ok(!kv.includes("wk_good"), "sealed at rest");
  const shown = await connector.api("GET", `/api/integrations/${main.id}`);
  assert.ok(!shown.text.includes("wk_good"));

  const bad = await connector.api("POST", "/api/integrations", {
    name: "x", aircall: { api_id: "api-id-seg", api_token: "api-token-seg" },
    destination: { type: "segment", write_key: "" }, numbers: ["abc"],
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json.error.fields.map((f) => f.field).sort(), ["destination.region", "destination.write_key", "numbers[0]"]);
});

test("each of the 26 seed events arrives as the right track with a stable messageId", async () => {
  const sent = [];
  for (const [i, event] of SEED_EVENTS.entries()) {
    const data = payloadFor(event, 100 + i);
    const timestamp = 1_763_981_000 + i;
    const { status, delivery_id } = await fire(main, event, data, timestamp);
    assert.equal(status, "queued", event);
    sent.push({ event, data, timestamp, delivery_id });
  }
  for (const { event, data, timestamp, delivery_id } of sent) {
    const track = await arrived(delivery_id);
    assert.equal(track.event, event);
    assert.deepEqual(track.properties, data, event);
    assert.equal(track.timestamp, new Date(timestamp * 1000).toISOString().replace(".000Z", "Z"));
    assert.ok(track.messageId.length < 100);
    const resource = event.split(".")[0];
    if (resource === "call") assert.equal(track.userId, "456", event);
    if (resource === "user") assert.equal(track.userId, String(data.id), event);
    if (resource === "number") assert.equal(track.anonymousId, `aircall-number-${data.id}`);
    if (resource === "contact") assert.equal(track.anonymousId, `aircall-contact-${data.id}`);
    const identify = segment.accepted.find((m) => m.messageId === `${delivery_id}-identify`);
    if ((resource === "user" || resource === "contact") && event.split(".")[1] !== "deleted") {
      assert.ok(identify, `identify for ${event}`);
      assert.equal(identify.traits.name, resource === "user" ? "Madeline Agent" : "Jean Dupont");
      assert.ok(identify.traits.email);
    } else {
      assert.equal(identify, undefined, event);
    }
  }
  assert.deepEqual(segment.dropped, [], "nothing over Segment's limits or without identity");
  // Batching: far fewer requests than messages.
  const requests = segment.requests.filter((r) => r.status === 200).length;
  assert.ok(requests < sent.length, `${requests} requests for ${sent.length} events`);
});

test("a replayed webhook gives the same messageId, which Segment drops", async () => {
  const data = call(2001);
  const first = await fire(main, "call.ended", data, 1_763_982_000);
  const again = await fire(main, "call.ended", data, 1_763_982_000);
  assert.equal(first.delivery_id, again.delivery_id);
  await arrived(first.delivery_id);
  const messageId = `${first.delivery_id}-track`;
  await waitFor(() => segment.received.filter((m) => m.messageId === messageId).length === 2, { what: "the replay" });
  assert.equal(segment.accepted.filter((m) => m.messageId === messageId).length, 1);
});

test("the event selection drops what it should; emptied or null entries turn events off", async () => {
  const picky = await createIntegration("picky", { type: "segment", write_key: "wk_good", region: "us" }, { events: ["call.ended", null, "", "null", "message.sent"] });
  assert.deepEqual(picky.view.events, ["call.ended", "message.sent"]);
  assert.equal((await fire(picky, "call.created", call(3001))).status, "ignored");
  const ended = await fire(picky, "call.ended", call(3002));
  const message = await fire(picky, "message.sent", { id: 77, direction: "outbound" });
  await arrived(ended.delivery_id);
  const track = await arrived(message.delivery_id);
  assert.equal(track.anonymousId, "aircall-message-77");
  // The default selection does not include newer events...
  assert.equal((await fire(main, "message.sent", { id: 78 })).status, "ignored");
});

test("the number filter forwards only events about the chosen numbers, minimal calls included", async () => {
  const sales = await createIntegration("sales line", { type: "segment", write_key: "wk_good", region: "us" }, { numbers: [789] });
  assert.deepEqual(sales.view.numbers, [789]);
  const ours = await fire(sales, "call.ended", call(4001));
  const other = await fire(sales, "call.ended", call(4002, { number: { ...number(790), digits: "+33 1 00 00 00 00" } }));
  assert.equal(other.status, "ignored");
  assert.equal((await fire(sales, "number.opened", number(790))).status, "ignored");
  const numberOpened = await fire(sales, "number.opened", number(789));
  assert.equal((await fire(sales, "user.connected.v2", user(9))).status, "queued", "not about a number: passes");
  // Minimal payloads: the number is known only once the call is read.
  aircall.addCalls("api-id-seg", [call(4003), call(4004, { number: number(790) })]);
  const minimalOurs = await fire(sales, "call.hungup", { id: 4003 });
  const minimalOther = await fire(sales, "call.hungup", { id: 4004 });
  assert.equal(minimalOther.status, "queued");
  await arrived(ours.delivery_id);
  await arrived(numberOpened.delivery_id);
  await arrived(minimalOurs.delivery_id);
  await sleep(1500);
  assert.equal(trackOf(minimalOther.delivery_id), undefined, "call 4004 is on number 790");
});

test("a minimal call payload is completed from Aircall before delivering", async () => {
  aircall.addCalls("api-id-seg", [call(5001)]);
  const before = aircall.requests.filter((r) => r.path === "/v1/calls/5001").length;
  const { delivery_id } = await fire(main, "call.answered", { id: 5001, status: "answered" });
  const track = await arrived(delivery_id);
  assert.equal(track.userId, "456");
  assert.equal(track.properties.status, "answered", "what the webhook said is kept");
  assert.equal(track.properties.number.id, 789);
  assert.equal(track.properties.contact.first_name, "Jean");
  assert.match(track.properties.recording, /recordings\/5001\.mp3/);
  assert.equal(aircall.requests.filter((r) => r.path === "/v1/calls/5001").length, before + 1);
  assert.equal(aircall.tooManyRequests, 0);
});

test("an EU integration posts to the EU host; an oversized event is trimmed, not dropped", async () => {
  const eu = await createIntegration("segment eu", { type: "segment", write_key: "wk_good", region: "eu" });
  const big = call(6001, { comments: Array.from({ length: 400 }, (_, i) => ({ id: i, content: "x".repeat(100) })) });
  const { delivery_id } = await fire(eu, "call.commented", big);
  const track = await arrived(delivery_id);
  assert.equal(track.region, "eu");
  assert.deepEqual(track.properties.trimmed_fields, ["comments"]);
  assert.equal(track.properties.id, 6001);
  assert.deepEqual(segment.dropped, []);
});

test("a 900 KB event reaches Segment trimmed under 32 KB, naming what it lost", async () => {
  // Aircall signs nothing: a payload may carry any keys. 7,000 fields with long names, where
  // listing each removed name would take more room than removing it frees.
  const extra = { comments: Array.from({ length: 1500 }, (_, i) => ({ id: i, content: "c".repeat(100) })) };
  for (let n = 0; n < 7000; n++) extra[`custom_field_with_a_rather_long_descriptive_name_${String(n).padStart(5, "0")}`] = "f".repeat(40);
  const big = call(6101, extra);
  const bytes = Buffer.byteLength(JSON.stringify(big));
  assert.ok(bytes > 850_000 && bytes < 950_000, `${bytes} bytes`);
  const { delivery_id } = await fire(main, "call.commented", big);
  const track = await arrived(delivery_id, 30_000);
  assert.ok(Buffer.byteLength(JSON.stringify(track)) <= 32 * 1024, "under Segment's 32 KB");
  assert.equal(track.properties.id, 6101);
  assert.equal(track.userId, "456");
  assert.equal(track.properties.trimmed_fields[0], "comments", "the largest goes first");
  assert.match(track.properties.trimmed_fields.at(-1), /^\.\.\. and \d+ more$/);
  assert.deepEqual(segment.dropped, [], "nothing dropped by Segment");
});

test("a Segment outage of a few seconds, then a 429 with Retry-After, loses nothing", async () => {
  const downUntil = Date.now() + 3000;
  let throttled = false;
  segment.answer = () => {
    if (Date.now() < downUntil) return { status: 503, body: { message: "unavailable" } };
    if (!throttled) {
      throttled = true;
      return { status: 429, headers: { "retry-after": "2" }, body: {} };
    }
    return null;
  };
  const fired = [];
  for (let n = 7001; n <= 7005; n++) fired.push(await fire(main, "call.ended", call(n)));
  for (const { delivery_id } of fired) await arrived(delivery_id, 30_000);
  assert.ok(segment.requests.some((r) => r.status === 503));
  assert.ok(throttled);
  assert.deepEqual(await deadLetters(main.id), []);
});

test("a wrong write key ends in the dead-letter list with the reason, and can be retried", async () => {
  const wrong = await createIntegration("wrong key", { type: "segment", write_key: "wk_typo", region: "us" });
  const { delivery_id } = await fire(wrong, "call.ended", call(8001));
  const letter = await waitFor(async () => (await deadLetters(wrong.id)).find((d) => d.delivery_id === delivery_id), { what: "the dead letter" });
  assert.match(letter.reason, /Segment refused the write key \(HTTP 401\)/);
  assert.equal(letter.attempts, 1);

  // The key becomes valid (say the source was re-created): retry it from the admin API.
  segment.writeKeys.add("wk_typo");
  const retried = await connector.api("POST", `/api/integrations/${wrong.id}/deliveries/${delivery_id}/retry`);
  assert.equal(retried.status, 202, retried.text);
  await arrived(delivery_id);
  assert.deepEqual(await deadLetters(wrong.id), []);
  const missing = await connector.api("POST", `/api/integrations/${wrong.id}/deliveries/msg_nope/retry`);
  assert.equal(missing.status, 404);
});

test("a burst of 500 minimal calls is enriched within the rate budget: no 429 from Aircall", { timeout: 240_000 }, async () => {
  // Aircall's limit and the connector's budget both at 300 a minute (scaled up from 60 so
  // that 500 webhooks take one wait of a minute, not eight).
  const limited = await new FakeAircall({ ratePerMinute: 300 }).start();
  const key = limited.addKey("api-id-burst", "api-token-burst");
  const own = await startConnector({
    vars: { AIRCALL_API_BASE: limited.url, AIRCALL_REQUESTS_PER_MINUTE: "300", SEGMENT_US_BASE: segment.url, RETRY_BASE_SECONDS: "1" },
  });
  try {
    const r = await own.api("POST", "/api/integrations", { name: "burst", aircall: key, destination: { type: "segment", write_key: "wk_good", region: "us" } });
    assert.equal(r.status, 201, r.text);
    const webhook = limited.webhooks.get(r.json.aircall.webhook_id);
    const ids = Array.from({ length: 500 }, (_, i) => 9001 + i);
    limited.addCalls("api-id-burst", ids.map((id) => call(id)));
    const fired = await Promise.all(
      ids.map(async (id) => {
        const answer = await limited.fire(webhook, "call.hungup", { id }, { post: own.dispatch, timestamp: 1_763_981_000 });
        assert.equal(answer.status, 202, answer.body);
        return JSON.parse(answer.body);
      }),
    );
    // The first 300 go at once; the rest wait for the budget, not failing.
    await waitFor(() => fired.filter((f) => trackOf(f.delivery_id)).length >= 250, { timeout: 40_000, what: "the first ones" });
    for (const { delivery_id } of fired) await arrived(delivery_id, 150_000);
    assert.equal(limited.tooManyRequests, 0, "no 429 from Aircall");
    for (const { delivery_id } of fired) assert.equal(trackOf(delivery_id).userId, "456");
    const failed = await own.api("GET", `/api/integrations/${r.json.id}/deliveries?status=failed`);
    assert.deepEqual(failed.json.deliveries, []);
  } finally {
    await own.dispose();
    await limited.stop();
  }
});

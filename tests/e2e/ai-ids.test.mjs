// The same AI data gets the same id, whatever brought it, in Miniflare: a call imported with
// `import.ai: "when_available"` brings its summary and action items; Aircall's webhooks then
// announce the same data: the webhook receiver and Segment get it under the same webhook-id /
// messageId and act on it once. A changed action-item list is new data: delivered again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, waitUntilQuiet } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { FakeSegment } from "../fakes/segment.mjs";
import { call } from "./payloads.mjs";

let aircall, receiver, segment, connector;
const post = (url, init) => connector.dispatch(url, init);
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  receiver = await new FakeReceiver().start();
  segment = await new FakeSegment().start();
  segment.writeKeys.add("wk_ids");
  connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600", SEGMENT_US_BASE: segment.url, SEGMENT_EU_BASE: segment.euUrl },
  });
});
after(async () => {
  await connector?.dispose();
  await segment?.stop();
  await receiver?.stop();
  await aircall?.stop();
});

// An integration importing `callId` (with its AI data) to `destination`; answers it with its
// Aircall webhook.
async function importing(apiId, callId, destination) {
  aircall.addKey(apiId, `${apiId}-token`);
  aircall.addCalls(apiId, [{ ...call(callId), started_at: now() - 3_600, recording: true }]);
  aircall.addAiData(apiId, callId, { summary: "A refund was promised.", action_items: [{ text: "Refund the order", user_id: 456 }] });
  const r = await connector.api("POST", "/api/integrations", {
    name: apiId,
    aircall: { api_id: apiId, api_token: `${apiId}-token` },
    destination,
    import: { ai: "when_available" },
  });
  assert.equal(r.status, 201, r.text);
  if (destination.type === "webhook") receiver.secret = r.json.destination.secret;
  const sync = await connector.api("POST", `/api/integrations/${r.json.id}/sync`);
  assert.ok([200, 202].includes(sync.status), sync.text);
  return { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
}

const fire = async (webhook, event, data) => {
  const r = await aircall.fire(webhook, event, data, { post });
  assert.equal(r.status, 202, r.body);
  return JSON.parse(r.body);
};

test("imported AI data announced again by webhook reaches the receiver under one webhook-id; a changed list is new", async () => {
  const hook = await importing("api-ids-hook", 8101, { type: "webhook", url: receiver.url });
  const of = (list, type) => list.filter((d) => d.body?.type === type && d.body.data.call_id === 8101);
  await waitFor(() => of(receiver.delivered, "call.summary").length === 1 && of(receiver.delivered, "call.action_items").length === 1,
    { timeout: 30_000, what: "the imported AI data" });

  const announced = await fire(hook.webhook, "summary.created", { id: 70001, call_id: 8101 });
  await fire(hook.webhook, "action_item.created", { id: 70002, call_id: 8101 });
  await waitFor(() => of(receiver.delivered, "call.summary").length === 2 && of(receiver.delivered, "call.action_items").length === 2,
    { timeout: 30_000, what: "the announced AI data" });
  for (const type of ["call.summary", "call.action_items"]) {
    const [imported, announced] = of(receiver.delivered, type);
    assert.equal(imported.id, announced.id, `${type}: the same webhook-id from the import and the webhook`);
    assert.equal(announced.valid, true);
    assert.equal(of(receiver.processed, type).length, 1, `${type}: the receiver acts on it once`);
  }

  // "Send again" from the event log: the data's id with the resend's number, which the
  // receiver takes as new.
  const summaryId = of(receiver.delivered, "call.summary")[0].id;
  await waitFor(async () => (await connector.api("GET", `/api/integrations/${hook.id}/events/${announced.delivery_id}`)).json.status === "delivered",
    { timeout: 30_000, what: "the announced summary in the event log" });
  const again = await connector.api("POST", `/api/integrations/${hook.id}/events/${announced.delivery_id}/redeliver`);
  assert.equal(again.status, 202, again.text);
  assert.equal(again.json.delivery_id, `${announced.delivery_id}r1`);
  await waitFor(() => of(receiver.processed, "call.summary").length === 2, { timeout: 30_000, what: "the resend acted on" });
  assert.equal(of(receiver.processed, "call.summary")[1].id, `${summaryId}r1`);

  // A longer action-item list: new content, a new id, acted on.
  aircall.addAiData("api-ids-hook", 8101, { action_items: [{ text: "Refund the order", user_id: 456 }, { text: "Call back on Monday", user_id: 456 }] });
  await fire(hook.webhook, "action_item.created", { id: 70003, call_id: 8101 });
  await waitFor(() => of(receiver.processed, "call.action_items").length === 2, { timeout: 30_000, what: "the new list" });
  const [, longer] = of(receiver.processed, "call.action_items");
  assert.equal(longer.body.data.action_items.length, 2);
  assert.equal(aircall.aiRequests("api-ids-hook").length, 5 + 4, "the import's five reads, then one per AI event and resend");
});

test("imported AI data announced again by webhook is kept once by Segment (same messageId); a changed list is new", async () => {
  const seg = await importing("api-ids-seg", 8201, { type: "segment", write_key: "wk_ids", region: "us" });
  const tracks = (list, event) => list.filter((m) => m.event === event && m.properties?.call_id === 8201);
  await waitFor(() => tracks(segment.accepted, "call.summary").length === 1 && tracks(segment.accepted, "call.action_items").length === 1,
    { timeout: 30_000, what: "the imported AI data" });

  await fire(seg.webhook, "summary.created", { id: 70101, call_id: 8201 });
  await fire(seg.webhook, "action_item.created", { id: 70102, call_id: 8201 });
  await waitFor(() => tracks(segment.received, "call.summary").length === 2 && tracks(segment.received, "call.action_items").length === 2,
    { timeout: 30_000, what: "the announced AI data at Segment" });
  for (const event of ["call.summary", "call.action_items"]) {
    const [imported, announced] = tracks(segment.received, event);
    assert.equal(imported.messageId, announced.messageId, `${event}: one messageId`);
    assert.equal(tracks(segment.accepted, event).length, 1, `${event}: Segment keeps it once`);
  }

  aircall.addAiData("api-ids-seg", 8201, { action_items: [{ text: "Refund the order", user_id: 456 }, { text: "Send the invoice", user_id: 456 }] });
  await fire(seg.webhook, "action_item.created", { id: 70103, call_id: 8201 });
  await waitFor(() => tracks(segment.accepted, "call.action_items").length === 2, { timeout: 30_000, what: "the new list kept" });
  await waitUntilQuiet(() => segment.received.length);
  assert.deepEqual(segment.dropped, []);
  assert.equal(tracks(segment.accepted, "call.action_items")[1].properties.action_items.length, 2);
});

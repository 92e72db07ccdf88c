// Aircall AI data to Segment, end to end: an AI webhook event -> the worker (Miniflare) reads
// that one AI object from the fake Aircall -> the fake Segment (which answers 200 and drops
// what passes its documented limits, as Segment does) gets a track with the content. A long
// transcript arrives in parts that join to what Aircall served; nothing is dropped.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, waitUntilQuiet } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeSegment } from "../fakes/segment.mjs";

const AI_EVENTS = ["transcription.created", "summary.created", "topics.created", "sentiment.created", "action_item.created"];
let aircall, segment, connector, integration;
const post = (url, init) => connector.dispatch(url, init);

before(async () => {
  aircall = await new FakeAircall().start();
  aircall.addKey("api-ai-seg", "api-ai-seg-token");
  segment = await new FakeSegment().start();
  segment.writeKeys.add("wk_ai");
  connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, SEGMENT_US_BASE: segment.url, SEGMENT_EU_BASE: segment.euUrl, RETRY_BASE_SECONDS: "1" },
  });
  const r = await connector.api("POST", "/api/integrations", {
    name: "AI to Segment",
    aircall: { api_id: "api-ai-seg", api_token: "api-ai-seg-token" },
    destination: { type: "segment", write_key: "wk_ai", region: "us" },
    events: AI_EVENTS,
  });
  assert.equal(r.status, 201, r.text);
  integration = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
});
after(async () => {
  await connector?.dispose();
  await segment?.stop();
  await aircall?.stop();
});

const fire = async (event, data, timestamp = 1_763_990_000) => {
  const r = await aircall.fire(integration.webhook, event, data, { post, timestamp });
  assert.equal(r.status, 202, r.body);
  return JSON.parse(r.body);
};
const tracksOfCall = (callId) => segment.accepted.filter((m) => m.properties?.call_id === callId);
const received = (callId) => segment.received.filter((m) => m.properties?.call_id === callId);

// A transcript of about `bytes` bytes: alternating agent and caller, as Aircall serves it.
function longTranscript(bytes) {
  const utterances = [];
  let size = 0;
  for (let n = 0; size < bytes; n++) {
    const u = n % 2 === 0
      ? { start_time: n * 4, end_time: n * 4 + 3.5, text: `Agent line ${n}: let me check that invoice for you, one moment please.`, participant_type: "internal", user_id: 456 }
      : { start_time: n * 4, end_time: n * 4 + 3.5, text: `Caller line ${n}: I was charged twice for the same order, can you refund it?`, participant_type: "external", phone_number: "+33612345678" };
    utterances.push(u);
    size += JSON.stringify(u).length + 1;
  }
  return { language: "en", utterances };
}

test("a 60 KB transcript reaches Segment whole, in parts under 32 KB, nothing rejected", async () => {
  const transcription = longTranscript(60_000);
  const served = aircall.addAiData("api-ai-seg", 4001, { transcription });
  assert.ok(JSON.stringify(served.transcription).length > 60_000);
  const r = await fire("transcription.created", { id: 9401, call_id: 4001 });

  const parts = await waitFor(() => {
    const got = tracksOfCall(4001);
    return got.length > 0 && got.length === got[0].properties.parts && got;
  }, { timeout: 30_000, what: "every part of the transcript" });
  assert.ok(parts.length >= 2, `${parts.length} parts`);
  assert.deepEqual(segment.dropped, [], "Segment dropped nothing");
  parts.sort((a, b) => a.properties.part - b.properties.part);
  parts.forEach((t, n) => {
    assert.equal(t.type, "track");
    assert.equal(t.event, "call.transcription");
    assert.equal(t.anonymousId, "aircall-call-4001");
    assert.equal(t.properties.part, n + 1);
    // The transcript's own id (its content's, not the webhook's), numbered by part.
    assert.equal(t.messageId, `${parts[0].messageId.replace(/-1-track$/, "")}-${n + 1}-track`);
    assert.match(t.messageId, /^msg_[0-9a-f]{32}-\d+-track$/);
    assert.notEqual(t.messageId.split("-")[0], r.delivery_id);
    assert.ok(Buffer.byteLength(JSON.stringify(t)) <= 32 * 1024);
    const { utterances, ...content } = t.properties.transcription.content;
    assert.deepEqual(content, { language: "en" });
    const { content: _, ...meta } = t.properties.transcription;
    const { content: __, ...servedMeta } = served.transcription.transcription;
    assert.deepEqual(meta, servedMeta, "each part names the transcript");
  });
  const joined = parts.flatMap((t) => t.properties.transcription.content.utterances);
  assert.deepEqual(joined, transcription.utterances, "the parts join to what Aircall served");
  // Each part also links to the whole transcript, archived.
  const link = parts[0].properties.transcript_url;
  assert.ok(parts.every((t) => t.properties.transcript_url === link));
  const archived = await connector.dispatch(link);
  assert.equal(archived.status, 200);
  assert.deepEqual(await archived.json(), served.transcription.transcription);
  assert.equal(aircall.aiRequests("api-ai-seg").filter((q) => q.path === "/v1/calls/4001/transcription").length, 1);
});

test("each AI kind reaches Segment once, with its content, and a replay has the same messageId", async () => {
  const served = aircall.addAiData("api-ai-seg", 4002, {
    transcription: { language: "en", utterances: [{ start_time: 0, end_time: 2, text: "Hello.", participant_type: "internal", user_id: 456 }] },
    summary: "The caller asked for a refund; it was granted.",
    topics: ["billing", "refund"],
    sentiments: [{ phone_number: "+33612345678", value: "POSITIVE", type: "external" }],
    action_items: [{ text: "Send the refund confirmation", user_id: 456 }],
  });
  const before = aircall.aiRequests("api-ai-seg").length;
  const ids = {};
  let n = 0;
  for (const event of AI_EVENTS) ids[event] = (await fire(event, { id: 9500 + n++, call_id: 4002 })).delivery_id;
  const kinds = {
    "transcription.created": ["call.transcription", "transcription"],
    "summary.created": ["call.summary", "summary"],
    "topics.created": ["call.topics", "topics"],
    "sentiment.created": ["call.sentiment", "sentiments"],
    "action_item.created": ["call.action_items", "action_items"],
  };
  await waitFor(() => tracksOfCall(4002).length >= 5, { timeout: 30_000, what: "five AI tracks" });
  // The same summary webhook again (Aircall retrying it): same delivery id, same messageId.
  const again = await fire("summary.created", { id: 9501, call_id: 4002 });
  assert.equal(again.delivery_id, ids["summary.created"]);
  await waitFor(() => received(4002).length >= 6, { timeout: 30_000, what: "the replay at Segment" });
  await waitUntilQuiet(() => segment.received.length);

  const tracks = tracksOfCall(4002);
  assert.equal(tracks.length, 5, "each kind once");
  assert.equal(new Set(tracks.map((t) => t.messageId)).size, 5);
  for (const [event, [name, path]] of Object.entries(kinds)) {
    const got = tracks.filter((t) => t.event === name);
    assert.equal(got.length, 1, name);
    // The content's id: one per kind, none the webhook's own.
    assert.match(got[0].messageId, /^msg_[0-9a-f]{32}-track$/);
    assert.ok(!Object.values(ids).some((id) => got[0].messageId.startsWith(id)), name);
    const { transcript_url, ...properties } = got[0].properties;
    assert.deepEqual(properties, { call_id: 4002, ...served[path] }, name);
    assert.equal(transcript_url !== undefined, name === "call.transcription", `${name}: the archived transcript's link`);
  }
  // The event log shows what Segment was sent, under the data's id.
  const logged = await connector.api("GET", `/api/integrations/${integration.id}/events/${ids["summary.created"]}`);
  assert.equal(logged.status, 200, logged.text);
  assert.equal(logged.json.sent.payload.batch[0].messageId, tracks.find((t) => t.event === "call.summary").messageId);
  assert.equal(logged.json.sent.payload.batch[0].event, "call.summary");
  const replays = received(4002).filter((m) => m.event === "call.summary");
  assert.equal(replays.length, 2, "the replay was sent");
  assert.equal(replays[0].messageId, replays[1].messageId, "with the same messageId, which Segment drops");
  assert.equal(segment.duplicates >= 1, true);
  assert.deepEqual(segment.dropped, []);
  assert.equal(aircall.aiRequests("api-ai-seg").length - before, 6, "one Aircall read per AI event");
});

test("a replayed long transcript gives the same parts and messageIds", async () => {
  aircall.addAiData("api-ai-seg", 4003, { transcription: longTranscript(45_000) });
  const first = await fire("transcription.created", { id: 9601, call_id: 4003 });
  const once = await waitFor(() => {
    const got = received(4003);
    return got.length > 0 && got.length === got[0].properties.parts && got;
  }, { timeout: 30_000, what: "the parts" });
  const again = await fire("transcription.created", { id: 9601, call_id: 4003 });
  assert.equal(again.delivery_id, first.delivery_id);
  await waitFor(() => received(4003).length === 2 * once.length, { timeout: 30_000, what: "the replayed parts" });
  const ids = received(4003).map((m) => m.messageId);
  assert.deepEqual(ids.slice(once.length).sort(), ids.slice(0, once.length).sort());
  assert.equal(tracksOfCall(4003).length, once.length, "Segment kept each part once");
});

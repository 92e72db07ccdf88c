// Aircall AI data, end to end: an AI webhook event -> the worker (Miniflare) reads that one AI
// object from the fake Aircall -> the signed webhook receiver gets call.summary, ... with the
// call id and the content. And a company without the AI package: stays active, one AI read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, sleep } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";

const SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
let aircall, receiver, connector;
let withAi, withoutAi; // {id, webhook}
const post = (url, init) => connector.dispatch(url, init);

async function createIntegration(name, apiId) {
  aircall.addKey(apiId, `${apiId}-token`);
  const r = await connector.api("POST", "/api/integrations", {
    name,
    aircall: { api_id: apiId, api_token: `${apiId}-token` },
    destination: { type: "webhook", url: receiver.url, secret: SECRET },
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
}

before(async () => {
  aircall = await new FakeAircall().start();
  receiver = await new FakeReceiver().start();
  receiver.secret = SECRET;
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, RETRY_BASE_SECONDS: "1", RETRY_MAX_ATTEMPTS: "3" } });
  withAi = await createIntegration("With AI", "api-ai");
  withoutAi = await createIntegration("Without AI", "api-no-ai");
  aircall.withoutAi("api-no-ai");
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});

const deliveredOfCall = (callId) => receiver.delivered.filter((d) => d.body?.data?.call_id === callId);
// An AI webhook's data: the AI object's id and its call (the AI objects' own fields).
const aiEvent = (callId, n) => ({ id: 9000 + n, call_id: callId });

const utterances = [
  { start_time: 0.4, end_time: 2.9, text: "Sales, Madeline speaking.", participant_type: "internal", user_id: 456 },
  { start_time: 3.1, end_time: 7.5, text: "My last invoice was charged twice.", participant_type: "external", phone_number: "+33612345678" },
];

test("each AI event reaches the webhook once, signed, with the call id and its content", async () => {
  const served = aircall.addAiData("api-ai", 2001, {
    transcription: { language: "en", utterances },
    summary: "The customer was charged twice; a refund was promised.",
    topics: ["billing", "refund"],
    sentiments: [{ phone_number: "+33612345678", value: "NEGATIVE", type: "external" }],
    action_items: [{ text: "Refund the second charge", user_id: 456 }],
  });
  const events = {
    "transcription.created": ["call.transcription", "transcription"],
    "summary.created": ["call.summary", "summary"],
    "topics.created": ["call.topics", "topics"],
    "sentiment.created": ["call.sentiment", "sentiments"],
    "action_item.created": ["call.action_items", "action_items"],
  };
  let n = 0;
  for (const event of Object.keys(events)) {
    const r = await aircall.fire(withAi.webhook, event, aiEvent(2001, n++), { post });
    assert.equal(r.status, 202, r.body);
  }
  const got = await waitFor(() => deliveredOfCall(2001).length >= 5 && deliveredOfCall(2001), { what: "five AI deliveries" });
  await sleep(1500); // and no more come
  assert.equal(deliveredOfCall(2001).length, 5, "each once");
  for (const [event, [type, path]] of Object.entries(events)) {
    const d = got.find((g) => g.body.type === type);
    assert.ok(d, `${type} for ${event}`);
    assert.equal(d.valid, true, "signature verifies");
    const { transcript_url, ...data } = d.body.data;
    assert.deepEqual(data, { call_id: 2001, ...served[path] }, type);
    assert.equal(transcript_url !== undefined, type === "call.transcription", `${type}: a link to the archived transcript`);
  }
  const summary = got.find((g) => g.body.type === "call.summary").body.data.summary;
  assert.equal(summary.content, "The customer was charged twice; a refund was promised.");
  const transcript = got.find((g) => g.body.type === "call.transcription").body.data.transcription;
  assert.deepEqual(transcript.content.utterances, utterances);
  assert.equal(aircall.aiRequests("api-ai").length, 5, "one Aircall request per AI event");
});

test("a replayed AI webhook gives the same webhook-id", async () => {
  aircall.addAiData("api-ai", 2002, { summary: "Short call." });
  const send = async () => JSON.parse((await aircall.fire(withAi.webhook, "summary.created", aiEvent(2002, 50), { post, timestamp: 1_763_990_000 })).body);
  const first = await send();
  const again = await send();
  assert.equal(first.delivery_id, again.delivery_id);
  const both = await waitFor(() => deliveredOfCall(2002).length === 2 && deliveredOfCall(2002), { what: "both copies" });
  assert.equal(both[0].id, both[1].id, "a receiver drops the repeat by webhook-id");
  // The id of the summary itself: the same content from an import or another event is one id.
  assert.match(both[0].id, /^msg_[0-9a-f]{32}$/);
  assert.notEqual(both[0].id, first.delivery_id);
  assert.equal(both[0].body.type, "call.summary");
});

test("a call without AI data is a failed delivery naming why, not a silent loss", async () => {
  const r = JSON.parse((await aircall.fire(withAi.webhook, "topics.created", aiEvent(2003, 60), { post })).body);
  const failed = await waitFor(async () => {
    const list = await connector.api("GET", `/api/integrations/${withAi.id}/deliveries?status=failed`);
    return list.json.deliveries.find((d) => d.delivery_id === r.delivery_id);
  }, { what: "dead letter" });
  assert.match(failed.reason, /topics of call 2003 could not be read: Aircall answered HTTP 404/);
  assert.equal(deliveredOfCall(2003).length, 0);
});

test("an account without the AI package stays active and makes at most one AI request for many AI events", async () => {
  const kinds = ["transcription.created", "summary.created", "topics.created", "sentiment.created", "action_item.created"];
  for (let n = 0; n < 12; n++) {
    const r = await aircall.fire(withoutAi.webhook, kinds[n % 5], aiEvent(3000 + n, n), { post });
    assert.equal(r.status, 202, r.body);
  }
  const notSent = () => connector.logs.join("").split("\n").filter((l) => l.includes("not sent: Aircall refuses this account's AI data")).length;
  await waitFor(() => notSent() >= 12, { what: "twelve AI events acknowledged" });
  assert.equal(aircall.aiRequests("api-no-ai").length, 1, "one AI read, then none");
  assert.equal(aircall.requests.filter((r) => r.api_id === "api-no-ai" && r.path === "/v1/ping").length, 1, "only the creation's ping");

  const view = await connector.api("GET", `/api/integrations/${withoutAi.id}`);
  assert.equal(view.json.status, "active");
  assert.equal(view.json.ai.available, false);
  assert.ok(Math.abs(Date.parse(view.json.ai.since) - Date.now()) < 60_000, view.json.ai.since);
  assert.ok(Date.parse(view.json.ai.next_check_after) - Date.parse(view.json.ai.since) === 86_400_000);
  assert.equal((await connector.api("GET", `/api/integrations/${withAi.id}`)).json.ai.available, true);
  const failed = await connector.api("GET", `/api/integrations/${withoutAi.id}/deliveries?status=failed`);
  assert.deepEqual(failed.json.deliveries, [], "acknowledged, not failed");
  assert.equal(receiver.attempts.filter((a) => a.body?.data?.call_id >= 3000).length, 0, "nothing sent");

  // Deleting the integration removes what it knew of AI.
  const key = `ai-unavailable:${withoutAi.id}`;
  assert.ok(key in (await connector.kvDump()));
  assert.equal((await connector.api("DELETE", `/api/integrations/${withoutAi.id}`)).status, 200);
  assert.ok(!(key in (await connector.kvDump())));
});

test("the transcript is archived beside the recording: fetchable by its signed link, gone with the integration", async () => {
  const served = aircall.addAiData("api-ai", 2010, { transcription: { language: "en", utterances } });
  await aircall.fire(withAi.webhook, "transcription.created", aiEvent(2010, 70), { post });
  const d = await waitFor(() => deliveredOfCall(2010)[0], { what: "the transcript delivered" });
  const link = d.body.data.transcript_url;
  assert.match(link, new RegExp(`^https://connector\\.test/recordings/${withAi.id}/2010\\.transcript\\.json\\?expires=\\d+&signature=[0-9a-f]{64}$`));
  const got = await post(link);
  assert.equal(got.status, 200);
  assert.match(got.headers.get("content-type"), /application\/json/);
  assert.deepEqual(await got.json(), served.transcription.transcription, "what Aircall served");
  assert.equal((await post(link.replace(/signature=.*$/, `signature=${"ab".repeat(32)}`))).status, 403, "a wrong signature");
  assert.deepEqual(await connector.r2Keys(`recordings/${withAi.id}/`), [`recordings/${withAi.id}/2010.transcript.json`, `recordings/${withAi.id}/2001.transcript.json`].sort());

  assert.equal((await connector.api("DELETE", `/api/integrations/${withAi.id}`)).status, 200);
  await waitFor(async () => (await connector.r2Keys(`recordings/${withAi.id}/`)).length === 0, { timeout: 30_000, what: "the archive emptied" });
  assert.equal((await post(link)).status, 404, "gone with the integration");
});

// Aircall AI data to HubSpot, end to end: an AI webhook event -> the worker (Miniflare) reads
// the AI object (and the call, when HubSpot has not logged it yet) from the fake Aircall -> the
// fake HubSpot, which refuses call properties its portal lacks, answers 409 to a property
// created twice, and has no idempotency on creates, as HubSpot. Each AI kind lands once; a
// replayed action_item.created updates its task, never makes a second.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, waitUntilQuiet } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";
import { call } from "./payloads.mjs";

const TOKEN = "pat-na1-ai";
const AI_EVENTS = ["transcription.created", "summary.created", "topics.created", "sentiment.created", "action_item.created"];
let aircall, hubspot, connector, owner, contact, integration;
const post = (url, init) => connector.dispatch(url, init);

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey("api-ai-hs", "api-ai-hs-token");
  hubspot = await new FakeHubSpot({ tokens: [TOKEN] }).start();
  owner = hubspot.addOwner({ email: "madeline@example.com", firstName: "Madeline", lastName: "Agent" });
  contact = hubspot.addContact({ email: "jean@acme.test", firstname: "Jean", lastname: "Dupont", phone: "+33 6 12 34 56 78" });
  connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600", HUBSPOT_API_BASE: hubspot.url, RETRY_BASE_SECONDS: "1", RETRY_MAX_ATTEMPTS: "3" },
  });
  const r = await connector.api("POST", "/api/integrations", {
    name: "AI to HubSpot",
    aircall: { api_id: "api-ai-hs", api_token: "api-ai-hs-token" },
    destination: { type: "hubspot", access_token: TOKEN },
  });
  assert.equal(r.status, 201, r.text);
  integration = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
});
after(async () => {
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

const fire = async (event, data, timestamp = 1_763_990_000) => {
  const r = await aircall.fire(integration.webhook, event, data, { post, timestamp });
  assert.equal(r.status, 202, r.body);
  return JSON.parse(r.body);
};
const engagementsOf = (callId) => [...hubspot.calls.values()].filter((c) => c.properties.hs_call_body?.includes(`Aircall call ${callId} `));
const deadLetters = async () => (await connector.api("GET", `/api/integrations/${integration.id}/deliveries?status=failed`)).json.deliveries;
const aiData = {
  transcription: {
    language: "en",
    utterances: [
      { start_time: 0.4, end_time: 2.9, text: "Sales, Madeline speaking.", participant_type: "internal", user_id: 456 },
      { start_time: 3.1, end_time: 7.5, text: "My invoice was charged <twice>.", participant_type: "external", phone_number: "+33612345678" },
    ],
  },
  summary: "The customer was charged twice; a refund was promised.",
  topics: ["billing", "refund"],
  sentiments: [{ phone_number: "+33612345678", value: "NEGATIVE", type: "external" }],
  action_items: [{ text: "Refund the second charge", user_id: 456 }, { text: "Email the corrected invoice", user_id: 456 }],
};

// Fired with a time long past (the default above): the call's own event did not come within
// the wait, so the call is read and logged by the AI data.
test("each AI kind lands once on the call's engagement, logged first when HubSpot had not got it", async () => {
  const t = Math.floor(Date.now() / 1000) - 900;
  aircall.addCalls("api-ai-hs", [call(8001, { started_at: t, answered_at: t + 5, ended_at: t + 200 })]);
  aircall.addAiData("api-ai-hs", 8001, aiData);
  let n = 0;
  for (const event of AI_EVENTS) await fire(event, { id: 9800 + n++, call_id: 8001 });

  await waitFor(() => hubspot.tasks.size >= 2 && [...hubspot.notes.values()].length >= 2 && engagementsOf(8001)[0]?.properties.aircall_ai_sentiment && engagementsOf(8001)[0]?.properties.aircall_ai_topics, { timeout: 90_000, what: "every AI kind in HubSpot" });
  await waitUntilQuiet(() => hubspot.requests.length);

  const engagements = engagementsOf(8001);
  assert.equal(engagements.length, 1, "one engagement for the call, however many AI events created it");
  const engagement = engagements[0];
  assert.deepEqual(engagement.contactIds, [contact.id]);
  assert.equal(engagement.properties.hubspot_owner_id, owner.id);
  assert.equal(engagement.properties.aircall_ai_topics, "billing; refund");
  assert.equal(engagement.properties.aircall_ai_sentiment, "NEGATIVE");
  assert.equal(engagement.properties.aircall_ai_summary, "The customer was charged twice; a refund was promised.", "for insight cards");
  assert.deepEqual([...hubspot.callProperties.keys()].sort(), ["aircall_ai_sentiment", "aircall_ai_summary", "aircall_ai_topics"], "created in the portal");

  const notes = [...hubspot.notes.values()];
  assert.equal(notes.length, 2, "a summary note and a transcript note");
  const summary = notes.find((x) => x.properties.hs_note_body.includes("Aircall AI summary"));
  assert.match(summary.properties.hs_note_body, /The customer was charged twice; a refund was promised\./);
  const transcript = notes.find((x) => x.properties.hs_note_body.includes("Aircall AI transcript"));
  assert.match(transcript.properties.hs_note_body, /<p>Madeline Agent: Sales, Madeline speaking\.<\/p>/, "the agent by name");
  assert.match(transcript.properties.hs_note_body, /<p>Caller \(\+33612345678\): My invoice was charged &lt;twice&gt;\.<\/p>/);
  const link = /<a href="([^"]+)">The transcript, archived<\/a>/.exec(transcript.properties.hs_note_body)?.[1];
  assert.ok(link, "the note links to the archived transcript");
  assert.equal((await connector.dispatch(link.replaceAll("&amp;", "&"))).status, 200);
  for (const note of notes) {
    assert.deepEqual(note.contactIds, [contact.id]);
    assert.deepEqual(note.callIds, [engagement.id]);
    assert.equal(note.properties.hubspot_owner_id, owner.id);
  }

  const tasks = [...hubspot.tasks.values()];
  assert.deepEqual(tasks.map((x) => x.properties.hs_task_subject).sort(), ["Email the corrected invoice", "Refund the second charge"]);
  for (const task of tasks) {
    assert.equal(task.properties.hubspot_owner_id, owner.id, "owned by the call's owner");
    assert.deepEqual(task.contactIds, [contact.id]);
    assert.equal(task.properties.hs_task_status, "NOT_STARTED");
  }
  assert.deepEqual(await deadLetters(), []);
  const reads = aircall.requests.filter((r) => r.api_id === "api-ai-hs" && r.path.startsWith("/v1/calls/8001"));
  assert.equal(reads.filter((r) => r.path !== "/v1/calls/8001").length, 5, "one AI read per AI event");
  // The call itself, to log it: once per queue batch of its AI events (they came together).
  const callReads = reads.filter((r) => r.path === "/v1/calls/8001").length;
  assert.ok(callReads >= 1 && callReads <= 2, `${callReads} reads of the call`);
});

test("a replayed action_item.created updates its tasks and creates no second one", async () => {
  const before = new Map([...hubspot.tasks.values()].map((x) => [x.id, structuredClone(x.properties)]));
  // The owner completed one task meanwhile: a replay must not reopen it.
  const done = [...hubspot.tasks.values()][0];
  done.properties.hs_task_status = "COMPLETED";
  const replayed = await fire("action_item.created", { id: 9804, call_id: 8001 });
  assert.ok(replayed.delivery_id);
  const taskUpdates = () => hubspot.requests.filter((r) => r.method === "PATCH" && r.path.startsWith("/crm/v3/objects/tasks/") && r.status === 200);
  await waitFor(() => taskUpdates().length >= 2, { timeout: 60_000, what: "the replay's task updates" });
  await waitUntilQuiet(() => hubspot.requests.length);
  assert.equal(hubspot.tasks.size, before.size, "no second task");
  assert.deepEqual([...hubspot.tasks.keys()].sort(), [...before.keys()].sort());
  assert.equal(hubspot.tasks.get(done.id).properties.hs_task_status, "COMPLETED", "its status kept");
  assert.equal([...hubspot.notes.values()].length, 2);
  assert.equal(engagementsOf(8001).length, 1);
});

test("AI data of a call already logged goes on its engagement without reading the call again", async () => {
  const t = Math.floor(Date.now() / 1000) - 600;
  const data = call(8002, { started_at: t, answered_at: t + 5, ended_at: t + 90 });
  aircall.addCalls("api-ai-hs", [data]);
  await fire("call.ended", data);
  await waitFor(() => engagementsOf(8002).length === 1, { timeout: 30_000, what: "the call logged" });
  aircall.addAiData("api-ai-hs", 8002, { summary: "Quick question about delivery times." });
  const notesBefore = hubspot.notes.size;
  await waitUntilQuiet(() => aircall.requests.length + hubspot.requests.length);
  const seen = aircall.requests.length;
  await fire("summary.created", { id: 9900, call_id: 8002 });
  const note = await waitFor(() => [...hubspot.notes.values()].find((x) => x.properties.hs_note_body.includes("Quick question about delivery times.") && x.callIds.length), { timeout: 30_000, what: "the summary note" });
  assert.deepEqual(note.callIds, [engagementsOf(8002)[0].id]);
  assert.equal(hubspot.notes.size, notesBefore + 1);
  assert.equal(engagementsOf(8002).length, 1);
  const reads = aircall.requests.slice(seen).filter((r) => r.api_id === "api-ai-hs");
  assert.deepEqual(reads.map((r) => r.path), ["/v1/calls/8002/summary"], "the AI read only");
});

test("AI events that come before the call is logged wait for the call's own delivery: one Aircall request each, plus the call's", async () => {
  const t = Math.floor(Date.now() / 1000) - 300;
  const data = call(8003, { started_at: t, answered_at: t + 5, ended_at: t + 120 });
  aircall.addCalls("api-ai-hs", [data]);
  aircall.addAiData("api-ai-hs", 8003, { summary: "Asked for a discount.", topics: ["pricing"], action_items: [{ text: "Send the discount offer", user_id: 456 }] });
  await waitUntilQuiet(() => aircall.requests.length + hubspot.requests.length);
  const seen = aircall.requests.length;
  const tasksBefore = hubspot.tasks.size;
  const readsSince = () => aircall.requests.slice(seen).filter((r) => r.api_id === "api-ai-hs").map((r) => r.path).sort();
  // Aircall's AI events with their real time, before the call's own event.
  const now = Math.floor(Date.now() / 1000);
  await fire("summary.created", { id: 9910, call_id: 8003 }, now);
  await fire("topics.created", { id: 9911, call_id: 8003 }, now);
  await fire("action_item.created", { id: 9912, call_id: 8003 }, now);
  await waitFor(() => connector.logs.join("").split("call 8003 is not logged in the CRM yet").length - 1 >= 3, { timeout: 30_000, what: "the AI events waiting" });
  assert.equal(engagementsOf(8003).length, 0, "no engagement made by the AI events");
  assert.deepEqual(readsSince(), [], "waiting costs no Aircall request");

  await fire("call.ended", data);
  await waitFor(() => {
    const engagement = engagementsOf(8003)[0];
    return engagement?.properties.aircall_ai_topics === "pricing" && hubspot.tasks.size === tasksBefore + 1
      && [...hubspot.notes.values()].some((n) => n.properties.hs_note_body.includes("Asked for a discount.") && n.callIds.includes(engagement.id));
  }, { timeout: 120_000, what: "the AI data on the call's engagement" });
  await waitUntilQuiet(() => aircall.requests.length + hubspot.requests.length);
  assert.equal(engagementsOf(8003).length, 1, "one engagement: the call's own");
  const reads = readsSince();
  assert.deepEqual(reads.filter((path) => path !== "/v1/calls/8003"), ["/v1/calls/8003/action_items", "/v1/calls/8003/summary", "/v1/calls/8003/topics"], "one AI read per AI event");
  assert.ok(reads.filter((path) => path === "/v1/calls/8003").length <= 1, `the call read at most once, by its own event: ${reads}`);
  assert.deepEqual(await deadLetters(), []);
});

test("deleting the integration removes what it kept of the AI data (notes, tasks, agents, properties)", async () => {
  const prefix = `hubspot-ai:${integration.id}:`;
  assert.ok(Object.keys(await connector.kvDump()).some((k) => k.startsWith(prefix)));
  assert.equal((await connector.api("DELETE", `/api/integrations/${integration.id}`)).status, 200);
  await waitFor(async () => !Object.keys(await connector.kvDump()).some((k) => k.startsWith(prefix) || k.includes(integration.id)), { timeout: 30_000, what: "the keys removed" });
});

test("a HubSpot integration cannot take AI events without call.ended: created or changed, a 400 under events and nothing saved", async () => {
  const webhooksBefore = aircall.webhooks.size;
  const refused = await connector.api("POST", "/api/integrations", {
    name: "AI without its calls",
    aircall: { api_id: "api-ai-hs", api_token: "api-ai-hs-token" },
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["summary.created", "call.created"],
  });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error.code, "invalid_fields");
  assert.deepEqual(refused.json.error.fields.map((p) => p.field), ["events"]);
  assert.match(refused.json.error.fields[0].message, /call\.ended/);
  assert.equal(aircall.webhooks.size, webhooksBefore, "no webhook made at Aircall");

  const created = await connector.api("POST", "/api/integrations", {
    name: "AI with its calls",
    aircall: { api_id: "api-ai-hs", api_token: "api-ai-hs-token" },
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["summary.created", "call.ended"],
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  const patched = await connector.api("PATCH", `/api/integrations/${id}`, { events: ["summary.created", "transcription.created"] });
  assert.equal(patched.status, 400, patched.text);
  assert.deepEqual(patched.json.error.fields.map((p) => p.field), ["events"]);
  const after = (await connector.api("GET", `/api/integrations/${id}`)).json;
  assert.deepEqual(after.events, ["summary.created", "call.ended"], "the selection is unchanged");
  const accepted = await connector.api("PATCH", `/api/integrations/${id}`, { events: ["topics.created", "call.ended"] });
  assert.equal(accepted.status, 200, accepted.text);
  assert.deepEqual(accepted.json.events, ["topics.created", "call.ended"]);
});

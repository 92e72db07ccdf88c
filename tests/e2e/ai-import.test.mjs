// Import with `import.ai: "when_available"` in Miniflare: each imported call also brings the
// Aircall AI data it already has, read through the account's budget (counted here at the fake
// Aircall); a kind the call has no data of is skipped, not failed; a company without the AI
// package costs one AI request, then none.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, waitUntilQuiet } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";
import { call } from "./payloads.mjs";

let aircall, receiver, hubspot, connector;
const HUBSPOT_TOKEN = "pat-na1-ai-import";
const now = () => Math.floor(Date.now() / 1000);
const stored = (id, startedAt) => ({ ...call(id), started_at: startedAt, recording: true });

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  receiver = await new FakeReceiver().start();
  hubspot = await new FakeHubSpot({ tokens: [HUBSPOT_TOKEN] }).start();
  hubspot.addOwner({ email: "madeline@example.com", firstName: "Madeline", lastName: "Agent" });
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600", HUBSPOT_API_BASE: hubspot.url } });
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await hubspot?.close();
  await aircall?.stop();
});

async function importing(apiId, ids, settings, destination = { type: "webhook", url: receiver.url }) {
  aircall.addKey(apiId, `${apiId}-token`);
  const t = now() - 3_600;
  aircall.addCalls(apiId, ids.map((id, n) => stored(id, t + n * 60)));
  const r = await connector.api("POST", "/api/integrations", {
    name: apiId,
    aircall: { api_id: apiId, api_token: `${apiId}-token` },
    destination,
    import: settings,
  });
  assert.equal(r.status, 201, r.text);
  if (destination.type === "webhook") receiver.secret = r.json.destination.secret;
  return r.json;
}
const ofCall = (id) => receiver.delivered.filter((d) => (d.body?.data?.call_id ?? d.body?.data?.id) === id).map((d) => d.body.type).sort();

test("import.ai is \"off\" by default and refuses anything but off or when_available, under its name", async () => {
  const bad = await connector.api("POST", "/api/integrations", {
    name: "x", aircall: { api_id: "a", api_token: "b" }, destination: { type: "webhook", url: receiver.url }, import: { ai: "sometimes" },
  });
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual(bad.json.error.fields, [{ field: "import.ai", message: "must be \"off\" or \"when_available\"" }]);
  const off = await importing("api-ai-off", [6101], {});
  assert.equal(off.import.ai, "off");
  aircall.addAiData("api-ai-off", 6101, { summary: "Not asked for." });
  await connector.api("POST", `/api/integrations/${off.id}/sync`);
  await waitFor(() => ofCall(6101).length === 1, { timeout: 30_000, what: "the import" });
  await waitUntilQuiet(() => receiver.delivered.length);
  assert.deepEqual(ofCall(6101), ["call.imported"]);
  assert.equal(aircall.aiRequests("api-ai-off").length, 0);
});

test("when_available: imported calls bring the AI data they have, one read per kind, none failed", async () => {
  const integration = await importing("api-ai-imp", [6201, 6202], { ai: "when_available" });
  aircall.addAiData("api-ai-imp", 6201, { summary: "Refund promised.", topics: ["billing"] });
  // 6202 has no AI data at all: every read answers 404.
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.status, 200, r.text);
  await waitFor(() => ofCall(6201).length === 3, { timeout: 30_000, what: "the call and its AI data" });
  await waitUntilQuiet(() => receiver.delivered.length + aircall.requests.length);
  assert.deepEqual(ofCall(6201), ["call.imported", "call.summary", "call.topics"]);
  assert.deepEqual(ofCall(6202), ["call.imported"]);
  const summary = receiver.delivered.find((d) => d.body.type === "call.summary" && d.body.data.call_id === 6201);
  assert.equal(summary.body.data.summary.content, "Refund promised.");
  assert.equal(aircall.aiRequests("api-ai-imp").length, 10, "one read per kind per call: 2 calls x 5 kinds");
  const failed = await connector.api("GET", `/api/integrations/${integration.id}/deliveries?status=failed`);
  assert.deepEqual(failed.json.deliveries, [], "a kind without data is skipped, not failed");
});

test("when_available without the AI package: one AI request for the whole import, the integration active", async () => {
  const ids = [6301, 6302, 6303, 6304];
  aircall.withoutAi("api-ai-none");
  const integration = await importing("api-ai-none", ids, { ai: "when_available" });
  await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  await waitFor(() => ids.every((id) => ofCall(id).length === 1), { timeout: 30_000, what: "the calls imported" });
  // The transcript is asked for by each call's own job (one 403, then known): no
  // transcription event; the other four kinds are acknowledged without a request.
  await waitFor(() => connector.logs.join("").split("not sent: Aircall refuses this account's AI data").length - 1 >= 16, { timeout: 30_000, what: "the AI events acknowledged" });
  await waitUntilQuiet(() => aircall.requests.length);
  assert.equal(aircall.aiRequests("api-ai-none").length, 1, "one 403, then none");
  const view = await connector.api("GET", `/api/integrations/${integration.id}`);
  assert.equal(view.json.status, "active");
  assert.equal(view.json.ai.available, false);
  for (const id of ids) assert.deepEqual(ofCall(id), ["call.imported"]);
});

const utterances = [
  { start_time: 0.4, end_time: 2.9, text: "Sales, Madeline speaking.", participant_type: "internal", user_id: 456 },
  { start_time: 3.1, end_time: 7.5, text: "My last invoice was charged twice.", participant_type: "external", phone_number: "+33612345678" },
];

test("an imported call's record links to its archived transcript, read once by the call's own job", async () => {
  const integration = await importing("api-ai-tr", [6401, 6402], { ai: "when_available" });
  const served = aircall.addAiData("api-ai-tr", 6401, { transcription: { language: "en", utterances }, summary: "Refund." });
  // 6402 has no transcript (404): its record has no link, and no transcription event goes.
  aircall.addAiData("api-ai-tr", 6402, { summary: "Nothing to transcribe." });
  await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  await waitFor(() => ofCall(6401).length === 3 && ofCall(6402).length === 2, { timeout: 30_000, what: "the calls and their AI data" });
  await waitUntilQuiet(() => receiver.delivered.length + aircall.requests.length);
  assert.deepEqual(ofCall(6401), ["call.imported", "call.summary", "call.transcription"]);
  assert.deepEqual(ofCall(6402), ["call.imported", "call.summary"]);

  const record = receiver.delivered.find((d) => d.body.type === "call.imported" && d.body.data.id === 6401).body.data;
  assert.match(record.transcript_url, new RegExp(`^https://connector\\.test/recordings/${integration.id}/6401\\.transcript\\.json\\?expires=\\d+&signature=[0-9a-f]{64}$`));
  const archived = await connector.dispatch(record.transcript_url);
  assert.equal(archived.status, 200);
  assert.deepEqual(await archived.json(), served.transcription.transcription, "the link serves what Aircall served");
  const transcription = receiver.delivered.find((d) => d.body.type === "call.transcription" && d.body.data.call_id === 6401).body.data;
  assert.equal(transcription.transcript_url, record.transcript_url, "the transcription event links to the same copy");
  assert.deepEqual(transcription.transcription, served.transcription.transcription);
  const other = receiver.delivered.find((d) => d.body.type === "call.imported" && d.body.data.id === 6402).body.data;
  assert.equal(other.transcript_url, undefined);

  const reads = aircall.aiRequests("api-ai-tr");
  assert.equal(reads.length, 10, "one read per kind per call, as before: 2 calls x 5 kinds");
  assert.equal(reads.filter((r) => r.path === "/v1/calls/6401/transcription").length, 1, "the transcript read once");
  const failed = await connector.api("GET", `/api/integrations/${integration.id}/deliveries?status=failed`);
  assert.deepEqual(failed.json.deliveries, []);
});

test("an imported call logged in HubSpot links to its archived transcript from the engagement", async () => {
  const integration = await importing("api-ai-tr-hs", [6501], { ai: "when_available" }, { type: "hubspot", access_token: HUBSPOT_TOKEN });
  const served = aircall.addAiData("api-ai-tr-hs", 6501, { transcription: { language: "en", utterances } });
  await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  const engagement = () => [...hubspot.calls.values()].find((c) => c.properties.hs_call_body?.includes("Aircall call 6501 "));
  await waitFor(() => engagement() && [...hubspot.notes.values()].some((n) => n.properties.hs_note_body.includes("Aircall AI transcript")), { timeout: 60_000, what: "the call and its transcript in HubSpot" });
  await waitUntilQuiet(() => hubspot.requests.length + aircall.requests.length);
  const link = /<a href="([^"]+)">Transcript \(Aircall AI\)<\/a>/.exec(engagement().properties.hs_call_body)?.[1]?.replaceAll("&amp;", "&");
  assert.ok(link, engagement().properties.hs_call_body);
  assert.match(link, new RegExp(`/recordings/${integration.id}/6501\\.transcript\\.json\\?`));
  const archived = await connector.dispatch(link);
  assert.equal(archived.status, 200);
  assert.deepEqual(await archived.json(), served.transcription.transcription);
  assert.equal(aircall.aiRequests("api-ai-tr-hs").filter((r) => r.path === "/v1/calls/6501/transcription").length, 1, "the transcript read once");
});

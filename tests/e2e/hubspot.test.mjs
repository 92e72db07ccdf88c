// HubSpot destination in Miniflare: Aircall calls logged as HubSpot call engagements, once
// each, with the right contact and owner, against the fake HubSpot and the fake Aircall.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";
import { call, missedCall, sampleCall } from "./payloads.mjs";

const TOKEN = "pat-na1-good";
let aircall, hubspot, connector, owner, contact;
const post = (url, init) => connector.dispatch(url, init);
const now = () => Math.floor(Date.now() / 1000);

async function createIntegration(name, destination, extra = {}) {
  const r = await connector.api("POST", "/api/integrations", {
    name,
    aircall: { api_id: "api-id-hs", api_token: "api-token-hs" },
    destination,
    ...extra,
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, view: r.json, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
}

async function fire(integration, event, data) {
  const r = await aircall.fire(integration.webhook, event, data, { post });
  assert.equal(r.status, 202, r.body);
}

const callsOf = (callId) => [...hubspot.calls.values()].filter((c) => c.properties.hs_call_body?.includes(`Aircall call ${callId} `));
const deadLetters = async (id) => (await connector.api("GET", `/api/integrations/${id}/deliveries?status=failed`)).json.deliveries;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey("api-id-hs", "api-token-hs");
  hubspot = await new FakeHubSpot({ tokens: [TOKEN] }).start();
  owner = hubspot.addOwner({ email: "Madeline@Example.com", firstName: "Madeline", lastName: "Agent" });
  hubspot.addOwner({ email: "someone.else@example.com", firstName: "Someone", lastName: "Else" });
  // HubSpot keeps numbers as they were typed; this one as Aircall sends the call's.
  contact = hubspot.addContact({ email: "jean@acme.test", firstname: "Jean", lastname: "Dupont", phone: "+33 6 12 34 56 78" });
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url,
      AIRCALL_REQUESTS_PER_MINUTE: "600",
      HUBSPOT_API_BASE: hubspot.url,
      RETRY_BASE_SECONDS: "1",
      RETRY_MAX_ATTEMPTS: "3",
    },
  });
});
after(async () => {
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

test("a HubSpot destination needs an access token, and the token never shows", async () => {
  const bad = await connector.api("POST", "/api/integrations", {
    name: "x",
    aircall: { api_id: "api-id-hs", api_token: "api-token-hs" },
    destination: { type: "hubspot", url: "https://x.test" },
  });
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual(bad.json.error.fields.map((e) => e.field).sort(), ["destination.access_token", "destination.url"]);
  const good = await createIntegration("tokens", { type: "hubspot", access_token: TOKEN });
  assert.deepEqual(good.view.destination, { type: "hubspot" });
  const shown = await connector.api("GET", `/api/integrations/${good.id}`);
  assert.ok(!shown.text.includes(TOKEN));
  assert.ok(!JSON.stringify(await connector.kvDump()).includes(TOKEN), "sealed at rest");
  await connector.api("DELETE", `/api/integrations/${good.id}`);
});

test("a call lands once as an engagement with its contact and owner, webhook, replay and import alike", async () => {
  const integration = await createIntegration("calls", { type: "hubspot", access_token: TOKEN });
  const t = now() - 600;
  const data = call(7001, { started_at: t, answered_at: t + 6, ended_at: t + 186, recording: true });
  aircall.addCalls("api-id-hs", [data]);
  // call.ended as Aircall sends it (its recording link), twice: Aircall delivers at least once.
  const webhookData = { ...data, recording: `${aircall.url}/recordings/7001.mp3` };
  await fire(integration, "call.ended", webhookData);
  await fire(integration, "call.ended", webhookData);
  // The import of the same call (queued by call.ended) adds the archived recording.
  const engagement = await waitFor(
    () => callsOf(7001).find((c) => c.properties.hs_call_recording_url),
    { what: "the engagement with the archived recording", timeout: 30_000 },
  );
  await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(callsOf(7001).length, 1, "one engagement for the call");
  const p = engagement.properties;
  assert.equal(p.hubspot_owner_id, owner.id, "owned by the owner with the agent's e-mail");
  assert.deepEqual(engagement.contactIds, [contact.id], "associated with the contact by phone");
  assert.equal(p.hs_call_direction, "INBOUND");
  assert.equal(p.hs_call_duration, "186000");
  assert.equal(p.hs_call_status, "COMPLETED");
  assert.equal(p.hs_call_from_number, "+33 6 12 34 56 78");
  assert.match(p.hs_call_recording_url, new RegExp(`^https://connector.test/recordings/${integration.id}/7001\\.mp3\\?`));
  // HubSpot plays the link for good: it must not expire within the week ordinary links last.
  const expires = Number(new URL(p.hs_call_recording_url).searchParams.get("expires"));
  assert.ok(expires > now() + 365 * 86_400, `link expires at ${expires}`);
  const audio = await connector.dispatch(p.hs_call_recording_url);
  assert.equal(audio.status, 200);

  // A later change of the call updates the same engagement.
  await fire(integration, "call.tagged", { ...webhookData, tags: [{ id: 12, name: "Renewal" }] });
  await waitFor(() => callsOf(7001)[0]?.properties.hs_call_body.includes("Renewal"), { what: "the tag on the engagement" });
  assert.equal(callsOf(7001).length, 1);
  assert.ok(callsOf(7001)[0].properties.hs_call_recording_url, "an update never clears the recording");
  // Events that are not a finished call log nothing.
  await fire(integration, "call.created", { ...webhookData, id: 7002, ended_at: null });
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(callsOf(7002).length, 0);
});

test("a call webhook with {} objects and spaced numbers is delivered and logged with the contact typed 06 98 76 54 32", async () => {
  const integration = await createIntegration("real shapes", { type: "hubspot", access_token: TOKEN });
  const typed = hubspot.addContact({ email: "paul@acme.test", firstname: "Paul", mobilephone: "06 98 76 54 32" });
  const t = now() - 400;
  // Aircall's sample shape: empty user, contact and number; the caller's number with spaces.
  const data = sampleCall(7501, { started_at: t, answered_at: t + 5, ended_at: t + 65, duration: 60, recording: null, raw_digits: "+33 6 98 76 54 32" });
  aircall.addCalls("api-id-hs", [call(7501, { started_at: t, answered_at: t + 5, ended_at: t + 65, duration: 60, recording: null, raw_digits: "+33 6 98 76 54 32", contact: null })]);
  await fire(integration, "call.ended", data);
  const engagement = await waitFor(() => callsOf(7501)[0], { what: "the engagement of the sample-shaped call", timeout: 20_000 });
  assert.deepEqual(engagement.contactIds, [typed.id], "found though HubSpot keeps the number as typed");
  assert.equal(engagement.properties.hs_call_status, "COMPLETED");
  assert.equal(engagement.properties.hs_call_from_number, "+33 6 98 76 54 32");
  assert.deepEqual(await deadLetters(integration.id), []);
});

test("a missed call from an unknown caller is logged as no answer, without reading the call from Aircall", async () => {
  const integration = await createIntegration("missed", { type: "hubspot", access_token: TOKEN });
  const t = now() - 500;
  const before = aircall.requests.length;
  await fire(integration, "call.ended", missedCall(7601, { started_at: t, ended_at: t + 25 }));
  const engagement = await waitFor(() => callsOf(7601)[0], { what: "the missed call's engagement", timeout: 20_000 });
  assert.equal(engagement.properties.hs_call_status, "NO_ANSWER");
  assert.equal(engagement.properties.hs_call_from_number, "+44 330 818 6690");
  assert.deepEqual(engagement.contactIds, []);
  await new Promise((r) => setTimeout(r, 1_000));
  const reads = aircall.requests.slice(before).filter((r) => r.path === "/v1/calls/7601");
  assert.deepEqual(reads, [], "no user or contact to read for a missed call from an unknown caller");
  assert.deepEqual(await deadLetters(integration.id), []);
});

test("a token HubSpot refuses ends in the dead letters with the reason", async () => {
  const integration = await createIntegration("refused", { type: "hubspot", access_token: "pat-na1-revoked" });
  const t = now() - 300;
  await fire(integration, "call.ended", call(7101, { started_at: t, ended_at: t + 60, recording: null }));
  const letters = await waitFor(async () => {
    const list = await deadLetters(integration.id);
    return list.some((l) => l.event === "call.ended") && list;
  }, { what: "the dead letter", timeout: 20_000 });
  const letter = letters.find((l) => l.event === "call.ended");
  assert.match(letter.reason, /HubSpot refused the access token \(HTTP 401/);
  assert.ok(!letter.reason.includes("pat-na1-revoked"));
});

test("HubSpot's 429, when another app has spent the token's budget, is waited out: no hammering, nothing lost", async () => {
  const shared = hubspot.addToken("pat-na1-shared");
  const integration = await createIntegration("shared limit", { type: "hubspot", access_token: shared });
  // The customer's other tools use the same HubSpot app: they spend the 100 requests of the
  // rolling 10 s window just before the call ends.
  for (let n = 0; n < hubspot.rateLimit; n++) {
    const r = await fetch(`${hubspot.url}/crm/v3/owners`, { headers: { authorization: `Bearer ${shared}` } });
    assert.equal(r.status, 200);
  }
  const spentAt = Date.now();
  const t = now() - 300;
  await fire(integration, "call.ended", call(7301, { started_at: t, ended_at: t + 90, recording: null }));
  await waitFor(() => callsOf(7301).length === 1, { what: "the engagement after the wait", timeout: 40_000 });
  const connectorRequests = hubspot.requests.filter((r) => r.token === shared && r.at >= spentAt);
  const limited = connectorRequests.filter((r) => r.status === 429);
  assert.equal(limited.length, 1, "one request met the 429; the rest waited for the window");
  const after429 = connectorRequests.filter((r) => r.at > limited[0].at);
  assert.ok(after429.length > 0);
  // HubSpot sends no Retry-After: the window is 10 s, and nothing was tried within it.
  assert.ok(after429[0].at - limited[0].at >= 9_500, `next request ${after429[0].at - limited[0].at} ms after the 429`);
  assert.equal(callsOf(7301).length, 1);
  assert.deepEqual(await deadLetters(integration.id), []);
});

test("a HubSpot outage (5xx) is retried with back-off and the call lands once", async () => {
  const flaky = hubspot.addToken("pat-na1-flaky");
  const integration = await createIntegration("outage", { type: "hubspot", access_token: flaky });
  hubspot.failNext(2, 503, { token: flaky });
  const t = now() - 300;
  await fire(integration, "call.ended", call(7401, { started_at: t, ended_at: t + 45, recording: null }));
  await waitFor(() => callsOf(7401).length === 1, { what: "the engagement after the outage", timeout: 30_000 });
  const answered = hubspot.requests.filter((r) => r.token === flaky).map((r) => r.status);
  assert.deepEqual(answered.slice(0, 2), [503, 503], answered.join(","));
  assert.ok(answered.slice(2).every((s) => s >= 200 && s < 300), answered.join(","));
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(callsOf(7401).length, 1, "once, though attempts failed midway");
  assert.deepEqual(await deadLetters(integration.id), []);
});

test("imports only the calls of HubSpot owners when told to", async () => {
  const integration = await createIntegration(
    "owners only",
    { type: "hubspot", access_token: TOKEN },
    { import: { users_from: "hubspot_owners", recording_required: false } },
  );
  const refused = await connector.api("PATCH", `/api/integrations/${integration.id}`, {
    destination: { type: "webhook", url: "https://hooks.test/x" },
  });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error.fields[0].field, "import.users_from");
  const t = now() - 120;
  const stranger = { id: 999, name: "Not In HubSpot", email: "stranger@example.com" };
  aircall.addCalls("api-id-hs", [
    call(7201, { started_at: t, ended_at: t + 30, recording: null }),
    call(7202, { started_at: t + 1, ended_at: t + 31, recording: null, user: stranger }),
  ]);
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.status, 200, r.text);
  const run = await waitFor(async () => {
    const latest = (await connector.api("GET", `/api/integrations/${integration.id}/runs`)).json.runs[0];
    return latest.pending === 0 && latest.status === "done" && latest;
  }, { what: "the run", timeout: 20_000 });
  assert.equal(run.skipped_by_reason.no_user_match, 1, JSON.stringify(run));
  assert.ok(run.imported >= 1, JSON.stringify(run));
  await waitFor(() => callsOf(7201).length === 1, { what: "the owner's call in HubSpot" });
  assert.equal(callsOf(7202).length, 0);
});

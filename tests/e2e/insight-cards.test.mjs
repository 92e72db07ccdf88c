// Insight cards in Miniflare: on call.created, the caller's HubSpot context reaches the fake
// Aircall's phone app (it records each card and when it arrived), after the webhook is
// answered, once per call, whatever the queues hold.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, sleep } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

const TOKEN = "pat-na1-cards";
const KEY = { api_id: "api-id-cards", api_token: "api-token-cards" };
let aircall, hubspot, connector, ann, nextCall = 50_000;
const post = (url, init) => connector.dispatch(url, init);
const now = () => Math.floor(Date.now() / 1000);

async function cardsIntegration(name, insight_cards) {
  const r = await connector.api("POST", "/api/integrations", {
    name,
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["call.created", "call.ended"],
    insight_cards,
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, view: r.json, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
}

// The phone rings: Aircall has the call, and sends call.created. Answers Aircall's answer.
async function ring(integration, rawDigits, { id = nextCall++, direction = "inbound" } = {}) {
  aircall.liveCall(KEY.api_id, id);
  const data = { id, direction, status: "initial", started_at: now(), raw_digits: rawDigits, user: {}, contact: {}, number: { id: 789, digits: "+33 1 76 36 06 95" } };
  const answer = await aircall.fire(integration.webhook, "call.created", data, { post });
  assert.equal(answer.status, 202, answer.body);
  return { id, data, answer };
}

// What the connector's HubSpot destination logs when a call ends (and AI data comes).
async function logged(integration, callId, rawDigits, startedAt) {
  const data = call(callId, { started_at: startedAt, answered_at: startedAt + 5, ended_at: startedAt + 120, raw_digits: rawDigits, contact: {}, recording: null });
  aircall.addCalls(KEY.api_id, [data]);
  const r = await aircall.fire(integration.webhook, "call.ended", data, { post });
  assert.equal(r.status, 202, r.body);
  return waitFor(() => [...hubspot.calls.values()].find((c) => c.properties.hs_call_body?.includes(`Aircall call ${callId} `)), { what: `call ${callId} logged in HubSpot`, timeout: 30_000 });
}
const day = (unix) => new Date(unix * 1000).toISOString().slice(0, 10);
// The HubSpot requests made since `from`, as "METHOD path".
const requestsSince = (from) => hubspot.requests.slice(from).map((r) => `${r.method} ${r.path}`);
// A card's own HubSpot requests: the owners list and the account's details are read by the
// first card of an integration only, then kept (an hour, and for good): left out here.
const cardCost = (paths) => paths.filter((p) => p !== "GET /crm/v3/owners" && p !== "GET /account-info/v3/details");

const stats = async (integration) => (await connector.api("GET", `/api/integrations/${integration.id}`)).json.insight_cards_stats;
// Every HubSpot search for this number has been answered (the card's lookup is done).
const lookedUp = (digits, count = 1) => hubspot.requests.filter((r) => r.path === "/crm/v3/objects/contacts/search" && JSON.stringify(r.body).includes(digits) && r.status).length >= count;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 60 }).start();
  aircall.addKey(KEY.api_id, KEY.api_token);
  // HubSpot allows 5 searches a second per account, and a card makes one or two: scaled up
  // here (both sides) so that tests ringing in quick succession are not skipped for it.
  hubspot = await new FakeHubSpot({ tokens: [TOKEN], searchPerSecond: 20 }).start();
  const bob = hubspot.addOwner({ email: "bob@example.com", firstName: "Bob", lastName: "Smith" });
  // Typed in national format, as people do: Aircall sends "+1 415-555-0100".
  ann = hubspot.addContact({ firstname: "Ann", lastname: "Lee", company: "Acme", phone: "(415) 555-0100", hubspot_owner_id: bob.id, lifecyclestage: "customer" });
  hubspot.addDeal({ contactIds: [ann.id], dealname: "Renewal", amount: "1200", dealstage: "qualifiedtobuy" });
  hubspot.addDeal({ contactIds: [ann.id], dealname: "Expansion", amount: "25000.5", dealstage: "contractsent" });
  hubspot.addDeal({ contactIds: [ann.id], dealname: "Last year", amount: "90000", dealstage: "closedwon" });
  hubspot.addLoggedCall(ann.id, { hs_timestamp: "2026-03-01T10:00:00Z", hs_call_title: "Quote", hs_call_disposition: "f240bbac-87c9-4f6e-bf70-924b57d47db7" });
  connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "60", HUBSPOT_API_BASE: hubspot.url, HUBSPOT_SEARCHES_PER_SECOND: "20", AIRCALL_RESULT_CAP: "1000" },
  });
});
after(async () => {
  if (process.env.CARDS_DEBUG) console.log(connector?.logs.filter((l) => /card|rate|Aircall/i.test(l)).join("\n"));
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

test("settings are checked, stored and shown; a destination that is no CRM is refused", async () => {
  const bad = await connector.api("POST", "/api/integrations", {
    name: "bad",
    aircall: KEY,
    destination: { type: "webhook", url: "https://hooks.example.com/x" },
    insight_cards: { enabled: "yes", blocks: ["deals", "weather"] },
  });
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual(bad.json.error.fields.map((f) => f.field).sort(), ["insight_cards.blocks[1]", "insight_cards.enabled"]);
  const noCrm = await connector.api("POST", "/api/integrations", {
    name: "no-crm",
    aircall: KEY,
    destination: { type: "webhook", url: "https://hooks.example.com/x" },
    insight_cards: { enabled: true },
  });
  assert.equal(noCrm.status, 400, noCrm.text);
  assert.deepEqual(noCrm.json.error.fields, [{ field: "insight_cards", message: "needs a CRM destination (HubSpot): the cards are read from it" }]);
  const integration = await cardsIntegration("settings", { enabled: true, blocks: ["deals", "owner"] });
  assert.deepEqual(integration.view.insight_cards, { enabled: true, blocks: ["deals", "owner"], unknown_caller: "none" });
  assert.ok(integration.webhook.events.includes("call.created"));
  const patched = await connector.api("PATCH", `/api/integrations/${integration.id}`, { insight_cards: { enabled: false } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.insight_cards.enabled, false);
  const refused = await connector.api("PATCH", `/api/integrations/${integration.id}`, { events: ["call.ended"], insight_cards: { enabled: true } });
  assert.equal(refused.status, 400, refused.text);
  assert.deepEqual(refused.json.error.fields.map((f) => f.field), ["insight_cards.enabled"]);
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
});

test("the last call's Aircall AI summary, kept by the connector when it reached HubSpot, shows on the card", async () => {
  const carl = hubspot.addContact({ firstname: "Carl", lastname: "Ng", phone: "06 12 34 56 78" });
  const r = await connector.api("POST", "/api/integrations", {
    name: "summary",
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["call.created", "call.ended", "summary.created"],
    insight_cards: { enabled: true, blocks: ["last_activity"] },
  });
  assert.equal(r.status, 201, r.text);
  const integration = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
  const startedAt = now() - 3_600;
  const engagement = await logged(integration, 61_001, "+33 6 12 34 56 78", startedAt);
  assert.deepEqual(engagement.contactIds, [carl.id]);
  aircall.addAiData(KEY.api_id, 61_001, { summary: "Wants the annual plan." });
  const sent = await aircall.fire(integration.webhook, "summary.created", { id: 77_001, call_id: 61_001 }, { post, timestamp: startedAt + 300 });
  assert.equal(sent.status, 202, sent.body);
  await waitFor(() => engagement.properties.aircall_ai_summary === "Wants the annual plan.", { what: "the summary on the HubSpot call", timeout: 30_000 });
  // HubSpot's last activity is now the summary's note, a few minutes after the call began.
  await waitFor(() => hubspot.contacts.get(carl.id).properties.notes_last_updated === new Date((startedAt + 300) * 1000).toISOString(), { what: "the note counted as activity" });

  const from = hubspot.requests.length;
  const { id } = await ring(integration, "+33 6 12 34 56 78");
  const [card] = await waitFor(() => aircall.cardsFor(id).length && aircall.cardsFor(id), { what: "the card", timeout: 20_000 });
  assert.deepEqual(card.contents.at(-1), { type: "shortText", label: "Last call", text: `${day(startedAt)} · Connected · Wants the annual plan.` });
  assert.deepEqual(cardCost(requestsSince(from)), ["POST /crm/v3/objects/contacts/search"], "no search of the calls: the last call is the connector's own record");
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
});

test("a note logged by hand after the connector's call shows as the last activity, without the call's details", async () => {
  const dana = hubspot.addContact({ firstname: "Dana", lastname: "Roy", phone: "(212) 555-0142" });
  const r = await connector.api("POST", "/api/integrations", {
    name: "hand note",
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["call.created", "call.ended"],
    insight_cards: { enabled: true, blocks: ["last_activity"] },
  });
  assert.equal(r.status, 201, r.text);
  const integration = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
  const startedAt = now() - 7_200;
  await logged(integration, 61_002, "+1 212-555-0142", startedAt);
  const first = await ring(integration, "+1 212-555-0142");
  const [card] = await waitFor(() => aircall.cardsFor(first.id).length && aircall.cardsFor(first.id), { what: "the first card", timeout: 20_000 });
  assert.deepEqual(card.contents.at(-1), { type: "shortText", label: "Last call", text: `${day(startedAt)} · Connected · Inbound Aircall call from +1 212-555-0142` });

  // Someone types a note on Dana in HubSpot a day later.
  const noteAt = startedAt + 86_400;
  const note = await fetch(`${hubspot.url}/crm/v3/objects/notes`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ properties: { hs_timestamp: String(noteAt * 1000), hs_note_body: "Asked for a discount" }, associations: [{ to: { id: dana.id }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 202 }] }] }),
  });
  assert.equal(note.status, 201, await note.text());
  const second = await ring(integration, "+1 212-555-0142");
  const [later] = await waitFor(() => aircall.cardsFor(second.id).length && aircall.cardsFor(second.id), { what: "the second card", timeout: 20_000 });
  assert.deepEqual(later.contents.at(-1), { type: "shortText", label: "Last activity", text: day(noteAt) });
  const kv = await connector.mf.getKVNamespace("STATE");
  assert.equal(JSON.parse(await kv.get(`last-call:${integration.id}:${dana.id}`)).call_id, 61_002, "the connector's record is kept");
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
  assert.equal(await kv.get(`last-call:${integration.id}:${dana.id}`), null, "deleting the integration removes it");
});

test("a known caller gets the right card, once: a replayed webhook adds none", async () => {
  const integration = await cardsIntegration("known", { enabled: true });
  const first = hubspot.requests.length;
  const { id, data, answer } = await ring(integration, "+1 415-555-0100");
  assert.equal(JSON.parse(answer.body).status, "queued");
  const [card] = await waitFor(() => aircall.cardsFor(id).length && aircall.cardsFor(id), { what: "the card", timeout: 20_000 });
  assert.deepEqual(card.contents, [
    { type: "title", text: "Ann Lee", link: `https://app.hubspot.com/contacts/4242/record/0-1/${ann.id}` },
    { type: "shortText", label: "Company", text: "Acme" },
    { type: "shortText", label: "Owner", text: "Bob Smith" },
    { type: "shortText", label: "Lifecycle stage", text: "Customer" },
    { type: "shortText", label: "Open deals", text: "2 open · largest 25,000.50 (Contract sent)" },
    // Logged by someone else (not the connector): its date only.
    { type: "shortText", label: "Last activity", text: "2026-03-01" },
  ]);
  await waitFor(async () => (await stats(integration))?.posted === 1, { what: "the card counted" });
  // The number searched, the open deals read; the first card of the integration also read
  // the owners and the account's details, kept for the next cards.
  assert.deepEqual(cardCost(requestsSince(first)).sort(), ["POST /crm/v3/objects/contacts/search", "POST /crm/v3/objects/deals/search"]);

  // Aircall sends call.created again: the claim holds, no second card, no CRM request.
  const before = hubspot.requests.length;
  const again = await aircall.fire(integration.webhook, "call.created", data, { post });
  assert.equal(again.status, 202);
  // A later call, to show the replay's work (if any) would be done by then.
  const later = await ring(integration, "+14155550100");
  await waitFor(() => aircall.cardsFor(later.id).length === 1, { what: "the later card", timeout: 20_000 });
  assert.equal(aircall.cardsFor(id).length, 1, "one card for the call");
  // The later card read Ann by id (her number is cached) and her deals: 2 HubSpot requests,
  // owners and account details kept from the first card.
  assert.deepEqual(requestsSince(before).sort(), [`GET /crm/v3/objects/contacts/${ann.id}`, "POST /crm/v3/objects/deals/search"]);
  assert.equal(aircall.requests.filter((r) => r.path === `/v1/calls/${later.id}/insight_cards`).length, 1, "one Aircall request per card");
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
});

test("an unknown caller gets no card, or one whose link creates the contact, as the setting says", async () => {
  const quiet = await cardsIntegration("unknown-none", { enabled: true, unknown_caller: "none" });
  const stranger = await ring(quiet, "+33 6 99 88 77 66");
  await waitFor(() => lookedUp("06 99 88 77 66"), { what: "the lookup", timeout: 20_000 });
  await sleep(1_000);
  assert.equal(aircall.cardsFor(stranger.id).length, 0, "no card");
  assert.deepEqual(await stats(quiet), { posted: 0, skipped: 0 });

  const helpful = await cardsIntegration("unknown-card", { enabled: true, unknown_caller: "card" });
  const second = await ring(helpful, "+33 6 99 88 77 66");
  const [card] = await waitFor(() => aircall.cardsFor(second.id).length && aircall.cardsFor(second.id), { what: "the card", timeout: 20_000 });
  assert.equal(card.contents[0].text, "Unknown caller +33699887766");
  const link = card.contents[1].link;
  assert.match(link, new RegExp(`^https://connector.test/cards/${helpful.id}/new-contact/%2B33699887766\\?expires=\\d+&signature=[0-9a-f]+$`));

  // The agent opens it: the contact is created with the number, and the page is HubSpot's.
  const opened = await post(link, { redirect: "manual" });
  assert.equal(opened.status, 303, await opened.text());
  const created = [...hubspot.contacts.values()].find((c) => c.properties.phone === "+33699887766");
  assert.ok(created, "the contact is created in HubSpot");
  assert.equal(opened.headers.get("location"), `https://app.hubspot.com/contacts/4242/record/0-1/${created.id}`);
  const forged = await post(link.replace("%2B33699887766", "%2B33699887767"), { redirect: "manual" });
  assert.equal(forged.status, 403, "another number is not signed");
  // The next call from that number finds the new contact at once (cached by the link).
  const third = await ring(helpful, "+33 6 99 88 77 66");
  const [named] = await waitFor(() => aircall.cardsFor(third.id).length && aircall.cardsFor(third.id), { what: "the next card", timeout: 20_000 });
  assert.equal(named.contents[0].link, `https://app.hubspot.com/contacts/4242/record/0-1/${created.id}`);
  for (const i of [quiet, helpful]) await connector.api("DELETE", `/api/integrations/${i.id}`);
});

test("contact sync keeps the phone cache: a contact it pushed to HubSpot is read by id on its first ring", async () => {
  const r = await connector.api("POST", "/api/integrations", {
    name: "sync and cards",
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["call.created", "contact.created"],
    contact_sync: { direction: "to_hubspot" },
    insight_cards: { enabled: true },
  });
  assert.equal(r.status, 201, r.text);
  const integration = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
  // A contact made in Aircall's app, its number typed with spaces.
  const contact = { id: 930_001, first_name: "Zoe", last_name: "Martin", company_name: "Zed", information: null, description: null, is_shared: true,
    phone_numbers: [{ id: 1, label: "work", value: "+1 415 555 0199" }], emails: [{ id: 2, label: "work", value: "zoe@zed.test" }], created_at: now(), updated_at: now() };
  const sent = await aircall.fire(integration.webhook, "contact.created", contact, { post });
  assert.equal(sent.status, 202, sent.body);
  const zoe = await waitFor(() => hubspot.contactByEmail("zoe@zed.test"), { what: "the contact in HubSpot", timeout: 20_000 });
  const kv = await connector.mf.getKVNamespace("STATE");
  await waitFor(async () => (await kv.get(`caller:${integration.id}:+14155550199`)) === zoe.id, { what: "the number cached", timeout: 20_000 });

  const before = hubspot.requests.length;
  const { id } = await ring(integration, "+1 415-555-0199");
  const [card] = await waitFor(() => aircall.cardsFor(id).length && aircall.cardsFor(id), { what: "the card", timeout: 20_000 });
  assert.equal(card.contents[0].text, "Zoe Martin");
  const paths = hubspot.requests.slice(before).map((q) => `${q.method} ${q.path}`);
  assert.ok(paths.includes(`GET /crm/v3/objects/contacts/${zoe.id}`), paths.join(", "));
  assert.ok(!paths.includes("POST /crm/v3/objects/contacts/search"), "no search: the number was cached by contact sync");
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
  assert.equal(await kv.get(`caller:${integration.id}:+14155550199`), null, "deleting the integration removes its cache");
});

test("a HubSpot 429 or outage skips the card, counted, and never holds the webhook's answer", async () => {
  const integration = await cardsIntegration("outage", { enabled: true, unknown_caller: "card" });
  hubspot.limitNext(1);
  const limited = await ring(integration, "+1 415-555-0100");
  assert.equal(JSON.parse(limited.answer.body).status, "queued", "answered");
  await waitFor(async () => (await stats(integration))?.skipped === 1, { what: "the skip counted", timeout: 20_000 });
  assert.equal(aircall.cardsFor(limited.id).length, 0);
  assert.ok(connector.logs.some((l) => /insight card for call \d+ of .* skipped: HubSpot: HubSpot's rate limit/.test(l)), "logged");

  // Past the 10 s HubSpot asked for, it is down.
  await sleep(11_000);
  hubspot.failNext(5, 503);
  const down = await ring(integration, "+1 415-555-0100");
  assert.equal(JSON.parse(down.answer.body).status, "queued", "answered");
  await waitFor(async () => (await stats(integration))?.skipped === 2, { what: "the second skip counted", timeout: 20_000 });
  assert.equal(aircall.cardsFor(down.id).length, 0);
  hubspot.failNext(0);
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
});

test("HubSpot hanging: the webhook is answered at once, the card is given up after 2.5 s, counted, never posted late", async () => {
  const integration = await cardsIntegration("hanging", { enabled: true });
  const from = hubspot.requests.length;
  hubspot.hang();
  let hung;
  try {
    hung = await ring(integration, "+1 415-555-0100");
    assert.equal(JSON.parse(hung.answer.body).status, "queued");
    // Answered before the card was given up, while HubSpot has answered nothing.
    assert.deepEqual(await stats(integration), { posted: 0, skipped: 0 }, "the card is still waiting for HubSpot");
    await waitFor(() => hubspot.requests.slice(from).some((r) => r.status === 0), { what: "the card's HubSpot request, held", timeout: 20_000 });
    await waitFor(async () => (await stats(integration))?.skipped === 1, { what: "the card given up and counted", timeout: 30_000 });
    assert.ok(hubspot.requests.slice(from).every((r) => r.status === 0), "HubSpot has still answered nothing");
    assert.ok(connector.logs.some((l) => l.includes(`insight card for call ${hung.id} of ${integration.id} skipped: HubSpot: HubSpot is unreachable`)), "logged");
  } finally {
    hubspot.release();
  }
  // HubSpot answers the held request now, late: no card follows it.
  await waitFor(() => hubspot.requests.slice(from).every((r) => r.status !== 0), { what: "HubSpot's late answers" });
  await sleep(1_000);
  assert.equal(aircall.cardsFor(hung.id).length, 0, "no card posted late");
  // HubSpot answering again: the next call gets its card.
  const next = await ring(integration, "+1 415-555-0100");
  const [card] = await waitFor(() => aircall.cardsFor(next.id).length && aircall.cardsFor(next.id), { what: "the next card", timeout: 20_000 });
  assert.equal(card.contents[0].text, "Ann Lee");
  assert.deepEqual(await stats(integration), { posted: 1, skipped: 1 });
  await connector.api("DELETE", `/api/integrations/${integration.id}`);
});

test("cards keep arriving while a large import waits in the queues", { timeout: 240_000 }, async () => {
  const integration = await cardsIntegration("during-import", { enabled: true });
  // A webhook integration of the same Aircall account imports an hour of 4,000 calls: more
  // listing requests than a minute's budget, and thousands of call jobs queued.
  const receiver = await new FakeReceiver().start();
  const importer = await connector.api("POST", "/api/integrations", {
    name: "bulk",
    aircall: KEY,
    destination: { type: "webhook", url: receiver.url },
    import: { recording_required: false },
  });
  assert.equal(importer.status, 201, importer.text);
  const since = now() - 3_600;
  const kv = await connector.mf.getKVNamespace("STATE");
  await kv.put(`cursor:${importer.json.id}`, JSON.stringify({ started_at: since, ids_at_started_at: [] }));
  aircall.addCalls(KEY.api_id, Array.from({ length: 4_000 }, (_, i) => ({ ...call(i + 1), started_at: since + 1 + Math.floor(i * 0.8), recording: null })));
  const sync = await connector.api("POST", `/api/integrations/${importer.json.id}/sync`);
  assert.equal(sync.status, 202, sync.text);
  // The import spends bulk work's share of the account's budget.
  await waitFor(() => aircall.requests.filter((r) => r.path === "/v1/calls").length >= 30, { what: "the import to list", timeout: 60_000 });
  const rings = [];
  for (let i = 0; i < 5; i++) rings.push(await ring(integration, "+1 415-555-0100"));
  for (const { id } of rings) {
    await waitFor(() => aircall.cardsFor(id).length === 1, { what: `the card of call ${id}`, timeout: 60_000 });
  }
  assert.equal(aircall.tooManyRequests, 0, "the budget kept Aircall under its limit");
  const run = (await connector.api("GET", `/api/integrations/${importer.json.id}/runs`)).json.runs[0];
  assert.ok(run.pending > 0 || run.status === "running", `the import is still under way: ${JSON.stringify({ status: run.status, pending: run.pending })}`);
  await receiver.stop();
});

// Contact sync pass after pass, in Miniflare: an edit made after a pass read a contact is
// synced by the next pass, none is lost to a later edit, and nothing is read twice without a
// change (issue 19).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, waitUntilQuiet } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";

const TOKEN = "pat-na1-cursor";
const KEY = { api_id: "api-id-cursor", api_token: "api-token-cursor" };
let aircall, hubspot, connector, integration;

// The phone numbers of the Aircall contact with this e-mail (a number from HubSpot comes
// first; the ones it had are kept).
function aircallNumbers(email) {
  const found = aircall.contactsOf(KEY.api_id).filter((c) => c.emails.some((e) => e.value === email));
  assert.equal(found.length, 1, JSON.stringify(aircall.contactsOf(KEY.api_id)));
  return found[0].phone_numbers.map((p) => p.value);
}

// How many times the connector has handled this HubSpot contact (its log says so for each).
const reads = (id) => connector.logs.join("").split(`HubSpot contact ${id} of integration`).length - 1;
const allReads = () => connector.logs.join("").split("HubSpot contact ").length - 1;

// The HubSpot contact modified last: the one a pass that read everything ended on.
const lastModified = () => [...hubspot.contacts.values()].sort((a, b) => Date.parse(a.properties.lastmodifieddate) - Date.parse(b.properties.lastmodifieddate)).at(-1);

// An edit made in HubSpot by someone else, through its API (stamped and indexed as HubSpot does).
async function editInHubSpot(id, properties) {
  const r = await fetch(`${hubspot.url}/crm/v3/objects/contacts/${id}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ properties }),
  });
  assert.equal(r.status, 200, await r.text());
}

// Runs both passes and waits until the queue has gone quiet (no new Aircall or HubSpot request).
async function syncNow() {
  const r = await connector.api("POST", `/api/integrations/${integration.id}/contacts/sync`);
  assert.equal(r.status, 202, r.text);
  await waitUntilQuiet(() => aircall.requests.length + hubspot.requests.length, { what: "the passes to finish" });
}

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600, autoContactWebhooks: true }).start();
  aircall.addKey(KEY.api_id, KEY.api_token);
  hubspot = await new FakeHubSpot({ tokens: [TOKEN] }).start();
  connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600", HUBSPOT_API_BASE: hubspot.url },
  });
  aircall.webhookPost = (url, init) => connector.dispatch(url, init);
  const r = await connector.api("POST", "/api/integrations", {
    name: "cursor",
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["contact.created", "contact.updated", "contact.deleted"],
    contact_sync: { direction: "both", phone: { default_country: "FR" } },
  });
  assert.equal(r.status, 201, r.text);
  integration = r.json;
});
after(async () => {
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

let yann, zoe;

test("a contact read by a pass and edited in HubSpot afterwards is synced by the next pass", async () => {
  yann = hubspot.addContact({ email: "yann@client.test", firstname: "Yann", lastname: "Roux", phone: "06 11 11 11 11" });
  zoe = hubspot.addContact({ email: "zoe@client.test", firstname: "Zoé", lastname: "Blanc", phone: "06 22 22 22 22" });
  await syncNow();
  assert.deepEqual(aircallNumbers("zoe@client.test"), ["+33622222222"]);
  assert.equal(lastModified().id, zoe.id, "the pass ended on Zoé");

  const before = reads(zoe.id);
  await editInHubSpot(zoe.id, { phone: "06 33 33 33 33" });
  await syncNow();
  assert.equal(aircallNumbers("zoe@client.test")[0], "+33633333333");
  assert.equal(reads(zoe.id), before + 1, "read once more");
  assert.deepEqual(aircallNumbers("yann@client.test"), ["+33611111111"]);
});

test("an edit followed by another contact's edit is not lost", async () => {
  assert.equal(lastModified().id, zoe.id, "the last pass ended on Zoé");
  await editInHubSpot(zoe.id, { phone: "06 44 44 44 44" });
  await editInHubSpot(yann.id, { phone: "06 55 55 55 55" });
  await syncNow();
  assert.equal(aircallNumbers("zoe@client.test")[0], "+33644444444");
  assert.equal(aircallNumbers("yann@client.test")[0], "+33655555555");
});

test("nothing is read twice without a change", async () => {
  const [handled, writes] = [allReads(), aircall.contactRequests.create + aircall.contactRequests.update];
  const hubspotWrites = hubspot.requests.filter((r) => r.method !== "GET" && !/\/(search|batch\/read)$/.test(r.path)).length;
  await syncNow();
  await syncNow();
  assert.equal(allReads(), handled, "no HubSpot contact read again");
  assert.equal(aircall.contactRequests.create + aircall.contactRequests.update, writes, "nothing written to Aircall");
  assert.equal(hubspot.requests.filter((r) => r.method !== "GET" && !/\/(search|batch\/read)$/.test(r.path)).length, hubspotWrites, "nor to HubSpot");
});

test("an Aircall contact changed in the second its pass ended on reaches HubSpot", async () => {
  const status = await connector.api("GET", `/api/integrations/${integration.id}/contacts`);
  const second = Date.parse(status.json.aircall_updated_since) / 1000;
  assert.ok(second > 0, status.text);
  // Stamped with that very second, after the pass read it; its webhook never came.
  aircall.addContacts(KEY.api_id, [{
    first_name: "Vera", last_name: "Lenoir", created_at: second, updated_at: second,
    phone_numbers: [{ label: "work", value: "+33766666666" }], emails: [{ label: "work", value: "vera@client.test" }],
  }]);
  await syncNow();
  assert.equal(hubspot.contactByEmail("vera@client.test")?.properties.phone, "+33766666666");
});

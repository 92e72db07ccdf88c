// Two-way contact sync between the fake Aircall and the fake HubSpot, in Miniflare.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, waitUntilQuiet } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";

const TOKEN = "pat-na1-contacts";
const KEY = { api_id: "api-id-contacts", api_token: "api-token-contacts" };
let aircall, hubspot, connector, integration;
const aircallContacts = () => aircall.contactsOf(KEY.api_id);
const withNumber = (n) => aircallContacts().filter((c) => c.phone_numbers.some((p) => p.value === n));

// Runs both passes and waits until the queue has gone quiet (no new Aircall or HubSpot write).
async function syncNow() {
  const r = await connector.api("POST", `/api/integrations/${integration.id}/contacts/sync`);
  assert.equal(r.status, 202, r.text);
  // Both ways: each side's pass starts, or is already under way.
  assert.deepEqual([...r.json.passes, ...r.json.under_way].sort(), ["aircall", "hubspot"], r.text);
  await waitUntilQuiet(() => (aircall.requests?.length ?? 0) + hubspot.requests.length, { what: "the passes to finish" });
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
    name: "contacts",
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["contact.created", "contact.updated", "contact.deleted", "call.ended"],
    contact_sync: {
      direction: "both",
      filters: [{ app: "hubspot", field: "lifecyclestage", op: "equals", value: "customer" }],
      phone: { default_country: "FR" },
    },
  });
  assert.equal(r.status, 201, r.text);
  integration = r.json;
});
after(async () => {
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

test("an incompatible custom mapping is refused with a clear error and changes nothing", async () => {
  const r = await connector.api("PATCH", `/api/integrations/${integration.id}`, {
    contact_sync: { direction: "both", mappings: [{ aircall: "emails", hubspot: "phone", direction: "both" }] },
  });
  assert.equal(r.status, 400, r.text);
  const [problem] = r.json.error.fields;
  assert.match(problem.field, /^contact_sync\.mappings\[0\]/);
  assert.match(problem.message, /e-mail.*cannot be mapped.*phone/i);
  const after = await connector.api("GET", `/api/integrations/${integration.id}`);
  assert.deepEqual(after.json.contact_sync.mappings, []);
  const webhook = await connector.api("POST", "/api/integrations", {
    name: "x", aircall: KEY, destination: { type: "webhook", url: "https://x.test/h" },
    contact_sync: { direction: "both" },
  });
  assert.equal(webhook.status, 400);
  assert.equal(webhook.json.error.fields[0].field, "contact_sync");
});

test("a HubSpot contact with a national number arrives in Aircall in E.164, once, and the filter holds", async () => {
  const customer = hubspot.addContact({
    email: "ines@client.test", firstname: "Inès", lastname: "Martin", phone: "06 12 34 56 78", lifecyclestage: "customer",
  });
  hubspot.addContact({ email: "lead@prospect.test", firstname: "Léa", lastname: "Lead", phone: "06 99 99 99 99", lifecyclestage: "lead" });
  const broken = hubspot.addContact({ email: "bad@client.test", firstname: "Bad", lastname: "Number", phone: "12", lifecyclestage: "customer" });
  await syncNow();
  const created = withNumber("+33612345678");
  assert.equal(created.length, 1, JSON.stringify(aircallContacts()));
  assert.equal(created[0].first_name, "Inès");
  assert.equal(created[0].emails[0].value, "ines@client.test");
  assert.equal(withNumber("+33699999999").length, 0, "a lead is outside the filter");
  // A number that cannot be normalised is reported, never sent broken.
  const status = await connector.api("GET", `/api/integrations/${integration.id}/contacts`);
  const problem = status.json.problems.find((p) => p.hubspot_id === broken.id);
  assert.ok(problem, JSON.stringify(status.json));
  assert.match(problem.problems.join(" "), /12/);
  assert.ok(aircallContacts().every((c) => c.phone_numbers.every((p) => /^\+[1-9]\d{6,14}$/.test(p.value))));

  // The next pass does not duplicate it, and the connector's own writes do not come back.
  const writes = () => hubspot.requests.filter((r) => r.method !== "GET" && !r.path.endsWith("/search") && !r.path.endsWith("/batch/read")).length;
  const hubspotWrites = writes();
  await syncNow();
  assert.equal(withNumber("+33612345678").length, 1, "not duplicated");
  assert.equal(writes(), hubspotWrites, "nothing written back to HubSpot");
  assert.ok(customer.id);
});

test("an Aircall contact edit reaches HubSpot and does not come back as a new change", async () => {
  const [contact] = withNumber("+33612345678");
  const updatesBefore = aircall.contactRequests?.update ?? 0;
  aircall.editContact(KEY.api_id, contact.id, { company_name: "Client SA" });
  const hs = await waitFor(() => {
    const c = hubspot.contactByEmail("ines@client.test");
    return c?.properties.company === "Client SA" && c;
  }, { what: "the company in HubSpot", timeout: 20_000 });
  assert.equal(hs.properties.firstname, "Inès");
  await syncNow();
  assert.equal(aircall.contactRequests?.update ?? 0, updatesBefore, "HubSpot's echo is not written back to Aircall");
  assert.equal(withNumber("+33612345678").length, 1);
  assert.equal(aircall.contactById(KEY.api_id, contact.id).company_name, "Client SA");
});

test("a HubSpot phone edit reaches the Aircall contact through phone_details, and stays synced", async () => {
  const [contact] = withNumber("+33612345678");
  const ines = hubspot.contactByEmail("ines@client.test");
  // A person edits the number in HubSpot, typed as people type it.
  const edit = await fetch(`${hubspot.url}/crm/v3/objects/contacts/${ines.id}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ properties: { phone: "07 88 77 66 55" } }),
  });
  assert.equal(edit.status, 200, await edit.text());
  const details = aircall.contactRequests.details;
  await syncNow();
  const numbers = aircall.contactById(KEY.api_id, contact.id).phone_numbers.map((p) => p.value);
  assert.deepEqual(numbers, ["+33788776655", "+33612345678"], "the new number first, the old one kept");
  assert.ok(aircall.contactRequests.details > details, "written through phone_details");
  assert.equal(aircallContacts().filter((c) => c.emails.some((e) => e.value === "ines@client.test")).length, 1, "not duplicated");

  // Synced for good: the next pass writes nothing, and HubSpot keeps the number as typed.
  const writes = aircall.contactRequests.details + aircall.contactRequests.update + aircall.contactRequests.create;
  await syncNow();
  assert.equal(aircall.contactRequests.details + aircall.contactRequests.update + aircall.contactRequests.create, writes);
  assert.equal(hubspot.contactByEmail("ines@client.test").properties.phone, "07 88 77 66 55");
});

test("an Aircall contact is matched by e-mail in HubSpot, not duplicated", async () => {
  hubspot.addContact({ email: "paul@known.test", firstname: "Paul", lastname: "Known", lifecyclestage: "customer" });
  const before = hubspot.contacts.size;
  const [paul] = aircall.addContacts(KEY.api_id, [{
    first_name: "Paul", last_name: "Known", phone_numbers: [{ label: "work", value: "+33711223344" }],
    emails: [{ label: "work", value: "PAUL@known.test" }],
  }], { fireWebhook: true });
  await waitFor(() => hubspot.contactByEmail("paul@known.test")?.properties.phone === "+33711223344", { what: "Paul's phone in HubSpot" });
  assert.equal(hubspot.contacts.size, before, "updated, not created");
  assert.ok(paul.id);
});

test("deleting the integration deletes exactly the Aircall contacts it created", async () => {
  const own = aircall.addContacts(KEY.api_id, [{ first_name: "Not", last_name: "Ours", phone_numbers: [{ label: "work", value: "+33755555555" }] }]);
  const created = withNumber("+33612345678").map((c) => c.id);
  assert.equal(created.length, 1);
  const before = aircallContacts().map((c) => c.id);
  const r = await connector.api("DELETE", `/api/integrations/${integration.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.removed.synced_contacts, 1, r.text);
  const left = aircallContacts().map((c) => c.id);
  assert.deepEqual(left.sort(), before.filter((id) => !created.includes(id)).sort());
  assert.ok(left.includes(own[0].id), "contacts it did not create stay");
});

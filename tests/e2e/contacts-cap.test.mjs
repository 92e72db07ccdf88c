// The first contact pass of an Aircall account holding more contacts than Aircall lists in
// one query (its 10,000-result cap: HTTP 400 past it), in Miniflare. Scaled down to stay
// quick: the fake's cap and the connector's AIRCALL_RESULT_CAP are 1,000, the account holds
// 1,200 contacts (the native test `a_first_pass_over_12_000_aircall_contacts...` runs the
// real figures).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";

const TOKEN = "pat-na1-cap";
const KEY = { api_id: "api-id-cap", api_token: "api-token-cap" };
const CAP = 1_000;
const CONTACTS = 1_200;
let aircall, hubspot, connector;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 6_000, resultCap: CAP }).start();
  aircall.addKey(KEY.api_id, KEY.api_token);
  hubspot = await new FakeHubSpot({ tokens: [TOKEN] }).start();
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url,
      AIRCALL_REQUESTS_PER_MINUTE: "6000",
      AIRCALL_RESULT_CAP: String(CAP),
      HUBSPOT_API_BASE: hubspot.url,
    },
  });
});
after(async () => {
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

test("a first pass over more Aircall contacts than one list holds brings each to HubSpot, once", async () => {
  const now = Math.floor(Date.now() / 1000);
  // Created over two years.
  aircall.addContacts(KEY.api_id, Array.from({ length: CONTACTS }, (_, i) => {
    const created = now - 2 * 365 * 86_400 + i * 50_000;
    return {
      first_name: `Big${i}`, last_name: "Account", created_at: created, updated_at: created + 60,
      phone_numbers: [{ label: "work", value: `+3361${String(i).padStart(7, "0")}` }],
      emails: [{ label: "work", value: `big${i}@account.test` }],
    };
  }));
  const created = await connector.api("POST", "/api/integrations", {
    name: "large account",
    aircall: KEY,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["contact.created", "contact.updated", "contact.deleted"],
    contact_sync: { direction: "to_hubspot", phone: { default_country: "FR" } },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  const r = await connector.api("POST", `/api/integrations/${id}/contacts/sync`);
  assert.equal(r.status, 202, r.text);

  const status = () => connector.api("GET", `/api/integrations/${id}/contacts`);
  // The pass is through when its mark moves (only at its end: a pass refused a page past
  // the cap would stop before, and start again from nothing at every cron).
  await waitFor(async () => (await status()).json.aircall_updated_since, { what: "the first pass to finish", timeout: 240_000, interval: 1_000 });
  const emails = [...hubspot.contacts.values()].map((c) => c.properties.email);
  assert.equal(emails.length, CONTACTS, "every contact reached HubSpot");
  assert.equal(new Set(emails).size, CONTACTS, "each once");

  // The next pass starts from that mark: one page, nothing written.
  const before = { aircall: aircall.requests.length, hubspot: hubspot.requests.length };
  const again = await connector.api("POST", `/api/integrations/${id}/contacts/sync`);
  assert.deepEqual(again.json.passes, ["aircall"], again.text);
  await waitFor(async () => aircall.requests.length > before.aircall, { what: "the second pass" });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  assert.equal(aircall.requests.length - before.aircall, 1);
  assert.equal(hubspot.requests.length, before.hubspot);
});

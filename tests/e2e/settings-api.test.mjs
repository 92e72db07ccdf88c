// What the dashboard's settings forms are built from, against the built worker in Miniflare
// and a fake Aircall: the events checklist, the account's numbers (read through the rate
// budget, cached in KV, gone with the integration), the contact sync form's rules and its
// check before saving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";

let aircall, connector;
const creds = { api_id: "api-id-forms", api_token: "api-token-forms-secret" };
const create = async (aircallCreds = creds) => {
  const r = await connector.api("POST", "/api/integrations", {
    name: "Forms",
    aircall: aircallCreds,
    destination: { type: "webhook", url: "https://hooks.example.com/aircall" },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
};
const numbersAsked = () => aircall.requests.filter((r) => r.path === "/v1/numbers").length;

before(async () => {
  aircall = await new FakeAircall().start();
  aircall.addKey(creds.api_id, creds.api_token);
  aircall.addNumbers(creds.api_id, Array.from({ length: 73 }, (_, i) => ({ id: 500 + i, name: `Line ${i}`, digits: `+33 1 76 36 ${String(i).padStart(2, "0")} 95` })));
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url } });
});
after(async () => {
  await connector?.dispose();
  await aircall?.stop();
});

test("the events checklist groups every known event and marks each destination's defaults", async () => {
  assert.equal((await connector.api("GET", "/api/events", undefined, { token: null })).status, 401);
  const r = await connector.api("GET", "/api/events");
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.groups.map((g) => g.name), ["calls", "users", "contacts", "numbers", "messages", "ai"]);
  const events = r.json.groups.flatMap((g) => g.events);
  const of = (name) => events.find((e) => e.name === name);
  assert.deepEqual(of("call.ended").default_for, ["webhook", "segment", "hubspot"]);
  assert.deepEqual(of("summary.created").default_for, ["webhook", "segment", "hubspot"]);
  assert.equal(of("message.sent").default_for.includes("segment"), false);
  assert.equal(r.json.defaults.webhook, null);
  assert.equal(r.json.defaults.segment.length, 31, "the 26 it always took and the 5 AI events");
  for (const name of r.json.defaults.segment) assert.ok(of(name)?.default_for.includes("segment"), name);
  assert.equal((await connector.api("POST", "/api/events", {})).status, 405);
});

test("the account's numbers are read page by page through the budget, then from the cache", async () => {
  const id = await create();
  const before = numbersAsked();
  const r = await connector.api("GET", `/api/integrations/${id}/numbers`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.numbers.length, 73);
  assert.deepEqual(r.json.numbers[72], { id: 572, name: "Line 72", digits: "+33 1 76 36 72 95", country: "FR" });
  assert.equal(r.json.truncated, false);
  assert.equal(r.json.aircall_requests, 2, "two pages of 50");
  assert.equal(numbersAsked() - before, 2);
  assert.ok(Object.keys(await connector.kvDump()).includes(`aircall-numbers:${id}`));

  const cached = await connector.api("GET", `/api/integrations/${id}/numbers`);
  assert.deepEqual(cached.json.numbers, r.json.numbers);
  assert.equal(cached.json.aircall_requests, 0);
  assert.equal(numbersAsked() - before, 2, "the cache answered");

  aircall.addNumbers(creds.api_id, [{ id: 999, name: "New line", digits: "+1 415-555-0100", country: "US" }]);
  const refreshed = await connector.api("GET", `/api/integrations/${id}/numbers?refresh=true`);
  assert.equal(refreshed.json.numbers.length, 74);
  assert.equal(numbersAsked() - before, 4);

  const picked = await connector.api("PATCH", `/api/integrations/${id}`, { numbers: [999, "+33 1 76 36 00 95"] });
  assert.equal(picked.status, 200, picked.text);
  assert.deepEqual(picked.json.numbers, [999, "+33176360095"], "phone numbers are kept as + and digits");

  assert.equal((await connector.api("DELETE", `/api/integrations/${id}`)).status, 200);
  const left = Object.keys(await connector.kvDump()).filter((k) => k.includes(id));
  assert.deepEqual(left, [], "deleting removes the cached numbers too");
  assert.equal((await connector.api("GET", `/api/integrations/${id}/numbers`)).status, 404);
});

test("credentials Aircall refuses while reading numbers deactivate the integration; nothing more is asked", async () => {
  const other = aircall.addKey("api-id-revoked", "api-token-revoked");
  const id = await create(other);
  aircall.rejectCredentials(other.api_id);
  const r = await connector.api("GET", `/api/integrations/${id}/numbers`);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, "aircall_credentials_rejected");
  const integration = (await connector.api("GET", `/api/integrations/${id}`)).json;
  assert.equal(integration.status, "inactive");
  assert.equal(integration.deactivated_by, "system");
  const asked = aircall.requests.length;
  const again = await connector.api("GET", `/api/integrations/${id}/numbers?refresh=true`);
  assert.equal(again.status, 409, again.text);
  assert.match(again.json.error.message, /give new ones/);
  assert.equal(aircall.requests.length, asked, "Aircall was not asked again");
});

test("the contact sync form's rules: fields with types, each pair allowed or refused with why", async () => {
  const r = await connector.api("GET", "/api/contact-sync");
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.directions, ["to_hubspot", "to_aircall", "both"]);
  assert.ok(r.json.aircall_fields.some((f) => f.name === "emails" && f.type === "e-mail list"));
  const pair = (a, h) => r.json.pairs.find((p) => p.aircall === a && p.hubspot === h);
  assert.deepEqual(pair("information", "jobtitle"), { aircall: "information", hubspot: "jobtitle", to_hubspot: true, to_aircall: true, why: null });
  assert.equal(pair("emails", "phone").why, "Aircall emails (e-mail list) cannot be mapped to HubSpot phone (phone number)");
  assert.equal(pair("information", "lifecyclestage").to_hubspot, false);
  assert.ok(r.json.countries.includes("FR") && r.json.countries.includes("US"));
  assert.deepEqual(r.json.operators.map((o) => o.op), ["equals", "not_equals", "contains", "is_set", "is_not_set"]);
});

test("a contact sync setting is checked before saving with the save's own problems, and nothing is stored", async () => {
  const kv = await connector.kvDump();
  const good = {
    direction: "both",
    filters: [{ app: "hubspot", field: "lifecyclestage", op: "equals", value: "customer" }],
    mappings: [{ aircall: "information", hubspot: "jobtitle", direction: "both" }],
    phone: { normalize: true, default_country: "fr" },
  };
  const ok = await connector.api("POST", "/api/contact-sync/check", good);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.contact_sync.phone.default_country, "FR");
  assert.ok(ok.json.mappings_in_force.some((m) => m.aircall === "first_name" && m.hubspot === "firstname"), "defaults in force");
  assert.deepEqual(ok.json.mappings_in_force.at(-1), good.mappings[0]);

  const bad = await connector.api("POST", "/api/contact-sync/check", {
    direction: "both",
    filters: [{ app: "aircall", field: "emails", op: "is_set", value: "x" }],
    mappings: [{ aircall: "information", hubspot: "lifecyclestage", direction: "both" }, { aircall: "emails", hubspot: "phone", direction: "to_hubspot" }],
  });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.code, "invalid_fields");
  const fields = Object.fromEntries(bad.json.error.fields.map((f) => [f.field, f.message]));
  assert.match(fields["contact_sync.mappings[0].direction"], /can only be mapped in direction to_aircall/);
  assert.equal(fields["contact_sync.mappings[1]"], "Aircall emails (e-mail list) cannot be mapped to HubSpot phone (phone number)");
  assert.equal(fields["contact_sync.filters[0].value"], "is_set takes no value");
  assert.deepEqual(await connector.kvDump(), kv, "a check saves nothing");
  assert.equal((await connector.api("POST", "/api/contact-sync/check", undefined, { raw: "{" })).json.error.code, "invalid_json");
});

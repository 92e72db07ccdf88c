// The HubSpot fake's own tests: it must behave as HubSpot documents, or the worker's HubSpot
// tests prove nothing. Run: node --test tests/fakes/hubspot.selftest.mjs (no worker build).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeHubSpot } from "./hubspot.mjs";

const TOKEN = "pat-na1-selftest";
let hs;

// A fake of its own, its budgets out of the way unless a test sets them.
const fresh = (options = {}) => new FakeHubSpot({ tokens: [TOKEN], rateLimit: 10_000, searchPerSecond: 1_000, ...options }).start();

before(async () => {
  // Budgets high enough for the functional tests; the rate tests start fakes of their own.
  hs = await fresh();
});
after(() => hs.close());

async function call(fake, method, path, body, token = TOKEN) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(fake.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}
const api = (method, path, body) => call(hs, method, path, body);
const search = (body) => api("POST", "/crm/v3/objects/contacts/search", body);
const eq = (propertyName, value, operator = "EQ") => ({ propertyName, operator, value });

test("a missing or wrong token is refused with 401 INVALID_AUTHENTICATION", async () => {
  for (const token of [null, "pat-wrong"]) {
    const r = await call(hs, "GET", "/crm/v3/owners", undefined, token);
    assert.equal(r.status, 401);
    assert.equal(r.body.status, "error");
    assert.equal(r.body.category, "INVALID_AUTHENTICATION");
    assert.match(r.body.message, /Authentication credentials not found/);
  }
});

test("owners list, filter by e-mail and page with after", async () => {
  const a = hs.addOwner({ email: "ann@acme.test", firstName: "Ann", lastName: "Lee" });
  hs.addOwner({ email: "bob@acme.test", firstName: "Bob", lastName: "Ray" });
  const first = await api("GET", "/crm/v3/owners?limit=1");
  assert.equal(first.body.results.length, 1);
  assert.deepEqual(Object.keys(first.body.results[0]).sort(), ["archived", "createdAt", "email", "firstName", "id", "lastName", "updatedAt", "userId"]);
  const second = await api("GET", `/crm/v3/owners?limit=1&after=${first.body.paging.next.after}`);
  assert.equal(second.body.results[0].email, "bob@acme.test");
  assert.equal(second.body.paging, undefined);
  const byEmail = await api("GET", "/crm/v3/owners?email=ANN@acme.test");
  assert.deepEqual(byEmail.body.results.map((o) => o.id), [a.id]);
});

test("contact create, read with properties, update, delete; 409 on a duplicate e-mail", async () => {
  const created = await api("POST", "/crm/v3/objects/contacts", { properties: { email: "crud@acme.test", firstname: "Cru", phone: 33612345678 } });
  assert.equal(created.status, 201);
  const { id } = created.body;
  assert.match(id, /^\d+$/);
  assert.equal(created.body.properties.phone, "33612345678", "values are stored as strings");
  assert.equal(created.body.properties.hs_object_id, id);
  assert.equal(created.body.archived, false);

  const dup = await api("POST", "/crm/v3/objects/contacts", { properties: { email: "CRUD@acme.test" } });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.category, "CONFLICT");
  assert.match(dup.body.message, new RegExp(`Existing ID: ${id}$`));

  const read = await api("GET", `/crm/v3/objects/contacts/${id}?properties=firstname,lastname`);
  assert.equal(read.body.properties.firstname, "Cru");
  assert.equal(read.body.properties.lastname, null, "an asked-for property without value is null");
  assert.equal(read.body.properties.email, undefined, "only the asked-for properties and the stamps");

  const patched = await api("PATCH", `/crm/v3/objects/contacts/${id}`, { properties: { lastname: "Doe" } });
  assert.equal(patched.status, 200);
  assert.equal(hs.contacts.get(id).properties.lastname, "Doe");
  assert.equal((await api("DELETE", `/crm/v3/objects/contacts/${id}`)).status, 204);
  assert.equal((await api("GET", `/crm/v3/objects/contacts/${id}`)).status, 404);
  assert.equal((await api("PATCH", `/crm/v3/objects/contacts/${id}`, { properties: {} })).status, 404);
});

test("every write bumps lastmodifieddate and updatedAt, strictly increasing", async () => {
  const { body } = await api("POST", "/crm/v3/objects/contacts", { properties: { email: "clock@acme.test" } });
  const stamps = [Date.parse(body.properties.lastmodifieddate)];
  for (let i = 0; i < 5; i++) {
    const r = await api("PATCH", `/crm/v3/objects/contacts/${body.id}`, { properties: { firstname: `v${i}` } });
    assert.equal(r.body.updatedAt, r.body.properties.lastmodifieddate);
    assert.match(r.body.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    stamps.push(Date.parse(r.body.updatedAt));
  }
  stamps.slice(1).forEach((t, i) => assert.ok(t > stamps[i], `${t} > ${stamps[i]}`));
  assert.equal(hs.contacts.get(body.id).properties.createdate, body.properties.createdate, "createdate never moves");
});

test("list pages with after; limit over 100 is refused", async () => {
  const fake = await fresh();
  try {
    fake.seedContacts(25);
    const seen = [];
    let path = "/crm/v3/objects/contacts?limit=10&properties=email";
    for (;;) {
      const r = await call(fake, "GET", path);
      seen.push(...r.body.results.map((c) => c.properties.email));
      if (!r.body.paging) break;
      path = `/crm/v3/objects/contacts?limit=10&properties=email&after=${r.body.paging.next.after}`;
    }
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    assert.equal((await call(fake, "GET", "/crm/v3/objects/contacts?limit=101")).status, 400);
  } finally {
    await fake.close();
  }
});

test("batch read by id and by e-mail: 200 when all found, 207 with errors when some missing", async () => {
  const [a, b] = hs.seedContacts(2, (i) => ({ email: `batch${i}@acme.test`, firstname: `B${i}` }));
  const all = await api("POST", "/crm/v3/objects/contacts/batch/read", { properties: ["firstname"], inputs: [{ id: a.id }, { id: b.id }] });
  assert.equal(all.status, 200);
  assert.equal(all.body.status, "COMPLETE");
  assert.deepEqual(all.body.results.map((r) => r.properties.firstname).sort(), ["B0", "B1"]);
  const some = await api("POST", "/crm/v3/objects/contacts/batch/read", { idProperty: "email", properties: ["email"], inputs: [{ id: "BATCH1@acme.test" }, { id: "nobody@acme.test" }] });
  assert.equal(some.status, 207);
  assert.deepEqual(some.body.results.map((r) => r.id), [b.id]);
  assert.equal(some.body.numErrors, 1);
  assert.equal(some.body.errors[0].category, "OBJECT_NOT_FOUND");
  assert.deepEqual(some.body.errors[0].context.ids, ["nobody@acme.test"]);
});

test("batch create, update and upsert; 101 inputs are refused with 400", async () => {
  const inputs = (n, f) => Array.from({ length: n }, (_, i) => f(i));
  for (const action of ["read", "create", "update", "upsert"]) {
    const r = await api("POST", `/crm/v3/objects/contacts/batch/${action}`, { inputs: inputs(101, (i) => ({ id: String(i), idProperty: "email", properties: { email: `x${i}@b.test` } })) });
    assert.equal(r.status, 400, action);
    assert.equal(r.body.category, "VALIDATION_ERROR");
  }
  const created = await api("POST", "/crm/v3/objects/contacts/batch/create", { inputs: inputs(100, (i) => ({ properties: { email: `bulk${i}@acme.test` } })) });
  assert.equal(created.status, 201);
  assert.equal(created.body.results.length, 100);
  const again = await api("POST", "/crm/v3/objects/contacts/batch/create", { inputs: [{ properties: { email: "fresh@acme.test" } }, { properties: { email: "bulk7@acme.test" } }] });
  assert.equal(again.status, 409, "a duplicate e-mail fails the whole batch");
  assert.equal(hs.contactByEmail("fresh@acme.test"), undefined);

  const id = created.body.results[0].id;
  const updated = await api("POST", "/crm/v3/objects/contacts/batch/update", { inputs: [{ id, properties: { firstname: "Up" } }] });
  assert.equal(updated.status, 200);
  assert.equal(hs.contacts.get(id).properties.firstname, "Up");

  const upserted = await api("POST", "/crm/v3/objects/contacts/batch/upsert", {
    inputs: [
      { id: "bulk1@acme.test", idProperty: "email", properties: { firstname: "Old" } },
      { id: "brand-new@acme.test", idProperty: "email", properties: { firstname: "New" } },
    ],
  });
  assert.equal(upserted.status, 200);
  assert.deepEqual(upserted.body.results.map((r) => r.new), [false, true]);
  assert.equal(hs.contactByEmail("bulk1@acme.test").properties.firstname, "Old");
  assert.equal(hs.contactByEmail("brand-new@acme.test").properties.firstname, "New");
});

test("search operators; filterGroups ORed, filters within a group ANDed", async () => {
  const fake = await fresh();
  try {
    const [ann, bob, cid] = [
      fake.addContact({ email: "Ann@Acme.test", firstname: "Ann", score: "10", city: "Paris" }),
      fake.addContact({ email: "bob@acme.test", firstname: "Bob", score: "25" }),
      fake.addContact({ email: "cid@other.test", firstname: "Cid", score: "40", city: "Lyon" }),
    ];
    const ids = async (filterGroups, extra = {}) => {
      const r = await call(fake, "POST", "/crm/v3/objects/contacts/search", { filterGroups, ...extra });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.results.map((c) => c.id);
    };
    const one = (...filters) => [{ filters }];
    assert.deepEqual(await ids(one(eq("email", "ann@acme.TEST"))), [ann.id], "EQ on e-mail ignores case");
    assert.deepEqual(await ids(one(eq("firstname", "Ann", "NEQ"))), [bob.id, cid.id]);
    assert.deepEqual(await ids(one({ propertyName: "email", operator: "IN", values: ["BOB@acme.test", "cid@other.test"] })), [bob.id, cid.id]);
    assert.deepEqual(await ids(one(eq("score", "25", "GT"))), [cid.id], "numbers compare as numbers");
    assert.deepEqual(await ids(one(eq("score", "25", "GTE"))), [bob.id, cid.id]);
    assert.deepEqual(await ids(one(eq("score", "25", "LT"))), [ann.id]);
    assert.deepEqual(await ids(one(eq("score", "25", "LTE"))), [ann.id, bob.id]);
    assert.deepEqual(await ids(one({ propertyName: "city", operator: "HAS_PROPERTY" })), [ann.id, cid.id]);
    assert.deepEqual(await ids(one({ propertyName: "city", operator: "NOT_HAS_PROPERTY" })), [bob.id]);
    assert.deepEqual(await ids(one(eq("email", "*@acme.test", "CONTAINS_TOKEN"))), [ann.id, bob.id]);
    // AND within a group, OR across groups.
    assert.deepEqual(await ids(one(eq("email", "*@acme.test", "CONTAINS_TOKEN"), eq("score", "20", "GT"))), [bob.id]);
    assert.deepEqual(await ids([{ filters: [eq("firstname", "Ann")] }, { filters: [eq("city", "Lyon")] }]), [ann.id, cid.id]);
    // Sorting and the answer's shape.
    assert.deepEqual(await ids([], { sorts: [{ propertyName: "score", direction: "DESCENDING" }] }), [cid.id, bob.id, ann.id]);
    const r = await call(fake, "POST", "/crm/v3/objects/contacts/search", { filterGroups: one(eq("firstname", "Ann")), properties: ["city"] });
    assert.equal(r.body.total, 1);
    assert.equal(r.body.results[0].properties.city, "Paris");
    assert.equal(r.body.results[0].properties.firstname, undefined);
  } finally {
    await fake.close();
  }
});

test("search by lastmodifieddate: GT/GTE/LT take a ms epoch or an ISO date", async () => {
  const fake = await fresh();
  try {
    const older = fake.addContact({ email: "old@acme.test" });
    const newer = fake.addContact({ email: "new@acme.test" });
    const cut = Date.parse(newer.properties.lastmodifieddate);
    const find = async (operator, value) => (await call(fake, "POST", "/crm/v3/objects/contacts/search", { filterGroups: [{ filters: [eq("lastmodifieddate", value, operator)] }] })).body.results.map((c) => c.id);
    assert.deepEqual(await find("GTE", String(cut)), [newer.id]);
    assert.deepEqual(await find("GTE", new Date(cut).toISOString()), [newer.id]);
    assert.deepEqual(await find("LT", String(cut)), [older.id]);
    assert.deepEqual(await find("GT", String(cut)), []);
  } finally {
    await fake.close();
  }
});

test("search limits: too many groups or filters, limit over 200, and the 10,000-result cap answer 400", async () => {
  const filters = (n) => Array.from({ length: n }, (_, i) => eq("firstname", `n${i}`));
  const groups = (...sizes) => sizes.map((n) => ({ filters: filters(n) }));
  // HubSpot's limits since August 2024: 5 groups, 10 filters a group, 25 in all.
  assert.equal((await search({ filterGroups: groups(5, 5, 5, 5, 5) })).status, 200, "5 groups of 5 = 25 filters is fine");
  assert.equal((await search({ filterGroups: groups(10, 10, 5) })).status, 200, "10 in a group is fine");
  assert.equal((await search({ filterGroups: groups(1, 1, 1, 1, 1, 1) })).status, 400, "6 groups");
  const eleven = await search({ filterGroups: groups(11) });
  assert.equal(eleven.status, 400, "11 filters in a group");
  assert.equal(eleven.body.category, "VALIDATION_ERROR");
  assert.equal((await search({ filterGroups: groups(10, 10, 6) })).status, 400, "26 filters in all");
  assert.equal((await search({ limit: 201 })).status, 400);
  assert.equal((await search({ limit: 200, after: "9800" })).status, 200);
  const capped = await search({ limit: 100, after: "9950" });
  assert.equal(capped.status, 400);
  assert.equal(capped.body.category, "VALIDATION_ERROR");
});

test("IN and NOT_IN take a list of values, at most 100, and refuse a missing one; BETWEEN takes both ends", async () => {
  const fake = await fresh();
  try {
    const people = fake.seedContacts(3, (i) => ({ email: `v${i}@acme.test`, score: String(10 * (i + 1)) }));
    const ids = people.map((c) => c.id);
    const find = async (filter) => call(fake, "POST", "/crm/v3/objects/contacts/search", { filterGroups: [{ filters: [filter] }] });
    const many = (n) => Array.from({ length: n }, (_, i) => String(1 + i));
    assert.deepEqual((await find({ propertyName: "hs_object_id", operator: "NOT_IN", values: [ids[1]] })).body.results.map((c) => c.id), [ids[0], ids[2]]);
    assert.equal((await find({ propertyName: "hs_object_id", operator: "NOT_IN", values: many(100) })).status, 200, "100 values");
    for (const operator of ["IN", "NOT_IN"]) {
      const tooMany = await find({ propertyName: "hs_object_id", operator, values: many(101) });
      assert.equal(tooMany.status, 400, `${operator} with 101 values`);
      assert.equal(tooMany.body.category, "VALIDATION_ERROR");
      const single = await find({ propertyName: "hs_object_id", operator, value: ids[0] });
      assert.equal(single.status, 400, `${operator} with value instead of values`);
      assert.match(single.body.message, new RegExp(`operator ${operator} requires values`));
    }
    assert.equal((await find({ propertyName: "score", operator: "GT" })).status, 400, "GT without a value");
    assert.equal((await find({ propertyName: "score", operator: "LIKE", value: "1" })).status, 400, "an unknown operator");
    const between = await find({ propertyName: "score", operator: "BETWEEN", value: "10", highValue: "20" });
    assert.deepEqual(between.body.results.map((c) => c.id), [ids[0], ids[1]], "both ends included");
  } finally {
    await fake.close();
  }
});

test("a cursor's two groups: modified after it, or at it and not read yet; a sort by id pages within a millisecond", async () => {
  const fake = await fresh();
  try {
    const [a, b, c] = fake.seedContacts(3);
    const at = (r) => String(Date.parse(r.properties.lastmodifieddate));
    const found = async (body) => {
      const r = await call(fake, "POST", "/crm/v3/objects/contacts/search", body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.results.map((x) => x.id);
    };
    const since = (cursor, read) => ({
      filterGroups: [
        { filters: [eq("lastmodifieddate", cursor, "GT")] },
        { filters: [eq("lastmodifieddate", cursor), { propertyName: "hs_object_id", operator: "NOT_IN", values: read }] },
      ],
      sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" }],
    });
    const cursor = at(b); // (the fake's records are live: read the stamp before the edit)
    assert.deepEqual(await found(since(cursor, [b.id])), [c.id], "b was read at the cursor");
    // b edited after it was read: found again although its id is in the list.
    await call(fake, "PATCH", `/crm/v3/objects/contacts/${b.id}`, { properties: { phone: "+33600000000" } });
    assert.deepEqual(await found(since(cursor, [b.id])), [c.id, b.id], "modified order");
    // Keyset paging by id: one sort, hs_object_id compared as a number.
    const byId = { sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }], limit: 2 };
    assert.deepEqual(await found({ ...byId, filterGroups: [{ filters: [eq("hs_object_id", "0", "GT")] }] }), [a.id, b.id]);
    assert.deepEqual(await found({ ...byId, filterGroups: [{ filters: [eq("hs_object_id", b.id, "GT")] }] }), [c.id]);
  } finally {
    await fake.close();
  }
});

test("search pages with after and hands out a next page up to the cap", async () => {
  const fake = await fresh({ resultCap: 30 });
  try {
    fake.seedContacts(45);
    const pages = [];
    let after;
    for (;;) {
      const r = await call(fake, "POST", "/crm/v3/objects/contacts/search", { limit: 10, after });
      if (r.status === 400) break;
      assert.equal(r.body.total, 45);
      pages.push(r.body.results.length);
      if (!r.body.paging) break;
      after = r.body.paging.next.after;
    }
    assert.deepEqual(pages, [10, 10, 10], "past the cap the next page is a 400, as HubSpot does");
  } finally {
    await fake.close();
  }
});

test("new and updated records reach search only after the indexing delay", async () => {
  const fake = await fresh({ searchIndexDelayMs: 300 });
  try {
    const byName = async (name) => (await call(fake, "POST", "/crm/v3/objects/contacts/search", { filterGroups: [{ filters: [eq("firstname", name)] }] })).body.total;
    const { body } = await call(fake, "POST", "/crm/v3/objects/contacts", { properties: { email: "late@acme.test", firstname: "Late" } });
    assert.equal(await byName("Late"), 0);
    assert.equal((await call(fake, "GET", `/crm/v3/objects/contacts/${body.id}`)).status, 200, "reads see it at once");
    await sleep(400);
    assert.equal(await byName("Late"), 1);
    await call(fake, "PATCH", `/crm/v3/objects/contacts/${body.id}`, { properties: { firstname: "Later" } });
    assert.equal(await byName("Later"), 0);
    assert.equal(await byName("Late"), 1, "search still shows the old state");
    await sleep(400);
    assert.equal(await byName("Later"), 1);
  } finally {
    await fake.close();
  }
});

test("calls: validated, associated to existing contacts with type 194, never deduplicated", async () => {
  const contact = hs.addContact({ email: "caller@acme.test" });
  const assoc = (id, associationTypeId = 194) => [{ to: { id }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId }] }];
  const good = { hs_timestamp: String(Date.now()), hs_call_duration: "65000", hs_call_direction: "INBOUND", hs_call_status: "COMPLETED", hs_call_title: "Call" };
  const post = (properties, associations) => api("POST", "/crm/v3/objects/calls", { properties, associations });

  for (const [bad, why] of [
    [{ ...good, hs_timestamp: undefined }, "hs_timestamp is required"],
    [{ ...good, hs_call_duration: "1m5s" }, "duration is numeric"],
    [{ ...good, hs_call_direction: "SIDEWAYS" }, "direction is INBOUND or OUTBOUND"],
    [{ ...good, hs_call_status: "DONE" }, "status from the documented values"],
  ]) {
    const r = await post(bad, assoc(contact.id));
    assert.equal(r.status, 400, why);
    assert.equal(r.body.category, "VALIDATION_ERROR", why);
  }
  assert.equal((await post(good, assoc("999999"))).status, 400, "association to a missing contact");
  assert.equal((await post(good, assoc(contact.id, 1))).status, 400, "wrong association type");

  const before = hs.calls.size;
  const first = await post(good, assoc(contact.id));
  const second = await post(good, assoc(contact.id));
  assert.equal(first.status, 201);
  assert.notEqual(first.body.id, second.body.id, "no idempotency: two POSTs, two calls");
  assert.equal(hs.calls.size, before + 2);
  assert.equal(first.body.properties.hs_timestamp, new Date(Number(good.hs_timestamp)).toISOString());

  const got = await api("GET", `/crm/v3/objects/calls/${first.body.id}?associations=contacts&properties=hs_call_title`);
  assert.equal(got.body.properties.hs_call_title, "Call");
  assert.deepEqual(got.body.associations, { contacts: { results: [{ id: contact.id, type: "call_to_contact" }] } });

  const patched = await api("PATCH", `/crm/v3/objects/calls/${first.body.id}`, { properties: { hs_call_status: "NO_ANSWER" } });
  assert.equal(patched.status, 200);
  assert.equal((await api("PATCH", `/crm/v3/objects/calls/${first.body.id}`, { properties: { hs_call_direction: "UP" } })).status, 400);
  const list = await api("GET", "/crm/v3/objects/calls?limit=100&properties=hs_call_status");
  assert.ok(list.body.results.some((c) => c.id === first.body.id && c.properties.hs_call_status === "NO_ANSWER"));
});

test("rolling rate limit: 429 TEN_SECONDLY_ROLLING without Retry-After, counted, per token", async () => {
  const fake = await fresh({ tokens: [TOKEN, "pat-other"], rateLimit: 4, rateWindowMs: 1000 });
  try {
    const owners = (token = TOKEN) => call(fake, "GET", "/crm/v3/owners", undefined, token);
    for (let i = 0; i < 2; i++) assert.equal((await owners()).status, 200);
    await sleep(500);
    for (let i = 0; i < 2; i++) assert.equal((await owners()).status, 200);
    const refused = await owners();
    assert.equal(refused.status, 429);
    assert.deepEqual({ ...refused.body, correlationId: undefined }, {
      status: "error",
      message: "You have reached your ten_secondly_rolling limit.",
      errorType: "RATE_LIMIT",
      correlationId: undefined,
      policyName: "TEN_SECONDLY_ROLLING",
    });
    assert.equal(refused.headers.get("retry-after"), null);
    assert.equal((await owners("pat-other")).status, 200, "another token has its own budget");
    await sleep(600); // the first two have left the window, the last two have not
    assert.equal((await owners()).status, 200);
    assert.equal((await owners()).status, 200);
    assert.equal((await owners()).status, 429, "rolling, not a fixed window that resets whole");
    assert.equal(fake.counters.tooManyRequests, 2);
    assert.equal(fake.counters.byPolicy.TEN_SECONDLY_ROLLING, 2);
    assert.equal(fake.counters.requests, fake.requests.length);
  } finally {
    await fake.close();
  }
});

test("search has its own limit: 5 per second per token, 429 SECONDLY", async () => {
  const fake = await new FakeHubSpot({ tokens: [TOKEN] }).start(); // HubSpot's defaults
  try {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await call(fake, "POST", "/crm/v3/objects/contacts/search", {}));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 429]);
    assert.equal(answers[5].body.policyName, "SECONDLY");
    assert.equal(answers[5].body.errorType, "RATE_LIMIT");
    assert.equal((await call(fake, "GET", "/crm/v3/owners")).status, 200, "other endpoints are not held back");
    assert.equal(fake.counters.searches, 6);
    assert.equal(fake.counters.byPolicy.SECONDLY, 1);
    await sleep(1000);
    assert.equal((await call(fake, "POST", "/crm/v3/objects/contacts/search", {})).status, 200);
  } finally {
    await fake.close();
  }
});

test("inspection: the request log and failing the next N requests with a 5xx", async () => {
  const fake = await fresh();
  try {
    fake.failNext(2, 503);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(fake, "POST", "/crm/v3/objects/contacts", { properties: { email: `f${i}@acme.test` } })).status);
    assert.deepEqual(statuses, [503, 503, 201]);
    assert.equal(fake.contacts.size, 1);
    const last = fake.requests.at(-1);
    assert.deepEqual({ method: last.method, path: last.path, body: last.body, status: last.status, token: last.token }, {
      method: "POST",
      path: "/crm/v3/objects/contacts",
      body: { properties: { email: "f2@acme.test" } },
      status: 201,
      token: TOKEN,
    });
  } finally {
    await fake.close();
  }
});

test("phone numbers are kept as typed: EQ and IN match the typed text only, never a normalised form", async () => {
  const us = await api("POST", "/crm/v3/objects/contacts", { properties: { email: "typed-us@acme.test", phone: "(415) 555-0100" } });
  const fr = await api("POST", "/crm/v3/objects/contacts", { properties: { email: "typed-fr@acme.test", mobilephone: "06 12 34 56 78" } });
  assert.equal(us.body.properties.phone, "(415) 555-0100");
  const ids = async (filter) => (await search({ filterGroups: [{ filters: [filter] }] })).body.results.map((r) => r.id);
  assert.deepEqual(await ids(eq("phone", "+14155550100")), [], "an E.164 value misses a number typed otherwise");
  assert.deepEqual(await ids(eq("phone", "4155550100")), []);
  assert.deepEqual(await ids(eq("phone", "(415) 555-0100")), [us.body.id]);
  assert.deepEqual(await ids({ propertyName: "mobilephone", operator: "IN", values: ["+33612345678", "0612345678"] }), []);
  assert.deepEqual(await ids({ propertyName: "mobilephone", operator: "IN", values: ["06 12 34 56 78"] }), [fr.body.id]);
});

test("423 Locked on writes while a bulk operation holds them; a daily limit answers 429 DAILY", async () => {
  const fake = await fresh({ dailyLimit: 3 });
  fake.lockNext(1);
  const locked = await call(fake, "POST", "/crm/v3/objects/contacts", { properties: { email: "locked@acme.test" } });
  assert.equal(locked.status, 423);
  assert.equal(locked.body.category, "LOCKED");
  assert.equal((await call(fake, "POST", "/crm/v3/objects/contacts", { properties: { email: "locked@acme.test" } })).status, 201);
  assert.equal((await call(fake, "GET", "/crm/v3/owners")).status, 200);
  const over = await call(fake, "GET", "/crm/v3/owners");
  assert.equal(over.status, 429);
  assert.equal(over.body.policyName, "DAILY");
  assert.equal(fake.counters.byPolicy.DAILY, 1);
  await fake.close();
});

// ===== Aircall AI block (issue 15): call properties, notes, tasks, default associations =====

test("a call property the portal lacks is refused; created once, a second creation is a 409", async () => {
  const created = await api("POST", "/crm/v3/objects/calls", { properties: { hs_timestamp: "1700000000000" } });
  assert.equal(created.status, 201);
  const unknown = await api("PATCH", `/crm/v3/objects/calls/${created.body.id}`, { properties: { aircall_ai_topics: "billing" } });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.category, "VALIDATION_ERROR");
  assert.equal(unknown.body.errors[0].code, "PROPERTY_DOESNT_EXIST");
  const definition = { name: "aircall_ai_topics", label: "Aircall AI topics", type: "string", fieldType: "text", groupName: "callinformation" };
  assert.equal((await api("POST", "/crm/v3/properties/calls", { ...definition, groupName: undefined })).status, 400);
  assert.equal((await api("POST", "/crm/v3/properties/calls", definition)).status, 201);
  const again = await api("POST", "/crm/v3/properties/calls", definition);
  assert.equal(again.status, 409);
  assert.equal(again.body.category, "OBJECT_ALREADY_EXISTS");
  assert.equal((await api("GET", "/crm/v3/properties/calls/aircall_ai_topics")).body.label, "Aircall AI topics");
  assert.equal((await api("GET", "/crm/v3/properties/calls/nothing")).status, 404);
  assert.equal((await api("PATCH", `/crm/v3/objects/calls/${created.body.id}`, { properties: { aircall_ai_topics: "billing" } })).status, 200);
  assert.equal(hs.calls.get(created.body.id).properties.aircall_ai_topics, "billing");
});

test("notes and tasks: timestamp required, their contact association types, no idempotency; default associations", async () => {
  const contact = hs.addContact({ email: "ai-note@acme.test" });
  const call = await api("POST", "/crm/v3/objects/calls", { properties: { hs_timestamp: "1700000000000" } });
  const to = (typeId) => [{ to: { id: contact.id }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: typeId }] }];
  assert.equal((await api("POST", "/crm/v3/objects/notes", { properties: { hs_note_body: "x" } })).status, 400);
  assert.equal((await api("POST", "/crm/v3/objects/notes", { properties: { hs_timestamp: "1", hs_note_body: "x".repeat(65_537) } })).status, 400);
  assert.equal((await api("POST", "/crm/v3/objects/notes", { properties: { hs_timestamp: "1", hs_note_body: "x" }, associations: to(204) })).status, 400);
  const note = await api("POST", "/crm/v3/objects/notes", { properties: { hs_timestamp: "1", hs_note_body: "Summary" }, associations: to(202) });
  assert.equal(note.status, 201);
  const twice = await api("POST", "/crm/v3/objects/notes", { properties: { hs_timestamp: "1", hs_note_body: "Summary" }, associations: to(202) });
  assert.notEqual(twice.body.id, note.body.id, "every POST is a new note");
  const linked = await api("PUT", `/crm/v4/objects/notes/${note.body.id}/associations/default/calls/${call.body.id}`);
  assert.equal(linked.status, 200);
  assert.deepEqual(hs.notes.get(note.body.id).callIds, [call.body.id]);
  assert.equal((await api("PUT", `/crm/v4/objects/notes/${note.body.id}/associations/default/calls/999999`)).status, 404);
  assert.deepEqual(hs.notes.get(note.body.id).contactIds, [contact.id]);

  assert.equal((await api("POST", "/crm/v3/objects/tasks", { properties: { hs_timestamp: "1", hs_task_status: "SOMEDAY" } })).status, 400);
  const task = await api("POST", "/crm/v3/objects/tasks", { properties: { hs_timestamp: "1", hs_task_subject: "Refund", hs_task_status: "NOT_STARTED" }, associations: to(204) });
  assert.equal(task.status, 201);
  const changed = await api("PATCH", `/crm/v3/objects/tasks/${task.body.id}`, { properties: { hs_task_subject: "Refund twice" } });
  assert.equal(changed.status, 200);
  assert.equal(hs.tasks.get(task.body.id).properties.hs_task_subject, "Refund twice");
  assert.equal(hs.tasks.get(task.body.id).properties.hs_task_status, "NOT_STARTED");
});

// --- Caller context (insight cards) ---

test("a contact's open deals and last logged call are found by searching on the association", async () => {
  const fake = await fresh();
  try {
    const ann = fake.addContact({ firstname: "Ann", phone: "(415) 555-0100" });
    const other = fake.addContact({ firstname: "Other" });
    fake.addDeal({ contactIds: [ann.id], dealname: "Small", amount: "1200", dealstage: "qualifiedtobuy" });
    fake.addDeal({ contactIds: [ann.id], dealname: "Big", amount: "25000.5", dealstage: "contractsent" });
    fake.addDeal({ contactIds: [ann.id], dealname: "Won", amount: "90000", dealstage: "closedwon" });
    fake.addDeal({ contactIds: [other.id], dealname: "Theirs", amount: "500" });
    const open = {
      filterGroups: [{ filters: [{ propertyName: "associations.contact", operator: "EQ", value: ann.id }, { propertyName: "hs_is_closed", operator: "EQ", value: "false" }] }],
      sorts: [{ propertyName: "amount", direction: "DESCENDING" }],
      properties: ["dealname", "amount", "dealstage"],
      limit: 1,
    };
    const deals = await call(fake, "POST", "/crm/v3/objects/deals/search", open);
    assert.equal(deals.status, 200);
    assert.equal(deals.body.total, 2, "the closed deal and another contact's are left out");
    assert.equal(deals.body.results[0].properties.dealname, "Big");
    assert.equal(deals.body.results[0].properties.dealstage, "contractsent");

    fake.addLoggedCall(ann.id, { hs_timestamp: "2026-01-02T10:00:00Z", hs_call_title: "Old" });
    fake.addLoggedCall(ann.id, { hs_timestamp: "2026-03-04T10:00:00Z", hs_call_title: "Newest", hs_call_status: "COMPLETED" });
    fake.addLoggedCall(other.id, { hs_timestamp: "2026-05-01T10:00:00Z", hs_call_title: "Not hers" });
    const last = await call(fake, "POST", "/crm/v3/objects/calls/search", {
      filterGroups: [{ filters: [{ propertyName: "associations.contact", operator: "EQ", value: ann.id }] }],
      sorts: [{ propertyName: "hs_timestamp", direction: "DESCENDING" }],
      properties: ["hs_timestamp", "hs_call_title", "hs_call_status"],
      limit: 1,
    });
    assert.equal(last.body.total, 2);
    assert.equal(last.body.results[0].properties.hs_call_title, "Newest");
    assert.equal(last.body.results[0].properties.hs_timestamp, "2026-03-04T10:00:00.000Z");

    const badOperator = await call(fake, "POST", "/crm/v3/objects/deals/search", { filterGroups: [{ filters: [{ propertyName: "associations.contact", operator: "GT", value: ann.id }] }] });
    assert.equal(badOperator.status, 400);
  } finally {
    await fake.close();
  }
});

test("limitNext answers 429 TEN_SECONDLY_ROLLING, then HubSpot answers again", async () => {
  const fake = await fresh();
  try {
    fake.limitNext(1);
    const limited = await call(fake, "GET", "/crm/v3/owners");
    assert.equal(limited.status, 429);
    assert.equal(limited.body.policyName, "TEN_SECONDLY_ROLLING");
    assert.equal((await call(fake, "GET", "/crm/v3/owners")).status, 200);
  } finally {
    await fake.close();
  }
});

test("a contact's last activity and last contacted dates follow the engagements logged on it", async () => {
  const fake = await fresh();
  try {
    const ann = fake.addContact({ firstname: "Ann", phone: "(415) 555-0100" });
    const created = ann.properties.lastmodifieddate;
    const read = async () => (await call(fake, "GET", `/crm/v3/objects/contacts/${ann.id}?properties=notes_last_updated,notes_last_contacted`)).body.properties;
    let now = await read();
    assert.deepEqual([now.notes_last_updated, now.notes_last_contacted], [null, null], "nothing logged yet");
    const to = (id, typeId) => [{ to: { id }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: typeId }] }];

    // A call logged with an inline association: both dates become its hs_timestamp (sent in ms).
    const logged = await call(fake, "POST", "/crm/v3/objects/calls", { properties: { hs_timestamp: String(Date.parse("2026-03-01T10:00:00Z")) }, associations: to(ann.id, 194) });
    assert.equal(logged.status, 201);
    now = await read();
    assert.deepEqual([now.notes_last_updated, now.notes_last_contacted], ["2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z"]);
    // HubSpot's lastmodifieddate counts its own properties' updates too.
    const modified = fake.contacts.get(ann.id).properties.lastmodifieddate;
    assert.ok(modified > created, "the contact's lastmodifieddate moves");

    // A note logged later by hand: the last activity, not a contact made.
    await call(fake, "POST", "/crm/v3/objects/notes", { properties: { hs_timestamp: "2026-03-01T11:30:00Z", hs_note_body: "Sent the quote" }, associations: to(ann.id, 202) });
    now = await read();
    assert.equal(now.notes_last_updated, "2026-03-01T11:30:00.000Z");
    assert.equal(now.notes_last_contacted, "2026-03-01T10:00:00.000Z");

    // An older task, and an older call: nothing moves back, nor the contact's lastmodifieddate.
    const before = fake.contacts.get(ann.id).properties.lastmodifieddate;
    await call(fake, "POST", "/crm/v3/objects/tasks", { properties: { hs_timestamp: "2026-02-01T10:00:00Z", hs_task_subject: "Old" }, associations: to(ann.id, 204) });
    fake.addLoggedCall(ann.id, { hs_timestamp: "2026-01-01T10:00:00Z" });
    now = await read();
    assert.equal(now.notes_last_updated, "2026-03-01T11:30:00.000Z");
    assert.equal(now.notes_last_contacted, "2026-03-01T10:00:00.000Z");
    assert.equal(fake.contacts.get(ann.id).properties.lastmodifieddate, before);

    // A note made alone, then associated with the contact (v4): it counts from then on.
    const alone = await call(fake, "POST", "/crm/v3/objects/notes", { properties: { hs_timestamp: "2026-03-02T08:00:00Z", hs_note_body: "Later" } });
    assert.equal((await read()).notes_last_updated, "2026-03-01T11:30:00.000Z", "not associated yet");
    assert.equal((await call(fake, "PUT", `/crm/v4/objects/notes/${alone.body.id}/associations/default/contacts/${ann.id}`)).status, 200);
    assert.equal((await read()).notes_last_updated, "2026-03-02T08:00:00.000Z");

    // A call's time changed: recomputed.
    await call(fake, "PATCH", `/crm/v3/objects/calls/${logged.body.id}`, { properties: { hs_timestamp: "2026-03-03T09:00:00Z" } });
    now = await read();
    assert.deepEqual([now.notes_last_updated, now.notes_last_contacted], ["2026-03-03T09:00:00.000Z", "2026-03-03T09:00:00.000Z"]);

    // Search shows them too, as every contact property.
    const found = await call(fake, "POST", "/crm/v3/objects/contacts/search", { filterGroups: [{ filters: [{ propertyName: "phone", operator: "EQ", value: "(415) 555-0100" }] }], properties: ["notes_last_updated"] });
    assert.equal(found.body.results[0].properties.notes_last_updated, "2026-03-03T09:00:00.000Z");
  } finally {
    await fake.close();
  }
});

test("hang holds every request unanswered until release, then answers it", async () => {
  const fake = await fresh();
  try {
    fake.hang();
    let answered = false;
    const pending = call(fake, "GET", "/crm/v3/owners").then((r) => ((answered = true), r));
    while (!fake.requests.length) await sleep(10);
    await sleep(200);
    assert.equal(answered, false, "held");
    assert.equal(fake.requests[0].status, 0, "logged, unanswered");
    fake.release();
    assert.equal((await pending).status, 200);
    assert.equal((await call(fake, "GET", "/crm/v3/owners")).status, 200, "answered at once after release");
  } finally {
    await fake.close();
  }
});

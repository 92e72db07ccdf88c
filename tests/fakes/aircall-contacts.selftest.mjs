// The Aircall fake's contacts API, tested on its own: it must behave as the reference
// (../shared/reference/aircall-api.md: Contacts, Lists and pagination, Webhooks) says, or the
// worker's contact tests prove nothing. Run: node --test tests/fakes/ (no worker build).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { FakeAircall } from "./aircall.mjs";

const ID = "api-contacts";
const TOKEN = "token-contacts";
// Every server a test starts; those a failed test left open are closed at the end, so a
// failure never hangs the run.
const servers = [];
after(() => Promise.all(servers.filter((s) => s.listening).map((s) => new Promise((r) => s.close(r)))));

// A fake of its own per test, its rate limit out of the way unless the test sets one.
const fresh = async (options = {}) => {
  const fake = await new FakeAircall({ ratePerMinute: 10_000, ...options }).start();
  servers.push(fake.server);
  fake.addKey(ID, TOKEN);
  return fake;
};

async function call(fake, method, path, body, { id = ID, token = TOKEN } = {}) {
  const headers = { authorization: `Basic ${Buffer.from(`${id}:${token}`).toString("base64")}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(fake.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}
const phone = (value, label = "Work") => ({ label, value });

test("a contact has Aircall's shape; get by id; 404 when unknown; 401 without a key", async () => {
  const fake = await fresh();
  const [seeded] = fake.addContacts(ID, [{ first_name: "Ann", phone_numbers: [phone("+33612345678")], emails: [{ label: "Work", value: "ann@acme.test" }] }]);
  assert.equal(seeded.id, 900001);
  const r = await call(fake, "GET", `/v1/contacts/${seeded.id}`);
  assert.equal(r.status, 200);
  const c = r.body.contact;
  assert.deepEqual(Object.keys(c).sort(), [
    "company_name", "created_at", "description", "direct_link", "emails", "first_name", "id", "information",
    "is_shared", "last_name", "phone_numbers", "updated_at",
  ]);
  assert.equal(c.is_shared, true);
  assert.ok(Number.isInteger(c.created_at) && Number.isInteger(c.updated_at), "UNIX seconds in the API");
  assert.ok(Math.abs(c.created_at - Date.now() / 1000) < 5);
  assert.deepEqual(Object.keys(c.phone_numbers[0]).sort(), ["id", "label", "value"]);
  assert.equal(c.emails[0].value, "ann@acme.test");
  assert.equal((await call(fake, "GET", "/v1/contacts/123")).status, 404);
  assert.equal((await call(fake, "GET", "/v1/contacts", undefined, { token: "wrong" })).status, 401);
  assert.equal(fake.contactRequests.get, 2);
  assert.equal(fake.contactRequests.list, 1, "refused attempts are counted too");
  await fake.stop();
});

test("list: order and order_by, from exclusive / to inclusive on created_at, pages, per_page clamped to 50", async () => {
  const fake = await fresh();
  const base = 1_700_000_000;
  // created_at ascending with id; updated_at in the reverse order.
  fake.addContacts(ID, Array.from({ length: 60 }, (_, i) => ({
    first_name: `C${i}`, phone_numbers: [phone(`+3361234${String(i).padStart(4, "0")}`)],
    created_at: base + i * 10, updated_at: base + 10_000 - i,
  })));
  const all = await call(fake, "GET", "/v1/contacts?per_page=500");
  assert.equal(all.body.meta.per_page, 50, "clamped silently");
  assert.equal(all.body.contacts.length, 50);
  assert.equal(all.body.meta.total, 60);
  assert.equal(all.body.meta.current_page, 1);
  assert.equal(all.body.meta.previous_page_link, null);
  assert.match(all.body.meta.next_page_link, /page=2/);
  assert.deepEqual(all.body.contacts.slice(0, 2).map((c) => c.first_name), ["C0", "C1"], "asc on created_at by default");

  const page2 = await call(fake, "GET", "/v1/contacts?per_page=50&page=2");
  assert.equal(page2.body.meta.count, 10);
  assert.equal(page2.body.meta.next_page_link, null);
  assert.match(page2.body.meta.previous_page_link, /page=1/);

  const dflt = await call(fake, "GET", "/v1/contacts");
  assert.equal(dflt.body.meta.per_page, 20);

  const desc = await call(fake, "GET", "/v1/contacts?order=desc&per_page=3");
  assert.deepEqual(desc.body.contacts.map((c) => c.first_name), ["C59", "C58", "C57"]);
  assert.match(desc.body.meta.next_page_link, /order=desc/, "links keep the query");

  const byUpdate = await call(fake, "GET", "/v1/contacts?order_by=updated_at&per_page=2");
  assert.deepEqual(byUpdate.body.contacts.map((c) => c.first_name), ["C59", "C58"], "least recently updated first");

  const window = await call(fake, "GET", `/v1/contacts?from=${base + 10}&to=${base + 30}`);
  assert.deepEqual(window.body.contacts.map((c) => c.first_name), ["C2", "C3"]);
  assert.equal(fake.contactRequests.list, 6);
  await fake.stop();
});

test("list and search past the result cap answer 400 with the documented message", async () => {
  const fake = await fresh({ resultCap: 100 });
  fake.addContacts(ID, [{ phone_numbers: [phone("+15550001111")] }]);
  assert.equal((await call(fake, "GET", "/v1/contacts?per_page=50&page=2")).status, 200);
  for (const path of ["/v1/contacts?per_page=50&page=3", "/v1/contacts/search?email=a@b.c&per_page=50&page=3"]) {
    const r = await call(fake, "GET", path);
    assert.equal(r.status, 400);
    assert.equal(r.body.troubleshoot, "Your query is limited to 10k results and pagination is out of bound, please use timestamps or other filters.");
  }
  const real = await fresh();
  assert.equal((await call(real, "GET", "/v1/contacts?per_page=50&page=200")).status, 200);
  assert.equal((await call(real, "GET", "/v1/contacts?per_page=50&page=201")).status, 400, "10,000 by default");
  await Promise.all([fake.stop(), real.stop()]);
});

test("search by phone number (spaces removed) and by e-mail (any case)", async () => {
  const fake = await fresh();
  const [a, b] = fake.addContacts(ID, [
    { first_name: "Spaced", phone_numbers: [phone("+33 6 12 34 56 78")], emails: [{ label: "Work", value: "Spaced@Acme.test" }] },
    { first_name: "Plain", phone_numbers: [phone("+14155550100"), phone("+14155550199", "Home")] },
  ]);
  const byPhone = await call(fake, "GET", `/v1/contacts/search?phone_number=${encodeURIComponent("+33612345678")}`);
  assert.deepEqual(byPhone.body.contacts.map((c) => c.id), [a.id]);
  assert.equal(byPhone.body.meta.total, 1);
  const second = await call(fake, "GET", "/v1/contacts/search?phone_number=%2B14155550199");
  assert.deepEqual(second.body.contacts.map((c) => c.id), [b.id], "any of the contact's numbers");
  const unencoded = await call(fake, "GET", "/v1/contacts/search?phone_number=+14155550199");
  assert.equal(unencoded.body.meta.total, 0, "an unencoded + is a space: the client must send %2B");
  const partial = await call(fake, "GET", "/v1/contacts/search?phone_number=%2B141555501");
  assert.equal(partial.body.meta.total, 0, "exact match only");
  const byEmail = await call(fake, "GET", "/v1/contacts/search?email=spaced%40acme.TEST");
  assert.deepEqual(byEmail.body.contacts.map((c) => c.id), [a.id]);
  assert.equal((await call(fake, "GET", "/v1/contacts/search?email=nobody%40acme.test")).body.contacts.length, 0);
  assert.equal(fake.contactRequests.search, 6);
  await fake.stop();
});

test("create: 201 with the contact; non-E.164 numbers refused naming the value; a phone number is required", async () => {
  const fake = await fresh();
  const created = await call(fake, "POST", "/v1/contacts", {
    first_name: "New", last_name: "One", company_name: "Acme",
    phone_numbers: [phone("+442071234567")], emails: [{ label: "Work", value: "new@acme.test" }],
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.contact.first_name, "New");
  assert.equal(created.body.contact.phone_numbers[0].value, "+442071234567");
  assert.ok(Number.isInteger(created.body.contact.phone_numbers[0].id));
  assert.deepEqual(fake.contactById(ID, created.body.contact.id), created.body.contact);

  for (const bad of ["+44 20 7123 4567", "+44-20-7123-4567", "442071234567", "+0442071234567", "+1234567890123456", "+12345"]) {
    const r = await call(fake, "POST", "/v1/contacts", { first_name: "Bad", phone_numbers: [phone("+442071234567"), phone(bad)] });
    assert.equal(r.status, 400, bad);
    assert.equal(typeof r.body.error, "string");
    assert.ok(r.body.troubleshoot.includes(bad), `names ${bad}: ${r.body.troubleshoot}`);
  }
  for (const body of [{ first_name: "None" }, { first_name: "Empty", phone_numbers: [] }]) {
    const r = await call(fake, "POST", "/v1/contacts", body);
    assert.equal(r.status, 400);
    assert.match(r.body.troubleshoot, /phone number/);
  }
  assert.equal(fake.contactsOf(ID).length, 1, "refused creates store nothing");
  assert.equal(fake.contactRequests.create, 9);
  await fake.stop();
});

test("update by POST /v1/contacts/:id replaces the given fields and ignores the lists; delete answers 204", async () => {
  const fake = await fresh();
  const [c] = fake.addContacts(ID, [{
    first_name: "Old", last_name: "Name", company_name: "Keep",
    phone_numbers: [phone("+33611111111"), phone("+33622222222")], emails: [{ label: "Work", value: "old@acme.test" }],
  }]);
  const r = await call(fake, "POST", `/v1/contacts/${c.id}`, { first_name: "New", phone_numbers: [phone("+33633333333", "Mobile")], emails: [] });
  assert.equal(r.status, 200);
  assert.equal(r.body.contact.first_name, "New");
  assert.equal(r.body.contact.last_name, "Name", "fields not given are kept");
  assert.equal(r.body.contact.company_name, "Keep");
  assert.deepEqual(r.body.contact.phone_numbers.map((p) => p.value), ["+33611111111", "+33622222222"], "the numbers are not changed");
  assert.deepEqual(r.body.contact.emails.map((e) => e.value), ["old@acme.test"], "nor the e-mails");
  const ignored = await call(fake, "POST", `/v1/contacts/${c.id}`, { phone_numbers: [phone("06 33 33 33 33")] });
  assert.equal(ignored.status, 200, "an ignored list is not checked either");

  const bad = await call(fake, "POST", `/v1/contacts/${c.id}`, { first_name: 12 });
  assert.equal(bad.status, 400);
  assert.equal(fake.contactById(ID, c.id).first_name, "New", "a refused update changes nothing");
  assert.equal((await call(fake, "POST", "/v1/contacts/999", { first_name: "X" })).status, 404);

  const del = await call(fake, "DELETE", `/v1/contacts/${c.id}`);
  assert.equal(del.status, 204);
  assert.equal(fake.contactById(ID, c.id), null);
  assert.equal((await call(fake, "GET", `/v1/contacts/${c.id}`)).status, 404);
  assert.equal((await call(fake, "DELETE", `/v1/contacts/${c.id}`)).status, 404);
  assert.deepEqual(fake.contactRequests, { list: 0, get: 1, search: 0, create: 0, update: 4, delete: 2, details: 0 });
  await fake.stop();
});

test("phone_details and email_details add, update in place and delete one entry by its id", async () => {
  const fake = await fresh();
  const [c] = fake.addContacts(ID, [{ phone_numbers: [phone("+33611111111")], emails: [{ label: "Work", value: "a@acme.test" }] }]);
  const [first] = c.phone_numbers;
  const added = await call(fake, "POST", `/v1/contacts/${c.id}/phone_details`, phone("+33622222222", "Mobile"));
  assert.equal(added.status, 201);
  assert.deepEqual(added.body.contact.phone_numbers.map((p) => [p.label, p.value]), [["Work", "+33611111111"], ["Mobile", "+33622222222"]], "added at the end");
  const second = added.body.contact.phone_numbers[1];
  assert.ok(Number.isInteger(second.id) && second.id !== first.id, "each entry has its own id");

  const put = await call(fake, "PUT", `/v1/contacts/${c.id}/phone_details/${first.id}`, phone("+33633333333", "Home"));
  assert.equal(put.status, 200);
  assert.deepEqual(put.body.contact.phone_numbers.map((p) => [p.id, p.label, p.value]), [[first.id, "Home", "+33633333333"], [second.id, "Mobile", "+33622222222"]], "in place, same id");

  const badNumber = await call(fake, "POST", `/v1/contacts/${c.id}/phone_details`, phone("06 44 44 44 44"));
  assert.equal(badNumber.status, 400);
  assert.ok(badNumber.body.troubleshoot.includes("06 44 44 44 44"));
  assert.equal((await call(fake, "POST", `/v1/contacts/${c.id}/phone_details`, { label: "x" })).status, 400, "a value is required");
  assert.equal((await call(fake, "PUT", `/v1/contacts/${c.id}/phone_details/1`, phone("+33655555555"))).status, 404, "unknown detail");
  assert.equal((await call(fake, "POST", "/v1/contacts/999/phone_details", phone("+33655555555"))).status, 404, "unknown contact");

  assert.equal((await call(fake, "DELETE", `/v1/contacts/${c.id}/phone_details/${second.id}`)).status, 200);
  const last = await call(fake, "DELETE", `/v1/contacts/${c.id}/phone_details/${first.id}`);
  assert.equal(last.status, 400, "a contact keeps at least one number");
  assert.deepEqual(fake.contactById(ID, c.id).phone_numbers.map((p) => p.value), ["+33633333333"]);

  const email = await call(fake, "POST", `/v1/contacts/${c.id}/email_details`, { label: "Home", value: "b@home.test" });
  assert.deepEqual(email.body.contact.emails.map((e) => e.value), ["a@acme.test", "b@home.test"]);
  const [a] = email.body.contact.emails;
  await call(fake, "PUT", `/v1/contacts/${c.id}/email_details/${a.id}`, { label: "Work", value: "new@acme.test" });
  assert.equal((await call(fake, "DELETE", `/v1/contacts/${c.id}/email_details/${a.id}`)).status, 200);
  assert.deepEqual(fake.contactById(ID, c.id).emails.map((e) => e.value), ["b@home.test"], "every e-mail may go");
  assert.equal(fake.contactRequests.details, 11);
  assert.equal(fake.contactRequests.update, 0);
  await fake.stop();
});

test("writes bump updated_at; with contactsEditsBumpUpdatedAt false, list-only edits do not", async () => {
  const old = 1_600_000_000;
  const now = () => Math.floor(Date.now() / 1000);
  const fake = await fresh();
  const [a, b, c] = fake.addContacts(ID, ["+33611111111", "+33622222222", "+33633333333"].map((v) => ({ phone_numbers: [phone(v)], created_at: old, updated_at: old })));
  const api = await call(fake, "POST", `/v1/contacts/${a.id}/phone_details`, phone("+33644444444"));
  assert.ok(api.body.contact.updated_at >= now() - 1, "API edit of the numbers bumps by default");
  assert.equal(api.body.contact.created_at, old);
  assert.ok(fake.editContact(ID, b.id, { emails: [{ label: "Work", value: "b@acme.test" }] }).updated_at >= now() - 1);

  fake.contactsEditsBumpUpdatedAt = false;
  const quiet = await call(fake, "PUT", `/v1/contacts/${c.id}/phone_details/${c.phone_numbers[0].id}`, phone("+33655555555"));
  assert.equal(quiet.body.contact.updated_at, old, "numbers changed, updated_at not");
  assert.equal(quiet.body.contact.phone_numbers[0].value, "+33655555555");
  assert.equal(fake.editContact(ID, c.id, { emails: [{ label: "Home", value: "c@acme.test" }] }).updated_at, old);
  assert.ok(fake.editContact(ID, c.id, { last_name: "Named" }).updated_at >= now() - 1, "other fields still bump");
  await fake.stop();
});

// A local receiver standing in for the worker.
async function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      got.push({ path: req.url, headers: req.headers, body: JSON.parse(raw) });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { got, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

test("autoContactWebhooks: API writes send contact.created/updated/deleted to subscribed webhooks after answering", async () => {
  const sink = await receiver();
  const fake = await fresh({ autoContactWebhooks: true });
  fake.addKey("other", "other-token");
  const hook = async (path, events, id = ID, token = TOKEN) =>
    (await call(fake, "POST", "/v1/webhooks", { url: sink.url + path, events }, { id, token })).body.webhook;
  const all = await hook("/all", []);
  await hook("/contacts", ["contact.created", "contact.updated", "contact.deleted"]);
  await hook("/calls", ["call.ended"]);
  await hook("/other", [], "other", "other-token");

  const created = await call(fake, "POST", "/v1/contacts", { first_name: "Hook", phone_numbers: [phone("+15550001234")] });
  assert.equal(created.status, 201);
  const id = created.body.contact.id;
  await call(fake, "POST", `/v1/contacts/${id}`, { last_name: "Ed" });
  await call(fake, "DELETE", `/v1/contacts/${id}`);
  await call(fake, "POST", "/v1/contacts", { phone_numbers: [phone("bad")] }); // refused: nothing sent
  await fake.contactWebhooksSettled();

  const events = (path) => sink.got.filter((g) => g.path === path).map((g) => g.body.event);
  assert.deepEqual(events("/all"), ["contact.created", "contact.updated", "contact.deleted"]);
  assert.deepEqual(events("/contacts"), ["contact.created", "contact.updated", "contact.deleted"]);
  assert.deepEqual(events("/calls"), [], "not subscribed");
  assert.deepEqual(events("/other"), [], "another account");
  const first = sink.got.find((g) => g.path === "/all");
  assert.equal(first.body.resource, "contact");
  assert.equal(first.body.token, all.token);
  assert.equal(first.body.data.id, id);
  assert.match(first.body.data.created_at, iso, "ISO strings in webhook payloads");
  assert.match(first.body.data.updated_at, iso);
  assert.equal(first.body.data.phone_numbers[0].value, "+15550001234");
  const updated = sink.got.find((g) => g.path === "/all" && g.body.event === "contact.updated");
  assert.equal(updated.body.data.last_name, "Ed", "the contact as written");
  assert.equal(fake.contactWebhooksFired.length, 6);
  assert.ok(fake.contactWebhooksFired.every((f) => f.status === 200 && f.api_id === ID && f.contact_id === id));

  // Off (the default): API writes send nothing.
  const quiet = await fresh();
  await call(quiet, "POST", "/v1/webhooks", { url: sink.url + "/quiet", events: [] });
  await call(quiet, "POST", "/v1/contacts", { phone_numbers: [phone("+15550009999")] });
  await quiet.contactWebhooksSettled();
  assert.equal(quiet.contactWebhooksFired.length, 0);
  assert.deepEqual(events("/quiet"), []);
  await Promise.all([fake.stop(), quiet.stop(), sink.close()]);
});

test("the API answer does not wait for a slow webhook receiver", async () => {
  let release;
  const held = new Promise((r) => (release = r));
  const posted = [];
  const fake = await fresh({
    autoContactWebhooks: true,
    webhookPost: async (url, init) => {
      posted.push({ url, body: JSON.parse(init.body) });
      await held;
      return new Response("late", { status: 500 });
    },
  });
  await call(fake, "POST", "/v1/webhooks", { url: "https://worker.test/aircall", events: ["contact.created"] });
  const r = await call(fake, "POST", "/v1/contacts", { phone_numbers: [phone("+15550004321")] });
  assert.equal(r.status, 201, "answered while the receiver holds");
  assert.equal(fake.contactWebhooksFired[0].status, null, "not answered yet");
  release();
  await fake.contactWebhooksSettled();
  assert.equal(posted.length, 1);
  assert.equal(posted[0].url, "https://worker.test/aircall");
  assert.equal(fake.contactWebhooksFired[0].status, 500);
  assert.equal(fake.contactWebhooksFired[0].body, "late");
  await fake.stop();
});

test("editContact/removeContact (a person in Aircall) send through webhookPost when set", async () => {
  const posted = [];
  const fake = await fresh();
  await call(fake, "POST", "/v1/webhooks", { url: "https://worker.test/hook", events: [] });
  const [c] = fake.addContacts(ID, [{ first_name: "P", phone_numbers: [phone("+15550002222")] }]);
  fake.editContact(ID, c.id, { first_name: "Q" });
  await fake.contactWebhooksSettled();
  assert.equal(fake.contactWebhooksFired.length, 0, "no webhookPost: nothing sent");

  fake.webhookPost = async (url, init) => {
    posted.push(JSON.parse(init.body));
    return new Response("ok");
  };
  const edited = fake.editContact(ID, c.id, { first_name: "R" });
  assert.equal(edited.first_name, "R");
  fake.editContact(ID, c.id, { first_name: "S" }, { fireWebhook: false });
  fake.removeContact(ID, c.id);
  await fake.contactWebhooksSettled();
  assert.deepEqual(posted.map((p) => [p.event, p.data.first_name]), [["contact.updated", "R"], ["contact.deleted", "S"]]);
  assert.match(posted[0].data.updated_at, iso);
  assert.equal(fake.contactsOf(ID).length, 0);
  assert.deepEqual(fake.contactRequests, { list: 0, get: 0, search: 0, create: 0, update: 0, delete: 0, details: 0 }, "direct access is not a request");
  await fake.stop();
});

test("contacts share the per-company rate limit with calls and the other endpoints", async () => {
  const fake = await fresh({ ratePerMinute: 4 });
  fake.addKey("other", "other-token");
  assert.equal((await call(fake, "GET", "/v1/calls")).status, 200);
  assert.equal((await call(fake, "GET", "/v1/ping")).status, 200);
  assert.equal((await call(fake, "GET", "/v1/contacts")).status, 200);
  assert.equal((await call(fake, "POST", "/v1/contacts", { phone_numbers: [phone("+15550003333")] })).status, 201);
  const limited = await call(fake, "GET", "/v1/contacts/search?email=a%40b.c");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("x-aircallapi-limit"), "4");
  assert.equal(limited.headers.get("x-aircallapi-remaining"), "0");
  assert.match(limited.headers.get("x-aircallapi-reset"), /^\d+$/);
  assert.equal((await call(fake, "GET", "/v1/calls")).status, 429);
  assert.equal(fake.tooManyRequests, 2);
  assert.equal((await call(fake, "GET", "/v1/contacts", undefined, { id: "other", token: "other-token" })).status, 200, "per company");
  assert.equal(fake.contactRequests.search, 1);
  assert.equal(fake.requests.filter((r) => r.path.startsWith("/v1/contacts")).length, 4);
  await fake.stop();
});

// The Aircall fake's numbers, tested on its own: /v1/numbers lists and pages them as every
// Aircall list does (../shared/reference/aircall-api.md, "Lists and pagination"), with the
// spaced digits real accounts show. Run: node --test tests/fakes/ (no worker build).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { FakeAircall } from "./aircall.mjs";

const ID = "api-numbers";
const TOKEN = "token-numbers";
const fake = await new FakeAircall({ ratePerMinute: 10_000 }).start();
fake.addKey(ID, TOKEN);
fake.addKey("api-other", "token-other");
after(() => fake.stop());

const get = async (path, id = ID, token = TOKEN) => {
  const response = await fetch(fake.url + path, { headers: { authorization: `Basic ${Buffer.from(`${id}:${token}`).toString("base64")}` } });
  return { status: response.status, body: await response.json() };
};

fake.addNumbers(ID, Array.from({ length: 57 }, (_, i) => ({ id: 1000 + i, name: `Line ${i}`, digits: `+33 1 76 36 ${String(i).padStart(2, "0")} 95` })));

test("numbers are paged 20 by default, 50 at most, with Aircall's meta and links", async () => {
  const first = (await get("/v1/numbers")).body;
  assert.equal(first.numbers.length, 20);
  assert.deepEqual(
    { count: first.meta.count, total: first.meta.total, current_page: first.meta.current_page, per_page: first.meta.per_page },
    { count: 20, total: 57, current_page: 1, per_page: 20 },
  );
  assert.match(first.meta.next_page_link, /\/v1\/numbers\?page=2&per_page=20$/);
  assert.equal(first.meta.previous_page_link, null);

  const clamped = (await get("/v1/numbers?per_page=500")).body;
  assert.equal(clamped.meta.per_page, 50, "larger pages are clamped to 50 silently");
  const last = (await get("/v1/numbers?per_page=50&page=2")).body;
  assert.equal(last.numbers.length, 7);
  assert.equal(last.meta.next_page_link, null);
  assert.deepEqual([...clamped.numbers, ...last.numbers].map((n) => n.id), Array.from({ length: 57 }, (_, i) => 1000 + i));
});

test("a number has Aircall's fields, digits with their spaces, and is read alone", async () => {
  const { numbers } = (await get("/v1/numbers")).body;
  const n = numbers[3];
  assert.equal(n.digits, "+33 1 76 36 03 95");
  for (const field of ["id", "direct_link", "name", "digits", "country", "time_zone", "is_ivr", "users", "messages"]) {
    assert.ok(field in n, field);
  }
  assert.deepEqual((await get(`/v1/numbers/${n.id}`)).body.number, n);
  assert.equal((await get("/v1/numbers/1")).status, 404);
});

test("each account sees its own numbers; wrong credentials get 401", async () => {
  assert.deepEqual((await get("/v1/numbers", "api-other", "token-other")).body.numbers, []);
  assert.equal((await get("/v1/numbers", ID, "wrong")).status, 401);
});

test("paging past the 10,000-result cap answers 400, as every list does", async () => {
  const past = await get("/v1/numbers?per_page=50&page=201");
  assert.equal(past.status, 400);
  assert.match(past.body.troubleshoot, /limited to 10k results/);
});

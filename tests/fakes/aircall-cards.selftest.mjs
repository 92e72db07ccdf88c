// The Aircall fake's insight cards, tested on its own (reference: "Insight cards").
// Run: node --test tests/fakes/aircall-cards.selftest.mjs (no worker build).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { FakeAircall } from "./aircall.mjs";

const ID = "api-cards";
const TOKEN = "token-cards";
const fake = await new FakeAircall({ ratePerMinute: 10_000 }).start();
fake.addKey(ID, TOKEN);
after(() => fake.stop());

const post = async (callId, body, token = TOKEN) => {
  const response = await fetch(`${fake.url}/v1/calls/${callId}/insight_cards`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${ID}:${token}`).toString("base64")}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
};
const card = {
  contents: [
    { type: "title", text: "Ann Lee", link: "https://app.hubspot.com/contacts/1/record/0-1/1001" },
    { type: "shortText", label: "Owner", text: "Bob" },
    { type: "shortText", text: "2 open deals" },
  ],
};

test("a card for a ringing call is kept with when it arrived", async () => {
  fake.liveCall(ID, 41);
  const before = Date.now();
  const r = await post(41, card);
  assert.equal(r.status, 201);
  const [kept] = fake.cardsFor(41);
  assert.deepEqual(kept.contents, card.contents);
  assert.equal(kept.api_id, ID);
  assert.ok(kept.at >= before && kept.at <= Date.now());
});

test("a call the account does not have is 404, and nothing is kept", async () => {
  const r = await post(999, card);
  assert.equal(r.status, 404);
  assert.equal(fake.cardsFor(999).length, 0);
});

test("a body not shaped as contents of title/shortText blocks is 400", async () => {
  fake.liveCall(ID, 42);
  for (const bad of [
    "{not json",
    {},
    { contents: [] },
    { contents: [{ type: "image", text: "x" }] },
    { contents: [{ type: "title" }] },
    { contents: [{ type: "title", text: "x", link: "not a url" }] },
    { contents: [{ type: "title", text: "x", label: "only for shortText" }] },
    { contents: [{ type: "shortText", text: "x", colour: "red" }] },
  ]) {
    const r = await post(42, bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.ok(r.body.troubleshoot);
  }
  assert.equal(fake.cardsFor(42).length, 0);
});

test("wrong credentials are 401", async () => {
  fake.liveCall(ID, 43);
  assert.equal((await post(43, card, "wrong")).status, 401);
  assert.equal(fake.cardsFor(43).length, 0);
});

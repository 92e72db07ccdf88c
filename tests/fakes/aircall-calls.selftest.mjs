// The Aircall fake's calls, tested on its own: shapes and links as real accounts show them
// (../shared/reference/aircall-api.md, "Learned from real payloads and references").
// Run: node --test tests/fakes/ (no worker build).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { FakeAircall } from "./aircall.mjs";
import { call, missedCall, voicemailCall, sampleCall } from "../e2e/payloads.mjs";

const ID = "api-calls";
const TOKEN = "token-calls";
const fake = await new FakeAircall({ ratePerMinute: 10_000 }).start();
fake.addKey(ID, TOKEN);
after(() => fake.stop());

const get = async (path) => {
  const response = await fetch(fake.url + path, { headers: { authorization: `Basic ${Buffer.from(`${ID}:${TOKEN}`).toString("base64")}` } });
  return { status: response.status, body: await response.json() };
};

fake.addCalls(ID, [
  { ...call(1), recording: true },
  missedCall(2),
  { ...voicemailCall(3), voicemail: true },
  sampleCall(4),
]);

test("a call's contact has its details only with fetch_contact=true", async () => {
  const plain = (await get("/v1/calls/1")).body.call;
  assert.equal(plain.contact, null);
  const full = (await get("/v1/calls/1?fetch_contact=true")).body.call;
  assert.equal(full.contact.id, 321);
  assert.equal(full.contact.phone_numbers[0].value, "+33612345678");
  const listed = (await get("/v1/calls?fetch_contact=true")).body.calls;
  assert.equal(listed.find((c) => c.id === 1).contact.id, 321);
  assert.equal((await get("/v1/calls")).body.calls.find((c) => c.id === 1).contact, null);
});

test("a missed call from an unknown caller has neither user nor contact; numbers keep their spaces", async () => {
  const c = (await get("/v1/calls/2?fetch_contact=true")).body.call;
  assert.ok(!("user" in c) && !("contact" in c));
  assert.equal(c.raw_digits, "+44 330 818 6690");
  assert.equal(c.number.digits, "+33 1 76 36 06 95");
});

test("a voicemail: recording null, the audio at voicemail and asset, its link good for 10 minutes", async () => {
  const c = (await get("/v1/calls/3")).body.call;
  assert.equal(c.recording, null);
  assert.match(c.voicemail, /\/voicemails\/3\.mp3\?expires=\d+$/);
  assert.equal(c.asset, c.voicemail);
  const expires = Number(new URL(c.voicemail).searchParams.get("expires"));
  assert.ok(Math.abs(expires - (Date.now() / 1000 + 600)) < 5);
  const audio = await fetch(c.voicemail, { headers: { range: "bytes=0-0" } });
  assert.equal(audio.status, 206);
  assert.match(audio.headers.get("content-range"), /^bytes 0-0\/\d+$/);
  await audio.arrayBuffer();
});

test("Aircall's sample shape: empty user, contact and number objects", async () => {
  const c = (await get("/v1/calls/4?fetch_contact=true")).body.call;
  assert.deepEqual([c.user, c.contact, c.number], [{}, {}, {}]);
});

test("what the plan lacks answers 403 while the credentials still work", async () => {
  const other = await new FakeAircall({ ratePerMinute: 10_000 }).start();
  other.addKey("api-plan", "token-plan");
  other.forbid("api-plan", "/v1/calls");
  const auth = { authorization: `Basic ${Buffer.from("api-plan:token-plan").toString("base64")}` };
  const answer = async (path) => {
    const r = await fetch(other.url + path, { headers: auth });
    return { status: r.status, body: await r.json() };
  };
  assert.deepEqual(await answer("/v1/calls"), { status: 403, body: { error: "Forbidden", message: "company is not active/verified" } });
  assert.equal((await answer("/v1/ping")).status, 200);
  await other.stop();
});

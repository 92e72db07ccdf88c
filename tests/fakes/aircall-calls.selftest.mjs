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

test("AI data: each read answers its documented shape; a call without data 404", async () => {
  const utterances = [
    { start_time: 0.5, end_time: 3.2, text: "Hello, Sales here.", participant_type: "internal", user_id: 456 },
    { start_time: 3.4, end_time: 6.1, text: "I have a payment question.", participant_type: "external", phone_number: "+33612345678" },
  ];
  fake.addAiData(ID, 1, {
    transcription: { language: "en", utterances },
    summary: "The customer asked about a payment.",
    topics: ["payment"],
    sentiments: [{ phone_number: "+33612345678", value: "POSITIVE", type: "external" }],
    action_items: [{ text: "Send the invoice", user_id: 456 }],
  });
  const t = (await get("/v1/calls/1/transcription")).body.transcription;
  assert.equal(t.call_id, 1);
  assert.equal(t.type, "call");
  assert.match(t.call_created_at, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(t.content, { language: "en", utterances });
  const s = (await get("/v1/calls/1/summary")).body.summary;
  assert.deepEqual([s.call_id, s.content, typeof s.id, typeof s.created_at], [1, "The customer asked about a payment.", "number", "string"]);
  assert.deepEqual((await get("/v1/calls/1/topics")).body.topic.content, ["payment"]);
  assert.deepEqual((await get("/v1/calls/1/sentiments")).body.sentiment.participants, [{ phone_number: "+33612345678", value: "POSITIVE", type: "external" }]);
  assert.deepEqual((await get("/v1/calls/1/action_items")).body, { action_items: [{ text: "Send the invoice", user_id: 456 }] });

  fake.addAiData(ID, 2, { summary: "Missed." });
  assert.equal((await get("/v1/calls/2/transcription")).status, 404, "a call without this data");
  assert.equal((await get("/v1/calls/3/summary")).status, 404, "a call without any data");
  assert.equal(fake.aiRequests(ID).length, 7);
});

test("AI data: a company without the package gets 403 on every AI read, its credentials still work", async () => {
  const other = await new FakeAircall({ ratePerMinute: 10_000 }).start();
  other.addKey("api-no-ai", "token-no-ai");
  other.addCalls("api-no-ai", [call(7)]);
  other.addAiData("api-no-ai", 7, { summary: "never served" });
  other.withoutAi("api-no-ai");
  const auth = { authorization: `Basic ${Buffer.from("api-no-ai:token-no-ai").toString("base64")}` };
  const answer = async (path) => {
    const r = await fetch(other.url + path, { headers: auth });
    return { status: r.status, body: await r.json() };
  };
  for (const kind of ["transcription", "summary", "topics", "sentiments", "action_items"]) {
    assert.deepEqual(await answer(`/v1/calls/7/${kind}`), { status: 403, body: { error: "Forbidden", message: "company is not active/verified" } }, kind);
  }
  assert.equal((await answer("/v1/ping")).status, 200);
  assert.equal((await answer("/v1/calls/7")).status, 200, "calls themselves still read");
  await other.stop();
});

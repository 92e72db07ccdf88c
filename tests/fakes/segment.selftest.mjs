// The Segment fake's own tests: it must enforce Segment's documented limits
// (../shared/reference/destinations.md), awkward parts included, or the worker's Segment tests
// prove nothing: a message over 32 KB, a 2,501st message or one without userId/anonymousId is
// answered 200 and dropped; a request over 500 KB or not JSON is a 400; a wrong write key 401;
// a repeated messageId is dropped as a duplicate. Run: node --test tests/fakes/segment.selftest.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { FakeSegment, LIMITS } from "./segment.mjs";

let segment;
before(async () => {
  segment = await new FakeSegment().start();
  segment.writeKeys.add("wk_self");
});
after(() => segment.stop());

const post = async (body, { key = "wk_self", raw } = {}) => {
  const r = await fetch(`${segment.url}/v1/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` },
    body: raw ?? JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
};
// A track of exactly `bytes` bytes serialized.
function track(id, bytes) {
  const message = { type: "track", event: "e", anonymousId: "a", messageId: id, properties: { p: "" } };
  message.properties.p = "x".repeat(bytes - Buffer.byteLength(JSON.stringify(message)));
  assert.equal(Buffer.byteLength(JSON.stringify(message)), bytes);
  return message;
}

test("the limits are Segment's documented ones", () => {
  assert.deepEqual(LIMITS, { messageBytes: 32 * 1024, requestBytes: 500 * 1024, messages: 2500 });
});

test("a message over 32 KB is answered 200 and dropped; one at the limit is kept", async () => {
  const r = await post({ batch: [track("at-limit", LIMITS.messageBytes), track("over", LIMITS.messageBytes + 1)] });
  assert.equal(r.status, 200);
  assert.ok(segment.accepted.some((m) => m.messageId === "at-limit"));
  assert.ok(!segment.accepted.some((m) => m.messageId === "over"));
  assert.deepEqual(segment.dropped.map((d) => [d.reason, d.message.messageId]), [["over 32 KB", "over"]]);
});

test("a request over 500 KB is a 400 and nothing of it is kept", async () => {
  const before = segment.accepted.length;
  const batch = Array.from({ length: 17 }, (_, i) => track(`big-${i}`, 31_000)); // 527 KB
  assert.ok(Buffer.byteLength(JSON.stringify({ batch })) > LIMITS.requestBytes);
  const r = await post({ batch });
  assert.equal(r.status, 400);
  assert.equal(segment.accepted.length, before);
  assert.equal((await post(null, { raw: "{not json" })).status, 400);
});

test("past 2,500 messages the rest is dropped with a 200; no user is dropped; repeats are dropped", async () => {
  segment.dropped.length = 0;
  const batch = Array.from({ length: 2_501 }, (_, i) => ({ type: "track", event: "e", anonymousId: "a", messageId: `n-${i}` }));
  assert.equal((await post({ batch })).status, 200);
  assert.deepEqual(segment.dropped.map((d) => d.message.messageId), ["n-2500"]);
  assert.equal((await post({ batch: [{ type: "track", event: "e", messageId: "nobody" }] })).status, 200);
  assert.equal(segment.dropped.at(-1).reason, "no_user_anon_id");
  const duplicates = segment.duplicates;
  await post({ batch: [{ type: "track", event: "e", anonymousId: "a", messageId: "n-0" }] });
  assert.equal(segment.duplicates, duplicates + 1);
  assert.equal((await post({ batch: [] }, { key: "wk_wrong" })).status, 401);
});

// Webhook ingress and signed delivery, end to end: fake Aircall -> worker (Miniflare, real
// queues and KV) -> fake receiver that verifies signatures on its own.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, sleep, PUBLIC_BASE_URL } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call, user } from "./payloads.mjs";

let aircall, receiver, connector;
let everything, callsOnly; // {id, webhook}
const post = (url, init) => connector.dispatch(url, init);

async function createIntegration(name, events) {
  const r = await connector.api("POST", "/api/integrations", {
    name,
    aircall: { api_id: "api-id-ops", api_token: "api-token-ops" },
    destination: { type: "webhook", url: receiver.url },
    ...(events ? { events } : {}),
  });
  assert.equal(r.status, 201, r.text);
  receiver.secret = r.json.destination.secret; // both integrations share one receiver here
  const webhook = aircall.webhooks.get(r.json.aircall.webhook_id);
  return { id: r.json.id, webhook, secret: r.json.destination.secret };
}

before(async () => {
  aircall = await new FakeAircall().start();
  aircall.addKey("api-id-ops", "api-token-ops");
  receiver = await new FakeReceiver().start();
  // Short back-off so that outages of a few seconds are tested in seconds.
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, RETRY_BASE_SECONDS: "1", RETRY_MAX_ATTEMPTS: "3", DELIVERY_TIMEOUT_SECONDS: "2" } });
  const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  for (const [name, events] of [["everything", null], ["calls only", ["call.ended"]]]) {
    const r = await connector.api("POST", "/api/integrations", {
      name,
      aircall: { api_id: "api-id-ops", api_token: "api-token-ops" },
      destination: { type: "webhook", url: receiver.url, secret },
      events,
    });
    assert.equal(r.status, 201, r.text);
    const created = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
    if (name === "everything") everything = created;
    else callsOnly = created;
  }
  receiver.secret = secret;
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});
beforeEach(() => {
  receiver.answer = () => ({ status: 200 });
});

const deliveredFor = (pred) => receiver.delivered.filter((d) => pred(d.body));
const deliveriesOfCall = (id) => deliveredFor((b) => b?.data?.id === id);
const attemptsOfCall = (id) => receiver.attempts.filter((a) => a.body?.data?.id === id);
// Resolves with the call's deliveries once there is at least one.
const delivered = (id, timeout = 10_000) => waitFor(() => deliveriesOfCall(id).length && deliveriesOfCall(id), { timeout, what: `delivery of call ${id}` });
const deadLetter = (integrationId, deliveryId, timeout = 10_000) =>
  waitFor(async () => {
    const list = await connector.api("GET", `/api/integrations/${integrationId}/deliveries?status=failed`);
    return list.json.deliveries.find((d) => d.delivery_id === deliveryId);
  }, { timeout, what: `dead letter ${deliveryId}` });

test("a call.ended from Aircall reaches the receiver, signed", async () => {
  const data = call(1001);
  const r = await aircall.fire(everything.webhook, "call.ended", data, { post, timestamp: 1_763_981_200 });
  assert.equal(r.status, 202, r.body);
  const reply = JSON.parse(r.body);
  assert.equal(reply.status, "queued");

  const [got] = await delivered(1001);
  assert.equal(got.valid, true, "signature verifies with the receiver's own HMAC");
  assert.equal(got.id, reply.delivery_id);
  assert.deepEqual(got.body, { type: "call.ended", timestamp: "2025-11-24T10:46:40Z", data });
  assert.ok(Math.abs(Number(got.timestamp) - Date.now() / 1000) < 60, "webhook-timestamp is the attempt time");
});

test("Aircall sending the same event again gives the same webhook-id", async () => {
  const data = call(1002);
  const first = JSON.parse((await aircall.fire(everything.webhook, "call.ended", data, { post, timestamp: 1_763_981_300 })).body);
  const again = JSON.parse((await aircall.fire(everything.webhook, "call.ended", data, { post, timestamp: 1_763_981_300 })).body);
  assert.equal(first.delivery_id, again.delivery_id);
  const both = await waitFor(() => deliveriesOfCall(1002).length === 2 && deliveriesOfCall(1002), { what: "both copies" });
  assert.equal(both[0].id, both[1].id, "receivers can drop the repeat by webhook-id");
  // A different event about the same call is a different delivery.
  const other = JSON.parse((await aircall.fire(everything.webhook, "call.tagged", data, { post, timestamp: 1_763_981_300 })).body);
  assert.notEqual(other.delivery_id, first.delivery_id);
});

test("a wrong token is refused with 401 and nothing is delivered", async () => {
  const r = await aircall.fire(everything.webhook, "call.ended", call(1003), { post, token: "not-the-token" });
  assert.equal(r.status, 401);
  assert.equal(JSON.parse(r.body).error.code, "invalid_webhook_token");
  // Another integration's token does not open this one either.
  const r2 = await aircall.fire({ ...everything.webhook, token: callsOnly.webhook.token }, "call.ended", call(1003), { post });
  assert.equal(r2.status, 401);
  await sleep(2500); // longer than the queue's batch timeout
  assert.equal(attemptsOfCall(1003).length, 0);
});

test("bad bodies get the right status and nothing is queued", async () => {
  const url = everything.webhook.url;
  const token = everything.webhook.token;
  const send = async (body, target = url, headers = {}) =>
    (await post(target, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })).status;
  const before = receiver.attempts.length;
  const kvBefore = await connector.kvDump();

  assert.equal(await send(JSON.stringify({ event: "call.ended", token, data: call(1) }), `${PUBLIC_BASE_URL}/webhooks/aircall/int_0123456789abcdef0123`), 404);
  assert.equal(await send("{not json"), 400);
  assert.equal(await send("[]"), 400);
  assert.equal(await send(JSON.stringify({ token, data: {} })), 400, "no event");
  assert.equal(await send(JSON.stringify({ event: "call.ended", data: {} })), 400, "no token");
  assert.equal(await send(JSON.stringify({ event: "call.ended", token })), 400, "no data");
  assert.equal(await send(JSON.stringify({ event: "call.ended", token, data: "x" })), 400, "data not an object");
  const big = JSON.stringify({ event: "call.ended", token, data: { pad: "x".repeat(1024 * 1024) } });
  assert.equal(await send(big), 413);
  assert.equal((await post(url, { method: "GET" })).status, 405);

  await sleep(2500);
  assert.equal(receiver.attempts.length, before, "nothing was delivered");
  assert.deepEqual(await connector.kvDump(), kvBefore, "nothing was stored");
});

test("events the integration did not select are acknowledged and dropped; unknown names pass through", async () => {
  const ignored = await aircall.fire(callsOnly.webhook, "call.created", call(1004), { post });
  assert.equal(ignored.status, 202);
  assert.equal(JSON.parse(ignored.body).status, "ignored");

  const unknown = await aircall.fire(everything.webhook, "call.teleported", call(1005), { post });
  assert.equal(unknown.status, 202);
  assert.equal(JSON.parse(unknown.body).status, "queued");
  const v2 = await aircall.fire(everything.webhook, "user.created.v2", user(77), { post });
  assert.equal(JSON.parse(v2.body).status, "queued");

  await waitFor(() => deliveredFor((b) => b?.type === "call.teleported").length === 1, { what: "unknown event" });
  await waitFor(() => deliveredFor((b) => b?.type === "user.created.v2" && b.data.id === 77).length === 1, { what: "v2 event" });
  await sleep(1500);
  assert.equal(deliveriesOfCall(1004).length, 0, "the unselected event was not forwarded");
});

test("a receiver that is down for a while gets the event once it is back", async () => {
  await receiver.goDown();
  const r = await aircall.fire(everything.webhook, "call.ended", call(1006), { post });
  assert.equal(r.status, 202, "Aircall is answered at once, whatever the destination does");
  // Closed port for 2.5 s: attempts 1 and 2 may both find it closed; attempt 3 comes
  // after a back-off of at least 3.2 s more, once it is back.
  await sleep(2500);
  await receiver.comeBack();
  const [got] = await delivered(1006, 20_000);
  assert.equal(got.valid, true);
  await sleep(1000);
  assert.equal(deliveriesOfCall(1006).length, 1, "delivered once");
  const listed = await connector.api("GET", `/api/integrations/${everything.id}/deliveries?status=failed`);
  assert.ok(!listed.json.deliveries.some((d) => d.delivery_id === got.id), "not dead-lettered");
});

test("a receiver's Retry-After is honoured", async () => {
  receiver.answer = (a) => (a.body?.data?.id === 1011 && !receiver.attempts.some((b) => b !== a && b.body?.data?.id === 1011) ? { status: 429, headers: { "retry-after": "4" } } : { status: 200 });
  await aircall.fire(everything.webhook, "call.ended", call(1011), { post });
  await delivered(1011, 20_000);
  const tries = attemptsOfCall(1011);
  assert.equal(tries.length, 2);
  assert.equal(tries[0].id, tries[1].id, "the same webhook-id on every attempt");
  // Without Retry-After the first retry would come after about 1 s.
  assert.ok(tries[1].at - tries[0].at >= 3900, `retried after ${tries[1].at - tries[0].at} ms`);
});

test("a permanent refusal ends in the dead-letter list with the reason", async () => {
  receiver.answer = (a) => (a.body?.data?.id === 1007 ? { status: 410, body: "endpoint disabled" } : { status: 200 });
  const r = JSON.parse((await aircall.fire(everything.webhook, "call.ended", call(1007), { post })).body);
  const failed = await deadLetter(everything.id, r.delivery_id);
  assert.equal(failed.event, "call.ended");
  assert.equal(failed.attempts, 1, "4xx is not retried");
  assert.equal(failed.reason, "the destination answered HTTP 410: endpoint disabled");
  assert.equal(attemptsOfCall(1007).length, 1);
});

test("after the last attempt a failing delivery is dead-lettered, not lost", async () => {
  receiver.answer = (a) => (a.body?.data?.id === 1008 ? { status: 500, body: "boom" } : { status: 200 });
  const r = JSON.parse((await aircall.fire(everything.webhook, "call.ended", call(1008), { post })).body);
  const failed = await deadLetter(everything.id, r.delivery_id, 30_000);
  assert.equal(failed.attempts, 3);
  assert.match(failed.reason, /HTTP 500: boom/);
  const tries = attemptsOfCall(1008);
  assert.equal(tries.length, 3);
  assert.ok(tries[2].at - tries[1].at > tries[1].at - tries[0].at, "back-off grows between attempts");
  assert.equal((await connector.api("GET", `/api/integrations/${callsOnly.id}/deliveries?status=failed`)).json.deliveries.length, 0, "listed under its own integration only");
});

test("a slow receiver times out and is retried", async () => {
  let calls = 0;
  receiver.answer = () => ({ status: 200 });
  const slow = receiver.server.listeners("request")[0];
  receiver.server.removeAllListeners("request");
  receiver.server.on("request", (req, res) => {
    if (req.headers["webhook-id"] && calls++ === 0) return setTimeout(() => slow(req, res), 3500); // past the 2 s timeout
    slow(req, res);
  });
  try {
    await aircall.fire(everything.webhook, "call.ended", call(1009), { post });
    await delivered(1009, 20_000);
  } finally {
    receiver.server.removeAllListeners("request");
    receiver.server.on("request", slow);
  }
  assert.ok(calls >= 2, "a second attempt was made");
});

test("a payload too large for a queue message is delivered intact", async () => {
  const data = call(1010, { comments: Array.from({ length: 400 }, (_, i) => ({ id: i, content: "note ".repeat(80) })) });
  assert.ok(JSON.stringify(data).length > 128 * 1024);
  const r = await aircall.fire(everything.webhook, "call.commented", data, { post });
  assert.equal(r.status, 202, r.body);
  const [got] = await delivered(1010);
  assert.deepEqual(got.body.data, data);
  assert.equal(got.valid, true);
  await waitFor(async () => !Object.keys(await connector.kvDump()).some((k) => k.startsWith("payload:")), { what: "the stored payload to be cleaned up" });
});

// Call import in Miniflare: fake Aircall's calls API -> import runs -> signed deliveries.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import { startConnector, waitFor, ENCRYPTION_KEY } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call, missedCall, voicemailCall } from "./payloads.mjs";

let aircall, receiver, connector, integration;
const now = () => Math.floor(Date.now() / 1000);
const importedIds = () => receiver.delivered.filter((d) => d.body?.type === "call.imported").map((d) => d.body.data.id);
// Calls as the API stores them: `recording: true` gets an expiring link when shown.
const stored = (id, startedAt, extra = {}) => ({ ...call(id), started_at: startedAt, recording: true, ...extra });
// The newest run once every call it queued has its outcome.
const settledRun = (id) =>
  waitFor(async () => {
    const run = (await connector.api("GET", `/api/integrations/${id}/runs`)).json.runs[0];
    return run.pending === 0 && run;
  }, { what: "the run's calls to finish", timeout: 30_000 });

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey("api-id-import", "api-token-import");
  receiver = await new FakeReceiver().start();
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600" } });
  // 500 calls over the last 500 minutes, and one from three weeks ago.
  const t = now();
  aircall.addCalls("api-id-import", Array.from({ length: 500 }, (_, i) => stored(i + 1, t - 30_000 + i * 60)));
  aircall.addCalls("api-id-import", [stored(9999, t - 21 * 86_400)]);
  const r = await connector.api("POST", "/api/integrations", {
    name: "Import",
    aircall: { api_id: "api-id-import", api_token: "api-token-import" },
    destination: { type: "webhook", url: receiver.url },
    import: { users: ["MADELINE@example.com"] },
  });
  assert.equal(r.status, 201, r.text);
  receiver.secret = r.json.destination.secret;
  integration = r.json;
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});

test("the first import brings the 200 most recent calls of the window, signed", async () => {
  assert.deepEqual(integration.import.window_days, 14);
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, "done");
  assert.equal(r.json.first_import, true);
  assert.equal(r.json.queued, 200);
  await waitFor(() => importedIds().length >= 200, { what: "200 imported calls", timeout: 30_000 });
  const run = await settledRun(integration.id);
  assert.equal(run.imported, 200);
  assert.deepEqual([...importedIds()].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => 301 + i));
  assert.ok(receiver.delivered.every((d) => d.valid), "every delivery verifies");
  const record = receiver.delivered.find((d) => d.body.data.id === 500).body.data;
  assert.equal(record.status, "answered");
  assert.equal(record.user.email, "madeline@example.com");
  assert.equal(record.duration_seconds, 186);
  // Aircall fills a call's contact only when asked (fetch_contact=true).
  assert.deepEqual(record.contact, { id: 321, name: "Jean Dupont", email: null, phone: "+33612345678" });
});

test("the next run brings only the new calls, including one sharing the cursor's second", async () => {
  const newest = now() - 30_000 + 499 * 60;
  aircall.addCalls("api-id-import", [stored(501, newest), stored(502, now() - 5)]);
  const before = importedIds().length;
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.first_import, false);
  assert.equal(r.json.queued, 2);
  await waitFor(() => importedIds().length === before + 2, { what: "the 2 new calls" });
  assert.deepEqual(importedIds().slice(before).sort(), [501, 502]);
});

test("each skip is reported with its reason in the runs", async () => {
  const t = now() - 2;
  aircall.addCalls("api-id-import", [
    stored(601, t, { recording: false }),
    stored(602, t, { user: { id: 9, name: "Paul", email: "paul@example.com" } }),
    stored(603, t),
    stored(604, t),
  ]);
  aircall.recordingBytes.set(604, 300 * 1024 * 1024); // over the 200 MB default
  const requests = aircall.requests.length;
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.json.queued, 2);
  const latest = await settledRun(integration.id);
  assert.equal(latest.run_id, r.json.run_id, "newest first");
  assert.equal(latest.imported, 1);
  assert.deepEqual(latest.skipped_by_reason, { no_user_match: 1, no_recording: 1, recording_too_large: 1 });
  assert.deepEqual(latest.skips.map((s) => [s.call_id, s.reason]).sort(), [
    [601, "no_recording"],
    [602, "no_user_match"],
    [604, "recording_too_large"],
  ]);
  const runs = await connector.api("GET", `/api/integrations/${integration.id}/runs`);
  assert.equal(runs.json.runs.length, 3);
  // The 300 MB file was sized with a one-byte range, never downloaded.
  const files = aircall.requests.slice(requests).filter((q) => q.path === "/recordings/604.mp3");
  assert.deepEqual(files.map((q) => q.range), ["bytes=0-0"]);
});

const linkSignature = (path, expires) => {
  const key = createHmac("sha256", Buffer.from(ENCRYPTION_KEY, "base64")).update("recording-links").digest();
  return createHmac("sha256", key).update(`${path}\n${expires}`).digest("hex");
};

test("the record links to the recording archived in R2, signed and expiring", async () => {
  const record = receiver.delivered.find((d) => d.body.data.id === 500).body.data;
  const link = new URL(record.recording_url);
  assert.equal(link.pathname, `/recordings/${integration.id}/500.mp3`, "ends in .mp3: HubSpot plays only such links");
  const expires = Number(link.searchParams.get("expires"));
  assert.ok(expires > now() + 6 * 86_400, "good for a week");
  const bucket = await connector.mf.getR2Bucket("RECORDINGS");
  assert.equal((await bucket.head(`recordings/${integration.id}/500`)).size, 48_000);

  const response = await connector.dispatch(record.recording_url);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "audio/mpeg");
  const audio = Buffer.from(await response.arrayBuffer());
  assert.equal(audio.length, 48_000);
  assert.ok(audio.every((b) => b === 500 % 251), "the bytes the fake Aircall served");

  const tampered = new URL(link);
  tampered.pathname = `/recordings/${integration.id}/499.mp3`;
  const refused = await connector.dispatch(tampered.href);
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, "invalid_link");

  const past = now() - 10;
  const old = new URL(link);
  old.searchParams.set("expires", String(past));
  old.searchParams.set("signature", linkSignature(link.pathname, past));
  const expired = await connector.dispatch(old.href);
  assert.equal(expired.status, 403);
  assert.equal((await expired.json()).error.code, "link_expired");
});

test("a call that arrives by webhook and by polling reaches the destination once", async () => {
  const t = now() - 1;
  aircall.addCalls("api-id-import", [stored(801, t)]);
  const shown = (await fetch(`${aircall.url}/v1/calls/801`, {
    headers: { authorization: `Basic ${Buffer.from("api-id-import:api-token-import").toString("base64")}` },
  }).then((r) => r.json())).call;
  const webhook = aircall.webhooksOf("api-id-import")[0];
  const fired = await aircall.fire(webhook, "call.ended", shown, { post: connector.dispatch });
  assert.equal(fired.status, 202, fired.body);
  await waitFor(() => importedIds().includes(801), { what: "call 801 imported from its webhook" });

  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.json.queued, 1);
  const run = await settledRun(integration.id);
  assert.deepEqual([run.imported, run.already_imported], [0, 1]);
  const deliveries = receiver.delivered.filter((d) => d.body?.type === "call.imported" && d.body.data.id === 801);
  assert.equal(deliveries.length, 1);
});

test("a webhook's recording link to another host is never fetched: the recording comes from Aircall", async () => {
  // Another server on this machine, named by a host RECORDING_HOSTS does not list.
  const hits = [];
  const other = http.createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, { "content-type": "audio/mpeg", "content-length": "3" }).end("bad");
  });
  await new Promise((resolve) => other.listen(0, "127.0.0.1", resolve));
  try {
    aircall.addCalls("api-id-import", [stored(802, now() - 1)]);
    const webhook = aircall.webhooksOf("api-id-import")[0];
    const forged = { ...call(802), started_at: now() - 1, recording: `http://localhost:${other.address().port}/802.mp3` };
    const fired = await aircall.fire(webhook, "call.ended", forged, { post: connector.dispatch });
    assert.equal(fired.status, 202, fired.body);
    await waitFor(() => importedIds().includes(802), { what: "call 802 imported" });
    assert.deepEqual(hits, [], "the link in the payload was not fetched");
    const bucket = await connector.mf.getR2Bucket("RECORDINGS");
    const stored802 = Buffer.from(await (await bucket.get(`recordings/${integration.id}/802`)).arrayBuffer());
    assert.ok(stored802.length === 48_000 && stored802.every((b) => b === 802 % 251), "Aircall's recording");
  } finally {
    other.closeAllConnections?.();
    await new Promise((resolve) => other.close(resolve));
  }
});

test("the cron queues one run per integration, for a thousand and more", async () => {
  // 1,000 more integrations, inactive: their runs must not call Aircall.
  const kv = await connector.mf.getKVNamespace("STATE");
  const record = JSON.parse(await kv.get(`integration:${integration.id}`));
  for (let i = 0; i < 1000; i++) {
    const id = `int_${i.toString(16).padStart(20, "0")}`;
    await kv.put(`integration:${id}`, JSON.stringify({ ...record, id, status: "inactive" }));
  }
  const requests = aircall.requests.length;
  aircall.addCalls("api-id-import", [stored(701, now() - 1)]);
  const worker = await connector.mf.getWorker();
  await worker.scheduled({ cron: "*/15 * * * *" });
  await waitFor(() => connector.logs.join("").includes("queued 1001 import run(s)"), { what: "the cron's log" });
  await waitFor(() => importedIds().includes(701), { what: "the scheduled import of call 701", timeout: 30_000 });
  const runs = (await connector.api("GET", `/api/integrations/${integration.id}/runs`)).json.runs;
  assert.equal(runs[0].trigger, "schedule");
  await new Promise((r) => setTimeout(r, 2000));
  const listed = aircall.requests.slice(requests).filter((q) => q.path === "/v1/calls");
  assert.equal(listed.length, 1, "only the active integration asked Aircall");
});

test("sync of an unknown integration is a 404", async () => {
  assert.equal((await connector.api("POST", "/api/integrations/int_ffffffffffffffffffff/sync")).status, 404);
  assert.equal((await connector.api("GET", "/api/integrations/int_ffffffffffffffffffff/runs")).status, 404);
});

test("a voicemail-only call is imported with its archived voicemail", async () => {
  aircall.addKey("api-id-voicemail", "api-token-voicemail");
  const t = now();
  aircall.addCalls("api-id-voicemail", [
    // `voicemail: true`: the fake shows a link that expires in 10 minutes; recording is null.
    { ...voicemailCall(8801), started_at: t - 600, ended_at: t - 560, voicemail: true },
    { ...missedCall(8802), started_at: t - 500, ended_at: t - 480 },
  ]);
  const created = await connector.api("POST", "/api/integrations", {
    name: "Voicemails",
    aircall: { api_id: "api-id-voicemail", api_token: "api-token-voicemail" },
    destination: { type: "webhook", url: receiver.url, secret: receiver.secret },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  assert.equal((await connector.api("POST", `/api/integrations/${id}/sync`)).status, 200);
  const run = await settledRun(id);
  assert.equal(run.imported, 1, JSON.stringify(run));
  assert.deepEqual(run.skipped_by_reason.no_recording, 1, "a missed call without a voicemail has no audio");
  const record = await waitFor(() => receiver.delivered.find((d) => d.body?.type === "call.imported" && d.body.data.id === 8801)?.body.data, { what: "the voicemail's record" });
  assert.equal(record.status, "voicemail");
  assert.equal(record.user, null, "nobody answered");
  assert.equal(new URL(record.recording_url).pathname, `/recordings/${id}/8801.mp3`);
  const audio = await connector.dispatch(record.recording_url);
  assert.equal(audio.status, 200);
  assert.equal(Buffer.from(await audio.arrayBuffer()).length, 48_000, "the voicemail's bytes, archived");
  assert.ok(aircall.requests.some((r) => r.path === "/voicemails/8801.mp3"), "read from the voicemail link");
});

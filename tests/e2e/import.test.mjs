// Call import in Miniflare: fake Aircall's calls API -> import runs -> signed deliveries.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

let aircall, receiver, connector, integration;
const now = () => Math.floor(Date.now() / 1000);
const importedIds = () => receiver.delivered.filter((d) => d.body?.type === "call.imported").map((d) => d.body.data.id);
// Calls as the API stores them: `recording: true` gets an expiring link when shown.
const stored = (id, startedAt, extra = {}) => ({ ...call(id), started_at: startedAt, recording: true, ...extra });

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
  assert.equal(r.json.imported, 200);
  await waitFor(() => importedIds().length >= 200, { what: "200 imported calls", timeout: 30_000 });
  assert.deepEqual([...importedIds()].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => 301 + i));
  assert.ok(receiver.delivered.every((d) => d.valid), "every delivery verifies");
  const record = receiver.delivered.find((d) => d.body.data.id === 500).body.data;
  assert.equal(record.status, "answered");
  assert.equal(record.user.email, "madeline@example.com");
  assert.equal(record.duration_seconds, 186);
});

test("the next run brings only the new calls, including one sharing the cursor's second", async () => {
  const newest = now() - 30_000 + 499 * 60;
  aircall.addCalls("api-id-import", [stored(501, newest), stored(502, now() - 5)]);
  const before = importedIds().length;
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.first_import, false);
  assert.equal(r.json.imported, 2);
  await waitFor(() => importedIds().length === before + 2, { what: "the 2 new calls" });
  assert.deepEqual(importedIds().slice(before).sort(), [501, 502]);
});

test("each skip is reported with its reason in the runs", async () => {
  const t = now() - 2;
  aircall.addCalls("api-id-import", [
    stored(601, t, { recording: false }),
    stored(602, t, { user: { id: 9, name: "Paul", email: "paul@example.com" } }),
    stored(603, t),
  ]);
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.json.imported, 1);
  const runs = await connector.api("GET", `/api/integrations/${integration.id}/runs`);
  assert.equal(runs.status, 200);
  const latest = runs.json.runs[0];
  assert.equal(latest.run_id, r.json.run_id, "newest first");
  assert.deepEqual(latest.skipped_by_reason, { no_user_match: 1, no_recording: 1 });
  assert.deepEqual(latest.skips.map((s) => [s.call_id, s.reason]).sort(), [[601, "no_recording"], [602, "no_user_match"]]);
  assert.equal(runs.json.runs.length, 3);
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

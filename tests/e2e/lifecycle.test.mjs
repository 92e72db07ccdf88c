// Integration lifecycle in Miniflare: deactivate, reactivate, automatic deactivation by
// the system, PATCH, delete, against the fake Aircall and a verifying receiver.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, sleep, ADMIN_TOKEN } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

let aircall, receiver, connector;
const post = (url, init) => connector.dispatch(url, init);
const now = () => Math.floor(Date.now() / 1000);
const stored = (id, startedAt) => ({ ...call(id), started_at: startedAt, recording: true });
const deliveredIds = (type) => receiver.delivered.filter((d) => d.body?.type === type).map((d) => d.body.data.id);
// An account's requests, and those Aircall could not authenticate (rejected credentials).
const requestsOf = (apiId) => aircall.requests.filter((q) => !q.recording && !q.oauth && (q.api_id === apiId || q.api_id === null));

async function createIntegration(name, apiId, apiToken = `token-${apiId}`) {
  aircall.addKey(apiId, apiToken);
  const r = await connector.api("POST", "/api/integrations", {
    name,
    aircall: { api_id: apiId, api_token: apiToken },
    destination: { type: "webhook", url: receiver.url, secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" },
  });
  assert.equal(r.status, 201, r.text);
  return { ...r.json, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
}

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 1000 }).start();
  receiver = await new FakeReceiver().start();
  receiver.secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "1000" } });
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});

test("deactivated: webhooks are answered 2xx but not forwarded, counted, and the cron skips it; reactivated: only later calls import", async () => {
  const i = await createIntegration("Pausable", "api-id-pause");
  // Active: a webhook reaches the receiver, and the first import sets the cursor.
  assert.equal((await aircall.fire(i.webhook, "call.ended", call(101), { post })).status, 202);
  await waitFor(() => deliveredIds("call.ended").includes(101), { what: "delivery of call 101" });
  assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).json.first_import, true);

  const off = await connector.api("POST", `/api/integrations/${i.id}/deactivate`, { reason: "team on holiday" });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.status, "inactive");
  assert.equal(off.json.deactivated_by, "admin");
  assert.equal(off.json.deactivation_reason, "team on holiday");
  assert.match(off.json.notice, /not be imported after reactivation/);

  for (const id of [102, 103]) {
    const r = await aircall.fire(i.webhook, "call.ended", call(id), { post });
    assert.equal(r.status, 202, "still acknowledged, so Aircall keeps the webhook");
    assert.equal(JSON.parse(r.body).status, "ignored");
  }
  // A wrong token is still refused (and not counted).
  assert.equal((await aircall.fire(i.webhook, "call.ended", call(104), { post, token: "nope" })).status, 401);

  const read = await connector.api("GET", `/api/integrations/${i.id}`);
  assert.equal(read.json.dropped_while_inactive, 2);
  assert.deepEqual(read.json.history.map((h) => [h.change, h.by]), [["created", "admin"], ["deactivated", "admin"]]);
  const inactive = (await connector.api("GET", "/api/integrations?status=inactive")).json.integrations;
  assert.deepEqual(inactive.map((x) => x.id), [i.id]);
  assert.ok(!(await connector.api("GET", "/api/integrations?status=active")).json.integrations.some((x) => x.id === i.id));
  assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).status, 409);

  // The cron queues its run, which does nothing: no call listing for this account.
  const listed = () => aircall.requests.filter((q) => q.api_id === "api-id-pause" && q.path === "/v1/calls").length;
  const listedBefore = listed();
  const worker = await connector.mf.getWorker();
  await worker.scheduled({ cron: "*/15 * * * *" });
  await waitFor(() => connector.logs.join("").includes(`import of integration ${i.id}: Inactive`), { what: "the skipped run" });
  assert.equal(listed(), listedBefore, "the cron did not ask Aircall");

  // A call made while inactive, then reactivation a second later.
  aircall.addCalls("api-id-pause", [stored(201, now() - 1)]);
  await sleep(1100);
  const on = await connector.api("POST", `/api/integrations/${i.id}/activate`);
  assert.equal(on.status, 200, on.text);
  assert.equal(on.json.status, "active");
  assert.equal(on.json.deactivated_by, null);
  assert.equal(on.json.dropped_while_inactive, 2);
  assert.match(on.json.notice, /not imported retroactively/);
  assert.ok(on.json.history.at(-1).change === "activated" && /2 webhook event/.test(on.json.history.at(-1).reason));

  await sleep(1100);
  aircall.addCalls("api-id-pause", [stored(202, now())]);
  const run = await connector.api("POST", `/api/integrations/${i.id}/sync`);
  assert.equal(run.status, 200, run.text);
  assert.equal(run.json.first_import, false);
  assert.equal(run.json.queued, 1);
  await waitFor(() => deliveredIds("call.imported").includes(202), { what: "the import of call 202" });
  await sleep(500);
  assert.ok(!deliveredIds("call.imported").includes(201), "the call made while inactive is not imported");
  assert.deepEqual(deliveredIds("call.ended").filter((id) => id >= 102), [], "dropped webhooks stay dropped");
  assert.equal((await connector.api("GET", `/api/integrations/${i.id}`)).json.dropped_while_inactive, undefined);
});

test("Aircall answering 401 deactivates by the system, stops every request, and reactivation waits for credentials that verify", async () => {
  const i = await createIntegration("Rotated", "api-id-rotate");
  assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).status, 200);
  aircall.rejectCredentials("api-id-rotate"); // the admin changed their credentials in Aircall

  const failed = await connector.api("POST", `/api/integrations/${i.id}/sync`);
  assert.equal(failed.json.status, "failed");
  assert.match(failed.json.error, /rejected the credentials/);
  const read = (await connector.api("GET", `/api/integrations/${i.id}`)).json;
  assert.equal(read.status, "inactive");
  assert.equal(read.deactivated_by, "system");
  assert.equal(read.deactivation_cause, "credentials_rejected");
  assert.match(read.deactivation_reason, /HTTP 401/);
  assert.ok(read.deactivated_at);
  assert.deepEqual(read.history.at(-1), { at: read.deactivated_at, by: "system", change: "deactivated", reason: read.deactivation_reason });

  // No request storm: sync, cron and webhooks leave Aircall alone.
  const before = requestsOf("api-id-rotate").length;
  assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).status, 409);
  const worker = await connector.mf.getWorker();
  await worker.scheduled({ cron: "*/15 * * * *" });
  await waitFor(() => connector.logs.join("").includes(`import of integration ${i.id}: Inactive`), { what: "the skipped run" });
  assert.equal((await aircall.fire(i.webhook, "call.ended", call(301), { post })).status, 202);
  await sleep(500);
  assert.equal(requestsOf("api-id-rotate").length, before, "no further Aircall request");

  // Reactivation re-verifies (one ping) and is refused with the cause.
  const refused = await connector.api("POST", `/api/integrations/${i.id}/activate`);
  assert.equal(refused.status, 422, refused.text);
  assert.equal(refused.json.error.code, "aircall_credentials_rejected");
  assert.match(refused.json.error.message, /still rejects.*deactivated by system.*HTTP 401.*PATCH/s);
  assert.deepEqual(requestsOf("api-id-rotate").slice(before).map((q) => q.path), ["/v1/ping"]);

  // Wrong new credentials, or an invalid body: refused, nothing changes.
  const record = async () => (await connector.kvDump())[`integration:${i.id}`];
  const kept = await record();
  const wrong = await connector.api("PATCH", `/api/integrations/${i.id}`, { aircall: { api_id: "api-id-rotate", api_token: "still-wrong" } });
  assert.equal(wrong.status, 422);
  const invalid = await connector.api("PATCH", `/api/integrations/${i.id}`, { name: "", aircall: { api_id: "x" }, import: { window_days: 0 }, colour: "red" });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.json.error.code, "invalid_fields");
  assert.deepEqual(invalid.json.error.fields.map((f) => f.field).sort(), ["aircall.api_token", "colour", "import.window_days", "name"]);
  assert.equal((await connector.api("PATCH", `/api/integrations/${i.id}`, {})).status, 400);
  assert.equal((await connector.api("PATCH", `/api/integrations/${i.id}`, undefined, { raw: "{nope" })).json.error.code, "invalid_json");
  assert.equal(await record(), kept, "nothing changed");

  aircall.addKey("api-id-rotate", "token-new");
  const fixed = await connector.api("PATCH", `/api/integrations/${i.id}`, { aircall: { api_id: "api-id-rotate", api_token: "token-new" }, name: "Rotated (new key)" });
  assert.equal(fixed.status, 200, fixed.text);
  assert.equal(fixed.json.status, "inactive", "a PATCH does not reactivate");
  assert.equal(fixed.json.name, "Rotated (new key)");
  assert.ok(!fixed.text.includes("token-new"));
  const on = await connector.api("POST", `/api/integrations/${i.id}/activate`);
  assert.equal(on.status, 200, on.text);
  assert.equal(on.json.status, "active");
  assert.deepEqual(on.json.history.map((h) => `${h.change}/${h.by}`), [
    "created/admin",
    "deactivated/system",
    "credentials_changed/admin",
    "settings_changed/admin",
    "activated/admin",
  ]);
  assert.equal(on.json.aircall.webhook_id, i.aircall.webhook_id, "same account: the webhook is kept");
  assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).status, 200);
});

test("a 403 for what the plan lacks leaves the integration active: the ping says the credentials work", async () => {
  const i = await createIntegration("No package", "api-id-plan");
  aircall.forbid("api-id-plan", "/v1/calls"); // as Aircall answers reads a company's plan lacks
  const before = requestsOf("api-id-plan").length;

  const failed = await connector.api("POST", `/api/integrations/${i.id}/sync`);
  assert.equal(failed.json.status, "failed", failed.text);
  assert.match(failed.json.error, /HTTP 403/);
  const read = (await connector.api("GET", `/api/integrations/${i.id}`)).json;
  assert.equal(read.status, "active");
  assert.equal(read.deactivated_by, null);
  assert.ok(!read.history.some((h) => h.change === "deactivated"), JSON.stringify(read.history));
  // The refusal was checked once with the cheapest request, and the next run still goes.
  assert.deepEqual(requestsOf("api-id-plan").slice(before).map((q) => q.path), ["/v1/calls", "/v1/ping"]);
  assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).json.status, "failed");
});

test("integration.deleted from Aircall deactivates by the system", async () => {
  const i = await createIntegration("Uninstalled", "api-id-uninstall");
  const r = await aircall.fire(i.webhook, "integration.deleted", { id: 1 }, { post });
  assert.equal(r.status, 202);
  const read = (await connector.api("GET", `/api/integrations/${i.id}`)).json;
  assert.equal(read.status, "inactive");
  assert.equal(read.deactivated_by, "system");
  assert.equal(read.deactivation_cause, "integration_deleted");
  await sleep(300);
  assert.ok(!receiver.delivered.some((d) => d.body?.type === "integration.deleted"), "not forwarded");
});

test("delete removes the Aircall webhook, every KV key and R2 object of the integration, and only those", async () => {
  const gone = await createIntegration("Doomed", "api-id-doomed");
  const kept = await createIntegration("Kept", "api-id-kept");
  aircall.addCalls("api-id-doomed", [stored(401, now() - 60)]);
  for (const i of [gone, kept]) assert.equal((await connector.api("POST", `/api/integrations/${i.id}/sync`)).status, 200);
  await connector.api("POST", `/api/integrations/${gone.id}/deactivate`);
  await aircall.fire(gone.webhook, "call.ended", call(402), { post }); // a dropped event, counted

  // State the lead's import and delivery code keep per integration, and recordings.
  const kv = await connector.mf.getKVNamespace("STATE");
  const bucket = await connector.mf.getR2Bucket("RECORDINGS");
  for (const i of [gone, kept]) {
    for (const prefix of ["payload", "dead_letter", "recheck", "imported", "outcome"]) await kv.put(`${prefix}:${i.id}:x`, "{}");
    await bucket.put(`recordings/${i.id}/401.mp3`, "audio");
  }
  const ofGone = (keys) => keys.filter((k) => k.includes(gone.id));
  const before = ofGone(Object.keys(await connector.kvDump()));
  assert.ok(before.some((k) => k.startsWith("cursor:")) && before.some((k) => k.startsWith("run:")), before.join());
  const keptKeys = Object.keys(await connector.kvDump()).filter((k) => k.includes(kept.id));

  const r = await connector.api("DELETE", `/api/integrations/${gone.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, "deleted");
  assert.equal(r.json.removed.aircall_webhook, "removed");
  assert.equal(r.json.removed.recordings, 1);
  assert.equal(r.json.removed.kv_keys, before.length);
  assert.equal(r.json.removed.synced_contacts, 0);

  assert.equal(aircall.webhooksOf("api-id-doomed").length, 0, "the webhook is gone at Aircall");
  assert.equal(aircall.webhooksOf("api-id-kept").length, 1);
  const after = await connector.kvDump();
  assert.deepEqual(ofGone(Object.keys(after)), [], "no KV key of the integration is left");
  assert.deepEqual(Object.keys(after).filter((k) => k.includes(kept.id)), keptKeys, "the other integration keeps all");
  assert.deepEqual(await connector.r2Keys(`recordings/${gone.id}/`), []);
  assert.deepEqual(await connector.r2Keys(`recordings/${kept.id}/`), [`recordings/${kept.id}/401.mp3`]);

  // Idempotent: nothing is left to delete; the id is unknown everywhere now.
  assert.equal((await connector.api("DELETE", `/api/integrations/${gone.id}`)).status, 404);
  assert.equal((await connector.api("GET", `/api/integrations/${gone.id}`)).status, 404);
  assert.equal((await aircall.fire(gone.webhook, "call.ended", call(403), { post })).status, 404);
});

test("unknown ids answer 404, wrong admin tokens 401, wrong methods 405", async () => {
  const unknown = "int_ffffffffffffffffffff";
  for (const [method, path, body] of [
    ["PATCH", `/api/integrations/${unknown}`, { name: "x" }],
    ["DELETE", `/api/integrations/${unknown}`],
    ["POST", `/api/integrations/${unknown}/activate`],
    ["POST", `/api/integrations/${unknown}/deactivate`],
  ]) {
    assert.equal((await connector.api(method, path, body)).status, 404, `${method} ${path}`);
    for (const token of [null, "wrong-token", ADMIN_TOKEN + "x"]) {
      const r = await connector.api(method, path, body, { token });
      assert.equal(r.status, 401, `${method} ${path} with ${token}`);
    }
  }
  assert.equal((await connector.api("GET", `/api/integrations/${unknown}/activate`)).status, 405);
  const i = await createIntegration("Bad bodies", "api-id-bad");
  const r = await connector.api("POST", `/api/integrations/${i.id}/deactivate`, { reason: 5, extra: true });
  assert.equal(r.status, 400);
  assert.equal((await connector.api("GET", `/api/integrations/${i.id}`)).json.status, "active");
});

// The admin API against the built worker in Miniflare and a fake Aircall.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, ADMIN_TOKEN, ENCRYPTION_KEY, PUBLIC_BASE_URL } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";

let aircall, connector;
const good = () => ({
  name: "Sales team",
  aircall: { api_id: "api-id-sales", api_token: "api-token-sales-secret" },
  destination: { type: "webhook", url: "https://hooks.example.com/aircall" },
});

before(async () => {
  aircall = await new FakeAircall().start();
  aircall.addKey("api-id-sales", "api-token-sales-secret");
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url } });
});
after(async () => {
  await connector?.dispose();
  await aircall?.stop();
});

test("health needs no token", async () => {
  const r = await connector.api("GET", "/healthz", undefined, { token: null });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: "ok" });
});

test("every /api/ route needs the admin token", async () => {
  for (const token of [null, "wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN.slice(0, -1)]) {
    for (const [method, path] of [["GET", "/api/integrations"], ["POST", "/api/integrations"], ["GET", "/api/integrations/int_00000000000000000000"]]) {
      const r = await connector.api(method, path, method === "GET" ? undefined : good(), { token });
      assert.equal(r.status, 401, `${method} ${path} with ${token}`);
      assert.equal(r.json.error.code, "unauthorized");
    }
  }
  assert.deepEqual(await connector.kvDump(), {}, "nothing was created");
  assert.equal(aircall.webhooks.size, 0);
});

test("the destination catalogue lists each type and marks its secret fields, for the admin only", async () => {
  for (const token of [null, "wrong-token", ADMIN_TOKEN + "x"]) {
    const r = await connector.api("GET", "/api/destinations", undefined, { token });
    assert.equal(r.status, 401, `with ${token}`);
    assert.equal(r.json.error.code, "unauthorized");
  }
  const r = await connector.api("GET", "/api/destinations");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("cache-control"), "no-store");
  const types = r.json.destinations;
  assert.deepEqual(types.map((t) => [t.type, t.name, t.crm]), [
    ["webhook", "Signed webhook", false],
    ["segment", "Segment", false],
    ["hubspot", "HubSpot", true],
  ]);
  const secrets = Object.fromEntries(types.map((t) => [t.type, t.fields.filter((f) => f.secret).map((f) => f.name)]));
  assert.deepEqual(secrets, { webhook: ["secret"], segment: ["write_key"], hubspot: ["access_token"] });
  for (const t of types) {
    for (const f of t.fields) {
      assert.equal(typeof f.label, "string", `${t.type}.${f.name}`);
      assert.equal(typeof f.required, "boolean");
      assert.ok(["text", "url", "choice"].includes(f.kind.type), `${t.type}.${f.name}: ${f.kind.type}`);
    }
  }
  const region = types[1].fields.find((f) => f.name === "region");
  assert.deepEqual(region.kind.choices.map(([value]) => value), ["us", "eu"]);
  assert.ok(types[1].default_events.includes("call.ended"), "Segment's default events");
  assert.equal(types[0].default_events, null, "a webhook forwards every event");
  for (const method of ["POST", "PUT", "DELETE"]) assert.equal((await connector.api(method, "/api/destinations", {})).status, 405, method);
});

test("creating an integration verifies, registers the webhook and shows the secret once", async () => {
  const r = await connector.api("POST", "/api/integrations", { ...good(), events: ["call.ended", "call.created"] });
  assert.equal(r.status, 201, r.text);
  const created = r.json;
  assert.match(created.id, /^int_[0-9a-f]{20}$/);
  assert.equal(created.status, "active");
  assert.match(created.destination.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
  assert.deepEqual(created.events, ["call.ended", "call.created"]);

  // Aircall was asked with the right credentials, and got our ingress URL.
  assert.deepEqual(aircall.requests.slice(-2).map((q) => `${q.method} ${q.path} ${q.api_id}`), [
    "GET /v1/ping api-id-sales",
    "POST /v1/webhooks api-id-sales",
  ]);
  const [webhook] = aircall.webhooksOf("api-id-sales");
  assert.equal(webhook.url, `${PUBLIC_BASE_URL}/webhooks/aircall/${created.id}`);
  assert.deepEqual(webhook.events, ["call.ended", "call.created"]);
  assert.equal(created.aircall.webhook_id, webhook.webhook_id);
  assert.equal(created.aircall.webhook_url, webhook.url);

  // Read back: no secret, no token, no credentials.
  for (const r2 of [await connector.api("GET", `/api/integrations/${created.id}`), await connector.api("GET", "/api/integrations")]) {
    assert.equal(r2.status, 200);
    for (const secret of [created.destination.secret, webhook.token, "api-token-sales-secret", "api-id-sales"]) {
      assert.ok(!r2.text.includes(secret), `response shows ${secret}`);
    }
  }
  const listed = (await connector.api("GET", "/api/integrations")).json.integrations;
  assert.ok(listed.some((i) => i.id === created.id && i.name === "Sales team"));
  assert.equal((await connector.api("GET", "/api/integrations?status=inactive")).json.integrations.length, 0);

  // At rest: a KV dump reveals none of the secrets.
  const dump = JSON.stringify(await connector.kvDump());
  for (const secret of [created.destination.secret, created.destination.secret.slice(6), webhook.token, "api-token-sales-secret", ENCRYPTION_KEY]) {
    assert.ok(!dump.includes(secret), `KV shows ${secret.slice(0, 8)}...`);
  }
  // ...nor do the logs.
  const logs = connector.logs.join("");
  for (const secret of [created.destination.secret, webhook.token, "api-token-sales-secret", ADMIN_TOKEN, ENCRYPTION_KEY]) {
    assert.ok(!logs.includes(secret), `logs show ${secret.slice(0, 8)}...`);
  }
});

test("a given secret is kept and not echoed back in a different form", async () => {
  const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  const r = await connector.api("POST", "/api/integrations", { ...good(), destination: { ...good().destination, secret } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.destination.secret, secret);
});

test("invalid bodies get a 400 that names each field, and change nothing", async () => {
  const before = await connector.kvDump();
  const webhooksBefore = aircall.webhooks.size;
  const cases = [
    [{}, ["name", "aircall", "destination"]],
    [{ ...good(), name: "" }, ["name"]],
    [{ ...good(), aircall: { api_id: "x" } }, ["aircall.api_token"]],
    [{ ...good(), destination: { type: "webhook", url: "not a url" } }, ["destination.url"]],
    [{ ...good(), destination: { type: "carrier-pigeon", url: "https://x" } }, ["destination.type"]],
    [{ ...good(), destination: { ...good().destination, secret: "hunter2" } }, ["destination.secret"]],
    [{ ...good(), events: ["call.ended", "CALL ENDED"] }, ["events[1]"]],
    [{ ...good(), events: [] }, ["events"]],
    [{ ...good(), colour: "red" }, ["colour"]],
  ];
  for (const [body, fields] of cases) {
    const r = await connector.api("POST", "/api/integrations", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, "invalid_fields");
    assert.deepEqual(r.json.error.fields.map((f) => f.field).sort(), [...fields].sort(), JSON.stringify(body));
    for (const f of r.json.error.fields) assert.ok(f.message.length > 3);
  }
  const bad = await connector.api("POST", "/api/integrations", undefined, { raw: "{not json" });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, "invalid_json");
  const huge = await connector.api("POST", "/api/integrations", undefined, { raw: JSON.stringify({ name: "x".repeat(1_100_000) }) });
  assert.equal(huge.status, 413);
  assert.deepEqual(await connector.kvDump(), before);
  assert.equal(aircall.webhooks.size, webhooksBefore);
});

test("credentials Aircall rejects give a 422 and create nothing", async () => {
  const before = await connector.kvDump();
  const requestsBefore = aircall.requests.length;
  const r = await connector.api("POST", "/api/integrations", { ...good(), aircall: { api_id: "api-id-sales", api_token: "wrong" } });
  assert.equal(r.status, 422);
  assert.equal(r.json.error.code, "aircall_credentials_rejected");
  assert.match(r.json.error.message, /rejected the credentials/);
  assert.ok(!r.text.includes("wrong\""));
  assert.deepEqual(aircall.requests.slice(requestsBefore).map((q) => q.path), ["/v1/ping"], "stopped after the ping");
  assert.deepEqual(await connector.kvDump(), before);
});

test("Aircall being down gives a 502, not a half-made integration", async () => {
  const before = await connector.kvDump();
  aircall.down = true;
  try {
    const r = await connector.api("POST", "/api/integrations", good());
    assert.equal(r.status, 502);
    assert.equal(r.json.error.code, "aircall_unavailable");
  } finally {
    aircall.down = false;
  }
  assert.deepEqual(await connector.kvDump(), before);
});

test("unknown ids and routes answer 404, wrong methods 405", async () => {
  assert.equal((await connector.api("GET", "/api/integrations/int_00000000000000000000")).status, 404);
  assert.equal((await connector.api("GET", "/api/integrations/../../etc")).status, 404);
  assert.equal((await connector.api("GET", "/api/nothing")).status, 404);
  assert.equal((await connector.api("PUT", "/api/integrations")).status, 405);
  assert.equal((await connector.api("GET", "/nothing", undefined, { token: null })).status, 404);
  const r = await connector.api("GET", "/api/integrations?status=sleeping");
  assert.equal(r.status, 400);
});

test("Aircall calls take tokens from the account's budget in ACCOUNT_GATE", async () => {
  const busy = await new FakeAircall({ ratePerMinute: 1000 }).start();
  const tight = await startConnector({ vars: { AIRCALL_API_BASE: busy.url, AIRCALL_REQUESTS_PER_MINUTE: "4" } });
  try {
    const creds = busy.addKey("api-id-busy", "api-token-busy");
    const other = busy.addKey("api-id-other", "api-token-other");
    const body = (aircall) => ({ ...good(), aircall });
    // Each create is 2 requests (ping + webhook): a budget of 4 allows two.
    assert.equal((await tight.api("POST", "/api/integrations", body(creds))).status, 201);
    assert.equal((await tight.api("POST", "/api/integrations", body(creds))).status, 201);
    const requests = busy.requests.length;
    const kv = await tight.kvDump();
    const refused = await tight.api("POST", "/api/integrations", body(creds));
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error.code, "aircall_rate_limited");
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    assert.equal(busy.requests.length, requests, "Aircall was not asked at all");
    assert.deepEqual(await tight.kvDump(), kv);
    // Another Aircall account has its own budget.
    assert.equal((await tight.api("POST", "/api/integrations", body(other))).status, 201);
  } finally {
    await tight.dispose();
    await busy.stop();
  }
});

test("Aircall's own 429 (the limit is shared with the customer's other tools) is a clear 503", async () => {
  const shared = await new FakeAircall({ ratePerMinute: 3 }).start();
  const c = await startConnector({ vars: { AIRCALL_API_BASE: shared.url } });
  try {
    const creds = shared.addKey("api-id-shared", "api-token-shared");
    assert.equal((await c.api("POST", "/api/integrations", { ...good(), aircall: creds })).status, 201);
    const r = await c.api("POST", "/api/integrations", { ...good(), aircall: creds }); // 3rd request is fine, 4th is 429
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, "aircall_rate_limited");
    assert.equal(shared.webhooksOf("api-id-shared").length, 1, "no second webhook was registered");
    // Until Aircall's reset, no request of that account goes out at all.
    const requests = shared.requests.length;
    const again = await c.api("POST", "/api/integrations", { ...good(), aircall: creds });
    assert.equal(again.status, 503);
    assert.ok(Number(again.headers.get("retry-after")) >= 1);
    assert.equal(shared.requests.length, requests, "Aircall was not asked again before the reset");
  } finally {
    await c.dispose();
    await shared.stop();
  }
});

// The OAuth install in Miniflare: the admin's browser -> the connector -> the fake Aircall's
// authorize page -> the callback, with the state's forgeries, expiry and replay refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { startConnector, waitFor, ADMIN_TOKEN, ENCRYPTION_KEY, PUBLIC_BASE_URL } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

let aircall, receiver, connector;
const COOKIE = "__Host-aircall_oauth";

// The documented state: nonce.issued_at.base64url(HMAC-SHA256(k, "nonce.issued_at")), with
// k = HMAC-SHA256(ENCRYPTION_KEY's bytes, "aircall-connector/oauth-state/v1").
const stateKey = createHmac("sha256", Buffer.from(ENCRYPTION_KEY, "base64")).update("aircall-connector/oauth-state/v1").digest();
const signState = (nonce, issuedAt, key = stateKey) =>
  `${nonce}.${issuedAt}.${createHmac("sha256", key).update(`${nonce}.${issuedAt}`).digest("base64url")}`;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 1000 }).start();
  aircall.addKey("api-id-oauth", "unused-basic-token");
  receiver = await new FakeReceiver().start();
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url,
      AIRCALL_OAUTH_BASE: aircall.url,
      AIRCALL_OAUTH_CLIENT_ID: aircall.oauthClient.client_id,
      AIRCALL_OAUTH_CLIENT_SECRET: aircall.oauthClient.client_secret,
    },
  });
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});

// The admin submits the install form: a redirect to Aircall and the nonce cookie.
async function startInstall(token = ADMIN_TOKEN) {
  const r = await connector.dispatch(`${PUBLIC_BASE_URL}/oauth/aircall/install`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ admin_token: token }).toString(),
    redirect: "manual",
  });
  return { status: r.status, location: r.headers.get("location"), setCookie: r.headers.get("set-cookie"), text: await r.text() };
}

// Aircall's authorize page approves (or refuses) and sends the browser back.
async function approve(location) {
  const r = await fetch(location, { redirect: "manual" });
  assert.equal(r.status, 302);
  return r.headers.get("location");
}

async function callback(url, { cookie, json = true } = {}) {
  const headers = {};
  if (cookie) headers.cookie = `theme=dark; ${COOKIE}=${cookie}`;
  if (json) headers.accept = "application/json";
  const r = await connector.dispatch(url, { headers, redirect: "manual" });
  const text = await r.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, json: body, text, headers: r.headers };
}

const callbackUrl = (params) => `${PUBLIC_BASE_URL}/oauth/aircall/callback?${new URLSearchParams(params)}`;
const integrations = async () => (await connector.api("GET", "/api/integrations")).json.integrations;

test("without the OAuth settings the routes say so (501)", async () => {
  const bare = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url } });
  try {
    for (const [method, path] of [["GET", "/oauth/aircall/install"], ["POST", "/oauth/aircall/install"], ["GET", "/oauth/aircall/callback?code=x&state=y"]]) {
      const r = await bare.dispatch(`${PUBLIC_BASE_URL}${path}`, { method, headers: { accept: "application/json" }, redirect: "manual" });
      assert.equal(r.status, 501, `${method} ${path}`);
      const body = await r.json();
      assert.equal(body.error.code, "oauth_not_configured");
      assert.match(body.error.message, /AIRCALL_OAUTH_CLIENT_ID/);
    }
  } finally {
    await bare.dispose();
  }
});

test("the install page asks for the admin token in a form, never in a URL", async () => {
  const page = await connector.dispatch(`${PUBLIC_BASE_URL}/oauth/aircall/install`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  assert.match(page.headers.get("content-security-policy"), /form-action 'self' http:\/\/127\.0\.0\.1/);
  const html = await page.text();
  assert.match(html, /<form method="post" action="\/oauth\/aircall\/install">/);
  assert.match(html, /type="password" name="admin_token"/);

  const wrong = await startInstall("not-the-admin-token");
  assert.equal(wrong.status, 401);
  assert.equal(wrong.setCookie, null);
});

test("a good install creates the integration, inactive until it has a destination", async () => {
  aircall.oauthGrantTo = "api-id-oauth";
  const install = await startInstall();
  assert.equal(install.status, 303, install.text);
  const authorize = new URL(install.location);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${aircall.url}/oauth/authorize`);
  assert.equal(authorize.searchParams.get("client_id"), "client-e2e");
  assert.equal(authorize.searchParams.get("redirect_uri"), `${PUBLIC_BASE_URL}/oauth/aircall/callback`);
  assert.equal(authorize.searchParams.get("response_type"), "code");
  assert.equal(authorize.searchParams.get("scope"), "public_api");
  assert.ok(!install.location.includes(ADMIN_TOKEN));
  const [pair, ...attributes] = install.setCookie.split("; ");
  const nonce = pair.slice(`${COOKIE}=`.length);
  assert.deepEqual(attributes.sort(), ["HttpOnly", "Max-Age=600", "Path=/", "SameSite=Lax", "Secure"]);
  assert.ok(authorize.searchParams.get("state").startsWith(`${nonce}.`), "the state signs the cookie's nonce");

  const back = await approve(install.location);
  const done = await callback(back, { cookie: nonce });
  assert.equal(done.status, 201, done.text);
  const created = done.json;
  assert.equal(created.status, "inactive");
  assert.equal(created.deactivated_by, "oauth");
  assert.equal(created.deactivation_cause, "awaiting_destination");
  assert.equal(created.destination, null);
  assert.deepEqual(created.history.map((h) => `${h.change}/${h.by}`), ["created/oauth"]);
  assert.match(created.notice, /PATCH/);
  assert.match(done.headers.get("set-cookie"), /Max-Age=0/, "the cookie is cleared");
  // Registered on the account the token opens, with the token as a bearer.
  const [webhook] = aircall.webhooksOf("api-id-oauth");
  assert.equal(webhook.url, `${PUBLIC_BASE_URL}/webhooks/aircall/${created.id}`);
  assert.deepEqual(aircall.requests.filter((q) => q.api_id === "api-id-oauth").map((q) => q.path), ["/v1/ping", "/v1/webhooks"]);
  // The token is sealed: nowhere in KV, the answer or the logs.
  const record = (await connector.kvDump())[`integration:${created.id}`];
  assert.ok(!/access_token|[0-9a-f]{40}/.test(record), "no plain token at rest");
  const logs = connector.logs.join("");
  for (const secret of ["client-secret-e2e", ADMIN_TOKEN, nonce]) assert.ok(!logs.includes(secret), "logs show a secret");

  // Replaying the callback (same code, same state, same browser) is refused.
  const replay = await callback(back, { cookie: nonce });
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error.code, "oauth_state_used");
  assert.equal((await integrations()).filter((i) => i.id !== created.id && i.deactivated_by === "oauth").length, 0);

  // The admin completes it: a destination, then activation; then it works end to end.
  assert.equal((await connector.api("POST", `/api/integrations/${created.id}/activate`)).status, 409);
  const patched = await connector.api("PATCH", `/api/integrations/${created.id}`, { destination: { type: "webhook", url: receiver.url }, name: "Support (OAuth)" });
  assert.equal(patched.status, 200, patched.text);
  assert.match(patched.json.destination.secret, /^whsec_/);
  receiver.secret = patched.json.destination.secret;
  const on = await connector.api("POST", `/api/integrations/${created.id}/activate`);
  assert.equal(on.status, 200, on.text);
  assert.match(on.json.notice, /first import/);
  aircall.addCalls("api-id-oauth", [{ ...call(901), started_at: Math.floor(Date.now() / 1000) - 60, recording: true }]);
  const sync = await connector.api("POST", `/api/integrations/${created.id}/sync`);
  assert.equal(sync.status, 200, sync.text);
  assert.equal(sync.json.first_import, true);
  assert.equal(sync.json.queued, 1);
  const fired = await aircall.fire(webhook, "call.ended", call(902), { post: connector.dispatch });
  assert.equal(fired.status, 202);
  await waitFor(() => receiver.delivered.some((d) => d.body?.data?.id === 902 && d.valid), { what: "a signed delivery" });
});

test("forged, expired, missing, other-browser and refused states are all refused, creating nothing", async () => {
  aircall.oauthGrantTo = "api-id-oauth";
  // Integrations only: the previous test's call import may still be writing its own keys.
  const integrations = async () =>
    Object.fromEntries(Object.entries(await connector.kvDump()).filter(([k]) => k.startsWith("integration:")));
  const before = await integrations();
  const webhooks = aircall.webhooks.size;
  const install = await startInstall();
  const nonce = install.setCookie.split(";")[0].slice(`${COOKIE}=`.length);
  const back = new URL(await approve(install.location));
  const code = back.searchParams.get("code");
  const state = back.searchParams.get("state");
  const now = Math.floor(Date.now() / 1000);
  const [, issuedAt, signature] = state.split(".");

  const cases = [
    ["forged signature", { code, state: `${nonce}.${issuedAt}.${signature.slice(0, -2)}AA` }, nonce, "oauth_state_invalid"],
    ["signed with another key", { code, state: signState(nonce, now, randomBytes(32)) }, nonce, "oauth_state_invalid"],
    ["life extended by hand", { code, state: `${nonce}.${now + 300}.${signature}` }, nonce, "oauth_state_invalid"],
    ["expired (issued 10 minutes and a second ago)", { code, state: signState(nonce, now - 601) }, nonce, "oauth_state_expired"],
    ["missing", { code }, nonce, "oauth_state_invalid"],
    ["another browser (no cookie)", { code, state }, null, "oauth_state_invalid"],
    ["another browser (another nonce)", { code, state }, "0".repeat(32), "oauth_state_invalid"],
    ["refused at Aircall", { error: "access_denied", state }, nonce, "oauth_denied"],
  ];
  for (const [what, params, cookie, errorCode] of cases) {
    const r = await callback(callbackUrl(params), { cookie });
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.equal(r.json.error.code, errorCode, what);
  }
  // A browser gets a page, not JSON.
  const page = await callback(callbackUrl({ code, state: signState(nonce, now - 601) }), { cookie: nonce, json: false });
  assert.equal(page.status, 400);
  assert.match(page.headers.get("content-type"), /text\/html/);
  assert.match(page.text, /expired/);
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");

  assert.deepEqual(await integrations(), before, "nothing was created");
  assert.equal(aircall.webhooks.size, webhooks);

  // None of the refusals used the state up: the genuine callback still completes once.
  const done = await callback(back.toString(), { cookie: nonce });
  assert.equal(done.status, 201, done.text);
  const used = await callback(back.toString(), { cookie: nonce });
  assert.equal(used.json.error.code, "oauth_state_used");
});

test("a code Aircall refuses (used or expired) is a clear error", async () => {
  aircall.oauthGrantTo = "api-id-oauth";
  const install = await startInstall();
  const nonce = install.setCookie.split(";")[0].slice(`${COOKIE}=`.length);
  const back = new URL(await approve(install.location));
  back.searchParams.set("code", "not-a-code-aircall-gave");
  const r = await callback(back.toString(), { cookie: nonce });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, "oauth_code_rejected");
});

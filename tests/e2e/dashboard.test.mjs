// The dashboard at `/` in a real browser: Debian's chromium, driven by playwright-core, against
// the built worker in Miniflare, the fake Aircall and a verifying receiver. Screenshots of the
// main pages go to test-results/dashboard/ for a person to look at.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { openBrowser, SCREENSHOTS } from "./browser.mjs";
import { startConnector, waitFor, sleep, ADMIN_TOKEN } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";
import { call } from "./payloads.mjs";

const API_ID = "api-id-dashboard";
const API_TOKEN = "api-token-dashboard";
const HUBSPOT_TOKEN = "pat-na1-dashboard";

let aircall, receiver, hubspot, consent, connector, browser, page, external, problems, shot, base, integrationId;
const now = () => Math.floor(Date.now() / 1000);
const apiRuns = async () => (await connector.api("GET", `/api/integrations/${integrationId}/runs`)).json;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey(API_ID, API_TOKEN);
  receiver = await new FakeReceiver().start();
  hubspot = await new FakeHubSpot({ tokens: [HUBSPOT_TOKEN] }).start();
  consent = await consentPage();
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url,
      AIRCALL_REQUESTS_PER_MINUTE: "600",
      AIRCALL_OAUTH_BASE: consent.url,
      AIRCALL_OAUTH_CLIENT_ID: aircall.oauthClient.client_id,
      AIRCALL_OAUTH_CLIENT_SECRET: aircall.oauthClient.client_secret,
      HUBSPOT_API_BASE: hubspot.url,
    },
  });
  base = new URL(connector.url).origin;
  browser = await openBrowser(base);
  ({ page, external, problems, shot } = browser);
});

after(async () => {
  await browser?.close();
  await connector?.dispose();
  await receiver?.stop();
  await hubspot?.close();
  await aircall?.stop();
  consent?.server.close();
});

// Aircall's authorize page, where the admin approves the app: a page (the fake Aircall's
// redirects at once to the callback at PUBLIC_BASE_URL, another origin than the browser's here).
async function consentPage() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>Aircall</title><h1>Approve the connector</h1>");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

test("the page is served with a strict policy and a wrong token is refused where the admin sees it", async () => {
  const response = await page.goto(`${base}/`);
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.equal(headers["content-type"], "text/html; charset=utf-8");
  assert.match(headers["content-security-policy"], /^default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';/);
  assert.equal(headers["cache-control"], "no-cache");
  assert.match(headers["content-security-policy"], /form-action 'self'; frame-ancestors 'none'/);
  // Served as static assets, each with the same headers.
  for (const asset of ["/app.js", "/app.css"]) {
    const served = await page.request.get(`${base}${asset}`);
    assert.equal(served.status(), 200, asset);
    assert.match(served.headers()["content-security-policy"], /^default-src 'none';/, asset);
    assert.equal(served.headers()["x-content-type-options"], "nosniff", asset);
  }
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "f-token", "the keyboard reaches the token first");
  await shot("1-sign-in");

  await page.getByLabel("Admin token").fill("not-the-admin-token-at-all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "This admin token was refused" }).waitFor();
  assert.equal(await page.getByLabel("Admin token").getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");
  await shot("2-sign-in-refused");
});

test("signed in, the admin creates an integration, field errors shown by their fields, and sees it listed", async () => {
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "My integrations" }).waitFor();
  assert.ok(!page.url().includes(ADMIN_TOKEN), "never in the URL");
  assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), ["aircall-connector/admin-token"]);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  await page.getByText("No integration yet").waitFor();

  await page.getByRole("link", { name: "New integration" }).first().click();
  await page.getByLabel("Name").fill("Sales team");
  await page.getByLabel("API ID").fill(API_ID);
  await page.getByLabel("API token").fill(API_TOKEN);
  await page.getByLabel("Webhook URL").fill("ftp://nowhere");
  await page.getByRole("button", { name: "Create integration" }).click();
  const urlError = page.locator("#f-destination-url-errors");
  await urlError.getByText("must be an absolute http(s) URL").waitFor();
  assert.equal(await page.getByLabel("Webhook URL").getAttribute("aria-invalid"), "true");
  await shot("3-new-integration-error");

  await page.getByLabel("Webhook URL").fill(receiver.url);
  await page.getByRole("button", { name: "Create integration" }).click();
  const created = page.getByRole("status").filter({ hasText: "Created “Sales team”" });
  await created.waitFor();
  const secret = await created.locator(".secret").textContent();
  assert.match(secret, /^whsec_/, "the signing secret, shown once");
  receiver.secret = secret;

  await page.getByRole("navigation").getByRole("link", { name: "My integrations" }).click();
  const row = page.getByRole("row").filter({ hasText: "Sales team" });
  await row.waitFor();
  const cells = await row.getByRole("cell").allTextContents();
  assert.deepEqual(cells, ["Sales team", "Signed webhook", "Active", "Never", "0"]);
  integrationId = await row.getAttribute("data-id");
  assert.ok(!(await page.content()).includes(ADMIN_TOKEN), "the token is not in the page");
  assert.ok(!(await page.content()).includes(secret), "the secret is gone once left");
  await shot("4-list");
});

test("deactivated, it shows under Inactive; reactivation is refused with the cause while Aircall rejects the credentials", async () => {
  await page.getByRole("link", { name: "Sales team" }).click();
  await page.getByRole("heading", { name: "Sales team", level: 1 }).waitFor();
  const active = page.getByRole("switch", { name: "Active" });
  assert.equal(await active.getAttribute("aria-checked"), "true");
  await active.focus();
  await page.keyboard.press("Space");
  await page.getByText(/^Inactive: every setting is kept/).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("role")), "switch", "focus stays on the switch");
  assert.equal(await page.getByRole("switch", { name: "Active" }).getAttribute("aria-checked"), "false");
  await page.getByRole("region", { name: "Status" }).getByText("Deactivated by an admin").waitFor();

  await page.getByRole("navigation").getByRole("link", { name: "My integrations" }).click();
  await page.getByRole("checkbox", { name: "Inactive" }).check();
  const inactive = page.getByRole("table", { name: "Inactive integrations" });
  await inactive.waitFor();
  const row = inactive.getByRole("row").filter({ hasText: "Sales team" });
  await row.getByText("Inactive (by an admin)").waitFor();
  assert.equal(await inactive.getByRole("row").count(), 2, "header and this one");
  await shot("5-list-inactive");

  await row.getByRole("link", { name: "Sales team" }).click();
  aircall.rejectCredentials(API_ID);
  await page.getByRole("switch", { name: "Active" }).click();
  await page.getByRole("alert").filter({ hasText: "Not reactivated" }).filter({ hasText: /Aircall/ }).waitFor();
  assert.equal(await page.getByRole("switch", { name: "Active" }).getAttribute("aria-checked"), "false");
  await shot("6-reactivation-refused");

  aircall.keys.set(API_ID, API_TOKEN); // the credentials work again
  await page.getByRole("switch", { name: "Active" }).click();
  await page.getByText(/^Active again from .*Calls made while the integration was inactive are not imported retroactively/).waitFor();
  assert.equal(await page.getByRole("switch", { name: "Active" }).getAttribute("aria-checked"), "true");
  await page.getByRole("region", { name: "History" }).getByText(/ · Activated by an admin/).waitFor();
});

test("settings are saved, a bad import rule named next to its field; a sync's runs show the skip reasons and charts of their counts", async () => {
  const rules = page.getByRole("group", { name: "Import rules" });
  const window = rules.getByLabel("Import window");
  assert.equal(await window.inputValue(), "14");
  await window.fill("0");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#f-import-window_days-errors").getByText(/^must be between 1 and 180/).waitFor();
  assert.equal(await window.getAttribute("aria-invalid"), "true");
  await shot("7-settings-error");

  await window.fill("14");
  const users = rules.getByRole("group", { name: "Users whose calls are imported" });
  await users.getByRole("radio", { name: "Only these users" }).check();
  await users.getByLabel("Add a user's e-mail").fill("Madeline@example.com");
  await users.getByRole("button", { name: "Add user" }).click();
  // The account's numbers, added since the page read them: read again on demand.
  aircall.addNumbers(API_ID, [{ id: 789, name: "Sales FR", digits: "+33 1 76 36 06 95" }]);
  const numbers = page.getByRole("group", { name: "Aircall numbers" });
  await numbers.getByRole("radio", { name: "Only the numbers chosen" }).check();
  await numbers.getByRole("button", { name: "Read the list again from Aircall" }).click();
  await numbers.getByRole("checkbox", { name: "Sales FR" }).check();
  await numbers.getByLabel("Add a phone number").fill("+33 1 76 36 06 96");
  await numbers.getByRole("button", { name: "Add number" }).click();
  await page.getByRole("button", { name: "Save settings" }).click();
  // Exact: the credentials hint ends in "... before they are saved.", which a loose match also finds.
  await page.getByRole("status").getByText("Saved.", { exact: true }).waitFor();
  const saved = (await connector.api("GET", `/api/integrations/${integrationId}`)).json;
  assert.deepEqual(saved.import.users, ["Madeline@example.com"], "matched in any case");
  assert.deepEqual(saved.numbers, [789, "+33176360696"]);

  // Calls made after the reactivation (the import starts there): one to import, three
  // skipped for three reasons.
  await sleep(1000);
  const t = now();
  const stored = (id, extra = {}) => ({ ...call(id), started_at: t, recording: true, ...extra });
  aircall.addCalls(API_ID, [
    stored(601, { recording: false }),
    stored(602, { user: { id: 9, name: "Paul", email: "paul@example.com" } }),
    stored(603),
    stored(604),
  ]);
  aircall.recordingBytes.set(604, 300 * 1024 * 1024);
  await page.getByRole("button", { name: "Sync now" }).click();
  await page.getByText(/^Import done: /).waitFor();
  const run = await waitFor(async () => {
    const r = (await apiRuns()).runs[0];
    return r && r.pending === 0 && r;
  }, { what: "the run's calls to finish", timeout: 30_000 });
  assert.deepEqual(run.skipped_by_reason, { no_recording: 1, no_user_match: 1, recording_too_large: 1 });
  assert.equal(run.imported, 1);
  await waitFor(() => receiver.delivered.some((d) => d.body?.type === "call.imported" && d.body.data.id === 603 && d.valid), { what: "call 603 delivered" });

  await page.getByRole("link", { name: "Import runs" }).click();
  const runs = page.locator("#runs");
  await runs.getByRole("heading", { name: "Import runs" }).waitFor();
  const row = runs.locator(`tr[data-run="${run.run_id}"]`);
  // The page follows the run until its calls are done; then the table has the final counts.
  await row.locator("td.reasons").getByText("no recording: 1, no user match: 1, recording too large: 1").waitFor({ timeout: 30_000 });
  const cells = await row.getByRole("cell").allTextContents();
  assert.deepEqual(cells.slice(1), ["sync now", "done", "4", "1", "3", "no recording: 1, no user match: 1, recording too large: 1", "0", String(run.aircall_requests)]);
  await runs.getByText("Skipped and failed calls (3)").click();
  await runs.getByText(/Call 601 \(started .*\): it has no recording/).waitFor();

  // The chart: one bar per run, each segment's height and label from the run's counts.
  const bar = runs.locator(`svg g.run[data-run="${run.run_id}"]`).first();
  const segments = await bar.locator("rect").evaluateAll((rects) =>
    Object.fromEntries(rects.map((r) => [r.dataset.series, [Number(r.dataset.value), Number(r.getAttribute("height"))]])),
  );
  assert.deepEqual(Object.keys(segments).sort(), ["imported", "skipped:no_recording", "skipped:no_user_match", "skipped:recording_too_large"]);
  for (const [series, value] of Object.entries({ imported: run.imported, ...Object.fromEntries(Object.entries(run.skipped_by_reason).map(([k, v]) => [`skipped:${k}`, v])) })) {
    assert.equal(segments[series][0], value, series);
    assert.ok(Math.abs(segments[series][1] - segments.imported[1] * value) < 0.01, `${series}: height proportional to its count`);
  }
  assert.equal(await bar.locator("text.total").textContent(), "4", "calls seen by the run");
  assert.deepEqual(await bar.locator("text.part").allTextContents(), ["1", "1", "1", "1"], "each part's count");
  const legend = await runs.locator(".legend li").allTextContents();
  assert.deepEqual(legend, ["imported", "skipped: no recording", "skipped: no user match", "skipped: recording too large"]);
  const requests = runs.locator(`svg g.run[data-run="${run.run_id}"]`).nth(1);
  assert.equal(Number(await requests.locator("rect").getAttribute("data-value")), run.aircall_requests);
  assert.equal(await requests.locator("text.total").textContent(), String(run.aircall_requests));
  assert.match(await runs.locator("text.budget-label").textContent(), /^budget 600\/min/);

  await page.getByLabel("Why was my call not imported? Aircall call id").fill("602");
  await page.getByRole("button", { name: "Look it up" }).click();
  await runs.getByText(/Call 602 was skipped by the run of .*: its user is not in the import's user list\./).waitFor();
  await runs.screenshot({ path: path.join(SCREENSHOTS, "8-runs-and-charts.png") });
  await shot("9-integration-page");

  // The list's last import column now tells this run.
  await page.getByRole("navigation").getByRole("link", { name: "My integrations" }).click();
  const listed = page.getByRole("row").filter({ hasText: "Sales team" });
  await listed.getByText("1 imported, 3 skipped").waitFor();
});

test("a failed delivery is counted in the list, listed with its reason, and retried", async () => {
  receiver.answer = () => ({ status: 410 }); // permanent: dead-lettered at once
  const [webhook] = aircall.webhooksOf(API_ID);
  const fired = await aircall.fire(webhook, "call.created", call(700), { post: connector.dispatch });
  assert.equal(fired.status, 202, fired.body);
  const { delivery_id } = JSON.parse(fired.body);
  const failed = async () => (await connector.api("GET", `/api/integrations/${integrationId}/deliveries?status=failed`)).json.deliveries;
  await waitFor(async () => (await failed()).some((d) => d.delivery_id === delivery_id), { what: "the dead letter", timeout: 30_000 });
  await page.goto(`${base}/`); // a fresh load of the list
  const row = page.getByRole("row").filter({ hasText: "Sales team" });
  await row.getByRole("link", { name: String((await failed()).length) }).click();
  const section = page.locator("#deliveries");
  const letter = section.getByRole("row").filter({ hasText: delivery_id });
  await letter.getByRole("cell", { name: "the destination answered HTTP 410" }).waitFor();
  await section.screenshot({ path: path.join(SCREENSHOTS, "10-failed-deliveries.png") });
  receiver.answer = () => ({ status: 200 });
  await letter.getByRole("button", { name: `Retry delivery ${delivery_id}` }).click();
  await section.getByText(/is queued again, from its first attempt/).waitFor();
  await waitFor(() => receiver.delivered.some((d) => d.body?.type === "call.created" && d.body.data.id === 700 && d.valid), { what: "the retried delivery" });
});

test("the integration page shows which AI data flows, since when it does not, and the last AI event delivered", async () => {
  const [webhook] = aircall.webhooksOf(API_ID);
  const view = async () => (await connector.api("GET", `/api/integrations/${integrationId}`)).json;
  const events = (await view()).events;
  assert.ok(!events || events.includes("summary.created"), "the AI events are selected (every event)");
  aircall.addAiData(API_ID, 7101, { summary: "Asked for a callback." });
  const fired = await aircall.fire(webhook, "summary.created", { id: 97101, call_id: 7101 }, { post: connector.dispatch });
  assert.equal(fired.status, 202, fired.body);
  await waitFor(() => receiver.delivered.some((d) => d.body?.type === "call.summary" && d.body.data.call_id === 7101), { what: "the summary delivered", timeout: 30_000 });
  await waitFor(async () => (await view()).ai.last_delivered, { what: "the last AI delivery noted" });
  await page.goto(`${base}/#/integrations/${integrationId}/ai`);
  const section = page.locator("#ai");
  // Only the hash changed: wait for the page drawn from this reading, not the one before it.
  await section.locator("#ai-last", { hasText: "call.summary of call 7101" }).waitFor();
  assert.match(await section.locator("#ai-availability").innerText(), /^Available/);
  for (const event of ["transcription.created", "summary.created", "topics.created", "sentiment.created", "action_item.created"]) {
    assert.match(await section.locator(`li[data-event="${event}"]`).innerText(), /: selected$/, event);
  }
  assert.match(await section.locator("#ai-last").innerText(), /^call\.summary of call 7101, /);

  // The account loses its AI package: the next AI event meets a 403, and the page says since when.
  aircall.withoutAi(API_ID);
  await aircall.fire(webhook, "topics.created", { id: 97102, call_id: 7102 }, { post: connector.dispatch });
  const refused = await waitFor(async () => { const v = await view(); return v.ai.available === false && v; }, { what: "AI marked unavailable", timeout: 30_000 });
  assert.equal(refused.status, "active");
  await page.reload();
  await section.locator("#ai-availability").getByText("Not available").waitFor();
  const text = await section.locator("#ai-availability").innerText();
  assert.match(text, /refuses this account's AI data \(no AI package\) since .+\. Its AI events are acknowledged without asking Aircall until .+, then tried once more\. The integration stays active\./);
  assert.equal(await section.locator("time").first().getAttribute("datetime"), refused.ai.since);
  await section.screenshot({ path: path.join(SCREENSHOTS, "11-ai-data.png") });
});

test("at phone width nothing overflows and the list reads as cards", async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto(`${base}/#/`);
  await page.getByRole("row").filter({ hasText: "Sales team" }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 375, `the page is ${overflow}px wide`);
  await shot("11-phone-list");
  await page.getByRole("link", { name: "Sales team" }).click();
  await page.locator("#runs svg").first().waitFor();
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 375);
  await shot("12-phone-integration");
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("Connect with Aircall sends the session's token to the install as a bearer and goes to Aircall's authorize page", async () => {
  await page.goto(`${base}/#/`);
  await page.getByRole("row").filter({ hasText: "Sales team" }).waitFor();
  const post = page.waitForRequest((r) => r.url() === `${base}/oauth/aircall/install`);
  const authorize = page.waitForRequest((r) => r.url().startsWith(`${consent.url}/oauth/authorize?`));
  await page.getByRole("button", { name: "Connect with Aircall" }).click();
  const sent = await post;
  assert.equal(sent.method(), "POST");
  assert.equal(sent.headers().authorization, `Bearer ${ADMIN_TOKEN}`);
  assert.ok(!sent.url().includes(ADMIN_TOKEN) && !(sent.postData() ?? "").includes(ADMIN_TOKEN));
  const redirected = new URL((await authorize).url());
  assert.equal(redirected.searchParams.get("client_id"), aircall.oauthClient.client_id);
  assert.ok(!redirected.href.includes(ADMIN_TOKEN));
  await page.getByRole("heading", { name: "Approve the connector" }).waitFor();
  // That page is Aircall's: the one request expected elsewhere.
  external.splice(0, external.length, ...external.filter((u) => !u.startsWith(`${consent.url}/oauth/authorize?`)));
});

test("deletion asks first, says what it removes and that deactivation would keep it", async () => {
  await page.goto(`${base}/#/integrations/${integrationId}`);
  await page.getByRole("button", { name: "Delete…" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete “Sales team”?" });
  await dialog.getByText("Deactivation would keep all of it").waitFor();
  await dialog.getByText("the contacts it synced into Aircall.").waitFor();
  await shot("13-delete-confirmation");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal((await connector.api("GET", `/api/integrations/${integrationId}`)).status, 200, "cancel keeps it");

  await page.getByRole("button", { name: "Delete…" }).click();
  await dialog.getByRole("button", { name: "Delete for good" }).click();
  await page.getByText("“Sales team” is deleted.").waitFor();
  await page.getByText("No integration yet").waitFor();
  assert.equal((await connector.api("GET", `/api/integrations/${integrationId}`)).status, 404);
});

test("a HubSpot integration is made with the form the catalogue describes, listed as HubSpot, its token never shown again", async () => {
  aircall.addKey("api-id-hubspot", "api-token-hubspot");
  await page.goto(`${base}/#/new`);
  await page.getByRole("heading", { name: "New integration" }).waitFor();
  const types = await page.getByLabel("Type").locator("option").allTextContents();
  assert.deepEqual(types, ["Signed webhook", "Segment", "HubSpot"], "every type the server publishes");
  await page.getByLabel("Name").fill("Support CRM");
  await page.getByLabel("API ID").fill("api-id-hubspot");
  await page.getByLabel("API token").fill("api-token-hubspot");
  await page.getByLabel("Type").selectOption({ label: "HubSpot" });
  assert.equal(await page.getByLabel("Webhook URL").count(), 0, "only the chosen type's fields are in the form");
  const token = page.getByLabel("HubSpot Access token");
  assert.equal(await token.getAttribute("type"), "password");
  // Left empty: the server's error lands next to the field it names (destination.access_token).
  await page.getByRole("button", { name: "Create integration" }).click();
  await page.locator("#f-destination-access_token-errors").getByText("is required").waitFor();
  assert.equal(await token.getAttribute("aria-invalid"), "true");
  await token.fill(HUBSPOT_TOKEN);
  await shot("14-new-hubspot");
  await page.getByRole("button", { name: "Create integration" }).click();
  const created = page.getByRole("status").filter({ hasText: "Created “Support CRM”" });
  await created.waitFor();
  assert.equal(await created.locator(".secret").count(), 0, "HubSpot's token is the admin's own: not shown back");

  await page.getByRole("navigation").getByRole("link", { name: "My integrations" }).click();
  const row = page.getByRole("row").filter({ hasText: "Support CRM" });
  await row.waitFor();
  assert.deepEqual((await row.getByRole("cell").allTextContents()).slice(0, 3), ["Support CRM", "HubSpot", "Active"]);
  const id = await row.getAttribute("data-id");
  assert.deepEqual((await connector.api("GET", `/api/integrations/${id}`)).json.destination, { type: "hubspot" });

  await row.getByRole("link", { name: "Support CRM" }).click();
  await page.getByRole("heading", { name: "Support CRM", level: 1 }).waitFor();
  const type = page.getByLabel("Type");
  assert.equal(await type.inputValue(), "hubspot");
  assert.equal(await type.locator("option:checked").textContent(), "HubSpot");
  await page.locator(".kv dd").getByText("HubSpot", { exact: true }).waitFor();
  const kept = page.getByLabel("HubSpot Access token");
  assert.equal(await kept.getAttribute("type"), "password");
  assert.equal(await kept.inputValue(), "", "a secret is never filled in");
  await page.locator("#f-destination-access_token-hint").getByText("Leave empty to keep the current one.").waitFor();
  assert.ok(!(await page.content()).includes(HUBSPOT_TOKEN), "the token is not in the page");
  await shot("15-hubspot-integration");

  // Saving other settings leaves the destination (and its token) as it was.
  await page.getByLabel("Name").fill("Support CRM (EU)");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").getByText("Saved.", { exact: true }).waitFor();
  const saved = (await connector.api("GET", `/api/integrations/${id}`)).json;
  assert.equal(saved.history.at(-1).reason, "changed: name", "the destination was not sent");
  assert.equal(await page.getByLabel("HubSpot Access token").inputValue(), "");
  await connector.api("DELETE", `/api/integrations/${id}`);
});

test("insight cards are turned on from a CRM integration's settings, a refusal shown next to its control", async () => {
  aircall.addKey("api-id-cards", "api-token-cards");
  const made = await connector.api("POST", "/api/integrations", {
    name: "Cards CRM",
    aircall: { api_id: "api-id-cards", api_token: "api-token-cards" },
    destination: { type: "hubspot", access_token: HUBSPOT_TOKEN },
    events: ["call.ended"],
  });
  assert.equal(made.status, 201, made.text);
  const id = made.json.id;
  await page.goto(`${base}/#/integrations/${id}`);
  await page.getByRole("heading", { name: "Cards CRM", level: 1 }).waitFor();
  const on = page.getByLabel("Show insight cards");
  assert.equal(await on.isChecked(), false, "off until turned on");
  await on.check();
  await page.getByLabel("Last logged call").uncheck();
  await page.getByLabel("Unknown callers").selectOption("card");
  // Without call.created among the events, the server refuses, and says so by the checkbox.
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#f-insight_cards-enabled-errors").getByText("call.created").waitFor();
  assert.equal(await on.getAttribute("aria-invalid"), "true");
  await shot("16-insight-cards-refused");
  await page.getByRole("group", { name: "Events" }).getByRole("checkbox", { name: "call.created" }).check();
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").getByText("Saved.", { exact: true }).waitFor();
  const saved = (await connector.api("GET", `/api/integrations/${id}`)).json;
  assert.deepEqual(saved.insight_cards, { enabled: true, blocks: ["contact", "owner", "lifecycle_stage", "deals"], unknown_caller: "card" });
  await page.locator("#insight-cards output").getByText("0 posted, 0 skipped").waitFor();
  assert.equal(await page.getByLabel("Show insight cards").isChecked(), true);
  await shot("17-insight-cards-on");
  await connector.api("DELETE", `/api/integrations/${id}`);
});

test("signing out forgets the token; the page made no request elsewhere and logged no error", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(external, []);
  assert.deepEqual(problems, []);
  assert.ok(!connector.logs.join("").includes(ADMIN_TOKEN), "the token is never logged");
});

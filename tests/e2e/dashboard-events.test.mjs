// The event log page in a real browser (Debian's chromium, as dashboard.test.mjs): find an
// event by its call id, open it, see both payloads, send it again and see the new delivery in
// its history and at the receiver. Screenshots go to test-results/dashboard/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openBrowser } from "./browser.mjs";
import { startConnector, waitFor, ADMIN_TOKEN } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

const SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
let aircall, receiver, connector, browser, page, external, problems, shot, integration;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey("api-id-events", "api-token-events");
  receiver = await new FakeReceiver().start();
  receiver.secret = SECRET;
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600" } });
  const r = await connector.api("POST", "/api/integrations", {
    name: "Support line", aircall: { api_id: "api-id-events", api_token: "api-token-events" },
    destination: { type: "webhook", url: receiver.url, secret: SECRET }, events: ["call.ended", "call.hungup"],
  });
  assert.equal(r.status, 201, r.text);
  integration = { id: r.json.id, webhook: aircall.webhooks.get(r.json.aircall.webhook_id) };
  browser = await openBrowser(new URL(connector.url).origin);
  ({ page, external, problems, shot } = browser);
});

after(async () => {
  await browser?.close();
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});

test("an event is found by its call id, opened with both payloads, and sent again", async () => {
  const post = (url, init) => connector.dispatch(url, init);
  const fired = {};
  for (const [event, id] of [["call.ended", 3101], ["call.hungup", 3102], ["call.created", 3103], ["call.ended", 3104]]) {
    const r = await aircall.fire(integration.webhook, event, call(id), { post });
    fired[id] = JSON.parse(r.body);
  }
  const eventId = fired[3102].delivery_id;
  await waitFor(() => receiver.delivered.some((d) => d.id === eventId), { timeout: 20_000, what: "the first delivery" });
  await waitFor(async () => (await connector.api("GET", `/api/integrations/${integration.id}/events`)).json.events.length === 4, { timeout: 20_000, what: "4 logged events" });

  await page.goto(`${new URL(connector.url).origin}/`);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Support line" }).click();
  await page.getByRole("link", { name: "Event log" }).click();
  await page.getByRole("heading", { name: "Event log" }).waitFor();
  const table = page.getByRole("table", { name: "Events, newest first" });
  await table.waitFor();
  assert.equal(await table.locator("tbody tr").count(), 4);
  await table.getByRole("row").filter({ hasText: "call 3103" }).getByText("Filtered").waitFor();
  await shot("20-event-log");

  await page.getByLabel("Event name, call id or phone number").fill("3102");
  await page.getByRole("button", { name: "Search" }).click();
  await waitFor(async () => (await table.locator("tbody tr").count()) === 1, { what: "one event found" });
  const row = table.getByRole("row").filter({ hasText: "call 3102" });
  assert.equal(await row.getAttribute("data-id"), eventId);
  await row.getByRole("link", { name: "call.hungup" }).click();

  await page.getByRole("heading", { name: "call.hungup" }).waitFor();
  const received = await page.getByRole("heading", { name: "As received" }).locator("..").locator("pre").textContent();
  assert.equal(JSON.parse(received).id, 3102);
  const sent = JSON.parse(await page.getByRole("heading", { name: "As sent" }).locator("..").locator("pre").textContent());
  assert.deepEqual([sent.body.type, sent.headers["webhook-id"]], ["call.hungup", eventId]);
  assert.ok(!(await page.content()).includes(SECRET.slice(6)), "the signing secret is not shown");
  const history = page.getByRole("table", { name: "Steps, oldest first" });
  assert.equal(await history.locator("tbody tr").count(), 1);

  await page.getByRole("button", { name: "Send again" }).click();
  await page.getByRole("status").filter({ hasText: "Queued again as" }).waitFor();
  const resendId = `${eventId}r1`;
  await history.getByRole("row").filter({ hasText: `sent again as ${resendId}` }).waitFor({ timeout: 25_000 });
  assert.equal(await history.locator("tbody tr").count(), 2);
  assert.ok(!(await page.locator("#event-history").textContent()).includes("null"), "no stray null");
  const resent = receiver.delivered.find((d) => d.id === resendId);
  assert.ok(resent?.valid, "the new delivery reached the receiver, signed");
  assert.equal(resent.body.data.id, 3102);
  await shot("21-event-sent-again");

  // At phone width the event and the log read without sideways scrolling.
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const wide = await page.evaluate(() => [...document.querySelectorAll("main *")].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 5).map((e) => `${e.tagName}.${e.className}: ${e.textContent.slice(0, 40)}`));
  assert.equal(await overflow(), 0, `the event fits: ${wide.join(" | ")}`);
  await page.getByRole("link", { name: "Back to the event log" }).click();
  await table.waitFor();
  assert.equal(await overflow(), 0, "the log fits");
  await shot("22-event-log-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(external, [], "no request anywhere but the connector");
  assert.deepEqual(problems, []);
});

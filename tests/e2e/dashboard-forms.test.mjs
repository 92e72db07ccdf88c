// The dashboard's settings forms in a real browser (Debian's chromium, driven by
// playwright-core, as dashboard.test.mjs does) against the built worker in Miniflare and the
// fakes: each destination type created through its form, events picked from the checklist,
// numbers picked from the account's Aircall numbers, import rules with units, and contact sync
// (a filter and a mapping, an incompatible pair refused before saving). Screenshots of each
// form go to test-results/dashboard/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openBrowser } from "./browser.mjs";
import { startConnector, ADMIN_TOKEN } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeHubSpot } from "../fakes/hubspot.mjs";

const API_ID = "api-id-forms";
const API_TOKEN = "api-token-forms";
const HUBSPOT_TOKEN = "pat-na1-forms";
const MB = 1024 * 1024;

let aircall, hubspot, connector, browser, page, external, problems, shot, base;
const ids = {}; // integration ids by name
// The elements reaching past the viewport's right edge, for a message saying which (a
// table's header row at phone width is clipped to a pixel, read by screen readers only).
const overflowing = () =>
  page.evaluate(() =>
    [...document.querySelectorAll("main *")]
      .filter((e) => !e.closest("table.stack thead"))
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
      .slice(0, 8)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`),
  );
const get = async (id) => (await connector.api("GET", `/api/integrations/${id}`)).json;

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 600 }).start();
  aircall.addKey(API_ID, API_TOKEN);
  aircall.addNumbers(API_ID, [
    { id: 789, name: "Sales FR", digits: "+33 1 76 36 06 95" },
    { id: 790, name: "Support UK", digits: "+44 330 818 6690", country: "GB" },
    { id: 791, name: "Main US", digits: "+1 415-555-0100", country: "US" },
  ]);
  hubspot = await new FakeHubSpot({ tokens: [HUBSPOT_TOKEN] }).start();
  connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "600", HUBSPOT_API_BASE: hubspot.url } });
  base = new URL(connector.url).origin;
  browser = await openBrowser(base);
  ({ page, external, problems, shot } = browser);
  await page.goto(`${base}/`);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "My integrations" }).waitFor();
});

after(async () => {
  await browser?.close();
  await connector?.dispose();
  await hubspot?.close();
  await aircall?.stop();
});

// Fills the new-integration form's common part and creates it; answers the created notice.
async function create(name, fillDestination) {
  await page.goto(`${base}/#/new`);
  await page.getByRole("heading", { name: "New integration" }).waitFor();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("API ID").fill(API_ID);
  await page.getByLabel("API token").fill(API_TOKEN);
  await fillDestination();
  await page.getByRole("button", { name: "Create integration" }).click();
  const created = page.getByRole("status").filter({ hasText: `Created “${name}”` });
  await created.waitFor();
  const href = await created.getByRole("link", { name: `Open ${name}` }).getAttribute("href");
  ids[name] = href.split("/").pop();
  return created;
}

test("each destination type is created through its form; events are picked from the grouped checklist with the type's defaults marked", async () => {
  await page.goto(`${base}/#/new`);
  const events = page.getByRole("group", { name: "Events" });
  await events.waitFor();
  const groups = await events.locator("fieldset.event-group:not([hidden]) > legend").allTextContents();
  assert.deepEqual(groups, ["Calls", "Users", "Contacts", "Numbers", "Messages (SMS, WhatsApp)", "AI (Aircall AI package)"]);
  // A webhook forwards every event by default: all marked and shown checked, not editable.
  assert.equal(await events.getByRole("radio", { name: "The destination's default events" }).isChecked(), true);
  assert.equal(await events.getByRole("checkbox", { name: "message.sent" }).isChecked(), true);
  assert.equal(await events.getByRole("checkbox", { name: "message.sent" }).isDisabled(), true);
  await events.getByText("every event by default, also those Aircall adds later").waitFor();

  // Segment's defaults are its 31 events (the 26 it always took and the 5 AI events): message.sent is not among them.
  await page.getByLabel("Type", { exact: true }).selectOption({ label: "Segment" });
  await events.getByText("the 31 events marked “default”").waitFor();
  assert.equal(await events.locator(".badge.default:visible").count(), 31);
  assert.equal(await events.getByRole("checkbox", { name: "message.sent" }).isChecked(), false);
  assert.equal(await events.getByRole("checkbox", { name: "call.ended" }).isChecked(), true);

  // Choosing starts from the defaults; the filter box narrows the list.
  await events.getByRole("radio", { name: "Only the events checked below" }).check();
  await events.getByLabel("Filter events").fill("message");
  const visible = await events.locator("li[data-event]:visible").evaluateAll((items) => items.map((li) => li.dataset.event));
  assert.deepEqual(visible, ["message.sent", "message.received", "message.status_updated"]);
  assert.deepEqual(await events.locator("fieldset.event-group:visible > legend").allTextContents(), ["Messages (SMS, WhatsApp)"]);
  await events.getByRole("checkbox", { name: "message.sent" }).check();
  await events.getByLabel("Filter events").fill("call.");
  for (const name of ["call.hold", "call.unhold"]) await events.getByRole("checkbox", { name }).check();
  await events.getByRole("checkbox", { name: "call.ringing_on_agent" }).uncheck();
  await events.getByLabel("Filter events").fill("");
  // A name the catalogue does not list (a v1 user event) can still be added.
  await events.getByLabel("Other event").fill("user.created");
  await events.getByRole("button", { name: "Add event" }).click();
  assert.equal(await events.getByRole("checkbox", { name: "user.created", exact: true }).isChecked(), true);
  await shot("20-new-segment-events");

  await page.getByLabel("Name").fill("Segment EU");
  await page.getByLabel("API ID").fill(API_ID);
  await page.getByLabel("API token").fill(API_TOKEN);
  await page.getByLabel("Segment Write key").fill("segment-write-key-forms");
  await page.getByLabel("Segment Region").selectOption("eu");
  await page.getByRole("button", { name: "Create integration" }).click();
  const created = page.getByRole("status").filter({ hasText: "Created “Segment EU”" });
  await created.waitFor();
  ids["Segment EU"] = (await created.getByRole("link", { name: "Open Segment EU" }).getAttribute("href")).split("/").pop();
  const segment = await get(ids["Segment EU"]);
  assert.deepEqual(segment.destination, { type: "segment", region: "eu" });
  const expected = (await connector.api("GET", "/api/events")).json.defaults.segment.filter((e) => e !== "call.ringing_on_agent");
  assert.deepEqual([...segment.events].sort(), [...expected, "message.sent", "call.hold", "call.unhold", "user.created"].sort());
  assert.deepEqual(aircall.webhooksOf(API_ID).at(-1).events.sort(), [...segment.events].sort(), "Aircall sends exactly these");

  const webhook = await create("Receiver", async () => {
    await page.getByLabel("Type", { exact: true }).selectOption({ label: "Signed webhook" });
    await page.getByLabel("Webhook URL").fill("https://hooks.example.com/aircall");
  });
  assert.match(await webhook.locator(".secret").textContent(), /^whsec_/, "the signing secret, shown once");
  assert.equal((await get(ids.Receiver)).events, null, "the defaults: every event");

  await create("Support CRM", async () => {
    await page.getByLabel("Type", { exact: true }).selectOption({ label: "HubSpot" });
    await page.getByLabel("HubSpot Access token").fill(HUBSPOT_TOKEN);
  });
  assert.deepEqual((await get(ids["Support CRM"])).destination, { type: "hubspot" });
});

test("numbers are picked from the account's Aircall numbers, or typed as a fallback", async () => {
  await page.goto(`${base}/#/integrations/${ids.Receiver}`);
  const numbers = page.getByRole("group", { name: "Aircall numbers" });
  await numbers.waitFor();
  assert.equal(await numbers.getByRole("radio", { name: "Every number" }).isChecked(), true);
  await numbers.getByRole("radio", { name: "Only the numbers chosen" }).check();
  const list = numbers.getByRole("list", { name: "The account's numbers" });
  await list.waitFor();
  assert.deepEqual(await list.locator("label").allTextContents(), ["Sales FR · +33 1 76 36 06 95 (FR)", "Support UK · +44 330 818 6690 (GB)", "Main US · +1 415-555-0100 (US)"]);
  await numbers.getByRole("checkbox", { name: "Support UK" }).check();
  // Typed: a number of the account is picked as that number; another is kept as typed.
  await numbers.getByLabel("Add a phone number").fill("+1 (415) 555-0100");
  await numbers.getByRole("button", { name: "Add number" }).click();
  assert.equal(await numbers.getByRole("checkbox", { name: "Main US" }).isChecked(), true);
  await numbers.getByLabel("Add a phone number").fill("call me maybe");
  await numbers.getByRole("button", { name: "Add number" }).click();
  await numbers.getByText("“call me maybe” is not a phone number").waitFor();
  assert.equal(await numbers.getByLabel("Add a phone number").getAttribute("aria-invalid"), "true");
  await numbers.getByLabel("Add a phone number").fill("+49 30 901820");
  await numbers.getByLabel("Add a phone number").press("Enter");
  await numbers.getByRole("list", { name: "Phone numbers added" }).getByText("+49 30 901820").waitFor();
  await shot("21-numbers-picker");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").getByText("Saved.", { exact: true }).waitFor();
  assert.deepEqual((await get(ids.Receiver)).numbers, [790, 791, "+4930901820"]);

  // Read once, then from the cache: reopening the page asks Aircall nothing.
  const asked = aircall.requests.filter((r) => r.path === "/v1/numbers").length;
  await page.reload();
  await page.getByRole("group", { name: "Aircall numbers" }).getByRole("checkbox", { name: "Support UK" }).waitFor();
  assert.equal(await page.getByRole("checkbox", { name: "Support UK" }).isChecked(), true);
  assert.equal(aircall.requests.filter((r) => r.path === "/v1/numbers").length, asked);
});

test("import rules are fields with units, a switch and e-mail chips; errors land next to their field", async () => {
  const rules = page.getByRole("group", { name: "Import rules" });
  assert.equal(await rules.getByLabel("Import window").inputValue(), "14");
  assert.equal(await rules.getByLabel("Largest recording").inputValue(), "200");
  await rules.getByLabel("Import window").fill("0");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#f-import-window_days-errors .field-error").waitFor();
  assert.equal(await rules.getByLabel("Import window").getAttribute("aria-invalid"), "true");
  await shot("22-import-rules-error");

  await rules.getByLabel("Import window").fill("30");
  await rules.getByLabel("Largest recording").fill("50");
  await rules.getByLabel("Wait for a late recording").fill("6");
  const required = rules.getByRole("switch", { name: "Recording required" });
  assert.equal(await required.isChecked(), true);
  await required.uncheck();
  const ai = rules.getByRole("switch", { name: "Bring the Aircall AI data a call already has" });
  assert.equal(await ai.isChecked(), false, "import.ai is off by default");
  await ai.check();
  const users = rules.getByRole("group", { name: "Users whose calls are imported" });
  await users.getByRole("radio", { name: "Only these users" }).check();
  await users.getByLabel("Add a user's e-mail").fill("not an address");
  await users.getByRole("button", { name: "Add user" }).click();
  await users.getByText("“not an address” is not an e-mail address.").waitFor();
  for (const address of ["Madeline@example.com", "paul@example.com"]) {
    await users.getByLabel("Add a user's e-mail").fill(address);
    await users.getByLabel("Add a user's e-mail").press("Enter");
  }
  await users.getByRole("button", { name: "Remove paul@example.com" }).click();
  assert.deepEqual(await users.locator(".chip").evaluateAll((chips) => chips.map((c) => c.firstChild.textContent)), ["Madeline@example.com"]);
  assert.equal(await users.getByRole("radio", { name: "Users from the CRM" }).count(), 0, "a webhook has no CRM");
  await shot("23-import-rules");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").getByText("Saved.", { exact: true }).waitFor();
  const saved = (await get(ids.Receiver)).import;
  assert.deepEqual(
    { ...saved },
    { ...saved, window_days: 30, max_recording_bytes: 50 * MB, recording_grace_hours: 6, recording_required: false, ai: "when_available", users: ["Madeline@example.com"], users_from: "list" },
  );
  assert.equal(saved.initial_limit, 200, "untouched rules keep their value");
});

test("contact sync: a filter and a mapping are built, an incompatible pair is refused before saving", async () => {
  await page.goto(`${base}/#/integrations/${ids["Support CRM"]}`);
  const sync = page.locator("fieldset.contact-sync");
  await sync.waitFor();
  const on = sync.getByRole("switch", { name: "Contact sync" });
  assert.equal(await on.isChecked(), false);
  await on.check();
  await sync.getByRole("radio", { name: "Both ways" }).check();

  await sync.getByRole("button", { name: "Add a HubSpot condition" }).click();
  const condition = sync.getByRole("group", { name: "Condition 1" });
  await condition.getByLabel("Field").fill("lifecyclestage");
  await condition.getByLabel("Operator").selectOption("equals");
  await condition.getByLabel("Value").fill("customer");
  await sync.getByRole("button", { name: "Add an Aircall condition" }).click();
  const second = sync.getByRole("group", { name: "Condition 2" });
  await second.getByLabel("Field").selectOption("phone_numbers");
  await second.getByLabel("Operator").selectOption("is_set");
  assert.equal(await second.getByLabel("Value").isVisible(), false, "is set takes no value");

  await sync.getByRole("button", { name: "Add a mapping" }).click();
  const row = sync.locator("tr[data-mapping='0']");
  await row.getByLabel("Mapping 1: Aircall field").selectOption("emails");
  await row.getByLabel("Mapping 1: HubSpot field").selectOption("phone");
  // Refused from the server's rules, before anything is saved...
  await row.getByText("Refused: Aircall emails (e-mail list) cannot be mapped to HubSpot phone (phone number).").waitFor();
  // ...and the server's check says so on the row, as a save would.
  await sync.getByText("This contact sync setting would be refused").waitFor();
  await row.locator(".field-error").getByText("Aircall emails (e-mail list) cannot be mapped to HubSpot phone (phone number)").waitFor();
  await shot("24-contact-sync-refused");
  assert.equal((await get(ids["Support CRM"])).contact_sync, null, "nothing was saved");

  // A one-way pair is offered its possible direction.
  await row.getByLabel("Mapping 1: Aircall field").selectOption("information");
  await row.getByLabel("Mapping 1: HubSpot field").selectOption("lifecyclestage");
  await row.getByText(/^Refused: Aircall information \(text\) and HubSpot lifecyclestage \(enumeration\) can only be mapped in direction to_aircall/).waitFor();
  await row.getByLabel("Mapping 1: direction").selectOption("to_aircall");
  await row.getByText(/^Compatible ← to Aircall only/).waitFor();
  await row.getByLabel("Mapping 1: HubSpot field").selectOption("jobtitle");
  await row.getByLabel("Mapping 1: direction").selectOption("both");
  await row.getByText("Compatible both ways: text and text.").waitFor();
  await sync.getByText("Checked: this contact sync setting can be saved.").waitFor();

  await sync.getByLabel("Default country").selectOption("FR");
  assert.match(await sync.getByLabel("Default country").locator("option:checked").textContent(), /^France \(FR\)$/);
  await shot("25-contact-sync");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").getByText("Saved.", { exact: true }).waitFor();
  assert.deepEqual((await get(ids["Support CRM"])).contact_sync, {
    direction: "both",
    filters: [
      { app: "hubspot", field: "lifecyclestage", op: "equals", value: "customer" },
      { app: "aircall", field: "phone_numbers", op: "is_set", value: null },
    ],
    mappings: [{ aircall: "information", hubspot: "jobtitle", direction: "both" }],
    phone: { normalize: true, default_country: "FR" },
  });
  // The saved setting reads back into the form.
  const again = page.locator("fieldset.contact-sync");
  assert.equal(await again.getByRole("switch", { name: "Contact sync" }).isChecked(), true);
  assert.equal(await again.locator("tr[data-mapping='0']").getByLabel("Mapping 1: HubSpot field").inputValue(), "jobtitle");
  assert.equal(await page.getByRole("group", { name: "Users whose calls are imported" }).getByRole("radio", { name: "Users from the CRM" }).count(), 1, "a CRM offers its users");
});

test("at phone width the forms fit; the pages made no request elsewhere and logged no error", async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto(`${base}/#/integrations/${ids["Support CRM"]}`);
  await page.locator("fieldset.contact-sync").waitFor();
  await page.locator("fieldset.contact-sync tr[data-mapping='0']").waitFor();
  assert.deepEqual(await overflowing(), [], "nothing reaches past 375 px");
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 375);
  await shot("26-phone-settings");
  await page.goto(`${base}/#/new`);
  await page.getByRole("group", { name: "Events" }).waitFor();
  assert.deepEqual(await overflowing(), [], "nothing reaches past 375 px");
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 375);
  await shot("27-phone-new");
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(external, []);
  assert.deepEqual(problems, []);
});

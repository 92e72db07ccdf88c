// The admin dashboard: a small single-page app over the admin API (/api/...). No framework,
// no external request. The admin token stays in this tab's sessionStorage and leaves it only
// as an `Authorization: Bearer` header (and in the body of the "Connect with Aircall" form).
"use strict";

const TOKEN_KEY = "aircall-connector/admin-token";
const SVG = "http://www.w3.org/2000/svg";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const announcer = document.getElementById("announce");

const SKIP_REASONS = {
  too_old: ["older than the import window", "#8250df"],
  no_user_match: ["its user is not in the import's user list", "#9a6700"],
  no_recording: ["it has no recording", "#cf222e"],
  recording_too_large: ["its recording is over the size limit", "#0969da"],
};
const IMPORTED_COLOUR = "#1a7f37";
const SETTING_LABELS = { import: "Import rules", contact_sync: "Contact sync" };
const CHANGES = {
  created: "Created",
  deactivated: "Deactivated",
  activated: "Activated",
  credentials_changed: "Credentials changed",
  settings_changed: "Settings changed",
  webhook_registered: "Aircall webhook registered again",
  deletion_started: "Deletion started",
};

let generation = 0; // the render in progress; older ones drop their answers
let lastPage = "";
let flash = null; // a notice carried to the next page
let destinationTypes = null; // the server's catalogue of destinations (GET /api/destinations)
let catalogueLoad = null; // its request, made once after sign-in

// ---- DOM helpers ---------------------------------------------------------------------------

function build(make, tag, attrs, children) {
  const node = make(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "checked" || name === "value") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
const h = (tag, attrs, ...children) => build((t) => document.createElement(t), tag, attrs, children);
const s = (tag, attrs, ...children) => build((t) => document.createElementNS(SVG, t), tag, attrs, children);

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso }, date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
}
const reasonText = (reason) => (SKIP_REASONS[reason] ? SKIP_REASONS[reason][0] : reason.replaceAll("_", " "));
const reasonName = (reason) => reason.replaceAll("_", " ");
const humanize = (key) => SETTING_LABELS[key] || key.charAt(0).toUpperCase() + key.slice(1).replaceAll("_", " ");
const announce = (text) => {
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = text), 50);
};

function notice(text, kind) {
  return h("div", { class: `notice ${kind || ""}`, role: kind === "bad" ? "alert" : "status" }, text);
}

// ---- API -----------------------------------------------------------------------------------

const token = () => sessionStorage.getItem(TOKEN_KEY);
class SignedOut extends Error {}

async function api(method, path, body, bearer = token()) {
  const headers = { authorization: `Bearer ${bearer}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    return { status: 0, json: null, error: { message: "The connector could not be reached: check the connection and try again." } };
  }
  let json = null;
  try {
    json = await response.json();
  } catch {}
  const error = response.ok ? null : json?.error || { message: `The connector answered HTTP ${response.status}.` };
  if (response.status === 401 && bearer === token() && token()) {
    signOut("The admin token was refused: sign in again.");
    throw new SignedOut();
  }
  return { status: response.status, json, error };
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  destinationTypes = catalogueLoad = formCataloguesLoad = null;
  flash = message ? { text: message, kind: "bad" } : null;
  if (location.hash !== "#/") location.hash = "#/";
  else route();
}

// ---- Forms and field errors ----------------------------------------------------------------

// A labelled control with a place for its errors. `key` is the API's field name.
function field(form, key, label, control, hint) {
  const id = `f-${key.replaceAll(".", "-")}`;
  control.id = id;
  control.name = key;
  const errors = h("div", { id: `${id}-errors`, class: "field-errors" });
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintNode && hintNode.id, errors.id].filter(Boolean).join(" "));
  form.fields.set(key, { control, errors });
  return h("div", { class: "field" }, h("label", { for: id }, label), hintNode, control, errors);
}

function newForm(attrs, onsubmit) {
  const form = h("form", { novalidate: true, ...attrs });
  form.fields = new Map();
  form.problem = h("div", { class: "form-problem" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      clearErrors(form);
      await onsubmit();
    } catch (e) {
      if (!(e instanceof SignedOut)) throw e;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function clearErrors(form) {
  form.problem.replaceChildren();
  for (const { control, errors } of form.fields.values()) {
    errors.replaceChildren();
    control.removeAttribute("aria-invalid");
  }
}

// Puts each `{field, message}` next to its control: `import.window_days` and `numbers[2]` go
// to the `import` and `numbers` controls; what has no control goes above the button.
function showErrors(form, error) {
  const list = error.fields || [];
  const unplaced = [];
  let first = null;
  for (const { field: name, message } of list) {
    let key = name;
    while (key && !form.fields.has(key)) key = parentField(key);
    const target = form.fields.get(key);
    if (!target) {
      unplaced.push(`${name}: ${message}`);
      continue;
    }
    target.errors.append(h("p", { class: "field-error" }, name === key ? message : `${name}: ${message}`));
    target.control.setAttribute("aria-invalid", "true");
    first = first || target.control;
  }
  const message = error.code === "invalid_fields" && !unplaced.length ? "Some fields are invalid: see the messages next to them." : error.message;
  form.problem.append(h("p", { class: "error", role: "alert" }, [message, ...unplaced].join(" · ")));
  (first || form.problem).focus?.();
}

// `import.users[2]` -> `import.users` -> `import` -> "".
const parentField = (key) => {
  const parent = key.replace(/(\[\d+\]|\.[^.[\]]+)$/, "");
  return parent === key ? "" : parent;
};
const lines = (text) => text.split(/[\n,]/).map((l) => l.trim()).filter(Boolean);

// ---- Pages ---------------------------------------------------------------------------------

function page(key, title, ...nodes) {
  const heading = h("h1", { tabindex: "-1" }, title);
  document.title = `${title} · Aircall connector`;
  const shown = flash ? notice(flash.text, flash.kind) : null;
  flash = null;
  main.replaceChildren(...[heading, shown, ...nodes.flat()].filter(Boolean));
  if (key !== lastPage) heading.focus();
  lastPage = key;
  return heading;
}

function renderSignIn() {
  nav.hidden = true;
  const input = h("input", { type: "password", autocomplete: "current-password", required: true, spellcheck: "false" });
  const form = newForm({ class: "card", "aria-label": "Sign in" }, async () => {
    const candidate = input.value.trim();
    if (!candidate) return showErrors(form, { message: "Enter the admin token.", fields: [{ field: "token", message: "is required" }] });
    const r = await api("GET", "/api/integrations", undefined, candidate);
    if (r.status === 401) {
      return showErrors(form, { message: "This admin token was refused. Check it and try again.", fields: [{ field: "token", message: "was refused" }] });
    }
    if (r.error) return showErrors(form, r.error);
    sessionStorage.setItem(TOKEN_KEY, candidate);
    input.value = "";
    lastPage = "";
    route();
  });
  form.append(
    field(form, "token", "Admin token", input, "The deployment's ADMIN_TOKEN. It is kept in this browser tab only, until you sign out or close it."),
    form.problem,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
  );
  page("sign-in", "Sign in", form);
}

function statusOf(i) {
  if (i.status === "active") return { text: "Active", cls: "active" };
  if (i.deactivated_by === "system") return { text: "Inactive (by the system)", cls: "system", reason: i.deactivation_reason };
  if (i.deactivation_cause === "awaiting_destination") return { text: "Inactive (awaiting a destination)", cls: "inactive" };
  return { text: "Inactive (by an admin)", cls: "inactive", reason: i.deactivation_reason };
}

// A destination by its catalogue name; the values of its choices tell two of one type apart
// ("Segment (EU)").
function destinationText(d) {
  if (!d) return "None yet";
  const type = typeOf(d.type);
  if (!type) return d.type;
  const chosen = type.fields.filter((f) => f.kind.type === "choice" && d[f.name]).map((f) => String(d[f.name]).toUpperCase());
  return chosen.length ? `${type.name} (${chosen.join(", ")})` : type.name;
}

function lastImport(run) {
  if (!run) return "Never";
  const counts = `${run.imported} imported, ${run.skipped} skipped` + (run.pending ? `, ${run.pending} pending` : "");
  return h("span", {}, when(run.started_at), h("br"), counts, run.error ? h("span", { class: "error" }, ` · ${run.error}`) : null);
}

async function renderList(inactiveOnly) {
  nav.hidden = false;
  const gen = ++generation;
  const r = await api("GET", `/api/integrations?summary=true${inactiveOnly ? "&status=inactive" : ""}`);
  if (gen !== generation) return;
  const filter = h(
    "label",
    { class: "inline" },
    h("input", { type: "checkbox", id: "inactive-only", checked: inactiveOnly, onchange: (e) => (location.hash = e.target.checked ? "#/inactive" : "#/") }),
    "Inactive",
  );
  const toolbar = h("div", { class: "toolbar" }, filter, h("a", { href: "#/new" }, "New integration"));
  if (r.error) return page("list", "My integrations", toolbar, notice(r.error.message, "bad"));
  const integrations = r.json.integrations.sort((a, b) => a.name.localeCompare(b.name));
  if (!integrations.length) {
    const empty = inactiveOnly ? "No integration is inactive." : "No integration yet: create one, or connect an Aircall account.";
    return page("list", "My integrations", toolbar, h("p", {}, empty));
  }
  const rows = integrations.map((i) => {
    const st = statusOf(i);
    const failed = i.summary.failed_deliveries;
    return h(
      "tr",
      { "data-id": i.id },
      h("td", { "data-label": "Name" }, h("a", { href: `#/integrations/${i.id}` }, i.name)),
      h("td", { "data-label": "Destination" }, destinationText(i.destination)),
      h("td", { "data-label": "Status" }, h("span", { class: `badge ${st.cls}` }, st.text), st.reason ? h("div", { class: "hint" }, st.reason) : null),
      h("td", { "data-label": "Last import" }, lastImport(i.summary.last_run)),
      h("td", { "data-label": "Failed deliveries", class: "num" }, failed ? h("a", { class: "count-bad", href: `#/integrations/${i.id}/deliveries` }, String(failed)) : "0"),
    );
  });
  const table = h(
    "table",
    { class: "stack", "aria-label": inactiveOnly ? "Inactive integrations" : "Integrations" },
    headerRow(["Name", "Destination", "Status", "Last import", "Failed deliveries"], ["Failed deliveries"]),
    h("tbody", {}, rows),
  );
  page("list", "My integrations", toolbar, h("div", { class: "card" }, table));
}

function renderNew(created) {
  nav.hidden = false;
  generation++;
  const form = newForm({ class: "card", "aria-label": "New integration" }, async () => {
    const v = (key) => form.fields.get(key).control.value.trim();
    const body = {
      name: v("name"),
      aircall: { api_id: v("aircall.api_id"), api_token: v("aircall.api_token") },
      destination: destination.value(),
    };
    if (events.value()) body.events = events.value();
    if (numbers.value()) body.numbers = numbers.value();
    const r = await api("POST", "/api/integrations", body);
    if (r.error) return showErrors(form, r.error);
    const i = r.json;
    // A fresh form under the answer, which holds the secret until the page is left.
    renderNew(
      h(
        "div",
        { class: "notice ok", role: "status", tabindex: "-1" },
        h("p", {}, `Created “${i.name}”. Aircall now sends its events to the connector.`),
        i.destination?.secret
          ? h("p", {}, "Signing secret, shown this once (your receiver verifies our signatures with it): ", h("span", { class: "secret" }, i.destination.secret))
          : null,
        h("p", {}, h("a", { href: `#/integrations/${i.id}` }, `Open ${i.name}`), " · ", h("a", { href: "#/" }, "My integrations")),
      ),
    );
  });
  const destination = destinationFieldset(form, null);
  const typeNow = () => form.fields.get("destination.type")?.control.value;
  const events = eventsPart(form, null, typeNow);
  const numbers = numbersPart(form, null, null);
  form.fields.get("destination.type")?.control.addEventListener("change", () => events.refresh?.());
  form.append(
    field(form, "name", "Name", h("input", { type: "text", autocomplete: "off" })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Aircall API key"),
      field(form, "aircall.api_id", "API ID", h("input", { type: "text", autocomplete: "off" })),
      field(form, "aircall.api_token", "API token", h("input", { type: "password", autocomplete: "off" }), "Checked with Aircall before anything is created; stored encrypted, never shown again."),
    ),
    destination.node,
    events.node,
    numbers.node,
    form.problem,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create integration")),
  );
  page("new", "New integration", created, form);
  created?.focus();
}

// ---- Destinations, as the server's catalogue describes them ----------------------------------

function loadCatalogue() {
  catalogueLoad ??= api("GET", "/api/destinations").then(
    (r) => {
      if (r.error) catalogueLoad = null; // asked again by the next page
      else destinationTypes = r.json.destinations;
    },
    (e) => {
      catalogueLoad = null;
      throw e;
    },
  );
  return catalogueLoad;
}
const typeOf = (kind) => destinationTypes?.find((t) => t.type === kind);

// The "Destination" fieldset: a type, then the chosen type's fields, named as the server names
// their errors (`destination.url`). Only the chosen type's fields are in the form (two types may
// have a field of one name); each type's stay built, with what was typed, while another shows.
// `current`: the integration's destination, whose fields are filled in, but never its secret.
function destinationFieldset(form, current) {
  if (!destinationTypes) {
    return { node: notice("The destination types could not be loaded: reload the page to set a destination.", "bad"), value: () => undefined, changed: () => false, reset() {} };
  }
  const select = h("select", {}, destinationTypes.map((t) => h("option", { value: t.type, selected: t.type === current?.type }, t.name)));
  const slot = h("div");
  let built = new Map(); // type -> its fields' node and form entries
  const keys = (type) => type.fields.map((f) => `destination.${f.name}`);
  const show = () => {
    for (const t of destinationTypes) for (const key of keys(t)) form.fields.delete(key);
    const type = typeOf(select.value);
    if (!built.has(type.type)) {
      const node = h("div", {}, type.fields.map((f) => destinationField(form, type, f, current?.type === type.type ? current : null)));
      built.set(type.type, { node, entries: keys(type).map((key) => [key, form.fields.get(key)]) });
    }
    const { node, entries } = built.get(type.type);
    for (const [key, entry] of entries) form.fields.set(key, entry);
    slot.replaceChildren(node);
  };
  select.addEventListener("change", show);
  show();
  const value = () => {
    const type = typeOf(select.value);
    const given = type.fields.map((f) => [f, form.fields.get(`destination.${f.name}`).control.value.trim()]).filter(([, v]) => v);
    return { type: type.type, ...Object.fromEntries(given.map(([f, v]) => [f.name, v])) };
  };
  return {
    node: h("fieldset", {}, h("legend", {}, "Destination"), field(form, "destination.type", "Type", select), slot),
    value,
    // Whether to send it: another type; or, for the same type, a new secret or another value.
    changed() {
      const given = value();
      if (!current) return Object.keys(given).length > 1;
      if (given.type !== current.type) return true;
      return typeOf(given.type).fields.some((f) => (f.secret ? Boolean(given[f.name]) : (given[f.name] ?? "") !== String(current[f.name] ?? "")));
    },
    reset() {
      select.selectedIndex = 0;
      built = new Map();
      show();
    },
  };
}

// One field of a destination type. Its label is read with the type's name ("HubSpot Access
// token"); a secret is a password field, write-only: kept when left empty on an integration of
// this type.
function destinationField(form, type, f, current) {
  const kind = f.kind.type;
  const control =
    kind === "choice"
      ? h("select", {}, current ? null : h("option", { value: "" }, "Choose…"), f.kind.choices.map(([value, label]) => h("option", { value }, label)))
      : h("input", { type: f.secret ? "password" : kind === "url" ? "url" : "text", autocomplete: "off", spellcheck: "false" });
  if (current && !f.secret) control.value = current[f.name] ?? "";
  // An optional secret's help says what leaving it empty does on creation; here it keeps it.
  const keep = "Leave empty to keep the current one.";
  const hint = current && f.secret ? (f.required ? `${f.help} ${keep}` : keep) : f.help;
  const label = [h("span", { class: "visually-hidden" }, `${type.name} `), f.label, f.required ? "" : " (optional)"];
  return field(form, `destination.${f.name}`, label, control, hint.trim() || null);
}

// ---- An integration's page ------------------------------------------------------------------

async function renderIntegration(id, part) {
  nav.hidden = false;
  const gen = ++generation;
  const [r, runs, letters] = await Promise.all([
    api("GET", `/api/integrations/${id}`),
    api("GET", `/api/integrations/${id}/runs`),
    api("GET", `/api/integrations/${id}/deliveries?status=failed`),
  ]);
  if (gen !== generation) return;
  if (r.error) return page(`i/${id}`, "Integration", notice(r.error.message, "bad"), h("p", {}, h("a", { href: "#/" }, "Back to my integrations")));
  const i = r.json;
  const st = statusOf(i);
  const runsSection = h("section", { id: "runs", "aria-labelledby": "runs-title" });
  const reloadRuns = async () => {
    const again = await api("GET", `/api/integrations/${id}/runs`);
    fillRuns(runsSection, again);
    return again;
  };
  fillRuns(runsSection, runs);
  const heading = page(
    `i/${id}`,
    i.name,
    h("p", {}, h("span", { class: `badge ${st.cls}` }, st.text), " ", h("a", { href: `#/integrations/${id}/events` }, "Event log"), " ", h("a", { href: "#/" }, "Back to my integrations")),
    statusCard(i, reloadRuns),
    aiSection(i),
    settingsSection(i),
    runsSection,
    deliveriesSection(i, letters),
    historySection(i),
  );
  if (part) {
    const target = document.getElementById(part);
    const title = target?.querySelector("h2");
    if (title) {
      title.setAttribute("tabindex", "-1");
      title.focus();
      target.scrollIntoView();
    }
  }
  return heading;
}

function statusCard(i, reloadRuns) {
  const active = i.status === "active";
  const message = h("div", { "aria-live": "polite" });
  const sw = h(
    "button",
    { type: "button", role: "switch", class: "switch", "aria-checked": String(active), id: "active-switch" },
    h("span", { class: "track", "aria-hidden": "true" }),
    "Active",
  );
  sw.addEventListener("click", async () => {
    sw.disabled = true;
    message.replaceChildren();
    try {
      const r = await api("POST", `/api/integrations/${i.id}/${active ? "deactivate" : "activate"}`);
      if (r.error) {
        message.append(notice(`${active ? "Not deactivated" : "Not reactivated"}: ${r.error.message}`, "bad"));
        return;
      }
      flash = { text: r.json.notice, kind: "ok" };
      await renderIntegration(i.id);
      document.getElementById("active-switch")?.focus();
    } catch (e) {
      if (!(e instanceof SignedOut)) throw e;
    } finally {
      sw.disabled = false;
    }
  });
  const why = [];
  if (!active) {
    why.push(h("p", {}, `Deactivated by ${i.deactivated_by === "system" ? "the system" : i.deactivated_by === "oauth" ? "the OAuth install" : "an admin"} `, when(i.deactivated_at), i.deactivation_reason ? `: ${i.deactivation_reason}` : "."));
    if (i.deactivated_by === "system") why.push(h("p", { class: "hint" }, "Find the cause (e.g. give new Aircall credentials), then switch it on: the connector checks the credentials with Aircall first."));
    if (i.dropped_while_inactive) why.push(h("p", { class: "hint" }, `${i.dropped_while_inactive} webhook event(s) received while inactive were not forwarded.`));
  }
  const syncButton = h("button", { type: "button", class: "secondary" }, "Sync now");
  syncButton.addEventListener("click", async () => {
    syncButton.disabled = true;
    message.replaceChildren();
    try {
      const r = await api("POST", `/api/integrations/${i.id}/sync`);
      if (r.error) return message.append(notice(`Not synced: ${r.error.message}`, "bad"));
      const run = r.json;
      message.append(notice(r.status === 202 ? `The import goes on in the queue: ${run.seen} calls seen so far.` : `Import done: ${run.seen} calls seen, ${run.queued} to import, ${run.skipped} skipped.`, "ok"));
      announce("Sync finished");
      await followRun(reloadRuns);
    } catch (e) {
      if (!(e instanceof SignedOut)) throw e;
    } finally {
      syncButton.disabled = false;
    }
  });
  return h(
    "section",
    { "aria-labelledby": "status-title" },
    h("h2", { id: "status-title" }, "Status"),
    sw,
    why,
    message,
    h("div", { class: "actions" }, syncButton, h("a", { href: `#/integrations/${i.id}/runs` }, "Import runs"), deleteButton(i)),
  );
}

// The newest run's calls finish in their own jobs: refresh until none is pending (30 s at most).
async function followRun(reloadRuns) {
  for (let n = 0; n < 20; n++) {
    const r = await reloadRuns();
    const latest = r.json?.runs?.[0];
    if (!latest || (latest.pending === 0 && latest.status !== "running")) return;
    await new Promise((done) => setTimeout(done, 1500));
  }
}

function deleteButton(i) {
  const dialog = h("dialog", { "aria-labelledby": "delete-title" });
  const problem = h("div");
  const confirm = h("button", { type: "button", class: "danger" }, "Delete for good");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const instead = i.status === "active" ? h("button", { type: "button", class: "secondary" }, "Deactivate instead") : null;
  dialog.append(
    h("h2", { id: "delete-title" }, `Delete “${i.name}”?`),
    h("p", {}, "Deletion removes, and cannot be undone:"),
    h(
      "ul",
      {},
      h("li", {}, "its settings, Aircall credentials and destination secret;"),
      h("li", {}, "its Aircall webhook, import cursor and run reports;"),
      h("li", {}, "its failed deliveries and archived call recordings;"),
      h("li", {}, "the contacts it synced into Aircall."),
    ),
    h("p", {}, "Calls already delivered to the destination stay there. ", h("strong", {}, "Deactivation would keep all of it"), ": it only stops forwarding and importing, and can be undone at any time."),
    problem,
    h("div", { class: "actions" }, confirm, instead, cancel),
  );
  cancel.addEventListener("click", () => dialog.close());
  instead?.addEventListener("click", () => {
    dialog.close();
    document.getElementById("active-switch").click();
  });
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      const r = await api("DELETE", `/api/integrations/${i.id}`);
      if (r.error) return problem.replaceChildren(notice(r.error.message, "bad"));
      dialog.close();
      flash = { text: `“${i.name}” is deleted. ${r.json.notice}`, kind: "ok" };
      location.hash = "#/";
    } catch (e) {
      if (!(e instanceof SignedOut)) throw e;
    } finally {
      confirm.disabled = false;
    }
  });
  const open = h("button", { type: "button", class: "danger" }, "Delete…");
  open.addEventListener("click", () => dialog.showModal());
  return [open, dialog];
}

// The settings an integration's forms edit (dashboard/forms.js); any other settings object
// the API adds shows as JSON until it has its form.
const FORMED_SETTINGS = ["import", "contact_sync"];

function settingsSection(i) {
  const saved = h("div", { "aria-live": "polite" });
  // `ai` is what Aircall allows (read only), not a setting.
  // `insight_cards` has a fieldset of its own (below), and its counts are read only.
  const objects = Object.keys(i).filter((k) => ![...FORMED_SETTINGS, "aircall", "destination", "ai", "insight_cards", "insight_cards_stats"].includes(k) && i[k] && typeof i[k] === "object" && !Array.isArray(i[k]));
  const initial = {
    name: i.name,
    ...Object.fromEntries(objects.map((k) => [k, JSON.stringify(i[k], null, 2)])),
  };
  const form = newForm({ "aria-labelledby": "settings-title" }, async () => {
    const v = (key) => form.fields.get(key).control.value;
    const body = {};
    if (v("name").trim() !== initial.name) body.name = v("name").trim();
    const bad = [...rules.problems()];
    for (const [key, part] of Object.entries(parts)) if (part?.changed()) body[key] = part.value();
    for (const key of objects) {
      if (v(key).trim() === initial[key].trim()) continue;
      try {
        body[key] = JSON.parse(v(key));
      } catch (e) {
        bad.push({ field: key, message: `is not valid JSON (${e.message})` });
      }
    }
    if (destination.changed()) body.destination = destination.value();
    if (cards.changed()) body.insight_cards = cards.value();
    if (v("aircall.api_id").trim() || v("aircall.api_token").trim()) body.aircall = { api_id: v("aircall.api_id").trim(), api_token: v("aircall.api_token").trim() };
    if (bad.length) return showErrors(form, { code: "invalid_fields", message: "Some fields are invalid.", fields: bad });
    if (!Object.keys(body).length) return saved.replaceChildren(notice("Nothing changed.", ""));
    const r = await api("PATCH", `/api/integrations/${i.id}`, body);
    if (r.error) return showErrors(form, r.error);
    const secret = r.json.destination?.secret;
    flash = { text: secret ? `Saved. New signing secret, shown this once: ${secret}` : "Saved.", kind: "ok" };
    renderIntegration(i.id);
  });
  const destination = destinationFieldset(form, i.destination);
  const cards = insightCardsFieldset(form, i);
  const typeNow = () => form.fields.get("destination.type")?.control.value;
  const crm = typeOf(i.destination?.type)?.crm;
  const rules = importPart(form, i.import, crm);
  const parts = {
    events: eventsPart(form, i.events ?? null, typeNow),
    numbers: numbersPart(form, i.numbers ?? null, i.id),
    import: rules,
    contact_sync: crm || i.contact_sync ? contactSyncPart(form, i.contact_sync ?? null, typeOf(i.destination?.type)?.name || "the CRM") : null,
  };
  form.fields.get("destination.type")?.control.addEventListener("change", () => parts.events.refresh?.());
  form.append(
    field(form, "name", "Name", h("input", { type: "text", value: initial.name, autocomplete: "off" })),
    parts.events.node,
    parts.numbers.node,
    parts.import.node,
    parts.contact_sync?.node,
    ...objects.map((k) => field(form, k, humanize(k), h("textarea", { class: "json", rows: Math.min(24, initial[k].split("\n").length + 1), value: initial[k], spellcheck: "false" }), "JSON; the server checks every field.")),
    destination.node,
    cards.node,
    h(
      "fieldset",
      {},
      h("legend", {}, "New Aircall API key (optional)"),
      h("p", { class: "hint" }, "Leave empty to keep the current credentials; new ones are checked with Aircall before they are saved."),
      field(form, "aircall.api_id", "API ID", h("input", { type: "text", autocomplete: "off" })),
      field(form, "aircall.api_token", "API token", h("input", { type: "password", autocomplete: "off" })),
    ),
    h("dl", { class: "kv" }, h("dt", {}, "Destination"), h("dd", {}, destinationText(i.destination)), h("dt", {}, "Aircall webhook"), h("dd", {}, i.aircall.webhook_url), h("dt", {}, "Created"), h("dd", {}, when(i.created_at))),
    form.problem,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings")),
    saved,
  );
  return h("section", { id: "settings" }, h("h2", { id: "settings-title" }, "General settings"), form);
}

// ---- Insight cards ---------------------------------------------------------------------------

const CARD_BLOCKS = [
  ["contact", "Company, and a link to the CRM record"],
  ["owner", "Owner"],
  ["lifecycle_stage", "Lifecycle stage"],
  ["deals", "Open deals (count, largest)"],
  ["last_activity", "Last logged call"],
];

// The `insight_cards` settings as controls (a CRM destination only): on/off, the blocks shown,
// what an unknown caller gets; with the cards posted and skipped so far.
function insightCardsFieldset(form, i) {
  if (!typeOf(i.destination?.type)?.crm) return { node: null, changed: () => false, value: () => undefined };
  const current = i.insight_cards || { enabled: false, blocks: CARD_BLOCKS.map(([b]) => b), unknown_caller: "none" };
  const enabled = h("input", { type: "checkbox", checked: current.enabled });
  const boxes = CARD_BLOCKS.map(([block, label]) => {
    const box = h("input", { type: "checkbox", id: `f-insight_cards-block-${block}`, value: block, checked: current.blocks.includes(block) });
    return { block, box, node: h("div", { class: "check" }, box, h("label", { for: box.id }, label)) };
  });
  const unknown = h(
    "select",
    {},
    h("option", { value: "none", selected: current.unknown_caller === "none" }, "No card"),
    h("option", { value: "card", selected: current.unknown_caller === "card" }, "A card with a link that creates the contact"),
  );
  // Errors on any block land on the first box (`insight_cards.blocks[1]` climbs to `insight_cards.blocks`).
  const blocksErrors = h("div", { id: "f-insight_cards-blocks-errors", class: "field-errors" });
  form.fields.set("insight_cards.blocks", { control: boxes[0].box, errors: blocksErrors });
  const value = () => ({ enabled: enabled.checked, blocks: boxes.filter((b) => b.box.checked).map((b) => b.block), unknown_caller: unknown.value });
  const stats = i.insight_cards_stats;
  return {
    node: h(
      "fieldset",
      { id: "insight-cards" },
      h("legend", {}, "Insight cards"),
      h("p", { class: "hint" }, "While the phone rings, the caller's CRM record on the agent's screen. Needs call.created among the events."),
      field(form, "insight_cards.enabled", "Show insight cards", enabled),
      h("fieldset", { class: "blocks" }, h("legend", {}, "Blocks"), ...boxes.map((b) => b.node), blocksErrors),
      field(form, "insight_cards.unknown_caller", "Unknown callers", unknown),
      field(form, "insight_cards", "So far", h("output", {}, stats ? `${stats.posted} posted, ${stats.skipped} skipped (budget spent or CRM unavailable: see the log)` : "None posted yet.")),
    ),
    value,
    changed: () => JSON.stringify(value()) !== JSON.stringify({ enabled: current.enabled, blocks: CARD_BLOCKS.map(([b]) => b).filter((b) => current.blocks.includes(b)), unknown_caller: current.unknown_caller }),
  };
}

// ---- Runs and their charts -----------------------------------------------------------------

function fillRuns(section, r) {
  const title = h("h2", { id: "runs-title" }, "Import runs");
  if (r.error) return section.replaceChildren(title, notice(r.error.message, "bad"));
  const runs = r.json.runs;
  const budget = r.json.aircall_requests_per_minute;
  if (!runs.length) return section.replaceChildren(title, h("p", {}, "No import has run yet: “Sync now” runs one."));
  const oldestFirst = [...runs].reverse();
  const reasons = [...new Set(runs.flatMap((run) => Object.keys(run.skipped_by_reason)))].sort();
  const callsChart = h("figure", { class: "card" }, h("figcaption", {}, h("h3", {}, "Calls per run: imported and skipped")), callsSvg(oldestFirst, reasons), legend(reasons));
  const budgetChart = h(
    "figure",
    { class: "card" },
    h("figcaption", {}, h("h3", {}, "Aircall requests per run"), h("p", { class: "hint" }, `The account's rate budget is ${budget} requests a minute, shared by its integrations and other tools.`)),
    requestsSvg(oldestFirst, budget),
  );
  section.replaceChildren(title, h("div", { class: "grid" }, callsChart, budgetChart), whyNotImported(runs), runsTable(runs));
}

function legend(reasons) {
  const item = (colour, text) => h("li", {}, h("span", { class: "key", "data-colour": colour }), text);
  const list = h("ul", { class: "legend" }, item(IMPORTED_COLOUR, "imported"), reasons.map((reason) => item(colourOf(reason), `skipped: ${reasonName(reason)}`)));
  // Colours are set through the DOM (a CSP without 'unsafe-inline' still allows this).
  for (const key of list.querySelectorAll(".key")) key.style.background = key.dataset.colour;
  return list;
}
// A table's header row; the columns named in `numeric` are right-aligned like their cells.
const headerRow = (names, numeric = []) => h("thead", {}, h("tr", {}, names.map((t) => h("th", { scope: "col", class: numeric.includes(t) ? "num" : null }, t))));
const colourOf = (reason) => (SKIP_REASONS[reason] ? SKIP_REASONS[reason][1] : "#57606a");
const shortTime = (iso, withDay) =>
  new Date(iso).toLocaleString(undefined, withDay ? { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" });

// The frame shared by both charts: width from the page, a bar slot per run, x labels.
function chartFrame(runs, label) {
  const width = Math.max(300, Math.min(560, (main.clientWidth || 600) / (main.clientWidth > 700 ? 2 : 1) - 40));
  const height = 190;
  const pad = { left: 30, right: 8, top: 18, bottom: 30 };
  const slot = (width - pad.left - pad.right) / runs.length;
  const bar = Math.min(36, slot * 0.7);
  const days = new Set(runs.map((r) => r.started_at.slice(0, 10))).size > 1;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  svg.append(s("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
  const every = Math.ceil(runs.length / Math.floor((width - pad.left) / 70));
  runs.forEach((run, n) => {
    if (n % every) return;
    const x = pad.left + slot * n + slot / 2;
    svg.append(s("text", { class: "x-label", x, y: height - pad.bottom + 14, "text-anchor": "middle" }, shortTime(run.started_at, days)));
  });
  return { svg, width, height, pad, slot, bar, plot: height - pad.top - pad.bottom };
}

function callsSvg(runs, reasons) {
  const total = (run) => run.imported + run.skipped;
  const latest = runs[runs.length - 1];
  const frame = chartFrame(runs, `Calls imported and skipped per run, oldest first. Latest run: ${latest.imported} imported, ${latest.skipped} skipped.`);
  const { svg, pad, slot, bar, plot, height } = frame;
  const max = Math.max(1, ...runs.map(total));
  const scale = plot / max;
  svg.append(s("text", { x: pad.left - 4, y: pad.top + 4, "text-anchor": "end" }, String(max)), s("text", { x: pad.left - 4, y: height - pad.bottom, "text-anchor": "end" }, "0"));
  runs.forEach((run, n) => {
    const x = pad.left + slot * n + (slot - bar) / 2;
    let y = height - pad.bottom;
    const group = s("g", { class: "run", "data-run": run.run_id });
    const parts = [["imported", run.imported, IMPORTED_COLOUR, "imported"], ...reasons.map((reason) => [`skipped:${reason}`, run.skipped_by_reason[reason] || 0, colourOf(reason), `skipped: ${reasonName(reason)}`])];
    for (const [series, value, colour, text] of parts) {
      if (!value) continue;
      const tall = value * scale;
      y -= tall;
      group.append(s("rect", { x, y, width: bar, height: tall, fill: colour, "data-series": series, "data-value": value }, s("title", {}, `${value} ${text}`)));
      // Each part's count inside it, where it fits.
      if (tall >= 13 && bar >= 14) group.append(s("text", { class: "part", x: x + bar / 2, y: y + tall / 2 + 4, "text-anchor": "middle" }, String(value)));
    }
    group.append(s("text", { class: "total", x: x + bar / 2, y: y - 4, "text-anchor": "middle" }, String(total(run))));
    svg.append(group);
  });
  return svg;
}

// Requests per run, on a scale of the runs' own; the budget is drawn when it falls within it.
function requestsSvg(runs, budget) {
  const frame = chartFrame(runs, `Aircall requests per run; the account's budget is ${budget} a minute.`);
  const { svg, pad, slot, bar, plot, height, width } = frame;
  const most = Math.max(...runs.map((r) => r.aircall_requests));
  const top = Math.max(4, Math.ceil(most * 1.25));
  const scale = plot / Math.max(top, budget <= top * 1.1 ? budget : 0);
  const bottom = height - pad.bottom;
  if (budget * scale <= plot) {
    const y = bottom - budget * scale;
    svg.append(
      s("line", { class: "budget", x1: pad.left, x2: width - pad.right, y1: y, y2: y }),
      s("text", { class: "budget-label", x: width - pad.right, y: y - 4, "text-anchor": "end" }, `budget ${budget}/min`),
    );
  } else {
    svg.append(s("text", { class: "budget-label", x: width - pad.right, y: pad.top - 6, "text-anchor": "end" }, `budget ${budget}/min, above this scale`));
  }
  svg.append(s("text", { x: pad.left - 4, y: pad.top + 4, "text-anchor": "end" }, String(Math.round(plot / scale))), s("text", { x: pad.left - 4, y: bottom, "text-anchor": "end" }, "0"));
  runs.forEach((run, n) => {
    const x = pad.left + slot * n + (slot - bar) / 2;
    const tall = run.aircall_requests * scale;
    svg.append(
      s(
        "g",
        { class: "run", "data-run": run.run_id },
        s("rect", { x, y: bottom - tall, width: bar, height: tall, fill: "#0b5fca", "data-series": "aircall_requests", "data-value": run.aircall_requests }, s("title", {}, `${run.aircall_requests} Aircall requests`)),
        s("text", { class: "total", x: x + bar / 2, y: bottom - tall - 4, "text-anchor": "middle" }, String(run.aircall_requests)),
      ),
    );
  });
  return svg;
}

function whyNotImported(runs) {
  const input = h("input", { type: "search", inputmode: "numeric", id: "why-call", autocomplete: "off" });
  const answer = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card", role: "search" },
    h("label", { for: "why-call" }, "Why was my call not imported? Aircall call id"),
    input,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Look it up")),
    answer,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = Number(input.value.trim());
    const found = [];
    for (const run of runs) {
      for (const skip of run.skips) if (skip.call_id === id) found.push(`skipped by the run of ${new Date(run.started_at).toLocaleString()}: ${reasonText(skip.reason)}.`);
      for (const failure of run.failures || []) if (failure.call_id === id) found.push(`failed in the run of ${new Date(run.started_at).toLocaleString()}: ${failure.error}.`);
    }
    answer.replaceChildren(
      h("p", {}, found.length ? `Call ${id} was ${found.join(" Then ")}` : `Call ${id} is not among the skipped or failed calls of the last ${runs.length} runs (each lists its first 100 skips). If it is recent, the next import brings it.`),
    );
  });
  return form;
}

function runsTable(runs) {
  const head = ["Started", "Trigger", "Status", "Seen", "Imported", "Skipped", "Skip reasons", "Pending", "Aircall requests"];
  const body = runs.flatMap((run) => {
    const reasons = Object.entries(run.skipped_by_reason).map(([reason, n]) => `${reasonName(reason)}: ${n}`).join(", ");
    const row = h(
      "tr",
      { "data-run": run.run_id },
      h("td", { "data-label": "Started" }, when(run.started_at)),
      h("td", { "data-label": "Trigger" }, run.trigger === "admin" ? "sync now" : "schedule"),
      h("td", { "data-label": "Status" }, run.status, run.error ? h("div", { class: "error" }, run.error) : null),
      ...[["Seen", run.seen], ["Imported", run.imported], ["Skipped", run.skipped]].map(([l, v]) => h("td", { "data-label": l, class: "num" }, String(v))),
      h("td", { "data-label": "Skip reasons", class: "reasons" }, reasons || "none"),
      h("td", { "data-label": "Pending", class: "num" }, String(run.pending)),
      h("td", { "data-label": "Aircall requests", class: "num" }, String(run.aircall_requests)),
    );
    if (!run.skips.length && !(run.failures || []).length) return [row];
    const details = h(
      "details",
      {},
      h("summary", {}, `Skipped and failed calls (${run.skipped + (run.failures || []).length})`),
      h(
        "ul",
        {},
        run.skips.map((skip) => h("li", {}, `Call ${skip.call_id} (started `, when(skip.started_at), `): ${reasonText(skip.reason)}`)),
        (run.failures || []).map((f) => h("li", { class: "error" }, `Call ${f.call_id}: ${f.error}`)),
      ),
    );
    return [row, h("tr", { class: "skips" }, h("td", { colspan: head.length, "data-label": "Calls" }, details))];
  });
  return h(
    "div",
    { class: "card scroll" },
    h("table", { class: "stack", "aria-label": "Import runs, newest first" }, headerRow(head, ["Seen", "Imported", "Skipped", "Pending", "Aircall requests"]), h("tbody", {}, body)),
  );
}

// ---- Dead letters and history --------------------------------------------------------------

function deliveriesSection(i, r) {
  const title = h("h2", { id: "deliveries-title" }, "Failed deliveries");
  const section = h("section", { id: "deliveries", "aria-labelledby": "deliveries-title" }, title);
  if (r.error) return section.append(notice(r.error.message, "bad")), section;
  const letters = r.json.deliveries;
  if (!letters.length) return section.append(h("p", {}, "No failed deliveries.")), section;
  const message = h("div", { "aria-live": "polite" });
  const rows = letters.map((d) => {
    const retry = h("button", { type: "button", class: "secondary", "aria-label": `Retry delivery ${d.delivery_id}` }, "Retry");
    const row = h(
      "tr",
      {},
      h("td", { "data-label": "Event" }, d.event, h("div", { class: "hint" }, d.delivery_id)),
      h("td", { "data-label": "Occurred" }, when(d.occurred_at)),
      h("td", { "data-label": "Failed" }, when(d.failed_at)),
      h("td", { "data-label": "Attempts", class: "num" }, String(d.attempts)),
      h("td", { "data-label": "Reason" }, d.reason),
      h("td", { "data-label": "Retry" }, retry),
    );
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        const answer = await api("POST", `/api/integrations/${i.id}/deliveries/${d.delivery_id}/retry`);
        if (answer.error) return message.replaceChildren(notice(answer.error.message, "bad"));
        row.remove();
        message.replaceChildren(notice(`Delivery ${d.delivery_id} is queued again, from its first attempt.`, "ok"));
      } catch (e) {
        if (!(e instanceof SignedOut)) throw e;
      } finally {
        retry.disabled = false;
      }
    });
    return row;
  });
  section.append(
    message,
    h("div", { class: "scroll" }, h("table", { class: "stack", "aria-label": "Failed deliveries, newest first" }, headerRow(["Event", "Occurred", "Failed", "Attempts", "Reason", "Retry"], ["Attempts"]), h("tbody", {}, rows))),
  );
  return section;
}

// ---- Aircall AI data ------------------------------------------------------------------------

const AI_EVENTS = [
  ["transcription.created", "Transcripts"],
  ["summary.created", "Summaries"],
  ["topics.created", "Topics"],
  ["sentiment.created", "Sentiment"],
  ["action_item.created", "Action items"],
];

// Which AI data flows: whether Aircall serves the account's AI data, which AI events the
// integration forwards, and the last one delivered.
function aiSection(i) {
  const ai = i.ai || { available: true };
  const chosen = (event) => !i.events || i.events.includes(event);
  const availability = ai.available
    ? h("p", { id: "ai-availability" }, h("span", { class: "badge active" }, "Available"), " Aircall has not refused this account's AI data.")
    : h(
        "p",
        { id: "ai-availability" },
        h("span", { class: "badge inactive" }, "Not available"),
        " Aircall refuses this account's AI data (no AI package) since ",
        when(ai.since),
        ". Its AI events are acknowledged without asking Aircall until ",
        when(ai.next_check_after),
        ", then tried once more. The integration stays active.",
      );
  const last = ai.last_delivered
    ? [`${ai.last_delivered.event} of call ${ai.last_delivered.call_id}, `, when(ai.last_delivered.delivered_at)]
    : ["None yet"];
  return h(
    "section",
    { id: "ai", "aria-labelledby": "ai-title" },
    h("h2", { id: "ai-title" }, "Aircall AI data"),
    availability,
    h(
      "ul",
      { class: "ai-events" },
      AI_EVENTS.map(([event, label]) => h("li", { "data-event": event, "data-selected": String(chosen(event)) }, `${label} (${event}): ${chosen(event) ? "selected" : "not selected"}`)),
    ),
    h("dl", { class: "kv" }, h("dt", {}, "Last AI event delivered"), h("dd", { id: "ai-last" }, ...last)),
  );
}

function historySection(i) {
  const by = { admin: "an admin", system: "the system", oauth: "the OAuth install" };
  return h(
    "section",
    { id: "history", "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, "History"),
    h("ol", { class: "history", reversed: true }, [...i.history].reverse().map((e) => h("li", {}, when(e.at), ` · ${CHANGES[e.change] || e.change} by ${by[e.by] || e.by}`, e.reason ? `: ${e.reason}` : ""))),
  );
}

// ---- Routing -------------------------------------------------------------------------------

async function route() {
  try {
    if (!token()) return renderSignIn();
    await Promise.all([loadCatalogue(), loadFormCatalogues()]);
    const hash = location.hash || "#/";
    const match = hash.match(/^#\/integrations\/([A-Za-z0-9_-]+)(?:\/(ai|runs|deliveries|history|settings))?$/);
    const events = hash.match(/^#\/integrations\/([A-Za-z0-9_-]+)\/events(?:\/(msg_[A-Za-z0-9]+))?$/);
    if (events) return await renderEventLog(events[1], events[2]); // events.js
    if (hash === "#/new") renderNew();
    else if (match) await renderIntegration(match[1], match[2]);
    else await renderList(hash === "#/inactive");
  } catch (e) {
    if (!(e instanceof SignedOut)) {
      main.append(notice(`Something went wrong: ${e.message}`, "bad"));
      throw e;
    }
  }
}

document.getElementById("sign-out").addEventListener("click", () => signOut(null));
// The install answers Aircall's authorize URL as JSON and sets its cookie (hence credentials);
// the page then goes there itself, because its policy lets forms post to this origin only.
document.getElementById("connect").addEventListener("click", async () => {
  let response = null;
  let json = null;
  try {
    response = await fetch("/oauth/aircall/install", {
      method: "POST",
      headers: { authorization: `Bearer ${token()}`, accept: "application/json" },
      cache: "no-store",
      credentials: "same-origin",
    });
    json = await response.json();
  } catch {}
  if (response?.ok && json?.authorize_url) return location.assign(json.authorize_url);
  main.prepend(notice(json?.error?.message || "The connector could not be reached: check the connection and try again.", "bad"));
});
window.addEventListener("hashchange", route);
route();

// The settings forms of the dashboard: events as a grouped checklist, numbers picked from the
// account's Aircall numbers, import rules as fields with units, contact sync as a filter
// builder and a mapping table. Loaded before app.js, whose helpers (h, field, api, notice,
// typeOf...) these functions use when called. Every rule stays on the server: the checklist,
// the field types and which mapping pairs work come from the admin API (GET /api/events,
// GET /api/contact-sync), and a contact sync setting is checked there before it is saved
// (POST /api/contact-sync/check). Each part answers { node, value(), changed() }.
"use strict";

const formCatalogues = { events: null, contactSync: null };
let formCataloguesLoad = null;

// The events checklist and the contact sync rules, read once after sign-in (like the
// destination catalogue); a part whose catalogue could not be read says so.
function loadFormCatalogues() {
  formCataloguesLoad ??= Promise.all([api("GET", "/api/events"), api("GET", "/api/contact-sync")]).then(
    ([events, contactSync]) => {
      formCatalogues.events = events.error ? null : events.json;
      formCatalogues.contactSync = contactSync.error ? null : contactSync.json;
      if (events.error || contactSync.error) formCataloguesLoad = null; // asked again by the next page
    },
    (e) => {
      formCataloguesLoad = null;
      throw e;
    },
  );
  return formCataloguesLoad;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let formIds = 0;
const uniqueId = (prefix) => `${prefix}-${++formIds}`;

// A fieldset standing for the API field `key`: its errors are shown under its legend, and it
// takes the focus when they are.
function group(form, key, legend, hint, ...children) {
  const id = `f-${key.replaceAll(".", "-").replace(/[[\]]/g, "_")}`;
  const errors = h("div", { id: `${id}-errors`, class: "field-errors" });
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  const node = h("fieldset", { id, tabindex: "-1", "aria-describedby": [hintNode && hintNode.id, errors.id].filter(Boolean).join(" ") }, h("legend", {}, legend), hintNode, errors, ...children);
  form.fields.set(key, { control: node, errors });
  return node;
}

// A radio button with its label; `name` groups them.
function radio(name, value, label, checked) {
  const id = uniqueId(`r-${name}`);
  return h("div", { class: "choice" }, h("input", { type: "radio", id, name, value, checked }), h("label", { for: id, class: "inline" }, label));
}
const chosenRadio = (node, name) => node.querySelector(`input[name="${name}"]:checked`)?.value;

// A checkbox shown as a switch (read as one by screen readers).
function switchBox(form, key, label, checked, hint) {
  const box = h("input", { type: "checkbox", role: "switch", class: "toggle", checked });
  const node = field(form, key, label, box, hint);
  node.classList.add("switch-field");
  return { node, box };
}

// ---- Events --------------------------------------------------------------------------------

// `current`: the integration's events (null: the destination's defaults). `typeNow()` names
// the destination type chosen in the form, whose defaults are marked.
function eventsPart(form, current, typeNow) {
  const catalogue = formCatalogues.events;
  if (!catalogue) {
    const area = h("textarea", { rows: 3, value: (current || []).join("\n") });
    const node = field(form, "events", "Events", area, "The list of events could not be loaded: one Aircall event per line. Empty: the destination's defaults.");
    const value = () => (area.value.trim() ? lines(area.value) : null);
    return { node, value, changed: () => !same(value(), current ?? null) };
  }
  const mode = uniqueId("events-mode");
  const chosen = new Set(current || []);
  const known = catalogue.groups.flatMap((g) => g.events.map((e) => e.name));
  const boxes = new Map();
  const item = (name, defaults) => {
    const id = uniqueId("ev");
    const box = h("input", { type: "checkbox", id, value: name, checked: chosen.has(name) });
    const mark = h("span", { class: "badge default", hidden: true }, "default");
    boxes.set(name, { box, defaults, mark });
    return h("li", { "data-event": name }, h("label", { for: id, class: "inline" }, box, name, mark));
  };
  const other = [...chosen].filter((name) => !known.includes(name));
  const otherList = h("ul", { class: "checklist" }, other.map((name) => item(name, [])));
  const groups = catalogue.groups.map((g) =>
    h("fieldset", { class: "event-group", "data-group": g.name }, h("legend", {}, g.label), h("ul", { class: "checklist" }, g.events.map((e) => item(e.name, e.default_for)))),
  );
  const otherGroup = h("fieldset", { class: "event-group", "data-group": "other", hidden: !other.length }, h("legend", {}, "Other events"), otherList);
  const filter = h("input", { type: "search", autocomplete: "off", spellcheck: "false" });
  const filterId = uniqueId("events-filter");
  filter.id = filterId;
  const addInput = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "e.g. user.created" });
  const addId = uniqueId("event-add");
  addInput.id = addId;
  const addButton = h("button", { type: "button", class: "secondary" }, "Add event");
  const everyDefault = () => catalogue.defaults[typeNow()] === null;
  const defaultsNote = h("p", { class: "hint" });
  const node = group(
    form,
    "events",
    "Events",
    "The Aircall events this integration forwards.",
    radio(mode, "default", "The destination's default events (marked “default”)", current == null),
    radio(mode, "chosen", "Only the events checked below", current != null),
    defaultsNote,
    h("div", { class: "field" }, h("label", { for: filterId }, "Filter events"), filter),
    h("div", { class: "event-groups" }, groups, otherGroup),
    h("div", { class: "field add-row" }, h("label", { for: addId }, "Other event (one Aircall may add later)"), h("div", { class: "inline-row" }, addInput, addButton)),
  );
  const usingDefaults = () => chosenRadio(node, mode) === "default";
  // Defaults mode: the boxes show what the destination forwards and cannot be changed.
  const refresh = () => {
    const type = typeNow();
    for (const { box, defaults, mark } of boxes.values()) {
      const isDefault = defaults.includes(type);
      mark.hidden = !isDefault;
      box.disabled = usingDefaults();
      if (usingDefaults()) box.checked = isDefault;
    }
    addInput.disabled = addButton.disabled = usingDefaults();
    defaultsNote.textContent = everyDefault()
      ? `${typeOf(type)?.name || type}: every event by default, also those Aircall adds later.`
      : `${typeOf(type)?.name || type}: the ${catalogue.defaults[type].length} events marked “default”.`;
  };
  node.addEventListener("change", (event) => {
    if (event.target.name === mode && !usingDefaults() && ![...boxes.values()].some(({ box }) => box.checked && !box.disabled)) {
      // Choosing starts from what the defaults forward.
      for (const { box, defaults } of boxes.values()) box.checked = defaults.includes(typeNow());
    }
    if (event.target.name === mode) refresh();
  });
  filter.addEventListener("input", () => {
    const text = filter.value.trim().toLowerCase();
    for (const li of node.querySelectorAll("li[data-event]")) li.hidden = Boolean(text) && !li.dataset.event.includes(text);
    for (const g of node.querySelectorAll("fieldset.event-group")) {
      g.hidden = ![...g.querySelectorAll("li[data-event]")].some((li) => !li.hidden);
    }
  });
  const add = () => {
    const name = addInput.value.trim();
    if (!name) return;
    if (!boxes.has(name)) {
      otherList.append(item(name, []));
      otherGroup.hidden = false;
    }
    boxes.get(name).box.checked = true;
    addInput.value = "";
  };
  addButton.addEventListener("click", add);
  addInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  });
  refresh();
  const value = () => (usingDefaults() ? null : [...boxes].filter(([, { box }]) => box.checked).map(([name]) => name));
  return { node, value, changed: () => !same(value(), current ?? null), refresh };
}

// ---- Numbers -------------------------------------------------------------------------------

// Aircall writes digits with spaces: numbers compare by their digits.
const digitsOf = (text) => String(text).replace(/\D/g, "");
const PHONE_SHAPE = /^\+?[\d\s().-]+$/;

// `current`: the integration's numbers (ids, phone numbers; null: every number). The account's
// numbers are listed when there is an integration to read them through (`integrationId`);
// phone numbers can always be typed.
function numbersPart(form, current, integrationId) {
  const mode = uniqueId("numbers-mode");
  const picked = new Set((current || []).map(String));
  const listed = h("div", { class: "number-list", "aria-live": "polite" });
  const chips = h("ul", { class: "chips", "aria-label": "Phone numbers added" });
  const boxes = new Map(); // id -> checkbox
  let accountNumbers = [];
  const phone = h("input", { type: "tel", autocomplete: "off", spellcheck: "false", placeholder: "+33 1 76 36 06 95" });
  const phoneId = uniqueId("number-add");
  phone.id = phoneId;
  const phoneError = h("p", { class: "field-error", id: `${phoneId}-error`, hidden: true });
  phone.setAttribute("aria-describedby", phoneError.id);
  const addButton = h("button", { type: "button", class: "secondary" }, "Add number");
  const refreshButton = integrationId ? h("button", { type: "button", class: "secondary" }, "Read the list again from Aircall") : null;

  const chip = (ref) => {
    const text = /^\d+$/.test(ref) ? `Number id ${ref}` : ref;
    const remove = h("button", { type: "button", class: "link", "aria-label": `Remove ${text}` }, "×");
    const li = h("li", { class: "chip", "data-ref": ref }, text, " ", remove);
    remove.addEventListener("click", () => {
      picked.delete(ref);
      li.remove();
      phone.focus();
    });
    return li;
  };
  // Typed refs that are not one of the listed numbers show as chips.
  const showChips = () => {
    const shown = (ref) => accountNumbers.some((n) => String(n.id) === ref || (n.digits && digitsOf(n.digits) === digitsOf(ref) && !/^\d+$/.test(ref)));
    chips.replaceChildren(...[...picked].filter((ref) => !shown(ref)).map(chip));
  };
  const fill = (r) => {
    boxes.clear();
    if (r.error) {
      listed.replaceChildren(notice(`The account's numbers could not be read: ${r.error.message} Type phone numbers below instead.`, "bad"));
      return;
    }
    accountNumbers = r.json.numbers;
    // A typed phone number that is one of the account's numbers is picked as that number.
    for (const ref of [...picked]) {
      const match = accountNumbers.find((n) => !/^\d+$/.test(ref) && n.digits && digitsOf(n.digits) === digitsOf(ref));
      if (match) {
        picked.delete(ref);
        picked.add(String(match.id));
      }
    }
    const items = accountNumbers.map((n) => {
      const id = uniqueId("num");
      const box = h("input", { type: "checkbox", id, value: String(n.id), checked: picked.has(String(n.id)) });
      box.addEventListener("change", () => (box.checked ? picked.add(String(n.id)) : picked.delete(String(n.id))));
      boxes.set(String(n.id), box);
      return h("li", { "data-number": n.id }, h("label", { for: id, class: "inline" }, box, `${n.name || "Number"} · ${n.digits || n.id}`, n.country ? h("span", { class: "hint" }, ` (${n.country})`) : null));
    });
    listed.replaceChildren(
      items.length ? h("ul", { class: "checklist", "aria-label": "The account's numbers" }, items) : h("p", {}, "The Aircall account has no numbers."),
      r.json.truncated ? h("p", { class: "hint" }, "The account has more numbers than listed here: type the others below.") : null,
    );
    showChips();
  };
  const load = async (refresh) => {
    listed.replaceChildren(h("p", { class: "hint" }, "Reading the account's numbers…"));
    try {
      fill(await api("GET", `/api/integrations/${integrationId}/numbers${refresh ? "?refresh=true" : ""}`));
    } catch (e) {
      if (!(e instanceof SignedOut)) throw e;
    }
  };
  const add = () => {
    const text = phone.value.trim();
    phoneError.hidden = true;
    phone.removeAttribute("aria-invalid");
    if (!text) return;
    if (!PHONE_SHAPE.test(text) || digitsOf(text).length < 6 || digitsOf(text).length > 15) {
      phoneError.textContent = `“${text}” is not a phone number: digits, spaces and + only, 6 to 15 digits.`;
      phoneError.hidden = false;
      phone.setAttribute("aria-invalid", "true");
      return;
    }
    const match = accountNumbers.find((n) => n.digits && digitsOf(n.digits) === digitsOf(text));
    if (match) {
      picked.add(String(match.id));
      boxes.get(String(match.id)).checked = true;
    } else picked.add(text);
    phone.value = "";
    showChips();
  };
  addButton.addEventListener("click", add);
  phone.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  });
  refreshButton?.addEventListener("click", () => load(true));

  const node = group(
    form,
    "numbers",
    "Aircall numbers",
    "Only events about these Aircall numbers are forwarded (events about no number, such as users, always are).",
    radio(mode, "every", "Every number", current == null),
    radio(mode, "chosen", "Only the numbers chosen", current != null),
    h(
      "div",
      { class: "numbers-choice" },
      integrationId ? listed : h("p", { class: "hint" }, "Once the integration is created, its Aircall account's numbers are listed here to pick from."),
      refreshButton,
      chips,
      h("div", { class: "field add-row" }, h("label", { for: phoneId }, "Add a phone number"), h("div", { class: "inline-row" }, phone, addButton), phoneError),
    ),
  );
  const choice = node.querySelector(".numbers-choice");
  // The account's numbers are read when the choice is shown, not for "every number".
  let loaded = false;
  const refreshMode = () => {
    choice.hidden = chosenRadio(node, mode) !== "chosen";
    if (!choice.hidden && integrationId && !loaded) {
      loaded = true;
      load(false);
    }
  };
  node.addEventListener("change", (event) => event.target.name === mode && refreshMode());
  refreshMode();
  showChips();
  const value = () => {
    if (chosenRadio(node, mode) !== "chosen") return null;
    return [...picked].map((ref) => (/^\d+$/.test(ref) ? Number(ref) : ref));
  };
  return { node, value, changed: () => !same(value(), current ?? null) };
}

// ---- Import rules --------------------------------------------------------------------------

const MB = 1024 * 1024;
// The import rules with a number, in the admin's units: [field, label, unit, bytes per unit].
// A rule added to the API is one more line here (or in IMPORT_SWITCHES).
const IMPORT_NUMBERS = [
  ["window_days", "Import window", "days", 1, "The first import looks back this far."],
  ["initial_limit", "First import: at most", "calls", 1, "The most recent ones."],
  ["max_recording_bytes", "Largest recording", "MB", MB, "Calls with a larger recording are skipped (1 MB = 1,048,576 bytes)."],
  ["recording_grace_hours", "Wait for a late recording", "hours", 1, "A call without its recording yet is looked at again this long after it ended."],
];
const IMPORT_SWITCHES = [
  ["recording_required", "Recording required", "Calls without a recording are not imported."],
  ["voicemail_counts_as_recording", "A voicemail counts as the recording", null],
];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// `rules`: the integration's `import` (null on a new one: the server's defaults). Only the
// rules changed are sent (a PATCH changes only the fields given).
function importPart(form, rules, isCrm) {
  const numbers = IMPORT_NUMBERS.map(([key, label, unit, scale, hint]) => {
    const input = h("input", { type: "number", min: "0", step: scale === 1 ? "1" : "any", inputmode: "decimal", class: "with-unit" });
    if (rules) input.value = String(rules[key] / scale);
    const node = field(form, `import.${key}`, [label, h("span", { class: "unit" }, ` (${unit})`)], input, hint);
    return { key, scale, input, node };
  });
  const switches = IMPORT_SWITCHES.map(([key, label, hint]) => ({ key, ...switchBox(form, `import.${key}`, label, rules ? rules[key] : true, hint) }));
  // `ai` takes "off" or "when_available": a switch too.
  const ai = switchBox(form, "import.ai", "Bring the Aircall AI data a call already has", rules?.ai === "when_available", "Transcript, summary, topics, sentiment, action items: one Aircall request per kind forwarded. Later AI data arrives through Aircall's events.");

  // Users: everyone, a list of e-mails (chips), or the CRM's users.
  const mode = uniqueId("users-mode");
  const from = rules?.users_from === "hubspot_owners" ? "crm" : rules?.users?.length ? "list" : "every";
  const users = [...(rules?.users || [])];
  const chips = h("ul", { class: "chips", "aria-label": "Users whose calls are imported" });
  const email = h("input", { type: "email", autocomplete: "off", spellcheck: "false", placeholder: "name@example.com" });
  const emailId = uniqueId("user-add");
  email.id = emailId;
  const emailError = h("p", { class: "field-error", id: `${emailId}-error`, hidden: true });
  email.setAttribute("aria-describedby", emailError.id);
  const addButton = h("button", { type: "button", class: "secondary" }, "Add user");
  const showChips = () =>
    chips.replaceChildren(
      ...users.map((address, n) => {
        const remove = h("button", { type: "button", class: "link", "aria-label": `Remove ${address}` }, "×");
        remove.addEventListener("click", () => {
          users.splice(n, 1);
          showChips();
          email.focus();
        });
        return h("li", { class: "chip" }, address, " ", remove);
      }),
    );
  const add = () => {
    const text = email.value.trim();
    emailError.hidden = true;
    email.removeAttribute("aria-invalid");
    if (!text) return;
    if (!EMAIL.test(text)) {
      emailError.textContent = `“${text}” is not an e-mail address.`;
      emailError.hidden = false;
      email.setAttribute("aria-invalid", "true");
      return;
    }
    if (!users.some((u) => u.toLowerCase() === text.toLowerCase())) users.push(text);
    email.value = "";
    showChips();
  };
  addButton.addEventListener("click", add);
  email.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  });
  showChips();
  const listPart = h("div", { class: "users-list" }, chips, h("div", { class: "field add-row" }, h("label", { for: emailId }, "Add a user's e-mail"), h("div", { class: "inline-row" }, email, addButton), emailError));
  const usersNode = group(
    form,
    "import.users",
    "Users whose calls are imported",
    null,
    radio(mode, "every", "Every user", from === "every"),
    radio(mode, "list", "Only these users (their Aircall e-mail, any case)", from === "list"),
    isCrm || from === "crm" ? radio(mode, "crm", "Users from the CRM (its owners' e-mails)", from === "crm") : null,
    listPart,
  );
  form.fields.set("import.users_from", form.fields.get("import.users"));
  const refreshMode = () => (listPart.hidden = chosenRadio(usersNode, mode) !== "list");
  usersNode.addEventListener("change", (event) => event.target.name === mode && refreshMode());
  refreshMode();

  const node = h("fieldset", { class: "import-rules" }, h("legend", {}, "Import rules"), numbers.map((n) => n.node), switches.map((s) => s.node), ai.node, usersNode);
  const errorsAt = [];
  // The rules as the API takes them; a number left empty is named next to its field.
  const value = () => {
    const out = {};
    errorsAt.length = 0;
    for (const { key, scale, input } of numbers) {
      if (input.value.trim() === "") {
        errorsAt.push({ field: `import.${key}`, message: "is required" });
        continue;
      }
      const given = Number(input.value);
      // Unchanged in the admin's unit: the exact stored value (bytes) stays.
      out[key] = rules && given === rules[key] / scale ? rules[key] : Math.round(given * scale);
    }
    for (const { key, box } of switches) out[key] = box.checked;
    out.ai = ai.box.checked ? "when_available" : "off";
    const chosen = chosenRadio(usersNode, mode);
    out.users_from = chosen === "crm" ? "hubspot_owners" : "list";
    out.users = chosen === "list" ? [...users] : [];
    return out;
  };
  const changes = () => {
    const all = value();
    return Object.fromEntries(Object.entries(all).filter(([key, v]) => !rules || !same(v, rules[key])));
  };
  return { node, value: changes, changed: () => Object.keys(changes()).length > 0, problems: () => (value(), [...errorsAt]) };
}

// ---- Contact sync --------------------------------------------------------------------------

const DIRECTION_TEXT = { both: "↔ both ways", to_hubspot: "→ to HubSpot", to_aircall: "← to Aircall" };
const SYNC_DIRECTIONS = { to_hubspot: "Aircall → HubSpot", to_aircall: "HubSpot → Aircall", both: "Both ways" };
const OPERATOR_TEXT = { equals: "is", not_equals: "is not", contains: "contains", is_set: "is set", is_not_set: "is empty" };

// `current`: the integration's contact_sync (null: off). The rows' errors, from the server's
// check or a save, land on their row (`contact_sync.mappings[1]`, `contact_sync.filters[0]`).
function contactSyncPart(form, current, integrationName) {
  const rules = formCatalogues.contactSync;
  if (!rules) return { node: notice("The contact sync rules could not be loaded: reload the page to change contact sync.", "bad"), value: () => current, changed: () => false };
  const setting = structuredClone(current || { direction: "both", filters: [], mappings: [], phone: { normalize: true, default_country: rules.default_country } });
  setting.filters ||= [];
  setting.mappings ||= [];
  setting.phone ||= { normalize: true, default_country: rules.default_country };
  const on = switchBox(form, "contact_sync", "Contact sync", Boolean(current), `Two-way contact sync between Aircall and ${integrationName}.`);
  const directionName = uniqueId("sync-direction");
  const direction = group(form, "contact_sync.direction", "Direction", "A mapping carries values only in the directions both it and the sync allow.", ...rules.directions.map((d) => radio(directionName, d, SYNC_DIRECTIONS[d] || d, setting.direction === d)));

  // IF ... THEN sync: a list of conditions per app.
  const filterRows = { aircall: h("div", { class: "rows" }), hubspot: h("div", { class: "rows" }) };
  const hubspotList = uniqueId("hubspot-properties");
  const conditionRow = (condition) => {
    const fieldControl =
      condition.app === "aircall"
        ? h("select", {}, rules.aircall_fields.map((f) => h("option", { value: f.name, selected: f.name === condition.field }, f.name)))
        : h("input", { type: "text", list: hubspotList, value: condition.field, autocomplete: "off", spellcheck: "false" });
    const op = h("select", {}, rules.operators.map((o) => h("option", { value: o.op, selected: o.op === condition.op }, OPERATOR_TEXT[o.op] || o.op)));
    const value = h("input", { type: "text", value: condition.value ?? "", autocomplete: "off" });
    const remove = h("button", { type: "button", class: "secondary" }, "Remove");
    const errors = h("div", { class: "field-errors" });
    const ids = [uniqueId("cond-field"), uniqueId("cond-op"), uniqueId("cond-value")];
    [fieldControl.id, op.id, value.id] = ids;
    const valueBox = h("div", { class: "cell" }, h("label", { for: ids[2] }, "Value"), value);
    const row = h(
      "div",
      { class: "condition", role: "group" },
      h("div", { class: "cell" }, h("label", { for: ids[0] }, "Field"), fieldControl),
      h("div", { class: "cell" }, h("label", { for: ids[1] }, "Operator"), op),
      valueBox,
      h("div", { class: "cell end" }, remove),
      errors,
    );
    const needsValue = () => rules.operators.find((o) => o.op === op.value)?.needs_value;
    const sync = () => {
      condition.field = fieldControl.value.trim();
      condition.op = op.value;
      valueBox.hidden = !needsValue();
      if (needsValue()) condition.value = value.value;
      else delete condition.value;
    };
    for (const control of [fieldControl, op, value]) control.addEventListener("input", sync), control.addEventListener("change", sync);
    remove.addEventListener("click", () => {
      setting.filters.splice(setting.filters.indexOf(condition), 1);
      renderFilters();
      changed();
    });
    sync();
    return { row, errors, control: fieldControl };
  };
  const renderFilters = () => {
    for (const key of [...form.fields.keys()]) if (key.startsWith("contact_sync.filters[")) form.fields.delete(key);
    for (const app of ["aircall", "hubspot"]) filterRows[app].replaceChildren();
    setting.filters.forEach((condition, n) => {
      const { row, errors, control } = conditionRow(condition);
      row.setAttribute("aria-label", `Condition ${n + 1}`);
      form.fields.set(`contact_sync.filters[${n}]`, { control, errors });
      filterRows[condition.app].append(row);
    });
  };
  const addCondition = (app) => {
    const first = app === "aircall" ? rules.aircall_fields[0].name : "lifecyclestage";
    setting.filters.push({ app, field: first, op: "equals", value: "" });
    renderFilters();
    filterRows[app].lastElementChild?.querySelector("select, input")?.focus();
    changed();
  };
  const filtersFor = (app, title) =>
    h(
      "fieldset",
      { class: "conditions" },
      h("legend", {}, title),
      filterRows[app],
      h("button", { type: "button", class: "secondary", onclick: () => addCondition(app) }, app === "aircall" ? "Add an Aircall condition" : "Add a HubSpot condition"),
    );
  const filters = group(
    form,
    "contact_sync.filters",
    "Filters: IF a contact meets all its app's conditions THEN it is synced",
    "No condition: every contact. Text compares ignoring case; phone numbers compare normalised.",
    filtersFor("aircall", "IF an Aircall contact"),
    filtersFor("hubspot", "IF a HubSpot contact"),
    h("datalist", { id: hubspotList }, rules.hubspot_fields.map((f) => h("option", { value: f.name }))),
  );

  // The mapping table: custom pairs, each saying whether its types allow it, and why not.
  const pairOf = (a, hs) => rules.pairs.find((p) => p.aircall === a && p.hubspot === hs);
  const typeText = (list, name) => list.find((f) => f.name === name)?.type;
  const mappingBody = h("tbody");
  const inForce = h("ul", { class: "in-force" });
  const mappingRow = (mapping, n) => {
    const ids = [uniqueId("map-aircall"), uniqueId("map-direction"), uniqueId("map-hubspot")];
    const aircall = h("select", { id: ids[0], "aria-label": `Mapping ${n + 1}: Aircall field` }, rules.aircall_fields.map((f) => h("option", { value: f.name, selected: f.name === mapping.aircall }, `${f.name} (${f.type})`)));
    const dir = h("select", { id: ids[1], "aria-label": `Mapping ${n + 1}: direction` }, Object.entries(DIRECTION_TEXT).map(([d, text]) => h("option", { value: d, selected: d === mapping.direction }, text)));
    const hubspot = h("select", { id: ids[2], "aria-label": `Mapping ${n + 1}: HubSpot field` }, rules.hubspot_fields.map((f) => h("option", { value: f.name, selected: f.name === mapping.hubspot }, `${f.name} (${f.type})${f.read_only ? ", read only" : ""}`)));
    const verdict = h("div", { class: "verdict", role: "status" });
    const errors = h("div", { class: "field-errors" });
    const remove = h("button", { type: "button", class: "secondary", "aria-label": `Remove mapping ${n + 1}` }, "Remove");
    const judge = () => {
      mapping.aircall = aircall.value;
      mapping.hubspot = hubspot.value;
      mapping.direction = dir.value;
      const pair = pairOf(mapping.aircall, mapping.hubspot);
      const fits = pair && (mapping.direction === "both" ? pair.to_hubspot && pair.to_aircall : pair[mapping.direction]);
      verdict.className = `verdict ${fits ? "ok" : "refused"}`;
      verdict.textContent = !pair
        ? "Unknown pair."
        : fits
          ? pair.why
            ? `Compatible ${DIRECTION_TEXT[mapping.direction]} only: ${pair.why}.`
            : `Compatible both ways: ${typeText(rules.aircall_fields, mapping.aircall)} and ${typeText(rules.hubspot_fields, mapping.hubspot)}.`
          : `Refused: ${pair.why}.`;
      row.dataset.compatible = String(Boolean(fits));
    };
    const row = h(
      "tr",
      { "data-mapping": n },
      h("td", { "data-label": "Aircall field" }, aircall),
      h("td", { "data-label": "Direction" }, dir),
      h("td", { "data-label": "HubSpot field" }, hubspot),
      h("td", { "data-label": "Compatibility" }, verdict, errors),
      h("td", { "data-label": "Remove" }, remove),
    );
    for (const control of [aircall, dir, hubspot]) control.addEventListener("change", judge);
    remove.addEventListener("click", () => {
      setting.mappings.splice(n, 1);
      renderMappings();
      changed();
    });
    judge();
    form.fields.set(`contact_sync.mappings[${n}]`, { control: aircall, errors });
    return row;
  };
  const renderMappings = () => {
    for (const key of [...form.fields.keys()]) if (key.startsWith("contact_sync.mappings[")) form.fields.delete(key);
    mappingBody.replaceChildren(...setting.mappings.map(mappingRow));
  };
  const showInForce = (list) =>
    inForce.replaceChildren(...list.map((m) => h("li", {}, `${m.aircall} ${DIRECTION_TEXT[m.direction] || m.direction} ${m.hubspot}`)));
  const addMapping = () => {
    setting.mappings.push({ aircall: "information", hubspot: "jobtitle", direction: "both" });
    renderMappings();
    mappingBody.lastElementChild?.querySelector("select")?.focus();
    changed();
  };
  const mappings = group(
    form,
    "contact_sync.mappings",
    "Field mapping",
    "On top of the default mapping; a pair naming a default's HubSpot field (or single Aircall field) replaces that default. Only a text field takes another type, one way.",
    h("div", { class: "scroll" }, h("table", { class: "stack mapping", "aria-label": "Custom field mappings" }, headerRow(["Aircall field", "Direction", "HubSpot field", "Compatibility", "Remove"]), mappingBody)),
    h("button", { type: "button", class: "secondary", onclick: addMapping }, "Add a mapping"),
    h("details", {}, h("summary", {}, "Mappings in force (the default ones kept, then these)"), inForce),
  );

  // Phone numbers.
  const normalize = switchBox(form, "contact_sync.phone.normalize", "Normalise phone numbers (E.164)", setting.phone.normalize !== false, "Off (not advised): formatting is dropped and the default country's code is put in front of numbers without +.");
  const names = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(["en"], { type: "region" }) : null;
  const countryName = (code) => {
    try {
      return names?.of(code) || code;
    } catch {
      return code;
    }
  };
  const countries = [...rules.countries].sort((a, b) => countryName(a).localeCompare(countryName(b)));
  const country = h("select", {}, countries.map((code) => h("option", { value: code, selected: code === setting.phone.default_country }, `${countryName(code)} (${code})`)));
  const phone = h(
    "fieldset",
    {},
    h("legend", {}, "Phone numbers"),
    normalize.node,
    field(form, "contact_sync.phone.default_country", "Default country", country, "For numbers written without a country code."),
  );

  const checkResult = h("div", { class: "check-result", "aria-live": "polite" });
  const body = h("div", { class: "sync-settings" }, direction, filters, mappings, phone, checkResult);
  const node = h("fieldset", { class: "contact-sync" }, h("legend", {}, "Contact sync"), on.node, body);
  const value = () => {
    if (!on.box.checked) return null;
    return {
      direction: chosenRadio(direction, directionName),
      filters: setting.filters.map((c) => ({ ...c })),
      mappings: setting.mappings.map((m) => ({ ...m })),
      phone: { normalize: normalize.box.checked, default_country: country.value },
    };
  };

  // The server checks the setting as a save would, a moment after each change.
  let timer = null;
  let asked = 0;
  const check = async () => {
    const setting = value();
    if (!setting) return checkResult.replaceChildren();
    const mine = ++asked;
    try {
      const r = await api("POST", "/api/contact-sync/check", setting);
      if (mine !== asked) return;
      for (const [key, { control, errors }] of form.fields) {
        if (!key.startsWith("contact_sync.") || key === "contact_sync") continue;
        errors.replaceChildren();
        control.removeAttribute("aria-invalid");
      }
      if (r.error && !r.error.fields) return checkResult.replaceChildren(notice(r.error.message, "bad"));
      if (r.error) {
        placeErrors(form, r.error.fields);
        return checkResult.replaceChildren(notice(`This contact sync setting would be refused: ${r.error.fields.length} problem(s), shown next to their fields.`, "bad"));
      }
      showInForce(r.json.mappings_in_force);
      checkResult.replaceChildren(notice("Checked: this contact sync setting can be saved.", "ok"));
    } catch (e) {
      if (!(e instanceof SignedOut)) throw e;
    }
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  };
  node.addEventListener("change", changed);
  node.addEventListener("input", changed);
  const showBody = () => (body.hidden = !on.box.checked);
  on.box.addEventListener("change", showBody);
  renderFilters();
  renderMappings();
  showInForce(rules.default_mappings);
  showBody();
  if (current) check();
  return { node, value, changed: () => !same(value(), current ?? null) };
}

// Puts each `{field, message}` on the closest part of the form that stands for it, without
// taking the focus (for a check made while the admin edits).
function placeErrors(form, list) {
  for (const { field: name, message } of list) {
    let key = name;
    while (key && !form.fields.has(key)) key = parentField(key);
    const target = form.fields.get(key);
    if (!target) continue;
    target.errors.append(h("p", { class: "field-error" }, name === key ? message : `${name.slice(key.length).replace(/^\./, "")}: ${message}`));
    target.control.setAttribute("aria-invalid", "true");
  }
}

// The event log of an integration (#/integrations/{id}/events, one event at .../events/{id}):
// a search (event name, call id or phone number), newest first, a page at a time; an event's
// payloads as received and as sent, its history, and "Send again". Loaded before app.js, whose
// helpers (h, api, page, notice, when...) it uses once the page runs.

const EVENT_STATUS = {
  delivered: ["Delivered", "active"],
  filtered: ["Filtered", "inactive"],
  waiting: ["Waiting", "inactive"],
  retrying: ["Retrying", "inactive"],
  failed: ["Failed", "system"],
};
const EVENTS_PER_PAGE = 25;

const eventBadge = (status) => {
  const [text, cls] = EVENT_STATUS[status] || [status, "inactive"];
  return h("span", { class: `badge ${cls}` }, text);
};
const msIso = (ms) => new Date(ms).toISOString();
const aboutText = (e) =>
  [e.call_id && `call ${e.call_id}`, e.contact_id && `contact ${e.contact_id}`, e.message_id && `message ${e.message_id}`].filter(Boolean).join(", ");

async function renderEventLog(id, eventId) {
  nav.hidden = false;
  if (eventId) return renderEvent(id, eventId);
  const gen = ++generation;
  const back = h("p", {}, h("a", { href: `#/integrations/${id}` }, "Back to the integration"));
  const box = h("input", { type: "search", id: "event-search", name: "q", autocomplete: "off" });
  const results = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { role: "search", class: "toolbar", "aria-label": "Search the event log" },
    h("div", {}, h("label", { for: "event-search" }, "Event name, call id or phone number"), box, h("p", { class: "hint" }, "Events of the last 7 days, newest first.")),
    h("button", { type: "submit" }, "Search"),
  );
  const search = async (before, tbody) => {
    const params = new URLSearchParams({ limit: String(EVENTS_PER_PAGE) });
    if (box.value.trim()) params.set("q", box.value.trim());
    if (before) params.set("before", before);
    const r = await api("GET", `/api/integrations/${id}/events?${params}`);
    if (gen !== generation) return;
    if (r.error) return results.replaceChildren(notice(r.error.message, "bad"));
    const rows = r.json.events.map((e) =>
      h(
        "tr",
        { "data-id": e.id },
        h("td", { "data-label": "Received" }, when(msIso(e.received_at))),
        h("td", { "data-label": "Event" }, h("a", { href: `#/integrations/${id}/events/${e.id}` }, e.event)),
        // One block per cell, so that a phone's card layout keeps label and content apart.
        h("td", { "data-label": "About" }, h("div", {}, aboutText(e) || "—", e.phones?.length ? h("div", { class: "hint" }, e.phones.map((p) => `+${p}`).join(", ")) : null)),
        h("td", { "data-label": "Status" }, h("div", {}, eventBadge(e.status), e.reason ? h("div", { class: "hint" }, e.reason) : null)),
      ),
    );
    if (!tbody) {
      if (!rows.length) return results.replaceChildren(h("p", {}, box.value.trim() ? "No event matches." : "No event in the last 7 days."));
      tbody = h("tbody", {}, rows);
      const table = h("table", { class: "stack", "aria-label": "Events, newest first" }, headerRow(["Received", "Event", "About", "Status"]), tbody);
      results.replaceChildren(h("div", { class: "scroll" }, table));
    } else tbody.append(...rows);
    results.querySelector(".more")?.remove();
    if (r.json.next) {
      const more = h("button", { type: "button", class: "secondary more" }, "Older events");
      more.addEventListener("click", () => search(r.json.next, tbody));
      results.append(h("p", {}, more));
    }
    announce(`${tbody.children.length} event(s) shown.`);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    search(null, null).catch((err) => { if (!(err instanceof SignedOut)) throw err; });
  });
  page(`events/${id}`, "Event log", back, h("section", {}, form, results));
  await search(null, null);
}

async function renderEvent(id, eventId) {
  const gen = ++generation;
  const path = `/api/integrations/${id}/events/${eventId}`;
  const r = await api("GET", path);
  if (gen !== generation) return;
  const back = h("p", {}, h("a", { href: `#/integrations/${id}/events` }, "Back to the event log"));
  if (r.error) return page(`event/${eventId}`, "Event", back, notice(r.error.message, "bad"));
  const e = r.json;
  const message = h("div", { "aria-live": "polite" });
  const again = h("button", { type: "button" }, "Send again");
  const history = h("section", { id: "event-history", "aria-labelledby": "event-history-title" });
  // replaceChildren writes a null as text: the optional line is built through h.
  const fillHistory = (event) =>
    history.replaceChildren(
      h("h2", { id: "event-history-title" }, "History"),
      h("div", {}, event.earlier_steps ? h("p", { class: "hint" }, `${event.earlier_steps} earlier step(s) not kept.`) : null),
      h(
        "table",
        { class: "stack", "aria-label": "Steps, oldest first" },
        headerRow(["When", "Status", "Attempt", "Delivery", "Reason"]),
        h(
          "tbody",
          {},
          event.history.map((step) =>
            h(
              "tr",
              {},
              h("td", { "data-label": "When" }, when(msIso(step.at))),
              h("td", { "data-label": "Status" }, h("div", {}, eventBadge(step.status), step.destination ? h("div", { class: "hint" }, step.destination) : null)),
              h("td", { "data-label": "Attempt" }, step.attempt ? String(step.attempt) : "—"),
              h("td", { "data-label": "Delivery" }, step.delivery_id ? h("span", { class: "event-id" }, `sent again as ${step.delivery_id}`) : "first"),
              h("td", { "data-label": "Reason" }, step.reason || ""),
            ),
          ),
        ),
      ),
    );
  fillHistory(e);
  again.addEventListener("click", async () => {
    again.disabled = true;
    try {
      const answer = await api("POST", `${path}/redeliver`);
      if (answer.error) return message.replaceChildren(notice(answer.error.message, "bad"));
      message.replaceChildren(notice(`Queued again as ${answer.json.delivery_id}: its delivery will appear in the history.`, "ok"));
      // The new attempt joins the history once delivered: look again for a little while.
      for (let i = 0; i < 20; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (gen !== generation) return;
        const now = await api("GET", path);
        if (now.json?.history?.some((s) => s.delivery_id === answer.json.delivery_id)) return fillHistory(now.json);
      }
    } catch (err) {
      if (!(err instanceof SignedOut)) throw err;
    } finally {
      again.disabled = false;
    }
  });
  const payload = (title, kept, empty) =>
    h(
      "section",
      {},
      h("h2", {}, title),
      !kept ? h("p", {}, empty) : [
        kept.truncated ? h("p", { class: "hint" }, `Larger than the log keeps (${kept.bytes} bytes): its start only.`) : null,
        h("pre", { class: "payload", tabindex: "0" }, typeof kept.payload === "string" ? kept.payload : JSON.stringify(kept.payload, null, 2)),
      ],
    );
  page(
    `event/${eventId}`,
    e.event,
    back,
    h(
      "section",
      { class: "event-summary" },
      h("p", {}, eventBadge(e.status), e.reason ? ` ${e.reason}` : "", e.destination ? ` · ${e.destination}` : ""),
      h("p", {}, "Received ", when(msIso(e.received_at)), aboutText(e) ? ` · ${aboutText(e)}` : ""),
      h("p", { class: "hint event-id" }, e.id),
      h("div", { class: "actions" }, again),
      message,
    ),
    history,
    h("div", { class: "grid" }, payload("As received", e.received, "Not kept."), payload("As sent", e.sent, "Nothing was sent.")),
  );
}

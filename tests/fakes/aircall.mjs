// A local fake of Aircall's public API, following ../shared/reference/aircall-api.md:
// Basic auth per API key, /v1/ping, webhooks (201 with a token; at most 100 per account;
// https URLs in production, http allowed here), a per-company rate limit answered with 429
// and the X-AircallApi-* headers. It also plays Aircall's webhook sender.
// Contacts (/v1/contacts: list, get, search, create, update by POST, delete) follow the
// reference's Contacts section: the plain update ignores phone_numbers and emails, which an
// existing contact changes through /phone_details and /email_details (add, update, delete one
// entry by its id); with `autoContactWebhooks` every API write also sends
// contact.created/updated/deleted to the account's webhooks, as Aircall does.
// Aircall AI (/v1/calls/:id/transcription | summary | topics | sentiments | action_items)
// follows the reference's "Aircall AI" section: addAiData gives a call its data, withoutAi
// takes the package from an account (403), a call without data answers 404.
// Numbers (/v1/numbers, /v1/numbers/:id) are listed and paged like every list (addNumbers).
import http from "node:http";
import { randomBytes } from "node:crypto";

export class FakeAircall {
  constructor({
    ratePerMinute = 60,
    resultCap = 10_000,
    contactsEditsBumpUpdatedAt = true,
    autoContactWebhooks = false,
    webhookPost = null,
  } = {}) {
    this.keys = new Map(); // api_id -> api_token
    this.webhooks = new Map(); // webhook_id -> {webhook_id, url, events, token, custom_name, api_id}
    this.requests = []; // {method, path, api_id}
    this.ratePerMinute = ratePerMinute;
    this.windows = new Map(); // api_id -> {start, count}
    this.tooManyRequests = 0; // 429s answered
    this.resultCap = resultCap; // Aircall's is 10,000; tests may scale it down
    this.down = false;
    this.calls = new Map(); // api_id -> [call]
    this.numbers = new Map(); // api_id -> [number]
    this.recordingTtlSeconds = 3600; // "valid for 1 hour only"
    this.voicemailTtlSeconds = 600; // a real voicemail link carried X-Amz-Expires=600
    this.recordingBytes = new Map(); // call id -> size of its recording
    this.aiData = new Map(); // `${api_id}:${call_id}` -> {transcription, summary, ...} as served
    this.noAiPackage = new Set(); // api_ids whose company lacks the AI package
    this.nextAiId = 5000001;

    // Contacts. Stored in the API's shape (created_at/updated_at UNIX seconds).
    this.contacts = new Map(); // api_id -> [contact]
    // The reference warns edits to phone numbers or e-mails "may not bump updated_at":
    // false reproduces that (an edit touching only those lists keeps updated_at).
    this.contactsEditsBumpUpdatedAt = contactsEditsBumpUpdatedAt;
    // true: each API write (create/update/delete) sends contact.* to the account's webhooks.
    this.autoContactWebhooks = autoContactWebhooks;
    // (url, init) => Response used for contact webhooks; null means fetch. Tests set it to
    // Miniflare's dispatchFetch. editContact/removeContact send only when it is set.
    this.webhookPost = webhookPost;
    // Every contact webhook sent: {api_id, webhook_id, url, event, contact_id, data,
    // status (null until answered), body, error}. Pushed when the send starts.
    this.contactWebhooksFired = [];
    this.contactRequests = { list: 0, get: 0, search: 0, create: 0, update: 0, delete: 0, details: 0 };
    this.nextContactId = 900001;
    this.nextContactItemId = 7000001; // ids of phone_numbers[] and emails[] entries
    this.#pendingWebhooks = new Set();
  }

  #pendingWebhooks;

  // --- Contacts: direct access for tests (no HTTP, no rate limit, no validation) ---

  // Seeds contacts of an account. Given id/created_at/updated_at are kept (so tests can
  // seed old contacts); otherwise ids count from 900001 and stamps are now.
  // Phone numbers are stored as given (values made in Aircall's app may hold spaces).
  addContacts(apiId, contacts, { fireWebhook = false } = {}) {
    const list = this.#contactList(apiId);
    const added = contacts.map((c) => {
      const now = this.#nowSeconds();
      const id = c.id ?? this.nextContactId++;
      if (id >= this.nextContactId) this.nextContactId = id + 1;
      const contact = this.#newContact(id, c, now);
      if (c.created_at !== undefined) contact.created_at = c.created_at;
      contact.updated_at = c.updated_at ?? contact.created_at;
      list.push(contact);
      return contact;
    });
    if (fireWebhook) for (const c of added) this.#contactEvent(apiId, "contact.created", c, { person: true });
    return added.map((c) => structuredClone(c));
  }

  contactsOf(apiId) {
    return structuredClone(this.contacts.get(apiId) ?? []);
  }

  contactById(apiId, id) {
    const c = (this.contacts.get(apiId) ?? []).find((x) => x.id === Number(id));
    return c ? structuredClone(c) : null;
  }

  // An edit made by a person in Aircall: same rules as the API update (given fields replace
  // the stored ones; phone_numbers/emails as [{label, value}] replace the lists), no E.164
  // check. Sends contact.updated through webhookPost when that is set and fireWebhook.
  editContact(apiId, id, changes, { fireWebhook = true } = {}) {
    const c = (this.contacts.get(apiId) ?? []).find((x) => x.id === Number(id));
    if (!c) throw new Error(`no contact ${id} for ${apiId}`);
    this.#applyContactChanges(c, changes);
    if (fireWebhook) this.#contactEvent(apiId, "contact.updated", c, { person: true });
    return structuredClone(c);
  }

  // A contact deleted by a person in Aircall; sends contact.deleted like editContact.
  removeContact(apiId, id, { fireWebhook = true } = {}) {
    const list = this.contacts.get(apiId) ?? [];
    const at = list.findIndex((x) => x.id === Number(id));
    if (at < 0) throw new Error(`no contact ${id} for ${apiId}`);
    const [c] = list.splice(at, 1);
    if (fireWebhook) this.#contactEvent(apiId, "contact.deleted", c, { person: true });
    return structuredClone(c);
  }

  // Resolves once every contact webhook started so far has been answered (or failed).
  async contactWebhooksSettled() {
    while (this.#pendingWebhooks.size) await Promise.allSettled([...this.#pendingWebhooks]);
  }

  #nowSeconds() {
    return Math.floor(Date.now() / 1000);
  }

  #contactList(apiId) {
    let list = this.contacts.get(apiId);
    if (!list) this.contacts.set(apiId, (list = []));
    return list;
  }

  #items(items) {
    return (items ?? []).map((i) => ({ id: this.nextContactItemId++, label: i.label ?? null, value: i.value }));
  }

  #newContact(id, c, now) {
    return {
      id,
      direct_link: `https://api.aircall.io/v1/contacts/${id}`,
      first_name: c.first_name ?? null,
      last_name: c.last_name ?? null,
      company_name: c.company_name ?? null,
      description: c.description ?? null,
      information: c.information ?? null,
      is_shared: true,
      phone_numbers: this.#items(c.phone_numbers),
      emails: this.#items(c.emails),
      created_at: now,
      updated_at: now,
    };
  }

  static #scalarFields = ["first_name", "last_name", "company_name", "description", "information"];

  // Given fields replace the stored ones; updated_at is bumped, except (when
  // contactsEditsBumpUpdatedAt is false) for an edit that only touches phone_numbers/emails.
  #applyContactChanges(c, changes) {
    let scalar = false;
    for (const f of FakeAircall.#scalarFields) {
      if (f in changes) {
        c[f] = changes[f];
        scalar = true;
      }
    }
    if ("phone_numbers" in changes) c.phone_numbers = this.#items(changes.phone_numbers);
    if ("emails" in changes) c.emails = this.#items(changes.emails);
    if (scalar || this.contactsEditsBumpUpdatedAt) c.updated_at = this.#nowSeconds();
  }

  // As webhook payloads give it: created_at/updated_at as ISO strings.
  static #webhookContact(c) {
    return {
      ...structuredClone(c),
      created_at: new Date(c.created_at * 1000).toISOString(),
      updated_at: new Date(c.updated_at * 1000).toISOString(),
    };
  }

  // Sends `event` about contact `c` to every active webhook of the account subscribed to it
  // (or to all events), later (never before the API answer), recording each send.
  // API writes send only with autoContactWebhooks; a person's edits whenever webhookPost is set.
  #contactEvent(apiId, event, c, { person = false } = {}) {
    if (person ? !this.webhookPost : !this.autoContactWebhooks) return;
    const data = FakeAircall.#webhookContact(c);
    const targets = this.webhooksOf(apiId).filter((w) => w.active !== false && (!w.events?.length || w.events.includes(event)));
    for (const webhook of targets) {
      const record = { api_id: apiId, webhook_id: webhook.webhook_id, url: webhook.url, event, contact_id: c.id, data, status: null, body: null, error: null };
      this.contactWebhooksFired.push(record);
      const sending = new Promise((resolve) => setImmediate(resolve))
        .then(() => this.fire(webhook, event, data, { post: this.webhookPost ?? fetch }))
        .then(({ status, body }) => Object.assign(record, { status, body }))
        .catch((e) => (record.error = String(e?.message ?? e)))
        .finally(() => this.#pendingWebhooks.delete(sending));
      this.#pendingWebhooks.add(sending);
    }
  }

  // Numbers of an account (/v1/numbers, paged like every list), in the API's shape: `digits`
  // as Aircall writes them, spaces included, and the many fields a picker does not need.
  // `numbers` entries give at least {id, name, digits}; the rest is filled as Aircall's are.
  addNumbers(apiId, numbers) {
    const list = this.numbers.get(apiId) ?? [];
    for (const n of numbers) {
      list.push({
        direct_link: `https://api.aircall.io/v1/numbers/${n.id}`,
        country: "FR",
        time_zone: "Europe/Paris",
        open: true,
        availability_status: "open",
        is_ivr: false,
        live_recording_activated: false,
        priority: null,
        created_at: "2024-01-15T10:00:00.000Z",
        users: [],
        messages: { welcome: "https://example.com/welcome.mp3", waiting: null, closed: null },
        ...n,
      });
    }
    this.numbers.set(apiId, list);
  }

  // Calls of an account, as the API stores them: `recording: true` / `voicemail: true` mean
  // it has one. Shapes are kept as given: tests store `user`/`contact` absent (a missed call,
  // an unknown caller) or empty objects (Aircall's own samples), and spaced numbers.
  addCalls(apiId, calls) {
    const list = this.calls.get(apiId) ?? [];
    list.push(...calls);
    this.calls.set(apiId, list);
  }

  // The call as the API shows it. Recording and voicemail links are signed and expire (a
  // voicemail's after 10 minutes); `asset` points at the voicemail. `contact` carries its
  // details only with fetch_contact=true: without it the fake answers null, the worst case
  // for a reader (the reference says only that fetch_contact fills it).
  #shown(call, { fetchContact = false } = {}) {
    const { recording, voicemail, ...rest } = call;
    const now = Math.floor(Date.now() / 1000);
    const link = (kind, ttl) => `${this.url}/${kind}/${call.id}.mp3?expires=${now + ttl}`;
    const shown = { ...rest, recording: recording ? link("recordings", this.recordingTtlSeconds) : null };
    if (voicemail !== undefined) shown.voicemail = voicemail ? link("voicemails", this.voicemailTtlSeconds) : null;
    if (voicemail) shown.asset = shown.voicemail;
    if (!fetchContact && call.contact?.id !== undefined) shown.contact = null;
    return shown;
  }

  // Gives call `callId` of the account its AI data; each kind given is served, the others
  // answer 404. `transcription`: {language, utterances: [{start_time, end_time, text,
  // participant_type, phone_number | user_id}]}; `summary`: a text; `topics`: texts;
  // `sentiments`: [{phone_number, value, type}]; `action_items`: anything (its shape is not
  // confirmed: served as given under `action_items`). Answers what the API will serve.
  addAiData(apiId, callId, { transcription, summary, topics, sentiments, action_items }, { type = "call", createdAt = new Date() } = {}) {
    const at = createdAt.toISOString();
    const id = () => this.nextAiId++;
    const served = {};
    if (transcription) {
      served.transcription = { transcription: { id: id(), call_id: callId, call_created_at: at, type, content: transcription } };
    }
    if (summary !== undefined) served.summary = { summary: { id: id(), call_id: callId, created_at: at, content: summary } };
    if (topics) served.topics = { topic: { id: id(), call_id: callId, created_at: at, content: topics } };
    if (sentiments) served.sentiments = { sentiment: { id: id(), call_id: callId, participants: sentiments } };
    if (action_items) served.action_items = { action_items };
    this.aiData.set(`${apiId}:${callId}`, served);
    return structuredClone(served);
  }

  // The account's company has no AI package: every AI read answers 403, as Aircall does,
  // while the credentials still work.
  withoutAi(apiId) {
    this.noAiPackage.add(apiId);
  }

  // AI reads made, as {method, path, api_id} (every attempt, 403s and 404s included).
  aiRequests(apiId) {
    return this.requests.filter((r) => r.api_id === apiId && FakeAircall.aiPath.test(r.path));
  }

  static aiPath = /^\/v1\/calls\/(\d+)\/(transcription|summary|topics|sentiments|action_items)$/;

  addKey(apiId, apiToken) {
    this.keys.set(apiId, apiToken);
    return { api_id: apiId, api_token: apiToken };
  }

  async start(port = 0) {
    // A client that gives up mid-request (a timeout) aborts the read: not an error here.
    this.server = http.createServer((req, res) => this.#handle(req, res).catch(() => res.destroy()));
    await new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  stop() {
    return new Promise((resolve) => this.server.close(resolve));
  }

  webhooksOf(apiId) {
    return [...this.webhooks.values()].filter((w) => w.api_id === apiId);
  }

  // Posts an event the way Aircall does: {resource, event, timestamp, token, data}.
  // `post(url, init)` defaults to fetch; tests pass Miniflare's dispatchFetch.
  async fire(webhook, event, data, { post = fetch, token = webhook.token, timestamp } = {}) {
    const body = JSON.stringify({
      resource: event.split(".")[0],
      event,
      timestamp: timestamp ?? Math.floor(Date.now() / 1000),
      token,
      data,
    });
    const response = await post(webhook.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "Aircall-Webhooks" },
      body,
    });
    return { status: response.status, body: await response.text() };
  }

  #send(res, status, body, headers = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  #authenticate(req) {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    if (bearer) return this.#bearerTokens.get(bearer[1]) ?? null;
    const match = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
    if (!match) return null;
    const [id, ...rest] = Buffer.from(match[1], "base64").toString().split(":");
    return this.keys.get(id) === rest.join(":") ? id : null;
  }

  // Per-company budget over a fixed minute window.
  #rateLimited(apiId, res) {
    const now = Date.now();
    let w = this.windows.get(apiId);
    if (!w || now - w.start >= 60_000) this.windows.set(apiId, (w = { start: now, count: 0 }));
    w.count += 1;
    const reset = Math.ceil((w.start + 60_000) / 1000);
    if (w.count > this.ratePerMinute) {
      this.tooManyRequests += 1;
      this.#send(res, 429, { error: "Too Many Requests", troubleshoot: "Rate limit reached" }, {
        "x-aircallapi-limit": String(this.ratePerMinute),
        "x-aircallapi-remaining": "0",
        "x-aircallapi-reset": String(reset),
      });
      return true;
    }
    return false;
  }

  // GET /v1/calls: from exclusive, to inclusive on started_at; paged like every list (below).
  #listCalls(res, url, apiId) {
    const paging = this.#page(res, url);
    if (!paging) return;
    const q = (name) => url.searchParams.get(name);
    const from = q("from") === null ? -Infinity : Number(q("from"));
    const to = q("to") === null ? Infinity : Number(q("to"));
    const desc = q("order") === "desc";
    const matching = (this.calls.get(apiId) ?? [])
      .filter((c) => c.started_at > from && c.started_at <= to)
      .sort((a, b) => (desc ? -1 : 1) * (a.started_at - b.started_at || a.id - b.id));
    const fetchContact = q("fetch_contact") === "true";
    this.#sendPage(res, url, "calls", matching, paging, (c) => this.#shown(c, { fetchContact }));
  }

  // Pagination of every list: per_page default 20, clamped to 50; asking past resultCap
  // (page*per_page > 10,000) answers 400, as Aircall does. Answers null when refused.
  #page(res, url) {
    const q = (name) => url.searchParams.get(name);
    const perPage = Math.max(1, Math.min(Number(q("per_page") ?? 20) || 20, 50));
    const page = Math.max(Number(q("page") ?? 1) || 1, 1);
    if (page * perPage > this.resultCap) {
      this.#send(res, 400, {
        error: "Bad Request",
        troubleshoot: "Your query is limited to 10k results and pagination is out of bound, please use timestamps or other filters.",
      });
      return null;
    }
    return { page, perPage };
  }

  // Sorted (order=asc|desc, asc default; order_by=created_at|updated_at, created_at
  // default; ties by id), then paged.
  #sendContactPage(res, url, matching, paging) {
    const q = (name) => url.searchParams.get(name);
    const key = q("order_by") === "updated_at" ? "updated_at" : "created_at";
    const desc = q("order") === "desc";
    matching.sort((a, b) => (desc ? -1 : 1) * (a[key] - b[key] || a.id - b.id));
    this.#sendPage(res, url, "contacts", matching, paging, (c) => structuredClone(c));
  }

  // One page of `matching` under `name`, with Aircall's meta; its links keep the query's
  // other parameters.
  #sendPage(res, url, name, matching, { page, perPage }, show) {
    const items = matching.slice((page - 1) * perPage, page * perPage).map(show);
    const link = (p) => {
      const params = new URLSearchParams(url.searchParams);
      params.set("page", String(p));
      params.set("per_page", String(perPage));
      return `https://api.aircall.io${url.pathname}?${params}`;
    };
    this.#send(res, 200, {
      [name]: items,
      meta: {
        count: items.length,
        total: matching.length,
        current_page: page,
        per_page: perPage,
        next_page_link: page * perPage < matching.length ? link(page + 1) : null,
        previous_page_link: page > 1 ? link(page - 1) : null,
      },
    });
  }

  static #contactKind(method, pathname) {
    if (pathname === "/v1/contacts") return method === "GET" ? "list" : method === "POST" ? "create" : null;
    if (pathname === "/v1/contacts/search") return method === "GET" ? "search" : null;
    if (/^\/v1\/contacts\/\d+$/.test(pathname)) return { GET: "get", POST: "update", DELETE: "delete" }[method] ?? null;
    if (/^\/v1\/contacts\/\d+\/(phone|email)_details$/.test(pathname)) return method === "POST" ? "details" : null;
    if (/^\/v1\/contacts\/\d+\/(phone|email)_details\/\d+$/.test(pathname)) return ["PUT", "DELETE"].includes(method) ? "details" : null;
    return null;
  }

  // /v1/contacts/:id/phone_details and /email_details: POST adds one entry {label, value} (at
  // the end of the list), PUT .../:detail_id replaces one in place, DELETE removes one (a
  // contact keeps at least one phone number). Numbers must be E.164 as on create. The answer
  // is the contact (its exact shape is unconfirmed; the connector does not read it).
  #contactDetail(req, res, url, raw, apiId, contact) {
    const [, listName, detailId] = /\/(phone|email)_details(?:\/(\d+))?$/.exec(url.pathname);
    const field = listName === "phone" ? "phone_numbers" : "emails";
    const list = contact[field];
    const at = detailId === undefined ? -1 : list.findIndex((d) => d.id === Number(detailId));
    if (detailId !== undefined && at < 0) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Detail not found" });
    if (req.method === "DELETE") {
      if (field === "phone_numbers" && list.length === 1) {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "A contact needs at least one phone number" });
      }
      list.splice(at, 1);
    } else {
      let body;
      try {
        body = JSON.parse(raw || "{}");
      } catch {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "Invalid JSON" });
      }
      if (!body || typeof body.value !== "string" || (body.label != null && typeof body.label !== "string")) {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "Body must be {label, value}" });
      }
      if (field === "phone_numbers") {
        const error = FakeAircall.#contactError({ phone_numbers: [body] }, { create: false });
        if (error) return this.#send(res, 400, error);
      }
      const [item] = this.#items([body]);
      if (at < 0) list.push(item);
      else list[at] = { ...item, id: list[at].id };
    }
    if (this.contactsEditsBumpUpdatedAt) contact.updated_at = this.#nowSeconds();
    this.#send(res, req.method === "POST" ? 201 : 200, { contact: structuredClone(contact) });
    this.#contactEvent(apiId, "contact.updated", contact);
  }

  // Checks a create/update body. Every phone number must be E.164 exactly as sent (a "+",
  // then 7 to 15 digits, no spaces or dashes). A contact needs at least one phone number:
  // Aircall's create reference marks phone_numbers required (our reference does not say;
  // connectors such as Pipedream's require it too), so an empty list is refused on create
  // and, so that no contact is left without one, on update. Answers an error body or null.
  static #contactError(body, { create }) {
    const bad = (troubleshoot) => ({ error: "Bad Request", troubleshoot });
    if (!body || typeof body !== "object" || Array.isArray(body)) return bad("Body must be a JSON object");
    for (const f of FakeAircall.#scalarFields) {
      if (f in body && body[f] !== null && typeof body[f] !== "string") return bad(`${f} must be a string`);
    }
    for (const list of ["phone_numbers", "emails"]) {
      if (!(list in body)) continue;
      if (!Array.isArray(body[list])) return bad(`${list} must be an array of {label, value}`);
      for (const item of body[list]) {
        if (!item || typeof item !== "object" || typeof item.value !== "string") return bad(`${list} must be an array of {label, value}`);
      }
    }
    if ((create && !("phone_numbers" in body)) || ("phone_numbers" in body && body.phone_numbers.length === 0)) {
      return bad("A contact needs at least one phone number (phone_numbers)");
    }
    for (const { value } of body.phone_numbers ?? []) {
      if (!/^\+[1-9]\d{6,14}$/.test(value)) {
        return { error: `Invalid phone number: ${value}`, troubleshoot: `Phone number "${value}" is not in E.164 format (e.g. +18005550100): a "+", the country code and the number, up to 15 digits, no spaces or dashes` };
      }
    }
    return null;
  }

  // /v1/contacts... after authentication and the rate limit.
  #contactsApi(req, res, url, raw, apiId, kind) {
    const q = (name) => url.searchParams.get(name);
    const list = this.#contactList(apiId);
    if (kind === "list") {
      const paging = this.#page(res, url);
      if (!paging) return;
      // from/to filter created_at, with the bounds probed on calls: from exclusive, to inclusive.
      const from = q("from") === null ? -Infinity : Number(q("from"));
      const to = q("to") === null ? Infinity : Number(q("to"));
      return this.#sendContactPage(res, url, list.filter((c) => c.created_at > from && c.created_at <= to), paging);
    }
    if (kind === "search") {
      const paging = this.#page(res, url);
      if (!paging) return;
      // phone_number: equal to a stored value once spaces are removed from both (an unencoded
      // "+" in the query string reads as a space, as on any form-decoding server: send %2B).
      // email: equal ignoring case. Both given: both must match.
      const phone = q("phone_number") === null ? null : q("phone_number").replace(/\s/g, "");
      const email = q("email") === null ? null : q("email").toLowerCase();
      const matching = list.filter(
        (c) =>
          (phone === null || c.phone_numbers.some((p) => p.value.replace(/\s/g, "") === phone)) &&
          (email === null || c.emails.some((e) => String(e.value).toLowerCase() === email)),
      );
      return this.#sendContactPage(res, url, matching, paging);
    }
    let body;
    if (kind === "create" || kind === "update") {
      try {
        body = JSON.parse(raw || "{}");
      } catch {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "Invalid JSON" });
      }
    }
    if (kind === "create") {
      const error = FakeAircall.#contactError(body, { create: true });
      if (error) return this.#send(res, 400, error);
      const contact = this.#newContact(this.nextContactId++, body, this.#nowSeconds());
      list.push(contact);
      this.#send(res, 201, { contact: structuredClone(contact) });
      return this.#contactEvent(apiId, "contact.created", contact);
    }
    const id = Number(/^\/v1\/contacts\/(\d+)/.exec(url.pathname)[1]);
    const at = list.findIndex((c) => c.id === id);
    if (at < 0) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Contact not found" });
    const contact = list[at];
    if (kind === "get") return this.#send(res, 200, { contact: structuredClone(contact) });
    if (kind === "details") return this.#contactDetail(req, res, url, raw, apiId, contact);
    if (kind === "update") {
      // The plain update changes the scalar fields only: phone_numbers and emails are ignored.
      const { phone_numbers, emails, ...scalars } = body ?? {};
      const error = FakeAircall.#contactError(scalars, { create: false });
      if (error) return this.#send(res, 400, error);
      this.#applyContactChanges(contact, scalars);
      this.#send(res, 200, { contact: structuredClone(contact) });
      return this.#contactEvent(apiId, "contact.updated", contact);
    }
    // delete
    list.splice(at, 1);
    res.writeHead(204).end();
    this.#contactEvent(apiId, "contact.deleted", contact);
  }

  // Recording and voicemail files, like S3 presigned links: refused once expired; Range honoured.
  #recording(req, res, url) {
    const id = Number(/^\/(?:recordings|voicemails)\/(\d+)\.mp3/.exec(url.pathname)?.[1]);
    const expires = Number(url.searchParams.get("expires"));
    this.requests.push({ method: req.method, path: url.pathname, recording: true, range: req.headers.range });
    if (!(expires >= Date.now() / 1000)) {
      res.writeHead(403, { "content-type": "application/xml" }).end("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>");
      return;
    }
    const size = this.recordingBytes.get(id) ?? 48_000;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== "" ? Math.min(Number(range[2]), size - 1) : size - 1;
    const headers = { "content-type": "audio/mpeg", "content-length": String(end - start + 1), "accept-ranges": "bytes" };
    if (range) headers["content-range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === "HEAD") return res.end();
    // Streamed in chunks: a 200 MB recording is never held in memory here either.
    let at = start;
    const chunk = Buffer.alloc(64 * 1024, id % 251);
    const pump = () => {
      while (at <= end) {
        const n = Math.min(chunk.length, end - at + 1);
        at += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once("drain", pump);
      }
      res.end();
    };
    pump();
  }

  // --- OAuth (the connector as a technology partner's app) and rejected credentials ---
  // `oauthClient` is the app Aircall knows; `oauthGrantTo` the account the admin approves
  // for (null: the admin refuses). Codes work once, for 10 minutes; tokens never expire.
  oauthClient = { client_id: "client-e2e", client_secret: "client-secret-e2e" };
  oauthGrantTo = null;
  #oauthCodes = new Map(); // code -> {api_id, redirect_uri, expires}
  #bearerTokens = new Map(); // access_token -> api_id

  // What the account's plan lacks (e.g. the AI package): Aircall answers these paths 403
  // "company is not active/verified", while the credentials still work (`/v1/ping` is 200).
  #forbidden = new Map(); // api_id -> [path prefixes]
  forbid(apiId, pathPrefix) {
    this.#forbidden.set(apiId, [...(this.#forbidden.get(apiId) ?? []), pathPrefix]);
  }

  // Aircall now rejects every credential of the account (the admin changed them): a new
  // API token must be given; the account's OAuth tokens are revoked.
  rejectCredentials(apiId) {
    this.keys.set(apiId, `revoked-${randomBytes(8).toString("hex")}`);
    for (const [token, id] of this.#bearerTokens) if (id === apiId) this.#bearerTokens.delete(token);
  }

  #oauth(req, res, url, raw) {
    this.requests.push({ method: req.method, path: url.pathname, oauth: true });
    if (req.method === "GET" && url.pathname === "/oauth/authorize") {
      const q = (n) => url.searchParams.get(n);
      if (q("client_id") !== this.oauthClient.client_id || q("response_type") !== "code" || q("scope") !== "public_api" || !q("redirect_uri")) {
        return this.#send(res, 400, { error: "invalid_request" });
      }
      const back = new URL(q("redirect_uri"));
      if (q("state") !== null) back.searchParams.set("state", q("state"));
      if (!this.oauthGrantTo) {
        back.searchParams.set("error", "access_denied");
      } else {
        const code = randomBytes(12).toString("hex");
        this.#oauthCodes.set(code, { api_id: this.oauthGrantTo, redirect_uri: q("redirect_uri"), expires: Date.now() + 600_000 });
        back.searchParams.set("code", code);
      }
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/v1/oauth/token") {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return this.#send(res, 400, { error: "invalid_request" });
      }
      if (body.client_id !== this.oauthClient.client_id || body.client_secret !== this.oauthClient.client_secret) {
        return this.#send(res, 401, { error: "invalid_client" });
      }
      const grant = this.#oauthCodes.get(body.code);
      this.#oauthCodes.delete(body.code);
      if (body.grant_type !== "authorization_code" || !grant || grant.expires < Date.now() || grant.redirect_uri !== body.redirect_uri) {
        return this.#send(res, 400, { error: "invalid_grant" });
      }
      const token = randomBytes(20).toString("hex");
      this.#bearerTokens.set(token, grant.api_id);
      return this.#send(res, 200, { access_token: token, token_type: "Bearer", scope: "public_api" });
    }
    this.#send(res, 404, { error: "Not Found" });
  }

  // --- Insight cards (reference: "Insight cards") ---------------------------------------
  // POST /v1/calls/:id/insight_cards with {"contents": [{"type": "title", "text", "link"?},
  // {"type": "shortText", "label"?, "text", "link"?}, ...]}. The reference gives no answer
  // shape: chosen 201 with an empty object (the connector accepts any 2xx). A call the
  // account does not have (not seeded with addCalls, nor announced with liveCall) is 404; a
  // body not of that shape is 400. Each card is kept with when it arrived, for tests.
  insightCards = []; // {api_id, call_id, contents, at (ms since epoch)}
  #liveCalls = new Set(); // `${api_id}:${call_id}` of ringing calls (not in the calls list yet)

  // A call that is ringing now (call.created sent): it may get cards.
  liveCall(apiId, callId) {
    this.#liveCalls.add(`${apiId}:${callId}`);
  }

  cardsFor(callId) {
    return this.insightCards.filter((c) => c.call_id === Number(callId));
  }

  static cardProblem(body) {
    if (!body || typeof body !== "object" || !Array.isArray(body.contents) || body.contents.length === 0) {
      return "contents must be a non-empty array of blocks";
    }
    for (const [i, block] of body.contents.entries()) {
      if (!block || typeof block !== "object") return `contents[${i}] must be an object`;
      if (block.type !== "title" && block.type !== "shortText") return `contents[${i}].type must be title or shortText`;
      if (typeof block.text !== "string" || block.text === "") return `contents[${i}].text must be a non-empty string`;
      if (block.link !== undefined && (typeof block.link !== "string" || !/^https?:\/\//.test(block.link))) return `contents[${i}].link must be a URL`;
      if (block.label !== undefined && (block.type !== "shortText" || typeof block.label !== "string")) return `contents[${i}].label is a shortText's string`;
      const extra = Object.keys(block).find((k) => !["type", "text", "link", "label"].includes(k));
      if (extra) return `contents[${i}].${extra} is not a block field`;
    }
    return null;
  }

  #insightCard(res, apiId, callId, raw) {
    const known = this.#liveCalls.has(`${apiId}:${callId}`) || (this.calls.get(apiId) ?? []).some((c) => c.id === callId);
    if (!known) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Call not found" });
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return this.#send(res, 400, { error: "Bad Request", troubleshoot: "Invalid JSON" });
    }
    const problem = FakeAircall.cardProblem(body);
    if (problem) return this.#send(res, 400, { error: "Bad Request", troubleshoot: problem });
    this.insightCards.push({ api_id: apiId, call_id: callId, contents: body.contents, at: Date.now() });
    return this.#send(res, 201, {});
  }
  // --- end of insight cards ---------------------------------------------------------------

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url, "http://x");
    if (/^\/(recordings|voicemails)\//.test(url.pathname)) return this.#recording(req, res, url);
    if (url.pathname === "/oauth/authorize" || url.pathname === "/v1/oauth/token") return this.#oauth(req, res, url, raw);
    const apiId = this.#authenticate(req);
    this.requests.push({ method: req.method, path: url.pathname, api_id: apiId });
    // Counted like `requests`: every attempt, including those answered 401, 429 or 503.
    const contactKind = FakeAircall.#contactKind(req.method, url.pathname);
    if (contactKind) this.contactRequests[contactKind] += 1;
    if (this.down) return this.#send(res, 503, { error: "Service Unavailable" });
    if (!apiId) {
      return this.#send(res, 401, { error: "Unauthorized", troubleshoot: "Check your API ID and API token" });
    }
    if (this.#rateLimited(apiId, res)) return;
    if ((this.#forbidden.get(apiId) ?? []).some((prefix) => url.pathname.startsWith(prefix))) {
      return this.#send(res, 403, { error: "Forbidden", message: "company is not active/verified" });
    }

    if (req.method === "GET" && url.pathname === "/v1/ping") return this.#send(res, 200, { ping: "pong" });

    if (req.method === "POST" && url.pathname === "/v1/webhooks") {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "Invalid JSON" });
      }
      if (typeof body.url !== "string" || !/^https?:\/\//.test(body.url)) {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "url must be a valid URL" });
      }
      if (this.webhooksOf(apiId).length >= 100) {
        return this.#send(res, 400, { error: "Bad Request", troubleshoot: "Webhooks limit reached (100)" });
      }
      const webhook = {
        webhook_id: crypto.randomUUID(),
        direct_link: "",
        created_at: new Date().toISOString(),
        url: body.url,
        active: true,
        events: body.events ?? [],
        custom_name: body.custom_name ?? "Webhook",
        token: randomBytes(16).toString("hex"),
      };
      webhook.direct_link = `https://api.aircall.io/v1/webhooks/${webhook.webhook_id}`;
      this.webhooks.set(webhook.webhook_id, { ...webhook, api_id: apiId });
      return this.#send(res, 201, { webhook });
    }

    if (contactKind) return this.#contactsApi(req, res, url, raw, apiId, contactKind);

    if (req.method === "GET" && url.pathname === "/v1/numbers") {
      const paging = this.#page(res, url);
      if (!paging) return;
      const numbers = [...(this.numbers.get(apiId) ?? [])].sort((a, b) => a.id - b.id);
      return this.#sendPage(res, url, "numbers", numbers, paging, (n) => structuredClone(n));
    }
    const oneNumber = /^\/v1\/numbers\/(\d+)$/.exec(url.pathname);
    if (req.method === "GET" && oneNumber) {
      const number = (this.numbers.get(apiId) ?? []).find((n) => n.id === Number(oneNumber[1]));
      if (!number) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Number not found" });
      return this.#send(res, 200, { number: structuredClone(number) });
    }
    if (req.method === "GET" && url.pathname === "/v1/calls") return this.#listCalls(res, url, apiId);
    const oneCall = /^\/v1\/calls\/(\d+)$/.exec(url.pathname);
    if (req.method === "GET" && oneCall) {
      const call = (this.calls.get(apiId) ?? []).find((c) => c.id === Number(oneCall[1]));
      if (!call) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Call not found" });
      return this.#send(res, 200, { call: this.#shown(call, { fetchContact: url.searchParams.get("fetch_contact") === "true" }) });
    }

    const card = /^\/v1\/calls\/(\d+)\/insight_cards$/.exec(url.pathname);
    if (req.method === "POST" && card) return this.#insightCard(res, apiId, Number(card[1]), raw);

    const ai = FakeAircall.aiPath.exec(url.pathname);
    if (req.method === "GET" && ai) {
      if (this.noAiPackage.has(apiId)) return this.#send(res, 403, { error: "Forbidden", message: "company is not active/verified" });
      const served = this.aiData.get(`${apiId}:${ai[1]}`)?.[ai[2]];
      if (!served) return this.#send(res, 404, { error: "Not Found", troubleshoot: `No ${ai[2]} for this call` });
      return this.#send(res, 200, served);
    }

    const one = /^\/v1\/webhooks\/([^/]+)$/.exec(url.pathname);
    if (one) {
      const webhook = this.webhooks.get(one[1]);
      if (!webhook || webhook.api_id !== apiId) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Webhook not found" });
      if (req.method === "DELETE") {
        this.webhooks.delete(one[1]);
        res.writeHead(204).end();
        return;
      }
      const { api_id, ...shown } = webhook;
      return this.#send(res, 200, { webhook: shown });
    }
    this.#send(res, 404, { error: "Not Found" });
  }
}

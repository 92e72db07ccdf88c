// A local fake of HubSpot's CRM v3 API (contacts, calls, owners), following
// ../shared/reference/destinations.md and HubSpot's public docs: Bearer private-app tokens,
// a rolling 10-second budget per token answered with a 429 naming TEN_SECONDLY_ROLLING (no
// Retry-After: HubSpot's own SDK waits a fixed time per policy), a separate search budget per
// second (policy SECONDLY), search limits (5 groups, 10 filters a group, 25 in all since
// August 2024; 200 a page; 10,000 per query), an indexing delay before writes show in search,
// batches of at most 100,
// 409 on a duplicate e-mail, and no idempotency on creates. Where HubSpot's docs leave a shape
// open, the comment at that place says "chosen".
import http from "node:http";
import { randomUUID } from "node:crypto";

const CALL_STATUSES = ["BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING"];
const CALL_TO_CONTACT = 194; // HUBSPOT_DEFINED association type "call_to_contact"
// Properties a GET or a search answers with when none are asked for (HubSpot's defaults).
const DEFAULTS = {
  contacts: ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
  calls: ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
  deals: ["amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"],
};
const STAMPS = { contacts: ["createdate", "lastmodifieddate"], calls: ["hs_createdate", "hs_lastmodifieddate"], deals: ["createdate", "hs_lastmodifieddate"] };
const BATCH_MAX = 100;
// HubSpot's changelog of August 2024: 5 groups, 10 filters a group, 25 in all. The values of
// one IN/NOT_IN filter: chosen 100 (HubSpot's docs name no figure; the connector assumes 100).
const SEARCH = { groups: 5, perGroup: 10, filters: 25, pageMax: 200, values: 100 };
const OPERATORS = ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"];

class HubSpotError extends Error {
  constructor(status, category, message, extra = {}) {
    super(message);
    Object.assign(this, { status, category, extra });
  }
}
const invalid = (message, extra) => new HubSpotError(400, "VALIDATION_ERROR", message, extra);

export class FakeHubSpot {
  constructor({
    tokens = ["pat-na1-fake"], // private-app tokens the account accepts
    rateLimit = 100, // requests per rolling window per token (Free/Starter: 100 / 10 s)
    rateWindowMs = 10_000,
    searchPerSecond = 5, // HubSpot: "five requests per second per account" on search
    searchIndexDelayMs = 0, // HubSpot documents seconds before a write is searchable
    resultCap = 10_000, // search results reachable per query; tests may scale it down
    dailyLimit = Infinity, // requests per token per day (HubSpot: 250,000 on Free/Starter)
  } = {}) {
    Object.assign(this, { rateLimit, rateWindowMs, searchPerSecond, searchIndexDelayMs, resultCap, dailyLimit });
    this.tokens = new Set(tokens);
    this.requests = []; // {method, path, query, body, token, status, at}
    this.counters = { requests: 0, tooManyRequests: 0, searches: 0, byPolicy: { TEN_SECONDLY_ROLLING: 0, SECONDLY: 0, DAILY: 0 } };
    this.contacts = new Map(); // id -> {id, properties, createdAt, updatedAt, archived}
    this.calls = new Map(); // id -> {id, properties, createdAt, updatedAt, archived, contactIds: [id]}
    this.owners = []; // {id, email, firstName, lastName, userId, archived, createdAt, updatedAt}
    this.failures = { remaining: 0, status: 500, token: null }; // failNext(n) sets it
    this.locked = 0; // writes still answered 423 Locked (lockNext(n) sets it)
    this.deals = new Map(); // id -> {id, properties, createdAt, updatedAt, archived, contactIds: [id]}
    this.portalId = 4242; // the account's id, in its pages' URLs
    this.limited = 0; // requests still answered 429 TEN_SECONDLY_ROLLING (limitNext(n) sets it)
  }

  #daily = new Map(); // token -> requests counted today

  #windows = new Map(); // token -> timestamps of counted requests
  #searchWindows = new Map(); // token -> timestamps of counted searches
  #index = new Map(); // contact id -> snapshot as search sees it
  #pending = []; // {at, id, snapshot|null}: writes not yet searchable
  #nextId = { contacts: 1001, calls: 50_001, owners: 301, deals: 70_001 };
  #lastTime = 0;

  async start(port = 0) {
    this.server = http.createServer((req, res) => this.#handle(req, res).catch(() => res.destroy()));
    await new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  close() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(resolve));
  }

  stop() {
    return this.close(); // the name the other fakes use
  }

  addToken(token) {
    this.tokens.add(token);
    return token;
  }

  // The next n authenticated, in-budget requests (of `token` only, if given) answer `status`
  // (a HubSpot outage).
  failNext(n, status = 500, { token = null } = {}) {
    this.failures = { remaining: n, status, token };
  }

  // The next n writes (POST/PATCH/PUT/DELETE other than searches) answer 423 Locked, as
  // HubSpot does while a bulk operation holds the records (clients wait ~2 s and retry).
  lockNext(n) {
    this.locked = n;
  }

  // The fake's clock: real time in ms, strictly increasing so every write is ordered.
  now() {
    this.#lastTime = Math.max(Date.now(), this.#lastTime + 1);
    return this.#lastTime;
  }

  addOwner({ email, firstName = "", lastName = "", userId } = {}) {
    const id = String(this.#nextId.owners++);
    const at = new Date(this.now()).toISOString();
    const owner = { id, email, firstName, lastName, userId: userId ?? Number(id) + 9000, createdAt: at, updatedAt: at, archived: false };
    this.owners.push(owner);
    return owner;
  }

  // Seeds a contact directly (no request counted); seeded records are searchable at once.
  addContact(properties = {}) {
    const record = this.#create("contacts", properties);
    this.#index.set(record.id, structuredClone(record));
    return record;
  }

  // n contacts, fn(i) giving the properties of the i-th (0-based).
  seedContacts(n, fn = (i) => ({ email: `contact${i}@example.com`, firstname: `First${i}`, lastname: `Last${i}` })) {
    return Array.from({ length: n }, (_, i) => this.addContact(fn(i)));
  }

  contactByEmail(email) {
    const wanted = String(email).toLowerCase();
    return [...this.contacts.values()].find((c) => c.properties.email?.toLowerCase() === wanted);
  }

  // --- Caller context (insight cards): deals, logged calls, search by associated contact ---
  // A contact's open deals and its last logged call are found with a search filtered on the
  // association, as HubSpot's CRM search allows (`"propertyName": "associations.contact",
  // "operator": "EQ", "value": <contact id>`), with HubSpot's limits on filters and pages.
  // Deals have `amount` (a number as a string), `dealstage`, `pipeline`, `dealname` and the
  // calculated `hs_is_closed` ("true"/"false": chosen, from the stage: closedwon/closedlost
  // close a deal in the default pipeline). Seeded records are searchable at once.

  // The next n requests (any token) answer 429 TEN_SECONDLY_ROLLING, as when another app of
  // the account spent the limit.
  limitNext(n) {
    this.limited = n;
  }

  addDeal({ contactIds = [], ...properties } = {}) {
    const stage = properties.dealstage ?? "appointmentscheduled";
    const closed = stage === "closedwon" || stage === "closedlost";
    const record = this.#create("deals", { pipeline: "default", ...properties, dealstage: stage, hs_is_closed: String(closed) });
    record.contactIds = contactIds.map(String);
    return record;
  }

  // A call logged on a contact earlier (by anyone): `hs_timestamp` in ms or ISO.
  addLoggedCall(contactId, properties = {}) {
    const record = this.#create("calls", this.#validateCall({ hs_timestamp: this.now(), ...properties }, true));
    record.contactIds = [String(contactId)];
    this.touchActivity(record.contactIds);
    return record;
  }

  // HubSpot keeps on every contact `notes_last_updated` ("Last Activity Date": the newest
  // `hs_timestamp` of the calls, notes, tasks... associated with it) and `notes_last_contacted`
  // ("Last Contacted": calls, meetings, sales e-mails; here: calls), as ISO-8601 strings with
  // milliseconds. Recomputed when an engagement is created with an inline association to the
  // contact, associated to it later (v4), or its hs_timestamp changes. HubSpot describes
  // lastmodifieddate as the "most recent timestamp of any property update for this contact,
  // including HubSpot internal properties": a change of either date moves it too (so contact
  // sync sees the contact again after each call logged on it), and reaches search after the
  // indexing delay, as any contact change does.
  touchActivity(contactIds = []) {
    for (const id of new Set(contactIds.map(String))) {
      const contact = this.contacts.get(id);
      if (!contact) continue;
      const newest = (types) => {
        const times = types.flatMap((t) => [...this[t].values()].filter((r) => r.contactIds?.includes(id)).map((r) => toMs(r.properties.hs_timestamp)));
        const valid = times.filter((t) => !Number.isNaN(t));
        return valid.length ? new Date(Math.max(...valid)).toISOString() : undefined;
      };
      const updated = newest(["calls", "notes", "tasks"]);
      const contacted = newest(["calls"]);
      const changed = {};
      if (updated && updated !== contact.properties.notes_last_updated) changed.notes_last_updated = updated;
      if (contacted && contacted !== contact.properties.notes_last_contacted) changed.notes_last_contacted = contacted;
      if (Object.keys(changed).length === 0) continue;
      this.#update("contacts", contact, changed);
      this.#indexLater("contacts", contact);
    }
  }

  // HubSpot answering slowly: from hang() until release(), every request is held unanswered
  // (logged with status 0), then answered as usual, late (the caller may have given up).
  hang() {
    this.#hung ??= new Promise((resolve) => (this.#release = resolve));
  }

  release() {
    const release = this.#release;
    this.#hung = null;
    this.#release = null;
    release?.();
  }

  #hung = null;
  #release = null;

  searchByContact(type, body) {
    const filters = (body.filterGroups ?? []).flatMap((g) => g.filters ?? []);
    if ((body.filterGroups ?? []).length > SEARCH.groups || filters.length > SEARCH.filters) throw invalid("Too many filters");
    for (const f of filters) if (f.propertyName !== "associations.contact") checkFilter(f);
    const limit = Number(body.limit ?? 10);
    if (!(limit >= 1 && limit <= SEARCH.pageMax)) throw invalid(`limit must be between 1 and ${SEARCH.pageMax}`);
    const hit = (record, f) => {
      if (f.propertyName !== "associations.contact") return matches(record, f);
      if (f.operator !== "EQ") throw invalid("associations.contact takes EQ");
      return record.contactIds.includes(String(f.value));
    };
    const groups = body.filterGroups ?? [];
    const found = [...this[type].values()].filter((r) => !groups.length || groups.some((g) => (g.filters ?? []).every((f) => hit(r, f))));
    const key = body.sorts?.[0];
    found.sort((a, b) => (key ? compare(a.properties[key.propertyName], b.properties[key.propertyName]) * (key.direction === "DESCENDING" ? -1 : 1) : 0) || Number(a.id) - Number(b.id));
    const after = Number(body.after ?? 0) || 0;
    const page = found.slice(after, after + limit).map((r) => this.#shown(type, r, body.properties));
    const result = { total: found.length, results: page };
    if (after + limit < found.length) result.paging = { next: { after: String(after + limit) } };
    return result;
  }
  // --- end of caller context ---------------------------------------------------------------

  // --- records ---

  #create(type, properties) {
    const id = String(this.#nextId[type]++);
    const at = this.now();
    const [created, modified] = STAMPS[type];
    const iso = new Date(at).toISOString();
    const record = { id, properties: {}, createdAt: iso, updatedAt: iso, archived: false };
    Object.assign(record.properties, this.#strings(properties), { [created]: iso, [modified]: iso, hs_object_id: id });
    if (type === "calls") record.contactIds = [];
    this[type].set(id, record);
    return record;
  }

  // Every write bumps the modified stamps and queues the new state for the search index.
  #update(type, record, properties) {
    const iso = new Date(this.now()).toISOString();
    Object.assign(record.properties, this.#strings(properties), { [STAMPS[type][1]]: iso });
    record.updatedAt = iso;
    return record;
  }

  #indexLater(type, record, deleted = false) {
    if (type !== "contacts") return; // only contacts are searched here
    this.#pending.push({ at: Date.now() + this.searchIndexDelayMs, id: record.id, snapshot: deleted ? null : structuredClone(record) });
  }

  // HubSpot stores every property value as a string.
  #strings(properties = {}) {
    return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]));
  }

  // A record as the API shows it: the asked-for properties (null when unset) or the defaults;
  // HubSpot always adds the create/modify stamps and hs_object_id.
  #shown(type, record, wanted, associations) {
    const names = new Set([...(wanted?.length ? wanted : DEFAULTS[type]), ...STAMPS[type], "hs_object_id"]);
    const properties = Object.fromEntries([...names].map((n) => [n, record.properties[n] ?? null]));
    const shown = { id: record.id, properties, createdAt: record.createdAt, updatedAt: record.updatedAt, archived: false };
    if (associations && type === "calls") {
      shown.associations = { contacts: { results: record.contactIds.map((id) => ({ id, type: "call_to_contact" })) } };
    }
    return shown;
  }

  #emailTaken(email, exceptId) {
    const other = email ? this.contactByEmail(email) : undefined;
    if (other && other.id !== exceptId) {
      throw new HubSpotError(409, "CONFLICT", `Contact already exists. Existing ID: ${other.id}`);
    }
  }

  // --- calls: HubSpot validates property values and associations ---

  #validateCall(properties = {}, creating) {
    const errors = [];
    const bad = (name, code, message) => errors.push({ message, code, context: { propertyName: [name] } });
    const has = (n) => properties[n] !== undefined && properties[n] !== null && properties[n] !== "";
    if (creating && !has("hs_timestamp")) bad("hs_timestamp", "REQUIRED_FIELD", "hs_timestamp is required");
    if (has("hs_timestamp") && Number.isNaN(toMs(properties.hs_timestamp))) bad("hs_timestamp", "INVALID_DATE", "hs_timestamp is not a date");
    if (has("hs_call_duration") && !/^\d+$/.test(String(properties.hs_call_duration))) {
      bad("hs_call_duration", "INVALID_INTEGER", `${properties.hs_call_duration} is not a valid number`);
    }
    if (has("hs_call_direction") && !["INBOUND", "OUTBOUND"].includes(properties.hs_call_direction)) {
      bad("hs_call_direction", "INVALID_OPTION", `${properties.hs_call_direction} is not a valid option`);
    }
    if (has("hs_call_status") && !CALL_STATUSES.includes(properties.hs_call_status)) {
      bad("hs_call_status", "INVALID_OPTION", `${properties.hs_call_status} is not a valid option`);
    }
    // HubSpot refuses a property the portal does not define (its own hs_* ones, the owner,
    // and those created through the properties API, see the AI block below).
    for (const name of Object.keys(properties)) {
      if (!name.startsWith("hs_") && name !== "hubspot_owner_id" && !this.callProperties.has(name)) {
        bad(name, "PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`);
      }
    }
    if (errors.length) {
      // Chosen: HubSpot's "Property values were not valid" body, one entry per property.
      throw invalid(`Property values were not valid: ${JSON.stringify(errors.map((e) => e.message))}`, { errors });
    }
    // Chosen: datetime properties come back as ISO-8601, whether sent as ms or ISO.
    if (has("hs_timestamp")) return { ...properties, hs_timestamp: new Date(toMs(properties.hs_timestamp)).toISOString() };
    return properties;
  }

  #callAssociations(associations = []) {
    return associations.map((a) => {
      const id = String(a?.to?.id ?? "");
      const types = a?.types ?? [];
      if (!types.length || !types.every((t) => t.associationCategory === "HUBSPOT_DEFINED" && t.associationTypeId === CALL_TO_CONTACT)) {
        throw invalid(`Invalid association type for call to contact ${id}: use HUBSPOT_DEFINED ${CALL_TO_CONTACT}`);
      }
      // Chosen: a missing target is a 400 naming it, as HubSpot refuses the whole create.
      if (!this.contacts.has(id)) throw invalid(`One or more associations are invalid: contact ${id} does not exist`);
      return id;
    });
  }

  // --- search ---

  #searchable() {
    const now = Date.now();
    this.#pending = this.#pending.filter((p) => {
      if (p.at > now) return true;
      if (p.snapshot) this.#index.set(p.id, p.snapshot);
      else this.#index.delete(p.id);
      return false;
    });
    return [...this.#index.values()];
  }

  #search(body) {
    const groups = body.filterGroups ?? [];
    const total = groups.reduce((n, g) => n + (g.filters?.length ?? 0), 0);
    if (groups.length > SEARCH.groups || groups.some((g) => (g.filters?.length ?? 0) > SEARCH.perGroup) || total > SEARCH.filters) {
      throw invalid(`Too many filters: at most ${SEARCH.groups} filterGroups, ${SEARCH.perGroup} filters each, ${SEARCH.filters} in all`);
    }
    // Every filter is checked before any record is, as HubSpot refuses the request whole.
    for (const f of groups.flatMap((g) => g.filters ?? [])) checkFilter(f);
    const limit = Number(body.limit ?? 10);
    if (!(limit >= 1 && limit <= SEARCH.pageMax)) throw invalid(`limit must be between 1 and ${SEARCH.pageMax}`);
    const after = Number(body.after ?? 0) || 0;
    if (after + limit > this.resultCap) {
      throw invalid(`Search results are limited to ${this.resultCap}; after=${after} with limit=${limit} is out of bounds`);
    }
    // filterGroups are ORed, filters in a group ANDed; no groups: every record.
    const matching = this.#searchable().filter((r) => !groups.length || groups.some((g) => (g.filters ?? []).every((f) => matches(r, f))));
    // HubSpot honours one sort; chosen default without one: by id, ascending.
    const sort = body.sorts?.[0];
    const key = typeof sort === "string" ? { propertyName: sort.replace(/^-/, ""), direction: sort.startsWith("-") ? "DESCENDING" : "ASCENDING" } : sort;
    matching.sort((a, b) => (key ? compare(a.properties[key.propertyName], b.properties[key.propertyName]) * (key.direction === "DESCENDING" ? -1 : 1) : 0) || Number(a.id) - Number(b.id));
    const page = matching.slice(after, after + limit).map((r) => this.#shown("contacts", r, body.properties));
    const result = { total: matching.length, results: page };
    if (after + limit < matching.length) result.paging = { next: { after: String(after + limit) } };
    return result;
  }

  // --- HTTP ---

  #send(res, status, body, headers = {}) {
    if (status === 204) return res.writeHead(204, headers).end();
    res.writeHead(status, { "content-type": "application/json;charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  }

  #error(res, status, category, message, extra = {}) {
    this.#send(res, status, { status: "error", message, correlationId: randomUUID(), category, ...extra });
  }

  // Rolling window: a request counts if it came less than windowMs ago. A refused request
  // does not count (chosen; it does not make the wait longer).
  #admit(windows, token, limit, windowMs) {
    const now = Date.now();
    const stamps = (windows.get(token) ?? []).filter((t) => now - t < windowMs);
    windows.set(token, stamps);
    if (stamps.length >= limit) return { ok: false };
    stamps.push(now);
    return { ok: true, remaining: limit - stamps.length };
  }

  #tooMany(res, policyName, message) {
    this.counters.tooManyRequests += 1;
    this.counters.byPolicy[policyName] += 1;
    // No Retry-After: HubSpot's SDK waits a fixed time per policy (10 s / 1 s) instead.
    this.#send(res, 429, { status: "error", message, errorType: "RATE_LIMIT", correlationId: randomUUID(), policyName });
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url, "http://x");
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? null;
    let body;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const entry = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body, token, status: 0, at: Date.now() };
    this.requests.push(entry);
    this.counters.requests += 1;
    if (this.#hung) await this.#hung;
    const send = res.writeHead.bind(res);
    res.writeHead = (status, ...rest) => ((entry.status = status), send(status, ...rest));

    if (!token || !this.tokens.has(token)) {
      return this.#error(res, 401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview");
    }
    const today = (this.#daily.get(token) ?? 0) + 1;
    this.#daily.set(token, today);
    if (today > this.dailyLimit) return this.#tooMany(res, "DAILY", "You have reached your daily limit.");
    if (this.limited > 0) {
      this.limited -= 1;
      return this.#tooMany(res, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.");
    }
    const budget = this.#admit(this.#windows, token, this.rateLimit, this.rateWindowMs);
    if (!budget.ok) return this.#tooMany(res, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.");
    const isSearch = req.method === "POST" && /^\/crm\/v3\/objects\/\w+\/search$/.test(url.pathname);
    let headers = {
      "x-hubspot-ratelimit-max": String(this.rateLimit),
      "x-hubspot-ratelimit-remaining": String(budget.remaining),
      "x-hubspot-ratelimit-interval-milliseconds": String(this.rateWindowMs),
    };
    if (isSearch) {
      this.counters.searches += 1;
      headers = {}; // HubSpot sends no rate-limit headers on search responses
      if (!this.#admit(this.#searchWindows, token, this.searchPerSecond, 1000).ok) {
        return this.#tooMany(res, "SECONDLY", "You have reached your secondly limit.");
      }
    }
    if (this.failures.remaining > 0 && (this.failures.token ?? token) === token) {
      this.failures.remaining -= 1;
      return this.#error(res, this.failures.status, "INTERNAL_ERROR", "internal error");
    }
    if (this.locked > 0 && req.method !== "GET" && !isSearch) {
      this.locked -= 1;
      return this.#error(res, 423, "LOCKED", "The resource is locked by another operation; retry in a few seconds.");
    }
    if (typeof body === "string") return this.#error(res, 400, "VALIDATION_ERROR", "Invalid input JSON on line 1");
    try {
      const [status, answer] = this.#route(req.method, url, body ?? {});
      this.#send(res, status, answer, headers);
    } catch (e) {
      if (!(e instanceof HubSpotError)) throw e;
      this.#error(res, e.status, e.category, e.message, e.extra);
    }
  }

  #route(method, url, body) {
    const path = url.pathname;
    const q = (n) => url.searchParams.get(n);
    const list = (n) => (q(n) ? q(n).split(",").map((s) => s.trim()).filter(Boolean) : undefined);
    const ai = this.#routeAi(method, path, body, list);
    if (ai) return ai;

    // Owners: limit up to 500; chosen: the `after` cursor is an offset.
    if (method === "GET" && path === "/crm/v3/owners") {
      const limit = Math.min(Number(q("limit") ?? 100) || 100, 500);
      const after = Number(q("after") ?? 0) || 0;
      const email = q("email")?.toLowerCase();
      const owners = this.owners.filter((o) => !email || o.email.toLowerCase() === email);
      const answer = { results: owners.slice(after, after + limit) };
      if (after + limit < owners.length) answer.paging = { next: { after: String(after + limit) } };
      return [200, answer];
    }

    // Chosen: the fields of HubSpot's answer the connector reads, and a few others.
    if (method === "GET" && path === "/account-info/v3/details") {
      return [200, { portalId: this.portalId, accountType: "STANDARD", timeZone: "US/Eastern", companyCurrency: "USD", uiDomain: "app.hubspot.com", dataHostingLocation: "na1" }];
    }
    const byContact = /^\/crm\/v3\/objects\/(deals|calls)\/search$/.exec(path);
    if (byContact && method === "POST") return [200, this.searchByContact(byContact[1], body)];

    const m = /^\/crm\/v3\/objects\/(contacts|calls)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found");
    const [, type, sub, action] = m;
    const store = this[type];

    if (!sub) {
      if (method === "GET") {
        // Chosen: a limit over 100 is refused as HubSpot validates it, not silently clamped.
        const limit = Number(q("limit") ?? 10);
        if (!(limit >= 1 && limit <= BATCH_MAX)) throw invalid(`limit must be between 1 and ${BATCH_MAX}`);
        // Chosen: the opaque `after` cursor is the id of the next record.
        const all = [...store.values()].sort((a, b) => Number(a.id) - Number(b.id));
        const after = q("after");
        const from = after ? all.findIndex((r) => Number(r.id) >= Number(after)) : 0;
        const page = from < 0 ? [] : all.slice(from, from + limit);
        const answer = { results: page.map((r) => this.#shown(type, r, list("properties"), q("associations"))) };
        const next = from < 0 ? undefined : all[from + limit];
        if (next) answer.paging = { next: { after: next.id, link: `${this.url}${path}?after=${next.id}` } };
        return [200, answer];
      }
      if (method === "POST") {
        if (type === "contacts") {
          this.#emailTaken(body.properties?.email);
          const record = this.#create(type, body.properties);
          this.#indexLater(type, record);
          return [201, this.#shown(type, record, Object.keys(body.properties ?? {}))];
        }
        const properties = this.#validateCall(body.properties, true);
        const contactIds = this.#callAssociations(body.associations);
        const record = this.#create(type, properties);
        record.contactIds = contactIds; // no idempotency: every POST is a new call
        this.touchActivity(contactIds);
        return [201, this.#shown(type, record, Object.keys(properties))];
      }
    }

    if (sub === "batch" && method === "POST") return this.#batch(type, action, body);
    if (sub === "search" && !action && method === "POST" && type === "contacts") return [200, this.#search(body)];

    if (sub && !action) {
      const record = store.get(sub);
      if (!record) throw new HubSpotError(404, "OBJECT_NOT_FOUND", `resource not found`);
      if (method === "GET") return [200, this.#shown(type, record, list("properties"), q("associations")?.includes("contacts"))];
      if (method === "PATCH") {
        let properties = body.properties ?? {};
        if (type === "calls") properties = this.#validateCall(properties, false);
        else this.#emailTaken(properties.email, record.id);
        this.#update(type, record, properties);
        this.#indexLater(type, record);
        if (type === "calls" && properties.hs_timestamp !== undefined) this.touchActivity(record.contactIds);
        return [200, this.#shown(type, record, Object.keys(properties))];
      }
      if (method === "DELETE") {
        store.delete(sub);
        this.#indexLater(type, record, true);
        return [204];
      }
    }
    throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found");
  }

  // Batch endpoints: at most 100 inputs; results in HubSpot's BatchResponse shape; ids not
  // found come back as errors with a 207 (multi-status) when anything was found or done.
  #batch(type, action, body) {
    const inputs = body.inputs ?? [];
    if (!Array.isArray(inputs) || inputs.length > BATCH_MAX) throw invalid(`Batch input cannot exceed ${BATCH_MAX} inputs, got ${inputs.length}`);
    const startedAt = new Date().toISOString();
    const answer = (status, results, missing = []) => {
      const out = { status: "COMPLETE", results, startedAt, completedAt: new Date().toISOString() };
      if (missing.length) {
        Object.assign(out, {
          numErrors: 1,
          errors: [{ status: "error", category: "OBJECT_NOT_FOUND", message: `Could not get some ${type.toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`, context: { ids: missing } }],
        });
      }
      return [missing.length ? 207 : status, out];
    };
    const find = (id, idProperty) =>
      idProperty === "email" ? this.contactByEmail(id) : idProperty && idProperty !== "hs_object_id" ? [...this[type].values()].find((r) => r.properties[idProperty] === String(id)) : this[type].get(String(id));

    if (action === "read") {
      const found = [];
      const missing = [];
      for (const { id } of inputs) {
        const record = find(id, body.idProperty);
        if (record) found.push(this.#shown(type, record, body.properties));
        else missing.push(String(id));
      }
      return answer(200, found, missing);
    }
    if (type !== "contacts") throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found"); // chosen: calls batches not faked
    if (action === "create") {
      // HubSpot refuses the whole batch on a duplicate e-mail, naming the first one.
      const emails = inputs.map((i) => i.properties?.email?.toLowerCase()).filter(Boolean);
      for (const email of emails) this.#emailTaken(email);
      const twice = emails.find((e, i) => emails.indexOf(e) !== i);
      if (twice) throw new HubSpotError(409, "CONFLICT", `Duplicate email in batch input: ${twice}`);
      const created = inputs.map((i) => this.#create(type, i.properties));
      created.forEach((r) => this.#indexLater(type, r));
      return answer(201, created.map((r, i) => this.#shown(type, r, Object.keys(inputs[i].properties ?? {}))));
    }
    if (action === "update") {
      // Chosen: unknown ids are listed as errors (207) and the rest are updated.
      const done = [];
      const missing = [];
      for (const { id, properties = {} } of inputs) {
        const record = this.contacts.get(String(id));
        if (!record) {
          missing.push(String(id));
          continue;
        }
        this.#emailTaken(properties.email, record.id);
        this.#indexLater(type, this.#update(type, record, properties));
        done.push(this.#shown(type, record, Object.keys(properties)));
      }
      return answer(200, done, missing);
    }
    if (action === "upsert") {
      // Each input names its unique idProperty (e.g. email); `new` tells created from updated.
      const results = inputs.map(({ id, idProperty, properties = {} }) => {
        if (!idProperty) throw invalid("idProperty is required for upsert");
        const existing = find(id, idProperty);
        const record = existing
          ? this.#update(type, existing, properties)
          : this.#create(type, { [idProperty]: id, ...properties });
        this.#indexLater(type, record);
        return { ...this.#shown(type, record, Object.keys(properties)), new: !existing };
      });
      return answer(200, results);
    }
    throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found");
  }

  // ===== Aircall AI data (issue 15): notes, tasks, call properties, default associations =====
  // Notes (`/crm/v3/objects/notes`: hs_timestamp required, hs_note_body at most 65,536
  // characters, note -> contact association type 202), tasks (`/crm/v3/objects/tasks`:
  // hs_timestamp required, hs_task_status one of HubSpot's, task -> contact 204), the call
  // properties API (`/crm/v3/properties/calls`: 201, or 409 when the name exists; a PATCH of a
  // call with a property the portal lacks is a 400, above), and v4 default associations
  // (`PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`).
  notes = new Map(); // id -> {id, properties, createdAt, updatedAt, contactIds, callIds}
  tasks = new Map(); // id -> {id, properties, createdAt, updatedAt, contactIds}
  callProperties = new Map(); // custom call properties created: name -> definition
  #nextAiId = { notes: 70_001, tasks: 80_001 };

  #routeAi(method, path, body, list) {
    const props = /^\/crm\/v3\/properties\/calls(?:\/([^/]+))?$/.exec(path);
    if (props) {
      const [, name] = props;
      if (method === "GET" && !name) return [200, { results: [...this.callProperties.values()] }];
      if (method === "GET") {
        const found = this.callProperties.get(name);
        if (!found) throw new HubSpotError(404, "OBJECT_NOT_FOUND", `Unable to find property ${name} for object type calls`);
        return [200, found];
      }
      if (method === "POST") {
        for (const field of ["name", "label", "type", "fieldType", "groupName"]) {
          if (typeof body[field] !== "string" || !body[field]) throw invalid(`${field} is required`);
        }
        if (body.name.startsWith("hs_") || body.name === "hubspot_owner_id" || this.callProperties.has(body.name)) {
          throw new HubSpotError(409, "OBJECT_ALREADY_EXISTS", `Property named '${body.name}' already exists.`);
        }
        const at = new Date(this.now()).toISOString();
        const created = { ...body, createdAt: at, updatedAt: at, hidden: false, formField: false };
        this.callProperties.set(body.name, created);
        return [201, created];
      }
    }
    const assoc = /^\/crm\/v4\/objects\/([\w-]+)\/([^/]+)\/associations\/default\/([\w-]+)\/([^/]+)$/.exec(path);
    if (assoc && method === "PUT") {
      const type = (t) => ({ note: "notes", notes: "notes", "0-46": "notes", call: "calls", calls: "calls", "0-48": "calls", task: "tasks", tasks: "tasks", "0-27": "tasks", contact: "contacts", contacts: "contacts", "0-1": "contacts" })[t];
      const [from, to] = [type(assoc[1]), type(assoc[3])];
      const source = from && this[from].get(assoc[2]);
      const target = to && this[to].get(assoc[4]);
      if (!source || !target) throw new HubSpotError(404, "OBJECT_NOT_FOUND", "One or more records do not exist");
      const key = `${to.slice(0, -1)}Ids`;
      source[key] ??= [];
      if (!source[key].includes(target.id)) source[key].push(target.id);
      if (to === "contacts") this.touchActivity([target.id]);
      return [200, { status: "COMPLETE", results: [{ from: { id: source.id }, to: { id: target.id }, associationSpec: [{ associationCategory: "HUBSPOT_DEFINED" }] }] }];
    }
    const m = /^\/crm\/v3\/objects\/(notes|tasks)(?:\/([^/]+))?$/.exec(path);
    if (!m) return null;
    const [, type, id] = m;
    const store = this[type];
    const shown = (r, wanted) => {
      const names = wanted?.length ? wanted : Object.keys(r.properties);
      return { id: r.id, properties: Object.fromEntries(names.map((n) => [n, r.properties[n] ?? null])), createdAt: r.createdAt, updatedAt: r.updatedAt, archived: false };
    };
    const check = (properties, creating) => {
      const p = this.#strings(properties);
      if (creating && !p.hs_timestamp) throw invalid("Property values were not valid: hs_timestamp is required");
      if (type === "notes" && (p.hs_note_body ?? "").length > 65_536) throw invalid("Property values were not valid: hs_note_body is over 65536 characters");
      const statuses = ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"];
      if (type === "tasks" && p.hs_task_status !== undefined && !statuses.includes(p.hs_task_status)) throw invalid(`Property values were not valid: ${p.hs_task_status} is not a valid option`);
      return p;
    };
    if (!id && method === "POST") {
      const properties = check(body.properties ?? {}, true);
      const typeId = type === "notes" ? 202 : 204;
      const contactIds = (body.associations ?? []).map((a) => {
        const to = String(a?.to?.id ?? "");
        if (!(a?.types ?? []).every((t) => t.associationCategory === "HUBSPOT_DEFINED" && t.associationTypeId === typeId)) {
          throw invalid(`Invalid association type for ${type.slice(0, -1)} to contact ${to}: use HUBSPOT_DEFINED ${typeId}`);
        }
        if (!this.contacts.has(to)) throw invalid(`One or more associations are invalid: contact ${to} does not exist`);
        return to;
      });
      const at = new Date(this.now()).toISOString();
      const record = { id: String(this.#nextAiId[type]++), properties: { ...properties, hs_createdate: at, hs_lastmodifieddate: at }, createdAt: at, updatedAt: at, contactIds, callIds: [] };
      store.set(record.id, record); // no idempotency: every POST is a new record
      this.touchActivity(contactIds);
      return [201, shown(record, Object.keys(properties))];
    }
    if (!id && method === "GET") return [200, { results: [...store.values()].map((r) => shown(r, list("properties"))) }];
    const record = id && store.get(id);
    if (!record) throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found");
    if (method === "GET") return [200, shown(record, list("properties"))];
    if (method === "PATCH") {
      const properties = check(body.properties ?? {}, false);
      const at = new Date(this.now()).toISOString();
      Object.assign(record.properties, properties, { hs_lastmodifieddate: at });
      record.updatedAt = at;
      if (properties.hs_timestamp !== undefined) this.touchActivity(record.contactIds);
      return [200, shown(record, Object.keys(properties))];
    }
    throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found");
  }
  // ===== end of the Aircall AI block =====

}

// ms epoch (number or digits) or an ISO-8601 date -> ms; NaN for anything else.
function toMs(value) {
  const s = String(value ?? "");
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : NaN;
}

// Numbers and dates compare as numbers; strings compare case-insensitively, as HubSpot does.
function compare(a, b) {
  if (a === undefined || a === "") return b === undefined || b === "" ? 0 : -1;
  if (b === undefined || b === "") return 1;
  const [x, y] = [toMs(a), toMs(b)];
  if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  return String(a).toLowerCase().localeCompare(String(b).toLowerCase());
}

// HubSpot's message for a filter it cannot read: the JSON error naming the problem.
function checkFilter({ operator, value, values, highValue }) {
  const refuse = (problem) => {
    throw invalid(`Invalid input JSON on line 1: Cannot construct instance of \`com.hubspot.inbounddb.publicobject.core.v3.search.Filter\`, problem: ${problem}`);
  };
  if (!OPERATORS.includes(operator)) refuse(`Unknown filter operator ${operator}`);
  if (["IN", "NOT_IN"].includes(operator)) {
    if (!Array.isArray(values)) refuse(`operator ${operator} requires values`);
    if (values.length > SEARCH.values) refuse(`operator ${operator} takes at most ${SEARCH.values} values, got ${values.length}`);
  } else if (!["HAS_PROPERTY", "NOT_HAS_PROPERTY"].includes(operator) && (value === undefined || value === null)) {
    refuse(`operator ${operator} requires a value`);
  }
  if (operator === "BETWEEN" && (highValue === undefined || highValue === null)) refuse("operator BETWEEN requires a highValue");
}

function matches(record, { propertyName, operator, value, values, highValue }) {
  const v = record.properties[propertyName];
  const has = v !== undefined && v !== "";
  switch (operator) {
    case "EQ":
      return has && compare(v, value) === 0;
    case "NEQ": // chosen: a record without the property is "not equal" too
      return !has || compare(v, value) !== 0;
    case "IN":
      return has && (values ?? []).some((w) => compare(v, w) === 0);
    case "NOT_IN":
      return !has || !(values ?? []).some((w) => compare(v, w) === 0);
    case "GT":
      return has && compare(v, value) > 0;
    case "GTE":
      return has && compare(v, value) >= 0;
    case "LT":
      return has && compare(v, value) < 0;
    case "LTE":
      return has && compare(v, value) <= 0;
    case "BETWEEN": // both ends included
      return has && compare(v, value) >= 0 && compare(v, highValue) <= 0;
    case "HAS_PROPERTY":
      return has;
    case "NOT_HAS_PROPERTY":
      return !has;
    case "CONTAINS_TOKEN":
      return has && containsToken(v, value);
    case "NOT_CONTAINS_TOKEN": // chosen: a record without the property does not contain it
      return !has || !containsToken(v, value);
  }
}

// Whole words; `*` is a wildcard (HubSpot's example: "*@hubspot.com" on email).
function containsToken(v, value) {
  const escaped = String(value).toLowerCase().replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^${escaped.replace(/\*/g, ".*")}$`);
  return [v.toLowerCase(), ...v.toLowerCase().split(/[\s,;]+/)].some((t) => pattern.test(t));
}

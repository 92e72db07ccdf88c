// A local fake of Aircall's public API, following ../shared/reference/aircall-api.md:
// Basic auth per API key, /v1/ping, webhooks (201 with a token; at most 100 per account;
// https URLs in production, http allowed here), a per-company rate limit answered with 429
// and the X-AircallApi-* headers. It also plays Aircall's webhook sender.
import http from "node:http";
import { randomBytes } from "node:crypto";

export class FakeAircall {
  constructor({ ratePerMinute = 60, resultCap = 10_000 } = {}) {
    this.keys = new Map(); // api_id -> api_token
    this.webhooks = new Map(); // webhook_id -> {webhook_id, url, events, token, custom_name, api_id}
    this.requests = []; // {method, path, api_id}
    this.ratePerMinute = ratePerMinute;
    this.windows = new Map(); // api_id -> {start, count}
    this.tooManyRequests = 0; // 429s answered
    this.resultCap = resultCap; // Aircall's is 10,000; tests may scale it down
    this.down = false;
    this.calls = new Map(); // api_id -> [call]
    this.recordingTtlSeconds = 3600; // "valid for 1 hour only"
    this.recordingBytes = new Map(); // call id -> size of its recording
  }

  // Calls of an account, as the API stores them (recording: true means it has one).
  addCalls(apiId, calls) {
    const list = this.calls.get(apiId) ?? [];
    list.push(...calls);
    this.calls.set(apiId, list);
  }

  // The call as the API shows it: recording links are signed and expire.
  #shown(call) {
    const { recording, ...rest } = call;
    const expires = Math.floor(Date.now() / 1000) + this.recordingTtlSeconds;
    return { ...rest, recording: recording ? `${this.url}/recordings/${call.id}.mp3?expires=${expires}` : null };
  }

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

  // GET /v1/calls: from exclusive, to inclusive on started_at; per_page clamped to 50;
  // past 10,000 results (resultCap) a 400, as Aircall does.
  #listCalls(res, url, apiId) {
    const q = (name) => url.searchParams.get(name);
    const perPage = Math.min(Number(q("per_page") ?? 20) || 20, 50);
    const page = Math.max(Number(q("page") ?? 1) || 1, 1);
    if (page * perPage > this.resultCap) {
      return this.#send(res, 400, {
        error: "Bad Request",
        troubleshoot: "Your query is limited to 10k results and pagination is out of bound, please use timestamps or other filters.",
      });
    }
    const from = q("from") === null ? -Infinity : Number(q("from"));
    const to = q("to") === null ? Infinity : Number(q("to"));
    const desc = q("order") === "desc";
    const matching = (this.calls.get(apiId) ?? [])
      .filter((c) => c.started_at > from && c.started_at <= to)
      .sort((a, b) => (desc ? -1 : 1) * (a.started_at - b.started_at || a.id - b.id));
    const calls = matching.slice((page - 1) * perPage, page * perPage).map((c) => this.#shown(c));
    const link = (p) => `https://api.aircall.io/v1/calls?page=${p}&per_page=${perPage}`;
    this.#send(res, 200, {
      calls,
      meta: {
        count: calls.length,
        total: matching.length,
        current_page: page,
        per_page: perPage,
        next_page_link: page * perPage < matching.length ? link(page + 1) : null,
        previous_page_link: page > 1 ? link(page - 1) : null,
      },
    });
  }

  // Recording files, like S3 presigned links: refused once expired; Range honoured.
  #recording(req, res, url) {
    const id = Number(/\/recordings\/(\d+)\.mp3/.exec(url.pathname)?.[1]);
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

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url, "http://x");
    if (url.pathname.startsWith("/recordings/")) return this.#recording(req, res, url);
    if (url.pathname === "/oauth/authorize" || url.pathname === "/v1/oauth/token") return this.#oauth(req, res, url, raw);
    const apiId = this.#authenticate(req);
    this.requests.push({ method: req.method, path: url.pathname, api_id: apiId });
    if (this.down) return this.#send(res, 503, { error: "Service Unavailable" });
    if (!apiId) {
      return this.#send(res, 401, { error: "Unauthorized", troubleshoot: "Check your API ID and API token" });
    }
    if (this.#rateLimited(apiId, res)) return;

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

    if (req.method === "GET" && url.pathname === "/v1/calls") return this.#listCalls(res, url, apiId);
    const oneCall = /^\/v1\/calls\/(\d+)$/.exec(url.pathname);
    if (req.method === "GET" && oneCall) {
      const call = (this.calls.get(apiId) ?? []).find((c) => c.id === Number(oneCall[1]));
      if (!call) return this.#send(res, 404, { error: "Not Found", troubleshoot: "Call not found" });
      return this.#send(res, 200, { call: this.#shown(call) });
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

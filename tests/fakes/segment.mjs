// A local fake of Segment's HTTP Tracking API (`POST /v1/batch`), following
// ../shared/reference/destinations.md: HTTP Basic with the write key as user and an empty
// password; 32 KB per message, 500 KB and 2,500 messages per request. As Segment does, a
// message over its limits, or without userId/anonymousId, is answered 200 and dropped (kept
// in `dropped` so tests can say nothing was); a body over 500 KB or not JSON is a 400.
// Repeated messageIds are deduplicated, as Segment does within ~24 h. Two regions: `/eu`
// paths play the EU host.
import http from "node:http";

export const LIMITS = { messageBytes: 32 * 1024, requestBytes: 500 * 1024, messages: 2500 };

export class FakeSegment {
  constructor() {
    this.writeKeys = new Set(); // keys of existing sources
    this.requests = []; // {region, status, messages, bytes, auth}
    this.received = []; // every message of an authenticated request, repeats included
    this.accepted = []; // messages kept: {...message, region, writeKey}
    this.dropped = []; // {reason, message}
    this.duplicates = 0; // messages dropped as repeats of a messageId
    this.seen = new Set(); // writeKey + messageId
    this.answer = null; // (request) => {status, headers?, body?} to fail on purpose
  }

  async start(port = 0) {
    this.server = http.createServer((req, res) => this.#handle(req, res).catch(() => res.destroy()));
    await new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    this.euUrl = `${this.url}/eu`;
    return this;
  }

  stop() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(resolve));
  }

  // The accepted messages of one type and event, in arrival order.
  tracks(event) {
    return this.accepted.filter((m) => m.type === "track" && (event === undefined || m.event === event));
  }

  #send(res, status, body, headers = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  #writeKey(req) {
    const match = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
    if (!match) return null;
    const decoded = Buffer.from(match[1], "base64").toString();
    const [key, password] = [decoded.slice(0, decoded.indexOf(":")), decoded.slice(decoded.indexOf(":") + 1)];
    return decoded.includes(":") && password === "" && this.writeKeys.has(key) ? key : null;
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url, "http://x");
    const region = url.pathname.startsWith("/eu/") ? "eu" : "us";
    const path = url.pathname.replace(/^\/eu/, "");
    const record = { region, status: 0, messages: 0, bytes: raw.length };
    this.requests.push(record);
    const reply = (status, body, headers) => {
      record.status = status;
      this.#send(res, status, body, headers);
    };
    if (req.method !== "POST" || path !== "/v1/batch") return reply(404, { error: "not found" });
    const forced = this.answer?.(record);
    if (forced) return reply(forced.status, forced.body ?? {}, forced.headers);
    const writeKey = this.#writeKey(req);
    if (!writeKey) return reply(401, { success: false, message: "Invalid write key" });
    if (raw.length > LIMITS.requestBytes) return reply(400, { success: false, message: "batch too large" });
    let body;
    try {
      body = JSON.parse(raw.toString());
    } catch {
      return reply(400, { success: false, message: "invalid JSON" });
    }
    const batch = Array.isArray(body.batch) ? body.batch : [];
    record.messages = batch.length;
    batch.forEach((message, i) => {
      this.received.push(message);
      const drop = (reason) => this.dropped.push({ reason, message });
      if (i >= LIMITS.messages) return drop("over 2,500 messages in the request");
      if (Buffer.byteLength(JSON.stringify(message)) > LIMITS.messageBytes) return drop("over 32 KB");
      if (!message.userId && !message.anonymousId) return drop("no_user_anon_id");
      if (message.type === "track" && !message.event) return drop("track without event");
      const key = `${writeKey}/${message.messageId}`;
      if (message.messageId && this.seen.has(key)) {
        this.duplicates += 1;
        return;
      }
      this.seen.add(key);
      this.accepted.push({ ...message, region, writeKey });
    });
    reply(200, { success: true });
  }
}

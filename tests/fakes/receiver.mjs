// A webhook receiver that checks Standard Webhooks signatures on its own (node's crypto,
// not the connector's code) and can be taken down or made to fail.
import http from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";

export function verifySignature(secret, headers, rawBody) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${rawBody}`;
  const expected = createHmac("sha256", key).update(signed).digest();
  const skew = Math.abs(Date.now() / 1000 - Number(headers["webhook-timestamp"]));
  if (!(skew <= 300)) return false;
  return (headers["webhook-signature"] ?? "").split(" ").some((candidate) => {
    const [version, signature] = candidate.split(",");
    const given = Buffer.from(signature ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export class FakeReceiver {
  constructor() {
    this.secret = null; // set once the connector has shown it
    this.attempts = []; // every request, whatever we answered
    this.delivered = []; // requests answered 2xx: {id, timestamp, valid, body}
    // What a receiver acts on: the first delivery of each webhook-id (Standard Webhooks
    // receivers drop the repeats of an id they have processed).
    this.processed = [];
    this.answer = () => ({ status: 200 }); // (attempt) => {status, headers?, body?}
  }

  async start(port = 0) {
    // A client that gives up mid-request (a timeout) aborts the read: not an error here.
    this.server = http.createServer((req, res) => this.#handle(req, res).catch(() => res.destroy()));
    await new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}/aircall-events`;
    return this;
  }

  // Stops listening: the connector gets "connection refused" until up() again.
  async goDown() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async comeBack() {
    await this.start(this.port);
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    const attempt = {
      id: req.headers["webhook-id"],
      timestamp: req.headers["webhook-timestamp"],
      valid: this.secret ? verifySignature(this.secret, req.headers, raw) : false,
      raw,
      body: safeJson(raw),
      at: Date.now(),
    };
    this.attempts.push(attempt);
    const { status, headers = {}, body = "" } = this.answer(attempt);
    if (status >= 200 && status < 300) {
      if (!this.delivered.some((d) => d.id === attempt.id)) this.processed.push(attempt);
      this.delivered.push(attempt);
    }
    res.writeHead(status, headers).end(body);
  }
}

function safeJson(raw) {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

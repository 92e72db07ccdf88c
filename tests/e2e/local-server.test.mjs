// `npm start`'s local server (scripts/local-server.mjs: wrangler's dev server, not the bare
// Miniflare of the other tests) imports 300 calls with 1 MB recordings without its front
// process, the one serving the port, gaining descriptors. Under `wrangler dev` with its
// inspector proxy each MB the worker downloaded cost ~200 loopback sockets, and ~170 such
// imports exhausted the process's 20,000 descriptors (docs/wrangler-inspector-proxy-leak.md).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalServer } from "../../scripts/local-server.mjs";
import { ADMIN_TOKEN, ENCRYPTION_KEY, waitFor } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

const CALLS = 300;
const RECORDING_BYTES = 1024 * 1024;
// Connections the front may keep open for the work at hand (pools, keep-alive), whatever the
// number of calls. With the leak, one call alone passes it.
const BOUND = 100;

const descriptors = (pid) => readdirSync(`/proc/${pid}/fd`).length;

// The process listening on 127.0.0.1:port, found through the socket's inode.
function listeningProcess(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const row = readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find((f) => f[1] === local && f[3] === "0A"); // 0A: LISTEN
  assert.ok(row, `nothing listens on 127.0.0.1:${port}`);
  const socket = `socket:[${row[9]}]`;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === socket)) return Number(pid);
    } catch {} // gone, or not ours
  }
  assert.fail(`no process holds the socket listening on ${port}`);
}

let aircall, receiver, server, base, stateDir;
const api = async (method, pathname, body) => {
  const r = await fetch(new URL(pathname, base), {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
};

before(async () => {
  if (!existsSync("/proc/self/fd")) return;
  process.env.WRANGLER_LOG ??= "warn"; // not a line per request and queue batch
  aircall = await new FakeAircall({ ratePerMinute: 100_000 }).start();
  aircall.addKey("api-id-local", "api-token-local");
  const now = Math.floor(Date.now() / 1000);
  aircall.addCalls(
    "api-id-local",
    Array.from({ length: CALLS }, (_, i) => ({ ...call(i + 1), started_at: now - 60 * (CALLS - i), recording: true })),
  );
  for (let id = 1; id <= CALLS; id++) aircall.recordingBytes.set(id, RECORDING_BYTES);
  receiver = await new FakeReceiver().start();
  stateDir = mkdtempSync(path.join(os.tmpdir(), "connector-local-state-"));
  server = await startLocalServer({
    port: 0,
    persistTo: stateDir,
    vars: { ADMIN_TOKEN, ENCRYPTION_KEY, AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: "100000", RECORDING_HOSTS: "http://127.0.0.1" },
    rebuild: false, // `npm test` has just built, and the other tests read build/
  });
  base = await server.url;
});
after(async () => {
  await server?.dispose();
  await receiver?.stop();
  await aircall?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

test(`${CALLS} imports of 1 MB recordings leave the front process's descriptors where they were`, { skip: !existsSync("/proc/self/fd") && "needs /proc" }, async () => {
  const front = listeningProcess(Number(base.port));
  const created = await api("POST", "/api/integrations", {
    name: "Local server",
    aircall: { api_id: "api-id-local", api_token: "api-token-local" },
    destination: { type: "webhook", url: receiver.url },
    import: { initial_limit: CALLS },
  });
  assert.equal(created.status, 201, created.text);
  receiver.secret = created.json.destination.secret;
  const id = created.json.id;

  const started = Date.now();
  const before = { front: descriptors(front), node: descriptors(process.pid) };
  // Sampled on a timer, not between API calls (which a leak slows down), so that a leak
  // fails the test long before the descriptors run out.
  let peak = before.front;
  let sampler;
  const leaking = new Promise((_, reject) => {
    sampler = setInterval(() => {
      peak = Math.max(peak, descriptors(front));
      if (peak - before.front > BOUND) reject(new Error(`the front process went from ${before.front} to ${peak} descriptors`));
    }, 100);
  });
  const importing = (async () => {
    const sync = await api("POST", `/api/integrations/${id}/sync`);
    assert.ok([200, 202].includes(sync.status), sync.text);
    return waitFor(
      async () => {
        const latest = (await api("GET", `/api/integrations/${id}/runs`)).json.runs[0];
        return latest?.status === "done" && latest.pending === 0 && latest;
      },
      { what: `${CALLS} imports`, timeout: 90_000, interval: 500 },
    );
  })();
  importing.catch(() => {}); // after a leak, it fails as the server goes away
  const run = await Promise.race([importing, leaking]).finally(() => clearInterval(sampler));
  const seconds = (Date.now() - started) / 1000;
  const afterwards = { front: descriptors(front), node: descriptors(process.pid) };

  assert.equal(run.imported, CALLS, JSON.stringify(run));
  const recordings = aircall.requests.filter((q) => q.recording && !q.range).length;
  assert.ok(recordings >= CALLS, `${recordings} recordings downloaded`);
  console.log(
    `local server: ${CALLS} calls with ${RECORDING_BYTES / 1024 / 1024} MB recordings in ${seconds.toFixed(1)} s; ` +
      `front process (pid ${front}) descriptors ${before.front} before, ${peak} at most, ${afterwards.front} after; ` +
      `node ${before.node} -> ${afterwards.node}`,
  );
  assert.ok(afterwards.front - before.front <= BOUND, `the front process went from ${before.front} to ${afterwards.front} descriptors`);
});

// `npm run bench`: the worker's size and webhook ingress speed on the local runtime
// (workerd through Miniflare), with 1,000 real-shaped Aircall events. Figures only: nothing
// here passes or fails on timing.
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { performance } from "node:perf_hooks";
import { startConnector, waitFor } from "../tests/e2e/harness.mjs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeReceiver } from "../tests/fakes/receiver.mjs";
import { call } from "../tests/e2e/payloads.mjs";
import { benchWasm, describeWasm } from "./bench-wasm.mjs";

// Aircall AI data (scripts/bench-ai.mjs): 1,000 AI events across the kinds. `BENCH_ONLY=ai`
// runs this section alone.
const { benchAi, describeAi } = await import("./bench-ai.mjs");
if (process.env.BENCH_ONLY === "ai") {
  const ai = await benchAi();
  console.log(describeAi(ai));
  mkdirSync("bench-results", { recursive: true });
  writeFileSync("bench-results/ai.json", JSON.stringify(ai, null, 2));
  process.exit(0);
}

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

// CPU of the hot paths, measured natively (workerd cannot report CPU time locally).
const cpuOutput = execFileSync("cargo", ["test", "--quiet", "--release", "--lib", "cpu::", "--", "--ignored", "--nocapture"], { encoding: "utf8" });
const cpu = Object.fromEntries([...cpuOutput.matchAll(/cpu: (\w+) ([\d.]+)$/gm)].map((m) => [m[1], Number(m[2])]));
// The same kind of figures from the shipped wasm, on V8 in Node (scripts/bench-wasm.mjs).
const cpuWasm = await benchWasm();

const wasm = readFileSync("build/index_bg.wasm");
const glue = readFileSync("build/index.js");
const size = {
  wasm_bytes: wasm.length,
  wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
  js_gzip_bytes: gzipSync(glue, { level: 9 }).length,
};

const aircall = await new FakeAircall().start();
const key = aircall.addKey("bench-id", "bench-token");
const receiver = await new FakeReceiver().start();
const connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url } });
const created = await connector.api("POST", "/api/integrations", { name: "bench", aircall: key, destination: { type: "webhook", url: receiver.url } });
receiver.secret = created.json.destination.secret;
const webhook = aircall.webhooks.get(created.json.aircall.webhook_id);
const bodies = (offset) =>
  Array.from({ length: EVENTS }, (_, i) =>
    // No recording yet (as often at call.ended): each event also queues the call's import,
    // which looks no further than that.
    JSON.stringify({ resource: "call", event: "call.ended", timestamp: 1_763_980_000 + i, token: webhook.token, data: call(offset + i, { recording: null }) }),
  );
const post = async (body) => {
  const started = performance.now();
  const r = await connector.dispatch(webhook.url, { method: "POST", headers: { "content-type": "application/json" }, body });
  await r.arrayBuffer();
  if (r.status !== 202) throw new Error(`ingress answered ${r.status}`);
  return performance.now() - started;
};
const putBack = (logs) =>
  [...logs.join("").matchAll(/(\d+) message\(s\) of this batch left for another invocation/g)].reduce((sum, m) => sum + Number(m[1]), 0);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// Warm-up: compile and instantiate the wasm before measuring.
for (const body of bodies(900_000).slice(0, 20)) await post(body);

// One at a time: latency as Aircall sees it.
const sequentialStart = performance.now();
const latencies = [];
for (const body of bodies(100_000)) latencies.push(await post(body));
const sequentialSeconds = (performance.now() - sequentialStart) / 1000;
latencies.sort((a, b) => a - b);

// Many at once: throughput.
const queue = bodies(200_000);
const concurrentStart = performance.now();
await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (queue.length) await post(queue.shift()); }));
const concurrentSeconds = (performance.now() - concurrentStart) / 1000;

// Until every event has reached the receiver, signed.
const total = 20 + 2 * EVENTS;
await waitFor(() => receiver.delivered.length >= total, { timeout: 300_000, what: "all deliveries" });
const deliveredSeconds = (performance.now() - sequentialStart) / 1000;
const valid = receiver.delivered.filter((d) => d.valid).length;

await connector.dispose();
await receiver.stop();
await aircall.stop();

// Call import: a backlog of 10,000 calls since the cursor, Aircall's limit set to 600/min.
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 10_000);
const RATE = 600;
const fake = await new FakeAircall({ ratePerMinute: RATE }).start();
const importKey = fake.addKey("bench-import", "bench-import-token");
const importReceiver = await new FakeReceiver().start();
const importer = await startConnector({ vars: { AIRCALL_API_BASE: fake.url, AIRCALL_REQUESTS_PER_MINUTE: String(RATE) } });
const importing = await importer.api("POST", "/api/integrations", {
  name: "bench import",
  aircall: importKey,
  destination: { type: "webhook", url: importReceiver.url },
  import: { recording_required: false },
});
importReceiver.secret = importing.json.destination.secret;
const since = Math.floor(Date.now() / 1000) - 36_000;
await (await importer.mf.getKVNamespace("STATE")).put(`cursor:${importing.json.id}`, JSON.stringify({ started_at: since, ids_at_started_at: [] }));
fake.addCalls("bench-import", Array.from({ length: BACKLOG }, (_, i) => ({ ...call(i + 1), started_at: since + 1 + Math.floor((i * 35_000) / BACKLOG), recording: null })));
const importStart = performance.now();
await importer.api("POST", `/api/integrations/${importing.json.id}/sync`);
const runs = async () => (await importer.api("GET", `/api/integrations/${importing.json.id}/runs`)).json.runs[0];
await waitFor(async () => (await runs()).status === "done", { timeout: 600_000, interval: 200, what: "the import's listing" });
const listedSeconds = (performance.now() - importStart) / 1000;
const importedIds = () => new Set(importReceiver.delivered.filter((d) => d.body?.type === "call.imported").map((d) => d.body.data.id));
await waitFor(() => importedIds().size >= BACKLOG, { timeout: 900_000, interval: 500, what: "every imported call delivered" });
const importSeconds = (performance.now() - importStart) / 1000;
const run = await runs();
const listRequests = fake.requests.filter((q) => q.path === "/v1/calls").length;
const minimumRequests = Math.ceil(BACKLOG / 50);
const importResults = {
  calls: BACKLOG,
  rate_limit_per_minute: RATE,
  aircall_requests: listRequests,
  minimum_requests: minimumRequests,
  // The budget lets a minute's worth go at once, then one request per 1/RATE minute.
  rate_limit_bound_seconds: +((Math.max(0, listRequests - RATE) / RATE) * 60).toFixed(1),
  seconds_until_listed: +listedSeconds.toFixed(1),
  seconds_until_all_delivered: +importSeconds.toFixed(1),
  calls_per_second: Math.round(BACKLOG / importSeconds),
  too_many_requests_429: fake.tooManyRequests,
  // Messages a consumer put back on the queue because its batch held more than one
  // invocation's subrequests allow (each costs queue operations).
  messages_put_back: putBack(importer.logs),
  imported: run.imported,
  unique_delivered: importedIds().size,
};
await importer.dispose();
await importReceiver.stop();
await fake.stop();

const results = {
  date: new Date().toISOString(),
  size,
  ingress: {
    events: EVENTS,
    sequential_events_per_second: Math.round(EVENTS / sequentialSeconds),
    p50_ms: +pct(latencies, 50).toFixed(2),
    p99_ms: +pct(latencies, 99).toFixed(2),
    max_ms: +latencies.at(-1).toFixed(2),
    concurrency: CONCURRENCY,
    concurrent_events_per_second: Math.round(EVENTS / concurrentSeconds),
  },
  delivery: { delivered: receiver.delivered.length, valid_signatures: valid, seconds_until_all_delivered: +deliveredSeconds.toFixed(1) },
  import: importResults,
  cpu_native_microseconds: cpu,
  cpu_wasm_v8_microseconds: cpuWasm,
};

console.log(`
worker size         wasm ${(size.wasm_bytes / 1024).toFixed(0)} KB, gzipped ${(size.wasm_gzip_bytes / 1024).toFixed(0)} KB (+ JS glue ${(size.js_gzip_bytes / 1024).toFixed(1)} KB gzipped)
ingress, 1 at a time ${results.ingress.sequential_events_per_second} events/s, p50 ${results.ingress.p50_ms} ms, p99 ${results.ingress.p99_ms} ms (${EVENTS} call.ended events)
ingress, ${CONCURRENCY} at a time ${results.ingress.concurrent_events_per_second} events/s
delivery            ${valid}/${total} delivered with valid signatures, all within ${results.delivery.seconds_until_all_delivered} s
import              ${BACKLOG} calls at ${RATE}/min: ${listRequests} Aircall requests (minimum ${minimumRequests}), ${fake.tooManyRequests} x 429,
                    listed in ${importResults.seconds_until_listed} s (rate-limit bound ${importResults.rate_limit_bound_seconds} s), all delivered in ${importResults.seconds_until_all_delivered} s (${importResults.calls_per_second} calls/s)
                    ${importResults.messages_put_back} messages put back on a queue for another invocation
cpu (native, µs)    ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(", ")}
cpu (wasm on V8)    ${describeWasm(cpuWasm)}
(local runtime: workerd via Miniflare, on this machine; includes the node <-> workerd hop)`);
mkdirSync("bench-results", { recursive: true });
writeFileSync("bench-results/latest.json", JSON.stringify(results, null, 2));

// Delivery to Segment (scripts/bench-segment.mjs): 5,000 webhook events to a fake Segment.
const { benchSegment, describeSegment } = await import("./bench-segment.mjs");
results.segment = await benchSegment();
console.log(describeSegment(results.segment));
writeFileSync("bench-results/latest.json", JSON.stringify(results, null, 2));

// Contact sync (scripts/bench-contacts.mjs): 5,000 contacts each way between the fakes.
const { benchContacts, describeContacts } = await import("./bench-contacts.mjs");
results.contacts = await benchContacts();
console.log(describeContacts(results.contacts));
writeFileSync("bench-results/latest.json", JSON.stringify(results, null, 2));

// Aircall AI data (scripts/bench-ai.mjs): AI event -> destination latency, Aircall requests
// per AI event.
results.ai = await benchAi();
console.log(describeAi(results.ai));
writeFileSync("bench-results/latest.json", JSON.stringify(results, null, 2));

// Insight cards (scripts/bench-cards.mjs): webhook -> card latency over 100 calls, with idle
// queues and with 10,000 import jobs waiting; requests per card.
const { benchCards, describeCards } = await import("./bench-cards.mjs");
results.cards = await benchCards();
console.log(describeCards(results.cards));
writeFileSync("bench-results/latest.json", JSON.stringify(results, null, 2));

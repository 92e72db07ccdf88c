// What the event log costs (README, "Event log"): webhook ingress latency with the log and
// with every log write refused (EVENT_LOG bound to another class: the nearest to no log this
// build has), the log writes (Durable Object subrequests) per event, and how long a search and
// an event's detail take. Figures only. Run alone: `npm run build`, then
// `node scripts/bench-event-log.mjs` (BENCH_LOG_EVENTS, 300 by default; BENCH_LOG_ORDER).
import { performance } from "node:perf_hooks";
import { startConnector, waitFor } from "../tests/e2e/harness.mjs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeReceiver } from "../tests/fakes/receiver.mjs";
import { call } from "../tests/e2e/payloads.mjs";

const EVENTS = Number(process.env.BENCH_LOG_EVENTS ?? 300);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (n) => Math.round(n * 100) / 100;

async function run(label, aircall, receiver, durableObjects) {
  const connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url }, durableObjects });
  const created = await connector.api("POST", "/api/integrations", {
    name: `bench log ${label}`, aircall: { api_id: "bench-log", api_token: "bench-log-token" },
    destination: { type: "webhook", url: receiver.url, secret: receiver.secret }, events: ["call.hungup"],
  });
  if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
  const webhook = aircall.webhooks.get(created.json.aircall.webhook_id);
  // call.hungup is forwarded (and queues no import); call.created is not selected: filtered.
  const body = (event, i) => JSON.stringify({ resource: "call", event, timestamp: 1_763_980_000 + i, token: webhook.token, data: call(i) });
  const post = async (b) => {
    const started = performance.now();
    const r = await connector.dispatch(webhook.url, { method: "POST", headers: { "content-type": "application/json" }, body: b });
    await r.arrayBuffer();
    if (r.status !== 202) throw new Error(`ingress answered ${r.status}`);
    return performance.now() - started;
  };
  const base = label === "with" ? 1_000_000 : 2_000_000;
  for (let i = 0; i < 20; i++) await post(body("call.hungup", base - 1 - i)); // warm-up
  const deliveredBefore = receiver.delivered.length;
  const latency = {};
  for (const [kind, event, offset] of [["forwarded", "call.hungup", 0], ["filtered", "call.created", 500_000]]) {
    const times = [];
    for (let i = 0; i < EVENTS; i++) times.push(await post(body(event, base + offset + i)));
    times.sort((a, b) => a - b);
    latency[kind] = { p50_ms: round(pct(times, 50)), p95_ms: round(pct(times, 95)) };
  }
  await waitFor(() => receiver.delivered.length >= deliveredBefore + EVENTS + 0, { timeout: 300_000, what: "all deliveries" });
  const lines = () => connector.logs.join("");
  const stepsWritten = () => [...lines().matchAll(/event log of \S+: (\d+) step\(s\) written/g)].map((m) => Number(m[1]));
  const result = { label, ingress_latency: latency };
  if (label === "with") {
    const expected = 20 + 2 * EVENTS; // a step per forwarded event (delivered at once), one per filtered
    await waitFor(() => stepsWritten().reduce((a, b) => a + b, 0) >= expected, { timeout: 120_000, what: "every step written" });
    const writes = stepsWritten();
    const filteredWrites = EVENTS; // ingress writes each filtered event after answering, alone
    const consumerWrites = writes.length - filteredWrites - 0;
    result.log_writes = {
      total: writes.length,
      per_forwarded_event: round(consumerWrites / (EVENTS + 20)),
      per_filtered_event: 1,
      steps_per_consumer_write: round((EVENTS + 20) / consumerWrites),
    };
    const timed = async (path) => {
      const times = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const r = await connector.api("GET", path);
        if (r.status !== 200) throw new Error(`${path} answered ${r.status}`);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      return round(pct(times, 50));
    };
    const events = `/api/integrations/${created.json.id}/events`;
    const page = await connector.api("GET", `${events}?limit=50`);
    result.read_p50_ms = {
      page_of_50: await timed(`${events}?limit=50`),
      by_call_id: await timed(`${events}?call_id=${base + 7}`),
      by_phone: await timed(`${events}?phone=33612345678&limit=50`),
      free_text_scan: await timed(`${events}?q=nothing-matches`),
      one_event: await timed(`${events}/${page.json.events[0].id}`),
    };
  } else {
    result.writes_refused = [...lines().matchAll(/step\(s\) not written/g)].length;
  }
  await connector.dispose();
  return result;
}

const aircall = await new FakeAircall().start();
aircall.addKey("bench-log", "bench-log-token");
const receiver = await new FakeReceiver().start();
receiver.secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
// BENCH_LOG_ORDER=reverse runs the refused writes first, to see what the order alone changes.
const reverse = process.env.BENCH_LOG_ORDER === "reverse";
const refused = () => run("writes refused", aircall, receiver, { EVENT_LOG: "AccountGate" });
const without = reverse ? await refused() : null;
const withLog = await run("with", aircall, receiver, {});
const withoutLog = without ?? (await refused());
await receiver.stop();
await aircall.stop();
console.log(JSON.stringify({ events: EVENTS, order: reverse ? "refused first" : "log first", with_log: withLog, log_writes_refused: withoutLog }, null, 2));

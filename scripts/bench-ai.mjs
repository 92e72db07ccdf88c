// Aircall AI data: N AI events (1,000) across the five kinds, through ingress, the queue, the
// AI read from the fake Aircall and the signed delivery to a fake receiver. Reports the AI
// event -> destination latency (p50/p95: from posting the webhook to the receiver's 2xx) and
// the Aircall requests per AI event (the floor is 1: one read of the announced data). The
// account's budget is raised to BENCH_AI_RATE requests/minute (6,000) so that the figure is
// the connector's own; at Aircall's usual 60/min, 1,000 reads take at least 1,000/60 minutes
// whatever the connector does (printed as the rate-limit bound). Run alone with
// `node scripts/bench-ai.mjs` (after `bash scripts/build.sh`), or `BENCH_ONLY=ai node
// scripts/bench.mjs`.
import { performance } from "node:perf_hooks";
import { startConnector, waitFor } from "../tests/e2e/harness.mjs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeReceiver } from "../tests/fakes/receiver.mjs";

const KINDS = [
  ["transcription.created", "transcription"],
  ["summary.created", "summary"],
  ["topics.created", "topics"],
  ["sentiment.created", "sentiments"],
  ["action_item.created", "action_items"],
];

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export async function benchAi({ events = Number(process.env.BENCH_AI_EVENTS ?? 1000), rate = Number(process.env.BENCH_AI_RATE ?? 6000), concurrency = 8 } = {}) {
  const aircall = await new FakeAircall({ ratePerMinute: rate }).start();
  const key = aircall.addKey("bench-ai", "bench-ai-token");
  const receiver = await new FakeReceiver().start();
  const connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: String(rate) } });
  const created = await connector.api("POST", "/api/integrations", {
    name: "bench ai",
    aircall: key,
    destination: { type: "webhook", url: receiver.url },
    events: KINDS.map(([event]) => event),
  });
  if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
  receiver.secret = created.json.destination.secret;
  const webhook = aircall.webhooks.get(created.json.aircall.webhook_id);
  // A call per five events, each with all five kinds of data (a transcript of 40 utterances).
  const calls = Math.ceil(events / KINDS.length);
  const utterances = Array.from({ length: 40 }, (_, n) => ({ start_time: n * 3, end_time: n * 3 + 2.5, text: `Line ${n} of the conversation about the invoice.`, participant_type: n % 2 ? "external" : "internal", ...(n % 2 ? { phone_number: "+33612345678" } : { user_id: 456 }) }));
  for (let c = 0; c < calls; c++) {
    aircall.addAiData("bench-ai", 700_000 + c, {
      transcription: { language: "en", utterances },
      summary: "The caller asked about a double charge; a refund was promised.",
      topics: ["billing", "refund"],
      sentiments: [{ phone_number: "+33612345678", value: "NEGATIVE", type: "external" }],
      action_items: [{ text: "Refund the second charge", user_id: 456 }],
    });
  }
  // The destination sees the content's id, not the event's: a delivery is known by its type and
  // call (one event of each kind per call here).
  const sentAt = new Map(); // `${delivered type}:${call id}` -> ms
  const delivered = Object.fromEntries(KINDS.map(([event, path]) => [event, `call.${path === "sentiments" ? "sentiment" : path}`]));
  const post = async (i) => {
    const [event] = KINDS[i % KINDS.length];
    const callId = 700_000 + Math.floor(i / KINDS.length);
    const body = JSON.stringify({ resource: event.split(".")[0], event, timestamp: 1_763_990_000 + i, token: webhook.token, data: { id: 9_000_000 + i, call_id: callId } });
    const at = performance.now();
    const r = await connector.dispatch(webhook.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    const answer = await r.json();
    if (r.status !== 202) throw new Error(`ingress answered ${r.status}`);
    sentAt.set(`${delivered[event]}:${callId}`, at);
  };
  const requestsBefore = aircall.aiRequests("bench-ai").length;
  const otherBefore = aircall.requests.filter((q) => q.api_id === "bench-ai").length - requestsBefore;
  const offset = Date.now() - performance.now(); // receiver stamps Date.now()
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < events) await post(next++); }));
  await waitFor(() => receiver.delivered.length >= events, { timeout: 1_800_000, interval: 200, what: "every AI event delivered" });
  const seconds = (performance.now() - start) / 1000;
  const latencies = receiver.delivered
    .map((d) => [d, `${d.body?.type}:${d.body?.data?.call_id}`])
    .filter(([, key]) => sentAt.has(key))
    .map(([d, key]) => d.at - offset - sentAt.get(key))
    .sort((a, b) => a - b);
  const aiRequests = aircall.aiRequests("bench-ai").length - requestsBefore;
  const allRequests = aircall.requests.filter((q) => q.api_id === "bench-ai").length - requestsBefore - otherBefore;
  const byKind = Object.fromEntries(KINDS.map(([, path]) => [path, aircall.aiRequests("bench-ai").filter((q) => q.path.endsWith(`/${path}`)).length]));
  const results = {
    ai_events: events,
    kinds: KINDS.length,
    delivered: receiver.delivered.length,
    valid_signatures: receiver.delivered.filter((d) => d.valid).length,
    latency_p50_ms: Math.round(percentile(latencies, 50)),
    latency_p95_ms: Math.round(percentile(latencies, 95)),
    latency_max_ms: Math.round(latencies[latencies.length - 1]),
    end_to_end_seconds: +seconds.toFixed(1),
    aircall_requests: allRequests,
    aircall_requests_per_ai_event: +(allRequests / events).toFixed(3),
    ai_reads_by_kind: byKind,
    account_budget_per_minute: rate,
    rate_limit_bound_seconds_at_60_per_minute: Math.ceil((events * 60) / 60), // one read per event at 60 a minute
    aircall_429s: aircall.tooManyRequests,
  };
  await connector.dispose();
  await receiver.stop();
  await aircall.stop();
  return results;
}

export function describeAi(r) {
  return `ai                  ${r.ai_events} AI events (${r.kinds} kinds) -> signed webhook: ${r.delivered} delivered (${r.valid_signatures} valid), latency p50 ${r.latency_p50_ms} ms, p95 ${r.latency_p95_ms} ms (max ${r.latency_max_ms} ms), all in ${r.end_to_end_seconds} s
                    ${r.aircall_requests} Aircall requests: ${r.aircall_requests_per_ai_event} per AI event (floor 1), ${r.aircall_429s} x 429, at a budget of ${r.account_budget_per_minute}/min (at Aircall's 60/min the reads alone take >= ${r.rate_limit_bound_seconds_at_60_per_minute} s)`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchAi();
  console.log(JSON.stringify(r, null, 2));
  console.log(describeAi(r));
}

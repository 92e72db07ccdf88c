// Delivery to Segment: N webhook events (5,000) through ingress, the queue and the consumer
// to a fake Segment. Reports events/s end to end, the Segment requests used (batching), and
// the CPU the local workerd process spent per event, read from /proc (Linux only). That CPU
// figure is an upper bound for the worker's own: the process also runs Miniflare's local
// KV, queues and Durable Object, and the HTTP plumbing to node. Cloudflare's per-invocation
// CPU time cannot be read locally. Run alone with `node scripts/bench-segment.mjs`.
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { startConnector, waitFor } from "../tests/e2e/harness.mjs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeSegment } from "../tests/fakes/segment.mjs";
import { call } from "../tests/e2e/payloads.mjs";

// CPU seconds (user + system) of every workerd process under this node process.
function workerdCpuSeconds() {
  try {
    const procs = new Map(); // pid -> {ppid, comm, ticks}
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        procs.set(Number(pid), { ppid: Number(rest[1]), comm, ticks: Number(rest[11]) + Number(rest[12]) });
      } catch {}
    }
    const under = (pid) => {
      for (let p = procs.get(pid)?.ppid; p; p = procs.get(p)?.ppid) if (p === process.pid) return true;
      return false;
    };
    let ticks = 0;
    for (const [pid, p] of procs) if (p.comm.includes("workerd") && under(pid)) ticks += p.ticks;
    return ticks / 100; // USER_HZ
  } catch {
    return null;
  }
}

export async function benchSegment({ events = Number(process.env.BENCH_SEGMENT_EVENTS ?? 5000), concurrency = 16 } = {}) {
  const aircall = await new FakeAircall().start();
  const key = aircall.addKey("bench-segment", "bench-segment-token");
  const segment = await new FakeSegment().start();
  segment.writeKeys.add("wk_bench");
  const connector = await startConnector({ vars: { AIRCALL_API_BASE: aircall.url, SEGMENT_US_BASE: segment.url } });
  const created = await connector.api("POST", "/api/integrations", {
    name: "bench segment",
    aircall: key,
    destination: { type: "segment", write_key: "wk_bench", region: "us" },
  });
  if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
  const webhook = aircall.webhooks.get(created.json.aircall.webhook_id);
  // Complete call payloads (no read from Aircall) on an event that queues no import.
  const body = (i) => JSON.stringify({ resource: "call", event: "call.hungup", timestamp: 1_763_980_000 + i, token: webhook.token, data: call(500_000 + i) });
  const post = async (b) => {
    const r = await connector.dispatch(webhook.url, { method: "POST", headers: { "content-type": "application/json" }, body: b });
    await r.arrayBuffer();
    if (r.status !== 202) throw new Error(`ingress answered ${r.status}`);
  };
  for (let i = 0; i < 20; i++) await post(body(-1 - i)); // warm-up
  await waitFor(() => segment.accepted.length >= 20, { timeout: 30_000, what: "warm-up" });
  const requestsBefore = segment.requests.length;
  const cpuBefore = workerdCpuSeconds();
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < events) await post(body(next++)); }));
  const ingressSeconds = (performance.now() - start) / 1000;
  await waitFor(() => segment.accepted.length >= 20 + events, { timeout: 900_000, interval: 200, what: "every event in Segment" });
  const seconds = (performance.now() - start) / 1000;
  const cpuAfter = workerdCpuSeconds();
  const requests = segment.requests.slice(requestsBefore);
  const results = {
    events,
    ingress_events_per_second: Math.round(events / ingressSeconds),
    end_to_end_seconds: +seconds.toFixed(1),
    end_to_end_events_per_second: Math.round(events / seconds),
    segment_requests: requests.length,
    messages_per_request: +(requests.reduce((n, r) => n + r.messages, 0) / requests.length).toFixed(2),
    largest_request_messages: Math.max(...requests.map((r) => r.messages)),
    dropped_by_segment: segment.dropped.length,
    workerd_cpu_ms_per_event_upper_bound: cpuBefore === null || cpuAfter === null ? null : +(((cpuAfter - cpuBefore) * 1000) / events).toFixed(2),
  };
  await connector.dispose();
  await segment.stop();
  await aircall.stop();
  return results;
}

export function describeSegment(r) {
  return `segment             ${r.events} call events: ingress ${r.ingress_events_per_second} events/s, all in Segment after ${r.end_to_end_seconds} s (${r.end_to_end_events_per_second} events/s end to end)
                    ${r.segment_requests} /v1/batch requests, ${r.messages_per_request} messages each on average (at most ${r.largest_request_messages}: a queue batch of deliveries is at most 47 messages), ${r.dropped_by_segment} dropped
                    workerd CPU ${r.workerd_cpu_ms_per_event_upper_bound ?? "n/a"} ms/event (whole local process incl. simulated KV/queues/DO: an upper bound, not Cloudflare's CPU time)`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchSegment();
  console.log(JSON.stringify(r, null, 2));
  console.log(describeSegment(r));
}

// Insight cards: webhook -> card latency (p50/p95 over 100 calls), first with idle queues,
// then while a 10,000-call import is listed and its jobs wait in the queues (same Aircall account, its listing spending
// bulk work's share of the budget); CRM and Aircall requests per card. HubSpot's real search
// limit (5/s) holds: calls ring one every 700 ms, the pace of a busy team.
// Run alone with `npm run build && node scripts/bench-cards.mjs` (BENCH_CARDS=100,
// BENCH_CARDS_BACKLOG=10000 to change the sizes).
import { performance } from "node:perf_hooks";
import { startConnector, waitFor, sleep } from "../tests/e2e/harness.mjs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeHubSpot } from "../tests/fakes/hubspot.mjs";
import { FakeReceiver } from "../tests/fakes/receiver.mjs";
import { call } from "../tests/e2e/payloads.mjs";

const TOKEN = "pat-bench-cards";
const RATE = 600; // Aircall requests a minute for the account (the fake's limit too)
const RING_EVERY_MS = 700;

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function ringAll(connector, aircall, webhook, n, firstId) {
  const sent = new Map(); // call id -> ms (epoch) just before the webhook left
  const answers = [];
  for (let i = 0; i < n; i++) {
    const id = firstId + i;
    aircall.liveCall("bench-cards", id);
    const data = { id, direction: "inbound", status: "initial", started_at: Math.floor(Date.now() / 1000), raw_digits: "+1 415-555-0100", user: {}, number: { id: 789, digits: "+33 1 76 36 06 95" } };
    const t0 = performance.now();
    sent.set(id, Date.now());
    const answer = await aircall.fire(webhook, "call.created", data, { post: (url, init) => connector.dispatch(url, init) });
    answers.push(performance.now() - t0);
    if (answer.status !== 202) throw new Error(`the webhook answered ${answer.status}: ${answer.body}`);
    await sleep(RING_EVERY_MS);
  }
  const ids = [...sent.keys()];
  await waitFor(() => ids.every((id) => aircall.cardsFor(id).length > 0) || null, { timeout: 60_000, interval: 200, what: "every card" }).catch(() => {});
  const latencies = ids.filter((id) => aircall.cardsFor(id).length).map((id) => aircall.cardsFor(id)[0].at - sent.get(id)).sort((a, b) => a - b);
  answers.sort((a, b) => a - b);
  return {
    calls: n,
    cards: latencies.length,
    duplicates: ids.reduce((extra, id) => extra + Math.max(0, aircall.cardsFor(id).length - 1), 0),
    p50_ms: Math.round(pct(latencies, 50) ?? NaN),
    p95_ms: Math.round(pct(latencies, 95) ?? NaN),
    max_ms: Math.round(latencies.at(-1) ?? NaN),
    webhook_answer_p95_ms: Math.round(pct(answers, 95)),
  };
}

export async function benchCards({ cards = Number(process.env.BENCH_CARDS ?? 100), backlog = Number(process.env.BENCH_CARDS_BACKLOG ?? 10_000) } = {}) {
  const aircall = await new FakeAircall({ ratePerMinute: RATE }).start();
  const key = aircall.addKey("bench-cards", "bench-cards-token");
  const hubspot = await new FakeHubSpot({ tokens: [TOKEN] }).start();
  const owner = hubspot.addOwner({ email: "bob@example.com", firstName: "Bob", lastName: "Smith" });
  const ann = hubspot.addContact({ firstname: "Ann", lastname: "Lee", company: "Acme", phone: "(415) 555-0100", hubspot_owner_id: owner.id, lifecyclestage: "customer" });
  hubspot.addDeal({ contactIds: [ann.id], dealname: "Expansion", amount: "25000", dealstage: "contractsent" });
  hubspot.addLoggedCall(ann.id, { hs_timestamp: "2026-03-01T10:00:00Z", hs_call_title: "Quote" });
  const receiver = await new FakeReceiver().start();
  const connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: String(RATE), HUBSPOT_API_BASE: hubspot.url, AIRCALL_RESULT_CAP: "10000" },
  });
  try {
    const created = await connector.api("POST", "/api/integrations", {
      name: "bench cards",
      aircall: key,
      destination: { type: "hubspot", access_token: TOKEN },
      events: ["call.created"],
      insight_cards: { enabled: true },
    });
    if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
    const webhook = aircall.webhooks.get(created.json.aircall.webhook_id);

    const hubspotBefore = hubspot.requests.length;
    const aircallBefore = aircall.requests.filter((r) => r.path.endsWith("/insight_cards")).length;
    const idle = await ringAll(connector, aircall, webhook, cards, 100_000);
    // The owners list and the account's details are read by an integration's first card
    // only (then kept an hour, and for good): counted apart.
    const hubspotMade = hubspot.requests.slice(hubspotBefore);
    const firstCardReads = hubspotMade.filter((r) => r.path === "/crm/v3/owners" || r.path === "/account-info/v3/details").length;
    const perCard = {
      hubspot_requests: +((hubspotMade.length - firstCardReads) / idle.cards).toFixed(2),
      hubspot_first_card_reads: firstCardReads,
      aircall_requests: +((aircall.requests.filter((r) => r.path.endsWith("/insight_cards")).length - aircallBefore) / idle.cards).toFixed(2),
    };

    // The backlog: 10,000 import jobs of a webhook integration of the same Aircall account,
    // queued at once, each of which must read its call from Aircall first (through the
    // account's budget, at 540 a minute for bulk work): they wait in the queue for minutes.
    const importing = await connector.api("POST", "/api/integrations", {
      name: "bench backlog",
      aircall: key,
      destination: { type: "webhook", url: receiver.url },
      import: { recording_required: false },
    });
    receiver.secret = importing.json.destination.secret;
    const since = Math.floor(Date.now() / 1000) - 36_000;
    aircall.addCalls("bench-cards", Array.from({ length: backlog }, (_, i) => ({ ...call(i + 1), started_at: since + i, recording: null })));
    const work = await connector.mf.getQueueProducer("WORK");
    for (let first = 1; first <= backlog; first += 100) {
      const jobs = Array.from({ length: Math.min(100, backlog - first + 1) }, (_, i) => ({
        body: JSON.stringify({ kind: "import", v: 1, integration_id: importing.json.id, call_id: first + i, call: null, read_at: 0, origin: "poll", run_id: null, attempt: 1 }),
      }));
      await work.sendBatch(jobs);
    }
    const delivered = () => new Set(receiver.delivered.filter((d) => d.body?.type === "call.imported").map((d) => d.body.data.id)).size;
    const readsBefore = aircall.requests.filter((r) => /^\/v1\/calls\/\d+$/.test(r.path)).length;
    const waitingBefore = backlog - delivered();
    const loaded = await ringAll(connector, aircall, webhook, cards, 200_000);
    const waitingAfter = backlog - delivered();
    const reads = aircall.requests.filter((r) => /^\/v1\/calls\/\d+$/.test(r.path)).length - readsBefore;
    return {
      idle,
      with_backlog: { ...loaded, backlog_jobs_waiting_when_ringing_started: waitingBefore, backlog_jobs_waiting_when_done: waitingAfter, backlog_aircall_reads_meanwhile: reads },
      ...(process.env.BENCH_CARDS_DEBUG ? { logs: connector.logs.slice(-30) } : {}),
      skipped: connector.logs.filter((l) => l.includes("skipped:")).map((l) => l.trim()).slice(0, 10),
      per_card: perCard,
      aircall_429: aircall.tooManyRequests,
      hubspot_429: hubspot.counters.tooManyRequests,
    };
  } finally {
    await connector.dispose();
    await receiver.stop();
    await hubspot.close();
    await aircall.stop();
  }
}

export function describeCards(r) {
  const line = (s) => `${s.cards}/${s.calls} cards, p50 ${s.p50_ms} ms, p95 ${s.p95_ms} ms, max ${s.max_ms} ms (webhook answered p95 ${s.webhook_answer_p95_ms} ms), ${s.duplicates} duplicates`;
  return `insight cards       idle queues: ${line(r.idle)}
                    ${r.with_backlog.backlog_jobs_waiting_when_ringing_started} import jobs waiting: ${line(r.with_backlog)} (${r.with_backlog.backlog_jobs_waiting_when_done} still waiting after)
                    (the backlog made ${r.with_backlog.backlog_aircall_reads_meanwhile} Aircall reads meanwhile; skips logged: ${r.skipped.length ? r.skipped.join(" | ") : "none"})
                    per card: ${r.per_card.hubspot_requests} HubSpot (and ${r.per_card.hubspot_first_card_reads} on the first card: owners, account), ${r.per_card.aircall_requests} Aircall requests; 429s: Aircall ${r.aircall_429}, HubSpot ${r.hubspot_429}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchCards();
  console.log(describeCards(r));
  console.log(JSON.stringify(r, null, 2));
}

// A backlog larger than Aircall's result cap, under the real 60 requests/minute limit, with
// the destination going down in the middle of the run. Scaled down for time: the result
// cap is 1,000 instead of 10,000 (AIRCALL_RESULT_CAP, the same in the fake) and the backlog
// 4,000 calls instead of 25,000; the semantics (window splitting, pacing) are the same.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConnector, waitFor, sleep } from "./harness.mjs";
import { FakeAircall } from "../fakes/aircall.mjs";
import { FakeReceiver } from "../fakes/receiver.mjs";
import { call } from "./payloads.mjs";

const BACKLOG = 4_000;
let aircall, receiver, connector, integration;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  aircall = await new FakeAircall({ ratePerMinute: 60, resultCap: 1_000 }).start();
  aircall.addKey("api-id-backlog", "api-token-backlog");
  receiver = await new FakeReceiver().start();
  connector = await startConnector({
    vars: {
      AIRCALL_API_BASE: aircall.url,
      AIRCALL_REQUESTS_PER_MINUTE: "60",
      AIRCALL_RESULT_CAP: "1000",
      RETRY_BASE_SECONDS: "1",
    },
  });
  const r = await connector.api("POST", "/api/integrations", {
    name: "Backlog",
    aircall: { api_id: "api-id-backlog", api_token: "api-token-backlog" },
    destination: { type: "webhook", url: receiver.url },
    import: { recording_required: false },
  });
  assert.equal(r.status, 201, r.text);
  receiver.secret = r.json.destination.secret;
  integration = r.json;
});
after(async () => {
  await connector?.dispose();
  await receiver?.stop();
  await aircall?.stop();
});

test("a backlog past the result cap imports completely at 60/min: no gap, no duplicate, no 429, nothing lost to an outage", async () => {
  // The last run was an hour ago; since then 4,000 calls, several sharing each second.
  const since = now() - 3_600;
  const kv = await connector.mf.getKVNamespace("STATE");
  await kv.put(`cursor:${integration.id}`, JSON.stringify({ started_at: since, ids_at_started_at: [] }));
  aircall.addCalls(
    "api-id-backlog",
    Array.from({ length: BACKLOG }, (_, i) => ({ ...call(i + 1), started_at: since + 1 + Math.floor((i * 3_500) / BACKLOG), recording: null })),
  );

  const started = Date.now();
  const r = await connector.api("POST", `/api/integrations/${integration.id}/sync`);
  assert.equal(r.status, 202, r.text);

  // The destination goes down once a quarter has arrived, and comes back 5 s later.
  const imported = () => new Set(receiver.delivered.filter((d) => d.body?.type === "call.imported").map((d) => d.body.data.id));
  await waitFor(() => imported().size >= BACKLOG / 4, { what: "a quarter delivered", timeout: 60_000 });
  await receiver.goDown();
  await sleep(5_000);
  await receiver.comeBack();

  await waitFor(() => imported().size === BACKLOG, { what: `${BACKLOG} calls delivered`, timeout: 180_000, interval: 500 });
  const run = await waitFor(async () => {
    const latest = (await connector.api("GET", `/api/integrations/${integration.id}/runs`)).json.runs[0];
    return latest.status === "done" && latest.pending === 0 && latest;
  }, { what: "the run to finish", timeout: 60_000 });
  const seconds = (Date.now() - started) / 1000;

  assert.equal(run.imported, BACKLOG);
  assert.equal(run.skipped, 0);
  assert.deepEqual([...imported()].sort((a, b) => a - b), Array.from({ length: BACKLOG }, (_, i) => i + 1), "no gap");
  const ids = receiver.delivered.filter((d) => d.body?.type === "call.imported").map((d) => d.id);
  assert.equal(new Set(ids).size, BACKLOG, "one webhook-id per call: receivers dedupe any repeat");
  assert.ok(receiver.delivered.every((d) => d.valid), "every delivery verifies");

  // More than a minute's worth of requests (the window was split to stay under the cap),
  // paced by the budget: Aircall never had to say 429.
  const minimum = Math.ceil(BACKLOG / 50);
  assert.ok(run.aircall_requests > 60 && run.aircall_requests <= minimum + 5, `${run.aircall_requests} requests`);
  assert.equal(aircall.tooManyRequests, 0, "no 429 from Aircall");
  console.log(`backlog: ${BACKLOG} calls, ${run.aircall_requests} Aircall requests (minimum ${minimum}), ${seconds.toFixed(1)} s`);
});

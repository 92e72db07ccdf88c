// `npm run demo` (with `npm start` running): a fake Aircall account and a signed-webhook
// receiver on this machine, an integration between them, and a few real-shaped events
// fired at the connector. Each delivery is shown as it arrives, with its signature checked.
import { readFileSync } from "node:fs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeReceiver } from "../tests/fakes/receiver.mjs";
import { call, user } from "../tests/e2e/payloads.mjs";

const CONNECTOR = process.env.CONNECTOR_URL ?? "http://localhost:8787";
const vars = Object.fromEntries(
  readFileSync(".dev.vars", "utf8").split("\n").filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const aircallPort = Number(new URL(vars.AIRCALL_API_BASE ?? "http://127.0.0.1:8790").port);

const health = await fetch(`${CONNECTOR}/healthz`).catch(() => null);
if (!health?.ok) {
  console.error(`The connector does not answer at ${CONNECTOR}: run \`npm start\` in another terminal first.`);
  process.exit(1);
}

const aircall = await new FakeAircall().start(aircallPort);
const key = aircall.addKey("demo-api-id", "demo-api-token");
const receiver = await new FakeReceiver().start(8791);
console.log(`fake Aircall on ${aircall.url}, receiver on ${receiver.url}`);

const created = await fetch(`${CONNECTOR}/api/integrations`, {
  method: "POST",
  headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
  body: JSON.stringify({ name: "Demo", aircall: key, destination: { type: "webhook", url: receiver.url } }),
});
const integration = await created.json();
if (created.status !== 201) {
  console.error("could not create the integration:", JSON.stringify(integration));
  process.exit(1);
}
receiver.secret = integration.destination.secret;
const webhook = aircall.webhooks.get(integration.aircall.webhook_id);
console.log(`integration ${integration.id} created; Aircall posts to ${webhook.url}`);
console.log(`destination secret (shown once): ${integration.destination.secret}\n`);

receiver.answer = (a) => {
  console.log(`  <- delivered ${a.body?.type.padEnd(16)} webhook-id ${a.id}  signature ${a.valid ? "valid" : "INVALID"}`);
  return { status: 200 };
};

const events = [
  ["call.created", call(4242, { status: "initial", answered_at: null, ended_at: null, duration: 0, recording: null })],
  ["call.answered", call(4242, { status: "answered", ended_at: null })],
  ["call.hungup", call(4242)],
  ["call.ended", call(4242)],
  ["call.tagged", call(4242, { tags: [{ id: 1, name: "Demo" }] })],
  ["user.connected.v2", user(456)],
];
for (const [event, data] of events) {
  const r = await aircall.fire(webhook, event, data);
  console.log(`-> Aircall posted ${event.padEnd(18)} connector answered ${r.status}`);
}

const deadline = Date.now() + 30_000;
while (receiver.delivered.length < events.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
const valid = receiver.delivered.filter((d) => d.valid).length;
console.log(`\n${receiver.delivered.length}/${events.length} events delivered, ${valid} with a valid signature.`);
await receiver.stop();
await aircall.stop();
process.exit(receiver.delivered.length === events.length ? 0 : 1);

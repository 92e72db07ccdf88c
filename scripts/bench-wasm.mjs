// CPU of the real worker wasm on V8: build/index.js and its wasm loaded straight into Node
// (scripts/wasm-loader.mjs), with small in-memory stand-ins for KV, the queues and the
// ACCOUNT_GATE Durable Object, and a stubbed global fetch. workerd cannot report CPU time
// locally (and Date.now() is frozen inside a worker), so this is how `npm run bench` gets
// figures from the wasm the worker ships rather than from a native build. CPU is the main
// thread's (the isolate's own; V8's background compiler threads are not in it), read from
// CLOCK_THREAD_CPUTIME_ID (see cpuNow). Figures only: nothing here passes or fails on timing.
//
// Node 20's V8 (11.3) cannot compile this wasm (wasm-bindgen's exception handling uses
// exnref, `try_table`, and WebAssembly.JSTag), so the measurement runs under a newer Node:
// BENCH_WASM_NODE if set, else this Node if it can, else Node NODE_VERSION from npm, installed
// once into .tools/ (V8 14.6, close to the V8 of the workerd that wrangler 4.86 runs).
//
//   node scripts/bench-wasm.mjs   prints the figures (benchWasm() returns them)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

export const NODE_VERSION = "26.10.0";
const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), "..");
// Each WebAssembly.Module gets code of its own: V8 would otherwise share the compiled code of
// identical bytes between modules, and a "fresh" instance would start warm.
const V8_FLAGS = ["--no-wasm-native-module-cache", "--disable-warning=ExperimentalWarning"];
const EVENTS = Number(process.env.BENCH_WASM_EVENTS ?? 500); // per round of ingress
const ROUNDS = Number(process.env.BENCH_WASM_ROUNDS ?? 5); // rounds of each warm figure
const FRESH = Number(process.env.BENCH_WASM_FRESH ?? 5); // fresh instances per cold figure
const SEGMENT_BATCH = 47; // JOBS' max_batch_size in wrangler.toml

const canRun = () => typeof WebAssembly.JSTag === "object";

/** A Node whose V8 runs the worker's wasm (see the top of this file). */
function v8Node() {
  if (process.env.BENCH_WASM_NODE) return process.env.BENCH_WASM_NODE;
  if (canRun()) return process.execPath;
  const pkg = `node-${{ win32: "win" }[process.platform] ?? process.platform}-${process.arch}`;
  const dir = path.join(ROOT, ".tools", `node-${NODE_VERSION}`);
  const bin = path.join(dir, "node_modules", pkg, "bin", "node");
  if (!existsSync(bin)) {
    console.error(`[bench-wasm] Node ${process.version} (V8 ${process.versions.v8}) cannot compile the worker's wasm: installing ${pkg}@${NODE_VERSION} from npm into .tools/ (once)`);
    const npm = ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--prefix", dir, `${pkg}@${NODE_VERSION}`];
    execFileSync("npm", npm, { stdio: ["ignore", "ignore", "inherit"] });
  }
  return bin;
}

const runSelf = (node, args, flags = []) =>
  JSON.parse(execFileSync(node, [...V8_FLAGS, ...flags, SELF, ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "inherit"] }));

/** The figures, measured in a Node that runs the wasm (a child process). */
export async function benchWasm() {
  return runSelf(v8Node(), ["--measure"]);
}

/** One line of medians for `npm run bench`'s summary. */
export function describeWasm(r) {
  const m = (s) => s.median;
  const ms = (us) => Math.round(us / 100) / 10;
  return (
    `ingress_event_us ${m(r.ingress_event_us.cpu)}, segment_delivery_per_event_us ${m(r.segment_delivery_per_event_us.cpu)}, contact_job_us ${m(r.contact_job_us.warm_cpu)}; ` +
    `fresh instance: start ${ms(m(r.isolate_start.module_import_cpu_us) + m(r.isolate_start.compile_cpu_us))} ms, 1st ingress ${ms(m(r.ingress_event_us.first_on_fresh_instance_cpu))} ms, ` +
    `1st contact job ${ms(m(r.contact_job_us.first_on_fresh_instance_cpu))} ms (phone library start ${ms(m(r.contact_job_us.phone_start_cpu))} ms)`
  );
}

// ---------------------------------------------------------------------------------------
// Everything below runs in the measuring Node.

// CPU clocks. process.threadCpuUsage() is getrusage(RUSAGE_THREAD), which on Linux only
// moves at scheduler ticks (a 100 µs event often reads 0 µs, the next one 4 ms); WASI's
// clock_time_get reads clock_gettime(CLOCK_THREAD_CPUTIME_ID), exact to the nanosecond. This
// module (147 bytes) is only that:
//   (module
//     (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
//     (memory (export "memory") 1)
//     (func $ns (param $id i32) (result f64)
//       (drop (call $clock (local.get $id) (i64.const 1) (i32.const 0)))
//       (f64.convert_i64_u (i64.load (i32.const 0))))
//     (func (export "process") (result f64) (call $ns (i32.const 2)))
//     (func (export "thread") (result f64) (call $ns (i32.const 3))))
const CLOCKS_WASM =
  "AGFzbQEAAAABEQNgAAF8YAN/fn8Bf2ABfwF8AikBFndhc2lfc25hcHNob3RfcHJldmlldzEOY2xvY2tfdGltZV9nZXQAAQMEAwIAAAUDAQABBx0DBm1lbW9yeQIAB3Byb2Nlc3MAAgZ0aHJlYWQAAwohAxEAIABCAUEAEAAaQQApAwC6CwYAQQIQAQsGAEEDEAEL";
let clocks; // set up in measureMain
/** CPU microseconds of this thread (the isolate's), and of the whole process. */
const cpuNow = () => clocks.thread() / 1000;
const processCpuNow = () => clocks.process() / 1000;
/** CPU (main thread) and wall microseconds of `work`. */
async function timed(work) {
  const wall = performance.now();
  const processCpu = processCpuNow();
  const cpu = cpuNow();
  const value = await work();
  return { cpu: cpuNow() - cpu, process_cpu: processCpuNow() - processCpu, wall: (performance.now() - wall) * 1000, value };
}
const round1 = (x) => Math.round(x * 10) / 10;
function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  return { min: round1(s[0]), median: round1(s[Math.floor((s.length - 1) / 2)]), max: round1(s.at(-1)), n: s.length };
}
const median = (values) => stats(values).median;

// The worker logs through console.log/console.error: kept (the last 200 lines), not printed
// (see measureMain).
const logs = [];
const keepLogs = () => {
  console.log = console.error = console.warn = (...args) => {
    logs.push(args.map(String).join(" "));
    if (logs.length > 200) logs.shift();
  };
};
function check(ok, what) {
  if (!ok) throw new Error(`bench-wasm: ${what}\nlast worker logs:\n${logs.slice(-20).join("\n")}`);
}

// --- The bindings' stand-ins --------------------------------------------------------------

const ADMIN_TOKEN = "bench-admin-token-0123456789";
const ENCRYPTION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 32 bytes, base64
const counts = {};
const count = (name, n = 1) => (counts[name] = (counts[name] ?? 0) + n);

/** Workers KV: `get` (text or json), `put` (expirationTtl, metadata), `delete`, `list`. */
function kvNamespace() {
  const data = new Map();
  return {
    data,
    async get(key, options) {
      count("kv_get");
      const entry = data.get(key);
      if (!entry) return null;
      const type = typeof options === "string" ? options : (options?.type ?? "text");
      return type === "json" ? JSON.parse(entry.value) : entry.value;
    },
    async getWithMetadata(key, options) {
      return { value: await this.get(key, options), metadata: data.get(key)?.metadata ?? null };
    },
    async put(key, value, options = {}) {
      count("kv_put");
      const expiration = options.expirationTtl ? Math.floor(Date.now() / 1000) + options.expirationTtl : options.expiration;
      data.set(key, { value: String(value), expiration, metadata: options.metadata });
    },
    async delete(key) {
      count("kv_delete");
      data.delete(key);
    },
    async list({ prefix = "", cursor, limit = 1000 } = {}) {
      count("kv_list");
      const names = [...data.keys()].filter((k) => k.startsWith(prefix)).sort();
      const start = cursor ? Number(cursor) : 0;
      const done = start + limit >= names.length;
      const keys = names.slice(start, start + limit).map((name) => ({ name, expiration: data.get(name).expiration, metadata: data.get(name).metadata }));
      return { keys, list_complete: done, cursor: done ? undefined : String(start + limit) };
    },
  };
}

// workers-rs checks these bindings' constructor names.
class WorkerQueue {
  sent = [];
  async send(body) {
    count("queue_send");
    this.sent.push(body);
  }
  async sendBatch(messages) {
    count("queue_send");
    for (const m of messages) this.sent.push(m.body);
  }
}

/** ACCOUNT_GATE: one AccountGate per name, the class exported by a bundle instance of its
 * own (a Durable Object runs in its own isolate), storage in a Map. Its CPU is not the
 * caller's on Cloudflare: it is added up in `cpu` so that callers can leave it out. */
class DurableObjectNamespace {
  objects = new Map();
  storages = new Map();
  cpu = 0;
  constructor(env) {
    this.env = env;
  }
  idFromName(name) {
    return { name, toString: () => name };
  }
  object(name) {
    let object = this.objects.get(name);
    if (!object) {
      const data = new Map();
      this.storages.set(name, data);
      const storage = {
        get: async (key) => structuredClone(data.get(key)),
        put: async (key, value) => void data.set(key, structuredClone(value)),
        delete: async (key) => data.delete(key),
      };
      const state = { id: this.idFromName(name), storage, waitUntil() {}, blockConcurrencyWhile: (f) => f() };
      object = new this.AccountGate(state, this.env);
      this.objects.set(name, object);
    }
    return object;
  }
  /** Forgets what the objects stored (the rate budgets' request times), so that their
   * storage stays as small as a real account's between measured jobs. */
  reset() {
    for (const data of this.storages.values()) data.clear();
  }
  get(id) {
    return {
      fetch: async (input, init) => {
        count("gate_call");
        const started = cpuNow();
        try {
          return await this.object(id.name).fetch(new Request(input, init));
        } finally {
          this.cpu += cpuNow() - started;
        }
      },
    };
  }
}

function bindings() {
  const vars = readToml(path.join(ROOT, "wrangler.toml")).vars;
  const env = {
    ...vars,
    ADMIN_TOKEN,
    ENCRYPTION_KEY,
    // A budget that a few thousand measured Aircall requests never exhaust.
    AIRCALL_REQUESTS_PER_MINUTE: "1000000",
    STATE: kvNamespace(),
    JOBS: new WorkerQueue(),
    WORK: new WorkerQueue(),
    JOBS_DLQ: new WorkerQueue(),
  };
  env.ACCOUNT_GATE = new DurableObjectNamespace(env);
  return env;
}

let readToml; // smol-toml's parse, loaded with the rest in measureMain()

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** The global fetch: Aircall (ping, webhooks, contacts) and Segment, answered as
 * tests/fakes/aircall.mjs and tests/fakes/segment.mjs do. */
function stubFetch(env) {
  const aircall = new URL(env.AIRCALL_API_BASE).host;
  const segment = new URL(env.SEGMENT_US_BASE ?? "https://api.segment.io").host;
  const hubspot = new URL(env.HUBSPOT_API_BASE ?? "https://api.hubapi.com").host;
  // Insight cards' reads, as tests/fakes/hubspot.mjs answers them: Ann, whatever the number.
  const ann = { id: "1001", properties: { firstname: "Ann", lastname: "Lee", company: "Acme", hubspot_owner_id: "301", lifecyclestage: "customer", phone: "(415) 555-0100" } };
  const webhooks = new Map(); // url -> webhook
  let next = 1;
  const existing = (email, id) => ({
    id, direct_link: `https://api.aircall.io/v1/contacts/${id}`, first_name: "Old", last_name: "Name", company_name: null,
    description: null, information: null, is_shared: true, created_at: 1_763_980_000, updated_at: 1_763_980_000,
    phone_numbers: [{ id: 1, label: "Work", value: "+33142685300" }], emails: [{ id: 2, label: "Work", value: email }],
  });
  const contact = (id, body) => ({ ...existing(null, id), ...body, phone_numbers: (body.phone_numbers ?? []).map((p, i) => ({ id: i + 1, ...p })), emails: (body.emails ?? []).map((e, i) => ({ id: i + 1, ...e })) });
  globalThis.fetch = async (input, init) => {
    count("fetch");
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (url.host === aircall) {
      if (route === "GET /v1/ping") return json(200, { ping: "pong" });
      if (route === "POST /v1/webhooks") {
        const body = await request.json();
        const n = next++;
        const webhook = { webhook_id: `wh-${n}`, direct_link: `https://api.aircall.io/v1/webhooks/wh-${n}`, created_at: new Date().toISOString(), url: body.url, active: true, events: body.events ?? [], custom_name: body.custom_name ?? "Webhook", token: `${n}`.padStart(32, "0") };
        webhooks.set(body.url, webhook);
        return json(201, { webhook });
      }
      if (route === "GET /v1/contacts/search") {
        const email = url.searchParams.get("email");
        // "existing..." e-mails have an Aircall contact (E.164 numbers): the update path.
        const contacts = email?.startsWith("existing") ? [existing(email, 700_000 + next++)] : [];
        return json(200, { contacts, meta: { count: contacts.length, total: contacts.length, current_page: 1, per_page: 50, next_page_link: null } });
      }
      if (route === "POST /v1/contacts") return json(201, { contact: contact(800_000 + next++, await request.json()) });
      const update = /^POST \/v1\/contacts\/(\d+)$/.exec(route);
      if (update) return json(200, { contact: contact(Number(update[1]), await request.json()) });
      if (/^POST \/v1\/calls\/\d+\/insight_cards$/.test(route)) {
        count("insight_card");
        return json(201, {});
      }
    }
    if (url.host === hubspot) {
      if (route === "POST /crm/v3/objects/contacts/search") return json(200, { total: 1, results: [ann] });
      if (route === `GET /crm/v3/objects/contacts/${ann.id}`) return json(200, ann);
      if (route === "GET /crm/v3/owners") return json(200, { results: [{ id: "301", email: "bob@example.com", firstName: "Bob", lastName: "Smith" }] });
      if (route === "GET /account-info/v3/details") return json(200, { portalId: 4242, uiDomain: "app.hubspot.com" });
      if (route === "POST /crm/v3/objects/deals/search") return json(200, { total: 2, results: [{ id: "7", properties: { dealname: "Expansion", amount: "25000", dealstage: "contractsent" } }] });
      if (route === "POST /crm/v3/objects/calls/search") return json(200, { total: 1, results: [{ id: "9", properties: { hs_timestamp: "2026-03-01T10:00:00.000Z", hs_call_title: "Quote" } }] });
    }
    if (url.host === segment && route === "POST /v1/batch") {
      count("segment_batch");
      return json(200, { success: true });
    }
    count("unexpected_fetch");
    logs.push(`unexpected fetch: ${route} ${url.host}`);
    return json(404, { error: "not found" });
  };
  return webhooks;
}

// --- The worker --------------------------------------------------------------------------

const BUNDLE = pathToFileURL(path.join(ROOT, "build", "index.js")).href;
let loaded = 0;

/** A fresh bundle instance: the wasm compiled (timed), then build/index.js imported under a
 * query of its own, which instantiates it (WebAssembly.Instance timed on its own). */
async function load(bytes) {
  const compile = await timed(() => new WebAssembly.Module(bytes));
  globalThis.__benchWasmModule = compile.value;
  const Original = WebAssembly.Instance;
  let instantiate;
  WebAssembly.Instance = function (module, imports) {
    const wall = performance.now();
    const processCpu = processCpuNow();
    const cpu = cpuNow();
    const instance = new Original(module, imports);
    instantiate = { cpu: cpuNow() - cpu, process_cpu: processCpuNow() - processCpu, wall: (performance.now() - wall) * 1000 };
    return instance;
  };
  let imported;
  try {
    imported = await timed(() => import(`${BUNDLE}?instance=${++loaded}`));
  } finally {
    WebAssembly.Instance = Original;
  }
  return { exports: imported.value, start: { compile: { cpu: compile.cpu, process_cpu: compile.process_cpu, wall: compile.wall }, instantiate, module_import: { cpu: imported.cpu, process_cpu: imported.process_cpu, wall: imported.wall } } };
}

// What a request hands to `waitUntil` (an insight card, made after the answer), awaited by
// the figures that measure it.
const waiting = [];
const ctx = () => ({ waitUntil(promise) { waiting.push(promise); }, passThroughOnException() {}, props: {} });
// A new entrypoint object per event, as the runtime makes one per request.
const fetchWorker = (instance, env, request) => new instance.exports.default(ctx(), env).fetch(request);
const queueWorker = (instance, env, batch) => new instance.exports.default(ctx(), env).queue(batch);

function batchOf(bodies, queue = "aircall-connector-jobs") {
  const acks = { ack: 0, retry: 0 };
  const messages = bodies.map((body, i) => ({
    id: `m${i}`, timestamp: new Date(), body, attempts: 1,
    ack: () => acks.ack++, retry: () => acks.retry++,
  }));
  return { batch: { queue, messages, retryAll: () => (acks.retry += messages.length), ackAll: () => (acks.ack += messages.length) }, acks };
}

async function api(instance, env, method, pathname, body) {
  const request = new Request(`${env.PUBLIC_BASE_URL}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const response = await fetchWorker(instance, env, request);
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text || "null") };
}

let callPayload; // tests/e2e/payloads.mjs's call()
const webhookRequest = (env, integration, token, n) =>
  new Request(`${env.PUBLIC_BASE_URL}/webhooks/aircall/${integration}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resource: "call", event: "call.ended", timestamp: 1_763_980_000 + n, token, data: callPayload(n) }),
  });

// A call ringing: call.created for an integration with insight cards on.
const cardRequest = (env, integration, n, digits) =>
  new Request(`${env.PUBLIC_BASE_URL}/webhooks/aircall/${integration.id}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resource: "call", event: "call.created", timestamp: Math.floor(Date.now() / 1000), token: integration.token, data: { id: n, direction: "inbound", status: "initial", raw_digits: digits } }),
  });

/** One call.created and its card (the answer, then what it left to waitUntil): CPU without
 * the ACCOUNT_GATE object's share. */
async function cardRun(instance, env, request) {
  env.ACCOUNT_GATE.reset();
  const gate = env.ACCOUNT_GATE.cpu;
  const posted = counts.insight_card ?? 0;
  const logged = logs.length;
  const r = await timed(async () => {
    const response = await fetchWorker(instance, env, request);
    await response.text();
    await Promise.all(waiting.splice(0));
  });
  check((counts.insight_card ?? 0) === posted + 1, `no card was posted: ${logs.slice(logged).join(" | ")}`);
  const gateCpu = env.ACCOUNT_GATE.cpu - gate;
  return { cpu: r.cpu - gateCpu, gate: gateCpu };
}

async function ingress(instance, env, request) {
  const response = await fetchWorker(instance, env, request);
  const answer = await response.text();
  return { status: response.status, answer };
}

/** A HubSpot contact job (what a HubSpot pass queues: src/hubspot/sync.rs). `national`:
 * two French numbers written without a country code, which only libphonenumber can
 * normalise, and no Aircall contact with its e-mail, so it is created. Otherwise: no phone
 * number and an Aircall contact with that e-mail (E.164 numbers), which is updated: every
 * step of the job but the phone library. */
const contactJob = (integration, n, national) =>
  JSON.stringify({
    kind: "contact",
    integration_id: integration,
    attempt: 1,
    hubspot: {
      id: `${national ? 1 : 2}${String(n).padStart(6, "0")}`,
      properties: national
        ? { firstname: "Jean", lastname: `Dupont ${n}`, email: `jean.dupont.${n}@example.com`, company: "ACME", phone: "01 42 68 53 00", mobilephone: "06 12 34 56 78" }
        : { firstname: "Jeanne", lastname: `Martin ${n}`, email: `existing.${n}@example.com`, company: "ACME" },
    },
  });

// --- Setting up state, through the admin API of a helper instance --------------------------

async function setup(helper, env, webhooks, which) {
  const key = { api_id: "bench-api-id", api_token: "bench-api-token" };
  const create = async (body) => {
    const r = await api(helper, env, "POST", "/api/integrations", { aircall: key, ...body });
    check(r.status === 201, `creating ${body.name} answered ${r.status} ${JSON.stringify(r.json)}`);
    return { id: r.json.id, token: webhooks.get(`${env.PUBLIC_BASE_URL}/webhooks/aircall/${r.json.id}`)?.token };
  };
  const out = {};
  if (which.includes("webhook")) out.webhook = await create({ name: "bench webhook", destination: { type: "webhook", url: "https://receiver.test/aircall" } });
  if (which.includes("segment")) {
    out.segment = await create({ name: "bench segment", destination: { type: "segment", write_key: "bench-write-key", region: "us" } });
    // A queue batch of deliveries (JOBS' max_batch_size), as ingress queues them.
    for (let n = 0; n < SEGMENT_BATCH; n++) check((await ingress(helper, env, webhookRequest(env, out.segment.id, out.segment.token, 10_000 + n))).status === 202, "segment ingress");
    out.segment.batch = env.JOBS.sent.filter((m) => JSON.parse(m).kind === "deliver");
    check(out.segment.batch.length === SEGMENT_BATCH, `captured ${out.segment.batch.length} Segment deliveries`);
  }
  if (which.includes("hubspot")) {
    out.hubspot = await create({
      name: "bench contacts",
      destination: { type: "hubspot", access_token: "pat-na1-bench" },
      contact_sync: { direction: "both", phone: { normalize: true, default_country: "FR" } },
    });
  }
  if (which.includes("cards")) {
    out.cards = await create({ name: "bench cards", destination: { type: "hubspot", access_token: "pat-na1-bench" }, events: ["call.created"], insight_cards: { enabled: true } });
  }
  env.JOBS.sent.length = 0;
  env.WORK.sent.length = 0;
  return out;
}

// --- The figures ---------------------------------------------------------------------------

/** One contact job: CPU with and without the ACCOUNT_GATE object's share, and its outcome. */
async function contactRun(instance, env, message) {
  env.ACCOUNT_GATE.reset();
  const { batch, acks } = batchOf([message], "aircall-connector-work"); // where contact jobs go
  const gate = env.ACCOUNT_GATE.cpu;
  const logged = logs.length;
  const r = await timed(() => queueWorker(instance, env, batch));
  const outcome = logs.slice(logged).find((l) => l.startsWith("HubSpot contact")) ?? logs.at(-1);
  check(acks.ack === 1, `contact job not acknowledged: ${outcome}`);
  const gateCpu = env.ACCOUNT_GATE.cpu - gate;
  return { cpu: r.cpu - gateCpu, cpu_with_gate: r.cpu, gate: gateCpu, outcome };
}

/** A cold figure, in a process of its own: the first thing it does is compile and
 * instantiate the wasm, as a fresh isolate would; state is set up through another instance. */
async function cold(scenario) {
  const bytes = readFileSync(path.join(ROOT, "build", "index_bg.wasm"));
  const measured = await load(bytes);
  const env = bindings();
  const webhooks = stubFetch(env);
  const helper = await load(bytes);
  env.ACCOUNT_GATE.AccountGate = helper.exports.AccountGate;
  const out = { start: measured.start };
  if (scenario === "ingress") {
    const { webhook } = await setup(helper, env, webhooks, ["webhook"]);
    const requests = [0, 1, 2].map((n) => webhookRequest(env, webhook.id, webhook.token, 20_000 + n));
    out.runs = [];
    for (const request of requests) {
      const r = await timed(() => ingress(measured, env, request));
      check(r.value.status === 202, `ingress answered ${r.value.status} ${r.value.answer}`);
      out.runs.push(r.cpu);
    }
  }
  if (scenario === "segment") {
    const { segment } = await setup(helper, env, webhooks, ["segment"]);
    out.runs = [];
    for (let n = 0; n < 3; n++) {
      const { batch, acks } = batchOf(segment.batch);
      const r = await timed(() => queueWorker(measured, env, batch));
      check(acks.ack === SEGMENT_BATCH, `Segment batch: ${acks.ack} acknowledged`);
      out.runs.push(r.cpu);
    }
  }
  if (scenario === "contact" || scenario === "contact_after_other_jobs") {
    const { hubspot } = await setup(helper, env, webhooks, ["hubspot"]);
    out.before = [];
    if (scenario === "contact_after_other_jobs") {
      // Every step of a contact job but the phone library, twice, before the first number.
      for (const n of [1, 2]) {
        const r = await contactRun(measured, env, contactJob(hubspot.id, n, false));
        check(r.outcome.includes("Updated"), `the warm-up job was not an update: ${r.outcome}`);
        out.before.push(r.cpu);
      }
    }
    out.runs = [];
    for (const n of [1, 2, 3, 4, 5]) {
      const r = await contactRun(measured, env, contactJob(hubspot.id, n, true));
      check(r.outcome.includes("Created"), `the contact job did not create a contact: ${r.outcome}`);
      out.runs.push(r.cpu);
    }
  }
  if (scenario === "card") {
    // The first cards of a fresh instance, each a number not cached: searched, with the forms
    // the phone library makes (its start paid by the first).
    const { cards } = await setup(helper, env, webhooks, ["cards"]);
    out.runs = [];
    for (let n = 1; n <= 3; n++) out.runs.push((await cardRun(measured, env, cardRequest(env, cards, n, `+1 415-555-010${n}`))).cpu);
  }
  check(!counts.unexpected_fetch, "the worker fetched something the stub does not answer");
  return out;
}

/** Warm figures, and the stand-ins' own cost, in this process. */
async function warm() {
  const bytes = readFileSync(path.join(ROOT, "build", "index_bg.wasm"));
  const env = bindings();
  const webhooks = stubFetch(env);
  const helper = await load(bytes);
  env.ACCOUNT_GATE.AccountGate = helper.exports.AccountGate;
  const state = await setup(helper, env, webhooks, ["webhook", "segment", "hubspot", "cards"]);
  const worker = await load(bytes); // measured apart from the helper's setup work
  const out = {};
  const opsSince = (before, per) =>
    Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, round1((v - (before[k] ?? 0)) / per)]).filter(([, v]) => v));

  // The floor: GET /healthz reads the settings and answers, touching no binding.
  const health = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const requests = Array.from({ length: 200 }, () => new Request(`${env.PUBLIC_BASE_URL}/healthz`));
    const r = await timed(async () => {
      for (const request of requests) await (await fetchWorker(worker, env, request)).text();
    });
    if (round) health.push(r.cpu / requests.length); // round 0 warms up
  }
  out.healthz = stats(health);

  // Ingress: call.ended webhooks to a webhook integration, one at a time.
  const ingressCpu = [];
  const ingressWall = [];
  let ops;
  for (let round = 0; round <= ROUNDS; round++) {
    const n = round ? EVENTS : 50; // round 0 warms up
    const requests = Array.from({ length: n }, (_, i) => webhookRequest(env, state.webhook.id, state.webhook.token, round * 100_000 + i));
    const before = { ...counts };
    const r = await timed(async () => {
      for (const request of requests) {
        const { status } = await ingress(worker, env, request);
        if (status !== 202) throw new Error(`ingress answered ${status}`);
      }
    });
    ops = opsSince(before, n);
    check(env.JOBS.sent.length === n && env.WORK.sent.length === n, `ingress queued ${env.JOBS.sent.length} deliveries and ${env.WORK.sent.length} imports for ${n} events`);
    env.JOBS.sent.length = 0;
    env.WORK.sent.length = 0;
    if (round) ingressCpu.push(r.cpu / n), ingressWall.push(r.wall / n);
  }
  out.ingress = { cpu: stats(ingressCpu), wall: stats(ingressWall), ops_per_event: ops };

  // Segment: queue batches of the captured deliveries.
  const segmentCpu = [];
  const segmentWall = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const batches = Array.from({ length: round ? 10 : 2 }, () => batchOf(state.segment.batch));
    const before = { ...counts };
    const r = await timed(async () => {
      for (const { batch } of batches) await queueWorker(worker, env, batch);
    });
    ops = opsSince(before, batches.length);
    check(batches.every(({ acks }) => acks.ack === SEGMENT_BATCH) && counts.segment_batch - (before.segment_batch ?? 0) === batches.length, "Segment batches not delivered in one request each");
    if (round) segmentCpu.push(r.cpu / (SEGMENT_BATCH * batches.length)), segmentWall.push(r.wall / (SEGMENT_BATCH * batches.length));
  }
  out.segment = { cpu: stats(segmentCpu), wall: stats(segmentWall), ops_per_batch: ops };

  // Contact jobs, warm: each a new HubSpot contact with two national numbers.
  let n = 0;
  for (let i = 0; i < 5; i++) await contactRun(worker, env, contactJob(state.hubspot.id, ++n, true));
  const contact = [];
  const contactGate = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runs = [];
    const before = { ...counts };
    for (let i = 0; i < 20; i++) {
      runs.push(await contactRun(worker, env, contactJob(state.hubspot.id, ++n, true)));
    }
    ops = opsSince(before, 20);
    check(runs.every((r) => r.outcome.includes("Created")), "warm contact jobs did not create contacts");
    contact.push(median(runs.map((r) => r.cpu)));
    contactGate.push(median(runs.map((r) => r.gate)));
  }
  out.contact = { cpu: stats(contact), gate_cpu: stats(contactGate), ops_per_job: ops };

  // Insight cards: call.created and its card, the number cached (the contact read by id) or
  // new each time (searched, in the forms the phone library makes, warm here).
  const cardCpu = { cached: [], searched: [] };
  let callId = 1;
  for (let round = 0; round <= ROUNDS; round++) {
    for (const kind of ["cached", "searched"]) {
      const runs = [];
      for (let i = 0; i < 20; i++) {
        const digits = kind === "cached" ? "+1 415-555-0100" : `+1 415-555-${1000 + callId}`;
        runs.push(await cardRun(worker, env, cardRequest(env, state.cards, callId++, digits)));
      }
      if (round) cardCpu[kind].push(median(runs.map((r) => r.cpu))); // round 0 warms up
    }
  }
  out.card = { cached: stats(cardCpu.cached), searched: stats(cardCpu.searched) };

  // The stand-ins alone: what one call into each costs (JS only, no wasm).
  const per = async (n, work) => (await timed(async () => { for (let i = 0; i < n; i++) await work(i); })).cpu / n;
  const integrationKey = [...env.STATE.data.keys()].find((k) => k.includes(state.webhook.id));
  const sample = state.segment.batch[0];
  const standIns = { kv_get: [], kv_put: [], queue_send_batch_of_2: [], fetch_segment_answer: [], gate_call_take: [], empty_async_call: [], node_request_and_response: [] };
  // What the glue asks of Node's fetch API for one webhook (src/platform/mod.rs): the
  // request's URL, method and headers, its body read from its stream, then the answer's
  // Headers and Response, read by the caller.
  const requestAndResponse = async (request) => {
    void request.url, request.method, [...request.headers.entries()];
    const reader = request.body.getReader();
    while (!(await reader.read()).done);
    const headers = new Headers();
    headers.set("content-type", "application/json");
    await new Response(new Uint8Array(64), { status: 202, headers }).text();
  };
  const gateStub = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName("bench-stand-in"));
  for (let round = 0; round <= ROUNDS; round++) {
    const keep = (name, value) => round && standIns[name].push(value);
    keep("empty_async_call", await per(2000, async () => {}));
    const webhooks = Array.from({ length: 500 }, (_, i) => webhookRequest(env, state.webhook.id, state.webhook.token, i));
    keep("node_request_and_response", await per(500, (i) => requestAndResponse(webhooks[i])));
    keep("kv_get", await per(2000, () => env.STATE.get(integrationKey, { type: "text" })));
    keep("kv_put", await per(2000, (i) => env.STATE.put(`bench-stand-in:${i}`, sample, { expirationTtl: 3600 })));
    keep("queue_send_batch_of_2", await per(2000, () => env.JOBS.sendBatch([{ body: sample }, { body: sample }], {})));
    env.JOBS.sent.length = 0;
    keep("fetch_segment_answer", await per(500, async () => (await fetch(new Request("https://api.segment.io/v1/batch", { method: "POST", body: sample }))).status));
    keep("gate_call_take", await per(500, async () => (await gateStub.fetch("https://gate/take?requests=1000000&window_ms=61000")).json()));
    env.ACCOUNT_GATE.objects.delete("bench-stand-in");
  }
  out.stand_ins = Object.fromEntries(Object.entries(standIns).map(([k, v]) => [k, stats(v)]));
  check(!counts.unexpected_fetch, "the worker fetched something the stub does not answer");
  return out;
}

/** The cold figures, each from FRESH processes of its own (`flags`: V8 flags added). */
function coldFigures(flags = []) {
  const fresh = (scenario) => Array.from({ length: FRESH }, () => runSelf(process.execPath, ["--cold", scenario], flags));
  const c = { ingress: fresh("ingress"), segment: fresh("segment"), contact: fresh("contact"), warmed: fresh("contact_after_other_jobs"), card: fresh("card") };
  const starts = Object.values(c).flat().map((r) => r.start);
  // On each fresh instance of the contact figures, jobs 3-5 are its warm ones.
  const warmOf = (r) => median(r.runs.slice(2));
  return {
    isolate_start: {
      compile_cpu_us: stats(starts.map((s) => s.compile.cpu)),
      // With V8's compiler threads (process CPU): they compile in parallel with the main thread.
      compile_process_cpu_us: stats(starts.map((s) => s.compile.process_cpu)),
      instantiate_cpu_us: stats(starts.map((s) => s.instantiate.cpu)),
      // Evaluating build/index.js: its glue, WebAssembly.Instance and the wasm's start.
      module_import_cpu_us: stats(starts.map((s) => s.module_import.cpu)),
      fresh_processes: starts.length,
    },
    ingress_first: stats(c.ingress.map((r) => r.runs[0])),
    ingress_second: stats(c.ingress.map((r) => r.runs[1])),
    segment_first_batch: stats(c.segment.map((r) => r.runs[0])),
    segment_second_batch: stats(c.segment.map((r) => r.runs[1])),
    contact_first: stats(c.contact.map((r) => r.runs[0])),
    contact_warm: stats(c.contact.map(warmOf)),
    // After two jobs that run every step but the phone library: the first national number.
    contact_first_number_after_other_jobs: stats(c.warmed.map((r) => r.runs[0])),
    contact_other_jobs_first: stats(c.warmed.map((r) => r.before[0])),
    phone_start: stats(c.warmed.map((r) => r.runs[0] - warmOf(r))),
    card_first: stats(c.card.map((r) => r.runs[0])),
    card_second: stats(c.card.map((r) => r.runs[1])),
  };
}

async function measure() {
  const w = await warm();
  const lazy = coldFigures();
  // V8 compiles wasm functions lazily, on their first call (its default): the first request
  // of an instance compiles what it runs. Compiled eagerly instead, the same cold figures
  // show what is left of them: the program's own first-time work.
  const eager = coldFigures(["--no-wasm-lazy-compilation"]);
  const m = (key) => w.stand_ins[key].median;
  // The stand-ins' share of one event: its calls into them, at their cost alone.
  const share = (ops) =>
    round1((ops.kv_get ?? 0) * m("kv_get") + (ops.kv_put ?? 0) * m("kv_put") + (ops.queue_send ?? 0) * m("queue_send_batch_of_2") + (ops.fetch ?? 0) * m("fetch_segment_answer"));
  return {
    runtime: { node: process.version, v8: process.versions.v8, v8_flags: V8_FLAGS.join(" "), cpu: "main thread, CLOCK_THREAD_CPUTIME_ID", fresh_instances_per_cold_figure: FRESH, rounds: ROUNDS },
    isolate_start: lazy.isolate_start,
    healthz_request_us: { cpu: w.healthz },
    ingress_event_us: {
      cpu: w.ingress.cpu,
      wall: w.ingress.wall,
      events_per_round: EVENTS,
      first_on_fresh_instance_cpu: lazy.ingress_first,
      second_on_fresh_instance_cpu: lazy.ingress_second,
      stand_in_calls: w.ingress.ops_per_event,
      stand_in_share_estimate: share(w.ingress.ops_per_event),
      // Node's Request/Response/streams are JavaScript (workerd's are C++): reading the
      // webhook's request and making the answer, without the wasm.
      node_fetch_api_estimate: m("node_request_and_response"),
    },
    segment_delivery_per_event_us: {
      cpu: w.segment.cpu,
      wall: w.segment.wall,
      first_batch_on_fresh_instance_cpu: lazy.segment_first_batch,
      second_batch_on_fresh_instance_cpu: lazy.segment_second_batch,
      stand_in_calls_per_batch: w.segment.ops_per_batch,
      batch_size: SEGMENT_BATCH,
      stand_in_share_estimate: round1(share(w.segment.ops_per_batch) / SEGMENT_BATCH),
    },
    contact_job_us: {
      // Without the ACCOUNT_GATE object's CPU (its own invocation on Cloudflare).
      warm_cpu: w.contact.cpu,
      gate_cpu_per_job: w.contact.gate_cpu,
      first_on_fresh_instance_cpu: lazy.contact_first,
      third_to_fifth_on_fresh_instance_cpu: lazy.contact_warm,
      first_number_after_other_jobs_cpu: lazy.contact_first_number_after_other_jobs,
      other_jobs_first_on_fresh_instance_cpu: lazy.contact_other_jobs_first,
      phone_start_cpu: lazy.phone_start,
      stand_in_calls: w.contact.ops_per_job,
      stand_in_share_estimate: share(w.contact.ops_per_job),
    },
    // A call.created webhook with its insight card (made in waitUntil, same invocation).
    insight_card_us: {
      warm_cached_number_cpu: w.card.cached,
      warm_searched_number_cpu: w.card.searched,
      first_on_fresh_instance_cpu: lazy.card_first,
      second_on_fresh_instance_cpu: lazy.card_second,
    },
    stand_ins_us: w.stand_ins,
    eager_compilation: eager,
  };
}

function describe(r) {
  const us = (x) => `${x.median} µs (${x.min}-${x.max})`;
  const ms = (x) => `${round1(x.median / 1000)} ms (${round1(x.min / 1000)}-${round1(x.max / 1000)})`;
  const i = r.isolate_start;
  const e = r.ingress_event_us;
  const g = r.segment_delivery_per_event_us;
  const c = r.contact_job_us;
  const z = r.eager_compilation;
  const t = r.stand_ins_us;
  return `CPU of the worker's wasm on V8 (Node ${r.runtime.node}, V8 ${r.runtime.v8}), main thread: median (min-max)
isolate start       compile ${ms(i.compile_cpu_us)}, instantiate ${ms(i.instantiate_cpu_us)}; importing build/index.js in all ${ms(i.module_import_cpu_us)}   [${i.fresh_processes} fresh processes]
GET /healthz        ${us(r.healthz_request_us.cpu)} per request
ingress             ${us(e.cpu)} per call.ended event (${e.events_per_round} a round, ${r.runtime.rounds} rounds); on a fresh instance: 1st ${ms(e.first_on_fresh_instance_cpu)}, 2nd ${us(e.second_on_fresh_instance_cpu)}
Segment delivery    ${us(g.cpu)} per event in batches of ${g.batch_size}; on a fresh instance: 1st batch ${ms(g.first_batch_on_fresh_instance_cpu)}, 2nd ${ms(g.second_batch_on_fresh_instance_cpu)}
contact job         ${us(c.warm_cpu)} warm (+ ACCOUNT_GATE's ${c.gate_cpu_per_job.median} µs); on a fresh instance: 1st ${ms(c.first_on_fresh_instance_cpu)}, 3rd-5th ${us(c.third_to_fifth_on_fresh_instance_cpu)}
insight card        ${us(r.insight_card_us.warm_cached_number_cpu)} warm with the webhook, number cached; ${us(r.insight_card_us.warm_searched_number_cpu)} searched; on a fresh instance: 1st ${ms(r.insight_card_us.first_on_fresh_instance_cpu)}, 2nd ${ms(r.insight_card_us.second_on_fresh_instance_cpu)}
phone library start ${ms(c.phone_start_cpu)}: the first national number after two jobs without one, ${ms(c.first_number_after_other_jobs_cpu)}, minus that instance's 3rd-5th
compiled eagerly    compile ${ms(z.isolate_start.compile_cpu_us)} (${ms(z.isolate_start.compile_process_cpu_us)} with compiler threads); 1st ingress ${ms(z.ingress_first)}, 1st Segment batch ${ms(z.segment_first_batch)}, 1st contact job ${ms(z.contact_first)}, phone library start ${ms(z.phone_start)}
stand-ins, µs       kv.get ${t.kv_get.median}, kv.put ${t.kv_put.median}, sendBatch ${t.queue_send_batch_of_2.median}, fetch stub ${t.fetch_segment_answer.median}, ACCOUNT_GATE /take ${t.gate_call_take.median}; share: ingress ${e.stand_in_share_estimate}, Segment ${g.stand_in_share_estimate}/event, contact job ${c.stand_in_share_estimate}
                    Node's Request/Response (JavaScript, C++ in workerd) for one webhook: ${t.node_request_and_response.median}`;
}

async function measureMain(args) {
  const { register } = await import("node:module");
  register("./wasm-loader.mjs", import.meta.url);
  const { parse } = await import("smol-toml");
  readToml = (file) => parse(readFileSync(file, "utf8"));
  keepLogs();
  const { WASI } = await import("node:wasi");
  const wasi = new WASI({ version: "preview1" });
  const clockInstance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(CLOCKS_WASM, "base64")), wasi.getImportObject());
  wasi.initialize(clockInstance);
  clocks = clockInstance.exports;
  // The glue listens for the runtime's "error" events (to re-create a crashed instance).
  globalThis.addEventListener ??= () => {};
  ({ call: callPayload } = await import("../tests/e2e/payloads.mjs"));
  const result = args[0] === "--cold" ? await cold(args[1]) : await measure();
  process.stdout.write(JSON.stringify(result) + "\n");
}

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2);
  if (args[0] === "--measure" || args[0] === "--cold") {
    await measureMain(args);
    process.exit(0); // pending fetch timeouts (15 s timers) need not run out
  } else {
    console.log(describe(await benchWasm()));
  }
}

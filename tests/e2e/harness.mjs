// Runs the built worker (build/index.js + wasm) in Miniflare with the bindings declared in
// wrangler.toml, so the tests exercise the same queues, KV, DO and R2 the deployment has.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Miniflare } from "miniflare";
import { parse } from "smol-toml";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const ENCRYPTION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
export const PUBLIC_BASE_URL = "https://connector.test";

export function wranglerConfig() {
  return parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
}

// Miniflare options derived from wrangler.toml; `vars` override its [vars].
export function miniflareOptions({ vars = {}, logs = [] } = {}) {
  const w = wranglerConfig();
  const queueConsumers = Object.fromEntries(
    (w.queues?.consumers ?? []).map((c) => [
      c.queue,
      {
        maxBatchSize: c.max_batch_size,
        maxBatchTimeout: c.max_batch_timeout,
        maxRetries: c.max_retries,
        deadLetterQueue: c.dead_letter_queue,
      },
    ]),
  );
  return {
    modules: true,
    scriptPath: path.join(ROOT, w.main),
    modulesRoot: path.join(ROOT, "build"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: w.compatibility_date,
    kvNamespaces: w.kv_namespaces.map((k) => k.binding),
    queueProducers: Object.fromEntries(w.queues.producers.map((p) => [p.binding, { queueName: p.queue }])),
    queueConsumers,
    durableObjects: Object.fromEntries(w.durable_objects.bindings.map((b) => [b.name, b.class_name])),
    r2Buckets: w.r2_buckets.map((b) => b.binding),
    // Static assets as wrangler serves them: files first, every other path to the worker.
    assets: { directory: path.join(ROOT, w.assets.directory), routerConfig: { has_user_worker: true } },
    // The fakes serve recordings over plain http on loopback: allowed here explicitly (the
    // deployed default is https on Aircall's S3 hosts only).
    bindings: { ...w.vars, ADMIN_TOKEN, ENCRYPTION_KEY, PUBLIC_BASE_URL, RECORDING_HOSTS: "http://127.0.0.1", ...vars },
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) stream.on("data", (chunk) => logs.push(chunk.toString()));
    },
  };
}

export async function startConnector(options) {
  const logs = [];
  const mf = new Miniflare(miniflareOptions({ ...options, logs }));
  // Where it listens on loopback (a random port), for a real browser.
  const url = await mf.ready;
  const dispatch = (url, init) => mf.dispatchFetch(url, init);
  return {
    mf,
    url,
    logs,
    dispatch,
    // Admin API call; token defaults to the right one.
    async api(method, pathname, body, { token = ADMIN_TOKEN, raw } = {}) {
      const headers = { "content-type": "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const response = await dispatch(`${PUBLIC_BASE_URL}${pathname}`, {
        method,
        headers,
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await response.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {}
      return { status: response.status, json, text, headers: response.headers };
    },
    // Every KV key and value, for checks that nothing leaked or nothing changed.
    async kvDump() {
      const kv = await mf.getKVNamespace("STATE");
      const out = {};
      let cursor;
      do {
        const page = await kv.list({ cursor });
        for (const { name } of page.keys) out[name] = await kv.get(name);
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return out;
    },
    // Every object key in the RECORDINGS bucket under `prefix`.
    async r2Keys(prefix = "") {
      const bucket = await mf.getR2Bucket("RECORDINGS");
      const keys = [];
      let cursor;
      do {
        const page = await bucket.list({ prefix, cursor });
        keys.push(...page.objects.map((o) => o.key));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return keys;
    },
    dispose: () => mf.dispose(),
  };
}

export async function waitFor(check, { timeout = 10_000, interval = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until `count()` (requests seen by the fakes, say) stops growing for 1.5 s: the
// queues have gone quiet.
export async function waitUntilQuiet(count, { what = "the queues to go quiet", timeout = 60_000 } = {}) {
  let last = -1;
  await waitFor(async () => {
    await sleep(1_500);
    const now = count();
    const quiet = now === last;
    last = now;
    return quiet;
  }, { what, timeout });
}

// The connector's local server, as `npm start` runs it: wrangler's own dev server, the same
// pipeline as `wrangler dev` (wrangler.toml and its [build], .dev.vars, local KV, queues,
// Durable Objects and R2 persisted on disk, the cron trigger at /cdn-cgi/handler/scheduled, the
// worker's logs on screen), started through wrangler's API because that is where its DevTools
// inspector can be turned off: `wrangler dev` has no flag for it, and its inspector proxy opens
// a loopback connection for every 4 KiB the worker downloads and keeps every DevTools message
// in memory: ~170 imports of 1 MB recordings exhausted 20,000 descriptors
// (docs/wrangler-inspector-proxy-leak.md).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Resolves once the server listens. `vars` are added on top of wrangler.toml's [vars] and
// .dev.vars (as `wrangler dev --var` does). wrangler builds (wrangler.toml's [build]) when it
// starts, then watches src/ to rebuild and restart the worker, and its watcher also does that
// once right after the start; `rebuild: false` is for callers that have just built: no build,
// no watch.
export async function startLocalServer({ port = 8787, persistTo = path.join(ROOT, ".wrangler/state"), vars = {}, rebuild = true } = {}) {
  if (!rebuild) process.env.SKIP_WORKER_BUILD = "1"; // read by scripts/build.sh
  const worker = await unstable_startWorker({
    config: path.join(ROOT, "wrangler.toml"),
    sendMetrics: false,
    bindings: Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, { type: "plain_text", value }])),
    ...(rebuild ? {} : { build: { custom: { command: "" } } }),
    dev: {
      server: { hostname: "127.0.0.1", port },
      persist: persistTo,
      // Documented in wrangler's StartDevWorkerInput: "False disables the inspector server".
      // Neither the inspector proxy nor workerd's inspector is started.
      inspector: false,
    },
  });
  await worker.ready;
  return worker;
}

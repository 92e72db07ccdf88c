// Module hooks for scripts/bench-wasm.mjs, which loads the built worker (build/index.js)
// straight into Node: `cloudflare:workers` becomes a stub of its two base classes, and
// `./index_bg.wasm` a module whose default export is the WebAssembly.Module the bench compiled
// itself (globalThis.__benchWasmModule, so compiling is timed apart from instantiating). The
// wasm's URL carries the query of the index.js that imports it: each
// `import("build/index.js?instance=N")` gets a module, and so a wasm instance, of its own.
export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") return { url: "bench-wasm:cloudflare-workers", shortCircuit: true };
  if (specifier.endsWith(".wasm") && context.parentURL) {
    const parent = new URL(context.parentURL);
    const url = new URL(specifier, parent);
    url.search = parent.search;
    return { url: url.href, format: "module", shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url === "bench-wasm:cloudflare-workers") {
    const source = `
      export class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
      export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }`;
    return { format: "module", source, shortCircuit: true };
  }
  if (new URL(url).pathname.endsWith(".wasm")) {
    return { format: "module", source: "export default globalThis.__benchWasmModule;", shortCircuit: true };
  }
  return next(url, context);
}

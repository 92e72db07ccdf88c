// `npm start`: runs the connector locally on wrangler's dev server (scripts/local-server.mjs).
// Local KV, queues, Durable Objects and R2 persist under .wrangler/state; no Cloudflare
// account is needed.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

const PORT = process.env.PORT ?? "8787";
const setup = spawnSync("bash", ["scripts/setup.sh"], { stdio: "inherit" });
if (setup.status !== 0) process.exit(setup.status ?? 1);

// The fake's recordings are plain http on loopback; a real account's are on Aircall's S3
// hosts over https (RECORDING_HOSTS' default in wrangler.toml).
const localRecordings = [
  "# Recording links may point at the fake Aircall (remove for a real account).",
  "RECORDING_HOSTS=http://127.0.0.1",
];
// Local secrets, made once and kept out of git (.gitignore).
if (!existsSync(".dev.vars")) {
  writeFileSync(
    ".dev.vars",
    [
      "# Local secrets for `npm start` (not committed). Delete this file to get new ones.",
      `ADMIN_TOKEN=${randomBytes(24).toString("hex")}`,
      `ENCRYPTION_KEY=${randomBytes(32).toString("base64")}`,
      "# The local fake Aircall that `npm run demo` starts; use https://api.aircall.io for a real account.",
      "AIRCALL_API_BASE=http://127.0.0.1:8790",
      ...localRecordings,
      "",
    ].join("\n"),
  );
} else if (/^AIRCALL_API_BASE=http:\/\/127\.0\.0\.1/m.test(readFileSync(".dev.vars", "utf8")) && !/^RECORDING_HOSTS=/m.test(readFileSync(".dev.vars", "utf8"))) {
  // A .dev.vars from before RECORDING_HOSTS existed, pointing at the fake: let it fetch the
  // fake's recordings.
  writeFileSync(".dev.vars", `${readFileSync(".dev.vars", "utf8").trimEnd()}\n${localRecordings.join("\n")}\n`);
}
const vars = Object.fromEntries(
  readFileSync(".dev.vars", "utf8").split("\n").filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);

const banner = () =>
  console.log(`
  aircall-connector is running at http://localhost:${PORT}
  admin token: ${vars.ADMIN_TOKEN}   (from .dev.vars)
  dashboard: http://localhost:${PORT}/   (sign in with the admin token)
  try:  curl -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" http://localhost:${PORT}/api/integrations
  demo: npm run demo   (in another terminal)
`);

// Imported only once setup.sh has installed wrangler.
const { startLocalServer } = await import("./local-server.mjs");
const server = await startLocalServer({ port: Number(PORT) }).catch((error) => {
  console.error(error);
  process.exit(1);
});
// Requests wait while wrangler (re)builds: the banner comes once the connector answers.
await fetch(new URL("/healthz", await server.url));
banner();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.dispose().finally(() => process.exit(0)));

// Chromium for the dashboard tests: Debian's chromium driven by playwright-core (no browser
// download), a throwaway profile, screenshots in test-results/dashboard/, and what the page
// did that it should not: requests anywhere but the connector (`external`), console errors
// (CSP violations show there) and page errors (`problems`).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "./harness.mjs";

export const SCREENSHOTS = path.join(ROOT, "test-results", "dashboard");

export async function openBrowser(base) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const profile = mkdtempSync(path.join(tmpdir(), "dashboard-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
  const external = [];
  const problems = [];
  context.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith(`${base}/`) && !url.startsWith("data:")) external.push(url);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Answers such as the 401 of a wrong token are logged as failed loads; anything else is a problem.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  return {
    page,
    external,
    problems,
    shot: (name) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true }),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

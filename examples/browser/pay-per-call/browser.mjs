// Starts the whole example for the browser test and the benchmark: a ledger, Bob's node and
// `paychan proxy` (js/test/harness.mjs), this example's server, and Debian's Chromium driven
// by playwright-core (headless, a fresh profile; no browser download: /usr/bin/chromium, or
// $CHROMIUM). Answers the page, ready (its wallet loaded) and funded.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { startStack } from "../../../js/test/harness.mjs";
import { serveExample } from "./server.mjs";

// playwright-core is a devDependency of js/ (installed by `npm ci` there).
const { chromium } = createRequire(new URL("../../../js/package.json", import.meta.url))("playwright-core");

export const PRICE = 10n;
export const FUNDS = 1_000_000n;

export async function startExample({ durability = "strict" } = {}) {
  const stack = await startStack({ price: PRICE });
  const site = await serveExample({ proxyUrl: stack.proxyUrl, ledgerUrl: stack.ledgerUrl });
  const profile = mkdtempSync(join(tmpdir(), "paychan-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const stop = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    await site.close();
    await stack.stop();
  };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${site.url}/?durability=${durability}`);
    await page.waitForFunction(() => window.paychanDemo !== undefined);
    const demo = await page.evaluate(() => window.paychanDemo.error ?? window.paychanDemo.address);
    if (!demo.startsWith("0x")) throw new Error(`the page did not start: ${demo} ${errors.join("; ")}`);
    await stack.faucet(demo, FUNDS);
    return { stack, site, page, address: demo, errors, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

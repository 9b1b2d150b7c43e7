// Starts this example for its browser test and the benchmark: a ledger, `paychan relay` and
// Bob's `paychan node` registered there and listening for WebSocket peers
// (js/test/harness.mjs), the page's server (pay-per-call's server.mjs with this directory
// as the page), and Debian's Chromium driven by playwright-core (headless, a fresh profile;
// /usr/bin/chromium, or $CHROMIUM). Answers the page, started (wallet loaded) and funded.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { startChannelStack } from "../../../js/test/harness.mjs";
import { serveExample } from "../pay-per-call/server.mjs";

const { chromium } = createRequire(new URL("../../../js/package.json", import.meta.url))("playwright-core");

export const FUNDS = 1_000_000n;

/** Headless Chromium with a fresh profile. */
export async function launchBrowser() {
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
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens `url` in a new page of `context` and waits until `window[global]` is set;
 * answers the page and the errors it throws. */
export async function openPage(context, url, global) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction((g) => window[g] !== undefined, global);
  const started = await page.evaluate((g) => window[g].error ?? window[g].address, global);
  if (!started.startsWith("0x")) throw new Error(`the page did not start: ${started} ${errors.join("; ")}`);
  return { page, errors, address: started };
}

export async function startExample({ durability = "strict" } = {}) {
  const stack = await startChannelStack();
  const pageDir = fileURLToPath(new URL(".", import.meta.url));
  const site = await serveExample({ ledgerUrl: stack.ledgerUrl, pageDir });
  const browser = await launchBrowser();
  const stop = async () => {
    await browser.close();
    await site.close();
    await stack.stop();
  };
  try {
    const { page, errors, address } = await openPage(
      browser.context,
      `${site.url}/?durability=${durability}`,
      "paychanChannel",
    );
    await stack.faucet(address, FUNDS);
    return { stack, site, page, address, errors, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

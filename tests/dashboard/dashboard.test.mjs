// The node's dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core; a browser download does not work here). Started by
// crates/paychan-cli/tests/dashboard_cli.rs with a running node that has one open channel:
//   DASHBOARD   the node's http://HOST:PORT (its API port)
//   TOKEN       its rpc.token
//   CHANNEL     the open channel's id
//   SCREENSHOT  where to write the page's picture
// The page loads with the token in its fragment, shows the channel, shows a payment made
// meanwhile through the API, and closes the channel from its button after the confirmation.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { chromium } from "playwright-core";

const { DASHBOARD, TOKEN, CHANNEL, SCREENSHOT } = process.env;

async function rpc(method, params) {
  const answer = await fetch(DASHBOARD, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await answer.json();
  if (body.error) throw new Error(JSON.stringify(body.error));
  return body.result;
}

test("the dashboard shows channels and payments, and closes a channel", async () => {
  assert.ok(DASHBOARD && TOKEN && CHANNEL && SCREENSHOT, "DASHBOARD, TOKEN, CHANNEL and SCREENSHOT are set");
  const profile = mkdtempSync(join(tmpdir(), "paychan-dashboard-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
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
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

    // Without a token: the form asks for one.
    await page.goto(`${DASHBOARD}/dashboard`);
    await page.locator("#login").waitFor({ state: "visible" });

    // With it (in the fragment, which never reaches the server): connected, the channel is listed.
    await page.goto(`${DASHBOARD}/dashboard#token=${TOKEN}`);
    await page.locator("#status.ok").waitFor();
    const row = page.locator(`tr[data-channel="${CHANNEL}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "open");
    assert.ok(!page.url().includes(TOKEN), "the token is taken out of the address bar");

    // A payment made meanwhile appears among the events, and in the channel's row.
    await rpc("pay", { channel_id: CHANNEL, amount: "7", message: { from: "the dashboard test" } });
    await page.locator('#events li[data-event="payment_sent"]').first().waitFor();
    await page.waitForFunction(
      (id) => document.querySelector(`tr[data-channel="${id}"] td:nth-child(6)`)?.textContent === "7",
      CHANNEL,
    );
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Close from the button: a confirmation first; dismissed, nothing happens.
    page.once("dialog", (dialog) => dialog.dismiss());
    await row.locator("button.close").click();
    assert.equal((await rpc("channel_info", { channel_id: CHANNEL })).status, "open");
    page.once("dialog", (dialog) => {
      assert.match(dialog.message(), /Close channel/);
      return dialog.accept();
    });
    await row.locator("button.close").click();
    await page.locator(`tr[data-channel="${CHANNEL}"][data-status="closed"]`).waitFor();
    assert.equal((await rpc("channel_info", { channel_id: CHANNEL })).status, "closed");
    assert.deepEqual(errors, []);
    assert.ok(statSync(SCREENSHOT).size > 10_000, "the screenshot shows a rendered page");
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

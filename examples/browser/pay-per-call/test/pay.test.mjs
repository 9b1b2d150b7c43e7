// The page pays the node 500 times from headless Chromium (wasm, IndexedDB and all), then
// the payee closes the channel: the payee's record (the receipts' cumulative) and the
// ledger's payouts match exactly what the page paid. Run by scripts/test.sh.
import assert from "node:assert/strict";
import { test } from "node:test";

import { until } from "../../../../js/test/harness.mjs";
import { FUNDS, PRICE, startExample } from "../browser.mjs";

test("a page pays 500 calls and the ledger pays out exactly that", { timeout: 300_000 }, async () => {
  const example = await startExample();
  try {
    const { stack, page, address } = example;
    const bobBefore = await stack.balance(stack.bob);
    const N = 500;
    const result = await page.evaluate((n) => window.paychanDemo.pay(n), N);
    const paid = BigInt(N) * PRICE;
    assert.equal(BigInt(result.paid), paid);
    assert.equal(BigInt(result.cumulative), paid, "the payee recorded every call once");
    assert.equal(BigInt(await page.evaluate(() => window.paychanDemo.spent())), paid);
    const channels = await page.evaluate(() => window.paychanDemo.channels());
    assert.equal(channels.length, 1);

    // A reload keeps the wallet and the channel (IndexedDB): the next call continues the
    // same counter.
    await page.reload();
    await page.waitForFunction(() => window.paychanDemo !== undefined);
    assert.equal(await page.evaluate(() => window.paychanDemo.address), address);
    const more = await page.evaluate(() => window.paychanDemo.pay(1));
    assert.equal(BigInt(more.cumulative), paid + PRICE);
    const total = paid + PRICE;

    await stack.closeByPayee(channels[0].id);
    await stack.advanceTime(121);
    await until(
      async () => (await stack.balance(stack.bob)) - bobBefore === total,
      () => page.evaluate(() => window.paychanDemo.settle()),
      "the ledger pays the payee what the page paid",
    );
    assert.equal(await stack.balance(address), FUNDS - total);
    assert.deepEqual(example.errors, []);
  } finally {
    await example.stop();
  }
});

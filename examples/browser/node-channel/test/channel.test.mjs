// A page is a channel peer of a `paychan node` through `paychan relay`: it opens a channel
// on the ledger and pays 500 times, is reloaded in the middle (and resumes from IndexedDB),
// loses the relay in the middle (killed and started again: it reconnects), and closes
// cooperatively. Both sides then count exactly 500 payments, and the ledger paid out
// exactly that: no money created or lost. Run by scripts/test.sh.
import assert from "node:assert/strict";
import { test } from "node:test";

import { until } from "../../../../js/test/harness.mjs";
import { FUNDS, startExample } from "../browser.mjs";

const PRICE = 10n;
const N = 500n;
const DEPOSIT = 10_000n;

test("a page pays a node 500 times through the relay, reloaded and cut off on the way", { timeout: 300_000 }, async () => {
  const example = await startExample();
  const { stack, page, address } = example;
  try {
    const supply = async () => (await stack.balance(address)) + (await stack.balance(stack.bob));
    const bobBefore = await stack.balance(stack.bob);
    const supplyBefore = await supply();
    const demo = (f, ...args) => page.evaluate(f, ...args);

    await demo((peer) => window.paychanChannel.connect(peer), stack.bobViaRelay);
    const id = await demo((d) => window.paychanChannel.open(d), DEPOSIT.toString());
    assert.equal(await stack.balance(address), FUNDS - DEPOSIT);
    const paid = async () => BigInt((await demo((c) => window.paychanChannel.channel(c), id)).paidByMe);
    const total = (N * PRICE).toString();
    const payUntil = (t) => demo(([c, t2, p]) => window.paychanChannel.payUntil(c, t2, p), [id, t, PRICE.toString()]);

    // 1. Pay, and reload the page in the middle of the stream.
    void payUntil(total).catch(() => {});
    await until(async () => (await paid()) >= 150n * PRICE, () => new Promise((r) => setImmediate(r)), "150 payments");
    await page.reload();
    await page.waitForFunction(() => window.paychanChannel !== undefined);
    assert.equal(await demo(() => window.paychanChannel.address), address, "the wallet survived the reload");
    const resumed = await paid();
    assert.ok(resumed >= 150n * PRICE, `the channel resumed from IndexedDB at ${resumed}`);
    assert.ok(resumed < N * PRICE, "the reload came in the middle of the stream");
    await demo((peer) => window.paychanChannel.connect(peer), stack.bobViaRelay);

    // 2. Pay on, and kill the relay in the middle; start it again: the page reconnects.
    const run = payUntil(total);
    await until(async () => (await paid()) >= 300n * PRICE, () => new Promise((r) => setImmediate(r)), "300 payments");
    await stack.killRelay();
    assert.ok((await paid()) < N * PRICE, "the relay went down in the middle of the stream");
    await until(async () => !(await demo(() => window.paychanChannel.connected())), () => new Promise((r) => setImmediate(r)), "the page sees the relay gone");
    const before = await demo(() => window.paychanChannel.connections());
    await stack.restartRelay();
    const result = await run;
    assert.ok((await demo(() => window.paychanChannel.connections())) > before, "the page reconnected");
    assert.equal(BigInt(result.channel.paidByMe), N * PRICE);
    assert.equal(result.channel.sequence, Number(N), "exactly 500 vouchers signed");

    // 3. Bob counts exactly what the page paid (his counter sync recovers a payment whose
    //    answer a cut connection lost); the cooperative close pays that out.
    await until(
      async () => BigInt((await stack.bobChannel(id)).balances.paid_by_peer) === N * PRICE,
      () => new Promise((r) => setTimeout(r, 20)),
      "Bob counts 500 payments",
    );
    const closed = await demo((c) => window.paychanChannel.close(c), id);
    assert.equal(closed.phase, "closed");
    assert.equal(await stack.balance(stack.bob), bobBefore + N * PRICE);
    assert.equal(await stack.balance(address), FUNDS - N * PRICE);
    assert.equal(await supply(), supplyBefore, "no money created or lost");
    assert.deepEqual(example.errors, []);
  } catch (e) {
    console.error(stack.bobLog().slice(-4000));
    throw e;
  } finally {
    await example.stop();
  }
});

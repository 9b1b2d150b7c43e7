// Two pages pay each other through `paychan relay`, moneysocket's use case: the provider
// page registers at the relay, the consumer page dials it there, opens a channel on the
// ledger and pays; the provider's handler answers (and refuses one payment, taken back);
// the provider pays back on the same channel; the consumer withdraws part of its balance,
// then closes. The ledger then pays
// each exactly what the payments say, and no money is created or lost. Run by
// scripts/test.sh.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { startChannelStack } from "../../../../js/test/harness.mjs";
import { launchBrowser, openPage } from "../../node-channel/browser.mjs";
import { serveExample } from "../../pay-per-call/server.mjs";

const FUNDS = 100_000n;

test("a consumer page and a provider page pay each other through the relay", { timeout: 180_000 }, async () => {
  const stack = await startChannelStack({ node: false });
  const site = await serveExample({ ledgerUrl: stack.ledgerUrl, pageDir: fileURLToPath(new URL("..", import.meta.url)) });
  const browser = await launchBrowser();
  try {
    const provider = await openPage(browser.context, `${site.url}/provider.html?relay=${stack.relayUrl}`, "paychanPair");
    const consumer = await openPage(browser.context, `${site.url}/consumer.html?relay=${stack.relayUrl}`, "paychanPair");
    const P = provider.address;
    const C = consumer.address;
    await stack.faucet(C, FUNDS);
    const supplyBefore = (await stack.balance(C)) + (await stack.balance(P));
    const call = (page, f, arg) => page.page.evaluate(f, arg);

    // The provider registered when it loaded (it listens); the consumer dials it there.
    await call(consumer, (peer) => window.paychanPair.connect(peer), `${P}@relay+${stack.relayUrl}`);
    const id = await call(consumer, () => window.paychanPair.open("1000"));

    // 20 payments of 5, each answered by the provider's handler.
    for (let i = 0; i < 20; i++) {
      const answer = await call(consumer, ([c, n]) => window.paychanPair.pay(c, 5, { text: `call ${n}` }), [id, i]);
      assert.deepEqual(answer, { answer: `CALL ${i}`, paid: "5", by: "provider" });
    }
    // One the handler refuses: taken back on both sides.
    const refused = await call(consumer, (c) =>
      window.paychanPair.pay(c, 5, { refuse: true }).then(() => "paid", (e) => `${e.name}: ${e.counted}`), id);
    assert.equal(refused, "ChannelPaymentError: false");

    // The provider pays back 3 × 10 on the same channel; the consumer's handler answers.
    for (let i = 0; i < 3; i++) {
      const answer = await call(provider, (c) => window.paychanPair.pay(c, 10, { text: "thanks" }), id);
      assert.deepEqual(answer, { answer: "THANKS", paid: "10", by: "consumer" });
    }
    const seenByConsumer = await call(consumer, (c) => window.paychanPair.channel(c), id);
    const seenByProvider = await call(provider, (c) => window.paychanPair.channel(c), id);
    assert.equal(seenByConsumer.paidByMe, "100");
    assert.equal(seenByConsumer.paidByPeer, "30");
    assert.equal(seenByProvider.paidByMe, "30");
    assert.equal(seenByProvider.paidByPeer, "100");

    // The consumer withdraws 200 while the channel stays open (the provider co-signs).
    await call(consumer, (c) => window.paychanPair.withdraw(c, 200), id);
    assert.equal(await stack.balance(C), FUNDS - 1000n + 200n);
    assert.equal((await call(consumer, (c) => window.paychanPair.channel(c), id)).myAvailable, "730");

    // The consumer closes: the ledger pays each side its due at once.
    const closed = await call(consumer, (c) => window.paychanPair.close(c), id);
    assert.equal(closed.phase, "closed");
    assert.equal(await stack.balance(C), FUNDS - 100n + 30n);
    assert.equal(await stack.balance(P), 70n);
    assert.equal((await stack.balance(C)) + (await stack.balance(P)), supplyBefore, "no money created or lost");
    assert.deepEqual([...provider.errors, ...consumer.errors], []);
  } finally {
    await browser.close();
    await site.close();
    await stack.stop();
  }
});

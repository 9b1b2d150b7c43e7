// fetchWithPayment against a real `paychan node` and `paychan proxy` on a served ledger
// (harness.mjs): paid calls are recorded by the payee (its receipts), a refused call is not
// charged and its package is taken back, the budget is never exceeded, and after the payee
// closes the channel the ledger pays out exactly what was paid.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  MemoryStore,
  PayerChannel,
  Payer,
  PaymentError,
  Wallet,
  fetchWithPayment,
  init,
} from "../dist/index.js";
import { startStack, until } from "./harness.mjs";

const PRICE = 10n;
const FUNDS = 1_000_000n;
let stack;

before(async () => {
  await init();
  stack = await startStack({ price: PRICE });
});

after(async () => {
  await stack?.stop();
});

async function fundedWallet() {
  const wallet = Wallet.generate();
  await stack.faucet(wallet.address, FUNDS);
  return wallet;
}

test("pays N calls, a refused call is not charged, the ledger pays out exactly", async () => {
  const wallet = await fundedWallet();
  const store = new MemoryStore();
  const options = { wallet, ledgerUrl: stack.ledgerUrl, budget: 1_000n, store, challengePeriod: 120 };
  const bobBefore = await stack.balance(stack.bob);
  const N = 25;
  let cumulative = 0n;
  for (let n = 1; n <= N; n++) {
    const { response, receipt, paid } = await fetchWithPayment(`${stack.proxyUrl}/api/quote?n=${n}`, options);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).n, n);
    assert.equal(paid, PRICE);
    cumulative += PRICE;
    // The receipt is the payee node's record of the channel.
    assert.equal(receipt.cumulative, cumulative);
    assert.equal(receipt.amount, PRICE);
    assert.equal(receipt.payer.toLowerCase(), wallet.address.toLowerCase());
    assert.equal(receipt.request, `GET /api/quote?n=${n}`);
    if (n === 10) {
      // The upstream fails: 502 service_failed, nothing recorded, the package taken back.
      const failed = await fetchWithPayment(`${stack.proxyUrl}/api/fail`, options);
      assert.equal(failed.response.status, 502);
      assert.equal(failed.paid, 0n);
      assert.equal((await failed.response.json()).error, "service_failed");
    }
  }
  const [stored] = await store.load();
  const channel = PayerChannel.fromJSON(stored);
  assert.equal(channel.paid, String(cumulative));
  assert.equal(channel.deposit, "1000");
  assert.equal(store.states.size, 1, "one channel for all the calls");

  // The payee closes, counting our latest voucher; after the challenge period the ledger
  // pays Bob exactly what the receipts say and returns the rest to us.
  await stack.closeByPayee(channel.id);
  await stack.advanceTime(121);
  const payer = new Payer({ wallet, ledgerUrl: stack.ledgerUrl, budget: 0n, store });
  await until(
    async () => (await stack.balance(stack.bob)) - bobBefore === cumulative,
    async () => {
      // Anyone may settle; Bob's node may have done it already (then this is refused).
      await payer.settle(PayerChannel.fromJSON((await store.load())[0])).catch(() => {});
    },
    "the ledger pays the payee what was paid",
  );
  assert.equal(await stack.balance(wallet.address), FUNDS - cumulative);
});

test("never pays more than the budget", async () => {
  const wallet = await fundedWallet();
  const payer = new Payer({ wallet, ledgerUrl: stack.ledgerUrl, budget: 5n * PRICE + 5n, challengePeriod: 120 });
  for (let n = 1; n <= 5; n++) {
    const { response, paid } = await payer.fetch(`${stack.proxyUrl}/api/quote?n=${n}`);
    assert.equal(response.status, 200);
    assert.equal(paid, PRICE);
  }
  await assert.rejects(payer.fetch(`${stack.proxyUrl}/api/quote?n=6`), (e) => {
    assert.ok(e instanceof PaymentError, String(e));
    assert.equal(e.code, "budget_exhausted");
    return true;
  });
  assert.equal(await payer.spent(), 5n * PRICE);
  // The deposit stayed within the budget too.
  const [channel] = await payer.channels();
  assert.equal(channel.deposit, String(5n * PRICE + 5n));
  assert.equal(await stack.balance(wallet.address), FUNDS - 5n * PRICE - 5n);
});

test("an exhausted channel is followed by a new one, the last deposit what the budget leaves", async () => {
  const wallet = await fundedWallet();
  const payer = new Payer({ wallet, ledgerUrl: stack.ledgerUrl, budget: 100n, deposit: 30n, challengePeriod: 120 });
  for (let n = 1; n <= 10; n++) {
    const { response, paid } = await payer.fetch(`${stack.proxyUrl}/api/quote?n=${n}`);
    assert.equal(response.status, 200);
    assert.equal(paid, PRICE);
  }
  const deposits = (await payer.channels()).map((c) => c.deposit).sort();
  assert.deepEqual(deposits, ["10", "30", "30", "30"]);
  assert.equal(await payer.spent(), 100n);
  await assert.rejects(payer.fetch(`${stack.proxyUrl}/api/quote?n=11`), /budget/);
  assert.equal(await stack.balance(wallet.address), FUNDS - 100n);
});

test("concurrent calls each pay once, on one channel, and all are recorded", async () => {
  const wallet = await fundedWallet();
  const payer = new Payer({ wallet, ledgerUrl: stack.ledgerUrl, budget: 10_000n, challengePeriod: 120 });
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => payer.fetch(`${stack.proxyUrl}/api/quote?n=${i}`)),
  );
  assert.ok(results.every((r) => r.response.status === 200 && r.paid === PRICE));
  const cumulatives = results.map((r) => r.receipt.cumulative).sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(cumulatives, Array.from({ length: 12 }, (_, i) => BigInt(i + 1) * PRICE));
  assert.equal(await payer.spent(), 12n * PRICE);
  assert.equal((await payer.channels()).length, 1);
});

test("a free answer pays nothing; bad input is an Error, not a crash", async () => {
  const wallet = Wallet.generate();
  assert.throws(() => Wallet.fromSecret(new Uint8Array(3)), /32 bytes/);
  assert.throws(() => Wallet.fromSecret(new Uint8Array(32)), /out of range/);
  assert.equal(Wallet.fromSecret(wallet.secret()).address, wallet.address);
  assert.throws(() => PayerChannel.fromJSON("{"), /not a stored paychan channel/);
  const challenge = `Paychan price="10", payee="${stack.bob}", chain_id="1", contract="${stack.bob}"`;
  assert.throws(() => wallet.inner.proposeChannel("Basic x", 60, new Uint8Array(32)), Error);
  assert.throws(() => wallet.inner.proposeChannel(challenge, 60, new Uint8Array(5)), /32 bytes/);
  const channel = wallet.inner.proposeChannel(challenge, 60, new Uint8Array(32));
  assert.throws(() => wallet.inner.pay(channel, "10", '{"a":1}'), /proposed/);
  assert.throws(() => wallet.inner.pay(channel, "-1", "{}"), /not an amount/);
  assert.throws(() => wallet.inner.pay(channel, "10", "{"), /not JSON/);
  assert.throws(() => wallet.inner.openRequest(channel, "10", "x"), /nonce/);
  assert.throws(() => channel.applyReceipt("[]"), /not a ledger receipt/);
  assert.throws(() => channel.cancel("AAAA"), Error);
  // A call the payee does not charge for passes through, unpaid.
  const ledgerInfo = await fetch(`${stack.proxyUrl}/api/quote`, { method: "HEAD" });
  assert.equal(ledgerInfo.status, 402);
  const free = await fetchWithPayment(stack.ledgerUrl, {
    wallet,
    ledgerUrl: stack.ledgerUrl,
    budget: 0n,
    init: { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"ledger_now"}' },
  });
  assert.equal(free.response.status, 200);
  assert.equal(free.paid, 0n);
});

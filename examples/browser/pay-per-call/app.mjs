// The page: a wallet kept in IndexedDB (its secret and its channels), and buttons that pay
// for calls to the paid JSON API with fetchWithPayment. `window.paychanDemo` is what the
// browser test and the benchmark drive. The server (server.mjs) serves the js/ package at
// /js/, and the paid API (`paychan proxy`) and the ledger's JSON-RPC on this origin.
import { IndexedDbStore, Payer, Wallet, init } from "/js/dist/index.js";

const LEDGER = new URL("/ledger", location.href).href;

async function keyStore() {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("paychan-demo-key", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("key");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const get = () =>
    new Promise((resolve, reject) => {
      const r = db.transaction("key").objectStore("key").get("secret");
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  const put = (secret) =>
    new Promise((resolve, reject) => {
      const tx = db.transaction("key", "readwrite", { durability: "strict" });
      tx.objectStore("key").put(secret, "secret");
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  return { get, put };
}

async function start() {
  await init();
  const keys = await keyStore();
  let secret = await keys.get();
  let wallet;
  if (secret) {
    wallet = Wallet.fromSecret(secret);
  } else {
    wallet = Wallet.generate();
    await keys.put(wallet.secret());
  }
  const payer = new Payer({
    wallet,
    ledgerUrl: LEDGER,
    budget: 100_000n,
    deposit: 10_000n,
    challengePeriod: 120,
    // `?durability=relaxed`: IndexedDB's relaxed durability (see IndexedDbStore).
    store: new IndexedDbStore("paychan-demo", new URL(location.href).searchParams.get("durability") ?? "strict"),
  });
  const log = (line) => (document.getElementById("log").textContent = `${line}\n` + document.getElementById("log").textContent.slice(0, 4000));
  const showBalance = async () => {
    document.getElementById("balance").textContent = String(await payer.ledger.balance(wallet.address));
  };
  document.getElementById("address").textContent = wallet.address;
  await showBalance();

  /** Pays for `n` calls one after the other; answers what they paid and the last receipt. */
  async function pay(n) {
    let paid = 0n;
    let last = null;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const answer = await payer.fetch(`/api/quote?n=${i}`);
      if (answer.response.status !== 200) throw new Error(`call ${i}: ${answer.response.status}`);
      await answer.response.json();
      paid += answer.paid;
      last = answer.receipt;
    }
    const ms = performance.now() - started;
    log(`${n} calls paid ${paid} in ${ms.toFixed(0)} ms; the payee counts ${last?.cumulative} in all`);
    await showBalance();
    return { paid: String(paid), cumulative: String(last?.cumulative), ms };
  }

  async function settle() {
    for (const channel of await payer.channels()) {
      if (channel.phase !== "closed") await payer.settle(channel).catch(() => {});
    }
  }

  document.getElementById("pay1").onclick = () => pay(1).catch((e) => log(String(e)));
  document.getElementById("pay10").onclick = () => pay(10).catch((e) => log(String(e)));
  document.getElementById("fund").onclick = async () => {
    await payer.ledger.call("ledger_faucet", { owner: wallet.address, amount: 1_000_000 }).catch((e) => log(String(e)));
    await showBalance();
  };

  window.paychanDemo = {
    address: wallet.address,
    pay,
    settle,
    spent: async () => String(await payer.spent()),
    channels: async () => (await payer.channels()).map((c) => ({ id: c.id, paid: c.paid, deposit: c.deposit, phase: c.phase })),
  };
  log("ready");
}

start().catch((e) => {
  document.getElementById("log").textContent = `failed to start: ${e}`;
  window.paychanDemo = { error: String(e) };
});

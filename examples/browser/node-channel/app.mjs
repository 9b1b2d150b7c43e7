// The page: a wallet kept in IndexedDB (its secret and, through the client's store, its
// channels) and a `Client` (js/) that is a full channel peer of a `paychan node`, reached
// directly or through `paychan relay`. `window.paychanChannel` is what the browser test and
// the benchmark drive; the buttons do the same by hand. The server (pay-per-call's
// server.mjs with this directory as the page) serves js/ at /js/ and the ledger at /ledger.
import { Client, IndexedDbStore, Wallet, init } from "/js/dist/index.js";

const LEDGER = new URL("/ledger", location.href).href;
const params = new URL(location.href).searchParams;

/** The wallet's secret in its own IndexedDB database, written durably before first use. */
async function loadWallet() {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("paychan-channel-key", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("key");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const secret = await new Promise((resolve, reject) => {
    const r = db.transaction("key").objectStore("key").get("secret");
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  if (secret) return Wallet.fromSecret(secret);
  const wallet = Wallet.generate();
  await new Promise((resolve, reject) => {
    const tx = db.transaction("key", "readwrite", { durability: "strict" });
    tx.objectStore("key").put(wallet.secret(), "secret");
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  return wallet;
}

const log = (line) => {
  const el = document.getElementById("log");
  el.textContent = `${line}\n${el.textContent.slice(0, 4000)}`;
};

async function start() {
  await init();
  const wallet = await loadWallet();
  const client = await Client.create({
    wallet,
    ledgerUrl: LEDGER,
    // `?durability=relaxed`: IndexedDB's relaxed durability (see IndexedDbStore).
    store: new IndexedDbStore("paychan-channel", params.get("durability") ?? "strict"),
  });
  const status = document.getElementById("status");
  client.addEventListener("connected", (e) => (status.textContent = `connected to ${e.detail.peer}`));
  client.addEventListener("disconnected", () => (status.textContent = "reconnecting…"));
  client.addEventListener("ledger", (e) => log(`ledger: ${e.detail.change} ${e.detail.channelId}`));
  client.addEventListener("synced", (e) => log(`counter sync: recovered ${e.detail.recovered}`));
  document.getElementById("address").textContent = wallet.address;

  /** Pays `price` per payment until the channel's counter reaches `total`: a payment whose
   * outcome the connection left unknown stays counted (the node gets its voucher in the
   * counter sync), a refused one is taken back and paid again. */
  async function payUntil(id, total, price) {
    const started = performance.now();
    let answered = 0;
    let unknown = 0;
    let refused = 0;
    while (BigInt(client.channel(id).paidByMe) < BigInt(total)) {
      try {
        const response = await client.pay(id, price, { n: client.channel(id).sequence + 1 });
        if (response === undefined) throw new Error("no response");
        answered++;
      } catch (e) {
        if (e.counted) unknown++;
        else if (e.name === "ChannelPaymentError") refused++;
        else throw e;
      }
    }
    return { answered, unknown, refused, ms: performance.now() - started, channel: client.channel(id) };
  }

  window.paychanChannel = {
    address: wallet.address,
    connections: () => client.connections,
    connected: () => client.isConnected,
    connect: (peer) => client.connect(peer),
    channels: () => client.channels(),
    channel: (id) => client.channel(id),
    open: (deposit) => client.openChannel(deposit, { challengePeriod: 120 }),
    payUntil,
    close: (id) => client.close(id),
    withdraw: (id, amount) => client.withdraw(id, amount),
    disconnect: () => client.disconnect(),
  };

  document.getElementById("connect").onclick = async () => {
    await client.connect(document.getElementById("peer").value);
  };
  document.getElementById("fund").onclick = async () => {
    const r = await fetch(LEDGER, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ledger_faucet", params: { owner: wallet.address, amount: 100000 } }),
    });
    log(`faucet: ${(await r.json()).result !== undefined ? "funded" : "refused"}`);
  };
  document.getElementById("open").onclick = async () => log(`opened ${await client.openChannel(1000, { challengePeriod: 120 })}`);
  document.getElementById("pay").onclick = async () => {
    const channel = client.channels().find((c) => c.phase === "open");
    if (!channel) return log("open a channel first");
    const r = await payUntil(channel.id, BigInt(channel.paidByMe) + 100n, 10);
    log(`paid 10 × 10 in ${r.ms.toFixed(0)} ms; paid in all ${r.channel.paidByMe}`);
  };
  document.getElementById("close").onclick = async () => {
    const channel = client.channels().find((c) => c.phase === "open");
    if (channel) log(`closed: ${JSON.stringify(await client.close(channel.id))}`);
  };
}

start().catch((e) => {
  window.paychanChannel = { error: String(e) };
  log(`error: ${e}`);
});

// One of the two pages (`<html data-role>`): the provider registers at `paychan relay` and
// answers payments (its handler upper-cases the message, and refuses `{"refuse": true}`);
// the consumer dials it through the relay, opens a channel on the ledger and pays. Both are
// full channel peers (js/'s `Client` over paychan-wasm), keep their wallet and channels in
// IndexedDB, and can pay each other on the one channel. `window.paychanPair` is what the
// browser test drives; the buttons do the same by hand.
import { Client, IndexedDbStore, Wallet, init } from "/js/dist/index.js";

const role = document.documentElement.dataset.role;
const LEDGER = new URL("/ledger", location.href).href;
const params = new URL(location.href).searchParams;

async function loadWallet() {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(`paychan-pair-${role}-key`, 1);
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

/** The handler of payments to this page. */
function handler({ amount, message }) {
  if (message && message.refuse) throw new Error("refused by the handler");
  log(`received ${amount} for ${JSON.stringify(message)}`);
  return { answer: String(message?.text ?? "").toUpperCase(), paid: amount.toString(), by: role };
}

async function start() {
  await init();
  const wallet = await loadWallet();
  const client = await Client.create({
    wallet,
    ledgerUrl: LEDGER,
    store: new IndexedDbStore(`paychan-pair-${role}`),
    handler,
  });
  document.getElementById("address").textContent = wallet.address;
  const status = document.getElementById("status");
  client.addEventListener("connected", (e) => (status.textContent = `connected to ${e.detail.peer}`));
  client.addEventListener("disconnected", () => (status.textContent = "not connected"));
  client.addEventListener("registered", (e) => log(`registered at ${e.detail.relay}: peers reach this page as ${wallet.address}@relay+${e.detail.relay}`));
  client.addEventListener("ledger", (e) => log(`ledger: ${e.detail.change} ${e.detail.channelId}`));

  const openChannel = () => client.channels().find((c) => c.phase === "open" || c.phase === "proposed");
  window.paychanPair = {
    role,
    address: wallet.address,
    listen: (relay) => client.listen(relay),
    connect: (peer) => client.connect(peer),
    open: (deposit) => client.openChannel(deposit, { challengePeriod: 120 }),
    pay: (id, amount, message) => client.pay(id, amount, message),
    channels: () => client.channels(),
    channel: (id) => client.channel(id),
    withdraw: (id, amount) => client.withdraw(id, amount),
    close: (id) => client.close(id),
  };

  const controls = document.getElementById("controls");
  const relay = params.get("relay") ?? "ws://127.0.0.1:6340/";
  if (role === "provider") {
    controls.innerHTML = `<p><button id="pay-back">Pay the consumer 3</button></p>`;
    await client.listen(relay);
    document.getElementById("pay-back").onclick = async () => {
      const channel = openChannel();
      if (!channel) return log("no channel yet");
      log(`paid back: ${JSON.stringify(await client.pay(channel.id, 3, { text: "thanks" }))}`);
    };
  } else {
    controls.innerHTML = `<p>Provider <input id="peer" size="70" placeholder="ADDRESS@relay+${relay}">
      <button id="connect">Connect and open (1000)</button></p>
      <p><button id="pay">Pay 5</button> <button id="close">Close</button></p>`;
    document.getElementById("connect").onclick = async () => {
      await client.connect(document.getElementById("peer").value);
      log(`opened ${await client.openChannel(1000, { challengePeriod: 120 })}`);
    };
    document.getElementById("pay").onclick = async () => {
      const channel = openChannel();
      if (!channel) return log("open a channel first");
      log(`answer: ${JSON.stringify(await client.pay(channel.id, 5, { text: "hello" }))}`);
    };
    document.getElementById("close").onclick = async () => {
      const channel = openChannel();
      if (channel) log(`closed: ${JSON.stringify(await client.close(channel.id))}`);
    };
  }
}

start().catch((e) => {
  window.paychanPair = { error: String(e) };
  log(`error: ${e}`);
});

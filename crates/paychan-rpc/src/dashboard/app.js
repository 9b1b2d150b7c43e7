// The node's dashboard: a client of the node's own JSON-RPC API over one WebSocket, which it
// authenticates with the token as a subprotocol (docs/API.md). The page holds no data of its
// own: everything comes from node_info, list_channels and the event stream.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { ws: null, next: 1, waiting: new Map(), payments: [], busy: false, timer: null };

// On a busy node events come thousands a second: the view is read again at most every
// REFRESH_MS, not once per event.
const REFRESH_MS = 250;

function scheduleRefresh() {
  if (state.timer === null) {
    state.timer = setTimeout(() => {
      state.timer = null;
      refresh();
    }, REFRESH_MS);
  }
}

function short(hex) {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}

function status(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${kind || ""}`;
}

function call(method, params) {
  return new Promise((resolve, reject) => {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      reject(new Error("not connected"));
      return;
    }
    const id = state.next++;
    state.waiting.set(id, { resolve, reject });
    state.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: params || {} }));
  });
}

function onMessage(event) {
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return;
  }
  if (message.id !== undefined && state.waiting.has(message.id)) {
    const { resolve, reject } = state.waiting.get(message.id);
    state.waiting.delete(message.id);
    if (message.error) {
      const data = message.error.data || {};
      reject(new Error(data.message || message.error.message));
    } else {
      resolve(message.result);
    }
  } else if (message.method === "event" && message.params) {
    onEvent(message.params.result);
  }
}

function onEvent(event) {
  const item = document.createElement("li");
  const when = new Date().toISOString().slice(11, 19);
  const { event: name, ...rest } = event;
  item.textContent = `${when} ${name} ${JSON.stringify(rest)}`;
  item.dataset.event = name;
  const list = $("events");
  list.prepend(item);
  while (list.children.length > 50) list.lastChild.remove();
  if (name === "payment_received" || name === "payment_sent") {
    state.payments.push(Date.now());
  }
  scheduleRefresh();
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function withdraw(channel) {
  const amount = window.prompt(`Withdraw how much from ${short(channel.channel_id)}? (at most ${channel.balances.my_available})`);
  if (!amount) return;
  if (!window.confirm(`Withdraw ${amount} from channel ${channel.channel_id}?`)) return;
  try {
    await call("withdraw", { channel_id: channel.channel_id, amount });
  } catch (e) {
    window.alert(`Withdrawal failed: ${e.message}`);
  }
  refresh();
}

async function close(channel) {
  if (!window.confirm(`Close channel ${channel.channel_id} with ${channel.peer}? The ledger pays each side what it is owed.`)) return;
  try {
    await call("close", { channel_id: channel.channel_id });
  } catch (e) {
    window.alert(`Close failed: ${e.message}`);
  }
  refresh();
}

function render(channels) {
  const body = $("channels").tBodies[0];
  body.replaceChildren();
  for (const c of channels) {
    const row = document.createElement("tr");
    row.dataset.channel = c.channel_id;
    row.dataset.status = c.status;
    row.append(
      cell(short(c.channel_id), "mono"),
      cell(short(c.peer), "mono"),
      cell(c.status),
      cell(c.balances.my_available, "num"),
      cell(c.balances.peer_available, "num"),
      cell(c.balances.paid_by_me, "num"),
      cell(c.balances.paid_by_peer, "num"),
    );
    const actions = document.createElement("td");
    if (c.status === "open") {
      const w = document.createElement("button");
      w.textContent = "Withdraw";
      w.className = "withdraw";
      w.onclick = () => withdraw(c);
      const x = document.createElement("button");
      x.textContent = "Close";
      x.className = "close";
      x.onclick = () => close(c);
      actions.append(w, " ", x);
    }
    row.append(actions);
    body.append(row);
  }
  $("no-channels").hidden = channels.length > 0;
}

async function refresh() {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  try {
    const [info, channels] = await Promise.all([call("node_info"), call("list_channels")]);
    $("address").textContent = info.address;
    $("balance").textContent = info.balance ?? "–";
    $("peers").textContent = info.connected_peers;
    $("open").textContent = info.channels.open;
    render(channels);
  } catch (e) {
    status(`error: ${e.message}`, "bad");
  } finally {
    state.busy = false;
    if (state.again) {
      state.again = false;
      refresh();
    }
  }
}

function tickRate() {
  const now = Date.now();
  state.payments = state.payments.filter((t) => now - t < 10_000);
  $("rate").textContent = (state.payments.length / 10).toFixed(1);
}

function connect(token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let ws;
  try {
    ws = new WebSocket(`${scheme}://${location.host}/`, ["paychan.v1", `paychan.bearer.${token}`]);
  } catch (e) {
    status(`cannot connect: ${e.message}`, "bad");
    return;
  }
  state.ws = ws;
  status("connecting…");
  ws.onmessage = onMessage;
  ws.onopen = async () => {
    sessionStorage.setItem("paychan-token", token);
    $("login").hidden = true;
    $("main").hidden = false;
    status("connected", "ok");
    try {
      await call("subscribe_events", []);
    } catch (e) {
      status(`no events: ${e.message}`, "bad");
    }
    refresh();
  };
  ws.onclose = () => {
    if (state.ws !== ws) return; // replaced by a newer connection
    for (const { reject } of state.waiting.values()) reject(new Error("connection lost"));
    state.waiting.clear();
    status("disconnected (wrong token, or the node stopped)", "bad");
    $("login").hidden = false;
  };
}

// A token in the fragment (#token=…) never reaches a server; it is taken and removed.
function tokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token) history.replaceState(null, "", location.pathname);
  return token;
}

window.addEventListener("hashchange", () => {
  const token = tokenFromFragment();
  if (token) {
    if (state.ws) state.ws.close();
    connect(token);
  }
});

window.addEventListener("DOMContentLoaded", () => {
  const token = tokenFromFragment() || sessionStorage.getItem("paychan-token");
  $("login").onsubmit = (e) => {
    e.preventDefault();
    connect($("token").value.trim());
  };
  setInterval(tickRate, 1000);
  if (token) connect(token);
  else $("login").hidden = false;
});

// The aa-channels side of the conformance test, in one place: an application's client of
// aa-channels-lib's RPC server as aa-channels' README and doc/reference.md describe it, and
// as rpcify serves it. Each function below is one aa-channels function with its parameters
// in aa's order; its body is exactly the JSON-RPC call an aa-channels application sends.
//
// - Calls: {"jsonrpc":"2.0","id":N,"method":NAME,"params":[ARGS...]} over a WebSocket; the
//   answer's `result` holds the callback's values after the error (one value: itself;
//   several: an array), `error.message` the callback's error.
// - Events: every WebSocket client receives {"event":NAME,"data":[ARGS...]} with the
//   arguments of aa's eventBus event, without subscribing.
//
// The only addition for paychan is the token (Authorization: Bearer), which aa-channels'
// RPC did not have. The same functions are sent to paychan's native API (which accepts the
// aa-channels names as aliases) for the calls it has with the same parameters; NATIVE_LACKS
// lists what only the aa-channels listener offers.

'use strict';

const WebSocket = require('ws');

// What the native API does not offer in aa-channels' form (different parameter order or
// answer, or events that need `subscribe_events` there): the test skips these steps in
// native mode. See docs/AA_CHANNELS.md.
const NATIVE_LACKS = new Set([
  'createPaymentPackage', // native alias: [aa_address, amount, message?]
  'verifyPaymentPackage', // native alias answers an object
  'events', // native events need subscribe_events and have another shape
]);

class AaChannelsRpc {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.events = []; // every event received, in order: {event, data}
    this.waiters = [];
    ws.on('message', (text) => this.onMessage(JSON.parse(text.toString())));
    ws.on('close', () => {
      for (const { reject } of this.pending.values()) reject(new Error('connection closed'));
      this.pending.clear();
    });
  }

  // Opens a WebSocket to the RPC server: aa-channels' "ws://127.0.0.1:6333".
  static connect(url, token) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
      const client = new AaChannelsRpc(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  onMessage(message) {
    if (message.event !== undefined) {
      this.events.push(message);
      this.waiters = this.waiters.filter((w) => !w.check(message));
      return;
    }
    const call = this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id);
    if (message.error) call.reject(new Error(message.error.message));
    else call.resolve(message.result);
  }

  call(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  // eventBus.on(name, fn(...data)): resolves with the data of the first event `name` (seen
  // already or to come) for which `match(...data)` holds.
  waitForEvent(name, match = () => true, timeoutMs = 20000) {
    const seen = this.events.find((e) => e.event === name && match(...e.data));
    if (seen) return Promise.resolve(seen.data);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${name} event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`)),
        timeoutMs,
      );
      this.waiters.push({
        check: (e) => {
          if (e.event !== name || !match(...e.data)) return false;
          clearTimeout(timer);
          resolve(e.data);
          return true;
        },
      });
    });
  }

  close() {
    this.ws.close();
  }

  // channels.createNewChannel(peer, initial_amount, options, cb(error, aa_address))
  createNewChannel(peer, initial_amount, options) {
    return this.call('createNewChannel', [peer, initial_amount, options]);
  }

  // channels.setAutoRefill(aa_address, auto_refill_amount, auto_refill_threshold, cb(error))
  setAutoRefill(aa_address, auto_refill_amount, auto_refill_threshold) {
    return this.call('setAutoRefill', [aa_address, auto_refill_amount, auto_refill_threshold]);
  }

  // channels.sendMessageAndPay(aa_address, message_to_peer, amount, cb(error, response))
  sendMessageAndPay(aa_address, message_to_peer, amount) {
    return this.call('sendMessageAndPay', [aa_address, message_to_peer, amount]);
  }

  // channels.deposit(aa_address, amount, cb(error, unit))
  deposit(aa_address, amount) {
    return this.call('deposit', [aa_address, amount]);
  }

  // channels.close(aa_address, cb(error))
  close_channel(aa_address) {
    return this.call('close', [aa_address]);
  }

  // channels.getBalancesAndStatus(aa_address, cb(error, {status, amount_deposited_by_me,
  // amount_spent_by_me, amount_spent_by_peer, free_amount, my_deposits}))
  getBalancesAndStatus(aa_address) {
    return this.call('getBalancesAndStatus', [aa_address]);
  }

  // channels.createPaymentPackage(payment_amount, aa_address, cb(error, objSignedPackage))
  createPaymentPackage(payment_amount, aa_address) {
    return this.call('createPaymentPackage', [payment_amount, aa_address]);
  }

  // channels.verifyPaymentPackage(objSignedPackage, cb(error, payment_amount, asset, aa_address))
  verifyPaymentPackage(objSignedPackage) {
    return this.call('verifyPaymentPackage', [objSignedPackage]);
  }
}

module.exports = { AaChannelsRpc, NATIVE_LACKS };

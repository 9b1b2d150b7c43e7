// What aa-channels' README and reference tell an application to do, against two paychan
// nodes: create a channel, set auto-refill, send messages and pay (the peer gets
// payment_received), create and verify a payment package, deposit, close (channel_closed).
// The aa-channels calls are in aa_client.js. Run by crates/paychan-cli/tests/aa_conformance.rs,
// which starts the nodes and sets:
//   AA_MODE      "aa" (the [rpc.aa] listener) or "native" (the native API's aliases)
//   AA_URL_A/B   WebSocket URLs of the two nodes' APIs
//   AA_TOKEN_A/B their tokens
//   AA_PEER_B    how A reaches B ("ADDRESS@HOST:PORT", aa's "peer")
//   AA_ADDRESS_A A's address

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { AaChannelsRpc, NATIVE_LACKS } = require('./aa_client.js');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run by crates/paychan-cli/tests/aa_conformance.rs)`);
  return value;
};

const MODE = env('AA_MODE');
const has = (what) => MODE === 'aa' || !NATIVE_LACKS.has(what);
const sameAddress = (x, y) => String(x).toLowerCase() === String(y).toLowerCase();

test(`an aa-channels application works against paychan (${MODE})`, async (t) => {
  const alice = await AaChannelsRpc.connect(env('AA_URL_A'), env('AA_TOKEN_A'));
  const bob = await AaChannelsRpc.connect(env('AA_URL_B'), env('AA_TOKEN_B'));
  t.after(() => {
    alice.close();
    bob.close();
  });
  if (has('events')) {
    await alice.waitForEvent('aa_channels_ready');
    await bob.waitForEvent('aa_channels_ready');
  }

  let aa_address;
  await t.test('createNewChannel with options', async () => {
    aa_address = await alice.createNewChannel(env('AA_PEER_B'), 100000, { timeout: 7200 });
    assert.equal(typeof aa_address, 'string');
    const status = await alice.getBalancesAndStatus(aa_address);
    assert.equal(status.status, 'open');
    assert.equal(Number(status.amount_deposited_by_me), 100000);
    assert.equal(Number(status.free_amount), 100000);
    assert.equal(Number(status.my_deposits), 0);
    if (has('events')) {
      const [peer, address] = await bob.waitForEvent('channel_created_by_peer', (p, a) => a === aa_address);
      assert.ok(sameAddress(peer, env('AA_ADDRESS_A')), `peer ${peer}`);
      assert.equal(address, aa_address);
      const [amount] = await alice.waitForEvent('my_deposit_became_stable', (_, __, a) => a === aa_address);
      assert.equal(Number(amount), 100000);
    }
  });

  await t.test('setAutoRefill', async () => {
    await alice.setAutoRefill(aa_address, 50000, 20000);
  });

  await t.test('sendMessageAndPay: the payer gets the response, the payee payment_received', async () => {
    for (const [n, message] of ['thanks me', { order: 42 }, 7].entries()) {
      const response = await alice.sendMessageAndPay(aa_address, message, 1000);
      assert.notEqual(response, undefined);
      if (has('events')) {
        const [amount, asset, received, address] = await bob.waitForEvent(
          'payment_received',
          (_, __, m, a) => a === aa_address && JSON.stringify(m) === JSON.stringify(message),
        );
        assert.equal(Number(amount), 1000, `payment ${n}`);
        assert.equal(asset, 'base');
        assert.deepEqual(received, message);
        assert.equal(address, aa_address);
      }
    }
    const status = await alice.getBalancesAndStatus(aa_address);
    assert.equal(Number(status.amount_spent_by_me), 3000);
    assert.equal(Number(status.free_amount), 97000);
    const peer = await bob.getBalancesAndStatus(aa_address);
    assert.equal(Number(peer.amount_spent_by_peer), 3000);
  });

  await t.test('createPaymentPackage and verifyPaymentPackage', { skip: !has('createPaymentPackage') }, async () => {
    const objSignedPackage = await alice.createPaymentPackage(500, aa_address);
    assert.equal(typeof objSignedPackage, 'object');
    const [payment_amount, asset, address] = await bob.verifyPaymentPackage(objSignedPackage);
    assert.equal(Number(payment_amount), 500);
    assert.equal(asset, 'base');
    assert.equal(address, aa_address);
    await assert.rejects(bob.verifyPaymentPackage(objSignedPackage), 'a package is accepted once');
  });

  await t.test('deposit', async () => {
    const before = Number((await alice.getBalancesAndStatus(aa_address)).amount_deposited_by_me);
    const unit = await alice.deposit(aa_address, 10000);
    if (MODE === 'aa') assert.match(unit, /^0x[0-9a-f]{64}$/, 'deposit answers its unit (transaction)');
    const status = await alice.getBalancesAndStatus(aa_address);
    assert.equal(Number(status.amount_deposited_by_me), before + 10000);
    assert.equal(Number(status.my_deposits), 0);
    if (has('events')) {
      const [amount, depositUnit, address] = await alice.waitForEvent(
        'my_deposit_became_stable',
        (amount, _, a) => a === aa_address && Number(amount) === 10000,
      );
      assert.equal(address, aa_address);
      assert.equal(depositUnit, unit, 'the event names the deposit\'s unit');
      assert.equal(Number(amount), 10000);
      await bob.waitForEvent(
        'peer_deposit_became_stable',
        (amount, _, a) => a === aa_address && Number(amount) === 10000,
      );
    }
  });

  await t.test('close: both sides get channel_closed', async () => {
    await alice.close_channel(aa_address);
    if (has('events')) {
      const [address, received, closingUnit] = await alice.waitForEvent('channel_closed', (a) => a === aa_address);
      assert.equal(address, aa_address);
      assert.match(closingUnit, /^0x[0-9a-f]{64}$/);
      // Deposited 110,000, paid 3,000 (and 500 by package).
      assert.equal(Number(received), 110000 - 3000 - 500);
      const [, peerReceived] = await bob.waitForEvent('channel_closed', (a) => a === aa_address);
      assert.equal(Number(peerReceived), 3500);
    }
    const deadline = Date.now() + 20000;
    let status;
    do {
      status = await alice.getBalancesAndStatus(aa_address);
      if (status.status === 'closed') break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    assert.equal(status.status, 'closed');
    await assert.rejects(alice.sendMessageAndPay(aa_address, 'after close', 1));
  });
});

//! Two browser peers (`paychan_wasm::peer::Peer`) talking the node's peer protocol to each
//! other in one process, over an in-memory carrier, on an in-memory ledger (the core's
//! `Bank`): a consumer proposes and opens a channel, pays a provider whose handler answers
//! or refuses, loses its connection in the middle of a payment and reconnects (the counter
//! sync recovers the voucher the provider never saw), and both close cooperatively. After
//! every step: what each side counts agrees, and no money is created or lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use std::collections::BTreeMap;

use paychan_core::{Address, Amount, ChannelId, Domain, SigningKey, bank::Bank};
use paychan_ledger::{Operation, SignedRequest};
use paychan_wasm::peer::{Event, Peer};

const NATIVE: Address = Address::ZERO;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes([seed; 32]).unwrap()
}

/// One side: its peer and its "store" (what it handed out as durable).
struct Side {
    peer: Peer,
    store: BTreeMap<ChannelId, String>,
    /// Every event so far.
    events: Vec<Event>,
    /// How many of `events` the driver has acted on.
    handled: usize,
}

impl Side {
    fn new(seed: u8, domain: Domain) -> Self {
        Side {
            peer: Peer::new(key(seed), domain),
            store: BTreeMap::new(),
            events: Vec::new(),
            handled: 0,
        }
    }

    /// Stores what the peer hands out, then answers what it may send now.
    fn flush(&mut self) -> Vec<Vec<u8>> {
        let records = self.peer.take_records();
        if !records.is_empty() {
            for r in records {
                match r.state {
                    Some(state) => self.store.insert(r.id, state),
                    None => self.store.remove(&r.id),
                };
            }
            self.peer.records_saved();
        }
        self.events.extend(self.peer.take_events());
        let mut out = Vec::new();
        while let Some(m) = self.peer.next_transmit() {
            out.push(m);
        }
        out
    }
}

struct World {
    bank: Bank,
    a: Side,
    b: Side,
    nonces: BTreeMap<Address, u64>,
    /// Whether the provider answers payments (else refuses them).
    answer: bool,
}

impl World {
    fn new() -> Self {
        let domain = Domain::new(1337, Address::repeat_byte(0x42));
        let mut bank = Bank::new(domain);
        let (a, b) = (Side::new(1, domain), Side::new(2, domain));
        bank.mint(a.peer.address(), NATIVE, 100_000).unwrap();
        bank.mint(b.peer.address(), NATIVE, 100_000).unwrap();
        World {
            bank,
            a,
            b,
            nonces: BTreeMap::new(),
            answer: true,
        }
    }

    fn connect(&mut self, entropy: u8) {
        let b_address = self.b.peer.address();
        self.a
            .peer
            .dial(b_address, [entropy; 32], [entropy ^ 1; 32])
            .unwrap();
        self.b
            .peer
            .accept([entropy ^ 2; 32], [entropy ^ 3; 32])
            .unwrap();
        self.run();
        assert_eq!(self.a.peer.connected(), Some(b_address));
        assert_eq!(self.b.peer.connected(), Some(self.a.peer.address()));
    }

    fn disconnect(&mut self) {
        self.a.peer.disconnected();
        self.b.peer.disconnected();
        self.a.flush();
        self.b.flush();
    }

    /// Delivers messages both ways, and lets the provider's "driver" answer its handler's
    /// payments and its ledger reads, until nothing moves.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            for m in self.a.flush() {
                moved = true;
                self.b.peer.receive(&m).unwrap();
            }
            for m in self.b.flush() {
                moved = true;
                self.a.peer.receive(&m).unwrap();
            }
            // The provider's handler answers (or refuses, as told); the consumer has none.
            for provider in [true, false] {
                let side = if provider { &mut self.b } else { &mut self.a };
                let events: Vec<Event> = side.events[side.handled..].to_vec();
                side.handled = side.events.len();
                for e in &events {
                    match e {
                        Event::Payment { id, message, .. } => {
                            moved = true;
                            let answer = if provider && self.answer {
                                Ok(serde_json::json!({ "echo": message }))
                            } else {
                                Err("not today".to_owned())
                            };
                            side.peer.answer_payment(*id, answer).unwrap();
                        }
                        Event::NeedsLedger { channel_id } => {
                            moved = true;
                            let record =
                                self.bank.adjudicator().channel(channel_id).unwrap().clone();
                            side.peer.apply_ledger_record(*channel_id, &record).unwrap();
                        }
                        _ => {}
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Carries out a signed request on the bank and gives the events to both sides.
    fn submit(&mut self, request: &SignedRequest) {
        let last = self.nonces.entry(request.from).or_default();
        assert!(request.nonce > *last, "ledger nonces increase");
        *last = request.nonce;
        let events = match &request.op {
            Operation::Open { params, amount } => {
                self.bank.open(request.from, *params, *amount).unwrap()
            }
            Operation::Withdraw { certificate } => self.bank.withdraw(certificate, 10).unwrap(),
            Operation::CloseCooperative { settlement } => {
                self.bank.close_cooperative(settlement).unwrap()
            }
            other => panic!("unexpected operation {other:?}"),
        };
        self.a.peer.apply_events(&events);
        self.b.peer.apply_events(&events);
        self.run();
    }

    fn nonce(&self, who: Address) -> u64 {
        self.nonces.get(&who).copied().unwrap_or(0) + 1
    }

    fn total(&self) -> u128 {
        self.bank.total(NATIVE)
    }

    fn balance(&self, who: Address) -> Amount {
        self.bank.balance(who, NATIVE)
    }
}

fn paid(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Paid { .. }))
        .count()
}

#[test]
fn a_consumer_and_a_provider_open_pay_reconnect_and_close() {
    let mut w = World::new();
    let supply = w.total();
    let (a, b) = (w.a.peer.address(), w.b.peer.address());
    w.connect(10);

    // Propose, accepted by the provider's manager, opened on the ledger by the consumer.
    let id = w.a.peer.propose(5_000, 3_600, [7; 32]).unwrap();
    w.run();
    assert!(w.a.events.contains(&Event::Accepted { channel_id: id }));
    assert!(
        w.b.store.contains_key(&id),
        "the provider stored the channel it accepted"
    );
    let open = w.a.peer.open_request(id, 5_000, w.nonce(a)).unwrap();
    w.submit(&open);
    assert_eq!(w.a.peer.channel(id).unwrap().phase, "open");
    assert_eq!(w.balance(a), 95_000);

    // 100 payments of 7, answered by the provider's handler (the first one after the
    // provider reads the ledger's record of the channel, which it had only as proposed).
    for n in 0..100 {
        let request = w.a.peer.pay(id, 7, &serde_json::json!({ "n": n })).unwrap();
        // Nothing leaves before the state that counts it paid is stored.
        assert!(w.a.peer.next_transmit().is_none());
        w.run();
        assert!(w.a.events.iter().any(|e| matches!(e,
            Event::Paid { request_id, response, .. }
                if *request_id == request && response["echo"]["n"] == n)));
    }
    assert_eq!(paid(&w.a.events), 100);
    assert_eq!(w.a.peer.channel(id).unwrap().paid_by_me, "700");
    assert_eq!(w.b.peer.channel(id).unwrap().paid_by_peer, "700");

    // A refusal by the handler is taken back: nothing counted either side.
    w.answer = false;
    w.a.peer.pay(id, 50, &serde_json::json!("refused")).unwrap();
    w.run();
    assert!(
        w.a.events
            .iter()
            .any(|e| matches!(e, Event::Refused { .. }))
    );
    assert_eq!(w.a.peer.channel(id).unwrap().paid_by_me, "700");
    assert_eq!(w.b.peer.channel(id).unwrap().paid_by_peer, "700");
    w.answer = true;

    // The connection drops with a payment stored and sent but never delivered: its outcome
    // is unknown and it stays counted; on reconnecting, the counter sync gives the provider
    // the voucher, so both count it once.
    w.a.peer.pay(id, 9, &serde_json::json!("lost")).unwrap();
    w.a.flush(); // stored and "sent": dropped with the connection
    w.disconnect();
    assert!(
        w.a.events
            .iter()
            .any(|e| matches!(e, Event::PaymentUnknown { .. }))
    );
    assert_eq!(w.a.peer.channel(id).unwrap().paid_by_me, "709");
    assert_eq!(w.b.peer.channel(id).unwrap().paid_by_peer, "700");
    w.connect(20);
    assert_eq!(w.b.peer.channel(id).unwrap().paid_by_peer, "709");
    assert!(
        w.b.events
            .iter()
            .any(|e| matches!(e, Event::Synced { recovered, .. } if recovered == "9"))
    );

    // A restart from the stores: the consumer comes back with exactly its counter.
    let mut restarted = Peer::new(key(1), *w.a.peer.domain());
    for state in w.a.store.values() {
        restarted.restore(state).unwrap();
    }
    assert_eq!(
        restarted.channel(id).unwrap(),
        w.a.peer.channel(id).unwrap()
    );

    // The provider pays back on the same channel (both ways), then the consumer withdraws
    // part of its balance while the channel stays open.
    let request = w.b.peer.pay(id, 100, &serde_json::json!("back")).unwrap();
    w.run();
    // The consumer has no handler here: it refuses, and the provider takes it back.
    assert!(
        w.b.events
            .iter()
            .any(|e| matches!(e, Event::Refused { request_id, .. } if *request_id == request))
    );
    assert_eq!(w.b.peer.channel(id).unwrap().paid_by_me, "0");

    w.a.peer.withdraw(id, 1_000, 100, 1).unwrap();
    w.run();
    assert!(
        w.a.events
            .iter()
            .any(|e| matches!(e, Event::Cosigned { kind, .. } if kind == "withdrawal"))
    );
    let withdraw = w.a.peer.cosigned_request(id, w.nonce(a)).unwrap();
    w.submit(&withdraw);
    assert_eq!(w.balance(a), 96_000);
    assert_eq!(w.total(), supply);

    // Cooperative close: both sign the counters, the ledger pays each exactly its due.
    w.a.peer.close(id).unwrap();
    w.run();
    let close = w.a.peer.cosigned_request(id, w.nonce(a)).unwrap();
    w.submit(&close);
    assert_eq!(w.a.peer.channel(id).unwrap().phase, "closed");
    assert_eq!(w.b.peer.channel(id).unwrap().phase, "closed");
    assert_eq!(w.balance(a), 100_000 - 709);
    assert_eq!(w.balance(b), 100_000 + 709);
    assert_eq!(w.total(), supply, "no money created or lost");
}

#[test]
fn a_handshake_with_the_wrong_peer_fails_and_nothing_is_sent() {
    let mut w = World::new();
    let stranger = key(9).address();
    w.a.peer.dial(stranger, [1; 32], [2; 32]).unwrap();
    w.b.peer.accept([3; 32], [4; 32]).unwrap();
    let first = w.a.flush();
    let second: Vec<Vec<u8>> = first
        .iter()
        .flat_map(|m| {
            w.b.peer.receive(m).unwrap();
            w.b.flush()
        })
        .collect();
    let err = w.a.peer.receive(&second[0]).unwrap_err();
    assert!(err.contains("dialed"), "{err}");
    assert!(w.a.peer.next_transmit().is_none());
    assert!(
        w.a.peer
            .pay(
                ChannelId(paychan_core::B256::ZERO),
                1,
                &serde_json::json!(1)
            )
            .is_err()
    );
}

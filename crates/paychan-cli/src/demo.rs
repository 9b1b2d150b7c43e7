//! `paychan demo`: two parties and the ledger rules in one process.
//!
//! Alice and Bob each run the core's channel state machine; every message between them goes
//! through the real wire codec; the ledger is the in-memory [`Bank`] with the embedded
//! ledger's domain and a simulated clock. The demo opens a channel, streams paid requests
//! both ways (each carrying a JSON message and getting a JSON response), withdraws while
//! open, closes cooperatively, then opens a second channel that Alice closes unilaterally
//! while Bob's watcher defends his payments. At the end each party's ledger balance must
//! equal its starting balance plus what it was paid minus what it paid; the command fails
//! if not.

use anyhow::{Context, Result, anyhow, bail, ensure};
use paychan_core::{
    Address, Amount, ChannelParams, Pair, Role, SignedVoucher, SigningKey,
    adjudicator::{LedgerEvent, embedded_domain},
    bank::Bank,
    channel::{Channel, LedgerAction, Phase},
    eip712::memo_of,
    keccak256,
    wire::{self, ErrorBody, Message, Reply},
};
use serde_json::json;

/// Options of `paychan demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Paid requests in each direction on the first channel.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    payments: u32,
    /// Seed for the demo's keys and channel nonces (the same seed gives the same run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    json: bool,
}

const START_TIME: u64 = 1_700_000_000;
const FUNDS: Amount = 1_000_000;

/// One party: key, open channels, and the money it paid and received per the payments made.
struct Party {
    name: &'static str,
    key: SigningKey,
    channels: Vec<Channel>,
    paid: Amount,
    received: Amount,
    next_request: u64,
}

impl Party {
    fn new(name: &'static str, seed: u64) -> Result<Party> {
        let entropy = keccak256([name.as_bytes(), &seed.to_be_bytes()].concat());
        Ok(Party {
            name,
            key: SigningKey::from_entropy(entropy.as_slice())?,
            channels: vec![],
            paid: 0,
            received: 0,
            next_request: 1,
        })
    }

    fn address(&self) -> Address {
        self.key.address()
    }

    fn channel(&mut self, n: usize) -> Result<&mut Channel> {
        self.channels
            .get_mut(n)
            .ok_or_else(|| anyhow!("{} has no channel #{n}", self.name))
    }

    /// Pays for a request: signs the voucher and frames the `Pay` message.
    fn request(&mut self, n: usize, amount: Amount, body: &serde_json::Value) -> Result<Vec<u8>> {
        let body = serde_json::to_vec(body)?;
        let key = self.key.clone();
        let voucher = self.channel(n)?.pay(&key, amount, memo_of(&body))?;
        let request_id = self.next_request;
        self.next_request = self.next_request.saturating_add(1);
        Ok(wire::encode(&Message::Pay {
            request_id,
            voucher,
            body,
        })?)
    }

    /// Handles a `Pay` frame: checks the voucher, runs the handler, frames the `PayResult`.
    fn serve(&mut self, n: usize, frame: &[u8]) -> Result<Vec<u8>> {
        let Message::Pay {
            request_id,
            voucher,
            body,
        } = wire::decode(frame)?
        else {
            bail!("expected a payment");
        };
        let channel = self.channel(n)?;
        let channel_id = channel.id();
        let reply = match channel.handle_voucher(&voucher, memo_of(&body)) {
            Ok(amount) => {
                self.received = self.received.saturating_add(amount);
                let request: serde_json::Value = serde_json::from_slice(&body)?;
                Reply::Ok(serde_json::to_vec(&json!({
                    "ok": true,
                    "served": request.get("call"),
                    "thanks": format!("{} received {amount}", self.name),
                }))?)
            }
            Err(e) => Reply::Err(ErrorBody::new(ErrorBody::VOUCHER_REJECTED, e.to_string())),
        };
        Ok(wire::encode(&Message::PayResult {
            request_id,
            channel_id,
            reply,
        })?)
    }

    /// Reads the `PayResult` of our payment; counts the payment once it was accepted.
    fn finish(&mut self, frame: &[u8], amount: Amount) -> Result<serde_json::Value> {
        let Message::PayResult { reply, .. } = wire::decode(frame)? else {
            bail!("expected a payment result");
        };
        match reply {
            Reply::Ok(body) => {
                self.paid = self.paid.saturating_add(amount);
                Ok(serde_json::from_slice(&body)?)
            }
            Reply::Err(e) => bail!(
                "payment refused by the peer: {} (code {})",
                e.message,
                e.code
            ),
        }
    }
}

/// The two parties, the ledger and its clock.
struct World {
    alice: Party,
    bob: Party,
    bank: Bank,
    now: u64,
    quiet: bool,
}

impl World {
    fn say(&mut self, line: String) {
        if !self.quiet {
            println!("{line}");
        }
    }

    fn feed(&mut self, events: &[LedgerEvent]) -> Vec<(Role, LedgerAction)> {
        let mut actions = vec![];
        for event in events {
            for c in &mut self.alice.channels {
                actions.extend(c.handle_ledger_event(event).map(|a| (c.role(), a)));
            }
            for c in &mut self.bob.channels {
                actions.extend(c.handle_ledger_event(event).map(|a| (c.role(), a)));
            }
        }
        actions
    }

    /// Alice proposes a channel (through the wire), Bob accepts, Alice opens it, Bob deposits.
    fn open(&mut self, n: usize, deposit_a: Amount, deposit_b: Amount, period: u64) -> Result<()> {
        let domain = embedded_domain();
        let params = ChannelParams {
            party_a: self.alice.address(),
            party_b: self.bob.address(),
            token: Address::ZERO,
            challenge_period: period,
            nonce: keccak256([self.alice.address().as_slice(), &(n as u64).to_be_bytes()].concat()),
        };
        let proposal = wire::encode(&Message::ProposeChannel(wire::ProposeChannel {
            params,
            domain,
            deposit: deposit_a,
        }))?;
        let Message::ProposeChannel(p) = wire::decode(&proposal)? else {
            bail!("expected a proposal");
        };
        ensure!(
            p.domain == domain,
            "Bob refuses a channel on another ledger"
        );
        let bob_channel = Channel::new(p.params, p.domain, self.bob.address())
            .context("Bob is not a party of the proposal")?;
        self.alice.channels.push(
            Channel::new(params, domain, self.alice.address()).context("Alice is not a party")?,
        );
        self.bob.channels.push(bob_channel);
        let ev = self.bank.open(self.alice.address(), params, deposit_a)?;
        self.feed(&ev);
        let id = params.id(&domain);
        let ev = self
            .bank
            .deposit(self.bob.address(), &id, Role::B, deposit_b)?;
        self.feed(&ev);
        self.say(format!(
            "channel #{n} {id}\n  opened by Alice with {deposit_a}, Bob deposited {deposit_b}, \
             challenge period {period}s"
        ));
        Ok(())
    }

    /// One paid request from `payer` to the other, with its response.
    fn pay(&mut self, n: usize, payer: Role, amount: Amount, call: &str) -> Result<()> {
        let body = json!({ "call": call, "amount": amount.to_string() });
        let (from, to) = match payer {
            Role::A => (&mut self.alice, &mut self.bob),
            Role::B => (&mut self.bob, &mut self.alice),
        };
        let frame = from.request(n, amount, &body)?;
        let answer = to.serve(n, &frame)?;
        let response = from.finish(&answer, amount)?;
        let line = format!(
            "  {} -> {}  {amount:>4}  {body}  => {response}",
            from.name, to.name
        );
        self.say(line);
        Ok(())
    }

    fn withdraw(&mut self, n: usize, amount: Amount) -> Result<()> {
        let (now, bob_key, alice_key) = (self.now, self.bob.key.clone(), self.alice.key.clone());
        let (w, sig) = self.bob.channel(n)?.propose_withdrawal(
            &bob_key,
            amount,
            now.saturating_add(600),
            now,
        )?;
        let frame = wire::encode(&Message::WithdrawRequest {
            withdrawal: w,
            signature: sig,
        })?;
        let Message::WithdrawRequest {
            withdrawal,
            signature,
        } = wire::decode(&frame)?
        else {
            bail!("expected a withdrawal request");
        };
        let cosig = self.alice.channel(n)?.handle_withdrawal_request(
            &alice_key,
            &withdrawal,
            &signature,
            now,
        )?;
        let cert = self.bob.channel(n)?.handle_withdrawal_signature(&cosig)?;
        let ev = self.bank.withdraw(&cert, now)?;
        self.feed(&ev);
        self.say(format!(
            "  Bob withdrew {amount} while the channel stays open (co-signed by Alice)"
        ));
        Ok(())
    }

    fn close_cooperatively(&mut self, n: usize) -> Result<Pair<Amount>> {
        let (alice_key, bob_key) = (self.alice.key.clone(), self.bob.key.clone());
        let (s, sig_a) = self.alice.channel(n)?.propose_settlement(&alice_key)?;
        let sig_b = self
            .bob
            .channel(n)?
            .handle_settlement_request(&bob_key, &s, &sig_a)?;
        let cert = self.alice.channel(n)?.handle_settlement_signature(&sig_b)?;
        let ev = self.bank.close_cooperative(&cert)?;
        self.feed(&ev);
        let payouts = closed_payouts(self.alice.channel(n)?)?;
        self.say(format!(
            "  closed cooperatively: Alice gets {}, Bob gets {}",
            payouts.a, payouts.b
        ));
        Ok(payouts)
    }

    /// Alice closes alone (Bob stopped answering) presenting Bob's latest voucher; Bob's
    /// watcher, back online, submits Alice's latest; anyone settles after the deadline.
    fn close_unilaterally(&mut self, n: usize) -> Result<Pair<Amount>> {
        let inputs = self.alice.channel(n)?.start_close()?;
        let id = inputs.params.id(&embedded_domain());
        let ev =
            self.bank
                .start_close(self.alice.address(), &id, inputs.voucher.as_ref(), self.now)?;
        let actions = self.feed(&ev);
        let Some(Phase::Closing { deadline, .. }) = self.bob.channels.get(n).map(|c| *c.phase())
        else {
            bail!("the close did not start");
        };
        self.say(format!(
            "  Alice starts a unilateral close presenting Bob's latest voucher ({}); \
             deadline in {}s",
            describe(inputs.voucher.as_ref()),
            deadline.saturating_sub(self.now)
        ));
        for (role, action) in actions {
            if let LedgerAction::SubmitVoucher(v) = action {
                let who = if role == Role::A { "Alice" } else { "Bob" };
                let ev = self.bank.submit_voucher(&v, self.now)?;
                self.feed(&ev);
                self.say(format!(
                    "  {who}'s watcher submits the peer's latest voucher ({})",
                    describe(Some(&v))
                ));
            }
        }
        ensure!(
            self.bank.settle(&id, self.now).is_err(),
            "settle must wait for the deadline"
        );
        self.now = deadline;
        ensure!(
            self.alice.channel(n)?.settle_due(self.now),
            "settle is due at the deadline"
        );
        let ev = self.bank.settle(&id, self.now)?;
        self.feed(&ev);
        let payouts = closed_payouts(self.alice.channel(n)?)?;
        self.say(format!(
            "  after the challenge period (simulated clock): settled, Alice gets {}, Bob gets {}",
            payouts.a, payouts.b
        ));
        Ok(payouts)
    }
}

fn describe(v: Option<&SignedVoucher>) -> String {
    v.map_or("none".into(), |v| {
        format!(
            "cumulative {}, sequence {}",
            v.voucher.cumulative, v.voucher.sequence
        )
    })
}

fn closed_payouts(channel: &Channel) -> Result<Pair<Amount>> {
    match channel.phase() {
        Phase::Closed { payouts } => Ok(*payouts),
        other => Err(anyhow!("channel is {}, not closed", other.name())),
    }
}

/// Runs the demo and checks its outcome.
pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    let mut world = World {
        alice: Party::new("Alice", args.seed)?,
        bob: Party::new("Bob", args.seed)?,
        bank: Bank::new(embedded_domain()),
        now: START_TIME,
        quiet: args.json,
    };
    for p in [world.alice.address(), world.bob.address()] {
        world.bank.mint(p, Address::ZERO, FUNDS)?;
    }
    let (a, b) = (world.alice.address(), world.bob.address());
    world.say("paychan demo — in-process, embedded ledger rules, simulated clock".into());
    world.say(format!(
        "Alice {a}\nBob   {b}\neach starts with {FUNDS} on the ledger\n"
    ));

    let n = args.payments;
    let deposit_a = Amount::from(n).saturating_mul(10).max(100);
    let deposit_b = Amount::from(n).saturating_mul(5).max(50);
    world.open(0, deposit_a, deposit_b, 3_600)?;
    let calls = ["weather", "translate", "price", "search"];
    for i in 0..n {
        let call = calls
            .get((i as usize).checked_rem(calls.len()).unwrap_or(0))
            .copied()
            .unwrap_or("ping");
        world.pay(0, Role::A, Amount::from(i % 5).saturating_add(1), call)?;
        if i % 2 == 1 {
            world.pay(0, Role::B, Amount::from(i % 3).saturating_add(1), "refund")?;
        }
    }
    world.withdraw(0, 20)?;
    for i in 0..n {
        world.pay(
            0,
            Role::B,
            Amount::from(i % 4).saturating_add(1),
            "stream-minute",
        )?;
    }
    let first = world.close_cooperatively(0)?;
    world.say(String::new());

    world.open(1, 200, 100, 86_400)?;
    world.pay(1, Role::A, 40, "batch-job")?;
    world.pay(1, Role::B, 15, "rebate")?;
    world.pay(1, Role::A, 25, "batch-job")?;
    let second = world.close_unilaterally(1)?;

    let summary = check(&world, first, second)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}

/// Checks the final ledger balances against the payments made, and returns the summary.
fn check(world: &World, first: Pair<Amount>, second: Pair<Amount>) -> Result<serde_json::Value> {
    let mut rows = vec![];
    let mut ok = true;
    for p in [&world.alice, &world.bob] {
        let balance = world.bank.balance(p.address(), Address::ZERO);
        let expected = FUNDS.saturating_add(p.received).saturating_sub(p.paid);
        ok &= balance == expected;
        rows.push(json!({
            "party": p.name,
            "address": p.address().to_string(),
            "paid": p.paid.to_string(),
            "received": p.received.to_string(),
            "expected_balance": expected.to_string(),
            "ledger_balance": balance.to_string(),
            "ok": balance == expected,
        }));
    }
    let total = world.bank.total(Address::ZERO);
    let conserved = total == world.bank.supply(Address::ZERO);
    ok &= conserved;
    if !world.quiet {
        println!("\nsummary");
        println!(
            "  {:<6} {:>10} {:>10} {:>16} {:>16}",
            "party", "paid", "received", "expected", "ledger"
        );
        for p in [&world.alice, &world.bob] {
            let balance = world.bank.balance(p.address(), Address::ZERO);
            let expected = FUNDS.saturating_add(p.received).saturating_sub(p.paid);
            let mark = if balance == expected {
                "ok"
            } else {
                "MISMATCH"
            };
            println!(
                "  {:<6} {:>10} {:>10} {:>16} {:>16}  {mark}",
                p.name, p.paid, p.received, expected, balance
            );
        }
        println!(
            "  total on the ledger {total} (minted {}): {}",
            world.bank.supply(Address::ZERO),
            if conserved {
                "conserved"
            } else {
                "NOT CONSERVED"
            }
        );
    }
    ensure!(ok, "final balances do not match the payments");
    if !world.quiet {
        println!("every balance matches the payments: ok");
    }
    Ok(json!({
        "ok": ok,
        "parties": rows,
        "channels": [
            { "close": "cooperative", "payout_a": first.a.to_string(), "payout_b": first.b.to_string() },
            { "close": "unilateral", "payout_a": second.a.to_string(), "payout_b": second.b.to_string() },
        ],
        "ledger_events": world.bank.events().len(),
    }))
}

//! The simulation's input: a [`Setup`] and a sequence of [`Action`]s, decoded from any bytes.
//!
//! Every byte string decodes to something valid (missing argument bytes read as zero), so a
//! fuzzer's mutations always drive the simulation instead of being refused at the door. One
//! action is an opcode byte, whose top bit picks the party and whose bit 6 is a flag, and at
//! most two argument bytes. Opcodes are weighted towards payments and deliveries, which is
//! what a channel mostly does.

use crate::types::{Amount, Role};

/// The most actions one input is decoded into, so that every run is short.
pub const MAX_ACTIONS: usize = 256;

/// How the channel starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Setup {
    /// A's deposit when it opens the channel.
    pub deposit_a: Amount,
    /// Who closes the channel at the end if it is still open then.
    pub closer: Role,
    /// Whether the closer first proposes a cooperative settlement at the end.
    pub cooperative: bool,
}

/// One step of the simulation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// `from` pays `amount` for a message; the payee's handler refuses it if `refused`.
    Pay {
        /// The payer.
        from: Role,
        /// How much.
        amount: Amount,
        /// Whether the payee's handler answers with an error (the payment is taken back).
        refused: bool,
    },
    /// The frame at `pick` among those in flight to `to` arrives (0: the oldest, in order).
    Deliver {
        /// The receiver.
        to: Role,
        /// Which frame (modulo how many are in flight); most picks mean the oldest.
        pick: u8,
    },
    /// A frame in flight to `to` is duplicated.
    Duplicate {
        /// The receiver.
        to: Role,
        /// Which frame.
        pick: u8,
    },
    /// A frame in flight to `to` is lost.
    Drop {
        /// The receiver.
        to: Role,
        /// Which frame.
        pick: u8,
    },
    /// The connection drops (everything in flight is lost) and comes back: both sides run
    /// the counter sync.
    Reconnect,
    /// `who` crashes and restarts from a state it persisted: the latest, or `back` states
    /// older (a restore from a backup).
    Restart {
        /// Who restarts.
        who: Role,
        /// How many persisted states back (modulo how many there are).
        back: u8,
    },
    /// `who`'s watcher reads the ledger's new events.
    LedgerSync {
        /// Whose watcher.
        who: Role,
    },
    /// `who` deposits `amount` more.
    Deposit {
        /// The depositor.
        who: Role,
        /// How much.
        amount: Amount,
    },
    /// `who` proposes to withdraw `amount`.
    Withdraw {
        /// Who withdraws.
        who: Role,
        /// How much.
        amount: Amount,
    },
    /// Time passes (both clocks): each watcher reads the ledger first, then timers run.
    TimeJump {
        /// How many seconds.
        secs: u64,
    },
    /// `who` proposes a cooperative settlement.
    CooperativeClose {
        /// The proposer.
        who: Role,
    },
    /// `who` starts a unilateral close; if `cheat`, it presents its own oldest voucher
    /// instead of the peer's latest (and is no longer honest).
    ForceClose {
        /// The closer.
        who: Role,
        /// Whether it cheats.
        cheat: bool,
    },
    /// `who` throws its own oldest voucher at the ledger during a close (dishonest, and only
    /// ever harmless to the peer).
    SubmitStale {
        /// The cheater.
        who: Role,
    },
    /// `from` turns dishonest and sends a voucher for `extra` more than the payee lets it
    /// have paid: the payee must refuse it.
    Overdraft {
        /// The cheater.
        from: Role,
        /// How far beyond the payee's limit.
        extra: Amount,
    },
}

/// Reads bytes one at a time; past the end, zeros.
struct Bytes<'a> {
    rest: &'a [u8],
}

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }
}

/// Decodes a setup and up to [`MAX_ACTIONS`] actions from `input`. Never fails.
pub fn decode(input: &[u8]) -> (Setup, Vec<Action>) {
    let mut bytes = Bytes { rest: input };
    let deposit = bytes.next();
    let closer = bytes.next();
    let setup = Setup {
        deposit_a: Amount::from(deposit).saturating_add(1).saturating_mul(8),
        closer: if closer & 1 == 0 { Role::A } else { Role::B },
        cooperative: closer & 2 != 0,
    };
    let mut actions = Vec::new();
    while !bytes.rest.is_empty() && actions.len() < MAX_ACTIONS {
        let op = bytes.next();
        let who = if op & 0x80 == 0 { Role::A } else { Role::B };
        let flag = op & 0x40 != 0;
        let rare = op & 0x20 != 0 && flag;
        let action = match op & 0x1f {
            0..=6 => Action::Pay {
                from: who,
                amount: Amount::from(bytes.next()).saturating_add(1),
                refused: rare,
            },
            7..=14 => Action::Deliver {
                to: who,
                pick: if flag { bytes.next() } else { 0 },
            },
            15 => Action::Duplicate {
                to: who,
                pick: bytes.next(),
            },
            16 => Action::Drop {
                to: who,
                pick: bytes.next(),
            },
            17 => Action::Reconnect,
            18 => Action::Restart {
                who,
                back: if flag { bytes.next() } else { 0 },
            },
            19..=21 => Action::LedgerSync { who },
            22 | 23 => Action::Deposit {
                who,
                amount: Amount::from(bytes.next())
                    .saturating_add(1)
                    .saturating_mul(4),
            },
            24 | 25 => Action::Withdraw {
                who,
                amount: Amount::from(bytes.next()).saturating_add(1),
            },
            26 | 27 => Action::TimeJump {
                secs: u64::from(bytes.next()).saturating_add(1).saturating_mul(30),
            },
            // Closes end the interesting part of a run: rare, and chosen by an argument.
            28 if rare && bytes.next() < 64 => Action::CooperativeClose { who },
            29 if rare && bytes.next() < 64 => Action::ForceClose { who, cheat: false },
            30 if rare && bytes.next() < 32 => Action::ForceClose { who, cheat: true },
            31 if rare => Action::SubmitStale { who },
            31 if flag => Action::Overdraft {
                from: who,
                extra: Amount::from(bytes.next()).saturating_add(1),
            },
            _ => Action::LedgerSync { who },
        };
        actions.push(action);
    }
    (setup, actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_decode_and_the_empty_input_is_a_setup_alone() {
        let (setup, actions) = decode(&[]);
        assert_eq!(setup.deposit_a, 8);
        assert!(actions.is_empty());
        let (_, actions) = decode(&[
            0xff, 1, 0x00, 9, 0x88, 0x4b, 7, 0x11, 0x1b, 0xff, 0x7c, 0, 0x3c,
        ]);
        assert_eq!(
            actions,
            vec![
                Action::Pay {
                    from: Role::A,
                    amount: 10,
                    refused: false
                },
                Action::Deliver {
                    to: Role::B,
                    pick: 0
                },
                Action::Deliver {
                    to: Role::A,
                    pick: 7
                },
                Action::Reconnect,
                Action::TimeJump { secs: 7680 },
                Action::CooperativeClose { who: Role::A },
                Action::LedgerSync { who: Role::A },
            ]
        );
        let long = vec![0u8; 10_000];
        assert_eq!(decode(&long).1.len(), MAX_ACTIONS);
    }
}

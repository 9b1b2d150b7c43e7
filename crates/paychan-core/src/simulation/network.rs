//! The simulated connection between the two parties: encoded frames in flight, per
//! direction, that the simulation delivers in order or out of order, duplicates, loses, or
//! loses all at once when the connection drops.
//!
//! Frames travel as bytes through the real codec ([`crate::wire`]), so every message the
//! parties exchange is encoded and decoded as between two nodes.

use crate::types::{Pair, Role};

/// The most frames in flight towards one party; beyond, a duplicate is not made (a real
/// node bounds what it has in flight per peer too).
pub const MAX_IN_FLIGHT: usize = 64;

/// Frames in flight towards each party, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Network {
    in_flight: Pair<Vec<Vec<u8>>>,
}

impl Network {
    /// No frames in flight.
    pub fn new() -> Self {
        Network::default()
    }

    /// Queues `frame` towards `to`.
    pub fn send(&mut self, to: Role, frame: Vec<u8>) {
        self.in_flight.get_mut(to).push(frame);
    }

    /// How many frames are in flight towards `to`.
    pub fn len(&self, to: Role) -> usize {
        self.in_flight.get(to).len()
    }

    /// Whether nothing is in flight either way.
    pub fn is_empty(&self) -> bool {
        self.in_flight.a.is_empty() && self.in_flight.b.is_empty()
    }

    /// The index `pick` designates among what is in flight towards `to`: below 192 the oldest
    /// (delivery in order), else any (reordering).
    fn index(&self, to: Role, pick: u8) -> Option<usize> {
        let len = self.len(to);
        if len == 0 {
            None
        } else if pick < 192 {
            Some(0)
        } else {
            usize::from(pick).checked_rem(len)
        }
    }

    /// Takes the frame `pick` designates out of the queue towards `to`.
    pub fn take(&mut self, to: Role, pick: u8) -> Option<Vec<u8>> {
        let i = self.index(to, pick)?;
        let queue = self.in_flight.get_mut(to);
        (i < queue.len()).then(|| queue.remove(i))
    }

    /// Duplicates the frame `pick` designates (the copy goes to the back of the queue).
    pub fn duplicate(&mut self, to: Role, pick: u8) {
        let len = self.len(to);
        if len >= MAX_IN_FLIGHT {
            return;
        }
        let Some(i) = usize::from(pick).checked_rem(len) else {
            return;
        };
        let queue = self.in_flight.get_mut(to);
        if let Some(frame) = queue.get(i).cloned() {
            queue.push(frame);
        }
    }

    /// Loses the frame `pick` designates (any of them, not only the oldest).
    pub fn drop_frame(&mut self, to: Role, pick: u8) {
        let Some(i) = usize::from(pick).checked_rem(self.len(to)) else {
            return;
        };
        let queue = self.in_flight.get_mut(to);
        if i < queue.len() {
            queue.remove(i);
        }
    }

    /// Loses everything in flight: the connection dropped.
    pub fn disconnect(&mut self) {
        self.in_flight.a.clear();
        self.in_flight.b.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_go_in_order_unless_picked_out_of_order() {
        let mut net = Network::new();
        for n in 0..3u8 {
            net.send(Role::B, vec![n]);
        }
        assert_eq!(net.take(Role::B, 5), Some(vec![0]));
        assert_eq!(net.take(Role::B, 193), Some(vec![2]));
        net.duplicate(Role::B, 0);
        assert_eq!(net.len(Role::B), 2);
        net.drop_frame(Role::B, 1);
        assert_eq!(net.take(Role::B, 0), Some(vec![1]));
        assert_eq!(net.take(Role::A, 0), None);
        assert!(net.is_empty());
    }
}

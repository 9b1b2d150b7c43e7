//! How values are represented in SQL columns, the same way by every backend (see the crate
//! docs, "Encoding").

use paychan_core::{Address, Amount, B256, ChannelId};

use crate::{Direction, StoreError};

/// A `u64` as the order-preserving signed integer stored in the database (top bit flipped).
pub(crate) fn u64_to_sql(value: u64) -> i64 {
    (value as i64) ^ i64::MIN
}

/// The `u64` stored as [`u64_to_sql`] made it.
pub(crate) fn u64_from_sql(stored: i64) -> u64 {
    (stored ^ i64::MIN) as u64
}

/// An amount as 16 big-endian bytes.
pub(crate) fn amount_to_sql(amount: Amount) -> [u8; 16] {
    amount.to_be_bytes()
}

/// The amount stored as [`amount_to_sql`] made it.
pub(crate) fn amount_from_sql(stored: &[u8], column: &str) -> Result<Amount, StoreError> {
    Ok(Amount::from_be_bytes(fixed(stored, column)?))
}

/// A channel id from its 32 stored bytes.
pub(crate) fn channel_id_from_sql(stored: &[u8], column: &str) -> Result<ChannelId, StoreError> {
    Ok(ChannelId(B256::from(fixed::<32>(stored, column)?)))
}

/// A 32-byte hash from its stored bytes.
pub(crate) fn b256_from_sql(stored: &[u8], column: &str) -> Result<B256, StoreError> {
    Ok(B256::from(fixed::<32>(stored, column)?))
}

/// An address from its 20 stored bytes.
pub(crate) fn address_from_sql(stored: &[u8], column: &str) -> Result<Address, StoreError> {
    Ok(Address::from(fixed::<20>(stored, column)?))
}

/// A direction as its stored code.
pub(crate) fn direction_to_sql(direction: Direction) -> i64 {
    match direction {
        Direction::Incoming => 0,
        Direction::Outgoing => 1,
    }
}

/// The direction of a stored code.
pub(crate) fn direction_from_sql(stored: i64) -> Result<Direction, StoreError> {
    match stored {
        0 => Ok(Direction::Incoming),
        1 => Ok(Direction::Outgoing),
        other => Err(StoreError::corrupt(format!(
            "payments.direction is {other}, not 0 or 1"
        ))),
    }
}

fn fixed<const N: usize>(stored: &[u8], column: &str) -> Result<[u8; N], StoreError> {
    <[u8; N]>::try_from(stored).map_err(|_| {
        StoreError::corrupt(format!(
            "{column} has {} bytes instead of {N}",
            stored.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_encoding_is_lossless_and_keeps_order() {
        let values = [
            0,
            1,
            2,
            i64::MAX as u64 - 1,
            i64::MAX as u64,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        for pair in values.windows(2) {
            if let [a, b] = pair {
                assert!(u64_to_sql(*a) < u64_to_sql(*b), "{a} < {b}");
            }
        }
        for v in values {
            assert_eq!(u64_from_sql(u64_to_sql(v)), v);
        }
        assert_eq!(u64_to_sql(0), i64::MIN);
        assert_eq!(u64_to_sql(u64::MAX), i64::MAX);
    }

    #[test]
    fn amounts_round_trip_and_sort_bytewise() {
        for a in [0, 1, 255, 256, u64::MAX as u128, u128::MAX] {
            assert_eq!(amount_from_sql(&amount_to_sql(a), "x").ok(), Some(a));
        }
        assert!(amount_to_sql(255) < amount_to_sql(256));
        assert!(matches!(
            amount_from_sql(&[1, 2], "x"),
            Err(StoreError::Corrupt { .. })
        ));
    }
}

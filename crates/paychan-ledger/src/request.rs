//! Ledger operations signed by the account that makes them.
//!
//! A served ledger must know who asks: funds leave only the signer's account and only a party
//! may start a close. Each request carries the account, a nonce above the last one the ledger
//! accepted from that account (so a captured request cannot be replayed), the operation, and
//! the account's signature over all three under the ledger's domain.

use paychan_core::{Address, B256, Domain, Signature, SigningKey, keccak256};
use serde::{Deserialize, Serialize};

use crate::types::{LedgerError, Operation};

/// Prefix of the signed digest, so a request signature is never valid as anything else.
const TAG: &[u8] = b"paychan-ledger-request-v1";

/// An operation signed by the account that makes it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedRequest {
    /// The acting account.
    pub from: Address,
    /// Greater than the last nonce the ledger accepted from `from`.
    pub nonce: u64,
    /// What to do.
    pub op: Operation,
    /// `from`'s signature over [`SignedRequest::digest`].
    pub signature: Signature,
}

impl SignedRequest {
    /// `keccak256(tag || domain separator || from || nonce || postcard(op))`.
    pub fn digest(
        domain: &Domain,
        from: Address,
        nonce: u64,
        op: &Operation,
    ) -> Result<B256, LedgerError> {
        let op = postcard::to_stdvec(op).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let mut buf = Vec::with_capacity(TAG.len().saturating_add(92).saturating_add(op.len()));
        buf.extend_from_slice(TAG);
        buf.extend_from_slice(domain.separator().as_slice());
        buf.extend_from_slice(from.as_slice());
        buf.extend_from_slice(&nonce.to_be_bytes());
        buf.extend_from_slice(&op);
        Ok(keccak256(buf))
    }

    /// Signs `op` for `key`'s account.
    pub fn sign(
        domain: &Domain,
        key: &SigningKey,
        nonce: u64,
        op: Operation,
    ) -> Result<Self, LedgerError> {
        let from = key.address();
        let signature = key.sign_hash(&Self::digest(domain, from, nonce, &op)?);
        Ok(SignedRequest {
            from,
            nonce,
            op,
            signature,
        })
    }

    /// Checks that `from` signed this request under `domain`.
    pub fn verify(&self, domain: &Domain) -> Result<(), LedgerError> {
        let digest = Self::digest(domain, self.from, self.nonce, &self.op)?;
        match self.signature.recover(&digest) {
            Ok(signer) if signer == self.from => Ok(()),
            Ok(signer) => Err(LedgerError::Unauthorized(format!(
                "request for {} is signed by {signer}",
                self.from
            ))),
            Err(e) => Err(LedgerError::Unauthorized(format!(
                "bad request signature: {e}"
            ))),
        }
    }
}

//! Front certificates: a payee's signed statement that another key speaks for it, so that
//! a front process (one of several stateless payees sharing a database,
//! `docs/ARCHITECTURE.md`) never holds a key that can move funds.
//!
//! The payee signs, once, an EIP-712 `FrontCertificate(address payee,address front,uint64
//! expiry)` under its ledger's domain. The front then uses its own key for its Noise identity
//! and to sign receipts, and presents the certificate; a peer or client accepts the front's
//! signature for the payee's after [`SignedFrontCertificate::check`].
//!
//! What a stolen front key can do, until the certificate expires: answer as the payee (sign
//! receipts for calls, accept payments into the payee's channels, where they are counted for
//! the payee). What it cannot do: sign a voucher, a withdrawal or a settlement of the payee
//! (the ledger checks the parties' own keys), move or withdraw any funds, or outlive its
//! expiry. Keep expiries short and renew them.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use crate::{
    crypto::{Signature, SigningKey},
    eip712::{Domain, Eip712},
};

/// The payee's delegation of its voice (not its funds) to a front's key until `expiry`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontCertificate {
    /// The payee that signs it.
    pub payee: Address,
    /// The front's own key's address.
    pub front: Address,
    /// Unix time (seconds) after which it is void.
    pub expiry: u64,
}

/// A [`FrontCertificate`] with the payee's signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedFrontCertificate {
    /// The certificate.
    pub certificate: FrontCertificate,
    /// The payee's EIP-712 signature of it.
    pub signature: Signature,
}

/// Why a front certificate is not accepted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrontCertificateError {
    /// It names another payee than the one expected.
    #[error("the certificate is for payee {got}, not {expected}")]
    OtherPayee {
        /// The payee expected.
        expected: Address,
        /// The payee it names.
        got: Address,
    },
    /// It names another front key than the one that presented it.
    #[error("the certificate is for front {got}, not {expected}")]
    OtherFront {
        /// The front key expected.
        expected: Address,
        /// The front key it names.
        got: Address,
    },
    /// The payee did not sign it (under this ledger's domain).
    #[error("the certificate is not signed by its payee")]
    BadSignature,
    /// It expired.
    #[error("the certificate expired at {expiry} (now {now})")]
    Expired {
        /// Its expiry.
        expiry: u64,
        /// The time it was checked at.
        now: u64,
    },
}

impl crate::channel::Reason for FrontCertificateError {
    fn reason(&self) -> &'static str {
        match self {
            FrontCertificateError::OtherPayee { .. } => "front.other_payee",
            FrontCertificateError::OtherFront { .. } => "front.other_front",
            FrontCertificateError::BadSignature => "front.bad_signature",
            FrontCertificateError::Expired { .. } => "front.expired",
        }
    }
}

impl SignedFrontCertificate {
    /// The payee `payee_key` certifies `front` until `expiry` on the ledger `domain`.
    pub fn sign(payee_key: &SigningKey, front: Address, expiry: u64, domain: &Domain) -> Self {
        let certificate = FrontCertificate {
            payee: payee_key.address(),
            front,
            expiry,
        };
        SignedFrontCertificate {
            signature: certificate.sign(domain, payee_key),
            certificate,
        }
    }

    /// Whether `front` may speak for `payee` at `now` (unix seconds) on the ledger `domain`.
    pub fn check(
        &self,
        domain: &Domain,
        payee: Address,
        front: Address,
        now: u64,
    ) -> Result<(), FrontCertificateError> {
        let c = &self.certificate;
        if c.payee != payee {
            return Err(FrontCertificateError::OtherPayee {
                expected: payee,
                got: c.payee,
            });
        }
        if c.front != front {
            return Err(FrontCertificateError::OtherFront {
                expected: front,
                got: c.front,
            });
        }
        if c.recover(domain, &self.signature).ok() != Some(c.payee) {
            return Err(FrontCertificateError::BadSignature);
        }
        if now > c.expiry {
            return Err(FrontCertificateError::Expired {
                expiry: c.expiry,
                now,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::channel::Reason;

    #[test]
    fn a_certificate_holds_for_its_front_until_it_expires_and_nothing_else() {
        let domain = Domain::new(1337, Address::repeat_byte(0xad));
        let payee = SigningKey::from_entropy(&[1; 32]).unwrap();
        let front = SigningKey::from_entropy(&[2; 32]).unwrap();
        let (p, f) = (payee.address(), front.address());
        let cert = SignedFrontCertificate::sign(&payee, f, 1_000, &domain);
        assert_eq!(cert.check(&domain, p, f, 1_000), Ok(()));
        let reason = |r: Result<(), FrontCertificateError>| r.unwrap_err().reason();
        assert_eq!(reason(cert.check(&domain, p, f, 1_001)), "front.expired");
        assert_eq!(reason(cert.check(&domain, f, f, 0)), "front.other_payee");
        assert_eq!(reason(cert.check(&domain, p, p, 0)), "front.other_front");
        // Another ledger's domain, or a changed field, breaks the signature.
        let other = Domain::new(1, Address::repeat_byte(0xad));
        assert_eq!(reason(cert.check(&other, p, f, 0)), "front.bad_signature");
        let mut longer = cert;
        longer.certificate.expiry = 9_999;
        assert_eq!(
            reason(longer.check(&domain, p, f, 0)),
            "front.bad_signature"
        );
        // The front cannot certify itself for the payee.
        let forged = SignedFrontCertificate {
            certificate: cert.certificate,
            signature: cert.certificate.sign(&domain, &front),
        };
        assert_eq!(
            reason(forged.check(&domain, p, f, 0)),
            "front.bad_signature"
        );
    }
}

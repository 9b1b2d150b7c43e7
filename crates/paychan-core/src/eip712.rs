//! The protocol's typed structs and their EIP-712 hashes.
//!
//! The encoding follows EIP-712 exactly for the four structs of `docs/PROTOCOL.md` (field order is
//! normative), so the embedded ledger and the Solidity contract accept the same signatures.
//! It is written out by hand rather than through a generic encoder because every payment
//! hashes a voucher twice (sign, verify): the type hashes and the domain separator are
//! computed once, and a struct hash is one keccak over a fixed 192-byte buffer, with no
//! allocation. `tests/it/eip712.rs` checks every hash against alloy's `sol!`/EIP-712
//! implementation and against committed vectors.

use std::sync::LazyLock;

use alloy_primitives::{Address, B256, U256, keccak256};
use serde::{Deserialize, Serialize};

use crate::{
    crypto::{Signature, SignatureError, SigningKey},
    types::{Amount, ChannelId, Role, sum},
};

/// `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`.
pub const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/// The EIP-712 type of [`ChannelParams`].
pub const CHANNEL_TYPE: &str =
    "Channel(address partyA,address partyB,address token,uint64 challengePeriod,bytes32 nonce)";
/// The EIP-712 type of [`Voucher`].
pub const VOUCHER_TYPE: &str =
    "Voucher(bytes32 channelId,address payer,uint256 cumulative,uint64 sequence,bytes32 memo)";
/// The EIP-712 type of [`Withdrawal`].
pub const WITHDRAWAL_TYPE: &str = "Withdrawal(bytes32 channelId,address party,uint256 totalWithdrawn,uint256 paidByA,uint256 paidByB,uint64 expiry)";
/// The EIP-712 type of [`Settlement`].
pub const SETTLEMENT_TYPE: &str = "Settlement(bytes32 channelId,uint256 paidByA,uint256 paidByB)";
/// The EIP-712 type of [`FrontCertificate`](crate::front::FrontCertificate) (off-chain only:
/// no contract checks it).
pub const FRONT_CERTIFICATE_TYPE: &str =
    "FrontCertificate(address payee,address front,uint64 expiry)";

/// The domain name every paychan ledger uses.
pub const DOMAIN_NAME: &str = "paychan";
/// The domain version.
pub const DOMAIN_VERSION: &str = "1";

static DOMAIN_TYPEHASH: LazyLock<B256> = LazyLock::new(|| keccak256(DOMAIN_TYPE));
static CHANNEL_TYPEHASH: LazyLock<B256> = LazyLock::new(|| keccak256(CHANNEL_TYPE));
static VOUCHER_TYPEHASH: LazyLock<B256> = LazyLock::new(|| keccak256(VOUCHER_TYPE));
static WITHDRAWAL_TYPEHASH: LazyLock<B256> = LazyLock::new(|| keccak256(WITHDRAWAL_TYPE));
static SETTLEMENT_TYPEHASH: LazyLock<B256> = LazyLock::new(|| keccak256(SETTLEMENT_TYPE));
static FRONT_CERTIFICATE_TYPEHASH: LazyLock<B256> =
    LazyLock::new(|| keccak256(FRONT_CERTIFICATE_TYPE));
static NAME_HASH: LazyLock<B256> = LazyLock::new(|| keccak256(DOMAIN_NAME));
static VERSION_HASH: LazyLock<B256> = LazyLock::new(|| keccak256(DOMAIN_VERSION));

/// The EIP-712 domain of one ledger: its chain id and adjudicator address.
///
/// The separator is computed once at construction; the fields are private so it cannot go
/// stale.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(from = "DomainFields", into = "DomainFields")]
pub struct Domain {
    chain_id: u64,
    verifying_contract: Address,
    separator: B256,
}

/// The serialized form of a [`Domain`] (the separator is derived).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DomainFields {
    chain_id: u64,
    verifying_contract: Address,
}

impl From<DomainFields> for Domain {
    fn from(f: DomainFields) -> Self {
        Domain::new(f.chain_id, f.verifying_contract)
    }
}

impl From<Domain> for DomainFields {
    fn from(d: Domain) -> Self {
        DomainFields {
            chain_id: d.chain_id,
            verifying_contract: d.verifying_contract,
        }
    }
}

impl Domain {
    /// The domain `("paychan", "1", chain_id, verifying_contract)`.
    pub fn new(chain_id: u64, verifying_contract: Address) -> Self {
        let mut buf = [0u8; 160];
        let mut w = Words(&mut buf);
        w.b256(&DOMAIN_TYPEHASH);
        w.b256(&NAME_HASH);
        w.b256(&VERSION_HASH);
        w.uint(U256::from(chain_id));
        w.address(verifying_contract);
        Domain {
            chain_id,
            verifying_contract,
            separator: keccak256(buf),
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The adjudicator (verifying contract) address.
    pub fn verifying_contract(&self) -> Address {
        self.verifying_contract
    }

    /// The EIP-712 domain separator.
    pub fn separator(&self) -> B256 {
        self.separator
    }

    /// The digest that is signed: `keccak256(0x1901 || separator || struct_hash)`.
    pub fn signing_hash(&self, struct_hash: &B256) -> B256 {
        let mut buf = [0u8; 66];
        buf[0] = 0x19;
        buf[1] = 0x01;
        let (_, rest) = buf.split_at_mut(2);
        let (sep, hash) = rest.split_at_mut(32);
        sep.copy_from_slice(self.separator.as_slice());
        hash.copy_from_slice(struct_hash.as_slice());
        keccak256(buf)
    }
}

/// Writes 32-byte ABI words into a fixed buffer; a too-small buffer silently truncates,
/// which the unit tests against alloy would catch.
struct Words<'a>(&'a mut [u8]);

impl Words<'_> {
    fn word(&mut self) -> &mut [u8] {
        let buf = std::mem::take(&mut self.0);
        let (word, rest) = buf.split_at_mut(32.min(buf.len()));
        self.0 = rest;
        word
    }
    fn b256(&mut self, v: &B256) {
        self.word().copy_from_slice(v.as_slice());
    }
    fn address(&mut self, a: Address) {
        let word = self.word();
        if let Some(tail) = word.get_mut(12..) {
            tail.copy_from_slice(a.as_slice());
        }
    }
    fn uint(&mut self, v: U256) {
        self.word().copy_from_slice(&v.to_be_bytes::<32>());
    }
    fn u128(&mut self, v: u128) {
        self.uint(U256::from(v));
    }
    fn u64(&mut self, v: u64) {
        self.uint(U256::from(v));
    }
}

impl Eip712 for crate::front::FrontCertificate {
    fn struct_hash(&self) -> B256 {
        let mut buf = [0u8; 128];
        let mut w = Words(&mut buf);
        w.b256(&FRONT_CERTIFICATE_TYPEHASH);
        w.address(self.payee);
        w.address(self.front);
        w.u64(self.expiry);
        keccak256(buf)
    }
}

/// Something with an EIP-712 struct hash.
pub trait Eip712 {
    /// `hashStruct(self)`.
    fn struct_hash(&self) -> B256;

    /// The digest to sign under `domain`.
    fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.signing_hash(&self.struct_hash())
    }

    /// Signs under `domain`.
    fn sign(&self, domain: &Domain, key: &SigningKey) -> Signature {
        key.sign_hash(&self.signing_hash(domain))
    }

    /// Recovers the signer under `domain`.
    fn recover(&self, domain: &Domain, sig: &Signature) -> Result<Address, SignatureError> {
        sig.recover(&self.signing_hash(domain))
    }
}

/// The fixed parameters of a channel (EIP-712 `Channel`). Its digest is the [`ChannelId`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelParams {
    /// The party that opens the channel.
    pub party_a: Address,
    /// The other party.
    pub party_b: Address,
    /// The asset: zero for the ledger's native asset, else a token address.
    pub token: Address,
    /// Seconds between the start of a unilateral close and the earliest settle.
    pub challenge_period: u64,
    /// Chosen by A so that the same parties can open many channels.
    pub nonce: B256,
}

impl Eip712 for ChannelParams {
    fn struct_hash(&self) -> B256 {
        let mut buf = [0u8; 192];
        let mut w = Words(&mut buf);
        w.b256(&CHANNEL_TYPEHASH);
        w.address(self.party_a);
        w.address(self.party_b);
        w.address(self.token);
        w.u64(self.challenge_period);
        w.b256(&self.nonce);
        keccak256(buf)
    }
}

impl ChannelParams {
    /// The channel id on the ledger of `domain`.
    pub fn id(&self, domain: &Domain) -> ChannelId {
        ChannelId(self.signing_hash(domain))
    }

    /// The address of `role`.
    pub fn party(&self, role: Role) -> Address {
        match role {
            Role::A => self.party_a,
            Role::B => self.party_b,
        }
    }

    /// The role of `address` in this channel, if it is a party.
    pub fn role_of(&self, address: Address) -> Option<Role> {
        if address == self.party_a {
            Some(Role::A)
        } else if address == self.party_b {
            Some(Role::B)
        } else {
            None
        }
    }
}

/// A payment: the payer's promise that it has paid `cumulative` in total (EIP-712 `Voucher`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Voucher {
    /// The channel.
    pub channel_id: ChannelId,
    /// Who pays (and signs).
    pub payer: Address,
    /// Everything the payer has ever paid the peer in this channel.
    pub cumulative: Amount,
    /// Increases by one per voucher of this payer.
    pub sequence: u64,
    /// keccak256 of the message the payment is for, zero if none.
    pub memo: B256,
}

impl Eip712 for Voucher {
    fn struct_hash(&self) -> B256 {
        let mut buf = [0u8; 192];
        let mut w = Words(&mut buf);
        w.b256(&VOUCHER_TYPEHASH);
        w.b256(&self.channel_id.0);
        w.address(self.payer);
        w.u128(self.cumulative);
        w.u64(self.sequence);
        w.b256(&self.memo);
        keccak256(buf)
    }
}

/// A voucher with the payer's signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedVoucher {
    /// The voucher.
    pub voucher: Voucher,
    /// The payer's signature over it.
    pub signature: Signature,
}

impl SignedVoucher {
    /// Whether the signature recovers to the voucher's payer under `domain`.
    pub fn is_signed_by_payer(&self, domain: &Domain) -> bool {
        self.voucher
            .recover(domain, &self.signature)
            .is_ok_and(|a| a == self.voucher.payer)
    }
}

/// The memo of a message: keccak256 of its bytes, or zero for an empty message.
pub fn memo_of(message: &[u8]) -> B256 {
    if message.is_empty() {
        B256::ZERO
    } else {
        keccak256(message)
    }
}

/// A withdrawal certificate while the channel stays open (EIP-712 `Withdrawal`), valid with
/// both parties' signatures until `expiry`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    /// The channel.
    pub channel_id: ChannelId,
    /// Who withdraws.
    pub party: Address,
    /// The party's new cumulative total withdrawn.
    pub total_withdrawn: Amount,
    /// A's paid counter at that moment: becomes a floor on the ledger.
    pub paid_by_a: Amount,
    /// B's paid counter at that moment: becomes a floor on the ledger.
    pub paid_by_b: Amount,
    /// Ledger time (seconds) from which the certificate is no longer accepted.
    pub expiry: u64,
}

impl Eip712 for Withdrawal {
    fn struct_hash(&self) -> B256 {
        let mut buf = [0u8; 224];
        let mut w = Words(&mut buf);
        w.b256(&WITHDRAWAL_TYPEHASH);
        w.b256(&self.channel_id.0);
        w.address(self.party);
        w.u128(self.total_withdrawn);
        w.u128(self.paid_by_a);
        w.u128(self.paid_by_b);
        w.u64(self.expiry);
        keccak256(buf)
    }
}

/// A cooperative settlement (EIP-712 `Settlement`): with both signatures the ledger pays out
/// at once.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settlement {
    /// The channel.
    pub channel_id: ChannelId,
    /// Everything A paid B.
    pub paid_by_a: Amount,
    /// Everything B paid A.
    pub paid_by_b: Amount,
}

impl Eip712 for Settlement {
    fn struct_hash(&self) -> B256 {
        let mut buf = [0u8; 128];
        let mut w = Words(&mut buf);
        w.b256(&SETTLEMENT_TYPEHASH);
        w.b256(&self.channel_id.0);
        w.u128(self.paid_by_a);
        w.u128(self.paid_by_b);
        keccak256(buf)
    }
}

/// What each party gets at settlement (`docs/PROTOCOL.md`, section 4):
/// `total = depA + depB - wA - wB`; `payoutA = clamp(depA - wA - paidByA + paidByB, 0, total)`;
/// `payoutB = total - payoutA`. Computed in 256 bits, so no input can overflow it; returns
/// `None` if withdrawals exceed deposits (a ledger never lets that happen).
pub fn settlement_payouts(
    deposited: crate::Pair<Amount>,
    withdrawn: crate::Pair<Amount>,
    paid: crate::Pair<Amount>,
) -> Option<crate::Pair<Amount>> {
    let total = sum(deposited.a, deposited.b).checked_sub(sum(withdrawn.a, withdrawn.b))?;
    let plus = sum(deposited.a, paid.b);
    let minus = sum(withdrawn.a, paid.a);
    let payout_a = plus.saturating_sub(minus).min(total);
    let payout_b = total.checked_sub(payout_a)?;
    Some(crate::Pair::new(
        payout_a.try_into().ok()?,
        payout_b.try_into().ok()?,
    ))
}

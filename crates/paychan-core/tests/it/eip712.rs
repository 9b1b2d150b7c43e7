//! EIP-712 conformance of paychan-core, checked through committed vectors
//! (`tests/vectors/eip712.json`) and against two independent implementations:
//! alloy-sol-types (`sol!` structs, `eip712_domain!`) for the hashes, and the pure-Rust `k256`
//! for keys and signatures (paychan-core signs with libsecp256k1; both use RFC 6979 with
//! low-s normalization, so their signatures are byte-identical).
//!
//! The vectors come from the independent implementations, never from paychan-core: run
//! `PAYCHAN_REGENERATE_VECTORS=1 cargo test -p paychan-core --test it eip712` to rewrite the
//! file from the inputs in [`generator_inputs`] (the check below then runs on the new file).

use std::{collections::BTreeMap, fmt::Display, path::PathBuf, str::FromStr, sync::OnceLock};

use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain};
use paychan_core::{
    ChannelId, ChannelParams, Domain, Settlement, Signature, SignedVoucher, SigningKey, Voucher,
    Withdrawal,
    eip712::{
        CHANNEL_TYPE, DOMAIN_NAME, DOMAIN_TYPE, DOMAIN_VERSION, Eip712, SETTLEMENT_TYPE,
        VOUCHER_TYPE, WITHDRAWAL_TYPE,
    },
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The independent definitions: the same names, field names, types and order as the type
/// strings of `src/eip712.rs` (and of the Solidity contract).
mod sol {
    alloy_sol_types::sol! {
        struct Channel {
            address partyA;
            address partyB;
            address token;
            uint64 challengePeriod;
            bytes32 nonce;
        }

        struct Voucher {
            bytes32 channelId;
            address payer;
            uint256 cumulative;
            uint64 sequence;
            bytes32 memo;
        }

        struct Withdrawal {
            bytes32 channelId;
            address party;
            uint256 totalWithdrawn;
            uint256 paidByA;
            uint256 paidByB;
            uint64 expiry;
        }

        struct Settlement {
            bytes32 channelId;
            uint256 paidByA;
            uint256 paidByB;
        }
    }
}

const REGENERATE_VAR: &str = "PAYCHAN_REGENERATE_VECTORS";

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/eip712.json")
}

// ---------------------------------------------------------------------------------------------
// The file format.
// ---------------------------------------------------------------------------------------------

/// Integers as decimal strings (u64 and u128 do not survive JSON numbers everywhere).
mod dec {
    use super::*;

    pub(super) fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Addresses in EIP-55 checksummed form; a wrong checksum is refused.
mod checksummed {
    use super::*;

    pub(super) fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&a.to_checksum(None))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse_checksummed(&s, None).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VectorFile {
    description: String,
    domain_name: String,
    domain_version: String,
    /// EIP-712 `encodeType` of each struct, domain included, as alloy computes it.
    types: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Case {
    name: String,
    domain: DomainJson,
    message: Fields,
    struct_hash: B256,
    signing_hash: B256,
    /// Only for `Channel`: the channel id, which is the signing hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel_id: Option<B256>,
    secret_key: B256,
    #[serde(with = "checksummed")]
    signer: Address,
    /// 65 bytes `r || s || v`, `v` in {27, 28}.
    signature: FixedBytes<65>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DomainJson {
    chain_id: u64,
    #[serde(with = "checksummed")]
    verifying_contract: Address,
    separator: B256,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "fields")]
enum Fields {
    Channel(ChannelJson),
    Voucher(VoucherJson),
    Withdrawal(WithdrawalJson),
    Settlement(SettlementJson),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChannelJson {
    #[serde(with = "checksummed")]
    party_a: Address,
    #[serde(with = "checksummed")]
    party_b: Address,
    #[serde(with = "checksummed")]
    token: Address,
    #[serde(with = "dec")]
    challenge_period: u64,
    nonce: B256,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VoucherJson {
    channel_id: B256,
    #[serde(with = "checksummed")]
    payer: Address,
    #[serde(with = "dec")]
    cumulative: u128,
    #[serde(with = "dec")]
    sequence: u64,
    memo: B256,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WithdrawalJson {
    channel_id: B256,
    #[serde(with = "checksummed")]
    party: Address,
    #[serde(with = "dec")]
    total_withdrawn: u128,
    #[serde(with = "dec")]
    paid_by_a: u128,
    #[serde(with = "dec")]
    paid_by_b: u128,
    #[serde(with = "dec")]
    expiry: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettlementJson {
    channel_id: B256,
    #[serde(with = "dec")]
    paid_by_a: u128,
    #[serde(with = "dec")]
    paid_by_b: u128,
}

impl Fields {
    fn type_name(&self) -> &'static str {
        match self {
            Fields::Channel(_) => "Channel",
            Fields::Voucher(_) => "Voucher",
            Fields::Withdrawal(_) => "Withdrawal",
            Fields::Settlement(_) => "Settlement",
        }
    }

    /// The paychan-core value.
    fn to_core(&self) -> Box<dyn Eip712> {
        match self {
            Fields::Channel(c) => Box::new(ChannelParams {
                party_a: c.party_a,
                party_b: c.party_b,
                token: c.token,
                challenge_period: c.challenge_period,
                nonce: c.nonce,
            }),
            Fields::Voucher(v) => Box::new(Voucher {
                channel_id: ChannelId(v.channel_id),
                payer: v.payer,
                cumulative: v.cumulative,
                sequence: v.sequence,
                memo: v.memo,
            }),
            Fields::Withdrawal(w) => Box::new(Withdrawal {
                channel_id: ChannelId(w.channel_id),
                party: w.party,
                total_withdrawn: w.total_withdrawn,
                paid_by_a: w.paid_by_a,
                paid_by_b: w.paid_by_b,
                expiry: w.expiry,
            }),
            Fields::Settlement(s) => Box::new(Settlement {
                channel_id: ChannelId(s.channel_id),
                paid_by_a: s.paid_by_a,
                paid_by_b: s.paid_by_b,
            }),
        }
    }

    /// `(hashStruct, signing hash)` computed by alloy.
    fn alloy_hashes(&self, domain: &Eip712Domain) -> (B256, B256) {
        fn both<T: SolStruct>(value: &T, domain: &Eip712Domain) -> (B256, B256) {
            (
                value.eip712_hash_struct(),
                value.eip712_signing_hash(domain),
            )
        }
        match self {
            Fields::Channel(c) => both(
                &sol::Channel {
                    partyA: c.party_a,
                    partyB: c.party_b,
                    token: c.token,
                    challengePeriod: c.challenge_period,
                    nonce: c.nonce,
                },
                domain,
            ),
            Fields::Voucher(v) => both(
                &sol::Voucher {
                    channelId: v.channel_id,
                    payer: v.payer,
                    cumulative: U256::from(v.cumulative),
                    sequence: v.sequence,
                    memo: v.memo,
                },
                domain,
            ),
            Fields::Withdrawal(w) => both(
                &sol::Withdrawal {
                    channelId: w.channel_id,
                    party: w.party,
                    totalWithdrawn: U256::from(w.total_withdrawn),
                    paidByA: U256::from(w.paid_by_a),
                    paidByB: U256::from(w.paid_by_b),
                    expiry: w.expiry,
                },
                domain,
            ),
            Fields::Settlement(s) => both(
                &sol::Settlement {
                    channelId: s.channel_id,
                    paidByA: U256::from(s.paid_by_a),
                    paidByB: U256::from(s.paid_by_b),
                },
                domain,
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The independent implementations.
// ---------------------------------------------------------------------------------------------

fn alloy_domain(chain_id: u64, verifying_contract: Address) -> Eip712Domain {
    eip712_domain! {
        name: "paychan",
        version: "1",
        chain_id: chain_id,
        verifying_contract: verifying_contract,
    }
}

/// The address of a secret key, by k256.
fn k256_address(secret: &B256) -> Address {
    let key = k256::ecdsa::SigningKey::from_slice(secret.as_slice()).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    let uncompressed = point.as_bytes();
    assert_eq!(uncompressed.len(), 65);
    assert_eq!(uncompressed[0], 4);
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

/// The Ethereum signature of a digest, by k256 (RFC 6979, low s).
fn k256_sign(secret: &B256, digest: &B256) -> FixedBytes<65> {
    let key = k256::ecdsa::SigningKey::from_slice(secret.as_slice()).unwrap();
    let (sig, recid) = key.sign_prehash_recoverable(digest.as_slice());
    let recid = recid.to_byte();
    assert!(recid < 2, "x-reduced recovery id {recid}: pick another key");
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(sig.to_bytes().as_slice());
    out[64] = 27 + recid;
    FixedBytes(out)
}

// ---------------------------------------------------------------------------------------------
// The generator (only run with PAYCHAN_REGENERATE_VECTORS=1).
// ---------------------------------------------------------------------------------------------

fn b256(s: &str) -> B256 {
    s.parse().unwrap()
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

const CHAIN_MAINNET: u64 = 1;
const CHAIN_DEVNET: u64 = 31_337;

fn contract_mainnet() -> Address {
    addr("0xcf67fb4709c7d4f455050733cdd20af7260cfd3c")
}

fn contract_devnet() -> Address {
    // The first contract a fresh anvil/hardhat devnet deploys.
    addr("0x5FbDB2315678afecb367f032d93F642f64180aa3")
}

/// `(name, chain id, verifying contract, fields, secret key)` of every case.
fn generator_inputs() -> Vec<(&'static str, u64, Address, Fields, B256)> {
    let key1 = b256("0xcca0d891a7f47a34b03492a0fb23efd7388e98b3b3f38c2f41f2a4d8b8eb76e9");
    let key2 = b256("0xd357ecb37e90233781e3a09fe71c5604997bcb98c446f2b06b1716da853f7124");
    let key_one = B256::with_last_byte(1);
    // n - 1, the largest valid secret key.
    let key_max = b256("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140");
    let key5 = b256("0x4a2957a1706cc57134b4ff0052ca2fcd7a360c529a5c4d4b8ccdca36f318e7b0");

    let mainnet = alloy_domain(CHAIN_MAINNET, contract_mainnet());
    let devnet = alloy_domain(CHAIN_DEVNET, contract_devnet());

    let channel_mainnet = ChannelJson {
        party_a: k256_address(&key1),
        party_b: addr("0xce93a347a359f43d2fa68661b56170f858ba3e3e"),
        token: Address::ZERO,
        challenge_period: 86_400,
        nonce: b256("0x1d69457c2dc78b06793187fa4eee1e43a13c0e24174da83f9c922bc2710f68a8"),
    };
    let channel_devnet = ChannelJson {
        party_a: k256_address(&key2),
        party_b: addr("0x963153c8f34ff3c2b19cc63d46b87ed22e3e1f3f"),
        token: addr("0x55da1f3ae9e5cab276f46af2fd05b7c6ffedc460"),
        challenge_period: u64::MAX,
        nonce: B256::repeat_byte(0xff),
    };
    // The ids of those two channels, by alloy.
    let id_mainnet = Fields::Channel(channel_mainnet.clone())
        .alloy_hashes(&mainnet)
        .1;
    let id_devnet = Fields::Channel(channel_devnet.clone())
        .alloy_hashes(&devnet)
        .1;

    vec![
        (
            "channel: native asset, one-day challenge, mainnet",
            CHAIN_MAINNET,
            contract_mainnet(),
            Fields::Channel(channel_mainnet),
            key1,
        ),
        (
            "channel: token, max challenge period, all-ones nonce, devnet",
            CHAIN_DEVNET,
            contract_devnet(),
            Fields::Channel(channel_devnet),
            key2,
        ),
        (
            "channel: all zero, signed by key 1",
            CHAIN_MAINNET,
            contract_mainnet(),
            Fields::Channel(ChannelJson {
                party_a: Address::ZERO,
                party_b: Address::ZERO,
                token: Address::ZERO,
                challenge_period: 0,
                nonce: B256::ZERO,
            }),
            key_one,
        ),
        (
            "voucher: zero amount, sequence 0, no memo, mainnet",
            CHAIN_MAINNET,
            contract_mainnet(),
            Fields::Voucher(VoucherJson {
                channel_id: id_mainnet,
                payer: k256_address(&key1),
                cumulative: 0,
                sequence: 0,
                memo: B256::ZERO,
            }),
            key1,
        ),
        (
            "voucher: max u128 amount, max u64 sequence, devnet",
            CHAIN_DEVNET,
            contract_devnet(),
            Fields::Voucher(VoucherJson {
                channel_id: id_devnet,
                payer: k256_address(&key2),
                cumulative: u128::MAX,
                sequence: u64::MAX,
                memo: b256("0x5264e9b7ae60302dee8c002dba5130595511bd29e366ddcc0620744b45e9822a"),
            }),
            key2,
        ),
        (
            "voucher: 1e18 after 42 payments, memo of a JSON body, devnet",
            CHAIN_DEVNET,
            contract_devnet(),
            Fields::Voucher(VoucherJson {
                channel_id: b256(
                    "0x0e32f046d9169ece6bc337ae3ac65ea2e07eac561e322cfc10e119f34293a2b5",
                ),
                payer: k256_address(&key5),
                cumulative: 1_000_000_000_000_000_000,
                sequence: 42,
                memo: keccak256(br#"{"method":"echo","params":["hello"]}"#),
            }),
            key5,
        ),
        (
            "withdrawal: partial, mainnet",
            CHAIN_MAINNET,
            contract_mainnet(),
            Fields::Withdrawal(WithdrawalJson {
                channel_id: id_mainnet,
                party: k256_address(&key1),
                total_withdrawn: 500_000_000_000_000_000,
                paid_by_a: 123_456_789,
                paid_by_b: 0,
                expiry: 1_767_225_600,
            }),
            key1,
        ),
        (
            "withdrawal: all max values, signed by key n-1, devnet",
            CHAIN_DEVNET,
            contract_devnet(),
            Fields::Withdrawal(WithdrawalJson {
                channel_id: b256(
                    "0xe9454e44daa2a6c0d8f02176d44efc82a1cbd810c7e176bee493d04e2c3af35d",
                ),
                party: k256_address(&key_max),
                total_withdrawn: u128::MAX,
                paid_by_a: u128::MAX,
                paid_by_b: u128::MAX,
                expiry: u64::MAX,
            }),
            key_max,
        ),
        (
            "settlement: all zero, signed by key 1, mainnet",
            CHAIN_MAINNET,
            contract_mainnet(),
            Fields::Settlement(SettlementJson {
                channel_id: B256::ZERO,
                paid_by_a: 0,
                paid_by_b: 0,
            }),
            key_one,
        ),
        (
            "settlement: max u128 and 1, devnet",
            CHAIN_DEVNET,
            contract_devnet(),
            Fields::Settlement(SettlementJson {
                channel_id: id_devnet,
                paid_by_a: u128::MAX,
                paid_by_b: 1,
            }),
            key2,
        ),
    ]
}

fn alloy_types() -> BTreeMap<String, String> {
    let domain = alloy_domain(CHAIN_MAINNET, contract_mainnet());
    [
        ("EIP712Domain", domain.encode_type()),
        ("Channel", sol::Channel::eip712_encode_type().into_owned()),
        ("Voucher", sol::Voucher::eip712_encode_type().into_owned()),
        (
            "Withdrawal",
            sol::Withdrawal::eip712_encode_type().into_owned(),
        ),
        (
            "Settlement",
            sol::Settlement::eip712_encode_type().into_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The vectors, computed by alloy (hashes) and k256 (keys, signatures) only.
fn generate() -> VectorFile {
    let cases = generator_inputs()
        .into_iter()
        .map(
            |(name, chain_id, verifying_contract, message, secret_key)| {
                let domain = alloy_domain(chain_id, verifying_contract);
                let (struct_hash, signing_hash) = message.alloy_hashes(&domain);
                let channel_id = matches!(message, Fields::Channel(_)).then_some(signing_hash);
                Case {
                    name: name.to_owned(),
                    domain: DomainJson {
                        chain_id,
                        verifying_contract,
                        separator: domain.separator(),
                    },
                    message,
                    struct_hash,
                    signing_hash,
                    channel_id,
                    secret_key,
                    signer: k256_address(&secret_key),
                    signature: k256_sign(&secret_key, &signing_hash),
                }
            },
        )
        .collect();
    VectorFile {
        description: format!(
            "EIP-712 vectors of the paychan structs. Hashes by alloy-sol-types, keys and \
             RFC 6979 signatures (r || s || v, v in {{27, 28}}) by k256; integers are decimal \
             strings. Regenerate with {REGENERATE_VAR}=1 cargo test -p paychan-core --test it \
             eip712."
        ),
        domain_name: "paychan".to_owned(),
        domain_version: "1".to_owned(),
        types: alloy_types(),
        cases,
    }
}

/// The vectors file, read once per test run (and first rewritten if asked).
fn load() -> &'static VectorFile {
    static FILE: OnceLock<VectorFile> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = vectors_path();
        if std::env::var_os(REGENERATE_VAR).is_some_and(|v| v == "1") {
            let mut json = serde_json::to_string_pretty(&generate()).unwrap();
            json.push('\n');
            std::fs::write(&path, json).unwrap();
            eprintln!("wrote {}", path.display());
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with {REGENERATE_VAR}=1)",
                path.display()
            )
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn type_strings_match_alloy() {
    assert_eq!(sol::Channel::eip712_encode_type(), CHANNEL_TYPE);
    assert_eq!(sol::Voucher::eip712_encode_type(), VOUCHER_TYPE);
    assert_eq!(sol::Withdrawal::eip712_encode_type(), WITHDRAWAL_TYPE);
    assert_eq!(sol::Settlement::eip712_encode_type(), SETTLEMENT_TYPE);
    let domain = alloy_domain(CHAIN_MAINNET, contract_mainnet());
    assert_eq!(domain.encode_type(), DOMAIN_TYPE);
    assert_eq!(domain.name.as_deref(), Some(DOMAIN_NAME));
    assert_eq!(domain.version.as_deref(), Some(DOMAIN_VERSION));
}

#[test]
fn vectors_file_is_complete() {
    let file = load();
    assert_eq!(file.domain_name, DOMAIN_NAME);
    assert_eq!(file.domain_version, DOMAIN_VERSION);
    assert_eq!(file.types, alloy_types());
    assert_eq!(file.types["Channel"], CHANNEL_TYPE);
    assert_eq!(file.types["Voucher"], VOUCHER_TYPE);
    assert_eq!(file.types["Withdrawal"], WITHDRAWAL_TYPE);
    assert_eq!(file.types["Settlement"], SETTLEMENT_TYPE);
    assert_eq!(file.types["EIP712Domain"], DOMAIN_TYPE);

    assert!(file.cases.len() >= 8, "only {} cases", file.cases.len());
    for kind in ["Channel", "Voucher", "Withdrawal", "Settlement"] {
        let n = file
            .cases
            .iter()
            .filter(|c| c.message.type_name() == kind)
            .count();
        assert!(n >= 2, "{kind}: {n} cases");
    }
    let mut domains: Vec<(u64, Address)> = file
        .cases
        .iter()
        .map(|c| (c.domain.chain_id, c.domain.verifying_contract))
        .collect();
    domains.sort();
    domains.dedup();
    assert!(domains.len() >= 2, "one domain only: {domains:?}");
    let mut names: Vec<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), file.cases.len(), "duplicate case names");
}

#[test]
fn vectors_match_paychan_core() {
    for case in &load().cases {
        let name = &case.name;
        let domain = Domain::new(case.domain.chain_id, case.domain.verifying_contract);
        assert_eq!(
            domain.separator(),
            case.domain.separator,
            "{name}: separator"
        );

        let value = case.message.to_core();
        assert_eq!(value.struct_hash(), case.struct_hash, "{name}: structHash");
        assert_eq!(
            value.signing_hash(&domain),
            case.signing_hash,
            "{name}: signingHash"
        );
        assert_eq!(
            domain.signing_hash(&case.struct_hash),
            case.signing_hash,
            "{name}"
        );

        match &case.message {
            Fields::Channel(c) => {
                let params = ChannelParams {
                    party_a: c.party_a,
                    party_b: c.party_b,
                    token: c.token,
                    challenge_period: c.challenge_period,
                    nonce: c.nonce,
                };
                let expected = case
                    .channel_id
                    .unwrap_or_else(|| panic!("{name}: no channelId"));
                assert_eq!(
                    expected, case.signing_hash,
                    "{name}: channelId != signingHash"
                );
                assert_eq!(
                    params.id(&domain),
                    ChannelId(expected),
                    "{name}: channel id"
                );
            }
            _ => assert_eq!(case.channel_id, None, "{name}: channelId on a non-channel"),
        }

        let key = SigningKey::from_bytes(case.secret_key.0).unwrap();
        assert_eq!(key.address(), case.signer, "{name}: address of the key");
        assert_eq!(key.to_bytes(), case.secret_key.0, "{name}");

        let sig = value.sign(&domain, &key);
        assert_eq!(sig, Signature(case.signature), "{name}: signature");
        assert!(matches!(case.signature[64], 27 | 28), "{name}: v");
        assert_eq!(
            value.recover(&domain, &sig),
            Ok(case.signer),
            "{name}: recover"
        );
        assert!(
            sig.verify(&case.signing_hash, case.signer),
            "{name}: verify"
        );

        if let Fields::Voucher(v) = &case.message {
            let signed = SignedVoucher {
                voucher: Voucher {
                    channel_id: ChannelId(v.channel_id),
                    payer: v.payer,
                    cumulative: v.cumulative,
                    sequence: v.sequence,
                    memo: v.memo,
                },
                signature: sig,
            };
            assert_eq!(
                signed.is_signed_by_payer(&domain),
                v.payer == case.signer,
                "{name}: is_signed_by_payer"
            );
        }
    }
}

#[test]
fn vectors_match_alloy_and_k256() {
    for case in &load().cases {
        let name = &case.name;
        let domain = alloy_domain(case.domain.chain_id, case.domain.verifying_contract);
        assert_eq!(
            domain.separator(),
            case.domain.separator,
            "{name}: separator"
        );
        let (struct_hash, signing_hash) = case.message.alloy_hashes(&domain);
        assert_eq!(struct_hash, case.struct_hash, "{name}: structHash");
        assert_eq!(signing_hash, case.signing_hash, "{name}: signingHash");
        assert_eq!(
            k256_address(&case.secret_key),
            case.signer,
            "{name}: address"
        );
        assert_eq!(
            k256_sign(&case.secret_key, &case.signing_hash),
            case.signature,
            "{name}: signature"
        );
    }
}

#[test]
fn signature_does_not_replay_across_domains() {
    let file = load();
    let mut domains: Vec<Domain> = file
        .cases
        .iter()
        .map(|c| Domain::new(c.domain.chain_id, c.domain.verifying_contract))
        .collect();
    domains.sort_by_key(|d| (d.chain_id(), d.verifying_contract()));
    domains.dedup();
    // Same contract address on another chain, and another contract on the same chain.
    domains.push(Domain::new(CHAIN_DEVNET, contract_mainnet()));
    domains.push(Domain::new(CHAIN_MAINNET, contract_devnet()));

    for case in &file.cases {
        let own = Domain::new(case.domain.chain_id, case.domain.verifying_contract);
        let value = case.message.to_core();
        let sig = Signature(case.signature);
        assert_eq!(value.recover(&own, &sig), Ok(case.signer), "{}", case.name);
        for other in domains.iter().filter(|d| **d != own) {
            assert_ne!(own.separator(), other.separator());
            assert_ne!(
                value.signing_hash(other),
                case.signing_hash,
                "{}: same digest under {other:?}",
                case.name
            );
            let recovered = value.recover(other, &sig);
            assert_ne!(
                recovered,
                Ok(case.signer),
                "{}: signature for chain {} replays under {other:?}",
                case.name,
                own.chain_id()
            );
        }
    }

    // A signed voucher for a channel on one ledger, presented to the other.
    let key = SigningKey::from_entropy(&[42; 32]).unwrap();
    let mainnet = Domain::new(CHAIN_MAINNET, contract_mainnet());
    let devnet = Domain::new(CHAIN_DEVNET, contract_devnet());
    let params = ChannelParams {
        party_a: key.address(),
        party_b: addr("0xce93a347a359f43d2fa68661b56170f858ba3e3e"),
        token: Address::ZERO,
        challenge_period: 3_600,
        nonce: B256::with_last_byte(7),
    };
    assert_ne!(params.id(&mainnet), params.id(&devnet));
    let voucher = Voucher {
        channel_id: params.id(&mainnet),
        payer: key.address(),
        cumulative: 1_000,
        sequence: 1,
        memo: B256::ZERO,
    };
    let signed = SignedVoucher {
        voucher,
        signature: voucher.sign(&mainnet, &key),
    };
    assert!(signed.is_signed_by_payer(&mainnet));
    assert!(!signed.is_signed_by_payer(&devnet));
    assert_ne!(
        voucher.recover(&devnet, &signed.signature),
        Ok(key.address())
    );
}

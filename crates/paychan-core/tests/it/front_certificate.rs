//! Front certificates hash as Solidity's EIP-712 does (alloy's `sol!` implementation, not
//! paychan-core's), so any EIP-712 wallet or contract can sign and check them.

use alloy_primitives::Address;
use alloy_sol_types::{SolStruct, eip712_domain};
use paychan_core::{
    Domain, SigningKey,
    eip712::Eip712,
    front::{FrontCertificate, SignedFrontCertificate},
};

mod sol {
    alloy_sol_types::sol! {
        struct FrontCertificate {
            address payee;
            address front;
            uint64 expiry;
        }
    }
}

#[test]
fn front_certificates_hash_and_sign_as_eip712_does() {
    let verifying_contract = Address::repeat_byte(0xad);
    for (chain_id, payee, front, expiry) in [
        (
            1_u64,
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            0_u64,
        ),
        (1337, Address::repeat_byte(0xfe), Address::ZERO, u64::MAX),
        (
            31337,
            Address::repeat_byte(7),
            Address::repeat_byte(7),
            1_796_316_385,
        ),
    ] {
        let ours = FrontCertificate {
            payee,
            front,
            expiry,
        };
        let theirs = sol::FrontCertificate {
            payee,
            front,
            expiry,
        };
        let domain = Domain::new(chain_id, verifying_contract);
        let sol_domain = eip712_domain! {
            name: "paychan",
            version: "1",
            chain_id: chain_id,
            verifying_contract: verifying_contract,
        };
        assert_eq!(ours.struct_hash(), theirs.eip712_hash_struct());
        assert_eq!(
            ours.signing_hash(&domain),
            theirs.eip712_signing_hash(&sol_domain)
        );
    }
    // A signature made through the helper recovers to the payee.
    let domain = Domain::new(1337, verifying_contract);
    let payee = SigningKey::from_entropy(&[5; 32]).expect("a key");
    let signed = SignedFrontCertificate::sign(&payee, Address::repeat_byte(9), 100, &domain);
    assert_eq!(
        signed.certificate.recover(&domain, &signed.signature),
        Ok(payee.address())
    );
}

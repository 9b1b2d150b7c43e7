//! The HTTP payment headers a stranger sends or answers: the `402` challenge
//! (`WWW-Authenticate: Paychan …` and its JSON body), the `Authorization: Paychan <package>`
//! credentials, the `Payment-Receipt` and the `Payment-Stream` terms.
//!
//! Properties: whatever parses is written back as a valid header value that parses to the
//! same value (the writer quotes and escapes what the parser unescapes); a receipt's digest
//! survives the trip, so its signature does; the credentials of `authorization(p)` are `p`;
//! the client's receipt reader agrees with the parser.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use paychan_http::{
    Challenge, PaymentError, Receipt, StreamTerms,
    client::read_receipt,
    header::{RECEIPT_HEADER, authorization, credentials},
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(text) {
        let header = written(&challenge.to_header());
        assert_eq!(
            Challenge::parse(&header).as_ref(),
            Ok(&challenge),
            "{text:?}"
        );
    }
    match Receipt::parse(text) {
        Ok(receipt) => {
            let header = written(&receipt.to_header());
            let again = Receipt::parse(&header).unwrap_or_else(|e| panic!("{header:?}: {e}"));
            assert_eq!(again, receipt, "{text:?}");
            assert_eq!(again.digest(), receipt.digest());
            let mut headers = HeaderMap::new();
            headers.insert(
                RECEIPT_HEADER,
                HeaderValue::from_str(&header).expect("valid"),
            );
            assert_eq!(read_receipt(&headers), Ok(Some(receipt)));
        }
        Err(_) => {
            if let Ok(value) = HeaderValue::from_str(text) {
                let mut headers = HeaderMap::new();
                headers.insert(RECEIPT_HEADER, value);
                assert!(read_receipt(&headers).is_err(), "{text:?}");
            }
        }
    }
    if let Ok(terms) = StreamTerms::parse(text) {
        let header = written(&terms.to_header());
        assert_eq!(StreamTerms::parse(&header).as_ref(), Ok(&terms), "{text:?}");
        assert!(terms.interval_ms > 0 && terms.pay.starts_with('/'));
    }
    if let Some(presented) = credentials(text) {
        assert_eq!(
            credentials(&authorization(presented)),
            Some(presented),
            "{text:?}"
        );
    }
    if let Ok(body) = serde_json::from_str::<PaymentError>(text) {
        let json = serde_json::to_string(&body).expect("a body serializes");
        let again: PaymentError = serde_json::from_str(&json).expect("its own JSON parses");
        assert_eq!(again, body);
        let header = written(&body.challenge.to_header());
        if visible(&header) {
            assert_eq!(Challenge::parse(&header).as_ref(), Ok(&body.challenge));
        } else {
            assert!(Challenge::parse(&header).is_err(), "{header:?}");
        }
    }
});

/// The header a writer produced, checked to be a valid header value when its fields are
/// visible ASCII (a parsed challenge's fields always are, a JSON body's may not be).
fn written(header: &str) -> String {
    if visible(header) {
        assert!(HeaderValue::from_str(header).is_ok(), "{header:?}");
    }
    header.to_owned()
}

/// Whether a header holds only what a header value may: visible ASCII, spaces and tabs.
fn visible(header: &str) -> bool {
    header
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

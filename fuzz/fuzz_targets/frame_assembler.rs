//! Frame reassembly as a stranger's connection feeds it: arbitrary bytes are cut into
//! messages by the TCP carrier's de-framing (2-byte length prefix), and each message goes to
//! the frame assembler as if it had just been decrypted.
//!
//! Properties: every frame returned is at most `MAX_FRAME_LEN` bytes and is exactly the data
//! its messages carried (a reference model); the writer's messages for it reassemble to the
//! same frame (writer and reader agree); a half-received frame's buffer never holds more than
//! twice the bytes that arrived (a header announcing 1 MiB reserves nothing); a keep-alive is
//! exactly the writer's keep-alive; the de-framing never returns a message above its limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_core::wire::MAX_FRAME_LEN;
use paychan_net::fuzzing::{
    Assembled, Assembler, MAX_NOISE_MSG, frame_messages, keepalive_message, take_message,
};

/// The frame header's length: kind and length.
const HEADER_LEN: usize = 5;

fuzz_target!(|data: &[u8]| {
    let mut stream = data.to_vec();
    let mut message = Vec::new();
    let mut assembler = Assembler::default();
    // The data of the frame being received, as the model sees it.
    let mut model = Vec::new();
    loop {
        match take_message(&mut stream, &mut message, MAX_NOISE_MSG) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => panic!("no 2-byte length exceeds one Noise message: {e}"),
        }
        assert!(message.len() <= MAX_NOISE_MSG);
        let continuing = assembler.in_frame();
        match assembler.push(&message) {
            Ok(Assembled::Frame(frame)) => {
                model.extend_from_slice(tail(&message, continuing));
                assert_eq!(
                    frame, model,
                    "the frame is not the data its messages carried"
                );
                assert!(frame.len() <= MAX_FRAME_LEN);
                model.clear();
                rewritten(&frame);
            }
            Ok(Assembled::Partial) => {
                model.extend_from_slice(tail(&message, continuing));
                let (held, capacity) = assembler.buffered();
                assert_eq!(held, model.len());
                assert!(
                    capacity <= (2 * held).max(8),
                    "{capacity} bytes reserved for {held} received"
                );
            }
            Ok(Assembled::KeepAlive) => {
                assert!(!continuing);
                assert_eq!(message, keepalive_message());
            }
            // The connection ends here.
            Err(_) => return,
        }
    }
});

/// The frame data a message carries: all of a continuation, the rest after a first header.
fn tail(message: &[u8], continuing: bool) -> &[u8] {
    if continuing {
        message
    } else {
        message.get(HEADER_LEN..).unwrap_or_default()
    }
}

/// The writer's messages for `frame` reassemble to it.
fn rewritten(frame: &[u8]) {
    let messages = frame_messages(frame).expect("a received frame can be sent");
    let mut assembler = Assembler::default();
    let (last, rest) = messages.split_last().expect("at least one message");
    for message in rest {
        assert!(message.len() <= MAX_NOISE_MSG - 16);
        assert_eq!(assembler.push(message).ok(), Some(Assembled::Partial));
    }
    assert_eq!(
        assembler.push(last).ok(),
        Some(Assembled::Frame(frame.to_vec()))
    );
}

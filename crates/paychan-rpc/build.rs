//! Compiles the gRPC API's `.proto` files (`proto/` at the workspace root) into Rust with
//! prost and tonic, using the `protoc` binary of the `protoc-bin-vendored` crate (no system
//! install), and writes the descriptor set the reflection service serves.

use std::{env, error::Error, path::PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let proto = root.join("paychan/v1/node.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let descriptors = PathBuf::from(env::var("OUT_DIR")?).join("paychan_v1_descriptor.bin");
    tonic_prost_build::configure()
        .file_descriptor_set_path(descriptors)
        .compile_with_config(config, &[proto], &[root])?;
    Ok(())
}

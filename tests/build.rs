//! Compiles `proto/shop.proto` for the Protocol Buffers tests.
//!
//! protox parses the file and builds its descriptors in Rust, and
//! prost-build generates the types from them, so a fresh machine builds the
//! tests without a `protoc` binary.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["shop.proto"], ["proto"])?;
    prost_build::Config::new()
        // A generated message made an event type by the attribute macro,
        // as an application would do it.
        .type_attribute(
            ".mink.tests.shop.ParcelWeighed",
            "#[::mink::event(protobuf, name = \"ParcelWeighed\")]",
        )
        .compile_fds(descriptors)?;
    Ok(())
}

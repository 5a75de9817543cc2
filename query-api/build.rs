//! Compiles `proto/content.proto`, `proto/recommendation.proto` and `proto/playback.proto` with protox (pure Rust: no `protoc` needed on the machine) and
//! generates the tonic service; the encoded descriptors feed gRPC reflection.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/content.proto");
    println!("cargo:rerun-if-changed=proto/recommendation.proto");
    println!("cargo:rerun-if-changed=proto/playback.proto");
    let fds = protox::compile(
        ["content.proto", "recommendation.proto", "playback.proto"],
        ["proto"],
    )?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("content_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

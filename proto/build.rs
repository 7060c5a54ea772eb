// Compiles lab.proto without a system protoc: protox parses it in-process.
use prost::Message as _;

fn main() {
    let fds =
        protox::compile(["lab/v1/lab.proto"], ["."]).expect("proto/lab/v1/lab.proto must parse");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Kept for server reflection (tonic-reflection reads the encoded set).
    std::fs::write(out.join("lab_descriptor.bin"), fds.encode_to_vec())
        .expect("OUT_DIR must be writable");
    tonic_prost_build::configure()
        .compile_fds(fds)
        .expect("tonic-prost-build must generate lab.v1");
    println!("cargo:rerun-if-changed=lab/v1/lab.proto");
}

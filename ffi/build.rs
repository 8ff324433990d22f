//! Generates `include/promptvault.h` with cbindgen. The header is committed;
//! `scripts/test-ffi.sh` fails if a build changes a byte of it.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = match cbindgen::Config::from_file(dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cbindgen.toml: {e}");
            std::process::exit(1);
        }
    };
    let bindings = match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cbindgen: {e}");
            std::process::exit(1);
        }
    };
    // Writes only when the content differs, so an unchanged header keeps
    // its timestamp and a concurrent build never sees a half-written file.
    bindings.write_to_file(dir.join("include/promptvault.h"));
}

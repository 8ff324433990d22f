//! Embeds core's frozen test vectors for the wasm-bindgen-test suites (a
//! wasm test cannot read a directory): writes `$OUT_DIR/vectors.rs` with
//! every `core/tests/vectors/*.json`, in name order.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../core/tests/vectors");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = String::from("/// Every frozen vector: (file name, JSON text).\n");
    out.push_str("pub(crate) const VECTORS: &[(&str, &str)] = &[\n");
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let abs = f.canonicalize()?;
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )?;
    }
    out.push_str("];\n");
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR")?).join("vectors.rs"),
        out,
    )?;
    Ok(())
}

//! The commands that move prompts between vaults through an export file
//! with its own password: `export` and `import`.

use std::io::Write;
use std::path::Path;

use crate::clock::now;
use crate::fail::Fail;
use crate::output::{say, short};
use crate::session::Session;
use crate::{files, input, secrets};

/// `export`: every prompt with its history. Refuses to write onto the
/// vault itself (by any name).
pub(crate) fn export(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    file: &Path,
) -> Result<(), Fail> {
    let s = Session::open(path, accept)?;
    if files::same_file(file, path) || files::resolve(file)? == files::resolve(path)? {
        return Err(Fail::invalid(format!(
            "{} is the vault file itself; export to another file",
            file.display()
        )));
    }
    let pw = secrets::new_password("PROMPTVAULT_EXPORT_PASSWORD", "Export file password")?;
    let bytes = s
        .vault
        .export(&pw, s.vault.kdf_params())
        .map_err(Fail::from_core)?;
    files::write_atomic(file, &bytes)?;
    say(
        out,
        format!("Exported {} prompt(s) to {}", s.vault.len(), file.display()),
    )
}

/// `import`: the export file is read before the vault is opened; prompts
/// it could not take are named on stderr.
pub(crate) fn import(
    path: &Path,
    accept: bool,
    out: &mut impl Write,
    file: &Path,
) -> Result<(), Fail> {
    let bytes = input::read_export(file)?;
    let mut s = Session::open(path, accept)?;
    let pw = secrets::password_from("PROMPTVAULT_EXPORT_PASSWORD", "Export file password")?;
    let r = s
        .vault
        .import(&bytes, &pw, now())
        .map_err(|e| Fail::from_core(e).context("import"))?;
    s.save(&r.changes)?;
    say(
        out,
        format!(
            "Imported {} new prompt(s), {} new version(s)",
            r.prompts_added, r.versions_added
        ),
    )?;
    for refused in &r.refused {
        eprintln!(
            "promptvault: warning: prompt {} of the export was not imported: {}",
            short(&refused.id.to_hex()),
            refused.reason
        );
    }
    Ok(())
}

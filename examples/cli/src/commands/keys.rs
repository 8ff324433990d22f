//! The commands that change keys and credentials: `init`, `passwd`,
//! `recover`, `rotate`.
//!
//! Their messages say only what is true: a new password or recovery key
//! replaces a slot in the header, not the vault key, so a copy of the file
//! from before still opens with the old secret. `--rotate` also moves the
//! vault to a new key in the same write.

use std::io::Write;
use std::path::Path;

use promptvault::{Changeset, Credential, KdfParams, MemoryStore, Password, RecoveryKey, Vault};

use crate::cli::{InitArgs, RotateArgs};
use crate::fail::Fail;
use crate::output::say;
use crate::seen_state::SeenState;
use crate::session::Session;
use crate::side_file::Side;
use crate::{secrets, vault_file};

const OLD_COPIES: &str = "\
The vault key is unchanged: a copy of the vault file from before this change
(a backup, a synced copy) still opens with the old password or recovery key.
If one of them may have leaked, also rotate the vault key (`--rotate`, or
`promptvault rotate`).";

const ROTATED: &str = "\
The vault key was rotated in the same write: everything in this file is
re-encrypted, so an old copy of the header with an old password or recovery
key no longer reads it, nor anything written from now on. Whole copies of the
file made before (backups) still open with the old secrets: delete them if
those leaked.";

/// `init`: creates the vault and prints its recovery key once.
///
/// # Errors
///
/// Invalid if the file exists or the KDF parameters are refused; Io.
pub(crate) fn init(path: &Path, a: &InitArgs, out: &mut impl Write) -> Result<(), Fail> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(Fail::invalid(format!(
            "{} already exists; choose another --vault",
            path.display()
        )));
    }
    let params = KdfParams::new(a.kdf_memory_mib.saturating_mul(1024), a.kdf_time, 1)
        .map_err(Fail::from_core)?;
    let password = secrets::new_password("PROMPTVAULT_PASSWORD", "New vault password")?;
    let created = Vault::create(&password, params).map_err(Fail::from_core)?;
    let mut store = MemoryStore::new();
    vault_file::save(path, &mut store, &created.changes)?;
    SeenState::load(&created.vault)?.record(&created.vault, true);
    say(
        out,
        format!("Created {} (vault {}).", path.display(), created.vault.id()),
    )?;
    say(
        out,
        "Recovery key — write it down now; it is shown only once:",
    )?;
    say(
        out,
        format!("  {}", created.recovery_key.to_display_string().as_str()),
    )
}

/// Moves `vault` to a new vault key under `password` (which must be its
/// password by now). The core refuses to rotate while a rotation is
/// unfinished (SPEC §9); this store applies a changeset whole, so an
/// interrupted rotation (one synced from elsewhere) is completed first,
/// in the same write, and said on stderr.
fn rotate_key(vault: &mut Vault, password: &Password) -> Result<(RecoveryKey, Changeset), Fail> {
    let mut c = vault.finish_rotation().map_err(Fail::from_core)?;
    if !c.is_empty() {
        eprintln!("promptvault: an earlier key rotation was unfinished; it is completed first");
    }
    let (rk, c2) = vault.rotate(password).map_err(Fail::from_core)?;
    c.extend(c2);
    c.extend(vault.finish_rotation().map_err(Fail::from_core)?);
    Ok((rk, c))
}

/// Rotates the vault key of `s` and writes it, with the sharing side
/// file's records sealed again under the new key: first the side file
/// holding both seals, then the vault file, then the side file with only
/// the new ones (a crash in between leaves records that open).
fn rotate_and_save(
    path: &Path,
    s: &mut Session,
    password: &Password,
    mut c: Changeset,
) -> Result<RecoveryKey, Fail> {
    let mut side = Side::load(path, &s.vault)?;
    let held = side.held(&s.vault)?;
    let (rk, c2) = rotate_key(&mut s.vault, password)?;
    c.extend(c2);
    if !side.is_empty() {
        side.reseal(&held, &s.vault)?;
        side.save()?;
    }
    s.save(&c)?;
    if !side.is_empty() {
        side.drop_old_seals(&s.vault);
        side.save()?;
    }
    Ok(rk)
}

/// `passwd [--rotate]`.
///
/// # Errors
///
/// As opening the vault; Io on write.
pub(crate) fn passwd(
    path: &Path,
    a: &RotateArgs,
    accept_rollback: bool,
    out: &mut impl Write,
) -> Result<(), Fail> {
    let mut s = Session::open(path, accept_rollback)?;
    let new = secrets::new_password("PROMPTVAULT_NEW_PASSWORD", "New password")?;
    let c = s
        .vault
        .change_password(&new, None)
        .map_err(Fail::from_core)?;
    let rk = if a.rotate {
        Some(rotate_and_save(path, &mut s, &new, c)?)
    } else {
        s.save(&c)?;
        None
    };
    say(out, "Password changed.")?;
    match rk {
        None => say(out, OLD_COPIES),
        Some(rk) => {
            say(out, ROTATED)?;
            say(
                out,
                "New recovery key (the old one no longer opens this file):",
            )?;
            say(out, format!("  {}", rk.to_display_string().as_str()))
        }
    }
}

/// `recover [--rotate]`: unlock with the recovery key, set a new password,
/// issue a new recovery key.
///
/// # Errors
///
/// As opening the vault; Io on write.
pub(crate) fn recover(
    path: &Path,
    a: &RotateArgs,
    accept_rollback: bool,
    out: &mut impl Write,
) -> Result<(), Fail> {
    let store = vault_file::read(path)?;
    let rk = secrets::recovery_key()?;
    let mut s = Session::open_with(path, store, Credential::RecoveryKey(&rk), accept_rollback)?;
    let new = secrets::new_password("PROMPTVAULT_NEW_PASSWORD", "New password")?;
    let mut c = s
        .vault
        .change_password(&new, None)
        .map_err(Fail::from_core)?;
    let rk2 = if a.rotate {
        rotate_and_save(path, &mut s, &new, c)?
    } else {
        let (rk2, c2) = s.vault.replace_recovery_key().map_err(Fail::from_core)?;
        c.extend(c2);
        s.save(&c)?;
        rk2
    };
    say(
        out,
        "Password reset. The old recovery key no longer opens this file.",
    )?;
    say(out, if a.rotate { ROTATED } else { OLD_COPIES })?;
    say(out, "New recovery key:")?;
    say(out, format!("  {}", rk2.to_display_string().as_str()))
}

/// `rotate`: a new vault key, everything re-encrypted, a new recovery key.
///
/// # Errors
///
/// As opening the vault; Io on write.
pub(crate) fn rotate(path: &Path, accept_rollback: bool, out: &mut impl Write) -> Result<(), Fail> {
    let store = vault_file::read(path)?;
    let password = secrets::password()?;
    let mut s = Session::open_with(
        path,
        store,
        Credential::Password(&password),
        accept_rollback,
    )?;
    let rk = rotate_and_save(path, &mut s, &password, Changeset::default())?;
    say(
        out,
        format!("Rotated to key generation {}.", s.vault.key_generation()),
    )?;
    say(out, ROTATED)?;
    say(
        out,
        "New recovery key (the old one no longer opens this file):",
    )?;
    say(out, format!("  {}", rk.to_display_string().as_str()))
}

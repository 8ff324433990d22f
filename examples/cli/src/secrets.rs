//! Passwords and recovery keys: from the environment (for scripts and
//! tests) or asked on the terminal without echo. New passwords are asked
//! twice.

use promptvault::{Password, RecoveryKey};
use zeroize::Zeroizing;

use crate::fail::{Fail, Kind};

fn ask(prompt: &str) -> Result<Zeroizing<String>, Fail> {
    rpassword::prompt_password(format!("{prompt}: ")).map(Zeroizing::new).map_err(|e| {
        Fail::new(
            Kind::Other,
            format!("cannot read a password from the terminal ({e}); set PROMPTVAULT_PASSWORD instead"),
        )
    })
}

fn from_env(var: &str) -> Option<Zeroizing<String>> {
    std::env::var(var).ok().map(Zeroizing::new)
}

fn to_password(text: &Zeroizing<String>) -> Result<Password, Fail> {
    Password::new(text).map_err(Fail::from_core)
}

/// The vault password.
pub(crate) fn password() -> Result<Password, Fail> {
    password_from("PROMPTVAULT_PASSWORD", "Vault password")
}

/// A password from `var`, else asked once.
pub(crate) fn password_from(var: &str, prompt: &str) -> Result<Password, Fail> {
    let text = match from_env(var) {
        Some(t) => t,
        None => ask(prompt)?,
    };
    to_password(&text)
}

/// A new password from `var`, else asked twice.
pub(crate) fn new_password(var: &str, prompt: &str) -> Result<Password, Fail> {
    if let Some(t) = from_env(var) {
        return to_password(&t);
    }
    let first = ask(prompt)?;
    let again = ask(&format!("{prompt} (again)"))?;
    if *first != *again {
        return Err(Fail::invalid(
            "the two passwords differ; nothing was changed",
        ));
    }
    to_password(&first)
}

/// The recovery key, from `PROMPTVAULT_RECOVERY_KEY` or asked.
pub(crate) fn recovery_key() -> Result<RecoveryKey, Fail> {
    let text = match from_env("PROMPTVAULT_RECOVERY_KEY") {
        Some(t) => t,
        None => ask("Recovery key")?,
    };
    RecoveryKey::parse(&text).map_err(Fail::from_core)
}

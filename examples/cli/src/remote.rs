//! The sync server over HTTP (SPEC §12): login, registration, and the
//! core engine's [`Transport`]. Requests that fail on the network or with a
//! server fault are resent a few times (a commit's idempotency key makes
//! that safe); an expired session logs in again.

use std::time::Duration;

use promptvault::format::text;
use promptvault::protocol::{
    Action, ChallengeRequest, ChallengeResponse, CommitRequest, CommitResponse, ErrorResponse,
    KeyKind, LoginKey, LoginParams, LoginRequest, PreLoginRequest, PreLoginResponse, PullRequest,
    PullResponse, RegisterRequest, RekeyRequest, SessionResponse, decode_fixed,
};
use promptvault::sync::{SyncError, Transport};
use promptvault::{Password, RecoveryKey, SealedRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest answer read from a server (a pull page is capped well below).
const MAX_ANSWER: u64 = 256 << 20;
/// Attempts of one request before a network failure is reported.
const ATTEMPTS: u32 = 5;

/// Login public keys and their signatures over one challenge.
struct SignedKeys {
    challenge: String,
    password_key: String,
    password_signature: String,
    recovery_key: Option<String>,
    recovery_signature: Option<String>,
    /// The password login key, kept to log in again.
    key: LoginKey,
}

/// A connection to one account on one server.
pub(crate) struct Remote {
    agent: ureq::Agent,
    /// `scheme://host:port`, what login challenges are signed for.
    pub(crate) origin: String,
    pub(crate) account: String,
    pub(crate) token: Option<String>,
    password: Option<Password>,
    login_key: Option<LoginKey>,
    /// Whether an expired session is renewed by logging in with the
    /// password: not for a space session, which only `spaces/session`
    /// renews (see [`Remote::for_space`]).
    relogin: bool,
}

/// The server's origin (scheme, host and port) from a URL.
///
/// # Errors
///
/// A message for a URL that is not `http(s)://host[:port][/]`.
pub(crate) fn origin(url: &str) -> Result<String, String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or("the server URL must start with http:// or https://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("give the server as scheme://host[:port], without a path".into());
    }
    Ok(trimmed.to_owned())
}

impl Remote {
    pub(crate) fn new(origin: String, account: String, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Remote {
            agent,
            origin,
            account,
            token,
            password: None,
            login_key: None,
            relogin: true,
        }
    }

    /// A connection on a space session (SPEC §12.12): `pull` and `commit`
    /// reach the space. It never logs in: an expired or revoked space
    /// session comes back as the server's 401 `unauthorized`, and the
    /// caller asks `spaces/session` for a new one (403 `not_a_member` once
    /// the account was removed).
    pub(crate) fn for_space(origin: String, account: String, token: Option<String>) -> Self {
        Remote {
            relogin: false,
            ..Self::new(origin, account, token)
        }
    }

    /// Gives the password the session is renewed with when it expires.
    pub(crate) fn set_password(&mut self, password: Password) {
        self.password = Some(password);
    }

    /// One POST; resends after a network failure or a 5xx answer.
    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        auth: bool,
    ) -> Result<T, SyncError> {
        let url = format!("{}/v1/{path}", self.origin);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt));
            }
            let mut req = self.agent.post(&url);
            if auth {
                if let Some(t) = &self.token {
                    req = req.header("Authorization", format!("Bearer {t}"));
                }
            }
            let mut resp = match req.send_json(body) {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let bytes = match resp
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER)
                .read_to_vec()
            {
                Ok(b) => b,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            if status >= 500 {
                last = format!("HTTP {status}");
                continue;
            }
            // A commit conflict is a 409 with an answer, not a refusal.
            if status == 200 || (status == 409 && path == "commit") {
                if let Ok(v) = serde_json::from_slice::<T>(&bytes) {
                    return Ok(v);
                }
            }
            return Err(match serde_json::from_slice::<ErrorResponse>(&bytes) {
                Ok(e) => SyncError::Refused {
                    status,
                    code: e.error.code,
                    message: e.error.message,
                },
                Err(_) => SyncError::Transport(format!(
                    "HTTP {status} with an answer that is not the protocol's"
                )),
            });
        }
        Err(SyncError::Transport(last))
    }

    fn challenge(&self, action: Action) -> Result<[u8; 32], SyncError> {
        let c: ChallengeResponse = self.post(
            "challenge",
            &ChallengeRequest {
                account: self.account.clone(),
                action,
            },
            false,
        )?;
        decode_fixed::<32>(&c.challenge)
            .map_err(|_| SyncError::Transport("a malformed challenge".into()))
    }

    /// The salt and KDF parameters the server holds for the account.
    pub(crate) fn prelogin(&self) -> Result<LoginParams, SyncError> {
        let pre: PreLoginResponse = self.post(
            "prelogin",
            &PreLoginRequest {
                account: self.account.clone(),
            },
            false,
        )?;
        pre.params().map_err(SyncError::Vault)
    }

    /// The password login key: pre-login for the salt, then Argon2id once.
    fn login_key(&mut self) -> Result<&LoginKey, SyncError> {
        if self.login_key.is_none() {
            let params = self.prelogin()?;
            let password = self
                .password
                .as_ref()
                .ok_or_else(|| SyncError::Transport("no password to log in with".into()))?;
            self.login_key =
                Some(LoginKey::derive_from_password(password, &params).map_err(SyncError::Vault)?);
        }
        self.login_key
            .as_ref()
            .ok_or_else(|| SyncError::Transport("no login key".into()))
    }

    /// A signed challenge for `action` by the password login key.
    pub(crate) fn signed(&mut self, action: Action) -> Result<(String, String), SyncError> {
        let challenge = self.challenge(action)?;
        let origin = self.origin.clone();
        let account = self.account.clone();
        let sig = self
            .login_key()?
            .sign_challenge(&challenge, action, &origin, &account)
            .map_err(SyncError::Vault)?;
        Ok((text::encode(&challenge), text::encode(&sig)))
    }

    /// Logs in with the password.
    pub(crate) fn login(&mut self) -> Result<SessionResponse, SyncError> {
        let (challenge, signature) = self.signed(Action::Login)?;
        let s: SessionResponse = self.post(
            "login",
            &LoginRequest {
                account: self.account.clone(),
                key: KeyKind::Password,
                challenge,
                signature,
            },
            false,
        )?;
        self.token = Some(s.token.clone());
        Ok(s)
    }

    /// A fresh challenge for `action`, signed by the password login key of
    /// `params` and, when given, by the recovery login key (register and
    /// rekey both prove possession of every key they name).
    fn sign_keys(
        &self,
        action: Action,
        password: &Password,
        params: LoginParams,
        recovery: Option<&RecoveryKey>,
    ) -> Result<SignedKeys, SyncError> {
        let key = LoginKey::derive_from_password(password, &params).map_err(SyncError::Vault)?;
        let challenge = self.challenge(action)?;
        let sign = |k: &LoginKey| {
            k.sign_challenge(&challenge, action, &self.origin, &self.account)
                .map(|s| text::encode(&s))
                .map_err(SyncError::Vault)
        };
        let (recovery_key, recovery_signature) = match recovery {
            Some(rk) => {
                let k = LoginKey::derive_from_recovery_key(rk).map_err(SyncError::Vault)?;
                (Some(text::encode(&k.public_key())), Some(sign(&k)?))
            }
            None => (None, None),
        };
        Ok(SignedKeys {
            challenge: text::encode(&challenge),
            password_key: text::encode(&key.public_key()),
            password_signature: sign(&key)?,
            recovery_key,
            recovery_signature,
            key,
        })
    }

    /// Registers the account with the vault's header; with the recovery
    /// key too when one is given.
    pub(crate) fn register(
        &mut self,
        header: &SealedRecord,
        params: LoginParams,
        password: &Password,
        recovery: Option<&RecoveryKey>,
    ) -> Result<SessionResponse, SyncError> {
        let k = self.sign_keys(Action::Register, password, params, recovery)?;
        let req = RegisterRequest {
            account: self.account.clone(),
            challenge: k.challenge,
            password_key: k.password_key,
            recovery_key: k.recovery_key,
            password_signature: k.password_signature,
            recovery_signature: k.recovery_signature,
            header: header.to_text(),
            records: Vec::new(),
        };
        let s: SessionResponse = self.post("register", &req, false)?;
        self.token = Some(s.token.clone());
        self.login_key = Some(k.key);
        Ok(s)
    }

    /// Replaces the account's password login key with the one of `params`
    /// (the salt of the vault header just pushed, after a password change),
    /// and the recovery login key when one is given (SPEC §12.3).
    pub(crate) fn rekey(
        &mut self,
        password: &Password,
        params: LoginParams,
        recovery: Option<&RecoveryKey>,
    ) -> Result<(), SyncError> {
        let k = self.sign_keys(Action::Rekey, password, params, recovery)?;
        let req = RekeyRequest {
            account: self.account.clone(),
            challenge: k.challenge,
            password_key: k.password_key,
            password_signature: k.password_signature,
            recovery_key: k.recovery_key,
            recovery_signature: k.recovery_signature,
        };
        let _: PreLoginResponse = self.call("account/keys", &req)?;
        self.login_key = Some(k.key);
        Ok(())
    }

    /// A call that needs a session: logs in (again) when there is none or
    /// the server says it expired.
    pub(crate) fn call<B: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &B,
    ) -> Result<T, SyncError> {
        if self.token.is_none() {
            if !self.relogin {
                return Err(SyncError::Refused {
                    status: 401,
                    code: "unauthorized".into(),
                    message: "no space session yet".into(),
                });
            }
            self.login()?;
        }
        match self.post(path, body, true) {
            Err(SyncError::Refused { code, .. }) if code == "unauthorized" && self.relogin => {
                self.login()?;
                self.post(path, body, true)
            }
            other => other,
        }
    }
}

impl Transport for Remote {
    fn conflicted(&mut self, attempt: u32) {
        // Another device committed first: wait a random moment (growing
        // with the attempt, at most ~0.25 s) so two devices syncing at once
        // do not collide again in lockstep.
        let mut b = [0u8; 2];
        let spread = if getrandom::fill(&mut b).is_ok() {
            u64::from(u16::from_le_bytes(b))
        } else {
            0
        };
        let cap = 1u64 << attempt.clamp(1, 8);
        std::thread::sleep(Duration::from_millis(1 + spread % cap));
    }

    fn pull(&mut self, request: &PullRequest) -> Result<PullResponse, SyncError> {
        self.call("pull", request)
    }

    fn commit(&mut self, request: &CommitRequest) -> Result<CommitResponse, SyncError> {
        self.call("commit", request)
    }
}

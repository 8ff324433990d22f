-- promptvault-server schema, version 1. Portable: the same SQL runs on
-- SQLite and PostgreSQL (no autoincrement, no engine-specific types).
-- Records are stored in their canonical text form (base64url), so no
-- column needs a BLOB/BYTEA distinction.

-- One row: the secret that keys fake pre-login salts and hashed scopes.
CREATE TABLE server_secret (
    id BIGINT PRIMARY KEY,
    secret TEXT NOT NULL
);

CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    vault_id TEXT NOT NULL UNIQUE,
    password_key TEXT NOT NULL,
    recovery_key TEXT NOT NULL,
    salt TEXT NOT NULL,
    m_cost BIGINT NOT NULL,
    t_cost BIGINT NOT NULL,
    p_cost BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- counter: the vault's cursor, advanced once per commit inside the
-- commit's transaction. floor: pulls after a cursor below it must start
-- over (tombstones up to it were purged).
CREATE TABLE vaults (
    vault_id TEXT PRIMARY KEY,
    counter BIGINT NOT NULL,
    floor BIGINT NOT NULL,
    record_count BIGINT NOT NULL,
    byte_count BIGINT NOT NULL
);

-- One row per storage key; body NULL is a tombstone.
CREATE TABLE records (
    vault_id TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind BIGINT NOT NULL,
    key_gen BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    size BIGINT NOT NULL,
    body TEXT,
    PRIMARY KEY (vault_id, storage_key)
);
CREATE INDEX records_by_seq ON records (vault_id, seq, storage_key);

CREATE TABLE commits (
    vault_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    cursor BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (vault_id, idempotency_key)
);

-- token_hash: BLAKE2b-256 of the bearer token; the token is never stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    vault_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    action TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- scope: keyed hash of "account:NAME" or "address:IP".
CREATE TABLE login_failures (
    scope TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

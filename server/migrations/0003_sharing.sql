-- promptvault-server schema, version 3: sharing (SPEC §12.12). A space is
-- a vault (its row in `vaults`, its records in `records`) without an
-- account. A member reaches it with a space session: a session row whose
-- vault is the space (is_space = 1), made only for members and deleted
-- with the membership, so pull, commit and wait stay as they are.
ALTER TABLE sessions ADD COLUMN is_space BIGINT NOT NULL DEFAULT 0;

-- account: the publishing account. bundle: base64url, opaque here; clients
-- verify its self-signature and pin its fingerprint (SPEC §13).
CREATE TABLE identities (
    account TEXT PRIMARY KEY,
    bundle TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE spaces (
    space_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX spaces_by_owner ON spaces (owner);

-- The owner is a member too.
CREATE TABLE space_members (
    space_id TEXT NOT NULL,
    account TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (space_id, account)
);
CREATE INDEX space_members_by_account ON space_members (account);

-- An invitation: a key-delivery record (base64url, opaque here) for one
-- recipient. sender is the account the server authenticated.
CREATE TABLE inbox (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    space_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX inbox_by_recipient ON inbox (recipient, created_at);

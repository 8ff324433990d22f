-- promptvault-server schema, version 2: the tombstones of a vault by seq,
-- so each commit finds the newest one older than the retention window
-- with an index lookup instead of a scan of the vault's rows. Partial
-- indexes run on SQLite and PostgreSQL alike.
CREATE INDEX records_tombstones ON records (vault_id, seq) WHERE body IS NULL;

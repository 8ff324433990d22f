/** A prompt, version or vault id: 32 lowercase hex digits. */
export type Id = string;

/** Milliseconds since 1970-01-01 UTC. */
export type Millis = number;

/** A record as input: its binary form, its base64url text form, or a record from a changeset. */
export type RecordInput = Uint8Array | string | { readonly bytes: Uint8Array };

/** Record kind names, as stored in the cleartext header. */
export type RecordKindName =
  | "vault-header"
  | "item-key"
  | "prompt-meta"
  | "prompt-version"
  | "export-header"
  | "export-payload"
  | "prompt-index"
  | "checkpoint"
  | "identity"
  | "key-delivery"
  | "space-key";

/** A sealed record as the vault returns it. */
export interface SealedRecord {
  /** Where a store keeps it (replace the record with the same key). */
  readonly key: string;
  /** Its kind (public routing data). */
  readonly kind: RecordKindName;
  /** Canonical binary form. */
  readonly bytes: Uint8Array;
  /** Canonical text form: unpadded base64url, for JSON transport. */
  readonly text: string;
}

/**
 * What a mutation asks the store to do. Apply it whole (one transaction)
 * when you can; otherwise in this order: header, puts, deletes.
 */
export interface Changeset {
  /** A new vault header, written first, or null. */
  readonly header: SealedRecord | null;
  /** Records to write, each replacing the record with the same `key`. */
  readonly puts: readonly SealedRecord[];
  /** Storage keys to delete, last. */
  readonly deletes: readonly string[];
}

/** Argon2id parameters. Bounds: 19456 ≤ mCostKib ≤ 1048576, 1 ≤ tCost ≤ 10, 1 ≤ pCost ≤ 16. */
export interface KdfParams {
  /** Memory cost in KiB (default 65536 = 64 MiB). */
  mCostKib: number;
  /** Passes (default 3). */
  tCost: number;
  /** Lanes (default 1). */
  pCost: number;
}

/** Free-form generation settings (model, seed, size…). */
export type Settings = { [key: string]: unknown };

/** The content of a new version. Unknown fields are rejected. */
export interface Draft {
  /** Required, non-empty. */
  title: string;
  /** The prompt text. */
  body?: string;
  /** Optional generation settings. */
  settings?: Settings | null;
  /** A note about this version. */
  note?: string;
}

/** Options of `createPrompt`. */
export interface CreatePromptOptions {
  tags?: string[];
  favorite?: boolean;
}

/** One version in full. */
export interface Version {
  readonly id: Id;
  readonly parent: Id | null;
  readonly created: Millis;
  readonly title: string;
  readonly body: string;
  readonly settings: Settings | null;
  readonly note: string;
}

/** A version as listed in the history (no body). */
export interface VersionEntry {
  readonly id: Id;
  readonly parent: Id | null;
  readonly created: Millis;
  readonly title: string;
}

/** A prompt as a list view sees it (no body decrypted). */
export interface PromptSummary {
  readonly id: Id;
  readonly title: string;
  readonly tags: readonly string[];
  readonly favorite: boolean;
  readonly archived: boolean;
  readonly currentVersion: Id;
  readonly versionCount: number;
  readonly revision: number;
  readonly created: Millis;
  readonly updated: Millis;
}

/** How a set of tags filters prompts. */
export type TagMode = "any" | "all" | "none";

/** How archived prompts are treated. */
export type ArchivedFilter = "exclude" | "include" | "only";

/** A search. The default matches every non-archived prompt. Unknown fields are rejected. */
export interface Query {
  /** Case-insensitive text in the current version's title, body or note. */
  text?: string | null;
  tags?: string[];
  tagMode?: TagMode;
  favoritesOnly?: boolean;
  archived?: ArchivedFilter;
}

/** A tag and how many prompts carry it. */
export interface TagCount {
  readonly tag: string;
  readonly count: number;
}

/** One line of a body diff. */
export interface DiffLine {
  readonly op: "equal" | "insert" | "delete";
  readonly text: string;
}

/** One version as plaintext, for sharing in public. */
export interface Published {
  readonly title: string;
  readonly body: string;
  readonly settings: Settings | null;
}

/** Revisions already seen, for rollback detection (not secret; persist it). */
export interface SeenRevisions {
  header: number;
  prompts: { [promptId: Id]: number };
}

/** Result of `Vault.create`. */
export interface CreatedVault {
  readonly vault: Vault;
  /** Show once; it is stored nowhere. */
  readonly recoveryKey: string;
  readonly changes: Changeset;
}

/** Result of `createPrompt`. */
export interface NewPrompt {
  readonly promptId: Id;
  readonly changes: Changeset;
}

/** Result of `addVersion` and `restoreVersion`. */
export interface NewVersion {
  readonly versionId: Id;
  readonly changes: Changeset;
}

/** Result of `replaceRecoveryKey` and `rotate`. */
export interface NewRecoveryKey {
  /** Show once; it is stored nowhere. */
  readonly recoveryKey: string;
  readonly changes: Changeset;
}

/**
 * A prompt whose metadata breaks a model rule (written by a buggy or hostile
 * client holding the keys). Left out of every other view; export it (as far
 * as readable) or delete it with `deletePrompt`.
 */
export interface DamagedPrompt {
  readonly promptId: Id;
  /** The code of the rule it breaks, as a thrown error would carry it. */
  readonly code: ErrorCode;
  /** What is wrong with it. */
  readonly message: string;
  /** How many version records it has. */
  readonly versionCount: number;
}

/** A prompt of an export file that `import` left out, and why. */
export interface RefusedPrompt {
  /** Its id in the export. */
  readonly promptId: Id;
  /** The code of the rule it breaks, as a thrown error would carry it. */
  readonly code: ErrorCode;
  /** What is wrong with it. */
  readonly message: string;
}

/** Result of `import`. */
export interface ImportReport {
  readonly promptsAdded: number;
  readonly versionsAdded: number;
  /** Prompts left out because they break a model rule; the rest is imported. */
  readonly refused: readonly RefusedPrompt[];
  readonly changes: Changeset;
}

/** Result of `merge`. */
export interface MergeReport {
  readonly promptsAdded: number;
  readonly versionsAdded: number;
  readonly metadataUpdated: number;
  readonly conflictsResolved: number;
  /** Prompts that arrived breaking a model rule, kept as damaged (see `damagedPrompts`). */
  readonly damaged: readonly DamagedPrompt[];
  readonly changes: Changeset;
}

/** KDF parameters as read back (`kdfParams`, `inspect`): core's one `KdfParams` shape, read-only. */
export type KdfInfo = Readonly<KdfParams>;

/** The public fields of a record, as a server sees them (no key needed). */
export interface RecordInfo {
  readonly kind: RecordKindName;
  readonly kindCode: number;
  readonly vaultId: Id;
  readonly promptId: Id | null;
  readonly versionId: Id | null;
  /** The segment id, for prompt-index records only (absent otherwise). */
  readonly segmentId?: Id;
  readonly keyGeneration: number;
  readonly revision: number;
  readonly size: number;
  readonly storageKey: string;
  readonly kdf: KdfInfo | null;
}

/** Every error this package throws: a real `Error` with a stable numeric `code`. */
export interface PromptVaultError extends Error {
  readonly name: "PromptVaultError";
  /** The same number as `promptvault::ErrorCode` in Rust and `pv_result` in C. */
  readonly code: ErrorCode;
  /** The stable name of `code`. */
  readonly codeName: ErrorCodeName;
}

/** Whether `e` was thrown by this package. */
export function isPromptVaultError(e: unknown): e is PromptVaultError;

//! TypeScript types written by hand (`types.ts`) and the opaque JS types
//! the bindings take and return, each named after its TypeScript type so
//! the generated declarations are precise.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.ts");

#[wasm_bindgen]
extern "C" {
    /// A record: `Uint8Array`, base64url string, or `{bytes}`.
    #[wasm_bindgen(typescript_type = "RecordInput")]
    pub type RecordInput;
    /// An iterable of records.
    #[wasm_bindgen(typescript_type = "Iterable<RecordInput>")]
    pub type RecordList;
    /// A list of tags.
    #[wasm_bindgen(typescript_type = "readonly string[]")]
    pub type StringList;
    /// KDF parameters (input).
    #[wasm_bindgen(typescript_type = "KdfParams")]
    pub type KdfInput;
    /// KDF parameters (output).
    #[wasm_bindgen(typescript_type = "KdfInfo")]
    pub type KdfParamsView;
    /// A draft version.
    #[wasm_bindgen(typescript_type = "Draft")]
    pub type DraftInput;
    /// `createPrompt` options.
    #[wasm_bindgen(typescript_type = "CreatePromptOptions")]
    pub type CreatePromptOptions;
    /// A search query.
    #[wasm_bindgen(typescript_type = "Query")]
    pub type QueryInput;
    /// Seen revisions.
    #[wasm_bindgen(typescript_type = "SeenRevisions")]
    pub type SeenRevisionsView;
    /// A sealed record (output).
    #[wasm_bindgen(typescript_type = "SealedRecord")]
    pub type SealedRecordView;
    /// A changeset.
    #[wasm_bindgen(typescript_type = "Changeset")]
    pub type Changeset;
    /// `Vault.create`'s result.
    #[wasm_bindgen(typescript_type = "CreatedVault")]
    pub type Created;
    /// `createPrompt`'s result.
    #[wasm_bindgen(typescript_type = "NewPrompt")]
    pub type NewPromptResult;
    /// `addVersion`'s result.
    #[wasm_bindgen(typescript_type = "NewVersion")]
    pub type NewVersionResult;
    /// A new recovery key and its changeset.
    #[wasm_bindgen(typescript_type = "NewRecoveryKey")]
    pub type NewRecoveryKey;
    /// One version in full.
    #[wasm_bindgen(typescript_type = "Version")]
    pub type Version;
    /// The version history.
    #[wasm_bindgen(typescript_type = "VersionEntry[]")]
    pub type VersionEntryList;
    /// A diff line.
    #[wasm_bindgen(typescript_type = "DiffLine")]
    pub type DiffLine;
    /// A prompt summary.
    #[wasm_bindgen(typescript_type = "PromptSummary")]
    pub type PromptSummary;
    /// Tag counts.
    #[wasm_bindgen(typescript_type = "TagCount[]")]
    pub type TagCountList;
    /// A published version.
    #[wasm_bindgen(typescript_type = "Published")]
    pub type PublishedVersion;
    /// `damagedPrompts`' result.
    #[wasm_bindgen(typescript_type = "DamagedPrompt[]")]
    pub type DamagedPromptList;
    /// `import`'s report.
    #[wasm_bindgen(typescript_type = "ImportReport")]
    pub type ImportReport;
    /// `merge`'s report.
    #[wasm_bindgen(typescript_type = "MergeReport")]
    pub type MergeReport;
    /// `inspect`'s result.
    #[wasm_bindgen(typescript_type = "RecordInfo")]
    pub type RecordInfo;
    /// A changeset as input (`Store.apply`).
    #[wasm_bindgen(typescript_type = "ChangesetInput")]
    pub type ChangesetInput;
    /// A request for the sync server.
    #[wasm_bindgen(typescript_type = "SyncRequest")]
    pub type SyncRequest;
    /// The server's HTTP answer.
    #[wasm_bindgen(typescript_type = "HttpAnswer")]
    pub type HttpAnswer;
    /// A sync step.
    #[wasm_bindgen(typescript_type = "SyncStep")]
    pub type SyncStep;
    /// A challenge's purpose.
    #[wasm_bindgen(typescript_type = "LoginAction")]
    pub type LoginAction;
    /// A login session.
    #[wasm_bindgen(typescript_type = "Session")]
    pub type Session;
}

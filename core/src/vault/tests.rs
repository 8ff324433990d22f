//! SPEC §6.3 (D4): the version record is authoritative; a metadata copy
//! that disagrees with it is refused, never shown.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::argon::Password;
use crate::error::Error;
use crate::ids::Timestamp;
use crate::kdf::KdfParams;
use crate::model::Draft;
use crate::vault::Vault;

fn vault_with_prompt() -> (Vault, crate::ids::PromptId) {
    let params = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
    let mut v = Vault::create(&Password::new("pw").unwrap(), params)
        .unwrap()
        .vault;
    let draft = Draft {
        title: "real title".into(),
        ..Draft::default()
    };
    let (id, _) = v.create_prompt(&draft, &[], false, Timestamp(5)).unwrap();
    (v, id)
}

#[test]
fn a_metadata_title_that_disagrees_with_the_record_is_refused() {
    let (mut v, id) = vault_with_prompt();
    v.prompts.get_mut(&id).unwrap().meta.title = "other title".into();
    let malformed = Error::Malformed {
        what: "metadata disagrees with the version record",
    };
    assert_eq!(v.version(id, None).unwrap_err(), malformed);
    assert_eq!(v.history(id).unwrap_err(), malformed);
    assert_eq!(v.verify().unwrap_err(), malformed);
}

#[test]
fn an_index_time_that_disagrees_with_the_record_is_refused() {
    let (mut v, id) = vault_with_prompt();
    v.prompts.get_mut(&id).unwrap().meta.versions[0].created = Timestamp(6);
    assert!(matches!(
        v.version(id, None).unwrap_err(),
        Error::Malformed { .. }
    ));
}

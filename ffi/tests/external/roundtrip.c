/*
 * An outside project's smoke test of an installed promptvault: built by
 * CMake (find_package) and by make (pkg-config), each statically and
 * dynamically, against a freshly installed prefix (scripts/test-ffi.sh).
 *
 * A real round trip, not just a link: create a vault, add a prompt, save
 * the vault as one bundle, lock it, open the bundle with the password, read
 * the prompt back and compare, and check a wrong password is refused.
 * Prints "roundtrip: N passed, 0 failed" and exits 0, or exits 1.
 */
#include <promptvault.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      char msg_[512] = "";                                                 \
      size_t n_ = 0;                                                       \
      if (pv_last_error_message(msg_, sizeof msg_, &n_) != PV_RESULT_OK)   \
        msg_[0] = '\0';                                                    \
      fprintf(stderr, "roundtrip: line %d: %s failed (last error: %s)\n",  \
              __LINE__, #cond, msg_);                                      \
      exit(1);                                                             \
    }                                                                      \
    passed++;                                                              \
  } while (0)

int main(void) {
  static const pv_kdf_params fast = {19456, 1, 1}; /* the minimum: a test */
  char recovery_key[PV_RECOVERY_KEY_BUF_LEN];
  char id[PV_ID_BUF_LEN];
  pv_vault *vault = NULL;
  pv_changeset *changes = NULL;
  pv_store *store = NULL;

  /* The installed header and the installed library are the same release. */
  CHECK(strcmp(pv_version(), PV_VERSION_STRING) == 0);

  CHECK(pv_vault_create("correct horse", &fast, recovery_key, sizeof recovery_key, &vault,
                        &changes) == PV_RESULT_OK);
  CHECK(pv_store_new(&store) == PV_RESULT_OK);
  CHECK(pv_store_apply(store, changes) == PV_RESULT_OK);
  pv_changeset_free(changes);

  CHECK(pv_vault_create_prompt(vault, "{\"title\":\"Lighthouse\",\"body\":\"a lighthouse in a storm\"}",
                               "[\"art\"]", false, 1000, id, sizeof id, &changes) == PV_RESULT_OK);
  CHECK(strlen(id) == PV_ID_BUF_LEN - 1);
  CHECK(pv_store_apply(store, changes) == PV_RESULT_OK);
  pv_changeset_free(changes);

  /* Save as one bundle, lock, and forget everything but the bundle. */
  /* A size probe (a NULL buffer of length 0) reports the size needed. */
  size_t bundle_len = 0;
  CHECK(pv_store_bundle(store, NULL, 0, &bundle_len) == PV_RESULT_BUFFER_TOO_SMALL);
  uint8_t *bundle = malloc(bundle_len);
  CHECK(bundle != NULL);
  CHECK(pv_store_bundle(store, bundle, bundle_len, &bundle_len) == PV_RESULT_OK);
  pv_store_free(store);
  pv_vault_free(vault);

  pv_store *loaded = NULL;
  CHECK(pv_store_from_bundle(bundle, bundle_len, &loaded) == PV_RESULT_OK);
  free(bundle);
  vault = NULL;
  CHECK(pv_vault_open_store(loaded, PV_CREDENTIAL_PASSWORD, "wrong", &vault) ==
        PV_RESULT_AUTHENTICATION);
  CHECK(vault == NULL);
  CHECK(pv_vault_open_store(loaded, PV_CREDENTIAL_PASSWORD, "correct horse", &vault) ==
        PV_RESULT_OK);
  size_t count = 0;
  CHECK(pv_vault_prompt_count(vault, &count) == PV_RESULT_OK && count == 1);

  char version[1024];
  size_t len = 0;
  CHECK(pv_vault_version(vault, id, "", version, sizeof version, &len) == PV_RESULT_OK);
  CHECK(len == strlen(version) + 1);
  CHECK(strstr(version, "\"body\":\"a lighthouse in a storm\"") != NULL);
  CHECK(strstr(version, "\"title\":\"Lighthouse\"") != NULL);

  pv_vault_free(vault);
  pv_store_free(loaded);
  printf("roundtrip: %d passed, 0 failed\n", passed);
  return 0;
}

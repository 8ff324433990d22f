/*
 * The whole promptvault story from C: create a vault, write prompts and
 * versions, tag and search them, save the vault to one file, lock it, open
 * it again (with the password, then with the recovery key), change the
 * password, rotate the keys, export and import, and let a server inspect
 * the records without a key.
 *
 * Build (from the repository root, after `cargo build -p promptvault-ffi`):
 *
 *   cc -I ffi/include examples/c/story.c target/debug/libpromptvault_ffi.a \
 *      -lpthread -ldl -lm -o story && ./story /tmp/story.pvb
 *
 * Every call returns a pv_result (the header marks them PV_MUST_USE:
 * ignoring one is a warning); this example stops at the first error and
 * prints the library's message for it. Text results are fetched with a
 * size probe: a NULL buffer of length 0 reports the size needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptvault.h"

/* Stops with the last error's message unless the call succeeded. */
static void check(pv_result r, const char *what) {
  if (r == PV_RESULT_OK) return;
  char name[64] = "?", msg[1024] = "";
  size_t n = 0;
  if (pv_result_name(r, name, sizeof name, &n) != PV_RESULT_OK) name[0] = '\0';
  if (pv_last_error_message(msg, sizeof msg, &n) != PV_RESULT_OK) msg[0] = '\0';
  fprintf(stderr, "%s failed: %s: %s\n", what, name, msg);
  exit(1);
}

/* A size probe (a NULL buffer of length 0) reports the size needed with
 * PV_RESULT_BUFFER_TOO_SMALL; any other error stops. */
static void probed(pv_result r, const char *what) {
  if (r != PV_RESULT_BUFFER_TOO_SMALL) check(r, what);
}

/* A text result in a fresh heap string: probe for the size, then fetch. */
#define FETCH_TEXT(out, fn, ...)                   \
  do {                                             \
    size_t n_ = 0;                                 \
    probed(fn(__VA_ARGS__, NULL, 0, &n_), #fn);    \
    (out) = malloc(n_);                            \
    check(fn(__VA_ARGS__, (out), n_, &n_), #fn);   \
  } while (0)

static const pv_kdf_params PARAMS = {19456, 1, 1}; /* fast, for the demo; an app uses PV_KDF_DEFAULT */

/* The store keeps every record; a real app would write each put and delete
 * to its database instead. */
static void save(pv_store *store, pv_changeset *changes) {
  check(pv_store_apply(store, changes), "pv_store_apply");
  pv_changeset_free(changes);
}

static void write_file(const char *path, const pv_store *store) {
  size_t len = 0;
  probed(pv_store_bundle(store, NULL, 0, &len), "pv_store_bundle"); /* the size, in len */
  unsigned char *bytes = malloc(len);
  check(pv_store_bundle(store, bytes, len, &len), "pv_store_bundle");
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
  free(bytes);
  printf("saved %zu bytes to %s\n", len, path);
}

static pv_store *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *bytes = malloc((size_t)len);
  if (fread(bytes, 1, (size_t)len, f) != (size_t)len) {
    perror(path);
    exit(1);
  }
  fclose(f);
  pv_store *store = NULL;
  check(pv_store_from_bundle(bytes, (size_t)len, &store), "pv_store_from_bundle");
  free(bytes);
  return store;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "story.pvb";
  char recovery_key[PV_RECOVERY_KEY_BUF_LEN], new_recovery_key[PV_RECOVERY_KEY_BUF_LEN];
  char lighthouse[PV_ID_BUF_LEN], haiku[PV_ID_BUF_LEN], first[PV_ID_BUF_LEN], second[PV_ID_BUF_LEN];
  pv_vault *vault = NULL;
  pv_changeset *changes = NULL;
  pv_store *store = NULL;
  char *json = NULL;

  /* 1. Create a vault. The recovery key is shown once and stored nowhere. */
  check(pv_vault_create("correct horse", &PARAMS, recovery_key, sizeof recovery_key, &vault, &changes),
        "pv_vault_create");
  printf("recovery key (write it down): %s\n", recovery_key);
  check(pv_store_new(&store), "pv_store_new");
  save(store, changes);

  /* 2. Prompts, versions, tags, favorites. */
  check(pv_vault_create_prompt(vault,
                               "{\"title\":\"Lighthouse\",\"body\":\"a lighthouse in a storm\","
                               "\"settings\":{\"model\":\"sdxl\",\"steps\":30},\"note\":\"first try\"}",
                               "[\"Art\",\"Stra\xc3\x9f" "e\"]", true, 1700000000000, lighthouse,
                               sizeof lighthouse, &changes),
        "pv_vault_create_prompt");
  save(store, changes);
  FETCH_TEXT(json, pv_vault_version, vault, lighthouse, "");
  memcpy(first, strstr(json, "\"id\":\"") + 6, 32);
  first[32] = '\0';
  free(json);
  check(pv_vault_add_version(vault, lighthouse,
                             "{\"title\":\"Lighthouse\",\"body\":\"a lighthouse in a storm at night\","
                             "\"note\":\"darker\"}",
                             1700000100000, second, sizeof second, &changes),
        "pv_vault_add_version");
  save(store, changes);
  check(pv_vault_create_prompt(vault, "{\"title\":\"Haiku bot\",\"body\":\"answer only in haiku\"}",
                               "[\"llm\"]", false, 1700000200000, haiku, sizeof haiku, &changes),
        "pv_vault_create_prompt");
  save(store, changes);
  check(pv_vault_add_tags(vault, haiku, "[\"poetry\"]", 1700000300000, &changes), "pv_vault_add_tags");
  save(store, changes);

  FETCH_TEXT(json, pv_vault_diff, vault, lighthouse, first, second);
  printf("diff: %s\n", json);
  free(json);
  FETCH_TEXT(json, pv_vault_list, vault, "{\"text\":\"storm\"}");
  printf("search \"storm\": %s\n", json);
  free(json);
  FETCH_TEXT(json, pv_vault_list, vault, "{\"tags\":[\"STRASSE\"]}");
  printf("tag STRASSE (case-folded): %s\n", json);
  free(json);
  FETCH_TEXT(json, pv_vault_tags, vault);
  printf("tags: %s\n", json);
  free(json);

  /* 3. Save to one file and lock (freeing zeroizes every key). */
  write_file(path, store);
  pv_store_free(store);
  pv_vault_free(vault);

  /* 4. Open it again with the password, then with the recovery key. */
  store = read_file(path);
  check(pv_vault_open_store(store, PV_CREDENTIAL_PASSWORD, "correct horse", &vault), "open (password)");
  check(pv_vault_verify(vault), "pv_vault_verify");
  pv_vault_free(vault);
  check(pv_vault_open_store(store, PV_CREDENTIAL_RECOVERY_KEY, recovery_key, &vault), "open (recovery key)");
  pv_result wrong = pv_vault_verify_password(vault, "battery staple");
  printf("a wrong password gives %u (PV_RESULT_AUTHENTICATION)\n", (unsigned)wrong);

  /* 5. Restore the first version, publish it, change the password, rotate. */
  char restored[PV_ID_BUF_LEN];
  check(pv_vault_restore_version(vault, lighthouse, first, 1700000400000, restored, sizeof restored, &changes),
        "pv_vault_restore_version");
  save(store, changes);
  FETCH_TEXT(json, pv_vault_publish, vault, lighthouse, "");
  printf("published: %s\n", json);
  free(json);
  check(pv_vault_change_password(vault, "tr0ub4dor&3", &PARAMS, &changes), "pv_vault_change_password");
  save(store, changes);
  check(pv_vault_rotate(vault, "tr0ub4dor&3", new_recovery_key, sizeof new_recovery_key, &changes),
        "pv_vault_rotate");
  save(store, changes);
  check(pv_vault_finish_rotation(vault, &changes), "pv_vault_finish_rotation");
  save(store, changes);
  printf("rotated; new recovery key: %s\n", new_recovery_key);

  /* 6. Export to a portable file with its own password; import elsewhere. */
  pv_bytes *file = NULL;
  check(pv_vault_export(vault, "export password", &PARAMS, &file), "pv_vault_export");
  size_t file_len = 0;
  check(pv_bytes_len(file, &file_len), "pv_bytes_len");
  unsigned char *exported = malloc(file_len);
  check(pv_bytes_copy(file, exported, file_len, &file_len), "pv_bytes_copy");
  pv_bytes_free(file);
  pv_vault *other = NULL;
  char other_key[PV_RECOVERY_KEY_BUF_LEN];
  check(pv_vault_create("another vault", &PARAMS, other_key, sizeof other_key, &other, &changes),
        "pv_vault_create");
  pv_changeset_free(changes);
  size_t prompts_added = 0, versions_added = 0;
  check(pv_vault_import(other, exported, file_len, "export password", 1700000500000, &prompts_added,
                        &versions_added, &changes),
        "pv_vault_import");
  pv_changeset_free(changes);
  printf("imported %zu prompts, %zu versions\n", prompts_added, versions_added);
  pv_vault_free(other);
  free(exported);

  /* 7. A server checks what it stores, with no key. */
  unsigned char header[4096];
  size_t header_len = 0;
  check(pv_vault_header(vault, header, sizeof header, &header_len), "pv_vault_header");
  FETCH_TEXT(json, pv_inspect, header, header_len);
  printf("server sees: %s\n", json);
  free(json);

  write_file(path, store);
  pv_vault_free(vault);
  pv_store_free(store);
  printf("story complete\n");
  return 0;
}

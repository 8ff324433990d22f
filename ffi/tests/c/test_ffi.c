/*
 * C tests of the promptvault C ABI, built by scripts/test-ffi.sh with cc
 * against the static and the dynamic library, and run under valgrind and
 * AddressSanitizer/UBSan. They cover the full story, every error code
 * reachable from C, NULL for every pointer argument, too-small buffers and
 * the frozen vectors of core/tests/vectors (through vectors.h, generated at
 * test time by gen_vectors.py).
 *
 * Prints "c-tests: N passed, M failed" and exits non-zero on any failure.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptvault.h"

typedef struct {
  const char *id;
  const char *history;
  const char *needles[5];
  size_t n_versions;
  const char *const *vids;
  const char *const *vjson;
} vec_prompt;

typedef struct {
  const char *name;
  int type; /* 0 vault, 1 export, 2 inspect */
  const char *error;
  const unsigned char *header;
  size_t header_len;
  const unsigned char *const *records;
  const size_t *lens;
  size_t n_records;
  uint32_t cred;
  const char *secret;
  const char *ids;
  const vec_prompt *prompts;
  size_t n_prompts;
  const char *text;
  const char *inspect;
} vec_case;

#include "vectors.h"

/* The number of frozen vector files in core/tests/vectors (as in core's
 * runner): a vector added or lost must be noticed here too. */
#define EXPECTED_VECTOR_CASES 21

static int passed, failed;
static char errbuf[4096];
static char *big; /* a large scratch buffer for JSON and bundles */
#define BIG (4u << 20)

static const char *last_error(void) {
  size_t n = 0;
  if (pv_last_error_message(errbuf, sizeof errbuf, &n) != PV_RESULT_OK) {
    return "(no message)";
  }
  return errbuf;
}

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      passed++;                                                              \
    } else {                                                                 \
      failed++;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

#define EXPECT(call, code)                                                   \
  do {                                                                       \
    pv_result r_ = (call);                                                   \
    if (r_ == (pv_result)(code)) {                                           \
      passed++;                                                              \
    } else {                                                                 \
      failed++;                                                              \
      fprintf(stderr, "%s:%d: %s returned %u, want %u (%s)\n", __FILE__,     \
              __LINE__, #call, (unsigned)r_, (unsigned)(code), last_error()); \
    }                                                                        \
  } while (0)

#define OK(call) EXPECT(call, PV_RESULT_OK)
#define NUL(call) EXPECT(call, PV_RESULT_NULL_PARAMETER)

static const pv_kdf_params FAST = {19456, 1, 1};
static const char *PASSWORD = "correct horse battery staple \xe2\x9c\x93";

/* Applies a changeset to the store and frees it. */
static void apply(pv_store *store, pv_changeset *cs) {
  OK(pv_store_apply(store, cs));
  pv_changeset_free(cs);
}

static size_t puts_of(const pv_changeset *cs) {
  size_t n = 99999;
  OK(pv_changeset_put_count(cs, &n));
  return n;
}

static size_t deletes_of(const pv_changeset *cs) {
  size_t n = 99999;
  OK(pv_changeset_delete_count(cs, &n));
  return n;
}

/* The store's header and records, as pv_vault_open takes them. */
typedef struct {
  unsigned char *header;
  size_t header_len;
  unsigned char **records;
  size_t *lens;
  size_t count;
} snapshot;

static snapshot take_snapshot(const pv_store *store) {
  snapshot s = {0};
  size_t n = 0;
  OK(pv_store_record_count(store, &s.count));
  s.records = calloc(s.count + 1, sizeof *s.records);
  s.lens = calloc(s.count + 1, sizeof *s.lens);
  EXPECT(pv_store_header(store, (uint8_t *)big, 1, &n), PV_RESULT_BUFFER_TOO_SMALL);
  s.header = malloc(n);
  s.header_len = n;
  OK(pv_store_header(store, s.header, s.header_len, &n));
  for (size_t i = 0; i < s.count; i++) {
    OK(pv_store_record(store, i, (uint8_t *)big, BIG, &n));
    s.records[i] = malloc(n);
    memcpy(s.records[i], big, n);
    s.lens[i] = n;
  }
  EXPECT(pv_store_record(store, s.count, (uint8_t *)big, BIG, &n), PV_RESULT_NOT_FOUND);
  return s;
}

static void free_snapshot(snapshot *s) {
  for (size_t i = 0; i < s->count; i++) free(s->records[i]);
  free(s->records);
  free(s->lens);
  free(s->header);
}

static pv_vault *open_snapshot(const snapshot *s, uint32_t kind, const char *secret,
                               pv_result want) {
  pv_vault *v = NULL;
  EXPECT(pv_vault_open(s->header, s->header_len, (const uint8_t *const *)s->records,
                       s->lens, s->count, kind, secret, &v),
         want);
  CHECK((v != NULL) == (want == PV_RESULT_OK));
  return v;
}

static int contains(const char *haystack, const char *needle) {
  return strstr(haystack, needle) != NULL;
}

/* ---------------------------------------------------------------- story */

static void test_story(void) {
  char rk[PV_RECOVERY_KEY_BUF_LEN], rk2[PV_RECOVERY_KEY_BUF_LEN], rk3[PV_RECOVERY_KEY_BUF_LEN];
  char a[PV_ID_BUF_LEN], b[PV_ID_BUF_LEN], v1[PV_ID_BUF_LEN], v2[PV_ID_BUF_LEN],
      v3[PV_ID_BUF_LEN], v4[PV_ID_BUF_LEN], vid[PV_ID_BUF_LEN];
  pv_vault *v = NULL;
  pv_changeset *cs = NULL;
  pv_store *store = NULL;
  size_t n = 0;
  bool flag = false;

  /* Create. */
  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &v, &cs));
  CHECK(strlen(rk) == PV_RECOVERY_KEY_BUF_LEN - 1);
  OK(pv_changeset_has_header(cs, &flag));
  CHECK(flag);
  CHECK(puts_of(cs) == 0);
  OK(pv_store_new(&store));
  apply(store, cs);
  uint32_t gen = 0;
  OK(pv_vault_key_generation(v, &gen));
  CHECK(gen == 1);
  pv_kdf_params kp = {0, 0, 0};
  OK(pv_vault_kdf_params(v, &kp));
  CHECK(kp.m_cost_kib == 19456 && kp.t_cost == 1 && kp.p_cost == 1);

  /* Prompts and versions. */
  OK(pv_vault_create_prompt(v,
                            "{\"title\":\"Lighthouse\",\"body\":\"a lighthouse\\nin a storm\","
                            "\"settings\":{\"model\":\"sdxl\",\"steps\":30},\"note\":\"first\"}",
                            "[\"Art\",\"Stra\xc3\x9f" "e\"]", true, 1000, a, sizeof a, &cs));
  CHECK(strlen(a) == 32);
  CHECK(puts_of(cs) == 3); /* item key, metadata, version */
  OK(pv_changeset_put_storage_key(cs, 1, big, BIG, &n));
  CHECK(n == strlen(big) + 1);
  apply(store, cs);
  OK(pv_vault_history(v, a, big, BIG, &n));
  CHECK(contains(big, "\"title\":\"Lighthouse\""));
  memcpy(v1, big + 8, 32); /* [{"id":"<32 hex>" */
  v1[32] = '\0';
  OK(pv_vault_add_version(v, a, "{\"title\":\"Lighthouse\",\"body\":\"a lighthouse\\nin a storm at night\"}",
                          2000, v2, sizeof v2, &cs));
  CHECK(puts_of(cs) == 2);
  apply(store, cs);
  OK(pv_vault_version(v, a, "", big, BIG, &n));
  CHECK(contains(big, "at night"));
  CHECK(contains(big, v2));
  OK(pv_vault_version(v, a, v1, big, BIG, &n));
  CHECK(contains(big, "\"settings\":{\"model\":\"sdxl\",\"steps\":30}"));
  OK(pv_vault_diff(v, a, v1, v2, big, BIG, &n));
  CHECK(contains(big, "{\"op\":\"delete\",\"text\":\"in a storm\"}"));
  CHECK(contains(big, "{\"op\":\"insert\",\"text\":\"in a storm at night\"}"));
  OK(pv_vault_restore_version(v, a, v1, 3000, v3, sizeof v3, &cs));
  apply(store, cs);
  OK(pv_vault_version(v, a, "", big, BIG, &n));
  CHECK(contains(big, "\"parent\":\"") && contains(big, v1) && !contains(big, "at night"));
  OK(pv_vault_history(v, a, big, BIG, &n));
  CHECK(contains(big, v1) && contains(big, v2) && contains(big, v3));

  OK(pv_vault_create_prompt(v, "{\"title\":\"Haiku bot\",\"body\":\"answer in haiku\"}",
                            "[\"llm\"]", false, 4000, b, sizeof b, &cs));
  apply(store, cs);
  OK(pv_vault_set_archived(v, b, true, 5000, &cs));
  CHECK(puts_of(cs) == 1);
  apply(store, cs);
  size_t count = 0;
  OK(pv_vault_prompt_count(v, &count));
  CHECK(count == 2);

  /* Search and list. */
  OK(pv_vault_list(v, "{}", big, BIG, &n));
  CHECK(contains(big, a) && !contains(big, b));
  OK(pv_vault_list(v, "{\"archived\":\"include\"}", big, BIG, &n));
  CHECK(contains(big, a) && contains(big, b));
  OK(pv_vault_list(v, "{\"archived\":\"only\"}", big, BIG, &n));
  CHECK(!contains(big, a) && contains(big, b));
  OK(pv_vault_list(v, "{\"text\":\"LIGHTHOUSE\"}", big, BIG, &n));
  CHECK(contains(big, a));
  OK(pv_vault_list(v, "{\"text\":\"submarine\"}", big, BIG, &n));
  CHECK(strcmp(big, "[]") == 0);
  OK(pv_vault_list(v, "{\"tags\":[\"STRASSE\"],\"tagMode\":\"all\"}", big, BIG, &n));
  CHECK(contains(big, a)); /* real case folding: ß matches SS */
  OK(pv_vault_list(v, "{\"tags\":[\"art\"],\"tagMode\":\"none\",\"archived\":\"include\"}", big, BIG, &n));
  CHECK(!contains(big, a) && contains(big, b));
  OK(pv_vault_list(v, "{\"favoritesOnly\":true,\"archived\":\"include\"}", big, BIG, &n));
  CHECK(contains(big, a) && !contains(big, b));
  OK(pv_vault_summary(v, a, big, BIG, &n));
  CHECK(contains(big, "\"versionCount\":3") && contains(big, "\"favorite\":true"));
  OK(pv_vault_prompt_ids(v, big, BIG, &n));
  CHECK(n == 2 + 2 * 34 + 1 + 1);

  /* Tags and flags. */
  OK(pv_vault_tags(v, big, BIG, &n));
  CHECK(contains(big, "{\"tag\":\"Art\",\"count\":1}") && contains(big, "{\"tag\":\"llm\",\"count\":1}"));
  OK(pv_vault_add_tags(v, a, "[\"STRASSE\"]", 6000, &cs));
  CHECK(puts_of(cs) == 0); /* already there under another case */
  pv_changeset_free(cs);
  OK(pv_vault_add_tags(v, a, "[\"oil\"]", 6000, &cs));
  CHECK(puts_of(cs) == 1);
  apply(store, cs);
  OK(pv_vault_remove_tags(v, a, "[\"ART\"]", 6100, &cs));
  apply(store, cs);
  OK(pv_vault_rename_tag(v, "LLM", "chat", 6200, &cs));
  CHECK(puts_of(cs) == 1);
  apply(store, cs);
  OK(pv_vault_tags(v, big, BIG, &n));
  CHECK(!contains(big, "\"Art\"") && contains(big, "\"oil\"") && contains(big, "\"chat\"") &&
        !contains(big, "\"llm\""));
  OK(pv_vault_set_favorite(v, a, false, 6300, &cs));
  apply(store, cs);
  OK(pv_vault_summary(v, a, big, BIG, &n));
  CHECK(contains(big, "\"favorite\":false"));
  OK(pv_vault_publish(v, a, v2, big, BIG, &n));
  CHECK(strcmp(big, "{\"title\":\"Lighthouse\",\"body\":\"a lighthouse\\nin a storm at night\",\"settings\":null}") == 0);

  /* Prune, delete a version. */
  OK(pv_vault_prune_history(v, a, 1, 7000, &cs));
  CHECK(deletes_of(cs) == 2);
  OK(pv_changeset_delete(cs, 0, big, BIG, &n));
  CHECK(big[0] == 'v' && big[1] == '.');
  apply(store, cs);
  OK(pv_vault_history(v, a, big, BIG, &n));
  {
    char needle[64];
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", v3);
    CHECK(contains(big, needle));
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", v1);
    CHECK(!contains(big, needle));
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", v2);
    CHECK(!contains(big, needle));
  }
  OK(pv_vault_add_version(v, a, "{\"title\":\"Lighthouse 4\"}", 7100, v4, sizeof v4, &cs));
  apply(store, cs);
  OK(pv_vault_delete_version(v, a, v4, 7200, &cs));
  CHECK(deletes_of(cs) == 1);
  apply(store, cs);
  EXPECT(pv_vault_delete_version(v, a, v3, 7300, &cs), PV_RESULT_INVALID_INPUT);

  /* Save as one bundle, lock, reopen from the bundle and from records. */
  char seen[1024];
  OK(pv_vault_seen_revisions(v, seen, sizeof seen, &n));
  CHECK(contains(seen, "\"header\":1"));
  OK(pv_store_bundle(store, (uint8_t *)big, BIG, &n));
  size_t bundle_len = n;
  unsigned char *bundle = malloc(bundle_len);
  memcpy(bundle, big, bundle_len);
  pv_vault_free(v);
  v = NULL;
  pv_store *loaded = NULL;
  OK(pv_store_from_bundle(bundle, bundle_len, &loaded));
  OK(pv_vault_open_store(loaded, PV_CREDENTIAL_PASSWORD, PASSWORD, &v));
  OK(pv_vault_verify(v));
  OK(pv_vault_prompt_count(v, &count));
  CHECK(count == 2);
  /* A healthy vault has no damaged prompt: every index is past the end,
   * and nothing is written. (ffi/tests/abi.rs reads a damaged one.) */
  count = 9;
  OK(pv_vault_damaged_count(v, &count));
  CHECK(count == 0);
  {
    char did[PV_ID_BUF_LEN] = {0};
    char reason[64] = {0};
    pv_result dcode = PV_RESULT_OK;
    size_t dversions = 7, dlen = 5;
    EXPECT(pv_vault_damaged_at(v, 0, did, sizeof did, &dcode, &dversions), PV_RESULT_NOT_FOUND);
    CHECK(contains(last_error(), "does not exist"));
    EXPECT(pv_vault_damaged_at(v, (size_t)-1, did, sizeof did, &dcode, &dversions),
           PV_RESULT_NOT_FOUND);
    EXPECT(pv_vault_damaged_at(v, 0, did, sizeof did - 1, &dcode, &dversions),
           PV_RESULT_BUFFER_TOO_SMALL);
    EXPECT(pv_vault_damaged_reason(v, 0, reason, sizeof reason, &dlen), PV_RESULT_NOT_FOUND);
    CHECK(did[0] == 0 && reason[0] == 0 && dcode == PV_RESULT_OK && dversions == 7 && dlen == 5);
  }
  pv_vault_free(v);
  OK(pv_vault_open_store(loaded, PV_CREDENTIAL_RECOVERY_KEY, rk, &v));
  pv_vault_free(v);
  pv_store_free(loaded);
  snapshot snap = take_snapshot(store);
  v = open_snapshot(&snap, PV_CREDENTIAL_PASSWORD, PASSWORD, PV_RESULT_OK);
  OK(pv_vault_verify_password(v, PASSWORD));
  EXPECT(pv_vault_verify_password(v, "wrong"), PV_RESULT_AUTHENTICATION);
  pv_vault *seen_v = NULL;
  OK(pv_vault_open_with_seen(snap.header, snap.header_len, (const uint8_t *const *)snap.records,
                             snap.lens, snap.count, PV_CREDENTIAL_PASSWORD, PASSWORD, seen, &seen_v));
  pv_vault_free(seen_v);
  free_snapshot(&snap);

  /* Change the password. */
  OK(pv_vault_change_password(v, "new password", &FAST, &cs));
  OK(pv_changeset_has_header(cs, &flag));
  CHECK(flag && puts_of(cs) == 0);
  apply(store, cs);
  snap = take_snapshot(store);
  pv_vault_free(open_snapshot(&snap, PV_CREDENTIAL_PASSWORD, "new password", PV_RESULT_OK));
  open_snapshot(&snap, PV_CREDENTIAL_PASSWORD, PASSWORD, PV_RESULT_AUTHENTICATION);
  free_snapshot(&snap);

  /* Replace the recovery key. */
  OK(pv_vault_replace_recovery_key(v, rk2, sizeof rk2, &cs));
  CHECK(strcmp(rk, rk2) != 0);
  apply(store, cs);
  snap = take_snapshot(store);
  pv_vault_free(open_snapshot(&snap, PV_CREDENTIAL_RECOVERY_KEY, rk2, PV_RESULT_OK));
  open_snapshot(&snap, PV_CREDENTIAL_RECOVERY_KEY, rk, PV_RESULT_AUTHENTICATION);
  free_snapshot(&snap);

  /* Rotate. */
  EXPECT(pv_vault_rotate(v, "not it", rk3, sizeof rk3, &cs), PV_RESULT_AUTHENTICATION);
  OK(pv_vault_rotate(v, "new password", rk3, sizeof rk3, &cs));
  CHECK(puts_of(cs) == 2 * 2 + 2); /* per prompt: item key, metadata, one version */
  apply(store, cs);
  OK(pv_vault_key_generation(v, &gen));
  CHECK(gen == 2);
  OK(pv_vault_rotation_pending(v, &flag));
  CHECK(flag);
  OK(pv_vault_finish_rotation(v, &cs));
  apply(store, cs);
  OK(pv_vault_rotation_pending(v, &flag));
  CHECK(!flag);
  OK(pv_vault_finish_rotation(v, &cs));
  CHECK(puts_of(cs) == 0 && deletes_of(cs) == 0);
  OK(pv_changeset_has_header(cs, &flag));
  CHECK(!flag);
  EXPECT(pv_changeset_header(cs, (uint8_t *)big, BIG, &n), PV_RESULT_NOT_FOUND);
  pv_changeset_free(cs);
  snap = take_snapshot(store);
  pv_vault *rot = open_snapshot(&snap, PV_CREDENTIAL_RECOVERY_KEY, rk3, PV_RESULT_OK);
  OK(pv_vault_verify(rot));
  OK(pv_vault_key_generation(rot, &gen));
  CHECK(gen == 2);
  pv_vault_free(rot);
  free_snapshot(&snap);

  /* Export and import (twice: idempotent). */
  pv_bytes *file = NULL;
  OK(pv_vault_export(v, "export password", &FAST, &file));
  size_t file_len = 0;
  OK(pv_bytes_len(file, &file_len));
  CHECK(file_len > 0);
  unsigned char *exported = malloc(file_len);
  OK(pv_bytes_copy(file, exported, file_len, &n));
  CHECK(n == file_len);
  pv_bytes_free(file);
  pv_vault *other = NULL;
  OK(pv_vault_create("other", &FAST, rk3, sizeof rk3, &other, &cs));
  pv_changeset_free(cs);
  size_t added_p = 0, added_v = 0;
  EXPECT(pv_vault_import(other, exported, file_len, "wrong", 8000, &added_p, &added_v, &cs),
         PV_RESULT_AUTHENTICATION);
  OK(pv_vault_import(other, exported, file_len, "export password", 8000, &added_p, &added_v, &cs));
  CHECK(added_p == 2 && added_v == 2);
  pv_changeset_free(cs);
  OK(pv_vault_import(other, exported, file_len, "export password", 8100, &added_p, &added_v, &cs));
  CHECK(added_p == 0 && added_v == 0 && puts_of(cs) == 0);
  pv_changeset_free(cs);
  OK(pv_vault_version(other, a, "", big, BIG, &n));
  CHECK(contains(big, "in a storm"));
  pv_vault_free(other);
  free(exported);

  /* Merge: a second device adds a version offline; the first merges it. */
  snap = take_snapshot(store);
  pv_vault *device2 = open_snapshot(&snap, PV_CREDENTIAL_PASSWORD, "new password", PV_RESULT_OK);
  free_snapshot(&snap);
  OK(pv_vault_add_version(device2, a, "{\"title\":\"From the phone\"}", 9000, vid, sizeof vid, &cs));
  size_t m = puts_of(cs);
  unsigned char **recs = calloc(m, sizeof *recs);
  size_t *lens = calloc(m, sizeof *lens);
  for (size_t i = 0; i < m; i++) {
    OK(pv_changeset_put(cs, i, (uint8_t *)big, BIG, &n));
    recs[i] = malloc(n);
    memcpy(recs[i], big, n);
    lens[i] = n;
  }
  pv_changeset_free(cs);
  pv_vault_free(device2);
  pv_merge_counts mc = {9, 9, 9, 9};
  OK(pv_vault_merge(v, (const uint8_t *const *)recs, lens, m, &mc, &cs));
  CHECK(mc.versions_added == 1 && mc.prompts_added == 0 && mc.metadata_updated == 1);
  apply(store, cs);
  OK(pv_vault_version(v, a, vid, big, BIG, &n));
  CHECK(contains(big, "From the phone"));
  for (size_t i = 0; i < m; i++) free(recs[i]);
  free(recs);
  free(lens);

  /* Delete a prompt: all its records go. */
  size_t before = 0, after = 0;
  OK(pv_store_record_count(store, &before));
  OK(pv_vault_delete_prompt(v, b, &cs));
  CHECK(deletes_of(cs) == 3);
  apply(store, cs);
  OK(pv_store_record_count(store, &after));
  CHECK(after == before - 3);
  EXPECT(pv_vault_summary(v, b, big, BIG, &n), PV_RESULT_NOT_FOUND);

  /* Keyless inspection of what the server stores. */
  char vault_id[PV_ID_BUF_LEN];
  OK(pv_vault_id(v, vault_id, sizeof vault_id));
  snap = take_snapshot(store);
  OK(pv_inspect(snap.header, snap.header_len, big, BIG, &n));
  CHECK(contains(big, "\"kind\":\"vault-header\"") && contains(big, vault_id) &&
        contains(big, "\"keyGeneration\":2"));
  OK(pv_store_bundle(store, (uint8_t *)big, BIG, &n));
  for (size_t i = 0; i < snap.count; i++) {
    char key[256];
    OK(pv_inspect(snap.records[i], snap.lens[i], big, BIG, &n));
    char *sk = strstr(big, "\"storageKey\":\"");
    CHECK(sk != NULL);
    if (sk != NULL) {
      sk += strlen("\"storageKey\":\"");
      size_t k = strcspn(sk, "\"");
      memcpy(key, sk, k);
      key[k] = '\0';
      OK(pv_validate_for_store(snap.records[i], snap.lens[i], vault_id, key, big, BIG, &n));
    }
  }
  free_snapshot(&snap);

  /* Everything a fresh store should hold, in one changeset. */
  uint64_t rev = 0;
  OK(pv_vault_header_revision(v, &rev));
  CHECK(rev >= 4); /* created, password, recovery key, rotation, finish */
  pv_store *fresh = NULL;
  OK(pv_store_new(&fresh));
  OK(pv_vault_all_records(v, &cs));
  OK(pv_changeset_has_header(cs, &flag));
  CHECK(flag && deletes_of(cs) == 0);
  apply(fresh, cs);
  OK(pv_store_record_count(fresh, &before));
  OK(pv_store_record_count(store, &after));
  CHECK(before == after);
  pv_vault *again = NULL;
  OK(pv_vault_open_store(fresh, PV_CREDENTIAL_PASSWORD, "new password", &again));
  OK(pv_vault_verify(again));
  pv_vault_free(again);
  pv_store_free(fresh);
  pv_vault_free(v);
  pv_store_free(store);
  free(bundle);
}

/* ----------------------------------------------------------- error codes */

static void expect_name(pv_result r, const char *name) {
  char buf[64];
  size_t n = 0;
  OK(pv_result_name(r, buf, sizeof buf, &n));
  CHECK(strcmp(buf, name) == 0);
}

static void test_error_codes(void) {
  char rk[PV_RECOVERY_KEY_BUF_LEN], id[PV_ID_BUF_LEN];
  char buf[512];
  size_t n = 0;
  pv_vault *v = NULL, *w = NULL;
  pv_changeset *cs = NULL;
  pv_store *store = NULL;

  /* Names and messages of every code; numbers equal the core's. */
  static const struct {
    uint32_t code;
    const char *name;
  } names[] = {{0, "OK"}, {1, "AUTHENTICATION"}, {2, "MALFORMED"}, {3, "UNSUPPORTED_VERSION"},
               {4, "UNSUPPORTED_SUITE"}, {5, "KDF_PARAMS_OUT_OF_BOUNDS"}, {6, "LIMIT_EXCEEDED"},
               {7, "INVALID_RECOVERY_KEY"}, {8, "INVALID_INPUT"}, {9, "NOT_FOUND"},
               {10, "WRONG_VAULT"}, {11, "ROLLBACK"}, {12, "ENCODING"}, {13, "INVALID_UTF8"},
               {14, "RANDOMNESS"}, {15, "WRONG_KIND"}, {16, "MISSING_RECORD"},
               {17, "SERVER_REFUSED"}, {18, "TRANSPORT"}, {19, "CONTENTION"},
               {20, "HEADER_CHANGED"}, {21, "SERVER_MISBEHAVED"}, {22, "WRONG_FINGERPRINT"},
               {23, "BAD_SIGNATURE"}, {24, "NOT_A_MEMBER"}, {25, "REVOKED"},
               {100, "NULL_PARAMETER"}, {101, "PANIC"}, {102, "BUFFER_TOO_SMALL"}};
  CHECK(PV_RESULT_BUFFER_TOO_SMALL == 102 && PV_RESULT_PANIC == 101 &&
        PV_RESULT_NULL_PARAMETER == 100 && PV_RESULT_MISSING_RECORD == 16);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    expect_name(names[i].code, names[i].name);
    OK(pv_result_message(names[i].code, buf, sizeof buf, &n));
    CHECK(n > 1 && strlen(buf) == n - 1);
  }
  EXPECT(pv_result_name(26, buf, sizeof buf, &n), PV_RESULT_INVALID_INPUT);
  EXPECT(pv_result_message(99, buf, sizeof buf, &n), PV_RESULT_INVALID_INPUT);

  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &v, &cs));
  OK(pv_store_new(&store));
  apply(store, cs);
  OK(pv_vault_create_prompt(v, "{\"title\":\"t\"}", "[]", false, 1, id, sizeof id, &cs));
  apply(store, cs);
  snapshot snap = take_snapshot(store);

  /* 1 AUTHENTICATION, and the last-error message that goes with it. */
  open_snapshot(&snap, PV_CREDENTIAL_PASSWORD, "wrong password", PV_RESULT_AUTHENTICATION);
  CHECK(strlen(last_error()) > 0);
  OK(pv_vault_prompt_count(v, &n));
  CHECK(strlen(last_error()) == 0); /* a successful call clears it */

  /* 2 MALFORMED */
  static const unsigned char garbage[] = "definitely not a record";
  EXPECT(pv_inspect(garbage, sizeof garbage, buf, sizeof buf, &n), PV_RESULT_MALFORMED);
  EXPECT(pv_vault_open(garbage, sizeof garbage, (const uint8_t *const *)snap.records, snap.lens,
                       0, PV_CREDENTIAL_PASSWORD, PASSWORD, &w),
         PV_RESULT_MALFORMED);
  CHECK(w == NULL);
  pv_store *no_store = NULL;
  EXPECT(pv_store_from_bundle(garbage, sizeof garbage, &no_store), PV_RESULT_MALFORMED);
  CHECK(no_store == NULL);

  /* 3 UNSUPPORTED_VERSION, 4 UNSUPPORTED_SUITE, 15 WRONG_KIND (bytes 4, 6, 5). */
  unsigned char *rec = malloc(snap.lens[0]);
  memcpy(rec, snap.records[0], snap.lens[0]);
  rec[4] = 2;
  EXPECT(pv_inspect(rec, snap.lens[0], buf, sizeof buf, &n), PV_RESULT_UNSUPPORTED_VERSION);
  rec[4] = 1;
  rec[6] = 9;
  EXPECT(pv_inspect(rec, snap.lens[0], buf, sizeof buf, &n), PV_RESULT_UNSUPPORTED_SUITE);
  rec[6] = 1;
  rec[5] = 99;
  EXPECT(pv_inspect(rec, snap.lens[0], buf, sizeof buf, &n), PV_RESULT_WRONG_KIND);
  free(rec);
  size_t a1 = 0, a2 = 0;
  EXPECT(pv_vault_import(v, snap.header, snap.header_len, "x", 1, &a1, &a2, &cs),
         PV_RESULT_WRONG_KIND); /* a vault header is not an export file */

  /* 5 KDF_PARAMS_OUT_OF_BOUNDS: refused before any work. */
  pv_kdf_params tiny = {1024, 1, 1}, slow = {19456, 1000, 1};
  EXPECT(pv_vault_create(PASSWORD, &tiny, rk, sizeof rk, &w, &cs), PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS);
  EXPECT(pv_vault_change_password(v, "x", &slow, &cs), PV_RESULT_KDF_PARAMS_OUT_OF_BOUNDS);

  /* 6 LIMIT_EXCEEDED */
  char *long_draft = malloc(5000);
  strcpy(long_draft, "{\"title\":\"");
  memset(long_draft + 10, 'x', 2000);
  strcpy(long_draft + 2010, "\"}");
  EXPECT(pv_vault_create_prompt(v, long_draft, "[]", false, 1, id, sizeof id, &cs),
         PV_RESULT_LIMIT_EXCEEDED);
  free(long_draft);

  /* 7 INVALID_RECOVERY_KEY: a typo is caught before any key derivation. */
  open_snapshot(&snap, PV_CREDENTIAL_RECOVERY_KEY, "ABCD-EFGH", PV_RESULT_INVALID_RECOVERY_KEY);

  /* 8 INVALID_INPUT */
  EXPECT(pv_vault_create_prompt(v, "{\"title\":\"  \"}", "[]", false, 1, id, sizeof id, &cs),
         PV_RESULT_INVALID_INPUT);
  EXPECT(pv_vault_create("", &FAST, rk, sizeof rk, &w, &cs), PV_RESULT_INVALID_INPUT);
  open_snapshot(&snap, 7, PASSWORD, PV_RESULT_INVALID_INPUT); /* unknown credential kind */
  EXPECT(pv_vault_prune_history(v, id, 0, 1, &cs), PV_RESULT_INVALID_INPUT);
  EXPECT(pv_vault_change_password(v, "", &FAST, &cs), PV_RESULT_INVALID_INPUT);

  /* 9 NOT_FOUND */
  EXPECT(pv_vault_version(v, "00000000000000000000000000000000", "", buf, sizeof buf, &n),
         PV_RESULT_NOT_FOUND);
  EXPECT(pv_vault_version(v, id, "00000000000000000000000000000000", buf, sizeof buf, &n),
         PV_RESULT_NOT_FOUND);
  EXPECT(pv_vault_rename_tag(v, "no such tag", "x", 1, &cs), PV_RESULT_NOT_FOUND);

  /* 10 WRONG_VAULT, and a storage key that does not match (8). */
  char vid[PV_ID_BUF_LEN];
  OK(pv_vault_id(v, vid, sizeof vid));
  EXPECT(pv_validate_for_store(snap.header, snap.header_len, "0123456789abcdef0123456789abcdef",
                               "h", buf, sizeof buf, &n),
         PV_RESULT_WRONG_VAULT);
  OK(pv_validate_for_store(snap.header, snap.header_len, vid, "h", buf, sizeof buf, &n));
  EXPECT(pv_validate_for_store(snap.header, snap.header_len, vid, "m.x", buf, sizeof buf, &n),
         PV_RESULT_INVALID_INPUT);

  /* 11 ROLLBACK: the header is older than one already seen. */
  EXPECT(pv_vault_open_with_seen(snap.header, snap.header_len, (const uint8_t *const *)snap.records,
                                 snap.lens, snap.count, PV_CREDENTIAL_PASSWORD, PASSWORD,
                                 "{\"header\":999,\"prompts\":{}}", &w),
         PV_RESULT_ROLLBACK);

  /* 12 ENCODING: ids, JSON, base64url. */
  EXPECT(pv_vault_history(v, "not-hex", buf, sizeof buf, &n), PV_RESULT_ENCODING);
  EXPECT(pv_vault_history(v, "ABCDEF0123456789ABCDEF0123456789", buf, sizeof buf, &n), PV_RESULT_ENCODING);
  EXPECT(pv_vault_list(v, "{\"text\":", buf, sizeof buf, &n), PV_RESULT_ENCODING);
  EXPECT(pv_vault_list(v, "{\"color\":\"red\"}", buf, sizeof buf, &n), PV_RESULT_ENCODING);
  EXPECT(pv_vault_add_tags(v, id, "\"not an array\"", 1, &cs), PV_RESULT_ENCODING);
  EXPECT(pv_inspect_text("!!!", buf, sizeof buf, &n), PV_RESULT_ENCODING);
  EXPECT(pv_vault_open_with_seen(snap.header, snap.header_len, (const uint8_t *const *)snap.records,
                                 snap.lens, snap.count, PV_CREDENTIAL_PASSWORD, PASSWORD, "[]", &w),
         PV_RESULT_ENCODING);

  /* 13 INVALID_UTF8 */
  EXPECT(pv_vault_verify_password(v, "\xff\xfe"), PV_RESULT_INVALID_UTF8);
  EXPECT(pv_vault_create_prompt(v, "{\"title\":\"\xc3\"}", "[]", false, 1, id, sizeof id, &cs),
         PV_RESULT_INVALID_UTF8);

  /* 14 RANDOMNESS: the OS generator cannot be made to fail from C. */

  /* 16 MISSING_RECORD: a dropped version, an empty store. */
  if (snap.count == 3) {
    /* records in storage-key order: k.<id>.1, m.<id>, v.<id>.<vid> */
    EXPECT(pv_vault_open(snap.header, snap.header_len, (const uint8_t *const *)snap.records,
                         snap.lens, 2, PV_CREDENTIAL_PASSWORD, PASSWORD, &w),
           PV_RESULT_MISSING_RECORD);
  }
  CHECK(snap.count == 3);
  pv_store *empty = NULL;
  OK(pv_store_new(&empty));
  EXPECT(pv_store_bundle(empty, (uint8_t *)buf, sizeof buf, &n), PV_RESULT_MISSING_RECORD);
  EXPECT(pv_vault_open_store(empty, PV_CREDENTIAL_PASSWORD, PASSWORD, &w), PV_RESULT_MISSING_RECORD);
  pv_store_free(empty);

  /* No partial success: failed mutations left the vault as it was. */
  OK(pv_vault_prompt_count(v, &n));
  CHECK(n == 1);
  OK(pv_vault_verify_password(v, PASSWORD));
  CHECK(w == NULL);

  free_snapshot(&snap);
  pv_vault_free(v);
  pv_store_free(store);
}

/* --------------------------------------------------------- small buffers */

static void test_small_buffers(void) {
  char small[8];
  size_t n = 0;
  char rk[PV_RECOVERY_KEY_BUF_LEN], id[PV_ID_BUF_LEN];
  pv_vault *v = NULL;
  pv_changeset *cs = NULL;
  pv_store *store = NULL;

  memset(small, 'X', sizeof small);
  EXPECT(pv_result_message(1, small, sizeof small, &n), PV_RESULT_BUFFER_TOO_SMALL);
  CHECK(n > sizeof small);
  CHECK(memcmp(small, "XXXXXXXX", 8) == 0); /* nothing written */
  char *exact = malloc(n);
  size_t need = n;
  OK(pv_result_message(1, exact, need, &n));
  CHECK(n == need && strlen(exact) == need - 1);
  EXPECT(pv_result_message(1, exact, need - 1, &n), PV_RESULT_BUFFER_TOO_SMALL);
  free(exact);

  /* The recovery-key buffer is checked before anything is created. */
  EXPECT(pv_vault_create(PASSWORD, &FAST, rk, PV_RECOVERY_KEY_BUF_LEN - 1, &v, &cs),
         PV_RESULT_BUFFER_TOO_SMALL);
  CHECK(v == NULL && cs == NULL);
  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &v, &cs));
  OK(pv_store_new(&store));
  apply(store, cs);

  /* An id buffer too small: no prompt is created. */
  EXPECT(pv_vault_create_prompt(v, "{\"title\":\"t\"}", "[]", false, 1, id, PV_ID_BUF_LEN - 1, &cs),
         PV_RESULT_BUFFER_TOO_SMALL);
  OK(pv_vault_prompt_count(v, &n));
  CHECK(n == 0);
  OK(pv_vault_create_prompt(v, "{\"title\":\"t\"}", "[\"a\"]", false, 1, id, sizeof id, &cs));
  EXPECT(pv_changeset_put(cs, 0, (uint8_t *)small, sizeof small, &n), PV_RESULT_BUFFER_TOO_SMALL);
  CHECK(n > sizeof small);
  EXPECT(pv_changeset_put(cs, 3, (uint8_t *)small, sizeof small, &n), PV_RESULT_NOT_FOUND);
  EXPECT(pv_changeset_delete(cs, 0, small, sizeof small, &n), PV_RESULT_NOT_FOUND);
  apply(store, cs);
  EXPECT(pv_vault_rotate(v, PASSWORD, rk, 10, &cs), PV_RESULT_BUFFER_TOO_SMALL);
  uint32_t gen = 0;
  OK(pv_vault_key_generation(v, &gen));
  CHECK(gen == 1); /* not rotated */
  EXPECT(pv_vault_replace_recovery_key(v, rk, 0, &cs), PV_RESULT_BUFFER_TOO_SMALL);
  EXPECT(pv_vault_id(v, id, 32), PV_RESULT_BUFFER_TOO_SMALL);
  EXPECT(pv_vault_list(v, "{}", small, sizeof small, &n), PV_RESULT_BUFFER_TOO_SMALL);
  char *list = malloc(n);
  need = n;
  OK(pv_vault_list(v, "{}", list, need, &n));
  CHECK(n == need && strlen(list) + 1 == need && list[0] == '[');
  free(list);
  EXPECT(pv_store_bundle(store, (uint8_t *)small, sizeof small, &n), PV_RESULT_BUFFER_TOO_SMALL);
  need = n;
  unsigned char *bundle = malloc(need);
  OK(pv_store_bundle(store, bundle, need, &n));
  CHECK(n == need);
  free(bundle);
  EXPECT(pv_vault_verify_password(v, "wrong"), PV_RESULT_AUTHENTICATION);
  EXPECT(pv_last_error_message(small, 1, &n), PV_RESULT_BUFFER_TOO_SMALL);
  CHECK(n > 1);
  pv_bytes *file = NULL;
  OK(pv_vault_export(v, "e", &FAST, &file));
  EXPECT(pv_bytes_copy(file, (uint8_t *)small, sizeof small, &n), PV_RESULT_BUFFER_TOO_SMALL);
  size_t len = 0;
  OK(pv_bytes_len(file, &len));
  CHECK(n == len);
  pv_bytes_free(file);
  pv_vault_free(v);
  pv_store_free(store);
}

/* ------------------------------------------------------------ size probes */

/* What the probed functions read: one vault with a prompt of two versions,
 * its store, changesets with a header, puts and a delete, an export, a sync
 * and a download in progress, a login key. */
static struct {
  pv_vault *v;
  pv_store *store;
  pv_changeset *all, *del;
  pv_bytes *file;
  pv_sync_state *state, *dl_state;
  pv_sync *sync;
  pv_download *dl;
  pv_login_key *key;
  char id[PV_ID_BUF_LEN], v1[PV_ID_BUF_LEN], v2[PV_ID_BUF_LEN], vault_id[PV_ID_BUF_LEN];
  unsigned char header[4096], record[4096];
  size_t header_len, record_len;
  char storage_key[256];
  const char *record_text;
  char session[256];
} P;

static const char *CHALLENGE =
    "{\"challenge\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\","
    "\"origin\":\"http://127.0.0.1:1\",\"expiresIn\":60}";

/* probe_pv_x(buf, buf_len, out_len): pv_x with the fixture's arguments. */
#define PROBE_FN(fn, ...) \
  static pv_result probe_##fn(void *b, size_t l, size_t *n) { return fn(__VA_ARGS__, b, l, n); }
PROBE_FN(pv_result_name, PV_RESULT_NOT_FOUND)
PROBE_FN(pv_result_message, PV_RESULT_NOT_FOUND)
static pv_result probe_pv_last_error_message(void *b, size_t l, size_t *n) {
  return pv_last_error_message(b, l, n);
}
PROBE_FN(pv_bytes_copy, P.file)
PROBE_FN(pv_changeset_header, P.all)
PROBE_FN(pv_changeset_put, P.all, 0)
PROBE_FN(pv_changeset_put_storage_key, P.all, 0)
PROBE_FN(pv_changeset_delete, P.del, 0)
PROBE_FN(pv_store_header, P.store)
PROBE_FN(pv_store_record, P.store, 0)
PROBE_FN(pv_store_bundle, P.store)
PROBE_FN(pv_vault_header, P.v)
PROBE_FN(pv_vault_seen_revisions, P.v)
PROBE_FN(pv_vault_version, P.v, P.id, "")
PROBE_FN(pv_vault_history, P.v, P.id)
PROBE_FN(pv_vault_diff, P.v, P.id, P.v1, P.v2)
PROBE_FN(pv_vault_tags, P.v)
PROBE_FN(pv_vault_list, P.v, "{}")
PROBE_FN(pv_vault_summary, P.v, P.id)
PROBE_FN(pv_vault_prompt_ids, P.v)
PROBE_FN(pv_vault_damaged_reason, P.v, 0)
PROBE_FN(pv_vault_publish, P.v, P.id, P.v1)
PROBE_FN(pv_inspect, P.header, P.header_len)
PROBE_FN(pv_inspect_text, P.record_text)
PROBE_FN(pv_validate_for_store, P.record, P.record_len, P.vault_id, P.storage_key)
PROBE_FN(pv_sync_state_to_json, P.state)
PROBE_FN(pv_sync_request_method, P.sync)
PROBE_FN(pv_sync_request_path, P.sync)
PROBE_FN(pv_sync_request_body, P.sync)
PROBE_FN(pv_sync_report, P.sync)
PROBE_FN(pv_download_request_body, P.dl)
PROBE_FN(pv_download_header, P.dl)
PROBE_FN(pv_login_request, P.key, CHALLENGE, "http://127.0.0.1:1", "alice")
PROBE_FN(pv_register_request, P.key, CHALLENGE, "http://127.0.0.1:1", "alice", P.header, P.header_len)
PROBE_FN(pv_rekey_request, P.key, NULL, CHALLENGE, "http://127.0.0.1:1", "alice")
PROBE_FN(pv_delete_account_request, P.key, CHALLENGE, "http://127.0.0.1:1", "alice")
PROBE_FN(pv_session_token, 200, (const uint8_t *)P.session, strlen(P.session))
PROBE_FN(pv_download_newer_header, P.dl, P.v)

typedef struct {
  const char *name;
  pv_result (*call)(void *buf, size_t buf_len, size_t *out_len);
  /* What the probe returns: BUFFER_TOO_SMALL with the size, or the
   * function's own error when it has nothing to write here. */
  pv_result probe;
} probe_case;

#define PROBE(fn, result) {#fn, probe_##fn, result}
static const probe_case PROBES[] = {
    PROBE(pv_result_name, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_result_message, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_bytes_copy, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_changeset_header, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_changeset_put, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_changeset_put_storage_key, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_changeset_delete, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_store_header, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_store_record, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_store_bundle, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_header, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_seen_revisions, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_version, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_history, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_diff, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_tags, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_list, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_summary, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_prompt_ids, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_vault_damaged_reason, PV_RESULT_NOT_FOUND), /* no damaged prompt */
    PROBE(pv_vault_publish, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_inspect, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_inspect_text, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_validate_for_store, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_sync_state_to_json, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_sync_request_method, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_sync_request_path, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_sync_request_body, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_sync_report, PV_RESULT_NOT_FOUND),          /* the sync is not done */
    PROBE(pv_download_request_body, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_download_header, PV_RESULT_MISSING_RECORD), /* nothing pulled yet */
    PROBE(pv_login_request, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_register_request, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_rekey_request, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_delete_account_request, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_session_token, PV_RESULT_BUFFER_TOO_SMALL),
    PROBE(pv_download_newer_header, PV_RESULT_NOT_FOUND), /* nothing pulled yet */
    /* Last: it reads the message the probes above left. */
    PROBE(pv_last_error_message, PV_RESULT_BUFFER_TOO_SMALL),
};

static void probe_setup(void) {
  char rk[PV_RECOVERY_KEY_BUF_LEN];
  pv_changeset *cs = NULL;
  size_t n = 0;
  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &P.v, &cs));
  OK(pv_store_new(&P.store));
  apply(P.store, cs);
  OK(pv_vault_create_prompt(P.v, "{\"title\":\"t\",\"body\":\"one\"}", "[\"x\"]", true, 1, P.id,
                            sizeof P.id, &cs));
  apply(P.store, cs);
  OK(pv_vault_add_version(P.v, P.id, "{\"title\":\"t\",\"body\":\"two\"}", 2, P.v2, sizeof P.v2, &cs));
  apply(P.store, cs);
  OK(pv_vault_history(P.v, P.id, big, BIG, &n));
  memcpy(P.v1, big + 8, 32); /* [{"id":"<v1>", … */
  P.v1[32] = '\0';
  OK(pv_vault_all_records(P.v, &P.all));
  char other[PV_ID_BUF_LEN];
  OK(pv_vault_create_prompt(P.v, "{\"title\":\"o\"}", "[]", false, 3, other, sizeof other, &cs));
  apply(P.store, cs);
  OK(pv_vault_delete_prompt(P.v, other, &P.del));
  OK(pv_vault_export(P.v, "e", &FAST, &P.file));
  OK(pv_vault_id(P.v, P.vault_id, sizeof P.vault_id));
  OK(pv_vault_header(P.v, P.header, sizeof P.header, &P.header_len));
  OK(pv_changeset_put(P.all, 0, P.record, sizeof P.record, &P.record_len));
  OK(pv_changeset_put_storage_key(P.all, 0, P.storage_key, sizeof P.storage_key, &n));
  for (size_t i = 0; i < sizeof VECTOR_CASES / sizeof VECTOR_CASES[0]; i++) {
    if (VECTOR_CASES[i].type == 2 && VECTOR_CASES[i].error == NULL) P.record_text = VECTOR_CASES[i].text;
  }
  CHECK(P.record_text != NULL);
  OK(pv_sync_state_new(&P.state));
  OK(pv_sync_start(P.v, P.state, &P.sync));
  snprintf(P.session, sizeof P.session,
           "{\"token\":\"t\",\"expiresIn\":60,\"vaultId\":\"%s\",\"cursor\":0}", P.vault_id);
  OK(pv_sync_state_new(&P.dl_state));
  OK(pv_download_start(P.session, P.dl_state, &P.dl));
  OK(pv_login_key_from_header(P.header, P.header_len, PASSWORD, &P.key));
}

/* A NULL buffer of length 0 asks for the size: every function that writes
 * into a caller buffer answers PV_RESULT_BUFFER_TOO_SMALL with the size in
 * *out_len (or its own error), never PV_RESULT_NULL_PARAMETER, and writes
 * nothing else; a buffer of exactly that size is then filled. */
static void test_size_probes(void) {
  probe_setup();
  for (size_t i = 0; i < sizeof PROBES / sizeof PROBES[0]; i++) {
    const probe_case *c = &PROBES[i];
    size_t need = 0;
    pv_result r = c->call(NULL, 0, &need);
    if (r != c->probe) {
      failed++;
      fprintf(stderr, "%s(NULL, 0): %u, want %u (%s)\n", c->name, (unsigned)r, (unsigned)c->probe,
              last_error());
      continue;
    }
    passed++;
    if (c->probe == PV_RESULT_BUFFER_TOO_SMALL) {
      CHECK(need > 0);
      unsigned char *buf = malloc(need + 1);
      memset(buf, 'X', need + 1);
      size_t got = 0;
      EXPECT(c->call(buf, need - 1, &got), PV_RESULT_BUFFER_TOO_SMALL);
      CHECK(got == need && buf[0] == 'X');
      got = 0;
      EXPECT(c->call(buf, need, &got), PV_RESULT_OK);
      CHECK(got == need && buf[need] == 'X');
      free(buf);
    }
    /* NULL with a length is still a NULL pointer. */
    if (strcmp(c->name, "pv_last_error_message") != 0) {
      EXPECT(c->call(NULL, 1, &need), PV_RESULT_NULL_PARAMETER);
    }
  }

  /* Fixed-size outputs (ids, recovery keys): a probe is a too-small buffer,
   * refused before any work. */
  size_t count = 0;
  pv_changeset *cs = NULL;
  char id[PV_ID_BUF_LEN];
  EXPECT(pv_vault_id(P.v, NULL, 0), PV_RESULT_BUFFER_TOO_SMALL);
  EXPECT(pv_vault_id(P.v, NULL, sizeof id), PV_RESULT_NULL_PARAMETER);
  EXPECT(pv_vault_create_prompt(P.v, "{\"title\":\"u\"}", "[]", false, 4, NULL, 0, &cs),
         PV_RESULT_BUFFER_TOO_SMALL);
  OK(pv_vault_prompt_count(P.v, &count));
  CHECK(count == 1 && cs == NULL);
  EXPECT(pv_vault_rotate(P.v, PASSWORD, NULL, 0, &cs), PV_RESULT_BUFFER_TOO_SMALL);
  CHECK(cs == NULL);

  /* The sync's numbers exist once it is done (tests/c/test_sync.c). */
  pv_sync_counts counts;
  EXPECT(pv_sync_report_counts(P.sync, &counts), PV_RESULT_NOT_FOUND);
  NUL(pv_sync_report_counts(NULL, &counts));
  NUL(pv_sync_report_counts(P.sync, NULL));

  pv_login_key_free(P.key);
  pv_download_free(P.dl);
  pv_sync_state_free(P.dl_state);
  pv_sync_free(P.sync);
  pv_sync_state_free(P.state);
  pv_bytes_free(P.file);
  pv_changeset_free(P.del);
  pv_changeset_free(P.all);
  pv_store_free(P.store);
  pv_vault_free(P.v);
}

/* ---------------------------------------------------- version and scalars */

#ifndef PV_CARGO_VERSION
#error "build with -DPV_CARGO_VERSION='\"x.y.z\"' (the crate version, as scripts/test-ffi.sh does)"
#endif

/* The header's macros, pv_version() and Cargo's version agree. */
static void test_version(void) {
  char parts[64];
  snprintf(parts, sizeof parts, "%d.%d.%d", PV_VERSION_MAJOR, PV_VERSION_MINOR, PV_VERSION_PATCH);
  CHECK(strcmp(pv_version(), PV_CARGO_VERSION) == 0);
  CHECK(strcmp(PV_VERSION_STRING, PV_CARGO_VERSION) == 0);
  CHECK(strncmp(PV_VERSION_STRING, parts, strlen(parts)) == 0);
  CHECK(PV_VERSION_NUMBER == PV_VERSION_MAJOR * 1000000 + PV_VERSION_MINOR * 1000 + PV_VERSION_PATCH);
  CHECK(pv_version() == pv_version()); /* static: the same pointer every time */
}

/* Prompt fields without JSON: pv_vault_prompt_info agrees with the summary
 * JSON and follows changes; an unknown prompt is NOT_FOUND. */
static void test_prompt_info(void) {
  char rk[PV_RECOVERY_KEY_BUF_LEN], id[PV_ID_BUF_LEN], v2[PV_ID_BUF_LEN], json[2048];
  pv_vault *v = NULL;
  pv_changeset *cs = NULL;
  pv_prompt_info info;
  size_t n = 0;
  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &v, &cs));
  pv_changeset_free(cs);
  OK(pv_vault_create_prompt(v, "{\"title\":\"t\"}", "[]", true, 1000, id, sizeof id, &cs));
  pv_changeset_free(cs);
  memset(&info, 0x55, sizeof info);
  OK(pv_vault_prompt_info(v, id, &info));
  CHECK(info.favorite && !info.archived && info.version_count == 1 && info.revision == 1);
  CHECK(info.created_ms == 1000 && info.updated_ms == 1000);
  OK(pv_vault_summary(v, id, json, sizeof json, &n));
  char want[64];
  snprintf(want, sizeof want, "\"currentVersion\":\"%s\"", info.current_version);
  CHECK(strlen(info.current_version) == 32 && contains(json, want));
  OK(pv_vault_add_version(v, id, "{\"title\":\"t2\"}", 2000, v2, sizeof v2, &cs));
  pv_changeset_free(cs);
  OK(pv_vault_set_favorite(v, id, false, 3000, &cs));
  pv_changeset_free(cs);
  OK(pv_vault_set_archived(v, id, true, 4000, &cs));
  pv_changeset_free(cs);
  OK(pv_vault_prompt_info(v, id, &info));
  CHECK(!info.favorite && info.archived && info.version_count == 2);
  CHECK(strcmp(info.current_version, v2) == 0);
  CHECK(info.created_ms == 1000 && info.updated_ms == 4000 && info.revision > 1);
  memset(&info, 0x55, sizeof info);
  EXPECT(pv_vault_prompt_info(v, "0123456789abcdef0123456789abcdef", &info), PV_RESULT_NOT_FOUND);
  CHECK(((unsigned char *)&info)[0] == 0x55); /* nothing written */
  EXPECT(pv_vault_prompt_info(v, "not an id", &info), PV_RESULT_ENCODING);
  NUL(pv_vault_prompt_info(NULL, id, &info));
  NUL(pv_vault_prompt_info(v, NULL, &info));
  NUL(pv_vault_prompt_info(v, id, NULL));
  pv_vault_free(v);
}

/* ----------------------------------------------------------------- NULLs */

static void test_nulls(void) {
  char rk[PV_RECOVERY_KEY_BUF_LEN], id[PV_ID_BUF_LEN], vid[PV_ID_BUF_LEN];
  char buf[512];
  unsigned char bytes[512];
  size_t n = 0, cnt = 0;
  bool flag = false;
  uint32_t gen = 0;
  pv_vault *v = NULL, *w = NULL;
  pv_changeset *cs = NULL, *out_cs = NULL;
  pv_store *store = NULL, *out_store = NULL;
  pv_bytes *file = NULL, *out_file = NULL;
  pv_kdf_params kp;
  pv_merge_counts mc;
  size_t a1, a2;

  /* Every free accepts NULL. */
  pv_vault_free(NULL);
  pv_changeset_free(NULL);
  pv_store_free(NULL);
  pv_bytes_free(NULL);
  passed++;

  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &v, &cs));
  OK(pv_store_new(&store));
  OK(pv_store_apply(store, cs));
  pv_changeset_free(cs);
  OK(pv_vault_create_prompt(v, "{\"title\":\"t\"}", "[\"x\"]", false, 1, id, sizeof id, &cs));
  OK(pv_store_apply(store, cs));
  OK(pv_vault_history(v, id, buf, sizeof buf, &n));
  memcpy(vid, buf + 8, 32);
  vid[32] = '\0';
  OK(pv_vault_export(v, "e", &FAST, &file));
  snapshot snap = take_snapshot(store);
  const uint8_t *const *recs = (const uint8_t *const *)snap.records;
  const uint8_t *null_recs[1] = {NULL};
  size_t one = 1;

  NUL(pv_result_name(0, NULL, 8, &n));
  NUL(pv_result_name(0, buf, 8, NULL));
  NUL(pv_result_message(0, NULL, 8, &n));
  NUL(pv_result_message(0, buf, 8, NULL));
  NUL(pv_last_error_message(NULL, 8, &n));
  NUL(pv_last_error_message(buf, 8, NULL));

  NUL(pv_bytes_len(NULL, &n));
  NUL(pv_bytes_len(file, NULL));
  NUL(pv_bytes_copy(NULL, bytes, sizeof bytes, &n));
  NUL(pv_bytes_copy(file, NULL, sizeof bytes, &n));
  NUL(pv_bytes_copy(file, bytes, sizeof bytes, NULL));

  NUL(pv_changeset_has_header(NULL, &flag));
  NUL(pv_changeset_has_header(cs, NULL));
  NUL(pv_changeset_header(NULL, bytes, sizeof bytes, &n));
  NUL(pv_changeset_header(cs, NULL, sizeof bytes, &n));
  NUL(pv_changeset_header(cs, bytes, sizeof bytes, NULL));
  NUL(pv_changeset_put_count(NULL, &cnt));
  NUL(pv_changeset_put_count(cs, NULL));
  NUL(pv_changeset_put(NULL, 0, bytes, sizeof bytes, &n));
  NUL(pv_changeset_put(cs, 0, NULL, sizeof bytes, &n));
  NUL(pv_changeset_put(cs, 0, bytes, sizeof bytes, NULL));
  NUL(pv_changeset_put_storage_key(NULL, 0, buf, sizeof buf, &n));
  NUL(pv_changeset_put_storage_key(cs, 0, NULL, sizeof buf, &n));
  NUL(pv_changeset_put_storage_key(cs, 0, buf, sizeof buf, NULL));
  NUL(pv_changeset_delete_count(NULL, &cnt));
  NUL(pv_changeset_delete_count(cs, NULL));
  NUL(pv_changeset_delete(NULL, 0, buf, sizeof buf, &n));
  NUL(pv_changeset_delete(cs, 0, NULL, sizeof buf, &n));
  NUL(pv_changeset_delete(cs, 0, buf, sizeof buf, NULL));

  NUL(pv_store_new(NULL));
  NUL(pv_store_from_bundle(NULL, 10, &out_store));
  NUL(pv_store_from_bundle(bytes, 10, NULL));
  NUL(pv_store_apply(NULL, cs));
  NUL(pv_store_apply(store, NULL));
  NUL(pv_store_record_count(NULL, &cnt));
  NUL(pv_store_record_count(store, NULL));
  NUL(pv_store_header(NULL, bytes, sizeof bytes, &n));
  NUL(pv_store_header(store, NULL, sizeof bytes, &n));
  NUL(pv_store_header(store, bytes, sizeof bytes, NULL));
  NUL(pv_store_record(NULL, 0, bytes, sizeof bytes, &n));
  NUL(pv_store_record(store, 0, NULL, sizeof bytes, &n));
  NUL(pv_store_record(store, 0, bytes, sizeof bytes, NULL));
  NUL(pv_store_bundle(NULL, bytes, sizeof bytes, &n));
  NUL(pv_store_bundle(store, NULL, sizeof bytes, &n));
  NUL(pv_store_bundle(store, bytes, sizeof bytes, NULL));

  NUL(pv_inspect(NULL, snap.header_len, buf, sizeof buf, &n));
  NUL(pv_inspect(snap.header, snap.header_len, NULL, sizeof buf, &n));
  NUL(pv_inspect(snap.header, snap.header_len, buf, sizeof buf, NULL));
  NUL(pv_inspect_text(NULL, buf, sizeof buf, &n));
  NUL(pv_inspect_text("x", NULL, sizeof buf, &n));
  NUL(pv_inspect_text("x", buf, sizeof buf, NULL));
  NUL(pv_validate_for_store(NULL, 1, id, "h", buf, sizeof buf, &n));
  NUL(pv_validate_for_store(snap.header, snap.header_len, NULL, "h", buf, sizeof buf, &n));
  NUL(pv_validate_for_store(snap.header, snap.header_len, id, NULL, buf, sizeof buf, &n));
  NUL(pv_validate_for_store(snap.header, snap.header_len, id, "h", NULL, sizeof buf, &n));
  NUL(pv_validate_for_store(snap.header, snap.header_len, id, "h", buf, sizeof buf, NULL));

  NUL(pv_vault_create(NULL, &FAST, rk, sizeof rk, &w, &out_cs));
  NUL(pv_vault_create(PASSWORD, NULL, rk, sizeof rk, &w, &out_cs));
  NUL(pv_vault_create(PASSWORD, &FAST, NULL, sizeof rk, &w, &out_cs));
  NUL(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, NULL, &out_cs));
  NUL(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &w, NULL));
  NUL(pv_vault_open(NULL, snap.header_len, recs, snap.lens, snap.count, 0, PASSWORD, &w));
  NUL(pv_vault_open(snap.header, snap.header_len, NULL, snap.lens, snap.count, 0, PASSWORD, &w));
  NUL(pv_vault_open(snap.header, snap.header_len, recs, NULL, snap.count, 0, PASSWORD, &w));
  NUL(pv_vault_open(snap.header, snap.header_len, null_recs, &one, 1, 0, PASSWORD, &w));
  NUL(pv_vault_open(snap.header, snap.header_len, recs, snap.lens, snap.count, 0, NULL, &w));
  NUL(pv_vault_open(snap.header, snap.header_len, recs, snap.lens, snap.count, 0, PASSWORD, NULL));
  NUL(pv_vault_open_with_seen(NULL, 1, recs, snap.lens, snap.count, 0, PASSWORD, "{}", &w));
  NUL(pv_vault_open_with_seen(snap.header, snap.header_len, NULL, snap.lens, snap.count, 0, PASSWORD, "{}", &w));
  NUL(pv_vault_open_with_seen(snap.header, snap.header_len, recs, NULL, snap.count, 0, PASSWORD, "{}", &w));
  NUL(pv_vault_open_with_seen(snap.header, snap.header_len, null_recs, &one, 1, 0, PASSWORD, "{}", &w));
  NUL(pv_vault_open_with_seen(snap.header, snap.header_len, recs, snap.lens, snap.count, 0, NULL, "{}", &w));
  NUL(pv_vault_open_with_seen(snap.header, snap.header_len, recs, snap.lens, snap.count, 0, PASSWORD, NULL, &w));
  NUL(pv_vault_open_with_seen(snap.header, snap.header_len, recs, snap.lens, snap.count, 0, PASSWORD, "{}", NULL));
  NUL(pv_vault_open_store(NULL, 0, PASSWORD, &w));
  NUL(pv_vault_open_store(store, 0, NULL, &w));
  NUL(pv_vault_open_store(store, 0, PASSWORD, NULL));
  CHECK(w == NULL);

  NUL(pv_vault_id(NULL, buf, sizeof buf));
  NUL(pv_vault_id(v, NULL, sizeof buf));
  NUL(pv_vault_key_generation(NULL, &gen));
  NUL(pv_vault_key_generation(v, NULL));
  uint64_t rev = 0;
  NUL(pv_vault_header_revision(NULL, &rev));
  NUL(pv_vault_header_revision(v, NULL));
  NUL(pv_vault_all_records(NULL, &out_cs));
  NUL(pv_vault_all_records(v, NULL));
  NUL(pv_vault_kdf_params(NULL, &kp));
  NUL(pv_vault_kdf_params(v, NULL));
  NUL(pv_vault_header(NULL, bytes, sizeof bytes, &n));
  NUL(pv_vault_header(v, NULL, sizeof bytes, &n));
  NUL(pv_vault_header(v, bytes, sizeof bytes, NULL));
  NUL(pv_vault_seen_revisions(NULL, buf, sizeof buf, &n));
  NUL(pv_vault_seen_revisions(v, NULL, sizeof buf, &n));
  NUL(pv_vault_seen_revisions(v, buf, sizeof buf, NULL));
  NUL(pv_vault_verify(NULL));
  NUL(pv_vault_verify_password(NULL, PASSWORD));
  NUL(pv_vault_verify_password(v, NULL));
  NUL(pv_vault_change_password(NULL, "p", &FAST, &out_cs));
  NUL(pv_vault_change_password(v, NULL, &FAST, &out_cs));
  NUL(pv_vault_change_password(v, "p", NULL, &out_cs));
  NUL(pv_vault_change_password(v, "p", &FAST, NULL));
  NUL(pv_vault_replace_recovery_key(NULL, rk, sizeof rk, &out_cs));
  NUL(pv_vault_replace_recovery_key(v, NULL, sizeof rk, &out_cs));
  NUL(pv_vault_replace_recovery_key(v, rk, sizeof rk, NULL));
  NUL(pv_vault_rotate(NULL, PASSWORD, rk, sizeof rk, &out_cs));
  NUL(pv_vault_rotate(v, NULL, rk, sizeof rk, &out_cs));
  NUL(pv_vault_rotate(v, PASSWORD, NULL, sizeof rk, &out_cs));
  NUL(pv_vault_rotate(v, PASSWORD, rk, sizeof rk, NULL));
  NUL(pv_vault_rotation_pending(NULL, &flag));
  NUL(pv_vault_rotation_pending(v, NULL));
  NUL(pv_vault_finish_rotation(NULL, &out_cs));
  NUL(pv_vault_finish_rotation(v, NULL));
  NUL(pv_vault_merge(NULL, recs, snap.lens, snap.count, &mc, &out_cs));
  NUL(pv_vault_merge(v, NULL, snap.lens, snap.count, &mc, &out_cs));
  NUL(pv_vault_merge(v, recs, NULL, snap.count, &mc, &out_cs));
  NUL(pv_vault_merge(v, null_recs, &one, 1, &mc, &out_cs));
  NUL(pv_vault_merge(v, recs, snap.lens, snap.count, NULL, &out_cs));
  NUL(pv_vault_merge(v, recs, snap.lens, snap.count, &mc, NULL));
  NUL(pv_vault_export(NULL, "e", &FAST, &out_file));
  NUL(pv_vault_export(v, NULL, &FAST, &out_file));
  NUL(pv_vault_export(v, "e", NULL, &out_file));
  NUL(pv_vault_export(v, "e", &FAST, NULL));
  NUL(pv_vault_import(NULL, bytes, 1, "e", 1, &a1, &a2, &out_cs));
  NUL(pv_vault_import(v, NULL, 1, "e", 1, &a1, &a2, &out_cs));
  NUL(pv_vault_import(v, bytes, 1, NULL, 1, &a1, &a2, &out_cs));
  NUL(pv_vault_import(v, bytes, 1, "e", 1, NULL, &a2, &out_cs));
  NUL(pv_vault_import(v, bytes, 1, "e", 1, &a1, NULL, &out_cs));
  NUL(pv_vault_import(v, bytes, 1, "e", 1, &a1, &a2, NULL));

  const char *d = "{\"title\":\"t\"}";
  NUL(pv_vault_create_prompt(NULL, d, "[]", false, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_create_prompt(v, NULL, "[]", false, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_create_prompt(v, d, NULL, false, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_create_prompt(v, d, "[]", false, 1, NULL, sizeof buf, &out_cs));
  NUL(pv_vault_create_prompt(v, d, "[]", false, 1, buf, sizeof buf, NULL));
  NUL(pv_vault_add_version(NULL, id, d, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_add_version(v, NULL, d, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_add_version(v, id, NULL, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_add_version(v, id, d, 1, NULL, sizeof buf, &out_cs));
  NUL(pv_vault_add_version(v, id, d, 1, buf, sizeof buf, NULL));
  NUL(pv_vault_restore_version(NULL, id, vid, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_restore_version(v, NULL, vid, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_restore_version(v, id, NULL, 1, buf, sizeof buf, &out_cs));
  NUL(pv_vault_restore_version(v, id, vid, 1, NULL, sizeof buf, &out_cs));
  NUL(pv_vault_restore_version(v, id, vid, 1, buf, sizeof buf, NULL));
  NUL(pv_vault_version(NULL, id, "", buf, sizeof buf, &n));
  NUL(pv_vault_version(v, NULL, "", buf, sizeof buf, &n));
  NUL(pv_vault_version(v, id, NULL, buf, sizeof buf, &n));
  NUL(pv_vault_version(v, id, "", NULL, sizeof buf, &n));
  NUL(pv_vault_version(v, id, "", buf, sizeof buf, NULL));
  NUL(pv_vault_history(NULL, id, buf, sizeof buf, &n));
  NUL(pv_vault_history(v, NULL, buf, sizeof buf, &n));
  NUL(pv_vault_history(v, id, NULL, sizeof buf, &n));
  NUL(pv_vault_history(v, id, buf, sizeof buf, NULL));
  NUL(pv_vault_diff(NULL, id, vid, vid, buf, sizeof buf, &n));
  NUL(pv_vault_diff(v, NULL, vid, vid, buf, sizeof buf, &n));
  NUL(pv_vault_diff(v, id, NULL, vid, buf, sizeof buf, &n));
  NUL(pv_vault_diff(v, id, vid, NULL, buf, sizeof buf, &n));
  NUL(pv_vault_diff(v, id, vid, vid, NULL, sizeof buf, &n));
  NUL(pv_vault_diff(v, id, vid, vid, buf, sizeof buf, NULL));
  NUL(pv_vault_prune_history(NULL, id, 1, 1, &out_cs));
  NUL(pv_vault_prune_history(v, NULL, 1, 1, &out_cs));
  NUL(pv_vault_prune_history(v, id, 1, 1, NULL));
  NUL(pv_vault_delete_version(NULL, id, vid, 1, &out_cs));
  NUL(pv_vault_delete_version(v, NULL, vid, 1, &out_cs));
  NUL(pv_vault_delete_version(v, id, NULL, 1, &out_cs));
  NUL(pv_vault_delete_version(v, id, vid, 1, NULL));
  NUL(pv_vault_delete_prompt(NULL, id, &out_cs));
  NUL(pv_vault_delete_prompt(v, NULL, &out_cs));
  NUL(pv_vault_delete_prompt(v, id, NULL));
  NUL(pv_vault_add_tags(NULL, id, "[]", 1, &out_cs));
  NUL(pv_vault_add_tags(v, NULL, "[]", 1, &out_cs));
  NUL(pv_vault_add_tags(v, id, NULL, 1, &out_cs));
  NUL(pv_vault_add_tags(v, id, "[]", 1, NULL));
  NUL(pv_vault_remove_tags(NULL, id, "[]", 1, &out_cs));
  NUL(pv_vault_remove_tags(v, NULL, "[]", 1, &out_cs));
  NUL(pv_vault_remove_tags(v, id, NULL, 1, &out_cs));
  NUL(pv_vault_remove_tags(v, id, "[]", 1, NULL));
  NUL(pv_vault_rename_tag(NULL, "x", "y", 1, &out_cs));
  NUL(pv_vault_rename_tag(v, NULL, "y", 1, &out_cs));
  NUL(pv_vault_rename_tag(v, "x", NULL, 1, &out_cs));
  NUL(pv_vault_rename_tag(v, "x", "y", 1, NULL));
  NUL(pv_vault_tags(NULL, buf, sizeof buf, &n));
  NUL(pv_vault_tags(v, NULL, sizeof buf, &n));
  NUL(pv_vault_tags(v, buf, sizeof buf, NULL));
  NUL(pv_vault_set_favorite(NULL, id, true, 1, &out_cs));
  NUL(pv_vault_set_favorite(v, NULL, true, 1, &out_cs));
  NUL(pv_vault_set_favorite(v, id, true, 1, NULL));
  NUL(pv_vault_set_archived(NULL, id, true, 1, &out_cs));
  NUL(pv_vault_set_archived(v, NULL, true, 1, &out_cs));
  NUL(pv_vault_set_archived(v, id, true, 1, NULL));
  NUL(pv_vault_list(NULL, "{}", buf, sizeof buf, &n));
  NUL(pv_vault_list(v, NULL, buf, sizeof buf, &n));
  NUL(pv_vault_list(v, "{}", NULL, sizeof buf, &n));
  NUL(pv_vault_list(v, "{}", buf, sizeof buf, NULL));
  NUL(pv_vault_summary(NULL, id, buf, sizeof buf, &n));
  NUL(pv_vault_summary(v, NULL, buf, sizeof buf, &n));
  NUL(pv_vault_summary(v, id, NULL, sizeof buf, &n));
  NUL(pv_vault_summary(v, id, buf, sizeof buf, NULL));
  NUL(pv_vault_prompt_ids(NULL, buf, sizeof buf, &n));
  NUL(pv_vault_prompt_ids(v, NULL, sizeof buf, &n));
  NUL(pv_vault_prompt_ids(v, buf, sizeof buf, NULL));
  NUL(pv_vault_prompt_count(NULL, &cnt));
  NUL(pv_vault_prompt_count(v, NULL));
  pv_result dcode;
  NUL(pv_vault_damaged_count(NULL, &cnt));
  NUL(pv_vault_damaged_count(v, NULL));
  NUL(pv_vault_damaged_at(NULL, 0, buf, sizeof buf, &dcode, &cnt));
  NUL(pv_vault_damaged_at(v, 0, NULL, sizeof buf, &dcode, &cnt));
  NUL(pv_vault_damaged_at(v, 0, buf, sizeof buf, NULL, &cnt));
  NUL(pv_vault_damaged_at(v, 0, buf, sizeof buf, &dcode, NULL));
  NUL(pv_vault_damaged_reason(NULL, 0, buf, sizeof buf, &n));
  NUL(pv_vault_damaged_reason(v, 0, NULL, sizeof buf, &n));
  NUL(pv_vault_damaged_reason(v, 0, buf, sizeof buf, NULL));
  NUL(pv_vault_publish(NULL, id, "", buf, sizeof buf, &n));
  NUL(pv_vault_publish(v, NULL, "", buf, sizeof buf, &n));
  NUL(pv_vault_publish(v, id, NULL, buf, sizeof buf, &n));
  NUL(pv_vault_publish(v, id, "", NULL, sizeof buf, &n));
  NUL(pv_vault_publish(v, id, "", buf, sizeof buf, NULL));

  /* Nothing above created or changed anything. */
  CHECK(w == NULL && out_cs == NULL && out_store == NULL && out_file == NULL);
  OK(pv_vault_prompt_count(v, &cnt));
  CHECK(cnt == 1);
  OK(pv_vault_key_generation(v, &gen));
  CHECK(gen == 1);
  OK(pv_vault_verify_password(v, PASSWORD));
  OK(pv_last_error_message(buf, sizeof buf, &n));
  NUL(pv_vault_verify(NULL));
  OK(pv_last_error_message(buf, sizeof buf, &n));
  CHECK(contains(buf, "`vault` is NULL"));

  free_snapshot(&snap);
  pv_changeset_free(cs);
  pv_bytes_free(file);
  pv_vault_free(v);
  pv_store_free(store);
}

/* --------------------------------------------------------------- vectors */

static void snapshot_matches(const vec_case *c, const pv_vault *v) {
  size_t n = 0;
  OK(pv_vault_prompt_ids(v, big, BIG, &n));
  if (strcmp(big, c->ids) != 0) {
    fprintf(stderr, "%s: ids %s, want %s\n", c->name, big, c->ids);
  }
  CHECK(strcmp(big, c->ids) == 0);
  for (size_t i = 0; i < c->n_prompts; i++) {
    const vec_prompt *p = &c->prompts[i];
    OK(pv_vault_summary(v, p->id, big, BIG, &n));
    for (size_t k = 0; k < 5; k++) {
      if (!contains(big, p->needles[k])) {
        fprintf(stderr, "%s: summary %s lacks %s\n", c->name, big, p->needles[k]);
      }
      CHECK(contains(big, p->needles[k]));
    }
    OK(pv_vault_history(v, p->id, big, BIG, &n));
    if (strcmp(big, p->history) != 0) {
      fprintf(stderr, "%s: history %s, want %s\n", c->name, big, p->history);
    }
    CHECK(strcmp(big, p->history) == 0);
    for (size_t k = 0; k < p->n_versions; k++) {
      OK(pv_vault_version(v, p->id, p->vids[k], big, BIG, &n));
      if (strcmp(big, p->vjson[k]) != 0) {
        fprintf(stderr, "%s: version %s, want %s\n", c->name, big, p->vjson[k]);
      }
      CHECK(strcmp(big, p->vjson[k]) == 0);
    }
  }
}

static void test_vectors(void) {
  size_t ran = 0;
  size_t n = 0;
  char name[64];
  for (size_t i = 0; i < VECTOR_CASE_COUNT; i++) {
    const vec_case *c = &VECTOR_CASES[i];
    pv_vault *v = NULL;
    pv_changeset *cs = NULL;
    pv_result r = PV_RESULT_OK;
    if (c->type == 0) {
      r = pv_vault_open(c->header, c->header_len, c->records, c->lens, c->n_records, c->cred,
                        c->secret, &v);
      if (r == PV_RESULT_OK) r = pv_vault_verify(v);
    } else if (c->type == 1) {
      char rk[PV_RECOVERY_KEY_BUF_LEN];
      size_t a1 = 0, a2 = 0;
      OK(pv_vault_create("scratch", &FAST, rk, sizeof rk, &v, &cs));
      pv_changeset_free(cs);
      cs = NULL;
      r = pv_vault_import(v, c->header, c->header_len, c->secret, 0, &a1, &a2, &cs);
      pv_changeset_free(cs);
    } else {
      r = pv_inspect_text(c->text, big, BIG, &n);
    }
    if (c->error != NULL) {
      OK(pv_result_name(r, name, sizeof name, &n));
      if (strcmp(name, c->error) != 0) {
        fprintf(stderr, "%s: got %s, want %s\n", c->name, name, c->error);
      }
      CHECK(strcmp(name, c->error) == 0);
    } else {
      if (r != PV_RESULT_OK) fprintf(stderr, "%s: failed: %s\n", c->name, last_error());
      CHECK(r == PV_RESULT_OK);
      if (r == PV_RESULT_OK && c->type == 2) {
        if (strcmp(big, c->inspect) != 0) {
          fprintf(stderr, "%s: inspect %s, want %s\n", c->name, big, c->inspect);
        }
        CHECK(strcmp(big, c->inspect) == 0);
      } else if (r == PV_RESULT_OK) {
        snapshot_matches(c, v);
      }
    }
    pv_vault_free(v);
    ran++;
  }
  CHECK(ran == EXPECTED_VECTOR_CASES);
  printf("vectors: %zu cases\n", ran);
}

/* --------------------------------------------------------------- threads */

/* The documented thread model: queries on one `const pv_vault *` may run
 * concurrently, and the last-error message is per thread. */
typedef struct {
  const pv_vault *vault;
  const char *id;
  int bad; /* 1: this thread makes failing calls */
  int errors;
} thread_job;

static void *thread_main(void *arg) {
  thread_job *job = arg;
  char buf[4096], msg[512];
  size_t n = 0;
  for (int i = 0; i < 20; i++) {
    if (job->bad) {
      if (pv_vault_history(job->vault, "zz", buf, sizeof buf, &n) != PV_RESULT_ENCODING) job->errors++;
      if (pv_last_error_message(msg, sizeof msg, &n) != PV_RESULT_OK || !contains(msg, "id")) job->errors++;
    } else {
      if (pv_vault_list(job->vault, "{\"text\":\"body\"}", buf, sizeof buf, &n) != PV_RESULT_OK ||
          !contains(buf, job->id)) {
        job->errors++;
      }
      if (pv_last_error_message(msg, sizeof msg, &n) != PV_RESULT_OK || msg[0] != '\0') job->errors++;
    }
  }
  return NULL;
}

static void test_threads(void) {
  char rk[PV_RECOVERY_KEY_BUF_LEN], id[PV_ID_BUF_LEN];
  pv_vault *v = NULL;
  pv_changeset *cs = NULL;
  OK(pv_vault_create(PASSWORD, &FAST, rk, sizeof rk, &v, &cs));
  pv_changeset_free(cs);
  OK(pv_vault_create_prompt(v, "{\"title\":\"t\",\"body\":\"a body\"}", "[]", false, 1, id, sizeof id, &cs));
  pv_changeset_free(cs);
  pthread_t t[4];
  thread_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (thread_job){v, id, i % 2, 0};
    CHECK(pthread_create(&t[i], NULL, thread_main, &jobs[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    CHECK(pthread_join(t[i], NULL) == 0);
    CHECK(jobs[i].errors == 0);
  }
  pv_vault_free(v);
}

int main(void) {
  big = malloc(BIG);
  test_version();
  test_error_codes();
  test_small_buffers();
  test_size_probes();
  test_prompt_info();
  test_nulls();
  test_vectors();
  test_story();
  test_threads();
  free(big);
  printf("c-tests: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

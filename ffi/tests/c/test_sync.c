/*
 * Two devices sync one vault through a real promptvault-server, with the
 * app's own HTTP stack (libcurl) and nothing but conversions in the
 * binding: the core decides every request (pv_sync_*), the app sends it
 * and hands back the status and body, and stores the state blob.
 *
 *   test_sync BASE_URL     (e.g. http://127.0.0.1:PORT, a running server)
 *
 * Device A creates a vault, registers, adds prompts, syncs. Device B (same
 * password) logs in, downloads, syncs. Both edit offline; sync A, B, A;
 * both must hold the same prompts and histories. Then B changes the
 * password, pushes the new header and makes the account's login keys follow
 * it (rekey, registering the recovery login too); A's next sync stops with
 * PV_RESULT_HEADER_CHANGED, A pulls the newer header, reopens with the new
 * password and syncs. A third device logs in with the recovery key; a
 * wrong password is refused; the account is deleted. Prints "N passed, M
 * failed".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "promptvault.h"

static int passed, failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      passed++;                                                                \
    } else {                                                                   \
      failed++;                                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* Stops at a failed call with the library's message: the rest depends on it. */
static void ok(pv_result r, const char *what, int line) {
  if (r == PV_RESULT_OK) {
    passed++;
    return;
  }
  char name[64] = "?", msg[1024] = "";
  size_t n = 0;
  if (pv_result_name(r, name, sizeof name, &n) != PV_RESULT_OK) name[0] = '\0';
  if (pv_last_error_message(msg, sizeof msg, &n) != PV_RESULT_OK) msg[0] = '\0';
  fprintf(stderr, "test_sync.c:%d: %s: %s: %s\n", line, what, name, msg);
  printf("%d passed, %d failed\n", passed, failed + 1);
  exit(1);
}
#define OK(call) ok((call), #call, __LINE__)

/* Calls a text-output function, sizing the buffer by a first call
 * (PV_RESULT_BUFFER_TOO_SMALL reports the size); a heap string. */
#define FETCH(out, call_with_buf)        \
  do {                                   \
    char probe_[1];                      \
    size_t need_ = 0;                    \
    char *buf = probe_;                  \
    size_t buf_len = sizeof probe_;      \
    size_t *out_len = &need_;            \
    pv_result r_ = (call_with_buf);      \
    if (r_ == PV_RESULT_BUFFER_TOO_SMALL) { \
      buf = malloc(need_);               \
      buf_len = need_;                   \
      r_ = (call_with_buf);              \
    } else {                             \
      buf = calloc(1, 1);                \
    }                                    \
    OK(r_);                              \
    (out) = buf;                         \
  } while (0)

static const pv_kdf_params PARAMS = {19456, 1, 1}; /* the lowest accepted: fast */
static const char *PASSWORD = "correct horse battery";
static const char *NEW_PASSWORD = "tr0ub4dor&3 staple";
static const char *password = "correct horse battery"; /* the account's, as the user knows it */
static const char *base;
static char account[64];

/* ---- HTTP (the app's part) ------------------------------------------------- */

typedef struct {
  char *data;
  size_t len;
} answer;

static size_t collect(char *p, size_t size, size_t n, void *user) {
  answer *a = user;
  size_t more = size * n;
  char *grown = realloc(a->data, a->len + more + 1);
  if (grown == NULL) return 0;
  a->data = grown;
  memcpy(a->data + a->len, p, more);
  a->len += more;
  a->data[a->len] = '\0';
  return more;
}

/* POST `body` to base + path; the answer (NUL-terminated) and its status. */
static answer post(const char *path, const char *token, const char *body, long *status) {
  answer a = {calloc(1, 1), 0};
  char url[256], auth[256];
  snprintf(url, sizeof url, "%s%s", base, path);
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  if (token != NULL) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    fprintf(stderr, "POST %s: %s\n", url, curl_easy_strerror(rc));
    *status = 0;
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return a;
}

/* ---- a device ---------------------------------------------------------------- */

typedef struct {
  const char *name;
  pv_vault *vault;
  pv_store *store;
  pv_sync_state *state;
  char *saved_state; /* the persisted blob */
  char token[128];
} device;

static void save(device *d, pv_changeset *changes) {
  OK(pv_store_apply(d->store, changes));
  pv_changeset_free(changes);
}

/* What the app persists at `persist`: the state blob (and the store's bundle,
 * kept in memory here). Reloading the blob checks it round-trips. */
static void persist(device *d) {
  char *json = NULL;
  FETCH(json, pv_sync_state_to_json(d->state, buf, buf_len, out_len));
  free(d->saved_state);
  d->saved_state = json;
  pv_sync_state *again = NULL;
  OK(pv_sync_state_from_json(d->saved_state, &again));
  pv_sync_state_free(d->state);
  d->state = again;
}

/* A challenge for `action`: the server's answer, as text. */
static char *challenge(const char *action) {
  char body[256];
  long status = 0;
  snprintf(body, sizeof body, "{\"account\":\"%s\",\"action\":\"%s\"}", account, action);
  answer a = post("/v1/challenge", NULL, body, &status);
  CHECK(status == 200);
  return a.data;
}

/* Posts a login or registration; the library reads the answer (the token,
 * or the server's typed refusal as PV_RESULT_SERVER_REFUSED). */
static pv_result try_session(device *d, const char *path, const char *body, char **session) {
  long status = 0;
  size_t n = 0;
  answer a = post(path, NULL, body, &status);
  pv_result r = pv_session_token((uint16_t)status, (const uint8_t *)a.data, a.len, d->token,
                                 sizeof d->token, &n);
  if (r == PV_RESULT_OK) {
    CHECK(status == 200 && n > 1 && strlen(d->token) == n - 1);
    *session = a.data;
  } else {
    free(a.data);
  }
  return r;
}

static void take_session(device *d, const char *path, const char *body, char **session) {
  OK(try_session(d, path, body, session));
}

static void do_register(device *d) {
  unsigned char header[4096];
  size_t header_len = 0;
  OK(pv_vault_header(d->vault, header, sizeof header, &header_len));
  pv_login_key *key = NULL;
  OK(pv_login_key_from_header(header, header_len, password, &key));
  char *c = challenge("register");
  char *body = NULL, *session = NULL;
  FETCH(body, pv_register_request(key, c, base, account, header, header_len, buf, buf_len, out_len));
  take_session(d, "/v1/register", body, &session);
  free(c);
  free(body);
  free(session);
  pv_login_key_free(key);
}

/* The password login key for the account's current salt (a pre-login). */
static pv_login_key *password_key(const char *pw) {
  char pre[128];
  long status = 0;
  snprintf(pre, sizeof pre, "{\"account\":\"%s\"}", account);
  answer p = post("/v1/prelogin", NULL, pre, &status);
  CHECK(status == 200);
  pv_login_key *key = NULL;
  OK(pv_login_key_from_prelogin(p.data, pw, &key));
  free(p.data);
  return key;
}

/* Logs in with `key`; the library's reading of the answer. */
static pv_result try_login(device *d, const pv_login_key *key, char **session) {
  char *c = challenge("login");
  char *body = NULL;
  FETCH(body, pv_login_request(key, c, base, account, buf, buf_len, out_len));
  pv_result r = try_session(d, "/v1/login", body, session);
  free(c);
  free(body);
  return r;
}

/* Logs in with the password; the server's session answer (heap). */
static char *do_login(device *d) {
  pv_login_key *key = password_key(password);
  char *session = NULL;
  OK(try_login(d, key, &session));
  pv_login_key_free(key);
  return session;
}

/* The message of the error that ended the last sync that failed. */
static char sync_error[1024];

/* One whole sync: the core's steps, the app's HTTP. The report (heap), or
 * NULL and the error that ended the sync (its message in sync_error). */
static pv_result try_sync(device *d, char **report) {
  pv_sync *s = NULL;
  pv_result r = PV_RESULT_OK;
  *report = NULL;
  OK(pv_sync_start(d->vault, d->state, &s));
  for (int steps = 0; steps < 100; steps++) {
    bool done = false, keep = false;
    uint32_t backoff = 0;
    OK(pv_sync_done(s, &done));
    OK(pv_sync_persist(s, &keep));
    if (keep) persist(d);
    if (done) break;
    OK(pv_sync_backoff(s, &backoff));
    if (backoff > 0) usleep(1000u * backoff);
    char *method = NULL, *path = NULL, *body = NULL;
    FETCH(method, pv_sync_request_method(s, buf, buf_len, out_len));
    FETCH(path, pv_sync_request_path(s, buf, buf_len, out_len));
    FETCH(body, pv_sync_request_body(s, buf, buf_len, out_len));
    CHECK(strcmp(method, "POST") == 0);
    long status = 0;
    answer a = post(path, d->token, body, &status);
    r = pv_sync_resume(s, d->vault, d->store, d->state, (uint16_t)status,
                       (const uint8_t *)a.data, a.len);
    free(a.data);
    free(method);
    free(path);
    free(body);
    if (r != PV_RESULT_OK) {
      /* Read before the next call clears it. */
      size_t n = 0;
      if (pv_last_error_message(sync_error, sizeof sync_error, &n) != PV_RESULT_OK) sync_error[0] = '\0';
      fprintf(stderr, "%s sync ended: %s\n", d->name, sync_error);
      break;
    }
  }
  if (r == PV_RESULT_OK) {
    FETCH(*report, pv_sync_report(s, buf, buf_len, out_len));
    printf("%s sync: %s\n", d->name, *report);
    /* The same report as numbers (pv_sync_report_counts): no JSON parser. */
    pv_sync_counts counts;
    OK(pv_sync_report_counts(s, &counts));
    char want[160];
    snprintf(want, sizeof want, "\"pulled\":%zu,", counts.pulled);
    CHECK(strstr(*report, want) != NULL);
    snprintf(want, sizeof want, "\"pushed\":%zu,\"deleted\":%zu,\"commits\":%u,", counts.pushed,
             counts.deleted, (unsigned)counts.commits);
    CHECK(strstr(*report, want) != NULL);
    snprintf(want, sizeof want, "\"cursor\":%llu}", (unsigned long long)counts.cursor);
    CHECK(strstr(*report, want) != NULL);
  }
  pv_sync_free(s);
  return r;
}

static char *do_sync(device *d) {
  char *report = NULL;
  OK(try_sync(d, &report));
  return report;
}

/* Pulls every page of a pv_download. */
static void pull_pages(device *d, pv_download *dl) {
  for (bool more = true; more;) {
    char *body = NULL;
    FETCH(body, pv_download_request_body(dl, buf, buf_len, out_len));
    long status = 0;
    answer a = post("/v1/pull", d->token, body, &status);
    OK(pv_download_absorb(dl, (uint16_t)status, (const uint8_t *)a.data, a.len, &more));
    free(a.data);
    free(body);
  }
}

/* A fresh device: pull the vault the server holds for the session (of a
 * login with the password or the recovery key), open it with `credential`. */
static void download_with(device *d, char *session, uint32_t kind, const char *credential) {
  OK(pv_sync_state_new(&d->state));
  pv_download *dl = NULL;
  OK(pv_download_start(session, d->state, &dl));
  free(session);
  pull_pages(d, dl);
  unsigned char *header = NULL;
  size_t header_len = 0;
  unsigned char probe[1];
  CHECK(pv_download_header(dl, probe, sizeof probe, &header_len) == PV_RESULT_BUFFER_TOO_SMALL);
  header = malloc(header_len);
  OK(pv_download_header(dl, header, header_len, &header_len));
  const uint8_t *no_records[1] = {NULL};
  size_t no_lens[1] = {0};
  OK(pv_vault_open(header, header_len, no_records, no_lens, 0, kind, credential, &d->vault));
  free(header);
  OK(pv_store_new(&d->store));
  OK(pv_store_put_header(d->store, d->vault));
  OK(pv_download_finish(dl, d->vault, d->store, d->state));
  pv_download_free(dl);
  persist(d);
}

static void do_download(device *d) {
  download_with(d, do_login(d), PV_CREDENTIAL_PASSWORD, password);
}

/* After PV_RESULT_HEADER_CHANGED: pull the server's newer header, open it
 * with the store's records and the password the user now gives (the old
 * one no longer opens it), and put it into the store. */
static void reopen_with_newer_header(device *d, const char *old_pw, const char *new_pw) {
  pv_download *dl = NULL;
  OK(pv_download_start_pull(d->vault, d->state, &dl));
  pull_pages(d, dl);
  unsigned char probe[1], *header = NULL;
  size_t header_len = 0, count = 0;
  CHECK(pv_download_newer_header(dl, d->vault, probe, sizeof probe, &header_len) ==
        PV_RESULT_BUFFER_TOO_SMALL);
  header = malloc(header_len);
  OK(pv_download_newer_header(dl, d->vault, header, header_len, &header_len));
  pv_download_free(dl);
  OK(pv_store_record_count(d->store, &count));
  uint8_t **records = calloc(count + 1, sizeof *records);
  size_t *lens = calloc(count + 1, sizeof *lens);
  for (size_t i = 0; i < count; i++) {
    CHECK(pv_store_record(d->store, i, probe, sizeof probe, &lens[i]) == PV_RESULT_BUFFER_TOO_SMALL);
    records[i] = malloc(lens[i]);
    OK(pv_store_record(d->store, i, records[i], lens[i], &lens[i]));
  }
  pv_vault *fresh = NULL;
  uint64_t before = 0, after = 0;
  CHECK(pv_vault_open(header, header_len, (const uint8_t *const *)records, lens, count,
                      PV_CREDENTIAL_PASSWORD, old_pw, &fresh) == PV_RESULT_AUTHENTICATION);
  CHECK(fresh == NULL);
  OK(pv_vault_open(header, header_len, (const uint8_t *const *)records, lens, count,
                   PV_CREDENTIAL_PASSWORD, new_pw, &fresh));
  OK(pv_vault_header_revision(d->vault, &before));
  OK(pv_vault_header_revision(fresh, &after));
  CHECK(after > before);
  pv_vault_free(d->vault);
  d->vault = fresh;
  OK(pv_store_put_header(d->store, d->vault));
  unsigned char stored[4096];
  size_t stored_len = 0;
  OK(pv_store_header(d->store, stored, sizeof stored, &stored_len));
  CHECK(stored_len == header_len && memcmp(stored, header, header_len) == 0);
  for (size_t i = 0; i < count; i++) free(records[i]);
  free(records);
  free(lens);
  free(header);
}

/* Posts a body to an account endpoint with the device's session: rekey or
 * deletion. The HTTP status. */
static long account_call(device *d, const char *path, const char *body) {
  long status = 0;
  answer a = post(path, d->token, body, &status);
  free(a.data);
  return status;
}

/* After a password change pushed from `d`: the account's password login key
 * follows the new header, and the recovery login is registered. */
static void do_rekey(device *d, const char *new_pw, const char *recovery_key) {
  unsigned char header[4096];
  size_t header_len = 0;
  OK(pv_vault_header(d->vault, header, sizeof header, &header_len));
  pv_login_key *key = NULL, *recovery = NULL;
  OK(pv_login_key_from_header(header, header_len, new_pw, &key));
  OK(pv_login_key_from_recovery_key(recovery_key, &recovery));
  char *c = challenge("rekey"), *body = NULL;
  FETCH(body, pv_rekey_request(key, recovery, c, base, account, buf, buf_len, out_len));
  CHECK(account_call(d, "/v1/account/keys", body) == 200);
  free(c);
  free(body);
  pv_login_key_free(key);
  pv_login_key_free(recovery);
}

static void add_prompt(device *d, const char *title, const char *body, uint64_t now, char *id) {
  char draft[512];
  pv_changeset *c = NULL;
  snprintf(draft, sizeof draft, "{\"title\":\"%s\",\"body\":\"%s\"}", title, body);
  OK(pv_vault_create_prompt(d->vault, draft, "[\"sync\"]", false, now, id, PV_ID_BUF_LEN, &c));
  save(d, c);
}

static void add_version(device *d, const char *id, const char *title, const char *body, uint64_t now) {
  char draft[512], version[PV_ID_BUF_LEN];
  pv_changeset *c = NULL;
  snprintf(draft, sizeof draft, "{\"title\":\"%s\",\"body\":\"%s\"}", title, body);
  OK(pv_vault_add_version(d->vault, id, draft, now, version, sizeof version, &c));
  save(d, c);
}

static bool report_has(const char *report, const char *field, long at_least) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", field);
  const char *p = strstr(report, pat);
  return p != NULL && strtol(p + strlen(pat), NULL, 10) >= at_least;
}

/* Both devices hold the same prompts and the same history for each. */
static void same_everywhere(device *a, device *b, size_t expect_prompts) {
  static const char *all = "{\"archived\":\"include\"}";
  char *la = NULL, *lb = NULL, *ids = NULL, *idsb = NULL;
  FETCH(la, pv_vault_list(a->vault, all, buf, buf_len, out_len));
  FETCH(lb, pv_vault_list(b->vault, all, buf, buf_len, out_len));
  CHECK(strcmp(la, lb) == 0);
  FETCH(ids, pv_vault_prompt_ids(a->vault, buf, buf_len, out_len));
  FETCH(idsb, pv_vault_prompt_ids(b->vault, buf, buf_len, out_len));
  CHECK(strcmp(ids, idsb) == 0);
  size_t count = 0;
  for (const char *p = strchr(ids, '"'); p != NULL; p = strchr(p + 34, '"')) {
    char id[PV_ID_BUF_LEN];
    memcpy(id, p + 1, 32);
    id[32] = '\0';
    char *ha = NULL, *hb = NULL;
    FETCH(ha, pv_vault_history(a->vault, id, buf, buf_len, out_len));
    FETCH(hb, pv_vault_history(b->vault, id, buf, buf_len, out_len));
    CHECK(strcmp(ha, hb) == 0);
    free(ha);
    free(hb);
    count++;
  }
  CHECK(count == expect_prompts);
  free(la);
  free(lb);
  free(ids);
  free(idsb);
}

static void drop(device *d) {
  pv_vault_free(d->vault);
  pv_store_free(d->store);
  pv_sync_state_free(d->state);
  free(d->saved_state);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_sync BASE_URL\n");
    return 2;
  }
  base = argv[1];
  snprintf(account, sizeof account, "c-sync-%ld", (long)getpid());
  curl_global_init(CURL_GLOBAL_DEFAULT);
  device a = {.name = "A"}, b = {.name = "B"};
  char p1[PV_ID_BUF_LEN], p2[PV_ID_BUF_LEN], p3[PV_ID_BUF_LEN], p4[PV_ID_BUF_LEN];
  char recovery[PV_RECOVERY_KEY_BUF_LEN];
  pv_changeset *c = NULL;
  char *r = NULL;

  /* A: create, register, add prompts, sync (pushes everything). */
  OK(pv_vault_create(PASSWORD, &PARAMS, recovery, sizeof recovery, &a.vault, &c));
  OK(pv_store_new(&a.store));
  save(&a, c);
  OK(pv_sync_state_new(&a.state));
  do_register(&a);
  add_prompt(&a, "Lighthouse", "a lighthouse in a storm", 1700000000000, p1);
  add_prompt(&a, "Haiku bot", "answer only in haiku", 1700000001000, p2);
  r = do_sync(&a);
  CHECK(report_has(r, "commits", 1) && report_has(r, "pushed", 2));
  free(r);

  /* B: same password, a fresh device: log in, download, sync. */
  do_download(&b);
  r = do_sync(&b);
  CHECK(report_has(r, "commits", 0));
  free(r);
  same_everywhere(&a, &b, 2);

  /* Both edit offline. */
  add_version(&a, p1, "Lighthouse", "a lighthouse in a storm at night", 1700000002000);
  add_prompt(&a, "From A", "written offline on A", 1700000003000, p3);
  add_version(&b, p2, "Haiku bot", "answer only in haiku, in English", 1700000004000);
  add_prompt(&b, "From B", "written offline on B", 1700000005000, p4);

  /* Sync A, B, A: everything meets everywhere. */
  r = do_sync(&a);
  CHECK(report_has(r, "pushed", 1));
  free(r);
  r = do_sync(&b);
  CHECK(report_has(r, "promptsAdded", 1) && report_has(r, "versionsAdded", 1) &&
        report_has(r, "pushed", 1));
  free(r);
  r = do_sync(&a);
  CHECK(report_has(r, "promptsAdded", 1) && report_has(r, "versionsAdded", 1));
  free(r);
  same_everywhere(&a, &b, 4);

  /* A stale token: the server's typed refusal keeps its code in the message. */
  pv_sync *s = NULL;
  OK(pv_sync_start(a.vault, a.state, &s));
  char *body = NULL;
  FETCH(body, pv_sync_request_body(s, buf, buf_len, out_len));
  long status = 0;
  answer ans = post("/v1/pull", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", body, &status);
  CHECK(status == 401);
  CHECK(pv_sync_resume(s, a.vault, a.store, a.state, (uint16_t)status, (const uint8_t *)ans.data,
                       ans.len) == PV_RESULT_SERVER_REFUSED);
  char msg[512];
  size_t n = 0;
  OK(pv_last_error_message(msg, sizeof msg, &n));
  CHECK(strstr(msg, "unauthorized") != NULL);
  CHECK(pv_sync_resume(s, a.vault, a.store, NULL, 200, (const uint8_t *)"", 0) ==
        PV_RESULT_NULL_PARAMETER);
  free(ans.data);
  free(body);
  pv_sync_free(s);

  /* B changes the password: the new header is pushed by a sync, then the
   * account's login keys follow it (and the recovery login is registered). */
  OK(pv_vault_change_password(b.vault, NEW_PASSWORD, &PARAMS, &c));
  save(&b, c);
  r = do_sync(&b);
  CHECK(report_has(r, "pushed", 1) && report_has(r, "commits", 1));
  free(r);
  do_rekey(&b, NEW_PASSWORD, recovery);
  password = NEW_PASSWORD;

  /* A, still under the old header, edits and syncs: the core stops the sync
   * with PV_RESULT_HEADER_CHANGED before pushing anything. */
  add_version(&a, p3, "From A", "written offline on A, edited again", 1700000006000);
  char *none = NULL;
  CHECK(try_sync(&a, &none) == PV_RESULT_HEADER_CHANGED);
  CHECK(none == NULL);
  CHECK(strstr(sync_error, "password") != NULL);
  /* A pulls the newer header, reopens with the new password, syncs. */
  reopen_with_newer_header(&a, PASSWORD, NEW_PASSWORD);
  r = do_sync(&a);
  CHECK(report_has(r, "pushed", 1) && report_has(r, "commits", 1));
  free(r);
  r = do_sync(&b);
  CHECK(report_has(r, "versionsAdded", 1));
  free(r);
  same_everywhere(&a, &b, 4);

  /* The old password no longer logs in: the server's refusal comes back as
   * PV_RESULT_SERVER_REFUSED with its code. */
  device c_dev = {.name = "C"};
  pv_login_key *old_key = password_key(PASSWORD);
  char *session = NULL;
  CHECK(try_login(&c_dev, old_key, &session) == PV_RESULT_SERVER_REFUSED);
  OK(pv_last_error_message(msg, sizeof msg, &n));
  CHECK(strstr(msg, "authentication_failed") != NULL);
  pv_login_key_free(old_key);

  /* C: a new device that has only the recovery key logs in with it,
   * downloads and opens the vault with it. */
  pv_login_key *rkey = NULL;
  CHECK(pv_login_key_from_recovery_key("not a recovery key", &rkey) ==
        PV_RESULT_INVALID_RECOVERY_KEY);
  OK(pv_login_key_from_recovery_key(recovery, &rkey));
  OK(try_login(&c_dev, rkey, &session));
  download_with(&c_dev, session, PV_CREDENTIAL_RECOVERY_KEY, recovery);
  r = do_sync(&c_dev);
  CHECK(report_has(r, "commits", 0));
  free(r);
  same_everywhere(&a, &c_dev, 4);

  /* C deletes the account, re-authenticated by the recovery login key;
   * afterwards no login and no pull succeed. */
  char *ch = challenge("delete");
  FETCH(body, pv_delete_account_request(rkey, ch, base, account, buf, buf_len, out_len));
  CHECK(account_call(&c_dev, "/v1/account/delete", body) == 200);
  free(ch);
  free(body);
  pv_login_key_free(rkey);
  pv_login_key *new_key = password_key(NEW_PASSWORD);
  CHECK(try_login(&b, new_key, &session) == PV_RESULT_SERVER_REFUSED);
  pv_login_key_free(new_key);
  CHECK(try_sync(&a, &none) == PV_RESULT_SERVER_REFUSED);
  CHECK(strstr(sync_error, "401") != NULL);

  drop(&a);
  drop(&b);
  drop(&c_dev);
  curl_global_cleanup();
  printf("sync: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

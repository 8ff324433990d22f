/*
 * PV_MUST_USE: scripts/test-ffi.sh compiles this file four times, as C11
 * and as C++17 (`-x c++`), with -Wall -Wextra -Werror -pedantic: with
 * PV_TEST_USE_RESULT defined it must compile (and run: the version macros
 * and pv_version() agree, PV_KDF_DEFAULT initializes), without it it must fail with the unused-result
 * diagnostic, because the call below drops a pv_result.
 */
#include <stdio.h>
#include <string.h>

#include "promptvault.h"

int main(void) {
  char name[64];
  size_t n = 0;
#ifdef PV_TEST_USE_RESULT
  pv_result r = pv_result_name(PV_RESULT_OK, name, sizeof name, &n);
  /* PV_KDF_DEFAULT initializes a pv_kdf_params in C and in C++. */
  static const pv_kdf_params defaults = PV_KDF_DEFAULT;
  if (defaults.m_cost_kib != 65536 || defaults.t_cost != 3 || defaults.p_cost != 1) r = PV_RESULT_PANIC;
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", PV_VERSION_MAJOR, PV_VERSION_MINOR,
           PV_VERSION_PATCH);
  if (r != PV_RESULT_OK || strcmp(pv_version(), PV_VERSION_STRING) != 0 ||
      strncmp(expected, PV_VERSION_STRING, strlen(expected)) != 0) {
    printf("must_use: 0 passed, 1 failed\n");
    return 1;
  }
  printf("must_use: 1 passed, 0 failed (%s)\n", pv_version());
  return 0;
#else
  pv_result_name(PV_RESULT_OK, name, sizeof name, &n); /* the result is dropped */
  return 0;
#endif
}

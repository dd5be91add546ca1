/* An engine's first use of an installed kiln: C99, -pedantic -Werror, no GPU needed.
 * Built against the installed headers through pkg-config, CMake or a meson subproject.
 *   consumer EXPECTED_VERSION ARCH     (ARCH: one the library was built for) */
#include <kiln/kiln.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

int main(int argc, char** argv) {
  const char* expected;
  const char* arch;
  char macros[64];
  kiln_kernel_desc first;
  int32_t n, i;

  if (argc != 3) {
    fprintf(stderr, "usage: %s EXPECTED_VERSION ARCH\n", argv[0]);
    return 2;
  }
  expected = argv[1];
  arch = argv[2];

  /* One version everywhere: meson.build's, the header's macros, the library's. */
  snprintf(macros, sizeof macros, "%d.%d.%d", KILN_VERSION_MAJOR, KILN_VERSION_MINOR, KILN_VERSION_PATCH);
  printf("kiln_version() %s, KILN_VERSION_MAJOR.MINOR.PATCH %s, KILN_VERSION_STRING %s, expected %s\n",
         kiln_version(), macros, KILN_VERSION_STRING, expected);
  check(strcmp(kiln_version(), expected) == 0, "kiln_version() is the project version");
  check(strcmp(macros, expected) == 0, "KILN_VERSION_MAJOR.MINOR.PATCH is the project version");
  check(strcmp(KILN_VERSION_STRING, expected) == 0, "KILN_VERSION_STRING is the project version");

  n = kiln_kernel_count();
  printf("%d kernels:", (int)n);
  check(n > 0, "kiln_kernel_count() > 0");
  memset(&first, 0, sizeof first);
  for (i = 0; i < n; ++i) {
    kiln_kernel_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    if (kiln_kernel_at(i, &d) != KILN_SUCCESS) {
      fprintf(stderr, "\nkiln_kernel_at(%d): %s\n", (int)i, kiln_last_error());
      check(0, "kiln_kernel_at succeeds for every index below the count");
      continue;
    }
    printf(" %s", d.name);
    check(d.name != NULL && d.name[0] != '\0' && d.tensor_count > 0 && d.tensors != NULL,
          "every kernel has a name and tensors");
    /* kiln_explain answers for kernels without a communicator (kiln_explain_comm for the others) */
    if (first.name == NULL && !(d.options & KILN_OPTION_COMM)) first = d;
  }
  printf("\n");
  {
    kiln_kernel_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    check(kiln_kernel_at(n, &d) != KILN_SUCCESS, "kiln_kernel_at(count) fails");
  }

  if (first.name != NULL) {
    kiln_variant_info info;
    kiln_status s;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    s = kiln_explain(first.name, arch, 4096, 16, &info);
    if (s != KILN_SUCCESS) fprintf(stderr, "kiln_explain: %s: %s\n", kiln_status_name(s), kiln_last_error());
    check(s == KILN_SUCCESS, "kiln_explain succeeds for a built arch");
    if (s == KILN_SUCCESS) {
      printf("kiln_explain(%s, %s, 4096, 16): %s (%s)\n", first.name, arch, info.name,
             info.is_fallback ? "generic kernel" : info.config);
      check(strcmp(info.kernel, first.name) == 0 && info.name[0] != '\0', "kiln_explain names the variant");
    }
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    s = kiln_explain(first.name, "sm0", 4096, 16, &info);
    check(s == KILN_ERROR_NO_DEVICE_IMAGE && kiln_last_error()[0] != '\0',
          "kiln_explain refuses an arch the library was not built for, with a message");
  }

  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("consumer: all checks passed\n");
  return failures ? 1 : 0;
}

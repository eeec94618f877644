/* kiln_version and the KILN_VERSION_* macros: both from meson.build's project version,
 * which the build passes as KILN_PROJECT_VERSION. Needs no device. */
#include <kiln/kiln.h>

#include <setjmp.h> /* cmocka needs these before its own header */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

static void version_is_the_project_version(void **state)
{
    (void)state;
    assert_string_equal(kiln_version(), KILN_PROJECT_VERSION);
}

static void version_string_macro_is_the_project_version(void **state)
{
    (void)state;
    assert_string_equal(KILN_VERSION_STRING, KILN_PROJECT_VERSION);
}

static void version_number_macros_spell_the_project_version(void **state)
{
    (void)state;
    char spelled[64];
    snprintf(spelled, sizeof spelled, "%d.%d.%d", KILN_VERSION_MAJOR, KILN_VERSION_MINOR,
             KILN_VERSION_PATCH);
    assert_string_equal(spelled, KILN_PROJECT_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_is_the_project_version),
        cmocka_unit_test(version_string_macro_is_the_project_version),
        cmocka_unit_test(version_number_macros_spell_the_project_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

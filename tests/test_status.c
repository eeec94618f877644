/* kiln_status_str and kiln_last_error: names from the one status table. */
#include "common.h"

#include <string.h>

#define STATUS_VALUE(name, value, text) KILN_##name,
static const kiln_status every_status[] = {KILN_STATUS_MAP(STATUS_VALUE)};
#undef STATUS_VALUE
#define STATUS_COUNT (sizeof every_status / sizeof every_status[0])

static void status_str_names_every_status_with_its_prefix(void **state)
{
    (void)state;
    for (size_t i = 0; i < STATUS_COUNT; i++) {
        const char *text = kiln_status_str(every_status[i]);
        assert_non_null(text);
        assert_int_equal(strncmp(text, "KILN_", 5), 0);
    }
}

static void status_str_gives_each_status_its_own_string(void **state)
{
    (void)state;
    for (size_t i = 0; i < STATUS_COUNT; i++)
        for (size_t j = i + 1; j < STATUS_COUNT; j++)
            assert_string_not_equal(kiln_status_str(every_status[i]),
                                    kiln_status_str(every_status[j]));
}

static void status_str_names_the_status_it_is_given(void **state)
{
    (void)state;
    assert_contains(kiln_status_str(KILN_OK), "KILN_OK");
    assert_contains(kiln_status_str(KILN_ERR_SIZE), "KILN_ERR_SIZE");
    assert_contains(kiln_status_str(KILN_ERR_CL), "KILN_ERR_CL");
}

static void status_str_is_the_name_and_its_sentence(void **state)
{
    (void)state;
#define STATUS_CHECK(name, value, text)                                                    \
    assert_string_equal(kiln_status_str(KILN_##name), "KILN_" #name ": " text);
    KILN_STATUS_MAP(STATUS_CHECK)
#undef STATUS_CHECK
}

static void status_str_calls_unknown_values_unknown(void **state)
{
    (void)state;
    const char *unknown = kiln_status_str((kiln_status)1000);
    assert_contains(unknown, "KILN_ERR_UNKNOWN");
    assert_string_equal(kiln_status_str((kiln_status)-1), unknown);
    for (size_t i = 0; i < STATUS_COUNT; i++)
        assert_string_not_equal(kiln_status_str(every_status[i]), unknown);
}

/* kiln_error_set, for libraries built on kiln, outside any context (test_context checks
 * it on one): the message goes where kiln's own would, and the status comes back. */
static void error_set_records_the_message_and_returns_the_status(void **state)
{
    (void)state;
    assert_int_equal(kiln_error_set(NULL, KILN_ERR_SIZE, "block %d of %s", 3, "a"),
                     KILN_ERR_SIZE);
    assert_string_equal(kiln_last_error(NULL), "block 3 of a");
}

static void last_error_without_context_is_never_null(void **state)
{
    (void)state;
    assert_non_null(kiln_last_error(NULL));
    assert_int_equal(kiln_finish(NULL), KILN_ERR_ARG);
    assert_non_null(kiln_last_error(NULL));
    assert_true(strlen(kiln_last_error(NULL)) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_str_names_every_status_with_its_prefix),
        cmocka_unit_test(status_str_gives_each_status_its_own_string),
        cmocka_unit_test(status_str_names_the_status_it_is_given),
        cmocka_unit_test(status_str_is_the_name_and_its_sentence),
        cmocka_unit_test(status_str_calls_unknown_values_unknown),
        cmocka_unit_test(error_set_records_the_message_and_returns_the_status),
        cmocka_unit_test(last_error_without_context_is_never_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Kernel sources from $KILN_CL_DIR: a broken kernel fails with the compiler's log and
 * leaves the other kernels working; a missing file is a build error naming it.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char kernel_dir[] = "/tmp/kiln-test-cl-XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", kernel_dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

/* The real sigmoid.cl of the source tree, copied beside the broken vadd.cl. */
static void copy_real_source(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", KILN_SOURCE_CL_DIR, name);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    static char text[1 << 16];
    size_t length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[length] = '\0';
    write_file(name, text);
}

static int setup_kernel_dir(void **state)
{
    if (mkdtemp(kernel_dir) == NULL)
        return -1;
    /* Programs from these files must not come from, nor go into, the shared cache. */
    setenv("KILN_CACHE_DIR", "off", 1);
    setenv("KILN_CL_DIR", kernel_dir, 1);
    return context_open(state);
}

static int remove_kernel_dir(void **state)
{
    char path[256];
    const char *names[] = {"vadd.cl", "sigmoid.cl"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        snprintf(path, sizeof(path), "%s/%s", kernel_dir, names[i]);
        unlink(path);
    }
    rmdir(kernel_dir);
    unsetenv("KILN_CL_DIR");
    return context_close(state);
}

static void broken_kernel_fails_with_the_compiler_log(void **state)
{
    (void)state;
    write_file("vadd.cl", "__kernel void vadd(__global float *c)\n{\n    c[0] = undefined_name;\n}\n");
    kiln_ctx *ctx = scratch_context(NULL);
    kiln_buf *x = scratch_buffer(ctx, 16 * sizeof(float));
    assert_status(ctx, kiln_vadd(ctx, x, x, x, 16), KILN_ERR_BUILD);
    const char *message = kiln_last_error(ctx);
    assert_contains(message, "vadd.cl");
    assert_contains(message, "undefined_name"); /* the log quotes the bad line */
}

static void other_kernels_still_work_beside_a_broken_one(void **state)
{
    (void)state;
    write_file("vadd.cl", "this is not OpenCL C\n");
    copy_real_source("sigmoid.cl");
    kiln_ctx *ctx = scratch_context(NULL);
    float zeros[8] = {0};
    kiln_buf *x = scratch_upload(ctx, zeros, 8);
    assert_status(ctx, kiln_vadd(ctx, x, x, x, 8), KILN_ERR_BUILD);
    assert_ok(ctx, kiln_sigmoid(ctx, x, x, 8));
    const float *y = scratch_download(x, 8);
    for (int i = 0; i < 8; ++i)
        assert_float_equal(y[i], 0.5f, 1e-7);
}

static void missing_kernel_file_is_a_build_error_naming_it(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    kiln_buf *x = scratch_buffer(ctx, 16 * sizeof(float));
    /* No geam.cl in the folder. */
    assert_status(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, 4, 4, 1.0f, x, 4, 1.0f, x,
                                 4, x, 4),
                  KILN_ERR_BUILD);
    assert_contains(kiln_last_error(ctx), "geam.cl");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(broken_kernel_fails_with_the_compiler_log),
        KILN_TEST(other_kernels_still_work_beside_a_broken_one),
        KILN_TEST(missing_kernel_file_is_a_build_error_naming_it),
    };
    return cmocka_run_group_tests(tests, setup_kernel_dir, remove_kernel_dir);
}

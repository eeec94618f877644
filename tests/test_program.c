/*
 * Kernel sources from $KILN_CL_DIR: a broken kernel fails with the compiler's log and
 * leaves the other kernels working; a missing file is a build error naming it; headers
 * that kernels include come from the folder too.
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

/* A real kernel source of the tree, copied beside the broken elementwise.cl. */
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
    const char *names[] = {"elementwise.cl", "geam.cl", "gemv.cl", "activation.h"};
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
    write_file("elementwise.cl",
               "__kernel void elementwise(__global float *c)\n{\n    c[0] = undefined_name;\n}\n");
    kiln_ctx *ctx = scratch_context(NULL);
    kiln_buf *x = scratch_buffer(ctx, 16 * sizeof(float));
    assert_status(ctx, kiln_vadd(ctx, x, x, x, 16), KILN_ERR_BUILD);
    const char *message = kiln_last_error(ctx);
    assert_contains(message, "elementwise.cl");
    assert_contains(message, "undefined_name"); /* the log quotes the bad line */
}

static void other_kernels_still_work_beside_a_broken_one(void **state)
{
    (void)state;
    write_file("elementwise.cl", "this is not OpenCL C\n");
    copy_real_source("geam.cl");
    kiln_ctx *ctx = scratch_context(NULL);
    float ones[16];
    for (int i = 0; i < 16; ++i)
        ones[i] = 1.0f;
    kiln_buf *x = scratch_upload(ctx, ones, 16), *y = scratch_buffer(ctx, sizeof(ones));
    assert_status(ctx, kiln_vadd(ctx, x, x, x, 16), KILN_ERR_BUILD);
    /* A transposed geam is geam.cl's own kernel: 2·xᵀ + 3·x. */
    assert_ok(ctx, kiln_geam(ctx, KILN_TRANS, KILN_NO_TRANS, 4, 4, 2.0f, x, 4, 3.0f, x, 4, y, 4));
    const float *z = scratch_download(y, 16);
    for (int i = 0; i < 16; ++i)
        assert_float_equal(z[i], 5.0f, 0.0f);
}

static void missing_kernel_file_is_a_build_error_naming_it(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    kiln_buf *x = scratch_buffer(ctx, 16 * sizeof(float));
    kiln_buf *c = scratch_buffer(ctx, 16 * sizeof(float));
    /* No GEMM kernel in the folder: gemm.cl, or gemm_cpu.cl on a CPU. */
    assert_status(ctx, kiln_matmul(ctx, 4, 4, 4, x, x, c), KILN_ERR_BUILD);
    assert_contains(kiln_last_error(ctx), "/gemm");
}

/* y = act(W·x + bias) for one sample of 8 inputs: cl/gemv.cl's kernel, which includes
 * activation.h. */
static kiln_status dense_of_one_sample(kiln_ctx *ctx, float *y)
{
    float w[4 * 8], x[8];
    for (int i = 0; i < 4 * 8; ++i)
        w[i] = 0.125f * (float)(i % 5);
    for (int i = 0; i < 8; ++i)
        x[i] = 1.0f;
    return kiln_dense_host(ctx, w, x, NULL, y, 4, 8, 1, KILN_ACT_SIGMOID);
}

static void included_header_comes_from_the_folder(void **state)
{
    (void)state;
    copy_real_source("gemv.cl");
    copy_real_source("dtype.h"); /* gemv.cl's other header */
    write_file("activation.h", "#define ACTIVATE(v) 42.0f\n");
    kiln_ctx *ctx = scratch_context(NULL);
    float y[4];
    assert_ok(ctx, dense_of_one_sample(ctx, y));
    for (int i = 0; i < 4; ++i)
        assert_float_equal(y[i], 42.0f, 0.0f);
}

static void missing_included_header_is_a_build_error_naming_it(void **state)
{
    (void)state;
    copy_real_source("gemv.cl");
    char path[256];
    snprintf(path, sizeof(path), "%s/activation.h", kernel_dir);
    unlink(path);
    kiln_ctx *ctx = scratch_context(NULL);
    float y[4];
    assert_status(ctx, dense_of_one_sample(ctx, y), KILN_ERR_BUILD);
    assert_contains(kiln_last_error(ctx), "/activation.h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(broken_kernel_fails_with_the_compiler_log),
        KILN_TEST(other_kernels_still_work_beside_a_broken_one),
        KILN_TEST(missing_kernel_file_is_a_build_error_naming_it),
        KILN_TEST(included_header_comes_from_the_folder),
        KILN_TEST(missing_included_header_is_a_build_error_naming_it),
    };
    return cmocka_run_group_tests(tests, setup_kernel_dir, remove_kernel_dir);
}

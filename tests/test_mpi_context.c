/* kiln_mpi_ctx_create on every rank (run by mpirun with 2 ranks): the device rule of
 * kiln_mpi.h with and without $KILN_DEVICE and Open MPI's node-local rank. */
#include "mpi_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A variable's value before a test changes it: a copy, or NULL when it was unset. */
static char *env_save(const char *name)
{
    const char *value = getenv(name);
    return value != NULL ? strdup(value) : NULL;
}

/* Puts back what env_save kept, and frees it. */
static void env_restore(const char *name, char *saved)
{
    assert_int_equal(saved != NULL ? setenv(name, saved, 1) : unsetenv(name), 0);
    free(saved);
}

/* Opens a context with kiln_mpi_ctx_create and proves it works. */
static void assert_opens_working_context(void)
{
    kiln_ctx *ctx = NULL;
    assert_ok(NULL, kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD));
    assert_vadd_works(ctx);
    kiln_ctx_destroy(ctx);
}

/* The device kiln_mpi.h promises without $KILN_DEVICE: GPU number local mod G, else
 * kiln's default. */
static size_t device_expected(int local)
{
    size_t devices = 0, gpus[64], count = 0;
    assert_ok(NULL, kiln_device_count(&devices));
    for (size_t i = 0; i < devices && count < 64; ++i) {
        kiln_device_info info = {.struct_size = sizeof(info)};
        assert_ok(NULL, kiln_device_get(i, &info));
        if (info.type == KILN_DEVICE_GPU)
            gpus[count++] = i;
    }
    size_t index = 0;
    if (count > 0)
        return gpus[(size_t)local % count];
    assert_ok(NULL, kiln_device_find(NULL, &index));
    return index;
}

/* The kiln_device_get index of ctx's device. */
static size_t device_of(kiln_ctx *ctx)
{
    size_t devices = 0;
    assert_ok(NULL, kiln_device_count(&devices));
    for (size_t i = 0; i < devices; ++i) {
        char spec[32];
        snprintf(spec, sizeof(spec), "%zu", i);
        kiln_ctx *probe = NULL;
        assert_ok(NULL, kiln_ctx_create(&probe, spec));
        bool same = kiln_ctx_device(probe) == kiln_ctx_device(ctx);
        kiln_ctx_destroy(probe);
        if (same)
            return i;
    }
    fail_msg("the context's device is not in kiln_device_get's list");
    return 0;
}

static void ctx_create_takes_the_gpu_of_the_node_local_rank(void **state)
{
    char *kiln_device = env_save("KILN_DEVICE");
    assert_int_equal(unsetenv("KILN_DEVICE"), 0);
    kiln_ctx *ctx = NULL;
    assert_ok(NULL, kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD));
    env_restore("KILN_DEVICE", kiln_device);
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    assert_non_null(local);
    size_t got = device_of(ctx);
    kiln_ctx_destroy(ctx);
    assert_int_equal(got, device_expected(atoi(local)));
    (void)state;
}

/* Without Open MPI's variable the rank within comm's ranks on this host decides. */
static void ctx_create_without_ompi_local_rank_asks_comm(void **state)
{
    char *local = env_save("OMPI_COMM_WORLD_LOCAL_RANK");
    assert_int_equal(unsetenv("OMPI_COMM_WORLD_LOCAL_RANK"), 0);
    assert_opens_working_context();
    env_restore("OMPI_COMM_WORLD_LOCAL_RANK", local);
    (void)state;
}

static void ctx_create_honours_kiln_device(void **state)
{
    char *chosen = env_save("KILN_DEVICE");
    kiln_ctx *ctx = NULL;
    assert_int_equal(setenv("KILN_DEVICE", "no-such-device-anywhere", 1), 0);
    kiln_status status = kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD);
    env_restore("KILN_DEVICE", chosen);
    assert_status(NULL, status, KILN_ERR_NODEVICE);
    assert_null(ctx);
    assert_opens_working_context();
    (void)state;
}

static void ctx_create_rejects_a_malformed_local_rank(void **state)
{
    char *local = env_save("OMPI_COMM_WORLD_LOCAL_RANK");
    char *chosen = env_save("KILN_DEVICE");
    assert_int_equal(setenv("OMPI_COMM_WORLD_LOCAL_RANK", "first", 1), 0);
    assert_int_equal(unsetenv("KILN_DEVICE"), 0);
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD);
    env_restore("OMPI_COMM_WORLD_LOCAL_RANK", local);
    env_restore("KILN_DEVICE", chosen);
    assert_failure_says(NULL, status, KILN_ERR_ARG, "\"first\", not a rank");
    assert_null(ctx);
    (void)state;
}

static void ctx_create_rejects_null_out(void **state)
{
    assert_failure_says(NULL, kiln_mpi_ctx_create(NULL, MPI_COMM_WORLD), KILN_ERR_ARG,
                        "out is NULL");
    (void)state;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(ctx_create_takes_the_gpu_of_the_node_local_rank),
        KILN_TEST(ctx_create_without_ompi_local_rank_asks_comm),
        KILN_TEST(ctx_create_honours_kiln_device),
        KILN_TEST(ctx_create_rejects_a_malformed_local_rank),
        KILN_TEST(ctx_create_rejects_null_out),
    };
    return RUN_MPI_TESTS(argc, argv, tests);
}

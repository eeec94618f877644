/* kiln-bench's group_sgemm: C = A·B from host arrays to a host array, split by rows of C
 * over a kiln_group (kiln_group_sgemm_host: each member's rows of A and all of B copied
 * in, the members' GEMMs at once, their rows of C gathered), beside the same call on a
 * group of its first member alone: the ratio is what the other members add, copies
 * included. Weights are measured (the group's own short GEMM on each member). The
 * groups are opened at the first call and kept for the run (bench_group_close). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *group_specs, *group_device;

/* [0]: the first member alone; [1]: every member. */
static kiln_group *groups[2];

void bench_group_set(const char *specs, const char *device)
{
    group_specs = specs;
    group_device = device;
}

/* "I,I" for the device the bench opens, into text. */
static bool default_specs(char *text, size_t length)
{
    size_t index = 0;
    if (!bench_report(NULL, kiln_device_find(group_device, &index), "kiln_device_find"))
        return false;
    snprintf(text, length, "%zu,%zu", index, index);
    return true;
}

static bool group_open(size_t which, const char *specs)
{
    /* a group's messages are kiln_last_error(NULL)'s */
    return bench_report(NULL, kiln_group_create(&groups[which], specs), "kiln_group_create");
}

/* Both groups, once: --group's members, and its first member alone. */
static bool groups_open(void)
{
    if (groups[1] != NULL)
        return true;
    char specs[256];
    if (group_specs != NULL)
        snprintf(specs, sizeof(specs), "%s", group_specs);
    else if (!default_specs(specs, sizeof(specs)))
        return false;
    if (!group_open(1, specs))
        return false;
    specs[strcspn(specs, ",")] = '\0';
    if (group_open(0, specs))
        return true;
    bench_group_close();
    return false;
}

void bench_group_close(void)
{
    for (size_t i = 0; i < 2; ++i) {
        kiln_group_destroy(groups[i]);
        groups[i] = NULL;
    }
}

static bool group_prepare(bench_case *c)
{
    (void)c;
    return groups_open();
}

static bool group_run(size_t which, bench_case *c)
{
    const bench_shape s = c->shape;
    return bench_report(NULL,
                        kiln_group_sgemm_host(groups[which], KILN_NO_TRANS, KILN_NO_TRANS,
                                              s.m, s.n, s.k, 1.0f, c->in[0], s.k, c->in[1],
                                              s.n, 0.0f, c->out, s.n),
                        "kiln_group_sgemm_host");
}

static bool group_whole(bench_case *c)
{
    return group_run(1, c);
}

static bool group_alone(bench_case *c)
{
    return group_run(0, c);
}

const bench_impl bench_group_impls[] = {
    {"kiln group", BENCH_ROLE_KILN, BENCH_WAITS, false, group_prepare, group_whole},
    {"kiln group of its first member", BENCH_ROLE_PEER, BENCH_WAITS, true, group_prepare,
     group_alone},
    {NULL, BENCH_ROLE_CPU, BENCH_ON_HOST, false, NULL, NULL},
};

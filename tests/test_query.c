/* kiln-query and the device API under it: what the tool prints (text and JSON) agrees
 * with what OpenCL itself says of each device, its plans stay within the device, it
 * fails as documented; kiln_device_get's facts and kiln_device_find agree with OpenCL
 * and with kiln_ctx_create.
 *
 * Run as: test_query KILN_QUERY PYTHON3 (meson passes both). Without KILN_QUERY (tools
 * not built) the tool's tests cannot run: the library's run, then the program exits 77. */
#include "common.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_DEVICES = 64, SKIP = 77 };

static const char *query_path;  /* the kiln-query binary */
static const char *python_path; /* parses the JSON, as a reader would */

/* ---------------------------------------------------------------- OpenCL's own view */

/* Every device in kiln's documented order (platforms, then their devices), found
 * without kiln. */
typedef struct {
    size_t count;
    cl_device_id ids[MAX_DEVICES];
    size_t platform_index[MAX_DEVICES], device_index[MAX_DEVICES];
} cl_devices;

static cl_devices opencl_devices(void)
{
    cl_devices all = {0};
    cl_platform_id platforms[16];
    cl_uint platform_count = 0;
    if (clGetPlatformIDs(16, platforms, &platform_count) != CL_SUCCESS)
        return all;
    for (cl_uint p = 0; p < platform_count && p < 16; ++p) {
        cl_device_id ids[MAX_DEVICES];
        cl_uint n = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, ids, &n) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < n && d < MAX_DEVICES && all.count < MAX_DEVICES; ++d) {
            all.ids[all.count] = ids[d];
            all.platform_index[all.count] = p;
            all.device_index[all.count++] = d;
        }
    }
    return all;
}

static void device_fact(cl_device_id id, cl_device_info what, void *value, size_t size)
{
    memset(value, 0, size);
    assert_int_equal(clGetDeviceInfo(id, what, size, value, NULL), CL_SUCCESS);
}

static size_t device_size(cl_device_id id, cl_device_info what)
{
    size_t value;
    device_fact(id, what, &value, sizeof value);
    return value;
}

static cl_uint device_uint(cl_device_id id, cl_device_info what)
{
    cl_uint value;
    device_fact(id, what, &value, sizeof value);
    return value;
}

static cl_ulong device_ulong(cl_device_id id, cl_device_info what)
{
    cl_ulong value;
    device_fact(id, what, &value, sizeof value);
    return value;
}

/* A string fact of any length; the caller frees it. */
static char *device_text(cl_device_id id, cl_device_info what)
{
    size_t size = 0;
    assert_int_equal(clGetDeviceInfo(id, what, 0, NULL, &size), CL_SUCCESS);
    char *text = calloc(size + 1, 1);
    assert_non_null(text);
    assert_int_equal(clGetDeviceInfo(id, what, size, text, NULL), CL_SUCCESS);
    return text;
}

static kiln_device_info kiln_info(size_t index)
{
    static kiln_device_info info; /* large */
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_ok(NULL, kiln_device_get(index, &info));
    return info;
}

/* ---------------------------------------------------------------- running kiln-query */

typedef struct {
    int status; /* the exit status; 128 + n when killed by signal n */
    char *out, *err;
} run_result;

static char *read_stream(FILE *file)
{
    size_t used = 0, size = 4096;
    char *text = malloc(size);
    assert_non_null(text);
    for (size_t n; (n = fread(text + used, 1, size - used - 1, file)) > 0;) {
        used += n;
        if (size - used < 2) {
            text = realloc(text, size *= 2);
            assert_non_null(text);
        }
    }
    text[used] = '\0';
    return text;
}

static char *read_path(const char *path)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    char *text = read_stream(file);
    fclose(file);
    return text;
}

/* Runs `env command args` through the shell, stdout and stderr apart. */
static run_result run_command(const char *env, const char *command, const char *args)
{
    char err_path[] = "/tmp/kiln-test-query-XXXXXX";
    int fd = mkstemp(err_path);
    assert_true(fd >= 0);
    close(fd);
    char line[8192];
    snprintf(line, sizeof line, "%s %s %s 2>'%s'", env != NULL ? env : "", command, args,
             err_path);
    FILE *pipe = popen(line, "r");
    assert_non_null(pipe);
    run_result result = {0, read_stream(pipe), NULL};
    int status = pclose(pipe);
    result.err = read_path(err_path);
    unlink(err_path);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

static run_result run_query(const char *env, const char *args)
{
    char command[4096];
    snprintf(command, sizeof command, "'%s'", query_path);
    return run_command(env, command, args);
}

static void run_free(run_result *result)
{
    free(result->out);
    free(result->err);
}

/* kiln-query with args, which must succeed. */
static run_result query_ok(const char *args)
{
    run_result result = run_query(NULL, args);
    if (result.status != 0)
        fail_msg("kiln-query %s exited %d: %s", args, result.status, result.err);
    return result;
}

/* Python's json module reads `json` (it must parse) as d and prints `expression`. The
 * expression may not contain single quotes. The caller frees the result. */
static char *json_eval(const char *json, const char *expression)
{
    char path[] = "/tmp/kiln-test-query-json-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *file = fdopen(fd, "wb");
    assert_non_null(file);
    fputs(json, file);
    fclose(file);
    char command[4096];
    snprintf(command, sizeof command,
             "'%s' -c 'import json, sys; d = json.load(open(sys.argv[1])); print(%s)' '%s'",
             python_path, expression, path);
    run_result result = run_command(NULL, command, "");
    unlink(path);
    if (result.status != 0)
        fail_msg("not valid JSON, or not as expected (%s):\n%s\n%s", expression, result.err,
                 json);
    free(result.err);
    return result.out;
}

static void assert_json_evaluates(const char *json, const char *expression,
                                  const char *expected)
{
    char *got = json_eval(json, expression);
    assert_string_equal(got, expected);
    free(got);
}

/* A failure the tool reports itself: a non-zero status below the signal range. */
static void assert_fails_cleanly(const run_result *result)
{
    if (result->status == 0 || result->status >= 128)
        fail_msg("expected a clean failure, got status %d; stderr: %s", result->status,
                 result->err);
}

/* ---------------------------------------------------------------- the tool */

static void query_list_names_each_device_with_its_max_work_group_size(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    run_result result = query_ok("-l");
    for (size_t i = 0; i < cl.count; ++i) {
        char *name = device_text(cl.ids[i], CL_DEVICE_NAME);
        char line[1024];
        snprintf(line, sizeof line, "%zu  %zu:%zu  %s  max work-group size %zu\n", i,
                 cl.platform_index[i], cl.device_index[i], name,
                 device_size(cl.ids[i], CL_DEVICE_MAX_WORK_GROUP_SIZE));
        assert_contains(result.out, line);
        free(name);
    }
    run_free(&result);
}

static void query_prints_max_work_group_size_first(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    run_result result = query_ok("");
    for (size_t i = 0; i < cl.count; ++i) {
        char heading[64], first[128];
        snprintf(heading, sizeof heading, "Device %zu (", i);
        const char *at = strstr(result.out, heading);
        assert_non_null(at);
        snprintf(first, sizeof first, "\n  max work-group size %*s%zu\n", 12, "",
                 device_size(cl.ids[i], CL_DEVICE_MAX_WORK_GROUP_SIZE));
        at = strchr(at, '\n');
        assert_non_null(at);
        assert_memory_equal(at, first, strlen(first));
    }
    run_free(&result);
}

/* One line a device: the numbers kiln-query's JSON and OpenCL should both give. */
static const char json_facts[] =
    "\"\\n\".join(\" \".join(str(x[k]) for k in (\"index\", \"max_work_group_size\", "
    "\"compute_units\", \"global_mem_bytes\", \"local_mem_bytes\", \"max_alloc_bytes\", "
    "\"clock_mhz\")) for x in d[\"devices\"] if all(type(x[k]) is int for k in x if "
    "k.endswith(\"_bytes\") or k == \"max_work_group_size\"))";

static void query_json_parses_and_agrees_with_opencl(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    run_result result = query_ok("--json");
    char expected[8192] = "";
    for (size_t i = 0; i < cl.count; ++i) {
        cl_device_id id = cl.ids[i];
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s%zu %zu %u %llu %llu %llu %u",
                 i > 0 ? "\n" : "", i, device_size(id, CL_DEVICE_MAX_WORK_GROUP_SIZE),
                 device_uint(id, CL_DEVICE_MAX_COMPUTE_UNITS),
                 (unsigned long long)device_ulong(id, CL_DEVICE_GLOBAL_MEM_SIZE),
                 (unsigned long long)device_ulong(id, CL_DEVICE_LOCAL_MEM_SIZE),
                 (unsigned long long)device_ulong(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                 device_uint(id, CL_DEVICE_MAX_CLOCK_FREQUENCY));
    }
    strcat(expected, "\n");
    assert_json_evaluates(result.out, json_facts, expected);
    run_free(&result);
}

static void query_json_is_valid_in_every_mode(void **state)
{
    (void)state;
    static const char *const modes[] = {"--json -l", "--json --kernels",
                                        "--json --plan sgemm 300x200x100",
                                        "--json --plan geam 5x7", "--json -d 0"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; ++i) {
        run_result result = query_ok(modes[i]);
        assert_json_evaluates(result.out, "len(d[\"devices\"]) > 0", "True\n");
        run_free(&result);
    }
}

/* Per device of the plan's JSON: "index local... global..." */
static const char json_launch[] =
    "\"\\n\".join(\" \".join(str(v) for v in [x[\"index\"]] + x[\"plan\"][\"local\"] + "
    "x[\"plan\"][\"global\"]) for x in d[\"devices\"])";

typedef struct {
    size_t local[2], global[2];
} launch_sizes;

/* The launch kiln-query --json --plan `request` gives each device, in index order;
 * dims numbers each of local and global. */
static void plan_launches(const char *request, unsigned dims, launch_sizes *launches,
                          size_t count)
{
    char args[256];
    snprintf(args, sizeof args, "--json --plan %s", request);
    run_result result = query_ok(args);
    char *text = json_eval(result.out, json_launch);
    const char *at = text;
    for (size_t i = 0; i < count; ++i) {
        size_t values[5];
        int used = 0;
        for (unsigned v = 0; v < 1 + 2 * dims; ++v, at += used)
            assert_int_equal(sscanf(at, "%zu%n", &values[v], &used), 1);
        assert_int_equal(values[0], i);
        launches[i] = (launch_sizes){{values[1], dims > 1 ? values[2] : 1},
                                     {values[1 + dims], dims > 1 ? values[2 + dims] : 1}};
    }
    free(text);
    run_free(&result);
}

/* Never beyond the device; global a whole number of work-groups. */
static void assert_launch_fits(cl_device_id id, const launch_sizes *launch)
{
    assert_true(launch->local[0] >= 1 && launch->local[1] >= 1);
    assert_true(launch->local[0] * launch->local[1] <=
                device_size(id, CL_DEVICE_MAX_WORK_GROUP_SIZE));
    assert_int_equal(launch->global[0] % launch->local[0], 0);
    assert_int_equal(launch->global[1] % launch->local[1], 0);
}

static void query_plan_for_vadd_stays_within_the_device(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    launch_sizes launches[MAX_DEVICES];
    plan_launches("vadd 500000", 1, launches, cl.count);
    for (size_t i = 0; i < cl.count; ++i) {
        assert_launch_fits(cl.ids[i], &launches[i]);
        assert_true(launches[i].local[0] < 500000);
        assert_true(launches[i].global[0] / launches[i].local[0] >= 2); /* never one group */
    }
}

static void query_plan_for_sgemm_fits_the_device(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    launch_sizes launches[MAX_DEVICES];
    plan_launches("sgemm 4096x4096x4096", 2, launches, cl.count);
    for (size_t i = 0; i < cl.count; ++i)
        assert_launch_fits(cl.ids[i], &launches[i]);
}

static void query_kernels_reports_every_kiln_kernel(void **state)
{
    (void)state;
    run_result result = query_ok("--json --kernels -d 0");
    assert_json_evaluates(result.out,
                          "\" \".join(k[\"kernel\"].split()[0] for k in "
                          "d[\"devices\"][0][\"kernels\"])",
                          "elementwise elementwise geam gemm gemm gemm gemm_block\n");
    assert_json_evaluates(result.out,
                          "all(k[\"work_group_size\"] >= 1 for k in "
                          "d[\"devices\"][0][\"kernels\"])",
                          "True\n");
    run_free(&result);
}

/* The first word of the kernel label --plan `request` reports for device 0. */
static void assert_plan_kernel(const char *request, const char *kernel)
{
    char args[256], expected[64];
    snprintf(args, sizeof args, "--json --plan %s -d 0", request);
    snprintf(expected, sizeof expected, "%s\n", kernel);
    run_result result = query_ok(args);
    assert_json_evaluates(result.out,
                          "d[\"devices\"][0][\"plan\"][\"kernel\"][\"kernel\"].split()[0]",
                          expected);
    run_free(&result);
}

/* The variable `name` as the test started with it (malloc'd, NULL when unset), and
 * back. */
static char *env_saved(const char *name)
{
    const char *value = getenv(name);
    return value != NULL ? strdup(value) : NULL;
}

static void env_restore(const char *name, char *saved)
{
    if (saved != NULL)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

/* With the GPU table, tight aligned matrices of whole blocks take cl/gemm_block.cl (its
 * smallest tile has 128 work-items, which PoCL's and every GPU's work-groups allow); an
 * ld of 1025 is no multiple of 4, so 1025 cubed takes the portable kernel. With the CPU
 * table every shape takes cl/gemm_cpu.cl. */
static void query_plan_for_sgemm_names_the_kernel_it_launches(void **state)
{
    (void)state;
    char *saved = env_saved("KILN_GEMM_TABLE");
    setenv("KILN_GEMM_TABLE", "gpu", 1);
    assert_plan_kernel("sgemm 4096x4096x4096", "gemm_block");
    assert_plan_kernel("sgemm 1025x1025x1025", "gemm");
    assert_plan_kernel("dense 4096x1024x256", "gemm_block");
    setenv("KILN_GEMM_TABLE", "cpu", 1);
    assert_plan_kernel("sgemm 4096x4096x4096", "gemm_cpu");
    assert_plan_kernel("sgemm 1025x1025x1025", "gemm_cpu");
    assert_plan_kernel("dense 4096x1024x256", "gemm_cpu");
    env_restore("KILN_GEMM_TABLE", saved);
}

/* The tensor-core kernel device 0 runs f16 and bf16 below STRICT with, else `other`. */
static const char *tensor_core_kernel_or(const char *other)
{
    unsigned major = kiln_info(0).nv_compute_capability_major;
    return major == 9 ? "gemm_wgmma" : major >= 8 ? "gemm_mma" : other;
}

/* gemm_ex in f32 takes sgemm's kernels; in f16 or bf16 cl/gemm_block.cl for whole
 * blocks on GPUs without tensor cores, else cl/gemm.cl (cl/gemm_cpu.cl is float-only). */
static void query_plan_for_gemm_ex_names_the_kernel_of_its_types(void **state)
{
    (void)state;
    char *saved = env_saved("KILN_GEMM_TABLE");
    setenv("KILN_GEMM_TABLE", "gpu", 1);
    assert_plan_kernel("gemm_ex 4096x4096x4096", "gemm_block");
    assert_plan_kernel("gemm_ex 4096x4096x4096 --dtype bf16 --math fast",
                       tensor_core_kernel_or("gemm_block"));
    assert_plan_kernel("gemm_ex 1025x1025x1025 --dtype bf16", "gemm");
    setenv("KILN_GEMM_TABLE", "cpu", 1);
    assert_plan_kernel("gemm_ex 1025x1025x1025 --dtype f32 --math tf32", "gemm_cpu");
    assert_plan_kernel("gemm_ex 1025x1025x1025 --dtype f16", "gemm");
    assert_plan_kernel("gemm_ex 4096x4096x4096 --dtype f16", "gemm");
    env_restore("KILN_GEMM_TABLE", saved);
}

/* gemm_ex's plan has a tensor_cores member: the kernel, tile and launch that run on
 * them (its work-items the local size), or why none does; other operations have none. */
static void query_plan_for_gemm_ex_shows_the_tensor_core_plan_or_why_not(void **state)
{
    (void)state;
    run_result fast = query_ok("--json --plan gemm_ex 4096x4096x4096 --dtype f16 --math fast "
                               "-d 0");
    const char *tc = "d[\"devices\"][0][\"plan\"][\"tensor_cores\"]";
    char expression[512];
    if (kiln_info(0).nv_compute_capability_major >= 8) {
        snprintf(expression, sizeof expression,
                 "%s[\"path\"] in (\"wgmma\", \"mma.sync\") and %s[\"work_items\"] == "
                 "d[\"devices\"][0][\"plan\"][\"local\"][0]",
                 tc, tc);
        assert_json_evaluates(fast.out, expression, "True\n");
    } else {
        snprintf(expression, sizeof expression, "%s[\"path\"], %s[\"why_not\"]", tc, tc);
        assert_json_evaluates(fast.out, expression,
                              "none no mma.sync tensor cores (NVIDIA sm_80 or later)\n");
    }
    run_result strict = query_ok("--json --plan gemm_ex 64x64x64 --dtype bf16 -d 0");
    snprintf(expression, sizeof expression, "%s[\"why_not\"].startswith(\"math is STRICT\")",
             tc);
    assert_json_evaluates(strict.out, expression, "True\n");
    run_result sgemm = query_ok("--json --plan sgemm 64x64x64 -d 0");
    assert_json_evaluates(sgemm.out, "\"tensor_cores\" in d[\"devices\"][0][\"plan\"]",
                          "False\n");
    run_free(&fast);
    run_free(&strict);
    run_free(&sgemm);
}

/* The JSON of kiln-query --plan map on device 0 for y = sigmoid(a + b) * c + r over 3 x
 * 1000, with `bindings` for the names, evaluated by `expression`. */
static void assert_map_plan(const char *bindings, const char *expression, const char *expected)
{
    char args[512];
    snprintf(args, sizeof args, "--json -d 0 --plan map \"y = sigmoid(a + b) * c\" 3 1000 %s",
             bindings);
    run_result result = query_ok(args);
    assert_json_evaluates(result.out, expression, expected);
    run_free(&result);
}

/* kiln_map's plan: the float4 path for ARRAYs on 16-byte boundaries (array@4 is one), the
 * scalar path else, a 2-D grid only for ROW and COL on the scalar path; its options and
 * the generated source say the same. */
static void query_plan_for_map_shows_its_path_grid_and_generated_source(void **state)
{
    (void)state;
    const char *expression =
        "(lambda p: \" \".join(str(x) for x in [p[\"path\"], p[\"two_dimensional\"], "
        "len(p[\"global\"]), p[\"kernel\"][\"options\"].split()[-1], "
        "any(\"map_element4\" in line for line in p[\"source\"])]))(d[\"devices\"][0][\"plan\"]) "
        "+ \" \" + d[\"bindings\"][\"c\"]";
    assert_map_plan("y=array a=array b=array c=array", expression,
                    "float4 False 1 -DMAP_VECTOR=1 True array\n");
    assert_map_plan("y=array a=array b=array c=array@4", expression,
                    "float4 False 1 -DMAP_VECTOR=1 True array@4\n");
    assert_map_plan("y=array a=array b=array c=array@1", expression,
                    "scalar False 1 -DMAP_VECTOR=0 True array@1\n");
    assert_map_plan("y=array@2 a=array b=array c=row", expression,
                    "scalar True 2 -DMAP_VECTOR=0 True row\n");
    assert_map_plan("y=array a=array b=scalar c=col", expression,
                    "float4 True 1 -DMAP_VECTOR=1 True col\n");
}

/* A name without a kind, or a bad expression, fails on the device with kiln_map's
 * message, as a call would. */
static void query_plan_for_map_reports_what_kiln_map_would_refuse(void **state)
{
    (void)state;
    run_result result = run_query(NULL, "-d 0 --plan map \"y = a + d\" 1 8 y=array a=array");
    assert_fails_cleanly(&result);
    assert_contains(result.err, "unknown name 'd' at column 9");
    run_free(&result);
}

/* kiln-query builds the very kernel kiln_map then launches: with a cache folder of
 * their own, the call finds the plan's program on disk and builds nothing. */
static void query_plan_for_map_builds_the_kernel_kiln_map_runs(void **state)
{
    (void)state;
    char folder[] = "/tmp/kiln-test-query-map-XXXXXX", env[128];
    assert_non_null(mkdtemp(folder));
    snprintf(env, sizeof env, "KILN_CACHE_DIR='%s'", folder);
    run_result result = run_query(env, "-d 0 --plan map \"y = a * 3 + b\" 1 1000 y=array "
                                       "a=array b=array@1");
    assert_int_equal(result.status, 0);
    run_free(&result);
    char *saved = env_saved("KILN_CACHE_DIR");
    assert_int_equal(setenv("KILN_CACHE_DIR", folder, 1), 0);
    kiln_ctx *ctx = scratch_context("0");
    kiln_buf *b = scratch_view(scratch_buffer(ctx, 4004), 4, 4000);
    const kiln_binding binds[] = {{"y", KILN_BIND_ARRAY, scratch_buffer(ctx, 4000), 0},
                                  {"a", KILN_BIND_ARRAY, scratch_buffer(ctx, 4000), 0},
                                  {"b", KILN_BIND_ARRAY, b, 0}};
    kiln_cache_stats before = {.struct_size = sizeof before}, after = before;
    assert_int_equal(kiln_cache_stats_get(&before), KILN_OK);
    assert_int_equal(kiln_map(ctx, "y = a * 3 + b", 1, 1000, binds, 3), KILN_OK);
    assert_int_equal(kiln_cache_stats_get(&after), KILN_OK);
    env_restore("KILN_CACHE_DIR", saved);
    folder_remove(folder);
    assert_true(after.hits == before.hits + 1 && after.misses == before.misses);
}

static void query_rejects_bad_options_as_usage_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"--bogus", "-x", "-d", "--plan vadd",
                                      "--plan sgemm 4x4", "--plan vadd 0",
                                      "--plan nosuchop 3", "-l --kernels",
                                      "--plan gemm_ex 4x4x4 --dtype f8",
                                      "--plan gemm_ex 4x4x4 --math exact",
                                      "--plan sgemm 4x4x4 --math fast", "--dtype f16 -l",
                                      "--plan gemm_ex 4x4x4 --math", "--plan map",
                                      "--plan map y=a 4 y=array", "--plan map y=a 0 4 y=array",
                                      "--plan map y=a 1 4 y=arr", "--plan map y=a 1 4 y=array@x",
                                      "--plan map y=a 1 4 =array", "--plan map y=a 1 4 y",
                                      "--plan map y=a 1 4 y=array --dtype f16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        run_result result = run_query(NULL, bad[i]);
        if (result.status != 2)
            fail_msg("kiln-query %s: status %d, expected 2", bad[i], result.status);
        assert_contains(result.err, "kiln-query: ");
        assert_string_equal(result.out, "");
        run_free(&result);
    }
}

static void query_lists_the_devices_when_a_spec_matches_none(void **state)
{
    (void)state;
    run_result result = run_query(NULL, "-d nosuchdevice");
    assert_fails_cleanly(&result);
    assert_contains(result.err, "nosuchdevice");
    assert_contains(result.err, kiln_info(0).name);
    run_free(&result);
}

static void query_without_a_platform_says_so(void **state)
{
    (void)state;
    char folder[] = "/tmp/kiln-test-no-vendors-XXXXXX";
    assert_non_null(mkdtemp(folder));
    char env[256];
    snprintf(env, sizeof env, "OCL_ICD_VENDORS='%s'", folder);
    run_result probe = run_query(env, "-l");
    if (probe.status == 0) {
        /* A loader other than ocl-icd (NVIDIA's, say) ignores OCL_ICD_VENDORS. */
        fprintf(stderr, "skipped: this OpenCL loader finds platforms despite an empty "
                        "OCL_ICD_VENDORS\n");
        run_free(&probe);
        rmdir(folder);
        skip();
    }
    run_free(&probe);
    static const char *const modes[] = {"", "-l", "--json", "-d 0", "--plan vadd 10"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; ++i) {
        run_result result = run_query(env, modes[i]);
        assert_fails_cleanly(&result);
        assert_contains(result.err, "no OpenCL device found");
        run_free(&result);
    }
    rmdir(folder);
}

static void query_help_and_version_succeed(void **state)
{
    (void)state;
    run_result help = query_ok("--help");
    assert_contains(help.out, "--plan");
    run_result version = query_ok("--version");
    assert_contains(version.out, KILN_VERSION_STRING);
    run_free(&help);
    run_free(&version);
}

/* ---------------------------------------------------------------- the library */

/* Which OpenCL facts each kiln_scalar index stands for, written out by name. */
static const struct {
    kiln_scalar scalar;
    cl_device_info preferred, native;
} vector_widths[] = {
    {KILN_SCALAR_CHAR, CL_DEVICE_PREFERRED_VECTOR_WIDTH_CHAR, CL_DEVICE_NATIVE_VECTOR_WIDTH_CHAR},
    {KILN_SCALAR_SHORT, CL_DEVICE_PREFERRED_VECTOR_WIDTH_SHORT,
     CL_DEVICE_NATIVE_VECTOR_WIDTH_SHORT},
    {KILN_SCALAR_INT, CL_DEVICE_PREFERRED_VECTOR_WIDTH_INT, CL_DEVICE_NATIVE_VECTOR_WIDTH_INT},
    {KILN_SCALAR_LONG, CL_DEVICE_PREFERRED_VECTOR_WIDTH_LONG, CL_DEVICE_NATIVE_VECTOR_WIDTH_LONG},
    {KILN_SCALAR_FLOAT, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT,
     CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT},
    {KILN_SCALAR_DOUBLE, CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE,
     CL_DEVICE_NATIVE_VECTOR_WIDTH_DOUBLE},
    {KILN_SCALAR_HALF, CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF, CL_DEVICE_NATIVE_VECTOR_WIDTH_HALF},
};

static void assert_widths_agree(cl_device_id id, const kiln_device_info *info)
{
    assert_int_equal(sizeof vector_widths / sizeof vector_widths[0], KILN_SCALAR_COUNT);
    for (int i = 0; i < KILN_SCALAR_COUNT; ++i) {
        kiln_scalar s = vector_widths[i].scalar;
        assert_int_equal(info->preferred_vector_width[s],
                         device_uint(id, vector_widths[i].preferred));
        assert_int_equal(info->native_vector_width[s], device_uint(id, vector_widths[i].native));
    }
}

static void assert_memory_facts_agree(cl_device_id id, const kiln_device_info *info)
{
    cl_device_local_mem_type local_type;
    cl_device_mem_cache_type cache_type;
    device_fact(id, CL_DEVICE_LOCAL_MEM_TYPE, &local_type, sizeof local_type);
    device_fact(id, CL_DEVICE_GLOBAL_MEM_CACHE_TYPE, &cache_type, sizeof cache_type);
    assert_int_equal(info->local_mem_type, local_type == CL_LOCAL    ? KILN_LOCAL_MEM_DEDICATED
                                           : local_type == CL_GLOBAL ? KILN_LOCAL_MEM_GLOBAL
                                                                     : KILN_LOCAL_MEM_NONE);
    assert_int_equal(info->global_mem_cache_type,
                     cache_type == CL_READ_WRITE_CACHE  ? KILN_CACHE_READ_WRITE
                     : cache_type == CL_READ_ONLY_CACHE ? KILN_CACHE_READ_ONLY
                                                        : KILN_CACHE_NONE);
    assert_int_equal(info->global_mem_cache_bytes,
                     device_ulong(id, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE));
    assert_int_equal(info->global_mem_cacheline_bytes,
                     device_uint(id, CL_DEVICE_GLOBAL_MEM_CACHELINE_SIZE));
    assert_int_equal(info->max_constant_buffer_bytes,
                     device_ulong(id, CL_DEVICE_MAX_CONSTANT_BUFFER_SIZE));
    assert_int_equal(info->mem_base_addr_align_bits,
                     device_uint(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN));
}

/* name is a whole space-separated name of list. */
static bool lists(const char *list, const char *name)
{
    size_t length = strlen(name);
    for (const char *at = list; (at = strstr(at, name)) != NULL; at += length)
        if ((at == list || at[-1] == ' ') && (at[length] == '\0' || at[length] == ' '))
            return true;
    return false;
}

/* The copy is the list itself, or the list cut just before a name. */
static void assert_extensions_agree(cl_device_id id, const kiln_device_info *info)
{
    char *extensions = device_text(id, CL_DEVICE_EXTENSIONS);
    size_t length = strlen(info->extensions);
    assert_true(length < sizeof info->extensions);
    assert_memory_equal(info->extensions, extensions, length);
    assert_true(extensions[length] == '\0' || extensions[length] == ' ');
    cl_device_fp_config double_config;
    device_fact(id, CL_DEVICE_DOUBLE_FP_CONFIG, &double_config, sizeof double_config);
    assert_int_equal(info->fp64, double_config != 0 || lists(extensions, "cl_khr_fp64"));
    assert_int_equal(info->fp16, lists(extensions, "cl_khr_fp16"));
    if (!lists(extensions, "cl_nv_device_attribute_query"))
        assert_int_equal(info->nv_warp_size + info->nv_compute_capability_major, 0);
    if (!lists(extensions, "cl_amd_device_attribute_query"))
        assert_int_equal(info->amd_wavefront_width + strlen(info->amd_board_name), 0);
    free(extensions);
}

static void assert_text_agrees(cl_device_id id, cl_device_info what, const char *copy)
{
    char *text = device_text(id, what);
    assert_string_equal(copy, text);
    free(text);
}

static void device_get_new_facts_agree_with_opencl(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    for (size_t i = 0; i < cl.count; ++i) {
        kiln_device_info info = kiln_info(i);
        cl_device_id id = cl.ids[i];
        assert_int_equal(info.struct_size, sizeof info);
        assert_int_equal(info.max_work_group_size, device_size(id, CL_DEVICE_MAX_WORK_GROUP_SIZE));
        assert_text_agrees(id, CL_DEVICE_VERSION, info.opencl_version);
        assert_text_agrees(id, CL_DEVICE_PROFILE, info.profile);
        assert_memory_facts_agree(id, &info);
        assert_widths_agree(id, &info);
        assert_extensions_agree(id, &info);
    }
}

static void device_get_rejects_a_struct_from_an_older_header(void **state)
{
    (void)state;
    static kiln_device_info info;
    info.struct_size = offsetof(kiln_device_info, opencl_version);
    assert_status(NULL, kiln_device_get(0, &info), KILN_ERR_ARG);
    assert_int_equal(info.struct_size, offsetof(kiln_device_info, opencl_version));
}

/* kiln_device_find and kiln_ctx_create agree on spec: both fail, or both pick the device
 * at the same index. */
static void assert_find_agrees_with_create(const cl_devices *cl, const char *spec)
{
    size_t index = (size_t)-1;
    kiln_status found = kiln_device_find(spec, &index);
    kiln_ctx *ctx = NULL;
    kiln_status created = kiln_ctx_create(&ctx, spec);
    assert_int_equal(found, created);
    if (found == KILN_OK) {
        assert_true(index < cl->count);
        assert_ptr_equal(kiln_ctx_device(ctx), cl->ids[index]);
    } else {
        assert_int_equal(found, KILN_ERR_NODEVICE);
    }
    kiln_ctx_destroy(ctx);
}

static void device_find_picks_what_ctx_create_opens(void **state)
{
    (void)state;
    cl_devices cl = opencl_devices();
    kiln_device_info first = kiln_info(0);
    char last_index[32], last_pair[64];
    snprintf(last_index, sizeof last_index, "%zu", cl.count - 1);
    snprintf(last_pair, sizeof last_pair, "%zu:%zu", cl.platform_index[cl.count - 1],
             cl.device_index[cl.count - 1]);
    const char *specs[] = {NULL, "gpu", "cpu", "0", last_index, last_pair, first.name};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; ++i)
        assert_find_agrees_with_create(&cl, specs[i]);

    size_t index = (size_t)-1;
    assert_ok(NULL, kiln_device_find(last_pair, &index));
    assert_int_equal(index, cl.count - 1);
}

static void device_find_rejects_null_and_unknown_specs(void **state)
{
    (void)state;
    size_t index = 12345;
    assert_status(NULL, kiln_device_find("0", NULL), KILN_ERR_ARG);
    static const char *const unknown[] = {"nosuchdevice", "", "99999", "99:0", "0:99"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
        assert_status(NULL, kiln_device_find(unknown[i], &index), KILN_ERR_NODEVICE);
        assert_contains(kiln_last_error(NULL), kiln_info(0).name);
    }
    assert_int_equal(index, 12345);
}

int main(int argc, char **argv)
{
    query_path = argc > 1 && argv[1][0] != '\0' ? argv[1] : NULL;
    python_path = argc > 2 && argv[2][0] != '\0' ? argv[2] : "python3";
    /* Newer PoCL sizes its memory from what is free when a process starts, so this
     * process and kiln-query's could see different sizes; a fixed limit (GiB) makes
     * both ask the same question. */
    setenv("POCL_MEMORY_LIMIT", "2", 0);
    size_t count = 0;
    if (kiln_device_count(&count) != KILN_OK || count == 0) {
        fprintf(stderr, "no OpenCL device: these tests need one (PoCL's CPU device will do)\n");
        return SKIP;
    }
    const struct CMUnitTest library[] = {
        cmocka_unit_test(device_get_new_facts_agree_with_opencl),
        cmocka_unit_test(device_get_rejects_a_struct_from_an_older_header),
        cmocka_unit_test(device_find_picks_what_ctx_create_opens),
        cmocka_unit_test(device_find_rejects_null_and_unknown_specs),
    };
    const struct CMUnitTest tool[] = {
        cmocka_unit_test(query_list_names_each_device_with_its_max_work_group_size),
        cmocka_unit_test(query_prints_max_work_group_size_first),
        cmocka_unit_test(query_json_parses_and_agrees_with_opencl),
        cmocka_unit_test(query_json_is_valid_in_every_mode),
        cmocka_unit_test(query_plan_for_vadd_stays_within_the_device),
        cmocka_unit_test(query_plan_for_sgemm_fits_the_device),
        cmocka_unit_test(query_plan_for_sgemm_names_the_kernel_it_launches),
        cmocka_unit_test(query_plan_for_gemm_ex_names_the_kernel_of_its_types),
        cmocka_unit_test(query_plan_for_gemm_ex_shows_the_tensor_core_plan_or_why_not),
        cmocka_unit_test(query_plan_for_map_shows_its_path_grid_and_generated_source),
        cmocka_unit_test(query_plan_for_map_reports_what_kiln_map_would_refuse),
        cmocka_unit_test_teardown(query_plan_for_map_builds_the_kernel_kiln_map_runs,
                                  scratch_release),
        cmocka_unit_test(query_kernels_reports_every_kiln_kernel),
        cmocka_unit_test(query_rejects_bad_options_as_usage_errors),
        cmocka_unit_test(query_lists_the_devices_when_a_spec_matches_none),
        cmocka_unit_test(query_without_a_platform_says_so),
        cmocka_unit_test(query_help_and_version_succeed),
    };
    int failed = cmocka_run_group_tests_name("device API", library, NULL, NULL);
    if (query_path == NULL) {
        fprintf(stderr, "kiln-query was not built (-Dtools=false): its tests cannot run\n");
        return failed != 0 ? failed : SKIP;
    }
    return failed + cmocka_run_group_tests_name("kiln-query", tool, NULL, NULL);
}

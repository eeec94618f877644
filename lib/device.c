/* Devices: listing every platform's devices in one index order, reading their facts,
 * and choosing one from a spec ("gpu", "cpu", an index, "P:D", a name substring). */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ICD loader's answer when no platform is installed. */
#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

/* Appends the devices of one platform to *entries. */
static kiln_status append_platform(cl_platform_id platform, size_t platform_index,
                                   struct device_entry **entries, size_t *count)
{
    cl_uint n = 0;
    cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
    if (err == CL_DEVICE_NOT_FOUND || n == 0)
        return KILN_OK;
    if (err != CL_SUCCESS)
        return fail_cl(NULL, "clGetDeviceIDs", err);
    cl_device_id *ids = malloc(n * sizeof(*ids));
    struct device_entry *grown = realloc(*entries, (*count + n) * sizeof(**entries));
    if (grown != NULL)
        *entries = grown;
    if (ids == NULL || grown == NULL) {
        free(ids);
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory listing devices");
    }
    err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, ids, NULL);
    for (cl_uint d = 0; err == CL_SUCCESS && d < n; ++d)
        (*entries)[(*count)++] = (struct device_entry){platform, ids[d], platform_index, d};
    free(ids);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(NULL, "clGetDeviceIDs", err);
}

kiln_status device_entries(struct device_entry **entries, size_t *count)
{
    *entries = NULL;
    *count = 0;
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n);
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && n == 0))
        return KILN_OK;
    if (err != CL_SUCCESS)
        return fail_cl(NULL, "clGetPlatformIDs", err);
    cl_platform_id *platforms = malloc(n * sizeof(*platforms));
    if (platforms == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory listing platforms");
    err = clGetPlatformIDs(n, platforms, NULL);
    kiln_status status = err == CL_SUCCESS ? KILN_OK : fail_cl(NULL, "clGetPlatformIDs", err);
    for (cl_uint p = 0; status == KILN_OK && p < n; ++p)
        status = append_platform(platforms[p], p, entries, count);
    free(platforms);
    if (status != KILN_OK) {
        free(*entries);
        *entries = NULL;
        *count = 0;
    }
    return status;
}

/* Reads one fixed-size device fact; a device that lacks it leaves the zero. */
static void read_fact(cl_device_id device, cl_device_info what, void *value, size_t size)
{
    if (clGetDeviceInfo(device, what, size, value, NULL) != CL_SUCCESS)
        memset(value, 0, size);
}

static void read_text(cl_device_id device, cl_device_info what, char *text, size_t size)
{
    text[0] = '\0';
    if (clGetDeviceInfo(device, what, size, text, NULL) != CL_SUCCESS)
        text[0] = '\0';
    text[size - 1] = '\0';
}

static kiln_device_type type_of(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return KILN_DEVICE_GPU;
    if (type & CL_DEVICE_TYPE_CPU)
        return KILN_DEVICE_CPU;
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return KILN_DEVICE_ACCELERATOR;
    return KILN_DEVICE_OTHER;
}

kiln_status device_info_read(const kiln_ctx *ctx, const struct device_entry *entry,
                             kiln_device_info *info)
{
    if (info->struct_size < sizeof(kiln_device_info))
        return fail(ctx, KILN_ERR_ARG,
                    "info->struct_size is %zu; set it to sizeof(kiln_device_info), %zu",
                    info->struct_size, sizeof(kiln_device_info));
    cl_device_id id = entry->device;
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    info->platform_index = entry->platform_index;
    info->device_index = entry->device_index;
    read_fact(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, &info->max_work_group_size, sizeof(size_t));
    read_text(id, CL_DEVICE_NAME, info->name, sizeof(info->name));
    read_text(id, CL_DEVICE_VENDOR, info->vendor, sizeof(info->vendor));
    read_text(id, CL_DRIVER_VERSION, info->driver_version, sizeof(info->driver_version));
    read_text(id, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
              sizeof(info->opencl_c_version));
    if (clGetPlatformInfo(entry->platform, CL_PLATFORM_NAME, sizeof(info->platform_name),
                          info->platform_name, NULL) != CL_SUCCESS)
        info->platform_name[0] = '\0';
    info->platform_name[sizeof(info->platform_name) - 1] = '\0';

    cl_device_type type;
    cl_bool unified;
    cl_uint units, clock, dims;
    cl_ulong local, global, alloc;
    size_t item_sizes[16] = {0};
    read_fact(id, CL_DEVICE_TYPE, &type, sizeof(type));
    read_fact(id, CL_DEVICE_HOST_UNIFIED_MEMORY, &unified, sizeof(unified));
    read_fact(id, CL_DEVICE_MAX_COMPUTE_UNITS, &units, sizeof(units));
    read_fact(id, CL_DEVICE_MAX_CLOCK_FREQUENCY, &clock, sizeof(clock));
    read_fact(id, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, &dims, sizeof(dims));
    read_fact(id, CL_DEVICE_LOCAL_MEM_SIZE, &local, sizeof(local));
    read_fact(id, CL_DEVICE_GLOBAL_MEM_SIZE, &global, sizeof(global));
    read_fact(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, &alloc, sizeof(alloc));
    if (dims <= 16)
        read_fact(id, CL_DEVICE_MAX_WORK_ITEM_SIZES, item_sizes, dims * sizeof(size_t));
    info->type = type_of(type);
    info->unified_memory = unified ? 1 : 0;
    info->compute_units = units;
    info->clock_mhz = clock;
    info->max_work_item_dimensions = dims;
    memcpy(info->max_work_item_sizes, item_sizes, sizeof(info->max_work_item_sizes));
    info->local_mem_bytes = local;
    info->global_mem_bytes = global;
    info->max_alloc_bytes = alloc;
    return KILN_OK;
}

KILN_API kiln_status kiln_device_count(size_t *n)
{
    if (n == NULL)
        return fail(NULL, KILN_ERR_ARG, "n is NULL");
    struct device_entry *entries;
    CHECK(device_entries(&entries, n));
    free(entries);
    return KILN_OK;
}

KILN_API kiln_status kiln_device_get(size_t index, kiln_device_info *info)
{
    if (info == NULL)
        return fail(NULL, KILN_ERR_ARG, "info is NULL");
    struct device_entry *entries;
    size_t count;
    CHECK(device_entries(&entries, &count));
    kiln_status status = index < count
                             ? device_info_read(NULL, &entries[index], info)
                             : fail(NULL, KILN_ERR_NODEVICE,
                                    "device index %zu is out of range: there are %zu devices",
                                    index, count);
    free(entries);
    return status;
}

/* ---- choosing a device */

struct device_facts {
    cl_device_type type;
    cl_bool unified;
    cl_ulong global;
    char name[256];
};

static struct device_facts facts_of(cl_device_id id)
{
    struct device_facts facts;
    read_fact(id, CL_DEVICE_TYPE, &facts.type, sizeof(facts.type));
    read_fact(id, CL_DEVICE_HOST_UNIFIED_MEMORY, &facts.unified, sizeof(facts.unified));
    read_fact(id, CL_DEVICE_GLOBAL_MEM_SIZE, &facts.global, sizeof(facts.global));
    read_text(id, CL_DEVICE_NAME, facts.name, sizeof(facts.name));
    return facts;
}

/* a ranks above b: a discrete device before one sharing host memory, then more memory. */
static bool ranks_above(const struct device_facts *a, const struct device_facts *b)
{
    if (a->unified != b->unified)
        return !a->unified;
    return a->global > b->global;
}

/* Index of the best device of `type` (any type: 0), or count when there is none. */
static size_t best_of_type(const struct device_entry *entries, size_t count,
                           cl_device_type type)
{
    size_t best = count;
    struct device_facts best_facts = {0};
    for (size_t i = 0; i < count; ++i) {
        struct device_facts facts = facts_of(entries[i].device);
        if (type != 0 && !(facts.type & type))
            continue;
        if (best == count || ranks_above(&facts, &best_facts)) {
            best = i;
            best_facts = facts;
        }
    }
    return best;
}

static bool all_digits(const char *text)
{
    if (*text == '\0')
        return false;
    for (; *text != '\0'; ++text)
        if (!isdigit((unsigned char)*text))
            return false;
    return true;
}

/* Case-insensitive strstr. */
static bool contains_folded(const char *haystack, const char *needle)
{
    size_t length = strlen(needle);
    for (; *haystack != '\0'; ++haystack) {
        size_t i = 0;
        while (i < length && haystack[i] != '\0' &&
               tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
            ++i;
        if (i == length)
            return true;
    }
    return false;
}

/* Index of the device the spec names, or count when it names none. */
static size_t match_spec(const char *spec, const struct device_entry *entries, size_t count)
{
    if (*spec == '\0')
        return count;
    if (strcmp(spec, "gpu") == 0)
        return best_of_type(entries, count, CL_DEVICE_TYPE_GPU);
    if (strcmp(spec, "cpu") == 0)
        return best_of_type(entries, count, CL_DEVICE_TYPE_CPU);
    if (all_digits(spec)) {
        char *end;
        unsigned long long index = strtoull(spec, &end, 10);
        return index < count ? (size_t)index : count;
    }
    unsigned long long platform, device;
    char tail;
    if (sscanf(spec, "%llu:%llu%c", &platform, &device, &tail) == 2) {
        for (size_t i = 0; i < count; ++i)
            if (entries[i].platform_index == platform && entries[i].device_index == device)
                return i;
        return count;
    }
    for (size_t i = 0; i < count; ++i)
        if (contains_folded(facts_of(entries[i].device).name, spec))
            return i;
    return count;
}

/* The default: the best GPU, else the best of anything. */
static size_t best_default(const struct device_entry *entries, size_t count)
{
    size_t gpu = best_of_type(entries, count, CL_DEVICE_TYPE_GPU);
    return gpu < count ? gpu : best_of_type(entries, count, 0);
}

/* "no device matches "x"; the devices are: 0 (0:0) name; ..." into the thread's message. */
static kiln_status fail_no_match(const char *spec, const struct device_entry *entries,
                                 size_t count)
{
    char list[3072] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof(list); ++i) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%zu (%zu:%zu) %s",
                         i ? "; " : "", i, entries[i].platform_index,
                         entries[i].device_index, facts_of(entries[i].device).name);
        used += n > 0 ? (size_t)n : 0;
    }
    return fail(NULL, KILN_ERR_NODEVICE, "no device matches \"%s\"; the devices are: %s",
                spec, list);
}

kiln_status device_select(const char *spec, struct device_entry *chosen)
{
    struct device_entry *entries;
    size_t count;
    CHECK(device_entries(&entries, &count));
    if (count == 0)
        return fail(NULL, KILN_ERR_NODEVICE,
                    "no OpenCL device found: no platform is installed, or none has a "
                    "device (the ICD loader reads /etc/OpenCL/vendors or $OCL_ICD_VENDORS)");
    if (spec == NULL) {
        const char *env = getenv("KILN_DEVICE");
        spec = env != NULL && *env != '\0' ? env : NULL;
    }
    size_t index = spec == NULL ? best_default(entries, count) : match_spec(spec, entries, count);
    kiln_status status = KILN_OK;
    if (index < count)
        *chosen = entries[index];
    else
        status = fail_no_match(spec, entries, count);
    free(entries);
    return status;
}

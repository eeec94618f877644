/* Devices: listing every platform's devices in one index order, reading their facts,
 * and choosing one from a spec ("gpu", "cpu", an index, "P:D", a name substring). */
#include "internal.h"

#include <CL/cl_ext.h>
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

/* A cl_uint fact as unsigned; 0 when the device lacks it. */
static unsigned read_uint(cl_device_id device, cl_device_info what)
{
    cl_uint value;
    read_fact(device, what, &value, sizeof(value));
    return value;
}

static unsigned long long read_ulong(cl_device_id device, cl_device_info what)
{
    cl_ulong value;
    read_fact(device, what, &value, sizeof(value));
    return value;
}

/* A string fact of any length, malloc'd; NULL when the device lacks it or memory is
 * short. (clGetDeviceInfo fails outright, rather than cutting, into a short buffer.) */
static char *read_text_whole(cl_device_id device, cl_device_info what)
{
    size_t size = 0;
    if (clGetDeviceInfo(device, what, 0, NULL, &size) != CL_SUCCESS || size == 0)
        return NULL;
    char *text = malloc(size + 1);
    if (text != NULL && clGetDeviceInfo(device, what, size, text, NULL) != CL_SUCCESS) {
        free(text);
        return NULL;
    }
    if (text != NULL)
        text[size] = '\0';
    return text;
}

/* Copies source into text[size], cut when too long; with whole_names at the last space
 * that fits, so a list of names never ends in half a name. */
static void copy_cut(char *text, size_t size, const char *source, bool whole_names)
{
    text[0] = '\0';
    if (source == NULL)
        return;
    size_t length = strlen(source);
    if (length < size) {
        memcpy(text, source, length + 1);
        return;
    }
    memcpy(text, source, size - 1);
    text[size - 1] = '\0';
    char *space = whole_names ? strrchr(text, ' ') : NULL;
    if (space != NULL)
        *space = '\0';
}

static void read_text(cl_device_id device, cl_device_info what, char *text, size_t size)
{
    char *whole = read_text_whole(device, what);
    copy_cut(text, size, whole, false);
    free(whole);
}

/* name is one of the space-separated names of list (not merely a prefix of one). */
static bool has_extension(const char *list, const char *name)
{
    size_t length = strlen(name);
    for (const char *at = list; at != NULL && (at = strstr(at, name)) != NULL; at += length)
        if ((at == list || at[-1] == ' ') && (at[length] == '\0' || at[length] == ' '))
            return true;
    return false;
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

static void read_identity(const struct device_entry *entry, kiln_device_info *info)
{
    cl_device_id id = entry->device;
    read_text(id, CL_DEVICE_NAME, info->name, sizeof(info->name));
    read_text(id, CL_DEVICE_VENDOR, info->vendor, sizeof(info->vendor));
    read_text(id, CL_DRIVER_VERSION, info->driver_version, sizeof(info->driver_version));
    read_text(id, CL_DEVICE_VERSION, info->opencl_version, sizeof(info->opencl_version));
    read_text(id, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
              sizeof(info->opencl_c_version));
    read_text(id, CL_DEVICE_PROFILE, info->profile, sizeof(info->profile));
    if (clGetPlatformInfo(entry->platform, CL_PLATFORM_NAME, sizeof(info->platform_name),
                          info->platform_name, NULL) != CL_SUCCESS)
        info->platform_name[0] = '\0';
    info->platform_name[sizeof(info->platform_name) - 1] = '\0';
    cl_device_type type;
    read_fact(id, CL_DEVICE_TYPE, &type, sizeof(type));
    info->type = type_of(type);
}

static void read_compute(cl_device_id id, kiln_device_info *info)
{
    read_fact(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, &info->max_work_group_size, sizeof(size_t));
    info->compute_units = read_uint(id, CL_DEVICE_MAX_COMPUTE_UNITS);
    info->clock_mhz = read_uint(id, CL_DEVICE_MAX_CLOCK_FREQUENCY);
    info->max_work_item_dimensions = read_uint(id, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS);
    size_t item_sizes[16] = {0};
    if (info->max_work_item_dimensions <= 16)
        read_fact(id, CL_DEVICE_MAX_WORK_ITEM_SIZES, item_sizes,
                  info->max_work_item_dimensions * sizeof(size_t));
    memcpy(info->max_work_item_sizes, item_sizes, sizeof(info->max_work_item_sizes));
}

static void read_memory(cl_device_id id, kiln_device_info *info)
{
    cl_bool unified;
    cl_device_local_mem_type local_type;
    cl_device_mem_cache_type cache_type;
    read_fact(id, CL_DEVICE_HOST_UNIFIED_MEMORY, &unified, sizeof(unified));
    read_fact(id, CL_DEVICE_LOCAL_MEM_TYPE, &local_type, sizeof(local_type));
    read_fact(id, CL_DEVICE_GLOBAL_MEM_CACHE_TYPE, &cache_type, sizeof(cache_type));
    info->unified_memory = unified ? 1 : 0;
    info->local_mem_type = local_type == CL_LOCAL    ? KILN_LOCAL_MEM_DEDICATED
                           : local_type == CL_GLOBAL ? KILN_LOCAL_MEM_GLOBAL
                                                     : KILN_LOCAL_MEM_NONE;
    info->global_mem_cache_type = cache_type == CL_READ_ONLY_CACHE    ? KILN_CACHE_READ_ONLY
                                  : cache_type == CL_READ_WRITE_CACHE ? KILN_CACHE_READ_WRITE
                                                                      : KILN_CACHE_NONE;
    info->local_mem_bytes = read_ulong(id, CL_DEVICE_LOCAL_MEM_SIZE);
    info->global_mem_bytes = read_ulong(id, CL_DEVICE_GLOBAL_MEM_SIZE);
    info->max_alloc_bytes = read_ulong(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    info->global_mem_cache_bytes = read_ulong(id, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE);
    info->global_mem_cacheline_bytes = read_uint(id, CL_DEVICE_GLOBAL_MEM_CACHELINE_SIZE);
    info->max_constant_buffer_bytes = read_ulong(id, CL_DEVICE_MAX_CONSTANT_BUFFER_SIZE);
    info->mem_base_addr_align_bits = read_uint(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN);
}

static void read_vector_widths(cl_device_id id, kiln_device_info *info)
{
    /* In kiln_scalar order. */
    static const cl_device_info preferred[KILN_SCALAR_COUNT] = {
        CL_DEVICE_PREFERRED_VECTOR_WIDTH_CHAR,  CL_DEVICE_PREFERRED_VECTOR_WIDTH_SHORT,
        CL_DEVICE_PREFERRED_VECTOR_WIDTH_INT,   CL_DEVICE_PREFERRED_VECTOR_WIDTH_LONG,
        CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE,
        CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF};
    static const cl_device_info native[KILN_SCALAR_COUNT] = {
        CL_DEVICE_NATIVE_VECTOR_WIDTH_CHAR,  CL_DEVICE_NATIVE_VECTOR_WIDTH_SHORT,
        CL_DEVICE_NATIVE_VECTOR_WIDTH_INT,   CL_DEVICE_NATIVE_VECTOR_WIDTH_LONG,
        CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, CL_DEVICE_NATIVE_VECTOR_WIDTH_DOUBLE,
        CL_DEVICE_NATIVE_VECTOR_WIDTH_HALF};
    for (int s = 0; s < KILN_SCALAR_COUNT; ++s) {
        info->preferred_vector_width[s] = read_uint(id, preferred[s]);
        info->native_vector_width[s] = read_uint(id, native[s]);
    }
}

/* Facts behind vendor extensions, read only where the extension is listed: other
 * drivers may answer those enum values with something else entirely. */
static void read_vendor_facts(cl_device_id id, const char *extensions,
                              kiln_device_info *info)
{
    if (has_extension(extensions, "cl_nv_device_attribute_query")) {
        info->nv_compute_capability_major = read_uint(id, CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV);
        info->nv_compute_capability_minor = read_uint(id, CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV);
        info->nv_warp_size = read_uint(id, CL_DEVICE_WARP_SIZE_NV);
        info->nv_registers_per_block = read_uint(id, CL_DEVICE_REGISTERS_PER_BLOCK_NV);
    }
    if (has_extension(extensions, "cl_amd_device_attribute_query")) {
        info->amd_wavefront_width = read_uint(id, CL_DEVICE_WAVEFRONT_WIDTH_AMD);
        info->amd_simds_per_compute_unit = read_uint(id, CL_DEVICE_SIMD_PER_COMPUTE_UNIT_AMD);
        read_text(id, CL_DEVICE_BOARD_NAME_AMD, info->amd_board_name,
                  sizeof(info->amd_board_name));
    }
}

/* Extensions and what follows from them; the whole list is searched, not the copy. */
static void read_extensions(cl_device_id id, kiln_device_info *info)
{
    char *extensions = read_text_whole(id, CL_DEVICE_EXTENSIONS);
    copy_cut(info->extensions, sizeof(info->extensions), extensions, true);
    cl_device_fp_config double_config = 0;
    read_fact(id, CL_DEVICE_DOUBLE_FP_CONFIG, &double_config, sizeof(double_config));
    info->fp16 = has_extension(extensions, "cl_khr_fp16");
    info->fp64 = double_config != 0 || has_extension(extensions, "cl_khr_fp64");
    read_vendor_facts(id, extensions, info);
    free(extensions);
}

kiln_status device_info_read(const kiln_ctx *ctx, const struct device_entry *entry,
                             kiln_device_info *info)
{
    if (info->struct_size < sizeof(kiln_device_info))
        return fail(ctx, KILN_ERR_ARG,
                    "info->struct_size is %zu; set it to sizeof(kiln_device_info), %zu",
                    info->struct_size, sizeof(kiln_device_info));
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    info->platform_index = entry->platform_index;
    info->device_index = entry->device_index;
    read_identity(entry, info);
    read_compute(entry->device, info);
    read_memory(entry->device, info);
    read_vector_widths(entry->device, info);
    read_extensions(entry->device, info);
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

/* Index of the device spec names (NULL: $KILN_DEVICE, else the default) among the
 * count entries; fails, listing the devices, when it names none. */
static kiln_status device_choose(const char *spec, const struct device_entry *entries,
                                 size_t count, size_t *index)
{
    if (count == 0)
        return fail(NULL, KILN_ERR_NODEVICE,
                    "no OpenCL device found: no platform is installed, or none has a "
                    "device (the ICD loader reads /etc/OpenCL/vendors or $OCL_ICD_VENDORS)");
    if (spec == NULL) {
        const char *env = getenv("KILN_DEVICE");
        spec = env != NULL && *env != '\0' ? env : NULL;
    }
    *index = spec == NULL ? best_default(entries, count) : match_spec(spec, entries, count);
    return *index < count ? KILN_OK : fail_no_match(spec, entries, count);
}

/* The entry and index of the device spec names, from a fresh listing. */
static kiln_status device_lookup(const char *spec, struct device_entry *chosen, size_t *index)
{
    struct device_entry *entries;
    size_t count, found = 0;
    CHECK(device_entries(&entries, &count));
    kiln_status status = device_choose(spec, entries, count, &found);
    if (status == KILN_OK) {
        *chosen = entries[found];
        *index = found;
    }
    free(entries);
    return status;
}

kiln_status device_select(const char *spec, struct device_entry *chosen)
{
    size_t index;
    return device_lookup(spec, chosen, &index);
}

KILN_API kiln_status kiln_device_find(const char *spec, size_t *index)
{
    if (index == NULL)
        return fail(NULL, KILN_ERR_ARG, "index is NULL");
    struct device_entry chosen;
    return device_lookup(spec, &chosen, index);
}

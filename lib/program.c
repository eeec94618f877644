/* Programs: the embedded OpenCL sources (or $KILN_CL_DIR's files) with the headers they
 * include put in place, built once per (context, source, options) and kept with their
 * kernels for the context's life. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options every build gets: OpenCL C 1.2 and warnings as errors. */
static const char base_options[] = "-cl-std=CL1.2 -Werror";

struct kernel_entry {
    struct kernel kernel;
    char *name;
    struct kernel_entry *next;
};

struct program {
    const char *source; /* a name of embedded_sources: static */
    char *options;
    char *key;      /* a generated program's key (lib/expr); NULL for the others */
    unsigned users; /* a generated program's kernels being launched: not evicted */
    cl_program program;
    struct kernel_entry *kernels;
    struct program *next;
};

/* Reads $KILN_CL_DIR/<file> into a malloc'd string. */
static kiln_status read_source_file(const kiln_ctx *ctx, const char *dir, const char *name,
                                    char **out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return fail(ctx, KILN_ERR_BUILD, "cannot read kernel source %s ($KILN_CL_DIR): %s",
                    path, strerror(errno));
    char *text = NULL;
    size_t length = 0;
    long size = fseek(file, 0, SEEK_END) == 0 ? ftell(file) : -1;
    if (size >= 0 && fseek(file, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)))
        length = fread(text, 1, (size_t)size, file);
    fclose(file);
    if (text == NULL || length != (size_t)size) {
        free(text);
        return fail(ctx, KILN_ERR_BUILD, "cannot read kernel source %s", path);
    }
    text[length] = '\0';
    *out = text;
    return KILN_OK;
}

/* The embedded copy of the source with this file stem, or NULL. */
static const struct embedded_source *embedded_find(const char *stem)
{
    const struct embedded_source *known = embedded_sources;
    while (known->name != NULL && strcmp(known->name, stem) != 0)
        ++known;
    return known->name != NULL ? known : NULL;
}

/* The text of source `stem` (a file stem of the cl folder, with its extension) in a
 * malloc'd string: $KILN_CL_DIR's file when that is set, else the embedded copy. */
static kiln_status source_own_text(const kiln_ctx *ctx, const char *stem,
                                   const char *extension, char **out)
{
    const char *dir = getenv("KILN_CL_DIR");
    if (dir != NULL && *dir != '\0') {
        char file[256];
        snprintf(file, sizeof(file), "%s%s", stem, extension);
        return read_source_file(ctx, dir, file, out);
    }
    const struct embedded_source *known = embedded_find(stem);
    if (known == NULL)
        return fail(ctx, KILN_ERR_BUILD, "no kernel source named %s%s", stem, extension);
    if ((*out = strdup(known->text)) == NULL)
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory reading %s%s", stem, extension);
    return KILN_OK;
}

static const char include_directive[] = "#include \"";

/* text past prefix when text starts with it, else NULL. A loop rather than strncmp:
 * GCC 12 at -O3 with sanitizers takes text for the literal after an equal strncmp and
 * warns of reads past its end (-Wstringop-overread). */
static const char *skip_prefix(const char *text, const char *prefix)
{
    for (; *prefix != '\0' && *text == *prefix; ++text, ++prefix)
        ;
    return *prefix == '\0' ? text : NULL;
}

/* The next line of text that is `#include "<stem>.h"`, or NULL; *stem gets the stem. */
static const char *include_find(const char *text, char *stem, size_t size)
{
    for (const char *line = text;; ++line) {
        const char *name = skip_prefix(line, include_directive);
        if (name != NULL) {
            size_t length = strcspn(name, "\"\n");
            if (length > 2 && length < size && strncmp(name + length - 2, ".h\"", 3) == 0) {
                memcpy(stem, name, length - 2);
                stem[length - 2] = '\0';
                return line;
            }
        }
        if ((line = strchr(line, '\n')) == NULL)
            return NULL;
    }
}

/* text with its line at `line` replaced by `with`, in a new malloc'd string. */
static char *line_replace(const char *text, const char *line, const char *with)
{
    const char *rest = line + strcspn(line, "\n");
    size_t before = (size_t)(line - text), length = before + strlen(with) + strlen(rest) + 1;
    char *joined = malloc(length);
    if (joined != NULL)
        snprintf(joined, length, "%.*s%s%s", (int)before, text, with, rest);
    return joined;
}

/* A header whose text a generated program replaces (lib/expr's element function in
 * place of cl/map_expression.h's defaults). */
struct source_slot {
    const char *header;
    const char *text;
};

/* The text of header `stem`: the slot's when it names that header. */
static kiln_status header_text(const kiln_ctx *ctx, const char *stem,
                               const struct source_slot *slot, char **out)
{
    if (slot == NULL || strcmp(slot->header, stem) != 0)
        return source_own_text(ctx, stem, ".h", out);
    if ((*out = strdup(slot->text)) == NULL)
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory reading %s.h", stem);
    return KILN_OK;
}

/* Source `stem` with each `#include "<header>.h"` line replaced by the header's text, as
 * the compiler would (the embedded copies have no files to include from); a header's own
 * includes are replaced in turn, as the joined text is searched again. The whole text is
 * also what the binary cache keys on. */
static kiln_status source_read(const kiln_ctx *ctx, const char *stem, const char *extension,
                               const struct source_slot *slot, char **out)
{
    char *text = NULL;
    CHECK(source_own_text(ctx, stem, extension, &text));
    char header[64];
    const char *line;
    while ((line = include_find(text, header, sizeof(header))) != NULL) {
        char *included = NULL;
        kiln_status status = header_text(ctx, header, slot, &included);
        char *joined = status == KILN_OK ? line_replace(text, line, included) : NULL;
        free(included);
        free(text);
        if (status != KILN_OK) /* its message names the header */
            return status;
        if (joined == NULL)
            return fail(ctx, KILN_ERR_NOMEM, "out of host memory reading %s%s", stem,
                        extension);
        text = joined;
    }
    *out = text;
    return KILN_OK;
}

static kiln_status fail_build(const kiln_ctx *ctx, cl_program program, const char *source,
                              const char *options, cl_int err)
{
    size_t size = 0;
    clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size);
    char *log = malloc(size + 1);
    if (log != NULL && clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG,
                                             size, log, NULL) != CL_SUCCESS)
        size = 0;
    if (log != NULL)
        log[size] = '\0';
    kiln_status status = fail(ctx, KILN_ERR_BUILD,
                              "building %s.cl with \"%s %s\" failed: %s (%d); log:\n%s",
                              source, base_options, options, cl_error_name(err), (int)err,
                              log != NULL ? log : "(no memory for the log)");
    free(log);
    return status;
}

/* Compiles text for ctx's device; all_options are the whole build options. */
static kiln_status program_compile(const kiln_ctx *ctx, const char *source, const char *text,
                                   const char *options, const char *all_options,
                                   cl_program *out)
{
    cl_int err;
    cl_program program = clCreateProgramWithSource(ctx->context, 1, &text, NULL, &err);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, "clCreateProgramWithSource", err);
    err = clBuildProgram(program, 1, &ctx->device, all_options, NULL, NULL);
    if (err != CL_SUCCESS) {
        kiln_status status = fail_build(ctx, program, source, options, err);
        clReleaseProgram(program);
        return status;
    }
    *out = program;
    return KILN_OK;
}

/* Hopper-only PTX lines (wgmma) are written in kernels as comments with this prefix:
 * NVIDIA's OpenCL compiler targets sm_90, where they would not assemble. */
static const char hopper_marker[] = "// KILN: ";
static const char sm90_target[] = ".target sm_90";

/* text with every `from` replaced by `to` (not longer than from), in place. */
static void text_replace(char *text, const char *from, const char *to)
{
    size_t from_length = strlen(from), to_length = strlen(to);
    char *write = text;
    for (const char *read = text; *read != '\0';) {
        if (strncmp(read, from, from_length) == 0) {
            memcpy(write, to, to_length);
            write += to_length;
            read += from_length;
        } else {
            *write++ = *read++;
        }
    }
    *write = '\0';
}

/* The program's PTX (NVIDIA's binaries are PTX text) with the marked lines uncommented
 * and the target raised to sm_90a, in a malloc'd string; NULL when the binary is not PTX
 * for sm_90. */
static char *ptx_for_sm90a(cl_program program)
{
    size_t size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, NULL) !=
            CL_SUCCESS ||
        size == 0)
        return NULL;
    char *ptx = calloc(1, size + 2); /* room for the target's extra "a" */
    unsigned char *binaries[1] = {(unsigned char *)ptx};
    char *target;
    if (ptx == NULL ||
        clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(binaries), binaries, NULL) !=
            CL_SUCCESS ||
        (target = strstr(ptx, sm90_target)) == NULL ||
        (target[strlen(sm90_target)] != ',' && target[strlen(sm90_target)] != '\n')) {
        free(ptx);
        return NULL;
    }
    target += strlen(sm90_target);
    memmove(target + 1, target, strlen(target) + 1);
    *target = 'a';
    text_replace(ptx, hopper_marker, "");
    return ptx;
}

/* A program whose source marks Hopper-only lines, rebuilt from its PTX for sm_90a
 * (clCreateProgramWithBinary takes PTX); *program is replaced. A device or driver that
 * gives no sm_90 PTX, or refuses the result, is KILN_ERR_BUILD with the reason. */
static kiln_status program_retarget(const kiln_ctx *ctx, const char *source,
                                    const char *options, cl_program *program)
{
    char *ptx = ptx_for_sm90a(*program);
    if (ptx == NULL)
        return fail(ctx, KILN_ERR_BUILD, "%s.cl needs sm_90a: the driver gave no sm_90 PTX "
                    "to retarget", source);
    size_t length = strlen(ptx) + 1;
    const unsigned char *binary = (const unsigned char *)ptx;
    cl_int err, binary_status;
    cl_program retargeted = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &length,
                                                      &binary, &binary_status, &err);
    free(ptx);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, "clCreateProgramWithBinary (sm_90a PTX)", err);
    err = clBuildProgram(retargeted, 1, &ctx->device, "", NULL, NULL);
    if (err != CL_SUCCESS) {
        kiln_status status = fail_build(ctx, retargeted, source, options, err);
        clReleaseProgram(retargeted);
        return status;
    }
    clReleaseProgram(*program);
    *program = retargeted;
    return KILN_OK;
}

/* The program of `source` with `options`: from the on-disk cache when it has a good
 * entry, else compiled (and then cached). */
static kiln_status program_build(const kiln_ctx *ctx, const struct embedded_source *known,
                                 const struct source_slot *slot, const char *options,
                                 cl_program *out)
{
    char *text = NULL;
    CHECK(source_read(ctx, known->name, ".cl", slot, &text));
    size_t length = strlen(base_options) + strlen(options) + 2;
    char *all_options = malloc(length);
    kiln_status status = KILN_OK;
    if (all_options == NULL)
        status = fail(ctx, KILN_ERR_NOMEM, "out of host memory building %s", known->name);
    else
        snprintf(all_options, length, "%s %s", base_options, options);
    if (status == KILN_OK && !cache_load(ctx, text, all_options, out)) {
        status = program_compile(ctx, known->name, text, options, all_options, out);
        if (status == KILN_OK && strstr(text, hopper_marker) != NULL &&
            (status = program_retarget(ctx, known->name, options, out)) != KILN_OK)
            clReleaseProgram(*out);
        if (status == KILN_OK)
            cache_store(ctx, text, all_options, *out);
    }
    free(all_options);
    free(text);
    return status;
}

static struct program *program_find(const kiln_ctx *ctx, const char *source,
                                    const char *options)
{
    for (struct program *p = ctx->programs; p != NULL; p = p->next)
        if (strcmp(p->source, source) == 0 && strcmp(p->options, options) == 0)
            return p;
    return NULL;
}

/* The program, built and added to the context's list on first use. Lock held. */
static kiln_status program_get(kiln_ctx *ctx, const char *source, const char *options,
                               struct program **out)
{
    struct program *found = program_find(ctx, source, options);
    if (found != NULL) {
        *out = found;
        return KILN_OK;
    }
    const struct embedded_source *known = embedded_find(source);
    if (known == NULL)
        return fail(ctx, KILN_ERR_BUILD, "no kernel source named %s", source);
    struct program *p = calloc(1, sizeof(*p));
    char *options_copy = strdup(options);
    if (p == NULL || options_copy == NULL) {
        free(p);
        free(options_copy);
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory for a program");
    }
    kiln_status status = program_build(ctx, known, NULL, options, &p->program);
    if (status != KILN_OK) {
        free(p);
        free(options_copy);
        return status;
    }
    p->source = known->name;
    p->options = options_copy;
    p->next = ctx->programs;
    ctx->programs = p;
    *out = p;
    return KILN_OK;
}

/* NVIDIA's driver (580, on the H200) reports a CL_KERNEL_WORK_GROUP_SIZE of 256 for every
 * kernel, one built with reqd_work_group_size(1024, 1, 1) included, and runs that
 * kernel's groups of 1024 (measured 2026-12-02: correct results, softmax rows of 32768
 * floats 25% faster than in groups of 256). The compiler fits a kernel built for a fixed
 * shape to it (ptxas caps its registers), so there the shape, within the device's
 * limit, is the kernel's limit. */
static void nvidia_compiled_shape(const kiln_ctx *ctx, cl_kernel kernel,
                                  struct kernel_limits *limits)
{
    size_t shape[3] = {0, 0, 0};
    if (ctx->limits.nv_compute_capability == 0 ||
        clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE,
                                 sizeof(shape), shape, NULL) != CL_SUCCESS)
        return;
    size_t items = shape[0] * shape[1] * shape[2];
    if (items > limits->work_group_size && items <= ctx->limits.max_work_group_size)
        limits->work_group_size = items;
}

static kiln_status kernel_limits_read(const kiln_ctx *ctx, cl_kernel kernel,
                                      struct kernel_limits *limits)
{
    cl_int err = clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                          sizeof(size_t), &limits->work_group_size, NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(kernel, ctx->device,
                                       CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                       sizeof(size_t), &limits->preferred_multiple, NULL);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, "clGetKernelWorkGroupInfo", err);
    nvidia_compiled_shape(ctx, kernel, limits);
    return KILN_OK;
}

/* The kernel of program p, created on first use. Lock held. */
static kiln_status kernel_of(kiln_ctx *ctx, struct program *p, const char *name,
                             struct kernel **out)
{
    struct kernel_entry *entry;
    for (entry = p->kernels; entry != NULL; entry = entry->next)
        if (strcmp(entry->name, name) == 0) {
            *out = &entry->kernel;
            return KILN_OK;
        }
    entry = calloc(1, sizeof(*entry));
    if (entry == NULL || (entry->name = strdup(name)) == NULL) {
        free(entry);
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory for a kernel");
    }
    cl_int err;
    entry->kernel.kernel = clCreateKernel(p->program, name, &err);
    kiln_status status = err == CL_SUCCESS ? kernel_limits_read(ctx, entry->kernel.kernel,
                                                                &entry->kernel.limits)
                                           : fail_cl(ctx, "clCreateKernel", err);
    if (status != KILN_OK) {
        if (err == CL_SUCCESS)
            clReleaseKernel(entry->kernel.kernel);
        free(entry->name);
        free(entry);
        return status;
    }
    entry->next = p->kernels;
    p->kernels = entry;
    *out = &entry->kernel;
    return KILN_OK;
}

kiln_status kernel_get(kiln_ctx *ctx, const char *source, const char *options,
                       const char *name, struct kernel **out)
{
    pthread_mutex_lock(&ctx->lock);
    struct program *p = NULL;
    kiln_status status = program_get(ctx, source, options, &p);
    if (status == KILN_OK)
        status = kernel_of(ctx, p, name, out);
    pthread_mutex_unlock(&ctx->lock);
    return status;
}

/* Sets argument i unless the kernel already holds that value. Lock held. */
static cl_int arg_set(struct kernel *kernel, cl_uint i, const struct kernel_arg *arg)
{
    struct kernel_arg_state now = {arg->size, arg->serial};
    if (arg->serial == 0)
        memcpy(&now.value, arg->value, arg->size);
    if (i < KERNEL_MAX_ARGS && kernel->last[i].size == now.size &&
        kernel->last[i].value == now.value)
        return CL_SUCCESS;
    cl_int err = clSetKernelArg(kernel->kernel, i, arg->size, arg->value);
    if (i < KERNEL_MAX_ARGS)
        kernel->last[i] = err == CL_SUCCESS ? now : (struct kernel_arg_state){0, 0};
    return err;
}

/* The allocations of the launch's buffers into roots; 0 (standing for all) when there
 * are more than KERNEL_MAX_ARGS. */
static size_t launch_roots(const struct kernel_arg *args, size_t count,
                           cl_mem roots[KERNEL_MAX_ARGS])
{
    size_t found = 0;
    for (size_t i = 0; i < count; ++i)
        if (args[i].root != NULL) {
            if (found == KERNEL_MAX_ARGS)
                return 0;
            roots[found++] = args[i].root;
        }
    return found;
}

kiln_status kernel_launch(kiln_ctx *ctx, struct kernel *kernel, const struct launch *plan,
                          const struct kernel_arg *args, size_t count)
{
    cl_mem roots[KERNEL_MAX_ARGS] = {NULL};
    size_t root_count = launch_roots(args, count, roots);
    bool track = false;
    CHECK(copies_fence(ctx, roots, root_count, &track));
    cl_event done = NULL;
    cl_int err = CL_SUCCESS;
    const char *call = "clSetKernelArg";
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < count && err == CL_SUCCESS; ++i)
        err = arg_set(kernel, (cl_uint)i, &args[i]);
    if (err == CL_SUCCESS) {
        call = "clEnqueueNDRangeKernel";
        err = clEnqueueNDRangeKernel(ctx->queue, kernel->kernel, plan->dims, NULL,
                                     plan->global, plan->local, 0, NULL,
                                     track ? &done : NULL);
    }
    pthread_mutex_unlock(&ctx->lock);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, call, err);
    return copies_track(ctx, roots, root_count, done);
}

void programs_free(struct program *programs)
{
    while (programs != NULL) {
        struct program *next = programs->next;
        while (programs->kernels != NULL) {
            struct kernel_entry *k = programs->kernels;
            programs->kernels = k->next;
            clReleaseKernel(k->kernel.kernel);
            free(k->name);
            free(k);
        }
        clReleaseProgram(programs->program);
        free(programs->options);
        free(programs->key);
        free(programs);
        programs = next;
    }
}

/* ---- generated programs (kiln_map): a bounded list per context, most recent first */

enum { GENERATED_PROGRAMS_MAX = 64 };

/* Frees the least recently used programs beyond the bound that no launch holds. */
static void generated_evict(kiln_ctx *ctx)
{
    struct program **link = &ctx->generated;
    for (size_t kept = 0; *link != NULL;) {
        struct program *p = *link;
        if (kept < GENERATED_PROGRAMS_MAX || p->users > 0) {
            ++kept;
            link = &p->next;
            continue;
        }
        *link = p->next;
        p->next = NULL;
        programs_free(p);
    }
}

/* The generated program of (key, options), moved to the front; NULL when missing. */
static struct program *generated_find(kiln_ctx *ctx, const char *key, const char *options)
{
    for (struct program **link = &ctx->generated; *link != NULL; link = &(*link)->next) {
        struct program *p = *link;
        if (strcmp(p->key, key) == 0 && strcmp(p->options, options) == 0) {
            *link = p->next;
            p->next = ctx->generated;
            ctx->generated = p;
            return p;
        }
    }
    return NULL;
}

/* Generates the request's text and builds its program at the front of the list. */
static kiln_status generated_build(kiln_ctx *ctx, const struct generated_request *request,
                                   struct program **out)
{
    const struct embedded_source *known = embedded_find(request->source);
    if (known == NULL)
        return fail(ctx, KILN_ERR_BUILD, "no kernel source named %s", request->source);
    struct program *p = calloc(1, sizeof(*p));
    char *text = request->generate(request->data);
    kiln_status status = KILN_OK;
    if (p == NULL || text == NULL || (p->options = strdup(request->options)) == NULL ||
        (p->key = strdup(request->key)) == NULL)
        status = fail(ctx, KILN_ERR_NOMEM, "out of host memory for a program");
    struct source_slot slot = {request->header, text};
    if (status == KILN_OK)
        status = program_build(ctx, known, &slot, request->options, &p->program);
    free(text);
    if (status != KILN_OK) {
        if (p != NULL) {
            free(p->options);
            free(p->key);
        }
        free(p);
        return status;
    }
    p->source = known->name;
    p->next = ctx->generated;
    ctx->generated = p;
    generated_evict(ctx);
    *out = p;
    return KILN_OK;
}

kiln_status generated_kernel_get(kiln_ctx *ctx, const struct generated_request *request,
                                 struct kernel **out)
{
    pthread_mutex_lock(&ctx->lock);
    struct program *p = generated_find(ctx, request->key, request->options);
    kiln_status status = p != NULL ? KILN_OK : generated_build(ctx, request, &p);
    if (status == KILN_OK)
        status = kernel_of(ctx, p, request->name, out);
    if (status == KILN_OK)
        p->users++;
    pthread_mutex_unlock(&ctx->lock);
    return status;
}

void generated_kernel_put(kiln_ctx *ctx, const struct kernel *kernel)
{
    pthread_mutex_lock(&ctx->lock);
    for (struct program *p = ctx->generated; p != NULL; p = p->next)
        for (struct kernel_entry *entry = p->kernels; entry != NULL; entry = entry->next)
            if (&entry->kernel == kernel)
                p->users--;
    generated_evict(ctx);
    pthread_mutex_unlock(&ctx->lock);
}

/* libFuzzer target: the on-disk kernel cache's loader. Each input becomes the cache
 * entry of the vadd program (the file a first run stored); a new context then runs vadd,
 * which must load the entry or reject it and rebuild, and always compute a + b. */
#define _DEFAULT_SOURCE /* mkdtemp, DT_REG */
#include <kiln/kiln.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N = 64 };
static char folder[] = "/tmp/kiln-fuzz-cache-XXXXXX";
static char entry_path[4096];

static void folder_remove(void)
{
    unlink(entry_path);
    rmdir(folder);
}

/* c = a + b through a new context, so the program comes from the cache or a build. */
static void vadd_on_a_new_context(void)
{
    float a[N], b[N], c[N];
    for (int i = 0; i < N; i++)
        a[i] = (float)i, b[i] = 0.5f * (float)i;
    kiln_ctx *ctx = NULL;
    if (kiln_ctx_create(&ctx, NULL) != KILN_OK || kiln_vadd_host(ctx, a, b, c, N) != KILN_OK) {
        fprintf(stderr, "vadd failed: %s\n", kiln_last_error(ctx));
        abort();
    }
    for (int i = 0; i < N; i++)
        if (c[i] != a[i] + b[i])
            abort();
    kiln_ctx_destroy(ctx);
}

/* A private cache folder, filled by one vadd: its one entry is the file to fuzz. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (mkdtemp(folder) == NULL || setenv("KILN_CACHE_DIR", folder, 1) != 0)
        abort();
    atexit(folder_remove);
    vadd_on_a_new_context();
    DIR *dir = opendir(folder);
    struct dirent *item;
    while (dir != NULL && (item = readdir(dir)) != NULL)
        if (strstr(item->d_name, ".kbin") != NULL)
            snprintf(entry_path, sizeof entry_path, "%s/%s", folder, item->d_name);
    if (dir != NULL)
        closedir(dir);
    if (entry_path[0] == '\0')
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *file = fopen(entry_path, "wb");
    if (file == NULL || fwrite(data, 1, size, file) != size || fclose(file) != 0)
        abort();
    vadd_on_a_new_context();
    return 0;
}

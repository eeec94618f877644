/* libFuzzer target: device specs. Any string must find a device (an index below the
 * count, which then opens a context) or be KILN_ERR_NODEVICE with a message. */
#include <kiln/kiln.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t device_count(void)
{
    static size_t count = SIZE_MAX;
    if (count == SIZE_MAX && kiln_device_count(&count) != KILN_OK)
        abort();
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char spec[256];
    size_t length = size < sizeof spec - 1 ? size : sizeof spec - 1;
    memcpy(spec, data, length);
    spec[length] = '\0';
    size_t index = SIZE_MAX;
    kiln_status status = kiln_device_find(spec, &index);
    if (status == KILN_ERR_NODEVICE) {
        if (index != SIZE_MAX || kiln_last_error(NULL)[0] == '\0')
            abort();
        return 0;
    }
    if (status != KILN_OK || index >= device_count())
        abort();
    kiln_ctx *ctx = NULL;
    if (kiln_ctx_create(&ctx, spec) != KILN_OK)
        abort();
    kiln_ctx_destroy(ctx);
    return 0;
}

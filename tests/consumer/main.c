/* A program that uses kiln as its users' programs do, through the installed header and
 * pkg-config or as a Meson subproject (tools/check-install builds it both ways): it
 * adds two vectors on the default device and checks the sums. */
#include <kiln/kiln.h>

#include <stdio.h>

int main(void)
{
    const float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
    float c[4] = {0};
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_ctx_create(&ctx, NULL);
    if (status == KILN_OK)
        status = kiln_vadd_host(ctx, a, b, c, 4);
    if (status != KILN_OK)
        fprintf(stderr, "consumer: %s: %s\n", kiln_status_str(status), kiln_last_error(ctx));
    kiln_ctx_destroy(ctx);
    int wrong = 0;
    for (int i = 0; i < 4; i++)
        wrong += c[i] != a[i] + b[i];
    printf("kiln %s (header %s): %g %g %g %g\n", kiln_version(), KILN_VERSION_STRING, c[0],
           c[1], c[2], c[3]);
    return status != KILN_OK || wrong ? 1 : 0;
}

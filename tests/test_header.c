/* The public header compiles alone: it is the first thing this file includes. Built
 * as C99 and C11. */
#include <kiln/kiln.h>

int main(void)
{
    kiln_status status = KILN_OK;
    return status == KILN_OK && kiln_status_str(status)[0] == 'K' && kiln_version() != NULL
               ? 0
               : 1;
}

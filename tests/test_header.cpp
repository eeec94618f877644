// The public header compiles alone in C++: it is the first thing this file includes.
#include <kiln/kiln.h>

int main()
{
    kiln_status status = KILN_OK;
    kiln_trans trans = KILN_TRANS;
    return status == KILN_OK && trans == KILN_TRANS && kiln_status_str(status)[0] == 'K' ? 0 : 1;
}

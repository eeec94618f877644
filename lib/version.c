/* The library's version at run time, from the same generated macros as the header's. */
#include "internal.h"

KILN_API const char *kiln_version(void)
{
    return KILN_VERSION_STRING;
}

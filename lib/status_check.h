/* CHECK, shared by libkiln (lib/internal.h) and libkiln_mpi (lib/mpi/internal.h). */
#ifndef KILN_STATUS_CHECK_H
#define KILN_STATUS_CHECK_H

#include "kiln/kiln.h"

/* Returns from the calling function when a check fails. */
#define CHECK(call)                                                                  \
    do {                                                                             \
        kiln_status check_status_ = (call);                                          \
        if (check_status_ != KILN_OK)                                                \
            return check_status_;                                                    \
    } while (0)

#endif /* KILN_STATUS_CHECK_H */

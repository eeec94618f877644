/* What kiln_mpi_sgemm keeps between calls (sgemm.c), so that a call allocates and splits
 * nothing when an earlier one has: host staging and device panels with the kiln context
 * (kiln_ctx_attach), grown to the largest call and freed with the context; the
 * communicators of a grid's rows and columns with the MPI communicator, as an MPI
 * attribute, freed with it or by MPI_Finalize. */
#include "internal.h"

#include <stdlib.h>

/* ---------------------------------------------------------------- memory, per context */

/* kiln_ctx_attach's key for the memory: this variable's address. */
static const char memory_key = 0;

/* Makes the first memory of each context one at a time, so that two threads do not both
 * attach one. */
static pthread_mutex_t memory_create_lock = PTHREAD_MUTEX_INITIALIZER;

kiln_status host_area_reserve(kiln_ctx *ctx, struct host_area *area, size_t floats)
{
    if (area->capacity >= floats)
        return KILN_OK;
    kiln_host_free(ctx, area->floats);
    *area = (struct host_area){0};
    CHECK(kiln_host_alloc(ctx, floats * sizeof(float), (void **)&area->floats));
    area->capacity = floats;
    return KILN_OK;
}

kiln_status device_area_reserve(kiln_ctx *ctx, struct device_area *area, size_t floats)
{
    if (area->capacity >= floats)
        return KILN_OK;
    kiln_buf_destroy(area->buf);
    *area = (struct device_area){0};
    CHECK(kiln_buf_create(ctx, floats * sizeof(float), &area->buf));
    area->capacity = floats;
    return KILN_OK;
}

static void memory_free(void *data)
{
    struct summa_memory *memory = data;
    struct host_area *host[] = {&memory->a_block, &memory->b_block, &memory->a_panel[0],
                                &memory->a_panel[1], &memory->b_panel[0], &memory->b_panel[1]};
    for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); ++i)
        kiln_host_free(memory->ctx, host[i]->floats);
    kiln_buf_destroy(memory->a_device.buf);
    kiln_buf_destroy(memory->b_device.buf);
    pthread_mutex_destroy(&memory->lock);
    free(memory);
}

static kiln_status memory_make(kiln_ctx *ctx, bool kept, struct summa_memory **out)
{
    struct summa_memory *memory = calloc(1, sizeof(*memory));
    if (memory == NULL)
        return kiln_error_set(ctx, KILN_ERR_NOMEM, "out of host memory for SUMMA's staging");
    memory->ctx = ctx;
    memory->kept = kept;
    pthread_mutex_init(&memory->lock, NULL);
    *out = memory;
    return KILN_OK;
}

/* The memory attached to ctx, attached now if none is. */
static kiln_status memory_kept(kiln_ctx *ctx, struct summa_memory **out)
{
    pthread_mutex_lock(&memory_create_lock);
    kiln_status status = KILN_OK;
    struct summa_memory *kept = kiln_ctx_attachment(ctx, &memory_key);
    if (kept == NULL) {
        status = memory_make(ctx, true, &kept);
        if (status == KILN_OK)
            status = kiln_ctx_attach(ctx, &memory_key, kept, memory_free);
        if (status != KILN_OK && kept != NULL)
            memory_free(kept);
    }
    pthread_mutex_unlock(&memory_create_lock);
    *out = status == KILN_OK ? kept : NULL;
    return status;
}

kiln_status summa_memory_take(kiln_ctx *ctx, struct summa_memory **out)
{
    struct summa_memory *kept = NULL;
    CHECK(memory_kept(ctx, &kept));
    if (pthread_mutex_trylock(&kept->lock) == 0) {
        *out = kept;
        return KILN_OK;
    }
    /* Another thread's call holds it: waiting could deadlock, when that call waits in
     * MPI for ranks that wait in this one, so this call has memory of its own. */
    return memory_make(ctx, false, out);
}

void summa_memory_give(struct summa_memory *memory)
{
    if (memory == NULL)
        return;
    if (memory->kept)
        pthread_mutex_unlock(&memory->lock);
    else
        memory_free(memory);
}

/* ---------------------------------------------------------------- communicators, per comm */

/* Every communicator's kept grids, listed so that MPI_Finalize can free them. */
struct comm_grids {
    MPI_Comm comm;
    struct grid_comms *grids;
    struct comm_grids *previous, *next;
};

/* The attribute keys and the list of communicators holding grids, under registry_lock
 * (threads may call on several communicators at once). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static int grids_keyval = MPI_KEYVAL_INVALID;
static struct comm_grids *registry;

/* MPI calls it when comm is freed (or its attribute deleted): frees comm's grids. */
static int grids_delete(MPI_Comm comm, int keyval, void *value, void *extra)
{
    (void)comm, (void)keyval, (void)extra;
    struct comm_grids *kept = value;
    pthread_mutex_lock(&registry_lock);
    if (kept->previous != NULL)
        kept->previous->next = kept->next;
    else
        registry = kept->next;
    if (kept->next != NULL)
        kept->next->previous = kept->previous;
    pthread_mutex_unlock(&registry_lock);
    int result = MPI_SUCCESS;
    while (kept->grids != NULL) {
        struct grid_comms *grid = kept->grids;
        kept->grids = grid->next;
        MPI_Comm *comms[] = {&grid->row, &grid->col};
        for (size_t i = 0; i < 2; ++i) {
            int code = *comms[i] != MPI_COMM_NULL ? MPI_Comm_free(comms[i]) : MPI_SUCCESS;
            result = result != MPI_SUCCESS ? result : code;
        }
        free(grid);
    }
    free(kept);
    return result;
}

/* MPI_Finalize deletes MPI_COMM_SELF's attributes first, while MPI still works: one of
 * ours frees there the grids of every communicator not freed yet (MPI_COMM_WORLD's). */
static int finalize_delete(MPI_Comm self, int keyval, void *value, void *extra)
{
    (void)self, (void)keyval, (void)value, (void)extra;
    int result = MPI_SUCCESS;
    while (result == MPI_SUCCESS) {
        pthread_mutex_lock(&registry_lock);
        MPI_Comm comm = registry != NULL ? registry->comm : MPI_COMM_NULL;
        pthread_mutex_unlock(&registry_lock);
        if (comm == MPI_COMM_NULL)
            break;
        result = MPI_Comm_delete_attr(comm, grids_keyval);
    }
    int code = MPI_Comm_free_keyval(&grids_keyval);
    return result != MPI_SUCCESS ? result : code;
}

/* The grids' key, and the finalize hook on MPI_COMM_SELF, made at first use. */
static kiln_status keyval_make(const kiln_ctx *ctx)
{
    pthread_mutex_lock(&registry_lock);
    kiln_status status = KILN_OK;
    if (grids_keyval == MPI_KEYVAL_INVALID) {
        int finalize_keyval = MPI_KEYVAL_INVALID;
        status = mpi_result(ctx, "MPI_Comm_create_keyval",
                            MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, finalize_delete,
                                                   &finalize_keyval, NULL));
        if (status == KILN_OK)
            status = mpi_result(ctx, "MPI_Comm_set_attr",
                                MPI_Comm_set_attr(MPI_COMM_SELF, finalize_keyval, NULL));
        /* Freed now, the key lives on until MPI_Finalize deletes the hook. */
        if (finalize_keyval != MPI_KEYVAL_INVALID)
            MPI_Comm_free_keyval(&finalize_keyval);
        /* MPI_COMM_NULL_COPY_FN: a duplicate of comm splits its own grids. */
        if (status == KILN_OK)
            status = mpi_result(ctx, "MPI_Comm_create_keyval",
                                MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, grids_delete,
                                                       &grids_keyval, NULL));
    }
    pthread_mutex_unlock(&registry_lock);
    return status;
}

/* comm's kept grids, attached now if it has none. */
static kiln_status comm_grids_get(const kiln_ctx *ctx, MPI_Comm comm, struct comm_grids **out)
{
    CHECK(keyval_make(ctx));
    int found = 0;
    CHECK(mpi_result(ctx, "MPI_Comm_get_attr",
                     MPI_Comm_get_attr(comm, grids_keyval, out, &found)));
    if (found)
        return KILN_OK;
    struct comm_grids *kept = calloc(1, sizeof(*kept));
    if (kept == NULL)
        return kiln_error_set(ctx, KILN_ERR_NOMEM, "out of host memory for SUMMA's grids");
    kept->comm = comm;
    kiln_status status = mpi_result(ctx, "MPI_Comm_set_attr",
                                    MPI_Comm_set_attr(comm, grids_keyval, kept));
    if (status != KILN_OK) {
        free(kept);
        return status;
    }
    pthread_mutex_lock(&registry_lock);
    kept->next = registry;
    if (registry != NULL)
        registry->previous = kept;
    registry = kept;
    pthread_mutex_unlock(&registry_lock);
    *out = kept;
    return KILN_OK;
}

kiln_status grid_comms_find(const kiln_ctx *ctx, MPI_Comm comm, int grid_cols,
                            struct grid_comms **out)
{
    struct comm_grids *kept = NULL;
    CHECK(comm_grids_get(ctx, comm, &kept));
    for (struct grid_comms *grid = kept->grids; grid != NULL; grid = grid->next)
        if (grid->grid_cols == grid_cols) {
            *out = grid;
            return KILN_OK;
        }
    struct grid_comms *grid = malloc(sizeof(*grid));
    if (grid == NULL)
        return kiln_error_set(ctx, KILN_ERR_NOMEM, "out of host memory for SUMMA's grids");
    *grid = (struct grid_comms){.grid_cols = grid_cols, .row = MPI_COMM_NULL,
                                .col = MPI_COMM_NULL, .next = kept->grids};
    kept->grids = grid;
    *out = grid;
    return KILN_OK;
}

kiln_status grid_comms_split(const kiln_ctx *ctx, MPI_Comm comm, struct grid_comms *grid,
                             int row, int col)
{
    if (grid->row == MPI_COMM_NULL)
        CHECK(mpi_result(ctx, "MPI_Comm_split", MPI_Comm_split(comm, row, col, &grid->row)));
    if (grid->col == MPI_COMM_NULL)
        CHECK(mpi_result(ctx, "MPI_Comm_split", MPI_Comm_split(comm, col, row, &grid->col)));
    /* comm's error handler now, which may have changed since the split, rules. */
    MPI_Errhandler handler = MPI_ERRHANDLER_NULL;
    CHECK(mpi_result(ctx, "MPI_Comm_get_errhandler", MPI_Comm_get_errhandler(comm, &handler)));
    kiln_status status = mpi_result(ctx, "MPI_Comm_set_errhandler",
                                    MPI_Comm_set_errhandler(grid->row, handler));
    if (status == KILN_OK)
        status = mpi_result(ctx, "MPI_Comm_set_errhandler",
                            MPI_Comm_set_errhandler(grid->col, handler));
    kiln_status freed = mpi_result(ctx, "MPI_Errhandler_free", MPI_Errhandler_free(&handler));
    return status != KILN_OK ? status : freed;
}

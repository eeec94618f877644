/* kiln_mpi_sgemm: SUMMA on a grid of ranks. Rank (r, q) owns block (r, q) of A, B and C.
 * The k dimension is walked in panels, each inside one block column of A (owned by grid
 * column q_a) and one block row of B (owned by grid row r_b): the rank of column q_a in
 * every grid row broadcasts its A panel (mb × w) along its row, the rank of row r_b in
 * every grid column its B panel (w × nb) along its column, and every rank adds
 * A panel · B panel to its C block. Panel edges are the union of both block edges, so
 * any grid works, with at most grid_rows + grid_cols - 1 panels. Panels are pipelined:
 * the next one moves (MPI_Ibcast) while the device multiplies this one, and the products
 * are added in the order of k, so results are those of panels taken one at a time. */
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* One call's shape and this rank's place in the grid. */
struct summa_shape {
    size_t m, n, k;
    int grid_rows, grid_cols;
    int row, col;          /* this rank's grid row and column */
    size_t mb, nb, ka, kb; /* blocks: A mb×ka, B kb×nb, C mb×nb */
};

/* What a call uses while panels move: memory kept with ctx and communicators kept with
 * comm (sgemm_cache.c). */
struct summa {
    kiln_ctx *ctx;
    struct summa_memory *memory;
    struct grid_comms *grid;
};

/* ---------------------------------------------------------------- checks */

static kiln_status check_divides(const kiln_ctx *ctx, const char *size_name, size_t size,
                                 const char *side_name, int side)
{
    if (size % (size_t)side != 0)
        return kiln_error_set(ctx, KILN_ERR_ARG, "%s is %zu, not a multiple of %s %d",
                              size_name, size, side_name, side);
    return KILN_OK;
}

/* The grid against comm's size, and the sizes against the grid: the same verdict on
 * every rank that passes the same arguments. */
static kiln_status check_grid(const kiln_ctx *ctx, const struct summa_shape *s, int ranks)
{
    if (s->grid_rows < 1 || s->grid_cols < 1)
        return kiln_error_set(ctx, KILN_ERR_ARG, "grid_rows %d and grid_cols %d must be >= 1",
                              s->grid_rows, s->grid_cols);
    if ((long long)s->grid_rows * s->grid_cols != ranks)
        return kiln_error_set(ctx, KILN_ERR_ARG,
                              "grid_rows × grid_cols is %d × %d but comm has %d ranks",
                              s->grid_rows, s->grid_cols, ranks);
    CHECK(check_divides(ctx, "m", s->m, "grid_rows", s->grid_rows));
    CHECK(check_divides(ctx, "n", s->n, "grid_cols", s->grid_cols));
    CHECK(check_divides(ctx, "k", s->k, "grid_cols (A's block columns)", s->grid_cols));
    return check_divides(ctx, "k", s->k, "grid_rows (B's block rows)", s->grid_rows);
}

/* This rank's blocks against MPI's int count and its buffers. */
static kiln_status check_blocks(const kiln_ctx *ctx, const struct summa_shape *s,
                                const kiln_buf *a, const kiln_buf *b, const kiln_buf *c)
{
    CHECK(check_context(ctx));
    if (s->mb != 0 && s->ka > SIZE_MAX / s->mb)
        return kiln_error_set(ctx, KILN_ERR_SIZE, "A's block %zu×%zu overflows size_t", s->mb,
                              s->ka);
    if (s->nb != 0 && (s->kb > SIZE_MAX / s->nb || s->mb > SIZE_MAX / s->nb))
        return kiln_error_set(ctx, KILN_ERR_SIZE, "B's or C's block overflows size_t");
    CHECK(check_count(ctx, "A's block", s->mb * s->ka));
    CHECK(check_count(ctx, "B's block", s->kb * s->nb));
    CHECK(check_floats(ctx, a, "a", s->mb * s->ka));
    CHECK(check_floats(ctx, b, "b", s->kb * s->nb));
    CHECK(check_floats(ctx, c, "c", s->mb * s->nb));
    CHECK(check_apart(ctx, c, "c", a, "a"));
    return check_apart(ctx, c, "c", b, "b");
}

/* ---------------------------------------------------------------- holdings */

/* True when the call moves panels: C = β·C alone does not. */
static bool summa_moves_panels(const struct summa_shape *s, float alpha)
{
    return s->mb > 0 && s->nb > 0 && s->k > 0 && alpha != 0;
}

/* The widest panel: no wider than a block column of A or a block row of B. */
static size_t panel_width_max(const struct summa_shape *s)
{
    return s->ka < s->kb ? s->ka : s->kb;
}

/* This rank's memory and grid for the call, and its blocks of A and B copied to the
 * host (the owner of a panel sends it from there). */
static kiln_status summa_hold(struct summa *h, const struct summa_shape *s, MPI_Comm comm,
                              const kiln_buf *a, const kiln_buf *b)
{
    CHECK(grid_comms_find(h->ctx, comm, s->grid_cols, &h->grid));
    CHECK(summa_memory_take(h->ctx, &h->memory));
    struct summa_memory *memory = h->memory;
    size_t width = panel_width_max(s);
    size_t a_floats = s->mb * s->ka, b_floats = s->kb * s->nb;
    CHECK(host_area_reserve(h->ctx, &memory->a_block, a_floats));
    CHECK(host_area_reserve(h->ctx, &memory->b_block, b_floats));
    for (size_t slot = 0; slot < 2; ++slot) {
        CHECK(host_area_reserve(h->ctx, &memory->a_panel[slot], s->mb * width));
        CHECK(host_area_reserve(h->ctx, &memory->b_panel[slot], width * s->nb));
    }
    CHECK(device_area_reserve(h->ctx, &memory->a_device, s->mb * width));
    CHECK(device_area_reserve(h->ctx, &memory->b_device, width * s->nb));
    CHECK(kiln_buf_read(a, 0, memory->a_block.floats, a_floats * sizeof(float)));
    return kiln_buf_read(b, 0, memory->b_block.floats, b_floats * sizeof(float));
}

/* ---------------------------------------------------------------- panels */

/* The panel of k starting at `first`: its width and owners, and where it starts in the
 * owners' blocks. */
struct panel {
    size_t first, width;
    int a_owner, b_owner;      /* grid column owning A's part, grid row owning B's */
    size_t a_column, b_row;    /* the panel's first column of A's block, row of B's */
};

static struct panel panel_at(const struct summa_shape *s, size_t first)
{
    struct panel p = {.first = first};
    size_t a_owner = first / s->ka, b_owner = first / s->kb;
    size_t a_end = (a_owner + 1) * s->ka, b_end = (b_owner + 1) * s->kb;
    p.width = (a_end < b_end ? a_end : b_end) - first;
    p.a_owner = (int)a_owner;
    p.b_owner = (int)b_owner;
    p.a_column = first - a_owner * s->ka;
    p.b_row = first - b_owner * s->kb;
    return p;
}

/* One panel's broadcasts in flight, into the host memory of one slot: A's along the grid
 * row, B's along the grid column, and where B's panel (width × nb) lies when they end. */
struct flight {
    int slot;
    MPI_Request requests[2];
    const float *b_source;
};

/* Starts moving panel p into f's slot of host memory: A's (mb × width, tight), which its
 * owner packs there first, and B's (width × nb), which its owner sends from its block. */
static kiln_status panel_send(struct summa *h, const struct summa_shape *s,
                              const struct panel *p, struct flight *f)
{
    struct summa_memory *memory = h->memory;
    float *a = memory->a_panel[f->slot].floats;
    if (s->col == p->a_owner)
        for (size_t i = 0; i < s->mb; ++i)
            memcpy(a + i * p->width, memory->a_block.floats + i * s->ka + p->a_column,
                   p->width * sizeof(float));
    f->requests[0] = f->requests[1] = MPI_REQUEST_NULL;
    CHECK(mpi_result(h->ctx, "MPI_Ibcast (A's panel)",
                     MPI_Ibcast(a, (int)(s->mb * p->width), MPI_FLOAT, p->a_owner,
                                h->grid->row, &f->requests[0])));
    float *b = s->row == p->b_owner ? memory->b_block.floats + p->b_row * s->nb
                                    : memory->b_panel[f->slot].floats;
    f->b_source = b;
    kiln_status status = mpi_result(h->ctx, "MPI_Ibcast (B's panel)",
                                    MPI_Ibcast(b, (int)(p->width * s->nb), MPI_FLOAT,
                                               p->b_owner, h->grid->col, &f->requests[1]));
    if (status != KILN_OK) /* no broadcast may write into the memory once the call ends */
        MPI_Wait(&f->requests[0], MPI_STATUS_IGNORE);
    return status;
}

static kiln_status panel_receive(struct summa *h, struct flight *f)
{
    return mpi_result(h->ctx, "MPI_Waitall (panels)",
                      MPI_Waitall(2, f->requests, MPI_STATUSES_IGNORE));
}

/* Copies both panels of f's slot to the device and enqueues C += α·A panel·B panel there
 * (β·C first, with the first panel). The copies wait for the product before them, which
 * reads the same device panels; the product runs on while the next panel moves. */
static kiln_status panel_multiply(struct summa *h, const struct summa_shape *s,
                                  const struct panel *p, const struct flight *f, float alpha,
                                  float beta, kiln_buf *c)
{
    struct summa_memory *memory = h->memory;
    kiln_buf *a = memory->a_device.buf, *b = memory->b_device.buf;
    CHECK(kiln_buf_write(a, 0, memory->a_panel[f->slot].floats,
                         s->mb * p->width * sizeof(float)));
    CHECK(kiln_buf_write(b, 0, f->b_source, p->width * s->nb * sizeof(float)));
    return kiln_sgemm(h->ctx, KILN_NO_TRANS, KILN_NO_TRANS, s->mb, s->nb, p->width, alpha, a,
                      p->width, b, s->nb, p->first == 0 ? beta : 1.0f, c, s->nb);
}

/* Every panel in turn, the products in the order of k as unpipelined SUMMA adds them,
 * the host's two slots in turn: once panel p has landed in one, panel p + 1 starts
 * moving into the other, and keeps moving while panel p is copied to the device and
 * multiplied. A rank whose device fails keeps taking part in the broadcasts (the others
 * wait for it) and keeps the failure in *status; an MPI failure ends the walk. */
static kiln_status panels_run(struct summa *h, const struct summa_shape *s, float alpha,
                              float beta, kiln_buf *c, kiln_status *status)
{
    struct panel p = panel_at(s, 0);
    struct flight flights[2] = {{.slot = 0}, {.slot = 1}};
    int slot = 0;
    CHECK(panel_send(h, s, &p, &flights[slot]));
    for (;;) {
        CHECK(panel_receive(h, &flights[slot]));
        bool last = p.first + p.width == s->k;
        struct panel next = last ? p : panel_at(s, p.first + p.width);
        if (!last)
            CHECK(panel_send(h, s, &next, &flights[1 - slot]));
        if (*status == KILN_OK)
            *status = panel_multiply(h, s, &p, &flights[slot], alpha, beta, c);
        if (last)
            break;
        p = next;
        slot = 1 - slot;
    }
    if (*status == KILN_OK)
        *status = kiln_finish(h->ctx);
    return KILN_OK;
}

/* ---------------------------------------------------------------- the call */

static struct summa_shape shape_of(int rank, int grid_rows, int grid_cols, size_t m,
                                   size_t n, size_t k)
{
    struct summa_shape s = {.m = m, .n = n, .k = k, .grid_rows = grid_rows,
                            .grid_cols = grid_cols};
    if (grid_rows < 1 || grid_cols < 1)
        return s;
    s.row = rank / grid_cols;
    s.col = rank % grid_cols;
    s.mb = m / (size_t)grid_rows;
    s.nb = n / (size_t)grid_cols;
    s.ka = k / (size_t)grid_cols;
    s.kb = k / (size_t)grid_rows;
    return s;
}

/* This rank's verdict before the agreement: its arguments, then (for a call that moves
 * panels) its memory and copies of its blocks. */
static kiln_status summa_prepare(struct summa *h, const struct summa_shape *s, MPI_Comm comm,
                                 int ranks, float alpha, const kiln_buf *a, const kiln_buf *b,
                                 const kiln_buf *c)
{
    CHECK(check_grid(h->ctx, s, ranks));
    CHECK(check_blocks(h->ctx, s, a, b, c));
    return summa_moves_panels(s, alpha) ? summa_hold(h, s, comm, a, b) : KILN_OK;
}

/* C = β·C alone (k = 0 or α = 0), or nothing (an empty block): no panel moves. */
static kiln_status summa_scale(kiln_ctx *ctx, const struct summa_shape *s, float alpha,
                               const kiln_buf *a, const kiln_buf *b, float beta, kiln_buf *c)
{
    if (s->mb == 0 || s->nb == 0)
        return KILN_OK;
    CHECK(kiln_sgemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, s->mb, s->nb, 0, alpha, a, 1, b, s->nb,
                     beta, c, s->nb));
    return kiln_finish(ctx);
}

KILN_API kiln_status kiln_mpi_sgemm(kiln_ctx *ctx, MPI_Comm comm, int grid_rows,
                                    int grid_cols, size_t m, size_t n, size_t k, float alpha,
                                    const kiln_buf *a, const kiln_buf *b, float beta,
                                    kiln_buf *c)
{
    int rank = 0, ranks = 0;
    CHECK(comm_open(ctx, comm, &rank, &ranks));
    struct summa_shape s = shape_of(rank, grid_rows, grid_cols, m, n, k);
    struct summa h = {.ctx = ctx};
    kiln_status status = summa_prepare(&h, &s, comm, ranks, alpha, a, b, c);
    uint32_t alpha_bits = 0; /* α = 0 moves no panel: all ranks must see the same α */
    memcpy(&alpha_bits, &alpha, sizeof(alpha_bits));
    const struct shared_value values[] = {
        {"m", m}, {"n", n}, {"k", k}, {"grid_rows", (unsigned long long)grid_rows},
        {"grid_cols", (unsigned long long)grid_cols}, {"alpha's bits", alpha_bits}};
    kiln_status agreed = agree_on_arguments(ctx, comm, status, values,
                                            sizeof(values) / sizeof(values[0]));
    if (agreed == KILN_OK && !summa_moves_panels(&s, alpha))
        return agree_on_outcome(ctx, comm, summa_scale(ctx, &s, alpha, a, b, beta, c));
    if (agreed == KILN_OK)
        agreed = grid_comms_split(ctx, comm, h.grid, s.row, s.col);
    if (agreed == KILN_OK)
        agreed = panels_run(&h, &s, alpha, beta, c, &status);
    summa_memory_give(h.memory);
    return agreed != KILN_OK ? agreed : agree_on_outcome(ctx, comm, status);
}

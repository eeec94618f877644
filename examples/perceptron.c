/* The perceptron of mlp and mlp_mpi: trains a multilayer perceptron, 2 -> H -> H -> 2,
 * to tell two interleaved spirals (or two moons) apart, with mini-batch SGD and momentum
 * entirely on the device. The host makes the data, uploads it once and reads back only a
 * loss per step and, at the end, the predicted classes of held-out points. Run
 * data-parallel (mlp_mpi), each of R workers takes a slice of every batch and the sums
 * of its gradients and losses come from the caller's perceptron_parallel.
 *
 * One row per sample: a layer computes Y = act(X·W + b) with kiln_sgemm and kiln_bias_act
 * (a bias per column); the backward pass is dZ = kiln_act_backward(Y, dY),
 * dW = Xᵀ·dZ and dX = dZ·Wᵀ (transposed GEMMs), db = the column sums of dZ (kiln_reduce).
 * Every kernel used reduces in a fixed order, so a seed gives the same losses on every
 * run on one device (and, data-parallel, with one number of workers). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "perceptron.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { INPUTS = 2, CLASSES = 2, LAYERS = 3, MAX_SIZE = 1 << 20 };

static const double PI = 3.14159265358979323846;

typedef struct {
    const char *name, *device, *plot;
    size_t seed, epochs, hidden, points, batch;
    kiln_act act;
    int moons;
    float learning_rate, momentum;
    const perceptron_parallel *parallel; /* NULL: one process */
    size_t worker, workers;              /* this worker's slice of each batch, of all */
} options;

/* Prints as printf, on the first worker only. */
static void KILN_PRINTF_LIKE(2, 3) report(const options *o, const char *format, ...)
{
    if (o->worker != 0)
        return;
    va_list args;
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
}

/* Points as rows of (x, y) and their classes. */
typedef struct {
    float *x;
    uint32_t *label;
    size_t n;
} dataset;

/* One layer, Y = act(X·W + b), and the gradients of its backward pass. */
typedef struct {
    size_t in, out;
    kiln_act act;
    kiln_buf *w, *b, *dw, *db; /* views of the network's parameters and gradients */
    kiln_buf *y;               /* rows × out outputs; their gradient in place (dY, then dZ) */
    kiln_buf *dx;              /* rows × in, the gradient for the layer below (layer 0: none) */
} layer;

typedef struct {
    kiln_ctx *ctx;
    layer layers[LAYERS];
    size_t parameter_count;
    kiln_buf *parameters, *gradients, *velocity; /* every weight and bias, one after another */
    kiln_buf *x_train, *label_train, *x_test, *label_test, *loss, *predicted;
    size_t steps;                       /* batches per epoch */
    kiln_buf **x_batch, **label_batch;  /* views of the training set, one per step */
    kiln_buf **step_loss;               /* views of loss, one float per step */
} network;

/* ---------------------------------------------------------------- data */

static bool out_of_memory(void)
{
    fprintf(stderr, "perceptron: out of host memory\n");
    return false;
}

static float gaussian(uint64_t *state)
{
    const double u = (double)(example_random(state) >> 11) * 0x1p-53;
    const double v = (double)(example_random(state) >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * PI * v));
}

/* Two arms of 2 turns each, one the other turned by half a turn, in the unit disc. */
static void spiral_point(uint64_t *state, uint32_t class, float *xy)
{
    const double t = sqrt(0.5 * (example_uniform(state) + 1.0)); /* even along the arm */
    const double angle = 4.0 * PI * t + PI * class, radius = 0.05 + 0.95 * t;
    xy[0] = (float)(radius * cos(angle)) + 0.02f * gaussian(state);
    xy[1] = (float)(radius * sin(angle)) + 0.02f * gaussian(state);
}

/* sklearn's make_moons (noise 0.1), centred on the origin. */
static void moon_point(uint64_t *state, uint32_t class, float *xy)
{
    const double angle = PI * 0.5 * (example_uniform(state) + 1.0);
    const double x = class ? 1.0 - cos(angle) : cos(angle);
    const double y = class ? 0.5 - sin(angle) : sin(angle);
    xy[0] = (float)(x - 0.5) + 0.1f * gaussian(state);
    xy[1] = (float)(y - 0.25) + 0.1f * gaussian(state);
}

/* n points of random classes, so that any run of them is a fair mini-batch. */
static bool dataset_make(dataset *d, size_t n, int moons, uint64_t *state)
{
    d->n = n;
    d->x = malloc(n * INPUTS * sizeof *d->x);
    d->label = malloc(n * sizeof *d->label);
    if (!d->x || !d->label)
        return out_of_memory();
    for (size_t i = 0; i < n; i++) {
        d->label[i] = (uint32_t)(example_random(state) >> 63);
        (moons ? moon_point : spiral_point)(state, d->label[i], d->x + i * INPUTS);
    }
    return true;
}

static void dataset_free(dataset *d)
{
    free(d->x);
    free(d->label);
}

/* ---------------------------------------------------------------- the network on the device */

static bool upload(kiln_ctx *ctx, const void *data, size_t bytes, kiln_buf **out)
{
    return CHECK(ctx, kiln_buf_create(ctx, bytes, out)) &&
           CHECK(ctx, kiln_buf_write(*out, 0, data, bytes));
}

/* A view of `floats` floats at float `offset` of parent. */
static bool view(kiln_ctx *ctx, kiln_buf *parent, size_t offset, size_t floats, kiln_buf **out)
{
    return CHECK(ctx, kiln_buf_view(parent, offset * sizeof(float), floats * sizeof(float), out));
}

/* He (relu) or Xavier (tanh) uniform weights with the variance of that scheme, zero
 * biases, in the order the layers' views take them. */
static float *initial_parameters(const network *net, const options *o)
{
    float *p = calloc(net->parameter_count, sizeof *p);
    if (!p)
        return NULL;
    uint64_t state = o->seed * 0x9E3779B97F4A7C15ull + 7;
    float *at = p;
    for (size_t l = 0; l < LAYERS; l++) {
        const layer *ly = &net->layers[l];
        const double gain = o->act == KILN_ACT_RELU ? 2.0 : 1.0;
        const float bound = (float)sqrt(3.0 * gain / (double)ly->in);
        for (size_t i = 0; i < ly->in * ly->out; i++)
            *at++ = bound * example_uniform(&state);
        at += ly->out;
    }
    return p;
}

/* Parameters, gradients and velocity, each one buffer with a view per weight and bias. */
static bool make_parameters(network *net, const options *o)
{
    kiln_ctx *ctx = net->ctx;
    const size_t sizes[LAYERS + 1] = {INPUTS, o->hidden, o->hidden, CLASSES};
    net->parameter_count = 0;
    for (size_t l = 0; l < LAYERS; l++) {
        layer *ly = &net->layers[l];
        ly->in = sizes[l];
        ly->out = sizes[l + 1];
        ly->act = l + 1 < LAYERS ? o->act : KILN_ACT_NONE;
        net->parameter_count += (ly->in + 1) * ly->out;
    }
    float *initial = initial_parameters(net, o);
    if (!initial)
        return out_of_memory();
    const size_t bytes = net->parameter_count * sizeof(float);
    bool ok = upload(ctx, initial, bytes, &net->parameters) &&
              CHECK(ctx, kiln_buf_create(ctx, bytes, &net->gradients)) &&
              CHECK(ctx, kiln_buf_create(ctx, bytes, &net->velocity)) &&
              CHECK(ctx, kiln_buf_fill(net->velocity, 0.0f));
    free(initial);
    size_t at = 0;
    for (size_t l = 0; ok && l < LAYERS; l++) {
        layer *ly = &net->layers[l];
        const size_t weights = ly->in * ly->out;
        ok = view(ctx, net->parameters, at, weights, &ly->w) &&
             view(ctx, net->parameters, at + weights, ly->out, &ly->b) &&
             view(ctx, net->gradients, at, weights, &ly->dw) &&
             view(ctx, net->gradients, at + weights, ly->out, &ly->db);
        at += weights + ly->out;
    }
    return ok;
}

/* Outputs for the largest forward pass (a batch, or the whole test set) and gradients. */
static bool make_activations(network *net, size_t rows, size_t batch)
{
    for (size_t l = 0; l < LAYERS; l++) {
        layer *ly = &net->layers[l];
        if (!example_buffer(net->ctx, rows * ly->out, &ly->y) ||
            (l > 0 && !example_buffer(net->ctx, batch * ly->in, &ly->dx)))
            return false;
    }
    return true;
}

/* The training set, its per-step views (of this worker's slice of each batch), and the
 * test set. */
static bool upload_data(network *net, const dataset *train, const dataset *test,
                        const options *o)
{
    kiln_ctx *ctx = net->ctx;
    const size_t batch = o->batch / o->workers;
    net->steps = train->n / o->batch;
    net->x_batch = calloc(net->steps, sizeof *net->x_batch);
    net->label_batch = calloc(net->steps, sizeof *net->label_batch);
    net->step_loss = calloc(net->steps, sizeof *net->step_loss);
    if (!net->x_batch || !net->label_batch || !net->step_loss)
        return out_of_memory();
    if (!upload(ctx, train->x, train->n * INPUTS * sizeof(float), &net->x_train) ||
        !upload(ctx, train->label, train->n * sizeof(uint32_t), &net->label_train) ||
        !upload(ctx, test->x, test->n * INPUTS * sizeof(float), &net->x_test) ||
        !upload(ctx, test->label, test->n * sizeof(uint32_t), &net->label_test) ||
        !example_buffer(ctx, net->steps, &net->loss) ||
        !example_buffer(ctx, test->n, &net->predicted))
        return false;
    for (size_t s = 0; s < net->steps; s++) {
        const size_t first = s * o->batch + o->worker * batch;
        if (!view(ctx, net->x_train, first * INPUTS, batch * INPUTS, &net->x_batch[s]) ||
            !view(ctx, net->label_train, first, batch, &net->label_batch[s]) ||
            !view(ctx, net->loss, s, 1, &net->step_loss[s]))
            return false;
    }
    return true;
}

/* Views before the buffers they are views of. */
static void network_free(network *net)
{
    for (size_t s = 0; s < net->steps; s++) {
        kiln_buf_destroy(net->x_batch ? net->x_batch[s] : NULL);
        kiln_buf_destroy(net->label_batch ? net->label_batch[s] : NULL);
        kiln_buf_destroy(net->step_loss ? net->step_loss[s] : NULL);
    }
    free(net->x_batch);
    free(net->label_batch);
    free(net->step_loss);
    for (size_t l = 0; l < LAYERS; l++) {
        layer *ly = &net->layers[l];
        kiln_buf *own[] = {ly->w, ly->b, ly->dw, ly->db, ly->y, ly->dx};
        for (size_t b = 0; b < sizeof own / sizeof *own; b++)
            kiln_buf_destroy(own[b]);
    }
    kiln_buf *buffers[] = {net->parameters, net->gradients, net->velocity, net->x_train,
                           net->label_train, net->x_test, net->label_test, net->loss,
                           net->predicted};
    for (size_t b = 0; b < sizeof buffers / sizeof *buffers; b++)
        kiln_buf_destroy(buffers[b]);
    kiln_ctx_destroy(net->ctx);
}

/* ---------------------------------------------------------------- training */

/* The layers' outputs for `rows` samples of x; the last layer's are the logits. */
static bool forward(network *net, const kiln_buf *x, size_t rows)
{
    kiln_ctx *ctx = net->ctx;
    for (size_t l = 0; l < LAYERS; l++) {
        layer *ly = &net->layers[l];
        const kiln_buf *in = l ? net->layers[l - 1].y : x;
        if (!CHECK(ctx, kiln_sgemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, rows, ly->out, ly->in,
                                   1.0f, in, ly->in, ly->w, ly->out, 0.0f, ly->y, ly->out)) ||
            !CHECK(ctx, kiln_bias_act(ctx, ly->y, ly->b, ly->y, rows, ly->out, ly->out,
                                      KILN_PER_COL, ly->act)))
            return false;
    }
    return true;
}

/* Every gradient, from the logits' (in the last layer's y) down. */
static bool backward(network *net, const kiln_buf *x, size_t rows)
{
    kiln_ctx *ctx = net->ctx;
    for (size_t l = LAYERS; l-- > 0;) {
        layer *ly = &net->layers[l];
        const kiln_buf *in = l ? net->layers[l - 1].y : x;
        kiln_buf *dz = l + 1 < LAYERS ? net->layers[l + 1].dx : ly->y;
        if ((ly->act != KILN_ACT_NONE &&
             !CHECK(ctx, kiln_act_backward(ctx, ly->act, ly->y, dz, dz, rows * ly->out))) ||
            !CHECK(ctx, kiln_sgemm(ctx, KILN_TRANS, KILN_NO_TRANS, ly->in, ly->out, rows,
                                   1.0f, in, ly->in, dz, ly->out, 0.0f, ly->dw, ly->out)) ||
            !CHECK(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_COL, dz, ly->db, rows,
                                    ly->out, ly->out)) ||
            (l > 0 && !CHECK(ctx, kiln_sgemm(ctx, KILN_NO_TRANS, KILN_TRANS, rows, ly->in,
                                             ly->out, 1.0f, dz, ly->out, ly->w, ly->out,
                                             0.0f, ly->dx, ly->in))))
            return false;
    }
    return true;
}

/* One SGD step with momentum: v = μ·v + g, p -= lr·v. With R workers g is the mean of
 * their gradients: each is its slice's mean, and the sum over workers comes first. */
static bool update(network *net, const options *o)
{
    kiln_ctx *ctx = net->ctx;
    const size_t n = net->parameter_count;
    const float share = 1.0f / (float)o->workers;
    return (!o->parallel || o->parallel->sum(ctx, net->gradients, n, o->parallel->data)) &&
           CHECK(ctx, kiln_scale(ctx, o->momentum, net->velocity, n)) &&
           CHECK(ctx, kiln_axpy(ctx, share, net->gradients, net->velocity, n)) &&
           CHECK(ctx, kiln_axpy(ctx, -o->learning_rate, net->velocity, net->parameters, n));
}

/* One pass over the training set; *loss gets the mean of the steps' losses. */
static bool train_epoch(network *net, const options *o, float *step_losses, double *loss)
{
    kiln_ctx *ctx = net->ctx;
    const size_t rows = o->batch / o->workers;
    for (size_t s = 0; s < net->steps; s++) {
        kiln_buf *logits = net->layers[LAYERS - 1].y;
        if (!forward(net, net->x_batch[s], rows) ||
            !CHECK(ctx, kiln_softmax_xent(ctx, logits, net->label_batch[s], net->step_loss[s],
                                          logits, rows, CLASSES)) ||
            !backward(net, net->x_batch[s], rows) || !update(net, o))
            return false;
    }
    if ((o->parallel && !o->parallel->sum(ctx, net->loss, net->steps, o->parallel->data)) ||
        !CHECK(ctx, kiln_buf_read(net->loss, 0, step_losses, net->steps * sizeof *step_losses)))
        return false;
    *loss = 0;
    for (size_t s = 0; s < net->steps; s++)
        *loss += step_losses[s];
    *loss /= (double)net->steps * (double)o->workers;
    return true;
}

/* The share of test points whose largest logit is their class. */
static bool evaluate(network *net, const dataset *test, double *accuracy)
{
    uint32_t *predicted = malloc(test->n * sizeof *predicted);
    if (!predicted)
        return out_of_memory();
    bool ok = forward(net, net->x_test, test->n) &&
              CHECK(net->ctx, kiln_reduce(net->ctx, KILN_REDUCE_ARGMAX, KILN_PER_ROW,
                                          net->layers[LAYERS - 1].y, net->predicted, test->n,
                                          CLASSES, CLASSES)) &&
              CHECK(net->ctx, kiln_buf_read(net->predicted, 0, predicted,
                                            test->n * sizeof *predicted));
    size_t right = 0;
    for (size_t i = 0; ok && i < test->n; i++)
        right += predicted[i] == test->label[i];
    *accuracy = ok ? (double)right / (double)test->n : 0;
    free(predicted);
    return ok;
}

/* Draws the loss curve into o->plot with gnuplot, if there is one. */
static void plot_losses(const options *o, const double *losses, size_t epochs)
{
    if (o->worker != 0)
        return;
    if (system("command -v gnuplot > /dev/null 2>&1") != 0) {
        printf("no gnuplot here: %s not drawn\n", o->plot);
        return;
    }
    FILE *gp = popen("gnuplot", "w");
    if (!gp) {
        perror("perceptron: gnuplot");
        return;
    }
    fprintf(gp, "set terminal png size 800,500\nset output '%s'\n"
                "set xlabel 'epoch'\nset ylabel 'mean training loss'\nset logscale y\n"
                "plot '-' with lines title 'loss'\n", o->plot);
    for (size_t e = 0; e < epochs; e++)
        fprintf(gp, "%zu %g\n", e + 1, losses[e]);
    fprintf(gp, "e\n");
    if (pclose(gp) != 0)
        fprintf(stderr, "perceptron: gnuplot failed to draw %s\n", o->plot);
    else
        printf("loss curve: %s\n", o->plot);
}

/* Trains for o->epochs, printing each epoch's loss and time; losses gets the curve. */
static bool train(network *net, const options *o, double *losses)
{
    float *step_losses = malloc(net->steps * sizeof *step_losses);
    if (!step_losses)
        return out_of_memory();
    const double start = example_seconds();
    double later_epochs = 0;
    bool ok = true;
    for (size_t e = 0; ok && e < o->epochs; e++) {
        const double epoch_start = example_seconds();
        ok = train_epoch(net, o, step_losses, &losses[e]);
        const double seconds = example_seconds() - epoch_start;
        later_epochs += e > 0 ? seconds : 0;
        if (ok)
            report(o, "epoch %4zu  loss %.7f  %8.1f ms\n", e + 1, losses[e], seconds * 1e3);
    }
    if (ok)
        report(o, "trained %zu epochs of %zu steps in %.1f s; %.1f ms per epoch after the "
               "first (which builds the kernels)\n", o->epochs, net->steps,
               example_seconds() - start,
               o->epochs > 1 ? later_epochs * 1e3 / (double)(o->epochs - 1) : 0.0);
    free(step_losses);
    return ok;
}

/* ---------------------------------------------------------------- options */

static void print_usage(FILE *to, const options *o)
{
    fprintf(to,
            "usage: %s [-d SPEC] [--seed N] [--epochs N] [--hidden N] [--act relu|tanh]\n"
            "           [--data spirals|moons] [--points N] [--batch N] [--plot FILE.png]\n"
            "Trains a 2 -> H -> H -> 2 perceptron on the device to separate two spirals\n"
            "(or two moons) and prints the loss and time of each epoch, then the\n"
            "accuracy on held-out points as its last line.%s\n"
            "  -d SPEC         device: gpu, cpu, an index, P:D or part of the name\n"
            "  --seed N        data and initial weights (default 1)\n"
            "  --epochs N      passes over the training set (default 100)\n"
            "  --hidden N      units of each hidden layer (default 64)\n"
            "  --act A         relu (default) or tanh\n"
            "  --data D        spirals (default) or moons\n"
            "  --points N      training points (default 2048; as many again held out)\n"
            "  --batch N       samples per SGD step (default 32)\n"
            "  --plot FILE     draw the loss curve into FILE with gnuplot\n"
            "Exit status 1 when a kiln call fails, 2 for a bad option.\n",
            o->name, o->parallel ? o->parallel->usage : "");
}

/* One option with its value; false (and a message) for anything unknown or bad. */
static bool parse_option(const char *option, const char *value, options *o)
{
    if (!value) {
        fprintf(stderr, "%s: %s needs a value\n", o->name, option);
        return false;
    }
    if (!strcmp(option, "-d"))
        o->device = value;
    else if (!strcmp(option, "--plot"))
        o->plot = value;
    else if (!strcmp(option, "--act") && (!strcmp(value, "relu") || !strcmp(value, "tanh")))
        o->act = value[0] == 'r' ? KILN_ACT_RELU : KILN_ACT_TANH;
    else if (!strcmp(option, "--data") && (!strcmp(value, "spirals") || !strcmp(value, "moons")))
        o->moons = value[0] == 'm';
    else if (!strcmp(option, "--seed"))
        return example_parse_size(option, value, SIZE_MAX, &o->seed);
    else if (!strcmp(option, "--epochs"))
        return example_parse_size(option, value, MAX_SIZE, &o->epochs);
    else if (!strcmp(option, "--hidden"))
        return example_parse_size(option, value, 4096, &o->hidden);
    else if (!strcmp(option, "--points"))
        return example_parse_size(option, value, MAX_SIZE, &o->points);
    else if (!strcmp(option, "--batch"))
        return example_parse_size(option, value, MAX_SIZE, &o->batch);
    else {
        fprintf(stderr, "%s: unknown option or value: %s %s\n", o->name, option, value);
        return false;
    }
    return true;
}

/* -1 to go on, else main's exit status. */
static int parse_options(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (o->worker == 0)
                print_usage(stdout, o);
            return 0;
        }
        if (!parse_option(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o)) {
            print_usage(stderr, o);
            return 2;
        }
    }
    if (o->batch > o->points) {
        fprintf(stderr, "%s: --batch %zu is more than --points %zu\n", o->name, o->batch,
                o->points);
        return 2;
    }
    if (o->batch % o->workers != 0) {
        fprintf(stderr, "%s: --batch %zu does not split among %zu workers\n", o->name,
                o->batch, o->workers);
        return 2;
    }
    return -1;
}

/* ---------------------------------------------------------------- main */

static bool run(network *net, const options *o, const dataset *train_set,
                const dataset *test_set, double *losses)
{
    double accuracy;
    if (!make_parameters(net, o) ||
        !make_activations(net, test_set->n > o->batch ? test_set->n : o->batch, o->batch) ||
        !upload_data(net, train_set, test_set, o) || !train(net, o, losses) ||
        !evaluate(net, test_set, &accuracy))
        return false;
    if (o->plot)
        plot_losses(o, losses, o->epochs);
    report(o, "accuracy: %.1f%%\n", accuracy * 100);
    return true;
}

int perceptron_main(int argc, char **argv, const char *name,
                    const perceptron_parallel *parallel)
{
    options o = {.name = name, .seed = 1, .epochs = 100, .hidden = 64, .points = 2048,
                 .batch = 32, .act = KILN_ACT_RELU, .learning_rate = 0.1f, .momentum = 0.9f,
                 .parallel = parallel, .worker = parallel ? parallel->worker : 0,
                 .workers = parallel ? parallel->workers : 1};
    const int parsed = parse_options(argc, argv, &o);
    if (parsed >= 0)
        return parsed;

    uint64_t state = o.seed * 0x9E3779B97F4A7C15ull + 1;
    dataset train_set = {0}, test_set = {0};
    double *losses = malloc(o.epochs * sizeof *losses);
    network net = {.ctx = NULL};
    /* Whole batches of training points; as many held out as asked for. */
    bool ok = (losses || out_of_memory()) &&
              dataset_make(&train_set, o.points / o.batch * o.batch, o.moons, &state) &&
              dataset_make(&test_set, o.points, o.moons, &state) &&
              (net.ctx = parallel ? parallel->open(o.device, parallel->data)
                                  : example_open(o.device)) != NULL &&
              run(&net, &o, &train_set, &test_set, losses);
    network_free(&net);
    dataset_free(&train_set);
    dataset_free(&test_set);
    free(losses);
    return ok ? 0 : 1;
}

/* Rate against size (log x), one panel per op, one line per implementation, drawn by
 * gnuplot when it is installed. gnuplot is run as a program; nothing links it. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LINES = 16 };

void bench_put_quoted(FILE *f, const char *text, char quote)
{
    fputc(quote, f);
    for (; *text; ++text) {
        if (*text == quote)
            fputc(quote, f);
        fputc(*text, f);
    }
    fputc(quote, f);
}

/* A gnuplot single-quoted string. */
static void put_quoted(FILE *g, const char *text)
{
    bench_put_quoted(g, text, '\'');
}

/* Elements for elementwise ops, the cube root of m·n·k for GEMMs. */
static double size_measure(const bench_row *row)
{
    const bench_shape s = row->shape;
    if (row->op->rate == BENCH_RATE_FLOPS)
        return cbrt((double)s.m * (double)s.n * (double)s.k);
    return (double)s.m * (double)s.n;
}

static bool plotted(const bench_row *row, const bench_op *op)
{
    return row->op == op && row->rate > 0 && strcmp(row->state, "ok") == 0;
}

/* The distinct implementations that have figures for op, in order of appearance. */
static size_t line_names(const bench_op *op, const bench_row *rows, size_t count,
                         const char **names)
{
    size_t lines = 0;
    for (size_t i = 0; i < count; ++i) {
        if (!plotted(&rows[i], op))
            continue;
        size_t j = 0;
        while (j < lines && strcmp(names[j], rows[i].impl) != 0)
            ++j;
        if (j == lines && lines < MAX_LINES)
            names[lines++] = rows[i].impl;
    }
    return lines;
}

/* One panel: a line per implementation and the device's measured peak, dashed. */
static void plot_op(FILE *g, const bench_op *op, const bench_peaks *peaks,
                    const bench_row *rows, size_t count)
{
    const char *names[MAX_LINES];
    size_t lines = line_names(op, rows, count, names);
    bool flops = op->rate == BENCH_RATE_FLOPS;
    double peak = flops ? peaks->flops_per_second : peaks->bytes_per_second;
    fprintf(g, "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\nset format x '%s'\nplot ",
            op->name, flops ? "n (cube root of m*n*k)" : "elements", flops ? "GFLOP/s" : "GB/s",
            flops ? "%g" : "2^%L");
    for (size_t l = 0; l < lines; ++l) {
        fprintf(g, "%s'-' using 1:2 with linespoints title ", l ? ", " : "");
        put_quoted(g, names[l]);
    }
    if (peak > 0)
        fprintf(g, ", %.6g with lines dashtype 2 linecolor 'black' title 'device peak (probe)'",
                peak * 1e-9);
    fputc('\n', g);
    for (size_t l = 0; l < lines; ++l) {
        for (size_t i = 0; i < count; ++i)
            if (plotted(&rows[i], op) && strcmp(rows[i].impl, names[l]) == 0)
                fprintf(g, "%.6g %.6g\n", size_measure(&rows[i]), rows[i].rate * 1e-9);
        fputs("e\n", g);
    }
}

bool bench_plot(const char *path, const char *device, const bench_peaks *peaks,
                const bench_row *rows, size_t count)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("kiln-bench: gnuplot is not installed, so no plot was drawn "
               "(Debian: apt-get install gnuplot-nox)\n");
        return true;
    }
    size_t panels = 0;
    for (size_t o = 0; o < bench_op_count; ++o) {
        const char *names[MAX_LINES];
        panels += line_names(&bench_ops[o], rows, count, names) > 0;
    }
    if (panels == 0) {
        printf("kiln-bench: nothing was timed, so no plot was drawn\n");
        return true;
    }
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        fprintf(stderr, "kiln-bench: cannot run gnuplot\n");
        return false;
    }
    size_t columns = panels > 1 ? 2 : 1, plot_rows = (panels + columns - 1) / columns;
    fprintf(g, "set terminal pngcairo noenhanced size %zu,%zu\nset output ", 700 * columns,
            520 * plot_rows);
    put_quoted(g, path);
    fprintf(g, "\nset logscale x 2\nset grid\nset key below\nset yrange [0:*]\nset multiplot layout %zu,%zu "
            "title ", plot_rows, columns);
    put_quoted(g, device);
    fputc('\n', g);
    for (size_t o = 0; o < bench_op_count; ++o) {
        const char *names[MAX_LINES];
        if (line_names(&bench_ops[o], rows, count, names) > 0)
            plot_op(g, &bench_ops[o], peaks, rows, count);
    }
    fputs("unset multiplot\n", g);
    if (pclose(g) != 0) {
        fprintf(stderr, "kiln-bench: gnuplot failed to draw %s\n", path);
        return false;
    }
    printf("kiln-bench: plot written to %s\n", path);
    return true;
}

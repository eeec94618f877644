/* The activation of the GEMM and GEMV epilogues, chosen by ACT (the values of
 * kiln_act). Kernels include it; lib/program.c puts its text in their place, as the
 * embedded sources have no files to include from. */
#ifndef ACT
#define ACT 0 /* 0 none, 1 sigmoid, 2 relu, 3 tanh */
#endif

#if ACT == 1
#define ACTIVATE(v) (1.0f / (1.0f + exp(-(v))))
#elif ACT == 2
#define ACTIVATE(v) fmax((v), 0.0f)
#elif ACT == 3
#define ACTIVATE(v) tanh(v)
#else
#define ACTIVATE(v) (v)
#endif

/*
 * A firmware-style main: the model's input is filled in place (as a sensor driver would),
 * the model runs on its static arena, and the top class is reported. On a board, replace
 * fill_input() by the real data source and report() by a UART write.
 */
#include <stdio.h>

#include "kws.h"

static void fill_input(KWS_INPUT0_CTYPE *x, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        x[i] = (KWS_INPUT0_CTYPE)((int)(i * 7u % 13u) - 6);
    }
}

static int top_class(const KWS_OUTPUT0_CTYPE *y, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; ++i) {
        if (y[i] > y[best]) {
            best = i;
        }
    }
    return (int)best;
}

int main(void)
{
    fill_input((KWS_INPUT0_CTYPE *)kws_input(0), KWS_INPUT0_ELEMENTS);
    const int status = kws_run();
    if (status != EDGECC_OK) {
        printf("kws_run failed: %d\n", status);
        return 1;
    }
    const KWS_OUTPUT0_CTYPE *y = (const KWS_OUTPUT0_CTYPE *)kws_output(0);
    printf("class %d (arena %u bytes)\n", top_class(y, KWS_OUTPUT0_ELEMENTS), (unsigned)KWS_ARENA_SIZE);
    return 0;
}

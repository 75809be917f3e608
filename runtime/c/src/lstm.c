/* Integer UNIDIRECTIONAL_SEQUENCE_LSTM with TFLM's semantics (edgecc.interp.quantized.lstm):
 * gates in Q3.12 from two requantized fully-connected products added with int16 saturation,
 * sigmoid/tanh to Q0.15 with the int16 LUT kernel, c = f*c + i*g and h = o*tanh(c) as int16 MULs.
 * int8x8_16 (int8 input/h, int32 bias) or int16x8 (p->wide: int16 input/h, int64 bias). */
#include "edgecc/kernels_int.h"

#include <string.h>

static int32_t lstm_act(const void *v, size_t i, int32_t wide)
{
    return wide ? ((const int16_t *)v)[i] : ((const int8_t *)v)[i];
}

static int32_t clamp16(int64_t v)
{
    return (int32_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

/* One product of a gate: rows of v (batch x n) times w^T (n_cell x n), requantized to int16. */
static int32_t lstm_fc(const edgecc_lstm_params_t *p, const void *v, size_t row, int32_t n, int32_t offset,
                       const int8_t *w, int32_t unit, const void *bias, int32_t m, int32_t s)
{
    int64_t acc = 0;
    for (int32_t j = 0; j < n; ++j)
        acc += (int64_t)(lstm_act(v, row + (size_t)j, p->wide) + offset) * w[(size_t)unit * n + j];
    if (bias != NULL)
        acc += p->wide ? ((const int64_t *)bias)[unit] : ((const int32_t *)bias)[unit];
    return clamp16(p->wide ? edgecc_mbqm64(acc, m, s) : edgecc_mbqm((int32_t)acc, m, s));
}

static void lstm_gate(const edgecc_lstm_params_t *p, int32_t k, const void *x, int32_t t, const void *h,
                      const int8_t *const *weights, const void *const *biases, int32_t tanh, int16_t *out)
{
    for (int32_t b = 0; b < p->batch; ++b) {
        const size_t xrow = (size_t)(p->time_major ? t * p->batch + b : b * p->steps + t) * p->n_in;
        for (int32_t u = 0; u < p->n_cell; ++u) {
            const int32_t a = lstm_fc(p, x, xrow, p->n_in, p->x_offset, weights[k], u, biases[k],
                                      p->in_mult[k], p->in_shift[k]);
            const int32_t r = lstm_fc(p, h, (size_t)b * p->n_cell, p->n_cell, p->h_offset, weights[4 + k], u,
                                      NULL, p->rec_mult[k], p->rec_shift[k]);
            out[(size_t)b * p->n_cell + u] = (int16_t)clamp16((int64_t)a + r);
        }
    }
    const edgecc_sigmoid_s16_params_t act = {p->batch * p->n_cell, tanh, 3, 0, p->table};
    edgecc_sigmoid_tanh_s16(&act, out, out);
}

static int32_t lstm_mul(int32_t a, int32_t b, int32_t m, int32_t s, int32_t offset, int32_t lo, int32_t hi)
{
    return edgecc_clamp_i32(edgecc_mbqm(a * b, m, s) + offset, lo, hi);
}

void edgecc_lstm(const edgecc_lstm_params_t *p, const void *input, const int8_t *const *weights,
                 const void *const *biases, const void *h_in, const int16_t *c_in, void *output, void *h,
                 int16_t *c, int16_t *scratch)
{
    const size_t n = (size_t)p->batch * p->n_cell;
    const size_t esize = p->wide ? 2u : 1u;
    int16_t *f = scratch, *ig = scratch + n, *g = scratch + 2 * n;
    int16_t *o = scratch + 3 * n, *tc = scratch + 4 * n;
    if (h != h_in)
        memcpy(h, h_in, n * esize);
    if (c != c_in)
        memcpy(c, c_in, n * sizeof(int16_t));
    for (int32_t t = 0; t < p->steps; ++t) {
        lstm_gate(p, 1, input, t, h, weights, biases, 0, f);
        lstm_gate(p, 0, input, t, h, weights, biases, 0, ig);
        lstm_gate(p, 2, input, t, h, weights, biases, 1, g);
        for (size_t i = 0; i < n; ++i) {
            const int32_t fc = lstm_mul(f[i], c[i], p->forget_mult, p->forget_shift, 0, -32768, 32767);
            const int32_t in = lstm_mul(ig[i], g[i], p->input_mult, p->input_shift, 0, -32768, 32767);
            int32_t v = clamp16((int64_t)fc + in);
            if (p->cell_clip > 0)
                v = edgecc_clamp_i32(v, -p->cell_clip, p->cell_clip);
            c[i] = (int16_t)v;
        }
        lstm_gate(p, 3, input, t, h, weights, biases, 0, o);
        const edgecc_sigmoid_s16_params_t th = {(int32_t)n, 1, p->tanh_mult, p->tanh_shift, p->table};
        edgecc_sigmoid_tanh_s16(&th, c, tc);
        for (int32_t b = 0; b < p->batch; ++b) {
            const size_t orow = (size_t)(p->time_major ? t * p->batch + b : b * p->steps + t) * p->n_cell;
            for (int32_t u = 0; u < p->n_cell; ++u) {
                const size_t i = (size_t)b * p->n_cell + u;
                const int32_t v = lstm_mul(tc[i], o[i], p->hidden_mult, p->hidden_shift, p->h_zero_point,
                                           p->h_min, p->h_max);
                if (p->wide) {
                    ((int16_t *)h)[i] = (int16_t)v;
                    ((int16_t *)output)[orow + u] = (int16_t)v;
                } else {
                    ((int8_t *)h)[i] = (int8_t)v;
                    ((int8_t *)output)[orow + u] = (int8_t)v;
                }
            }
        }
    }
}

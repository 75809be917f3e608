/* edgecc portable kernels: int8 dense layer and batched matmul (TFLite Micro semantics). */
#include "edgecc/kernels_int.h"

static int8_t requant_s8(int32_t acc, int32_t m, int32_t shift, int32_t out_offset, int32_t lo, int32_t hi)
{
    return (int8_t)edgecc_clamp_i32(edgecc_mbqm(acc, m, shift) + out_offset, lo, hi);
}

void edgecc_fully_connected_s8(const edgecc_fc_s8_params_t *p, const int8_t *input, const int8_t *weight,
                               const int32_t *bias, int8_t *output)
{
    const int32_t k = p->in_features;
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *x = input + (size_t)r * k;
        int8_t *y = output + (size_t)r * p->out_features;
        for (int32_t o = 0; o < p->out_features; ++o) {
            const int8_t *w = weight + (size_t)o * k;
            int32_t acc = 0;
            for (int32_t i = 0; i < k; ++i) {
                acc += (int32_t)w[i] * ((int32_t)x[i] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            const int32_t c = p->per_channel ? o : 0;
            y[o] = requant_s8(acc, p->multiplier[c], p->shift[c], p->output_offset, p->act_min, p->act_max);
        }
    }
}

void edgecc_matmul_s8(const edgecc_matmul_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    for (int32_t t = 0; t < p->batches; ++t) {
        const int8_t *am = a + p->a_offsets[t];
        const int8_t *bm = b + p->b_offsets[t];
        int8_t *y = output + (size_t)t * p->m * p->n;
        for (int32_t i = 0; i < p->m; ++i) {
            for (int32_t j = 0; j < p->n; ++j) {
                int32_t acc = 0;
                for (int32_t q = 0; q < p->k; ++q) {
                    acc += ((int32_t)am[(size_t)i * p->k + q] + p->a_offset)
                           * ((int32_t)bm[(size_t)q * p->n + j] + p->b_offset);
                }
                y[(size_t)i * p->n + j] = requant_s8(acc, p->multiplier, p->shift, p->output_offset, p->act_min,
                                                     p->act_max);
            }
        }
    }
}

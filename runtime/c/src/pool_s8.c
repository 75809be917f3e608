/* edgecc portable kernels: int8 pooling, reductions and bilinear resize (TFLite semantics). */
#include "edgecc/kernels_int.h"

#define EDGECC_T int8_t
#define EDGECC_SFX s8
#define EDGECC_POOL_MAX_INIT (-129)
#define EDGECC_REDUCE_MAX_INIT (-32768)
#define EDGECC_REDUCE_MIN_INIT 32767
#include "pool_reduce_int.h"

void edgecc_resize_bilinear_s8(const edgecc_resize_s8_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t c = p->channels;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *img = input + (size_t)b * p->in_h * p->in_w * c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int8_t *r0 = img + (size_t)p->rows[3 * oy] * p->in_w * c;
            const int8_t *r1 = img + (size_t)p->rows[3 * oy + 1] * p->in_w * c;
            const int32_t dy = p->rows[3 * oy + 2];
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const size_t c0 = (size_t)p->cols[3 * ox] * c;
                const size_t c1 = (size_t)p->cols[3 * ox + 1] * c;
                const int32_t dx = p->cols[3 * ox + 2];
                for (int32_t ch = 0; ch < c; ++ch) {
                    const int32_t acc = (int32_t)r0[c0 + ch] * (1024 - dy) * (1024 - dx)
                                        + (int32_t)r1[c0 + ch] * dy * (1024 - dx)
                                        + (int32_t)r0[c1 + ch] * (1024 - dy) * dx
                                        + (int32_t)r1[c1 + ch] * dy * dx;
                    const int32_t rnd = acc > 0 ? (1 << 19) : -(1 << 19);
                    out[ch] = (int8_t)((acc + rnd) / (1 << 20));
                }
                out += c;
            }
        }
    }
}

/* edgecc portable kernels: float32 pooling and reductions. */
#include <math.h>

#include "edgecc/kernels.h"

static void pool_f32(const edgecc_pool_f32_params_t *p, const float *input, float *output, int is_max)
{
    const int32_t c = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ya = y0 < 0 ? 0 : y0;
            const int32_t yb = y0 + p->k_h > p->in_h ? p->in_h : y0 + p->k_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t xa = x0 < 0 ? 0 : x0;
                const int32_t xb = x0 + p->k_w > p->in_w ? p->in_w : x0 + p->k_w;
                float *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * c;
                const float count = (float)((yb - ya) * (xb - xa));
                for (int32_t ch = 0; ch < c; ++ch) {
                    float acc = is_max ? -INFINITY : 0.0f;
                    for (int32_t y = ya; y < yb; ++y) {
                        const float *row = input + (((size_t)b * p->in_h + y) * p->in_w) * c + ch;
                        for (int32_t x = xa; x < xb; ++x) {
                            const float v = row[(size_t)x * c];
                            if (is_max) {
                                if (v > acc || v != v) {
                                    acc = v;
                                }
                            } else {
                                acc += v;
                            }
                        }
                    }
                    if (!is_max) {
                        acc = acc / count;
                    }
                    if (acc < p->act_min) {
                        acc = p->act_min;
                    }
                    if (acc > p->act_max) {
                        acc = p->act_max;
                    }
                    out[ch] = acc;
                }
            }
        }
    }
}

void edgecc_avg_pool_f32(const edgecc_pool_f32_params_t *p, const float *input, float *output)
{
    pool_f32(p, input, output, 0);
}

void edgecc_max_pool_f32(const edgecc_pool_f32_params_t *p, const float *input, float *output)
{
    pool_f32(p, input, output, 1);
}

void edgecc_reduce_f32(const edgecc_reduce_f32_params_t *p, const float *input, float *output)
{
    const int32_t *s = p->shape;
    const int32_t *os = p->out_strides;
    const edgecc_reduce_kind_t kind = p->kind;
    float init = 0.0f;
    if (kind == EDGECC_REDUCE_MAX) {
        init = -INFINITY;
    } else if (kind == EDGECC_REDUCE_MIN) {
        init = INFINITY;
    }
    for (int32_t i = 0; i < p->out_size; ++i) {
        output[i] = init;
    }
    const float *x = input;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        float *y = output + (size_t)i0 * os[0] + (size_t)i1 * os[1] + (size_t)i2 * os[2]
                                   + (size_t)i3 * os[3] + (size_t)i4 * os[4];
                        const int32_t st = os[5];
                        for (int32_t j = 0; j < s[5]; ++j) {
                            const float v = *x++;
                            float *t = y + (size_t)j * st;
                            if (kind == EDGECC_REDUCE_MAX) {
                                if (v > *t || v != v) {
                                    *t = v;
                                }
                            } else if (kind == EDGECC_REDUCE_MIN) {
                                if (v < *t || v != v) {
                                    *t = v;
                                }
                            } else {
                                *t += v;
                            }
                        }
                    }
                }
            }
        }
    }
    if (kind == EDGECC_REDUCE_MEAN) {
        const float count = (float)p->count;
        for (int32_t i = 0; i < p->out_size; ++i) {
            output[i] = output[i] / count;
        }
    }
}

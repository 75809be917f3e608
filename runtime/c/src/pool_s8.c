/* edgecc portable kernels: int8 pooling, reductions and bilinear resize (TFLite semantics). */
#include "edgecc/kernels_int.h"

static void pool_s8(const edgecc_pool_s8_params_t *p, const int8_t *input, int8_t *output, int is_max)
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
                const int32_t count = (yb - ya) * (xb - xa);
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * c;
                for (int32_t ch = 0; ch < c; ++ch) {
                    int32_t acc = is_max ? -129 : 0;
                    for (int32_t y = ya; y < yb; ++y) {
                        const int8_t *row = input + (((size_t)b * p->in_h + y) * p->in_w) * c + ch;
                        for (int32_t x = xa; x < xb; ++x) {
                            const int32_t v = row[(size_t)x * c];
                            if (is_max) {
                                acc = v > acc ? v : acc;
                            } else {
                                acc += v;
                            }
                        }
                    }
                    if (!is_max) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    out[ch] = (int8_t)edgecc_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void edgecc_avg_pool_s8(const edgecc_pool_s8_params_t *p, const int8_t *input, int8_t *output)
{
    pool_s8(p, input, output, 0);
}

void edgecc_max_pool_s8(const edgecc_pool_s8_params_t *p, const int8_t *input, int8_t *output)
{
    pool_s8(p, input, output, 1);
}

static int32_t reduce_block(const edgecc_reduce_s8_params_t *p, const int8_t *base)
{
    const int32_t *s = p->red_shape;
    const int32_t *st = p->red_strides;
    int32_t acc = p->kind == EDGECC_QREDUCE_MAX ? -32768 : (p->kind == EDGECC_QREDUCE_MIN ? 32767 : 0);
    uint32_t sum = 0;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        const int8_t *x = base + (ptrdiff_t)i0 * st[0] + (ptrdiff_t)i1 * st[1]
                                          + (ptrdiff_t)i2 * st[2] + (ptrdiff_t)i3 * st[3] + (ptrdiff_t)i4 * st[4];
                        for (int32_t j = 0; j < s[5]; ++j) {
                            const int32_t v = x[(ptrdiff_t)j * st[5]];
                            if (p->kind == EDGECC_QREDUCE_SUM) {
                                sum += (uint32_t)v;
                            } else if (p->kind == EDGECC_QREDUCE_MAX) {
                                acc = v > acc ? v : acc;
                            } else {
                                acc = v < acc ? v : acc;
                            }
                        }
                    }
                }
            }
        }
    }
    if (p->kind == EDGECC_QREDUCE_SUM) {
        const uint32_t shifted = sum + (uint32_t)p->input_offset * (uint32_t)p->count;
        return edgecc_mbqm((int32_t)shifted, p->multiplier, p->shift) + p->output_offset;
    }
    if (p->requant) {
        return edgecc_mbqm(acc + p->input_offset, p->multiplier, p->shift) + p->output_offset;
    }
    return acc;
}

void edgecc_reduce_s8(const edgecc_reduce_s8_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t *s = p->kept_shape;
    const int32_t *st = p->kept_strides;
    int8_t *out = output;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        for (int32_t j = 0; j < s[5]; ++j) {
                            const int8_t *base = input + (ptrdiff_t)i0 * st[0] + (ptrdiff_t)i1 * st[1]
                                                 + (ptrdiff_t)i2 * st[2] + (ptrdiff_t)i3 * st[3]
                                                 + (ptrdiff_t)i4 * st[4] + (ptrdiff_t)j * st[5];
                            *out++ = (int8_t)edgecc_clamp_i32(reduce_block(p, base), p->qmin, p->qmax);
                        }
                    }
                }
            }
        }
    }
}

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

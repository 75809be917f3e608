/* edgecc portable kernels: the type-generic body of the integer pooling and reduction kernels
 * (TFLite semantics), shared by int8 (pool_s8.c) and int16 (int16.c). Not a public header: a
 * source includes it once per storage type after defining
 *   EDGECC_T                the storage type (int8_t, int16_t),
 *   EDGECC_SFX              the kernel name suffix (s8, s16),
 *   EDGECC_POOL_MAX_INIT    the max-pool start value (below the type's minimum),
 *   EDGECC_REDUCE_MAX_INIT  the max-reduction start value,
 *   EDGECC_REDUCE_MIN_INIT  the min-reduction start value,
 * and gets edgecc_{avg,max}_pool_<sfx> and edgecc_reduce_<sfx>. The macros are undefined at
 * the end, so there is no include guard on purpose. */

#define EDGECC_CAT_(a, b) a##b
#define EDGECC_CAT(a, b) EDGECC_CAT_(a, b)
#define EDGECC_NAME(prefix) EDGECC_CAT(prefix, EDGECC_SFX)

static void EDGECC_NAME(pool_)(const edgecc_pool_s8_params_t *p, const EDGECC_T *input, EDGECC_T *output,
                                int is_max)
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
                EDGECC_T *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * c;
                for (int32_t ch = 0; ch < c; ++ch) {
                    int32_t acc = is_max ? EDGECC_POOL_MAX_INIT : 0;
                    for (int32_t y = ya; y < yb; ++y) {
                        const EDGECC_T *row = input + (((size_t)b * p->in_h + y) * p->in_w) * c + ch;
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
                    out[ch] = (EDGECC_T)edgecc_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void EDGECC_NAME(edgecc_avg_pool_)(const edgecc_pool_s8_params_t *p, const EDGECC_T *input, EDGECC_T *output)
{
    EDGECC_NAME(pool_)(p, input, output, 0);
}

void EDGECC_NAME(edgecc_max_pool_)(const edgecc_pool_s8_params_t *p, const EDGECC_T *input, EDGECC_T *output)
{
    EDGECC_NAME(pool_)(p, input, output, 1);
}

static int32_t EDGECC_NAME(reduce_block_)(const edgecc_reduce_s8_params_t *p, const EDGECC_T *base)
{
    const int32_t *s = p->red_shape;
    const int32_t *st = p->red_strides;
    int32_t acc = p->kind == EDGECC_QREDUCE_MAX ? EDGECC_REDUCE_MAX_INIT
                                                : (p->kind == EDGECC_QREDUCE_MIN ? EDGECC_REDUCE_MIN_INIT : 0);
    uint32_t sum = 0;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        const EDGECC_T *x = base + (ptrdiff_t)i0 * st[0] + (ptrdiff_t)i1 * st[1]
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

void EDGECC_NAME(edgecc_reduce_)(const edgecc_reduce_s8_params_t *p, const EDGECC_T *input, EDGECC_T *output)
{
    const int32_t *s = p->kept_shape;
    const int32_t *st = p->kept_strides;
    EDGECC_T *out = output;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        for (int32_t j = 0; j < s[5]; ++j) {
                            const EDGECC_T *base = input + (ptrdiff_t)i0 * st[0] + (ptrdiff_t)i1 * st[1]
                                                   + (ptrdiff_t)i2 * st[2] + (ptrdiff_t)i3 * st[3]
                                                   + (ptrdiff_t)i4 * st[4] + (ptrdiff_t)j * st[5];
                            *out++ = (EDGECC_T)edgecc_clamp_i32(EDGECC_NAME(reduce_block_)(p, base), p->qmin,
                                                                p->qmax);
                        }
                    }
                }
            }
        }
    }
}

#undef EDGECC_NAME
#undef EDGECC_CAT
#undef EDGECC_CAT_
#undef EDGECC_T
#undef EDGECC_SFX
#undef EDGECC_POOL_MAX_INIT
#undef EDGECC_REDUCE_MAX_INIT
#undef EDGECC_REDUCE_MIN_INIT

/* edgecc portable kernels: data movement for any element size (copy, pad, gather, resize). */
#include <string.h>

#include "edgecc/kernels.h"

void edgecc_copy(const void *input, void *output, size_t bytes)
{
    if (input != output) {
        memmove(output, input, bytes);
    }
}

#define EDGECC_COPY_ROW(T)                                                              \
    do {                                                                                \
        const T *src = (const T *)input;                                                \
        T *dst = (T *)output;                                                           \
        for (int32_t j = 0; j < n; ++j) {                                               \
            dst[(ptrdiff_t)od + (ptrdiff_t)j * dsj] = src[(ptrdiff_t)os + (ptrdiff_t)j * ssj]; \
        }                                                                               \
    } while (0)

void edgecc_copy_nd(const edgecc_copy_params_t *p, const void *input, void *output)
{
    const int32_t *s = p->shape;
    const int32_t *ss = p->src_strides;
    const int32_t *ds = p->dst_strides;
    const int32_t n = s[5];
    const int32_t ssj = ss[5];
    const int32_t dsj = ds[5];
    const int32_t es = p->elem_size;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        const ptrdiff_t os = (ptrdiff_t)p->src_offset + (ptrdiff_t)i0 * ss[0]
                                             + (ptrdiff_t)i1 * ss[1] + (ptrdiff_t)i2 * ss[2]
                                             + (ptrdiff_t)i3 * ss[3] + (ptrdiff_t)i4 * ss[4];
                        const ptrdiff_t od = (ptrdiff_t)p->dst_offset + (ptrdiff_t)i0 * ds[0]
                                             + (ptrdiff_t)i1 * ds[1] + (ptrdiff_t)i2 * ds[2]
                                             + (ptrdiff_t)i3 * ds[3] + (ptrdiff_t)i4 * ds[4];
                        if (ssj == 1 && dsj == 1) {
                            memcpy((uint8_t *)output + od * es, (const uint8_t *)input + os * es,
                                   (size_t)n * (size_t)es);
                        } else if (es == 4) {
                            EDGECC_COPY_ROW(uint32_t);
                        } else if (es == 1) {
                            EDGECC_COPY_ROW(uint8_t);
                        } else if (es == 2) {
                            EDGECC_COPY_ROW(uint16_t);
                        } else {
                            for (int32_t j = 0; j < n; ++j) {
                                memcpy((uint8_t *)output + (od + (ptrdiff_t)j * dsj) * es,
                                       (const uint8_t *)input + (os + (ptrdiff_t)j * ssj) * es, (size_t)es);
                            }
                        }
                    }
                }
            }
        }
    }
}

static int32_t pad_source(int32_t i, int32_t n, edgecc_pad_mode_t mode)
{
    if (i >= 0 && i < n) {
        return i;
    }
    if (mode == EDGECC_PAD_CONSTANT) {
        return -1;
    }
    if (mode == EDGECC_PAD_EDGE) {
        return i < 0 ? 0 : n - 1;
    }
    /* reflect without repeating the edge (pads < n) */
    if (n == 1) {
        return 0;
    }
    while (i < 0 || i >= n) {
        i = i < 0 ? -i : 2 * (n - 1) - i;
    }
    return i;
}

void edgecc_pad(const edgecc_pad_params_t *p, const void *input, void *output)
{
    const int32_t *is = p->in_shape;
    const int32_t *os = p->out_shape;
    const int32_t *b = p->begin;
    const size_t es = (size_t)p->elem_size;
    int32_t in_strides[EDGECC_MAX_RANK];
    int32_t st = 1;
    for (int32_t d = EDGECC_MAX_RANK - 1; d >= 0; --d) {
        in_strides[d] = st;
        st *= is[d];
    }
    uint8_t *out = (uint8_t *)output;
    const uint8_t *in = (const uint8_t *)input;
    int32_t idx[EDGECC_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    size_t total = 1;
    for (int32_t d = 0; d < EDGECC_MAX_RANK; ++d) {
        total *= (size_t)os[d];
    }
    for (size_t k = 0; k < total; ++k) {
        ptrdiff_t src = 0;
        int inside = 1;
        for (int32_t d = 0; d < EDGECC_MAX_RANK; ++d) {
            const int32_t s = pad_source(idx[d] - b[d], is[d], p->mode);
            if (s < 0) {
                inside = 0;
                break;
            }
            src += (ptrdiff_t)s * in_strides[d];
        }
        memcpy(out + k * es, inside ? (const void *)(in + (size_t)src * es) : p->value, es);
        for (int32_t d = EDGECC_MAX_RANK - 1; d >= 0; --d) {
            if (++idx[d] < os[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}

void edgecc_gather(const edgecc_gather_params_t *p, const void *data, const void *indices, void *output)
{
    const size_t block = (size_t)p->inner * (size_t)p->elem_size;
    const uint8_t *src = (const uint8_t *)data;
    uint8_t *dst = (uint8_t *)output;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t t = 0; t < p->count; ++t) {
            int64_t i = p->index_bits == 64 ? ((const int64_t *)indices)[t] : ((const int32_t *)indices)[t];
            if (i < 0) {
                i += p->axis;
            }
            if (i < 0) {
                i = 0;
            }
            if (i >= p->axis) {
                i = p->axis - 1;
            }
            memcpy(dst, src + ((size_t)o * (size_t)p->axis + (size_t)i) * block, block);
            dst += block;
        }
    }
}

void edgecc_resize_nearest(const edgecc_resize_params_t *p, const void *input, void *output)
{
    const size_t pixel = (size_t)p->channels * (size_t)p->elem_size;
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const uint8_t *row = in + ((size_t)b * p->in_h + (size_t)p->rows[oy]) * p->in_w * pixel;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                memcpy(out, row + (size_t)p->cols[ox] * pixel, pixel);
                out += pixel;
            }
        }
    }
}

void edgecc_resize_bilinear_f32(const edgecc_resize_params_t *p, const float *input, float *output)
{
    const int32_t c = p->channels;
    float *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *img = input + (size_t)b * p->in_h * p->in_w * c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const float *r0 = img + (size_t)p->rows[2 * oy] * p->in_w * c;
            const float *r1 = img + (size_t)p->rows[2 * oy + 1] * p->in_w * c;
            const float wy0 = p->row_w[2 * oy];
            const float wy1 = p->row_w[2 * oy + 1];
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const size_t c0 = (size_t)p->cols[2 * ox] * c;
                const size_t c1 = (size_t)p->cols[2 * ox + 1] * c;
                const float wx0 = p->col_w[2 * ox];
                const float wx1 = p->col_w[2 * ox + 1];
                for (int32_t ch = 0; ch < c; ++ch) {
                    const float left = r0[c0 + ch] * wy0 + r1[c0 + ch] * wy1;
                    const float right = r0[c1 + ch] * wy0 + r1[c1 + ch] * wy1;
                    out[ch] = left * wx0 + right * wx1;
                }
                out += c;
            }
        }
    }
}

/* edgecc portable kernels: int8 convolution, depthwise convolution, dense and matmul
 * (TFLite Micro reference semantics: int32 accumulation of w * (x - zp_in) plus bias, then
 * per-channel requantization, the output zero point and the activation clamp).
 *
 * In-place variants write the output over the input (batch 1): input rows are copied into a
 * ring of `span` rows (span = dil_h * (k_h - 1) + 1) when first needed, output rows are
 * computed from the ring; edgecc checks at compile time that no input row is overwritten
 * before it is copied. The fused conv + add variants add the result to a residual tensor
 * (TFLite ADD requantization), element by element, so the output may replace the residual. */
#include <string.h>

#include "edgecc/kernels_int.h"

static int8_t requant_s8(int32_t acc, int32_t m, int32_t shift, int32_t out_offset, int32_t lo, int32_t hi)
{
    return (int8_t)edgecc_clamp_i32(edgecc_mbqm(acc, m, shift) + out_offset, lo, hi);
}

/* Accumulator of output (oy, ox, oc) of one image whose input row r is at
 * base + (span ? r % span : r) * row_bytes. */
static int32_t conv_acc(const edgecc_conv_s8_params_t *p, const int8_t *base, int32_t span, int32_t oy,
                        int32_t ox, int32_t oc, const int8_t *weight, const int32_t *bias, int depthwise)
{
    const size_t row_bytes = (size_t)p->in_w * p->in_c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t in_off = p->input_offset;
    int32_t acc = 0;
    if (depthwise) {
        const int32_t ic = oc / p->groups;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = iy0 + ky * p->dil_h;
            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            const int8_t *row = base + (size_t)(span ? iy % span : iy) * row_bytes;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                const int32_t ix = ix0 + kx * p->dil_w;
                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                const int32_t x = row[(size_t)ix * p->in_c + ic];
                acc += (int32_t)weight[((size_t)ky * p->k_w + kx) * p->out_c + oc] * (x + in_off);
            }
        }
    } else {
        const int32_t cin_g = p->in_c / p->groups;
        const int32_t g = oc / (p->out_c / p->groups);
        const int8_t *wk = weight + (size_t)oc * p->k_h * p->k_w * cin_g;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = iy0 + ky * p->dil_h;
            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            const int8_t *row = base + (size_t)(span ? iy % span : iy) * row_bytes;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
                const int32_t ix = ix0 + kx * p->dil_w;
                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                const int8_t *x = row + (size_t)ix * p->in_c + (size_t)g * cin_g;
                const int8_t *w = wk + ((size_t)ky * p->k_w + kx) * cin_g;
                for (int32_t ic = 0; ic < cin_g; ++ic) {
                    acc += (int32_t)w[ic] * ((int32_t)x[ic] + in_off);
                }
            }
        }
    }
    if (bias != NULL) {
        acc += bias[oc];
    }
    return acc;
}

static int8_t conv_value(const edgecc_conv_s8_params_t *p, const int8_t *base, int32_t span, int32_t oy,
                         int32_t ox, int32_t oc, const int8_t *weight, const int32_t *bias, int depthwise)
{
    const int32_t acc = conv_acc(p, base, span, oy, ox, oc, weight, bias, depthwise);
    return requant_s8(acc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
}

static void conv_s8(const edgecc_conv_s8_params_t *p, const int8_t *input, const int8_t *weight,
                    const int32_t *bias, int8_t *output, int depthwise)
{
    const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *base = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    out[oc] = conv_value(p, base, 0, oy, ox, oc, weight, bias, depthwise);
                }
            }
        }
    }
}

void edgecc_conv2d_s8(const edgecc_conv_s8_params_t *p, const int8_t *input, const int8_t *weight,
                      const int32_t *bias, int8_t *output)
{
    conv_s8(p, input, weight, bias, output, 0);
}

void edgecc_depthwise_conv2d_s8(const edgecc_conv_s8_params_t *p, const int8_t *input, const int8_t *weight,
                                const int32_t *bias, int8_t *output)
{
    conv_s8(p, input, weight, bias, output, 1);
}

static void conv_s8_inplace(const edgecc_conv_s8_params_t *p, int8_t *data, const int8_t *weight,
                            const int32_t *bias, int8_t *ring, int depthwise)
{
    const size_t row_bytes = (size_t)p->in_w * p->in_c;
    const int32_t span = p->dil_h * (p->k_h - 1) + 1;
    int32_t next = 0; /* next input row to copy into the ring */
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        int32_t end = oy * p->stride_h - p->pad_top + span;
        end = end > p->in_h ? p->in_h : end;
        for (; next < end; ++next) {
            memcpy(ring + (size_t)(next % span) * row_bytes, data + (size_t)next * row_bytes, row_bytes);
        }
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            int8_t *out = data + ((size_t)oy * p->out_w + ox) * p->out_c;
            for (int32_t oc = 0; oc < p->out_c; ++oc) {
                out[oc] = conv_value(p, ring, span, oy, ox, oc, weight, bias, depthwise);
            }
        }
    }
}

void edgecc_conv2d_s8_inplace(const edgecc_conv_s8_params_t *p, int8_t *data, const int8_t *weight,
                              const int32_t *bias, int8_t *ring)
{
    conv_s8_inplace(p, data, weight, bias, ring, 0);
}

void edgecc_depthwise_conv2d_s8_inplace(const edgecc_conv_s8_params_t *p, int8_t *data, const int8_t *weight,
                                        const int32_t *bias, int8_t *ring)
{
    conv_s8_inplace(p, data, weight, bias, ring, 1);
}

void edgecc_conv2d_add_s8(const edgecc_conv_add_s8_params_t *p, const int8_t *input, const int8_t *weight,
                          const int32_t *bias, const int8_t *residual, int8_t *output)
{
    const edgecc_conv_s8_params_t *c = &p->conv;
    const size_t in_image = (size_t)c->in_h * c->in_w * c->in_c;
    size_t i = 0;
    for (int32_t b = 0; b < c->batches; ++b) {
        const int8_t *base = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < c->out_h; ++oy) {
            for (int32_t ox = 0; ox < c->out_w; ++ox) {
                for (int32_t oc = 0; oc < c->out_c; ++oc, ++i) {
                    const int32_t v = conv_value(c, base, 0, oy, ox, oc, weight, bias, p->depthwise);
                    const int32_t r = residual[i];
                    const int32_t x = p->residual_is_lhs ? r : v;
                    const int32_t y = p->residual_is_lhs ? v : r;
                    const int32_t sa = edgecc_mbqm((x + p->lhs_offset) * (1 << p->left_shift), p->lhs_mult,
                                                   p->lhs_shift);
                    const int32_t sb = edgecc_mbqm((y + p->rhs_offset) * (1 << p->left_shift), p->rhs_mult,
                                                   p->rhs_shift);
                    const int32_t raw = p->subtract ? (int32_t)((uint32_t)sa - (uint32_t)sb)
                                                    : (int32_t)((uint32_t)sa + (uint32_t)sb);
                    const int32_t out = edgecc_mbqm(raw, p->out_mult, p->out_shift) + p->output_offset;
                    output[i] = (int8_t)edgecc_clamp_i32(out, p->act_min, p->act_max);
                }
            }
        }
    }
}

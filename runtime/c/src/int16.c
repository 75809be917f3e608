/* edgecc portable kernels: int16x8 (int16 activations, int8 weights, int64 bias), TFLite
 * Micro reference semantics. */
#include "edgecc/kernels_int.h"

static int16_t requant_s16(int64_t acc, int32_t m, int32_t shift, int32_t out_offset, int32_t lo, int32_t hi)
{
    return (int16_t)edgecc_clamp_i32(edgecc_mbqm64(acc, m, shift) + out_offset, lo, hi);
}

static void conv_s16(const edgecc_conv_s8_params_t *p, const int16_t *input, const int8_t *weight,
                     const int64_t *bias, int16_t *output, int depthwise)
{
    const int32_t cin_g = p->in_c / p->groups;
    const int32_t cout_g = p->out_c / p->groups;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int16_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dil_w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            const int16_t *px = input + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                            if (depthwise) {
                                const int32_t x = (int32_t)px[oc / p->groups] + p->input_offset;
                                acc += (int64_t)weight[((size_t)ky * p->k_w + kx) * p->out_c + oc] * x;
                            } else {
                                const int32_t g = oc / cout_g;
                                const int8_t *w = weight + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * cin_g;
                                const int16_t *x = px + (size_t)g * cin_g;
                                for (int32_t ic = 0; ic < cin_g; ++ic) {
                                    acc += (int64_t)w[ic] * ((int32_t)x[ic] + p->input_offset);
                                }
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    out[oc] = requant_s16(acc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min,
                                          p->act_max);
                }
            }
        }
    }
}

void edgecc_conv2d_s16(const edgecc_conv_s8_params_t *p, const int16_t *input, const int8_t *weight,
                       const int64_t *bias, int16_t *output)
{
    conv_s16(p, input, weight, bias, output, 0);
}

void edgecc_depthwise_conv2d_s16(const edgecc_conv_s8_params_t *p, const int16_t *input, const int8_t *weight,
                                 const int64_t *bias, int16_t *output)
{
    conv_s16(p, input, weight, bias, output, 1);
}

void edgecc_fully_connected_s16(const edgecc_fc_s8_params_t *p, const int16_t *input, const int8_t *weight,
                                const int64_t *bias, int16_t *output)
{
    const int32_t k = p->in_features;
    for (int32_t r = 0; r < p->rows; ++r) {
        const int16_t *x = input + (size_t)r * k;
        int16_t *y = output + (size_t)r * p->out_features;
        for (int32_t o = 0; o < p->out_features; ++o) {
            const int8_t *w = weight + (size_t)o * k;
            int64_t acc = 0;
            for (int32_t i = 0; i < k; ++i) {
                acc += (int64_t)w[i] * ((int32_t)x[i] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            const int32_t c = p->per_channel ? o : 0;
            y[o] = requant_s16(acc, p->multiplier[c], p->shift[c], p->output_offset, p->act_min, p->act_max);
        }
    }
}

static int32_t qbinary16(const edgecc_qbinary_s8_params_t *p, int32_t x, int32_t y)
{
    switch (p->kind) {
    case EDGECC_Q_ADD:
    case EDGECC_Q_SUB: {
        const int32_t a = edgecc_mbqm((int32_t)((uint32_t)(x + p->a_offset) << p->left_shift), p->a_mult,
                                      p->a_shift);
        const int32_t b = edgecc_mbqm((int32_t)((uint32_t)(y + p->b_offset) << p->left_shift), p->b_mult,
                                      p->b_shift);
        const int32_t raw = p->kind == EDGECC_Q_ADD ? (int32_t)((uint32_t)a + (uint32_t)b)
                                                    : (int32_t)((uint32_t)a - (uint32_t)b);
        return edgecc_mbqm(raw, p->out_mult, p->out_shift) + p->output_offset;
    }
    case EDGECC_Q_MUL: {
        const int32_t prod = (int32_t)(uint32_t)((int64_t)(x + p->a_offset) * (int64_t)(y + p->b_offset));
        return edgecc_mbqm(prod, p->out_mult, p->out_shift) + p->output_offset;
    }
    case EDGECC_Q_MAX:
        return x > y ? x : y;
    case EDGECC_Q_MIN:
        return x < y ? x : y;
    default:
        return 0;
    }
}

void edgecc_binary_s16(const edgecc_qbinary_s8_params_t *p, const int16_t *a, const int16_t *b, int16_t *output)
{
    const int32_t *s = p->shape;
    const int32_t *as = p->a_strides;
    const int32_t *bs = p->b_strides;
    int16_t *out = output;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        const int16_t *pa = a + (size_t)i0 * as[0] + (size_t)i1 * as[1] + (size_t)i2 * as[2]
                                            + (size_t)i3 * as[3] + (size_t)i4 * as[4];
                        const int16_t *pb = b + (size_t)i0 * bs[0] + (size_t)i1 * bs[1] + (size_t)i2 * bs[2]
                                            + (size_t)i3 * bs[3] + (size_t)i4 * bs[4];
                        for (int32_t j = 0; j < s[5]; ++j) {
                            const int32_t v = qbinary16(p, pa[(size_t)j * as[5]], pb[(size_t)j * bs[5]]);
                            out[j] = (int16_t)edgecc_clamp_i32(v, p->act_min, p->act_max);
                        }
                        out += s[5];
                    }
                }
            }
        }
    }
}

#define EDGECC_T int16_t
#define EDGECC_SFX s16
#define EDGECC_POOL_MAX_INIT (-32769)
#define EDGECC_REDUCE_MAX_INIT (-65536)
#define EDGECC_REDUCE_MIN_INIT 65536
#include "pool_reduce_int.h"

static int32_t wrap16(int32_t v)
{
    return (int32_t)(int16_t)(uint16_t)(uint32_t)v;
}

static int32_t lut_lookup16(int32_t x, const int16_t *lut)
{
    const int32_t index = 256 + (x >> 7);
    const int32_t offset = x & 0x7F;
    const int32_t base = lut[index];
    const int32_t slope = wrap16((int32_t)lut[index + 1] - base);
    return wrap16(base + ((slope * offset + 64) >> 7));
}

void edgecc_softmax_s16(const edgecc_softmax_s16_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t axis = p->axis;
    const int32_t inner = p->inner;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < inner; ++i) {
            const size_t base = (size_t)o * axis * inner + (size_t)i;
            const int16_t *x = input + base;
            int16_t *y = output + base;
            int32_t mx = x[0];
            for (int32_t j = 1; j < axis; ++j) {
                if (x[(size_t)j * inner] > mx) {
                    mx = x[(size_t)j * inner];
                }
            }
            uint32_t total = 0;
            for (int32_t j = 0; j < axis; ++j) {
                const int32_t scaled = edgecc_mbqm((int32_t)x[(size_t)j * inner] - mx, p->multiplier, p->shift);
                const int32_t sym = edgecc_clamp_i32(scaled + 32767, -32768, 32767);
                total += (uint32_t)lut_lookup16(sym, p->exp_lut);
            }
            const int32_t headroom_plus_one = edgecc_clz32(total);
            const int64_t shifted = (((int64_t)total << (headroom_plus_one - 1)) + (1 << 13)) >> 14;
            const int32_t sym_sum = edgecc_clamp_i32((int32_t)(shifted - ((1 << 15) + (1 << 16))), -32768, 32767);
            const int64_t recip = lut_lookup16(sym_sum, p->recip_lut);
            const int32_t right_shift = 31 - headroom_plus_one;
            for (int32_t j = 0; j < axis; ++j) {
                const int32_t scaled = edgecc_mbqm((int32_t)x[(size_t)j * inner] - mx, p->multiplier, p->shift);
                const int32_t sym = edgecc_clamp_i32(scaled + 32767, -32768, 32767);
                const int64_t e = lut_lookup16(sym, p->exp_lut);
                const int64_t v = (e * recip + ((int64_t)1 << (right_shift - 1))) >> right_shift;
                y[(size_t)j * inner] = (int16_t)(v < 0 ? 0 : (v > 32767 ? 32767 : v));
            }
        }
    }
}

void edgecc_sigmoid_tanh_s16(const edgecc_sigmoid_s16_params_t *p, const int16_t *input, int16_t *output)
{
    const int64_t rnd = p->left_shift > 0 ? ((int64_t)1 << (p->left_shift - 1)) : 0;
    for (int32_t i = 0; i < p->size; ++i) {
        const int64_t d = ((int64_t)input[i] * p->multiplier + rnd) >> p->left_shift;
        const int64_t a = d < 0 ? -d : d;
        int64_t r;
        if (p->tanh) {
            const int64_t uh = a >> 8;
            const int64_t idx = uh < 254 ? uh : 254;
            const int64_t ua = p->table[idx];
            const int64_t ub = p->table[idx + 1];
            r = uh >= 255 ? ((int64_t)0xFFFF << 8) : (ua << 8) + (a & 0xFF) * (ub - ua);
            r = d >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
            output[i] = (int16_t)wrap16((int32_t)(r >> 8));
        } else {
            const int64_t uh = a >> 9;
            const int64_t idx = uh < 254 ? uh : 254;
            const int64_t ua = p->table[idx];
            const int64_t ub = p->table[idx + 1];
            r = uh >= 255 ? ((int64_t)0x7FFF << 10) : (ua << 9) + (a & 0x1FF) * (ub - ua);
            r = d >= 0 ? r + (1 << 9) : ((int64_t)1 << 25) - r + (1 << 9) - 1;
            const uint32_t u = (uint32_t)((uint64_t)r & 0xFFFFFFFFu);
            output[i] = (int16_t)wrap16((int32_t)(u >> 10));
        }
    }
}

void edgecc_resize_bilinear_s16(const edgecc_resize_s8_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t c = p->channels;
    int16_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int16_t *img = input + (size_t)b * p->in_h * p->in_w * c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int16_t *r0 = img + (size_t)p->rows[3 * oy] * p->in_w * c;
            const int16_t *r1 = img + (size_t)p->rows[3 * oy + 1] * p->in_w * c;
            const int64_t dy = p->rows[3 * oy + 2];
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const size_t c0 = (size_t)p->cols[3 * ox] * c;
                const size_t c1 = (size_t)p->cols[3 * ox + 1] * c;
                const int64_t dx = p->cols[3 * ox + 2];
                for (int32_t ch = 0; ch < c; ++ch) {
                    const int64_t acc = (int64_t)r0[c0 + ch] * (1024 - dy) * (1024 - dx)
                                        + (int64_t)r1[c0 + ch] * dy * (1024 - dx)
                                        + (int64_t)r0[c1 + ch] * (1024 - dy) * dx
                                        + (int64_t)r1[c1 + ch] * dy * dx;
                    const int64_t rnd = acc > 0 ? (1 << 19) : -(1 << 19);
                    out[ch] = (int16_t)wrap16((int32_t)((acc + rnd) / (1 << 20)));
                }
                out += c;
            }
        }
    }
}

/* edgecc portable kernels: int8 elementwise ops, tables, requantization and softmax. */
#include "edgecc/kernels_int.h"

static int32_t qbinary(const edgecc_qbinary_s8_params_t *p, int32_t x, int32_t y)
{
    switch (p->kind) {
    case EDGECC_Q_ADD:
    case EDGECC_Q_SUB: {
        const int32_t a = edgecc_mbqm((x + p->a_offset) * (1 << p->left_shift), p->a_mult, p->a_shift);
        const int32_t b = edgecc_mbqm((y + p->b_offset) * (1 << p->left_shift), p->b_mult, p->b_shift);
        const int32_t raw = p->kind == EDGECC_Q_ADD ? (int32_t)((uint32_t)a + (uint32_t)b)
                                                    : (int32_t)((uint32_t)a - (uint32_t)b);
        return edgecc_mbqm(raw, p->out_mult, p->out_shift) + p->output_offset;
    }
    case EDGECC_Q_MUL:
        return edgecc_mbqm((x + p->a_offset) * (y + p->b_offset), p->out_mult, p->out_shift) + p->output_offset;
    case EDGECC_Q_MAX:
    case EDGECC_Q_MIN: {
        const int32_t a = p->a_table != NULL ? p->a_table[x + 128] : x;
        const int32_t b = p->b_table != NULL ? p->b_table[y + 128] : y;
        return p->kind == EDGECC_Q_MAX ? (a > b ? a : b) : (a < b ? a : b);
    }
    default:
        return 0;
    }
}

void edgecc_binary_s8(const edgecc_qbinary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    const int32_t *s = p->shape;
    const int32_t *as = p->a_strides;
    const int32_t *bs = p->b_strides;
    int8_t *out = output;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        const int8_t *pa = a + (size_t)i0 * as[0] + (size_t)i1 * as[1] + (size_t)i2 * as[2]
                                           + (size_t)i3 * as[3] + (size_t)i4 * as[4];
                        const int8_t *pb = b + (size_t)i0 * bs[0] + (size_t)i1 * bs[1] + (size_t)i2 * bs[2]
                                           + (size_t)i3 * bs[3] + (size_t)i4 * bs[4];
                        for (int32_t j = 0; j < s[5]; ++j) {
                            const int32_t v = qbinary(p, pa[(size_t)j * as[5]], pb[(size_t)j * bs[5]]);
                            out[j] = (int8_t)edgecc_clamp_i32(v, p->act_min, p->act_max);
                        }
                        out += s[5];
                    }
                }
            }
        }
    }
}

void edgecc_lut_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
}

void edgecc_lut_s8_s16(const int16_t *table, int32_t size, const int8_t *input, int16_t *output)
{
    /* backwards: the int16 output may start at the int8 input (in place) */
    for (int32_t i = size - 1; i >= 0; --i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
}

void edgecc_requantize(const edgecc_requant_params_t *p, const void *input, void *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = p->in_bits == 16 ? (int32_t)((const int16_t *)input)[i]
                                           : (int32_t)((const int8_t *)input)[i];
        const int32_t y = edgecc_clamp_i32(edgecc_mbqm(x + p->input_offset, p->multiplier, p->shift)
                                           + p->output_offset, p->qmin, p->qmax);
        if (p->out_bits == 16) {
            ((int16_t *)output)[i] = (int16_t)y;
        } else {
            ((int8_t *)output)[i] = (int8_t)y;
        }
    }
}

/* ---- gemmlowp fixed point for the softmax reciprocal */
static int32_t sat_mul_pot(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t s = (int64_t)a + INT32_MAX;
    const int64_t t = s + (s >= 0 ? 1 : -1);
    const int32_t half_denominator = (int32_t)(t / 2);
    const int32_t c48_17 = 1515870810;
    const int32_t cm32_17 = -1010580540;
    int32_t x = (int32_t)((uint32_t)c48_17 + (uint32_t)edgecc_srdhm(half_denominator, cm32_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t hdx = edgecc_srdhm(half_denominator, x);
        const int32_t one_minus = (int32_t)((uint32_t)(1 << 29) - (uint32_t)hdx);
        x = (int32_t)((uint32_t)x + (uint32_t)sat_mul_pot(edgecc_srdhm(x, one_minus), 2));
    }
    return sat_mul_pot(x, 1);
}

void edgecc_softmax_s8(const edgecc_softmax_s8_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t axis = p->axis;
    const int32_t inner = p->inner;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < inner; ++i) {
            const size_t base = (size_t)o * axis * inner + (size_t)i;
            const int8_t *x = input + base;
            int8_t *y = output + base;
            int32_t mx = x[0];
            for (int32_t j = 1; j < axis; ++j) {
                if (x[(size_t)j * inner] > mx) {
                    mx = x[(size_t)j * inner];
                }
            }
            uint32_t sum = 0;
            for (int32_t j = 0; j < axis; ++j) {
                const int32_t diff = (int32_t)x[(size_t)j * inner] - mx;
                if (diff >= p->diff_min) {
                    sum += (uint32_t)p->sum_table[-diff];
                }
            }
            const int32_t headroom_plus_one = edgecc_clz32(sum);
            const int32_t bits_over_unit = 12 - headroom_plus_one;
            const int32_t shifted_minus_one = (int32_t)((sum << headroom_plus_one) - 0x80000000u);
            const int32_t scale = one_over_one_plus_x(shifted_minus_one);
            const int32_t exponent = bits_over_unit + 31 - 8;
            for (int32_t j = 0; j < axis; ++j) {
                const int32_t diff = (int32_t)x[(size_t)j * inner] - mx;
                int32_t v = -128;
                if (diff >= p->diff_min) {
                    const int32_t unsat = edgecc_rdbpot(edgecc_srdhm(scale, p->exp_table[-diff]), exponent);
                    v = edgecc_clamp_i32(unsat - 128, -128, 127);
                }
                y[(size_t)j * inner] = (int8_t)v;
            }
        }
    }
}

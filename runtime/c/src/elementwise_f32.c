/* edgecc portable kernels: float32 elementwise ops, softmax and LRN. */
#include <math.h>

#include "edgecc/kernels.h"

#define EDGECC_BINARY_LOOP(EXPR)                                      \
    for (int32_t j = 0; j < n; ++j) {                                 \
        const float x = pa[(size_t)j * sa];                           \
        const float y = pb[(size_t)j * sb];                           \
        float v = (EXPR);                                             \
        if (v < lo) {                                                 \
            v = lo;                                                   \
        }                                                             \
        if (v > hi) {                                                 \
            v = hi;                                                   \
        }                                                             \
        out[j] = v;                                                   \
    }

static void binary_row(edgecc_binary_kind_t kind, const float *pa, int32_t sa, const float *pb, int32_t sb,
                       float *out, int32_t n, float lo, float hi)
{
    switch (kind) {
    case EDGECC_ADD:
        EDGECC_BINARY_LOOP(x + y)
        break;
    case EDGECC_SUB:
        EDGECC_BINARY_LOOP(x - y)
        break;
    case EDGECC_MUL:
        EDGECC_BINARY_LOOP(x * y)
        break;
    case EDGECC_DIV:
        EDGECC_BINARY_LOOP(x / y)
        break;
    case EDGECC_MAX:
        EDGECC_BINARY_LOOP((x != x || x > y) ? x : y)
        break;
    case EDGECC_MIN:
        EDGECC_BINARY_LOOP((x != x || x < y) ? x : y)
        break;
    case EDGECC_POW:
        EDGECC_BINARY_LOOP(powf(x, y))
        break;
    case EDGECC_PRELU:
        EDGECC_BINARY_LOOP(x >= 0.0f ? x : x * y)
        break;
    default:
        break;
    }
}

void edgecc_binary_f32(const edgecc_binary_f32_params_t *p, const float *a, const float *b, float *output)
{
    const int32_t *s = p->shape;
    const int32_t *as = p->a_strides;
    const int32_t *bs = p->b_strides;
    const int32_t n = s[5];
    float *out = output;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < s[4]; ++i4) {
                        const size_t oa = (size_t)i0 * as[0] + (size_t)i1 * as[1] + (size_t)i2 * as[2]
                                          + (size_t)i3 * as[3] + (size_t)i4 * as[4];
                        const size_t ob = (size_t)i0 * bs[0] + (size_t)i1 * bs[1] + (size_t)i2 * bs[2]
                                          + (size_t)i3 * bs[3] + (size_t)i4 * bs[4];
                        binary_row(p->kind, a + oa, as[5], b + ob, bs[5], out, n, p->act_min, p->act_max);
                        out += n;
                    }
                }
            }
        }
    }
}

void edgecc_unary_f32(const edgecc_unary_f32_params_t *p, const float *input, float *output)
{
    const int32_t n = p->size;
    const float alpha = p->alpha;
    const float beta = p->beta;
    int32_t i;
    switch (p->kind) {
    case EDGECC_RELU:
        for (i = 0; i < n; ++i) {
            const float x = input[i];
            output[i] = x < 0.0f ? 0.0f : x;
        }
        break;
    case EDGECC_CLAMP:
        for (i = 0; i < n; ++i) {
            float x = input[i];
            if (x < alpha) {
                x = alpha;
            }
            if (x > beta) {
                x = beta;
            }
            output[i] = x;
        }
        break;
    case EDGECC_SIGMOID:
        for (i = 0; i < n; ++i) {
            output[i] = 1.0f / (1.0f + expf(-input[i]));
        }
        break;
    case EDGECC_TANH:
        for (i = 0; i < n; ++i) {
            output[i] = tanhf(input[i]);
        }
        break;
    case EDGECC_HARD_SWISH:
        for (i = 0; i < n; ++i) {
            const float x = input[i];
            float r = x + 3.0f;
            r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
            output[i] = x * r / 6.0f;
        }
        break;
    case EDGECC_HARD_SIGMOID:
        for (i = 0; i < n; ++i) {
            float v = alpha * input[i] + beta;
            v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            output[i] = v;
        }
        break;
    case EDGECC_LEAKY_RELU:
        for (i = 0; i < n; ++i) {
            const float x = input[i];
            output[i] = x >= 0.0f ? x : x * alpha;
        }
        break;
    case EDGECC_EXP:
        for (i = 0; i < n; ++i) {
            output[i] = expf(input[i]);
        }
        break;
    case EDGECC_LOG:
        for (i = 0; i < n; ++i) {
            output[i] = logf(input[i]);
        }
        break;
    case EDGECC_SQRT:
        for (i = 0; i < n; ++i) {
            output[i] = sqrtf(input[i]);
        }
        break;
    case EDGECC_RSQRT:
        for (i = 0; i < n; ++i) {
            output[i] = 1.0f / sqrtf(input[i]);
        }
        break;
    case EDGECC_ABS:
        for (i = 0; i < n; ++i) {
            output[i] = fabsf(input[i]);
        }
        break;
    case EDGECC_NEG:
        for (i = 0; i < n; ++i) {
            output[i] = -input[i];
        }
        break;
    case EDGECC_ERF:
        for (i = 0; i < n; ++i) {
            output[i] = erff(input[i]);
        }
        break;
    default:
        break;
    }
}

void edgecc_softmax_f32(const edgecc_softmax_f32_params_t *p, const float *input, float *output)
{
    const int32_t axis = p->axis;
    const int32_t inner = p->inner;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < inner; ++i) {
            const size_t base = (size_t)o * axis * inner + (size_t)i;
            const float *x = input + base;
            float *y = output + base;
            float mx = x[0];
            for (int32_t j = 1; j < axis; ++j) {
                const float v = x[(size_t)j * inner];
                if (v > mx) {
                    mx = v;
                }
            }
            float sum = 0.0f;
            if (p->log) {
                for (int32_t j = 0; j < axis; ++j) {
                    sum += expf(x[(size_t)j * inner] - mx);
                }
                const float ls = logf(sum);
                for (int32_t j = 0; j < axis; ++j) {
                    y[(size_t)j * inner] = (x[(size_t)j * inner] - mx) - ls;
                }
            } else {
                for (int32_t j = 0; j < axis; ++j) {
                    const float e = expf(p->beta * (x[(size_t)j * inner] - mx));
                    y[(size_t)j * inner] = e;
                    sum += e;
                }
                for (int32_t j = 0; j < axis; ++j) {
                    y[(size_t)j * inner] = y[(size_t)j * inner] / sum;
                }
            }
        }
    }
}

void edgecc_lrn_f32(const edgecc_lrn_f32_params_t *p, const float *input, float *output)
{
    const int32_t c = p->channels;
    const int32_t lo = (p->size - 1) / 2;
    const int32_t hi = p->size / 2;
    const float k = p->alpha / (float)p->size;
    for (int32_t o = 0; o < p->outer; ++o) {
        const float *x = input + (size_t)o * c;
        float *y = output + (size_t)o * c;
        for (int32_t ch = 0; ch < c; ++ch) {
            float sum = 0.0f;
            const int32_t a = ch - lo < 0 ? 0 : ch - lo;
            const int32_t b = ch + hi >= c ? c - 1 : ch + hi;
            for (int32_t j = a; j <= b; ++j) {
                sum += x[j] * x[j];
            }
            y[ch] = x[ch] / powf(p->bias + k * sum, p->beta);
        }
    }
}

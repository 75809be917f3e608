/* edgecc portable kernels: float32 convolution, depthwise convolution, dense and matmul. */
#include "edgecc/kernels.h"

static float clampf(float v, float lo, float hi)
{
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return v;
}

void edgecc_conv2d_f32(const edgecc_conv_f32_params_t *p, const float *input, const float *weight,
                       const float *bias, float *output)
{
    const int32_t groups = p->groups;
    const int32_t cin_g = p->in_c / groups;
    const int32_t cout_g = p->out_c / groups;
    const int32_t kernel_size = p->k_h * p->k_w * cin_g;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                float *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t g = oc / cout_g;
                    const float *wk = weight + (size_t)oc * kernel_size;
                    float acc = 0.0f;
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
                            const float *x = input + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c
                                             + (size_t)g * cin_g;
                            const float *w = wk + ((size_t)ky * p->k_w + kx) * cin_g;
                            float part = 0.0f;
                            for (int32_t ic = 0; ic < cin_g; ++ic) {
                                part += x[ic] * w[ic];
                            }
                            acc += part;
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    out[oc] = clampf(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void edgecc_depthwise_conv2d_f32(const edgecc_conv_f32_params_t *p, const float *input,
                                 const float *weight, const float *bias, float *output)
{
    const int32_t mult = p->groups;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                float *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t ic = oc / mult;
                    float acc = 0.0f;
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
                            const float x = input[(((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                            acc += x * weight[((size_t)ky * p->k_w + kx) * p->out_c + oc];
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    out[oc] = clampf(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

static float dot_f32(const float *a, const float *b, int32_t n, int32_t b_stride)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[(size_t)i * b_stride];
        s1 += a[i + 1] * b[(size_t)(i + 1) * b_stride];
        s2 += a[i + 2] * b[(size_t)(i + 2) * b_stride];
        s3 += a[i + 3] * b[(size_t)(i + 3) * b_stride];
    }
    for (; i < n; ++i) {
        s0 += a[i] * b[(size_t)i * b_stride];
    }
    return (s0 + s1) + (s2 + s3);
}

void edgecc_fully_connected_f32(const edgecc_fc_f32_params_t *p, const float *input, const float *weight,
                                const float *bias, float *output)
{
    const int32_t k = p->in_features;
    for (int32_t r = 0; r < p->rows; ++r) {
        const float *x = input + (size_t)r * k;
        float *y = output + (size_t)r * p->out_features;
        for (int32_t o = 0; o < p->out_features; ++o) {
            float acc = dot_f32(x, weight + (size_t)o * k, k, 1);
            if (bias != NULL) {
                acc += bias[o];
            }
            y[o] = clampf(acc, p->act_min, p->act_max);
        }
    }
}

void edgecc_matmul_f32(const edgecc_matmul_f32_params_t *p, const float *a, const float *b, float *output)
{
    for (int32_t t = 0; t < p->batches; ++t) {
        const float *am = a + p->a_offsets[t];
        const float *bm = b + p->b_offsets[t];
        float *y = output + (size_t)t * p->m * p->n;
        for (int32_t i = 0; i < p->m; ++i) {
            for (int32_t j = 0; j < p->n; ++j) {
                y[(size_t)i * p->n + j] = dot_f32(am + (size_t)i * p->k, bm + j, p->k, p->n);
            }
        }
    }
}

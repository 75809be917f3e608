/* edgecc portable kernels: casts, float <-> integer quantization. */
#include <math.h>

#include "edgecc/kernels.h"

static double load_as_double(const void *base, edgecc_dtype_t t, int32_t i)
{
    switch (t) {
    case EDGECC_F32:
        return (double)((const float *)base)[i];
    case EDGECC_I8:
        return (double)((const int8_t *)base)[i];
    case EDGECC_I16:
        return (double)((const int16_t *)base)[i];
    case EDGECC_I32:
        return (double)((const int32_t *)base)[i];
    case EDGECC_I64:
        return (double)((const int64_t *)base)[i];
    case EDGECC_U8:
    case EDGECC_BOOL:
        return (double)((const uint8_t *)base)[i];
    default:
        return 0.0;
    }
}

static int64_t load_as_int(const void *base, edgecc_dtype_t t, int32_t i)
{
    switch (t) {
    case EDGECC_I8:
        return ((const int8_t *)base)[i];
    case EDGECC_I16:
        return ((const int16_t *)base)[i];
    case EDGECC_I32:
        return ((const int32_t *)base)[i];
    case EDGECC_I64:
        return ((const int64_t *)base)[i];
    case EDGECC_U8:
    case EDGECC_BOOL:
        return ((const uint8_t *)base)[i];
    default:
        return 0;
    }
}

static int64_t float_to_int(double v)
{
    if (v != v) {
        return 0;
    }
    if (v >= 9.2e18) {
        return INT64_MAX;
    }
    if (v <= -9.2e18) {
        return INT64_MIN;
    }
    return (int64_t)v; /* truncates toward zero */
}

void edgecc_cast(const edgecc_cast_params_t *p, const void *input, void *output)
{
    const int is_float_src = p->from == EDGECC_F32;
    for (int32_t i = 0; i < p->size; ++i) {
        if (p->to == EDGECC_F32) {
            ((float *)output)[i] = (float)load_as_double(input, p->from, i);
            continue;
        }
        int64_t v;
        if (p->to == EDGECC_BOOL) {
            v = is_float_src ? (load_as_double(input, p->from, i) != 0.0) : (load_as_int(input, p->from, i) != 0);
        } else {
            v = is_float_src ? float_to_int(load_as_double(input, p->from, i)) : load_as_int(input, p->from, i);
        }
        switch (p->to) {
        case EDGECC_I8:
            ((int8_t *)output)[i] = (int8_t)v;
            break;
        case EDGECC_I16:
            ((int16_t *)output)[i] = (int16_t)v;
            break;
        case EDGECC_I32:
            ((int32_t *)output)[i] = (int32_t)v;
            break;
        case EDGECC_I64:
            ((int64_t *)output)[i] = v;
            break;
        case EDGECC_U8:
        case EDGECC_BOOL:
            ((uint8_t *)output)[i] = (uint8_t)v;
            break;
        default:
            break;
        }
    }
}

void edgecc_quantize_f32(const edgecc_quant_params_t *p, const float *input, void *output)
{
    const float lo = (float)p->qmin;
    const float hi = (float)p->qmax;
    const float zp = (float)p->zero_point;
    for (int32_t i = 0; i < p->size; ++i) {
        float v = roundf(input[i] / p->scale); /* half away from zero, as TFLite */
        if (v != v) {
            v = 0.0f;
        }
        v += zp;
        v = v < lo ? lo : (v > hi ? hi : v);
        if (p->bits == 16) {
            ((int16_t *)output)[i] = (int16_t)v;
        } else {
            ((int8_t *)output)[i] = (int8_t)v;
        }
    }
}

void edgecc_dequantize_f32(const edgecc_quant_params_t *p, const void *input, float *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t q = p->bits == 16 ? (int32_t)((const int16_t *)input)[i] : (int32_t)((const int8_t *)input)[i];
        output[i] = (float)(q - p->zero_point) * p->scale;
    }
}

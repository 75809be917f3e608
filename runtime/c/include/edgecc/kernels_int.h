/*
 * edgecc portable integer kernels (int8 quantized activations, int8 weights, int32 bias).
 *
 * Bit-exact with TensorFlow Lite Micro's reference kernels (and edgecc's integer reference
 * interpreter): requantization by a Q31 multiplier and a shift with TFLite's double rounding
 * (edgecc_mbqm), TFLite's rounding of averages, TFLite's fixed-point softmax. No floating
 * point anywhere. Elementwise functions of one int8 input (activations, requantization,
 * exp ...) are 256-entry tables computed by edgecc at compile time (edgecc_lut_s8).
 *
 * Offsets follow CMSIS-NN: input_offset = -input zero point, output_offset = +output zero
 * point; act_min/act_max are the clamp bounds in the output's stored domain.
 */
#ifndef EDGECC_KERNELS_INT_H
#define EDGECC_KERNELS_INT_H

#include "edgecc/edgecc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ fixed point */
/* gemmlowp SaturatingRoundingDoublingHighMul */
static inline int32_t edgecc_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero; e in [0, 31] */
static inline int32_t edgecc_rdbpot(int32_t x, int32_t e)
{
    const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier(int32 x, m, shift) */
static inline int32_t edgecc_mbqm(int32_t x, int32_t m, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return edgecc_rdbpot(edgecc_srdhm((int32_t)((uint32_t)x << left), m), right);
}

/* TFLite MultiplyByQuantizedMultiplier(int64 x, m, shift) of the int16x8 kernels: the Q31
 * multiplier rounded to Q15, one rounding shift; shift in [-31, 7], |x| < 2^47 */
static inline int32_t edgecc_mbqm64(int64_t x, int32_t m, int32_t shift)
{
    const int64_t reduced = m < 0x7FFF0000 ? (((int64_t)m + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t total = 15 - shift;
    const int64_t y = x * reduced + ((int64_t)1 << (total - 1));
    return (int32_t)(uint32_t)(uint64_t)(y >> total);
}

static inline int32_t edgecc_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Count of leading zero bits (32 for 0), portable (no compiler builtin). */
static inline int32_t edgecc_clz32(uint32_t x)
{
    int32_t n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* ------------------------------------------------------------------ convolution and dense */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t dil_h, dil_w;
    int32_t groups;        /* conv2d: channel groups; depthwise: depth multiplier */
    int32_t input_offset;  /* -zero point of the input */
    int32_t output_offset; /* zero point of the output */
    int32_t act_min, act_max;
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;
} edgecc_conv_s8_params_t;

void edgecc_conv2d_s8(const edgecc_conv_s8_params_t *p, const int8_t *input, const int8_t *weight,
                      const int32_t *bias, int8_t *output);
void edgecc_depthwise_conv2d_s8(const edgecc_conv_s8_params_t *p, const int8_t *input, const int8_t *weight,
                                const int32_t *bias, int8_t *output);

/* In place: output over the input (batch 1); `ring` holds dil_h * (k_h - 1) + 1 input rows. */
void edgecc_conv2d_s8_inplace(const edgecc_conv_s8_params_t *p, int8_t *data, const int8_t *weight,
                              const int32_t *bias, int8_t *ring);
void edgecc_depthwise_conv2d_s8_inplace(const edgecc_conv_s8_params_t *p, int8_t *data, const int8_t *weight,
                                        const int32_t *bias, int8_t *ring);

/* Convolution (or depthwise, when depthwise != 0) whose int8 result is added to (or subtracted
 * from) a residual with TFLite's ADD/SUB requantization; output may be the residual. */
typedef struct {
    edgecc_conv_s8_params_t conv;
    int32_t depthwise;
    int32_t residual_is_lhs; /* residual + conv (1) or conv +- residual (0) */
    int32_t subtract;
    int32_t lhs_offset, rhs_offset, output_offset;
    int32_t left_shift;
    int32_t lhs_mult, lhs_shift, rhs_mult, rhs_shift, out_mult, out_shift;
    int32_t act_min, act_max;
} edgecc_conv_add_s8_params_t;

void edgecc_conv2d_add_s8(const edgecc_conv_add_s8_params_t *p, const int8_t *input, const int8_t *weight,
                          const int32_t *bias, const int8_t *residual, int8_t *output);

typedef struct {
    int32_t rows, in_features, out_features;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel; /* 0: multiplier[0]/shift[0] for every output */
    const int32_t *multiplier;
    const int32_t *shift;
} edgecc_fc_s8_params_t;

void edgecc_fully_connected_s8(const edgecc_fc_s8_params_t *p, const int8_t *input, const int8_t *weight,
                               const int32_t *bias, int8_t *output);

typedef struct {
    int32_t batches, m, k, n;
    const int32_t *a_offsets;
    const int32_t *b_offsets;
    int32_t a_offset, b_offset, output_offset; /* -zp_a, -zp_b, +zp_out */
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} edgecc_matmul_s8_params_t;

void edgecc_matmul_s8(const edgecc_matmul_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *output);

/* ------------------------------------------------------------------ elementwise */
typedef enum { EDGECC_Q_ADD = 0, EDGECC_Q_SUB, EDGECC_Q_MUL, EDGECC_Q_MAX, EDGECC_Q_MIN } edgecc_qbinary_kind_t;

/* Broadcasting like edgecc_binary_f32. add/sub: both inputs shifted left by left_shift and
 * scaled by their multipliers, summed, scaled by the output multiplier (TFLite ADD/SUB).
 * mul: (a + a_offset) * (b + b_offset) scaled by out_mult. max/min: inputs mapped through
 * a_table/b_table (256 entries, NULL: identity) into the output's domain, then compared. */
typedef struct {
    edgecc_qbinary_kind_t kind;
    int32_t shape[EDGECC_MAX_RANK];
    int32_t a_strides[EDGECC_MAX_RANK];
    int32_t b_strides[EDGECC_MAX_RANK];
    int32_t a_offset, b_offset, output_offset;
    int32_t left_shift;
    int32_t a_mult, a_shift, b_mult, b_shift;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
    const int8_t *a_table;
    const int8_t *b_table;
} edgecc_qbinary_s8_params_t;

void edgecc_binary_s8(const edgecc_qbinary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *output);

/* out[i] = table[in[i] + 128]: any elementwise function of one int8 value. In place. */
void edgecc_lut_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output);
/* int8 -> int16 through a table (requantization to int16). */
void edgecc_lut_s8_s16(const int16_t *table, int32_t size, const int8_t *input, int16_t *output);

/* TFLite integer QUANTIZE between stored types (bits 8 or 16): clamp(mbqm(x - zp_in) + zp_out) */
typedef struct {
    int32_t size;
    int32_t in_bits, out_bits;
    int32_t input_offset, output_offset;
    int32_t multiplier, shift;
    int32_t qmin, qmax;
} edgecc_requant_params_t;

void edgecc_requantize(const edgecc_requant_params_t *p, const void *input, void *output);

/* TFLite int8 softmax over the middle dim of [outer][axis][inner]: exp_table[-diff] holds
 * exp(diff) in Q0.31 and sum_table[-diff] the same in Q12.19 for diff = x - max in
 * [-255, 0]; diffs below diff_min count as zero. Output scale 1/256, zero point -128. */
typedef struct {
    int32_t outer, axis, inner;
    int32_t diff_min;
    const int32_t *exp_table;
    const int32_t *sum_table;
} edgecc_softmax_s8_params_t;

void edgecc_softmax_s8(const edgecc_softmax_s8_params_t *p, const int8_t *input, int8_t *output);

/* ------------------------------------------------------------------ pools and reductions */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} edgecc_pool_s8_params_t;

/* average: (sum +- count/2) / count over the window's valid cells (TFLite rounding) */
void edgecc_avg_pool_s8(const edgecc_pool_s8_params_t *p, const int8_t *input, int8_t *output);
void edgecc_max_pool_s8(const edgecc_pool_s8_params_t *p, const int8_t *input, int8_t *output);

typedef enum { EDGECC_QREDUCE_SUM = 0, EDGECC_QREDUCE_MAX, EDGECC_QREDUCE_MIN } edgecc_qreduce_kind_t;

/* Output-major reduction: kept dims (output order) and reduced dims, each with input strides.
 * sum (MEAN folds 1/count into the multiplier): mbqm(sum - zp_in * count) + zp_out;
 * max/min: the extreme stored value, requantized when requant != 0. */
typedef struct {
    edgecc_qreduce_kind_t kind;
    int32_t kept_shape[EDGECC_MAX_RANK];
    int32_t kept_strides[EDGECC_MAX_RANK];
    int32_t red_shape[EDGECC_MAX_RANK];
    int32_t red_strides[EDGECC_MAX_RANK];
    int32_t count;
    int32_t input_offset, output_offset;
    int32_t requant, multiplier, shift;
    int32_t qmin, qmax;
} edgecc_reduce_s8_params_t;

void edgecc_reduce_s8(const edgecc_reduce_s8_params_t *p, const int8_t *input, int8_t *output);

/* TFLite ResizeBilinearInteger: per output row/column the two source indices and the
 * position in 1/1024 (pos - lower*1024 is the weight of the upper neighbour). */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    const int32_t *rows; /* [3*out_h]: lower, upper, fraction */
    const int32_t *cols; /* [3*out_w] */
} edgecc_resize_s8_params_t;

void edgecc_resize_bilinear_s8(const edgecc_resize_s8_params_t *p, const int8_t *input, int8_t *output);

/* ------------------------------------------------------------------ int16x8 */
/* int16 activations (zero point 0), int8 weights, int64 bias, requantized with edgecc_mbqm64;
 * the parameter structs are the int8 ones (offsets 0, clamps in the int16 range). */
void edgecc_conv2d_s16(const edgecc_conv_s8_params_t *p, const int16_t *input, const int8_t *weight,
                       const int64_t *bias, int16_t *output);
void edgecc_depthwise_conv2d_s16(const edgecc_conv_s8_params_t *p, const int16_t *input, const int8_t *weight,
                                 const int64_t *bias, int16_t *output);
void edgecc_fully_connected_s16(const edgecc_fc_s8_params_t *p, const int16_t *input, const int8_t *weight,
                                const int64_t *bias, int16_t *output);
/* add/sub (left_shift 15), mul, max/min (tables must be NULL) */
void edgecc_binary_s16(const edgecc_qbinary_s8_params_t *p, const int16_t *a, const int16_t *b, int16_t *output);
void edgecc_avg_pool_s16(const edgecc_pool_s8_params_t *p, const int16_t *input, int16_t *output);
void edgecc_max_pool_s16(const edgecc_pool_s8_params_t *p, const int16_t *input, int16_t *output);
void edgecc_reduce_s16(const edgecc_reduce_s8_params_t *p, const int16_t *input, int16_t *output);
void edgecc_resize_bilinear_s16(const edgecc_resize_s8_params_t *p, const int16_t *input, int16_t *output);

/* TFLite int16 softmax: two 513-entry LUTs (exp over [-10, 0], 1 / (1 + x) over [0, 1]) */
typedef struct {
    int32_t outer, axis, inner;
    int32_t multiplier, shift;
    const int16_t *exp_lut;
    const int16_t *recip_lut;
} edgecc_softmax_s16_params_t;

void edgecc_softmax_s16(const edgecc_softmax_s16_params_t *p, const int16_t *input, int16_t *output);

/* TFLite int16 LOGISTIC / TANH: input rescaled by (multiplier, left_shift), then the 256-entry
 * sigmoid table with linear interpolation */
typedef struct {
    int32_t size;
    int32_t tanh;
    int32_t multiplier, left_shift;
    const int32_t *table;
} edgecc_sigmoid_s16_params_t;

void edgecc_sigmoid_tanh_s16(const edgecc_sigmoid_s16_params_t *p, const int16_t *input, int16_t *output);

/* Integer UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM semantics) over a whole sequence: weights are the input
 * weights of gates i, f, c, o then their recurrent weights; biases int32 (int64 when wide); h and c
 * start from h_in / c_in (they may alias) and end as the final states. Scratch: 5 * batch * n_cell int16. */
typedef struct {
    int32_t steps, batch, n_in, n_cell, time_major, wide;
    int32_t x_offset, h_offset;
    int32_t in_mult[4], in_shift[4], rec_mult[4], rec_shift[4];
    int32_t forget_mult, forget_shift, input_mult, input_shift, hidden_mult, hidden_shift;
    int32_t h_zero_point, h_min, h_max, tanh_mult, tanh_shift, cell_clip;
    const int32_t *table;
} edgecc_lstm_params_t;

void edgecc_lstm(const edgecc_lstm_params_t *p, const void *input, const int8_t *const *weights,
                 const void *const *biases, const void *h_in, const int16_t *c_in, void *output, void *h,
                 int16_t *c, int16_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* EDGECC_KERNELS_INT_H */

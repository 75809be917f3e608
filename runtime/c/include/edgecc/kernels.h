/*
 * edgecc portable kernels: float32 kernels and layout-agnostic data movement.
 *
 * Layout is NHWC. Every kernel takes a pointer to a constant parameter
 * struct (emitted by edgecc into flash) and plain tensor pointers. No
 * kernel allocates memory. Kernels marked "in place" accept an output
 * pointer equal to their (same-sized) input pointer.
 */
#ifndef EDGECC_KERNELS_H
#define EDGECC_KERNELS_H

#include "edgecc/edgecc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------- convolution */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t dil_h, dil_w;
    int32_t groups;     /* conv2d: channel groups; depthwise: depth multiplier */
    float act_min, act_max;
} edgecc_conv_f32_params_t;

/* weight OHWI [out_c][k_h][k_w][in_c/groups]; bias [out_c] or NULL */
void edgecc_conv2d_f32(const edgecc_conv_f32_params_t *p, const float *input, const float *weight,
                       const float *bias, float *output);
/* weight [1][k_h][k_w][in_c*mult]; out channel c*mult+m reads input channel c */
void edgecc_depthwise_conv2d_f32(const edgecc_conv_f32_params_t *p, const float *input,
                                 const float *weight, const float *bias, float *output);

/* ------------------------------------------------------------------ dense / matmul */
typedef struct {
    int32_t rows;      /* product of the leading input dims */
    int32_t in_features;
    int32_t out_features;
    float act_min, act_max;
} edgecc_fc_f32_params_t;

/* weight [out_features][in_features]; bias [out_features] or NULL */
void edgecc_fully_connected_f32(const edgecc_fc_f32_params_t *p, const float *input, const float *weight,
                                const float *bias, float *output);

typedef struct {
    int32_t batches, m, k, n;
    const int32_t *a_offsets;  /* per batch: element offset of the [m][k] matrix in a */
    const int32_t *b_offsets;  /* per batch: element offset of the [k][n] matrix in b */
} edgecc_matmul_f32_params_t;

void edgecc_matmul_f32(const edgecc_matmul_f32_params_t *p, const float *a, const float *b, float *output);

/* ---------------------------------------------------------------------- elementwise */
typedef enum {
    EDGECC_ADD = 0, EDGECC_SUB, EDGECC_MUL, EDGECC_DIV, EDGECC_MAX, EDGECC_MIN, EDGECC_POW, EDGECC_PRELU
} edgecc_binary_kind_t;

/* Broadcasting over at most EDGECC_MAX_RANK (collapsed) dims: element strides of each
 * operand per output dim, 0 where the operand is broadcast. In place on either operand
 * when that operand has the output's shape. */
typedef struct {
    edgecc_binary_kind_t kind;
    int32_t rank;
    int32_t shape[EDGECC_MAX_RANK];
    int32_t a_strides[EDGECC_MAX_RANK];
    int32_t b_strides[EDGECC_MAX_RANK];
    float act_min, act_max;
} edgecc_binary_f32_params_t;

void edgecc_binary_f32(const edgecc_binary_f32_params_t *p, const float *a, const float *b, float *output);

typedef enum {
    EDGECC_RELU = 0, EDGECC_CLAMP, EDGECC_SIGMOID, EDGECC_TANH, EDGECC_HARD_SWISH, EDGECC_HARD_SIGMOID,
    EDGECC_LEAKY_RELU, EDGECC_EXP, EDGECC_LOG, EDGECC_SQRT, EDGECC_RSQRT, EDGECC_ABS, EDGECC_NEG,
    EDGECC_ERF
} edgecc_unary_kind_t;

/* alpha/beta: clamp min/max, hard_sigmoid alpha/beta, leaky_relu alpha. In place. */
typedef struct {
    edgecc_unary_kind_t kind;
    int32_t size;
    float alpha, beta;
} edgecc_unary_f32_params_t;

void edgecc_unary_f32(const edgecc_unary_f32_params_t *p, const float *input, float *output);

/* softmax / log_softmax over the middle dim of [outer][axis][inner]. In place. */
typedef struct {
    int32_t outer, axis, inner;
    float beta;
    int32_t log;
} edgecc_softmax_f32_params_t;

void edgecc_softmax_f32(const edgecc_softmax_f32_params_t *p, const float *input, float *output);

/* ---------------------------------------------------------------------------- pools */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    float act_min, act_max;
} edgecc_pool_f32_params_t;

/* avg excludes padding from the count; max ignores padded cells */
void edgecc_avg_pool_f32(const edgecc_pool_f32_params_t *p, const float *input, float *output);
void edgecc_max_pool_f32(const edgecc_pool_f32_params_t *p, const float *input, float *output);

/* ----------------------------------------------------------------------- reductions */
typedef enum { EDGECC_REDUCE_SUM = 0, EDGECC_REDUCE_MEAN, EDGECC_REDUCE_MAX, EDGECC_REDUCE_MIN } edgecc_reduce_kind_t;

/* Input dims (collapsed) with the element stride of the output per input dim (0 on reduced
 * dims); count = reduced elements per output element. */
typedef struct {
    edgecc_reduce_kind_t kind;
    int32_t rank;
    int32_t shape[EDGECC_MAX_RANK];
    int32_t out_strides[EDGECC_MAX_RANK];
    int32_t out_size;
    int32_t count;
} edgecc_reduce_f32_params_t;

void edgecc_reduce_f32(const edgecc_reduce_f32_params_t *p, const float *input, float *output);

/* ------------------------------------------------------- data movement (any element size) */
/* out[i0..] = in[offset + sum(i_d * src_strides[d])] over shape, written contiguously.
 * Serves transpose, slice (negative strides allowed), split and concat pieces. */
typedef struct {
    int32_t elem_size;
    int32_t rank;
    int32_t shape[EDGECC_MAX_RANK];
    int32_t src_strides[EDGECC_MAX_RANK];
    int32_t dst_strides[EDGECC_MAX_RANK];
    int32_t src_offset;
    int32_t dst_offset;
} edgecc_copy_params_t;

void edgecc_copy_nd(const edgecc_copy_params_t *p, const void *input, void *output);
void edgecc_copy(const void *input, void *output, size_t bytes);

/* encoded constant weights, decoded into arena scratch before the layer's kernel (decode.c) */
typedef struct {
    uint32_t count;     /* elements */
    uint32_t elem_size; /* bytes per element */
    uint32_t channels;  /* codebooks */
    uint32_t inner;     /* consecutive elements per codebook */
    uint32_t levels;    /* entries per codebook */
    uint32_t bits;      /* index width: 1, 2, 4 or 8 */
} edgecc_lut_params_t;

void edgecc_decode_bitmask(const uint8_t *src, uint32_t count, uint32_t elem_size, void *dst);
void edgecc_decode_lut(const edgecc_lut_params_t *p, const uint8_t *src, void *dst);
void edgecc_decode_sparse_lut(const edgecc_lut_params_t *p, const uint8_t *src, void *dst);

typedef enum { EDGECC_PAD_CONSTANT = 0, EDGECC_PAD_REFLECT, EDGECC_PAD_EDGE } edgecc_pad_mode_t;

typedef struct {
    int32_t elem_size;
    int32_t rank;
    int32_t in_shape[EDGECC_MAX_RANK];
    int32_t out_shape[EDGECC_MAX_RANK];
    int32_t begin[EDGECC_MAX_RANK];
    edgecc_pad_mode_t mode;
    const void *value;  /* one element: the fill of mode constant */
} edgecc_pad_params_t;

void edgecc_pad(const edgecc_pad_params_t *p, const void *input, void *output);

/* data [outer][axis][inner] gathered along axis; indices normalised (constant) or read from
 * a tensor (index_bits 32 or 64; negative values count from the end, out of range clamp). */
typedef struct {
    int32_t elem_size;
    int32_t outer, axis, inner, count;
    int32_t index_bits;
} edgecc_gather_params_t;

void edgecc_gather(const edgecc_gather_params_t *p, const void *data, const void *indices, void *output);

/* NHWC resize: nearest copies source pixels given per output row/column; bilinear blends the
 * two neighbours with precomputed weights. */
typedef struct {
    int32_t elem_size;
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    const int32_t *rows;  /* [out_h] (nearest) or [2*out_h] (bilinear: lower, upper) */
    const int32_t *cols;  /* [out_w] or [2*out_w] */
    const float *row_w;   /* bilinear: [2*out_h] weights of lower, upper */
    const float *col_w;   /* bilinear: [2*out_w] */
} edgecc_resize_params_t;

void edgecc_resize_nearest(const edgecc_resize_params_t *p, const void *input, void *output);
void edgecc_resize_bilinear_f32(const edgecc_resize_params_t *p, const float *input, float *output);

typedef struct {
    int32_t outer, channels, size;
    float alpha, beta, bias;
} edgecc_lrn_f32_params_t;

void edgecc_lrn_f32(const edgecc_lrn_f32_params_t *p, const float *input, float *output);

/* ------------------------------------------------------------------ casts and quantization */
typedef struct {
    int32_t size;
    edgecc_dtype_t from, to;
} edgecc_cast_params_t;

/* float -> int truncates toward zero; x != 0 -> 1 for bool. In place when sizes match. */
void edgecc_cast(const edgecc_cast_params_t *p, const void *input, void *output);

typedef struct {
    int32_t size;
    int32_t bits;       /* storage: 8 or 16 */
    float scale;
    int32_t zero_point;
    int32_t qmin, qmax;
} edgecc_quant_params_t;

/* round_half_away(x / scale) + zero_point, saturated to [qmin, qmax] (NaN -> zero_point), as
 * TFLite's QUANTIZE */
void edgecc_quantize_f32(const edgecc_quant_params_t *p, const float *input, void *output);
/* (float)(q - zero_point) * scale */
void edgecc_dequantize_f32(const edgecc_quant_params_t *p, const void *input, float *output);

#ifdef __cplusplus
}
#endif

#endif /* EDGECC_KERNELS_H */

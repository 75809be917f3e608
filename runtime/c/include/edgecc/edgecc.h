/*
 * edgecc C runtime: common definitions shared by generated models and kernels.
 *
 * C99, no dynamic memory, no global state. Generated code includes this
 * header through "edgecc/kernels.h".
 */
#ifndef EDGECC_EDGECC_H
#define EDGECC_EDGECC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGECC_RUNTIME_VERSION 1

/* Status codes returned by generated functions. */
#define EDGECC_OK 0
#define EDGECC_ERR_NO_ARENA (-1)      /* external arena not set (call <prefix>_set_arena) */
#define EDGECC_ERR_ARENA_SIZE (-2)    /* arena smaller than <PREFIX>_ARENA_SIZE */
#define EDGECC_ERR_ARENA_ALIGN (-3)   /* arena not aligned to <PREFIX>_ARENA_ALIGN */
#define EDGECC_ERR_INDEX (-4)         /* input/output index out of range */
#define EDGECC_ERR_KERNEL (-5)        /* a library kernel (CMSIS-NN) rejected its arguments */

/* Element types of model inputs and outputs. */
typedef enum {
    EDGECC_F32 = 0,
    EDGECC_I8 = 1,
    EDGECC_I16 = 2,
    EDGECC_I32 = 3,
    EDGECC_I64 = 4,
    EDGECC_U8 = 5,
    EDGECC_BOOL = 6,
    EDGECC_F16 = 7
} edgecc_dtype_t;

#define EDGECC_MAX_RANK 6

/* Description of one model input or output. Quantized tensors have
 * quantized != 0 and real = scale * (stored - zero_point). */
typedef struct {
    const char *name;
    edgecc_dtype_t dtype;
    int32_t rank;
    const int32_t *shape; /* rank dims (any rank: I/O tensors are not collapsed like kernel shapes) */
    size_t elements;
    size_t bytes;
    int32_t quantized;
    float scale;
    int32_t zero_point;
} edgecc_tensor_info_t;

/* Alignment attribute (GCC, Clang, armclang, IAR understand __attribute__). */
#ifndef EDGECC_ALIGNED
#if defined(__GNUC__) || defined(__clang__) || defined(__ICCARM__) || defined(__CC_ARM)
#define EDGECC_ALIGNED(n) __attribute__((aligned(n)))
#else
#define EDGECC_ALIGNED(n)
#endif
#endif

/* Placement of constant weights (default: the compiler's read-only data, i.e. flash on
 * microcontrollers). Define it, e.g. as __attribute__((section(".rodata.edgecc"))), to
 * steer weights into a specific memory region. */
#ifndef EDGECC_WEIGHTS_SECTION
#define EDGECC_WEIGHTS_SECTION
#endif

/* Placement of the static arena (default: .bss). */
#ifndef EDGECC_ARENA_SECTION
#define EDGECC_ARENA_SECTION
#endif

/* Per-layer profiling marks, placed by the generated <prefix>_run() around each layer's code.
 * Empty unless EDGECC_PROFILE is defined; then they call edgecc_profile_begin/end(layer),
 * which the build defining EDGECC_PROFILE must provide (edgecc's emulator defines them as
 * never-inlined functions whose entries a QEMU plugin watches to count instructions). */
#ifdef EDGECC_PROFILE
void edgecc_profile_begin(int layer);
void edgecc_profile_end(int layer);
#define EDGECC_PROFILE_BEGIN(layer) edgecc_profile_begin(layer)
#define EDGECC_PROFILE_END(layer) edgecc_profile_end(layer)
#else
#define EDGECC_PROFILE_BEGIN(layer) ((void)0)
#define EDGECC_PROFILE_END(layer) ((void)0)
#endif

#ifdef __cplusplus
}
#endif

#endif /* EDGECC_EDGECC_H */

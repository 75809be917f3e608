/* edgecc portable kernels: decoding of encoded constant weights into arena scratch.
 *
 * Layouts (edgecc.compress.encode): bitmask = ceil(n/8) mask bytes (LSB first) then the nonzero
 * elements in order; lut = channels x levels codebook entries then n packed indices of `bits`
 * bits (LSB first), element i reading the codebook of channel (i / inner) % channels; sparse_lut =
 * the bitmask's mask, the codebooks of the nonzero values, one packed index per nonzero. Elements
 * are copied byte-wise (memcpy), so any element size and any source alignment work. */
#include <string.h>

#include "edgecc/kernels.h"

void edgecc_decode_bitmask(const uint8_t *src, uint32_t count, uint32_t elem_size, void *dst)
{
    const uint8_t *values = src + (count + 7u) / 8u;
    uint8_t *out = (uint8_t *)dst;
    if (elem_size == 1u) {
        for (uint32_t i = 0; i < count; ++i) {
            const uint8_t bit = (uint8_t)((src[i >> 3] >> (i & 7u)) & 1u);
            out[i] = bit ? *values : 0u;
            values += bit;
        }
        return;
    }
    for (uint32_t i = 0; i < count; ++i) {
        if ((src[i >> 3] >> (i & 7u)) & 1u) {
            memcpy(out + (size_t)i * elem_size, values, elem_size);
            values += elem_size;
        } else {
            memset(out + (size_t)i * elem_size, 0, elem_size);
        }
    }
}

void edgecc_decode_lut(const edgecc_lut_params_t *p, const uint8_t *src, void *dst)
{
    const uint32_t es = p->elem_size;
    const uint8_t *index = src + (size_t)p->channels * p->levels * es;
    const uint32_t mask = (1u << p->bits) - 1u;
    const uint32_t shift = p->bits == 1u ? 3u : p->bits == 2u ? 2u : p->bits == 4u ? 1u : 0u;
    const uint32_t per = 1u << shift;
    uint8_t *out = (uint8_t *)dst;
    uint32_t channel = 0, left = p->inner;
    for (uint32_t i = 0; i < p->count; ++i) {
        const uint32_t k = (index[i >> shift] >> ((i & (per - 1u)) * p->bits)) & mask;
        const uint8_t *entry = src + ((size_t)channel * p->levels + k) * es;
        if (es == 1u) {
            out[i] = *entry;
        } else {
            memcpy(out + (size_t)i * es, entry, es);
        }
        if (--left == 0u) {
            left = p->inner;
            channel = channel + 1u == p->channels ? 0u : channel + 1u;
        }
    }
}

void edgecc_decode_sparse_lut(const edgecc_lut_params_t *p, const uint8_t *src, void *dst)
{
    const uint32_t es = p->elem_size;
    const uint8_t *mask = src;
    const uint8_t *book = src + (p->count + 7u) / 8u;
    const uint8_t *index = book + (size_t)p->channels * p->levels * es;
    const uint32_t bits = p->bits, mask_k = (1u << p->bits) - 1u;
    uint8_t *out = (uint8_t *)dst;
    uint32_t channel = 0, left = p->inner;
    size_t bit = 0; /* position of the next index, in bits */
    for (uint32_t i = 0; i < p->count; ++i) {
        if ((mask[i >> 3] >> (i & 7u)) & 1u) {
            const uint32_t k = (index[bit >> 3] >> (bit & 7u)) & mask_k;
            bit += bits;
            memcpy(out + (size_t)i * es, book + ((size_t)channel * p->levels + k) * es, es);
        } else {
            memset(out + (size_t)i * es, 0, es);
        }
        if (--left == 0u) {
            left = p->inner;
            channel = channel + 1u == p->channels ? 0u : channel + 1u;
        }
    }
}

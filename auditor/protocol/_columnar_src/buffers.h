/* Growable byte buffers and bitmaps: where the Arrow buffers are built.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_BUFFERS_H
#define AUDITOR_COLUMNAR_BUFFERS_H

#include "common.h"

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_grow(Buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return NO_MEMORY;
    b->data = data;
    b->cap = cap;
    return OK;
}

static inline int buf_reserve(Buf *b, size_t extra)
{
    return b->len + extra <= b->cap ? OK : buf_grow(b, extra);
}

static inline int buf_append(Buf *b, const void *src, size_t n)
{
    TRY(buf_reserve(b, n));
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return OK;
}

/* buf_append for the short runs of text most strings are: no call into the C library. */
static inline int buf_append_text(Buf *b, const unsigned char *src, size_t n)
{
    if (n > 32)
        return buf_append(b, src, n);
    TRY(buf_reserve(b, n));
    char *dst = b->data + b->len;
    b->len += n;
    if (n >= 8) { /* 8-byte moves, the last one overlapping */
        for (size_t i = 0; i + 8 < n; i += 8)
            memcpy(dst + i, src + i, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n > 0) {
        dst[0] = (char)src[0];
        dst[n / 2] = (char)src[n / 2];
        dst[n - 1] = (char)src[n - 1];
    }
    return OK;
}

static inline int buf_append_int32(Buf *b, size_t value)
{
    if (value > INT32_MAX) /* more than 2 GiB of text in one answer's column */
        return DECLINE;
    int32_t v = (int32_t)value;
    return buf_append(b, &v, sizeof v);
}

static inline int buf_append_int64(Buf *b, int64_t value)
{
    return buf_append(b, &value, sizeof value);
}

/* Set bit `index` of a bitmap to `value`, growing it with zero bytes as needed. */
static inline int bit_put(Buf *b, Py_ssize_t index, int value)
{
    size_t byte = (size_t)index >> 3;
    if (byte >= b->len) {
        TRY(buf_reserve(b, byte + 1 - b->len));
        memset(b->data + b->len, 0, byte + 1 - b->len);
        b->len = byte + 1;
    }
    if (value)
        b->data[byte] |= (char)(1u << (index & 7));
    return OK;
}

/* The buffer's bytes as a new bytes object. */
static inline PyObject *bytes_of(const Buf *b)
{
    return PyBytes_FromStringAndSize(b->len ? b->data : "", (Py_ssize_t)b->len);
}

#endif /* AUDITOR_COLUMNAR_BUFFERS_H */

/* Item values into their columns, one row per item object.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_ITEMS_H
#define AUDITOR_COLUMNAR_ITEMS_H

#include "json.h"

/* Whether the n bytes at a and b are the same. Inline (keys are short, and a call to memcmp cost
 * more than the comparison): 8 bytes at a time, the last 8 overlapping; 4 and 4 or byte by byte
 * below 8. */
static inline int same_bytes(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    if (n >= 8) {
        uint64_t u, v;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&u, x + i, 8);
            memcpy(&v, y + i, 8);
            if (u != v)
                return 0;
        }
        memcpy(&u, x + n - 8, 8);
        memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        uint32_t u0, v0, u1, v1;
        memcpy(&u0, x, 4);
        memcpy(&v0, y, 4);
        memcpy(&u1, x + n - 4, 4);
        memcpy(&v1, y + n - 4, 4);
        return u0 == v0 && u1 == v1;
    }
    return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

/* Bits [0, n) of an empty bitmap set, the rest of their last byte clear. */
static int set_bits_before(Buf *b, Py_ssize_t n)
{
    size_t full = (size_t)n >> 3;
    TRY(buf_reserve(b, full + 1));
    memset(b->data, 0xFF, full);
    b->data[full] = (char)((1u << (n & 7)) - 1);
    b->len = full + 1;
    return OK;
}

/* Validity bit `index` of a bitmap whose nulls so far are *nulls (counted here). The bitmap is
 * only built from the first null on, every bit before it set: most columns have no null, and
 * are exported without a bitmap (arrow.h), so setting their bits was wasted. */
static inline int put_validity(Buf *bitmap, Py_ssize_t *nulls, Py_ssize_t index, int valid)
{
    if (valid && *nulls == 0)
        return OK;
    if (!valid && (*nulls)++ == 0)
        TRY(set_bits_before(bitmap, index));
    return bit_put(bitmap, index, valid);
}

/* Which of 64 bits a map key sets in its map's filter: equal keys always pick the same bit. */
static inline uint64_t key_bit(const char *p, size_t n)
{
    unsigned h = n ? (unsigned)n * 31u + (unsigned char)p[0] * 7u + (unsigned char)p[n - 1] : 0u;
    return 1ULL << (h & 63);
}

/* Whether the key just appended (entry `last`) repeats one of the entries [first, last). */
static int repeats_key(const Column *c, Py_ssize_t first, Py_ssize_t last)
{
    const int32_t *offsets = (const int32_t *)c->child_offsets.data;
    int32_t start = offsets[last], len = offsets[last + 1] - start;
    for (Py_ssize_t i = first; i < last; i++)
        if (offsets[i + 1] - offsets[i] == len
            && same_bytes(c->data.data + offsets[i], c->data.data + start, (size_t)len))
            return 1;
    return 0;
}

static inline int scan_map(const unsigned char **pp, const unsigned char *end, Column *c)
{
    int empty, more;
    TRY(open_container(pp, end, '{', '}', &empty));
    Py_ssize_t first = c->children;
    uint64_t bloom = 0; /* one bit per key hash: a repeated key always hits a set bit */
    for (more = !empty; more;) {
        skip_ws(pp, end);
        size_t start = c->data.len;
        TRY(scan_string(pp, end, &c->data));
        TRY(buf_append_int32(&c->child_offsets, c->data.len));
        uint64_t bit = key_bit(c->data.data + start, c->data.len - start);
        if ((bloom & bit) && repeats_key(c, first, c->children))
            return DECLINE;
        bloom |= bit;
        TRY(expect(pp, end, ':'));
        skip_ws(pp, end);
        int64_t value = 0;
        int present = !(*pp < end && **pp == 'n');
        if (present)
            TRY(scan_int64(pp, end, &value));
        else
            TRY(literal(pp, end, "null", 4));
        TRY(put_validity(&c->child_validity, &c->child_nulls, c->children, present));
        TRY(buf_append_int64(&c->child_values, value));
        c->children++;
        TRY(more_members(pp, end, '}', &more));
    }
    return OK;
}

static inline int scan_list(const unsigned char **pp, const unsigned char *end, Column *c)
{
    int empty, more;
    TRY(open_container(pp, end, '[', ']', &empty));
    for (more = !empty; more;) {
        skip_ws(pp, end);
        TRY(scan_string(pp, end, &c->data)); /* a null element is declined here */
        TRY(buf_append_int32(&c->child_offsets, c->data.len));
        c->children++;
        TRY(more_members(pp, end, ']', &more));
    }
    return OK;
}

static int scan_object(Scanner *s, const int *fields, int n_fields, int object_depth);

/* The value for column `c` at *pp (after the key's colon and any whitespace). */
static inline int scan_value(Scanner *s, const unsigned char **pp, const unsigned char *end,
                             Column *c)
{
    c->seen = 1;
    if (*pp < end && **pp == 'n') {
        c->is_null = 1;
        return literal(pp, end, "null", 4);
    }
    switch (c->kind) {
    case KIND_INT64: return scan_int64(pp, end, &c->int_value);
    case KIND_STRING: return scan_string(pp, end, &c->data);
    case KIND_BOOL:
        if (*pp < end && **pp == 't') { c->bool_value = 1; return literal(pp, end, "true", 4); }
        c->bool_value = 0;
        return literal(pp, end, "false", 5);
    case KIND_MAP: return scan_map(pp, end, c);
    case KIND_LIST: return scan_list(pp, end, c);
    case KIND_OBJECT: /* (through s->p: scan_object is not inline) */
        s->p = *pp;
        TRY(scan_object(s, COLUMN_INDEX + c->first_child, c->n_children, 1));
        *pp = s->p;
        return OK;
    }
    return DECLINE;
}

/* Whether column c's key and its colon are at p, written plainly: the usual case. */
static inline int expected_key(const Column *c, const unsigned char *p, const unsigned char *end)
{
    size_t n = (size_t)c->key_len;
    return c->plain_key && (size_t)(end - p) > n + 2 && p[0] == '"' && p[n + 1] == '"'
           && p[n + 2] == ':' && same_bytes(p + 1, c->key, n);
}

/* The column of `fields` whose key is s->key, looked for from *guess on (then set past it), or
 * NULL. */
static Column *find_field(const Scanner *s, const int *fields, int n_fields, int *guess)
{
    for (int tried = 0, i = *guess; tried < n_fields; tried++, i++) {
        if (i >= n_fields)
            i = 0;
        Column *candidate = &s->columns[fields[i]];
        if ((size_t)candidate->key_len == s->key.len
            && same_bytes(candidate->key, s->key.data, s->key.len)) {
            *guess = i + 1;
            return candidate;
        }
    }
    return NULL;
}

/* An object whose keys are the columns `fields` (keys it does not name are skipped), at s->p.
 * The position is kept in a local meanwhile (see json.h) and given back in s->p. */
static int scan_object(Scanner *s, const int *fields, int n_fields, int object_depth)
{
    const unsigned char *p = s->p, *end = s->end;
    int empty, more;
    TRY(open_container(&p, end, '{', '}', &empty));
    int guess = 0; /* the API sends keys in a fixed order: try the field after the last one */
    for (more = !empty; more;) {
        Column *c;
        if (guess < n_fields && expected_key(&s->columns[fields[guess]], p, end)) {
            c = &s->columns[fields[guess++]];
            p += c->key_len + 3;
        } else { /* any other key, or one written with whitespace or escapes */
            skip_ws(&p, end);
            s->key.len = 0;
            TRY(scan_string(&p, end, &s->key));
            c = find_field(s, fields, n_fields, &guess);
            TRY(expect(&p, end, ':'));
        }
        skip_ws(&p, end);
        if (c == NULL) {
            const unsigned char *q = p; /* a copy: p's address must not leave (see json.h) */
            TRY(skip_value(&q, end, object_depth));
            p = q;
        } else if (c->seen) { /* a key given twice */
            return DECLINE;
        } else {
            TRY(scan_value(s, &p, end, c));
        }
        TRY(more_members(&p, end, '}', &more));
    }
    s->p = p;
    return OK;
}

/* Append this row's value (or null) to every column and get ready for the next row. */
static int end_row(Scanner *s)
{
    Py_ssize_t row = s->rows;
    /* (the bounds in locals: a buffer write would make the compiler reload s->n_columns) */
    for (Column *c = s->columns, *stop = c + s->n_columns; c < stop; c++) {
        int valid = c->seen && !c->is_null;
        TRY(put_validity(&c->validity, &c->nulls, row, valid));
        switch (c->kind) {
        case KIND_INT64: TRY(buf_append_int64(&c->values, valid ? c->int_value : 0)); break;
        case KIND_BOOL: TRY(bit_put(&c->values, row, valid && c->bool_value)); break;
        case KIND_STRING: TRY(buf_append_int32(&c->offsets, c->data.len)); break;
        case KIND_MAP:
        case KIND_LIST: TRY(buf_append_int32(&c->offsets, (size_t)c->children)); break;
        }
        c->seen = c->is_null = 0;
    }
    s->rows++;
    return OK;
}

/* The value of "items": null, or an array of item objects, one row each. */
static int scan_items_value(Scanner *s)
{
    skip_ws(&s->p, s->end);
    if (s->p < s->end && *s->p == 'n') /* "items": null */
        return literal(&s->p, s->end, "null", 4);
    int empty, more;
    TRY(open_container(&s->p, s->end, '[', ']', &empty));
    for (more = !empty; more;) {
        TRY(scan_object(s, s->top, s->n_top, 1));
        TRY(end_row(s));
        TRY(more_members(&s->p, s->end, ']', &more));
    }
    return OK;
}

static int scan_items(Scanner *s)
{
    TRY(scan_items_value(s));
    skip_ws(&s->p, s->end);
    return s->p == s->end ? OK : DECLINE;
}

#endif /* AUDITOR_COLUMNAR_ITEMS_H */

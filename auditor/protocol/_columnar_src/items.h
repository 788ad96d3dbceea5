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

/* Which of 64 bits a map key of n bytes, the first `first` and the last `last`, sets in its map's
 * filter: equal keys always pick the same bit. */
static inline uint64_t key_bit_of(size_t n, unsigned first, unsigned last)
{
    unsigned h = n ? (unsigned)n * 31u + first * 7u + last : 0u;
    return 1ULL << (h & 63);
}

static inline uint64_t key_bit(const char *p, size_t n)
{
    return n ? key_bit_of(n, (unsigned char)p[0], (unsigned char)p[n - 1]) : key_bit_of(0, 0, 0);
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

/* The map entries from *pp on that are written the usual way, "key":count and then ',' or '}': no
 * whitespace, a plain key of at most 15 bytes, a count short_count reads (the six referring_links_*
 * maps of a bulk answer hold ~22 such entries an item, which were a third of its scan). Each is read
 * straight through, the key and the count from a word or two, with the buffers' ends in locals:
 * stores into the buffers (char *, which may alias anything) would otherwise force them back to
 * memory after every write. Stops at an entry written any other way (*pp at its start, *more 1: the
 * general path reads it) or past the map's '}' (*more 0). */
static int plain_entries(const unsigned char **pp, const unsigned char *end, Column *c,
                         Py_ssize_t first, uint64_t *bloom, int *more)
{
#if HAVE_SWAR
    const unsigned char *p = *pp;
    char *data = c->data.data, *offsets = c->child_offsets.data, *values = c->child_values.data;
    size_t data_len = c->data.len, offsets_len = c->child_offsets.len;
    size_t values_len = c->child_values.len;
    Py_ssize_t children = c->children;
    int rc = OK;
    *more = 1;
    /* 32 bytes left: every read below is inside the text (a key's two words end by p + 17, the
     * count's word by p + 27) */
    while (end - p >= 32 && *p == '"') {
        if (data_len + 16 > c->data.cap || offsets_len + 4 > c->child_offsets.cap
            || values_len + 8 > c->child_values.cap) { /* room for the entry first */
            c->data.len = data_len, c->child_offsets.len = offsets_len;
            c->child_values.len = values_len;
            if ((rc = buf_reserve(&c->data, 16)) != OK || (rc = buf_reserve(&c->child_offsets, 4)) != OK
                || (rc = buf_reserve(&c->child_values, 8)) != OK)
                break;
            data = c->data.data, offsets = c->child_offsets.data, values = c->child_values.data;
        }
        const unsigned char *q = p + 1;
        size_t start = data_len;
        uint64_t word, stop;
        memcpy(&word, q, 8);
        if ((stop = unplain_bytes(word)) == 0) { /* 8 plain bytes: the key goes on in the next word */
            memcpy(data + data_len, &word, 8);
            data_len += 8;
            q += 8;
            memcpy(&word, q, 8);
            if ((stop = unplain_bytes(word)) == 0) {
                data_len = start;
                break;
            }
        }
        size_t n = (size_t)(__builtin_ctzll(stop) >> 3);
        memcpy(data + data_len, &word, 8); /* all eight stored, the key's bytes counted */
        data_len += n;
        q += n;
        int64_t value;
        if (q[0] != '"' || q[1] != ':' || (q += 2, !short_count(&q, end, &value))) {
            data_len = start; /* (the bytes stored past data_len do not count) */
            break;
        }
        size_t key_len = data_len - start;
        if (data_len > INT32_MAX) { /* as buf_append_int32: more than 2 GiB of keys */
            rc = DECLINE;
            break;
        }
        int32_t offset = (int32_t)data_len;
        memcpy(offsets + offsets_len, &offset, 4);
        offsets_len += 4;
        uint64_t bit = key_bit(data + start, key_len);
        if (*bloom & bit) {
            c->data.len = data_len, c->child_offsets.len = offsets_len;
            if (repeats_key(c, first, children)) {
                rc = DECLINE;
                break;
            }
        }
        *bloom |= bit;
        if (c->child_nulls && (rc = bit_put(&c->child_validity, children, 1)) != OK)
            break;
        memcpy(values + values_len, &value, 8);
        values_len += 8;
        children++;
        p = q + 1; /* past the ',' or '}' short_count saw */
        if (*q == '}') {
            *more = 0;
            break;
        }
    }
    c->data.len = data_len, c->child_offsets.len = offsets_len, c->child_values.len = values_len;
    c->children = children;
    *pp = p;
    return rc;
#else
    (void)pp, (void)end, (void)c, (void)first, (void)bloom;
    *more = 1;
    return OK;
#endif
}

static inline int scan_map(const unsigned char **pp, const unsigned char *end, Column *c)
{
    int empty, more;
    TRY(open_container(pp, end, '{', '}', &empty));
    Py_ssize_t first = c->children;
    uint64_t bloom = 0; /* one bit per key hash: a repeated key always hits a set bit */
    for (more = !empty; more;) {
        TRY(plain_entries(pp, end, c, first, &bloom, &more));
        if (!more)
            break;
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

static int scan_object(Scanner *s, const int *fields, int n_fields, int *first, int object_depth);

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
        TRY(scan_object(s, COLUMN_INDEX + c->first_child, c->n_children, &c->first, 1));
        *pp = s->p;
        return OK;
    }
    return DECLINE;
}

/* Whether column c's key and its colon are at p, written plainly: the usual case. */
static inline int expected_key(const Column *c, const unsigned char *p, const unsigned char *end)
{
    return c->quoted != NULL && end - p >= c->quoted_len
           && same_bytes(p, c->quoted, (size_t)c->quoted_len);
}

/* The place among `fields` of the column whose key is s->key, looked for from `from` on, or -1. */
static int find_field(const Scanner *s, const int *fields, int n_fields, int from)
{
    for (int tried = 0, i = from; tried < n_fields; tried++, i++) {
        if (i >= n_fields)
            i = 0;
        Column *candidate = &s->columns[fields[i]];
        if ((size_t)candidate->key_len == s->key.len
            && same_bytes(candidate->key, s->key.data, s->key.len))
            return i;
    }
    return -1;
}

/* An object whose keys are the columns `fields` (keys it does not name are skipped), at s->p.
 * The position is kept in a local meanwhile (see json.h) and given back in s->p.
 *
 * The API sends keys in a fixed order, which need not be the layout's: the key after each field is
 * expected to be the one that came after it last time (Column.next; *first: the first key), and is
 * only looked for among all the fields when it is not. A key found that way is learnt as the one
 * after the key before it, so only the first object pays for an order other than the layout's. */
static int scan_object(Scanner *s, const int *fields, int n_fields, int *first, int object_depth)
{
    const unsigned char *p = s->p, *end = s->end;
    int empty, more;
    TRY(open_container(&p, end, '{', '}', &empty));
    int guess = *first, *learn = first; /* where a key found by looking is noted as expected */
    for (more = !empty; more;) {
        Column *c;
        if (guess < n_fields && expected_key(&s->columns[fields[guess]], p, end)) {
            c = &s->columns[fields[guess]];
            p += c->quoted_len;
            /* A count (most of an item's values) and what follows it, read at once: short_count
             * only reads one that ',' or '}' ends, which is all more_members() would look at. */
            if (c->kind == KIND_INT64 && !c->seen && short_count(&p, end, &c->int_value)) {
                c->seen = 1;
                guess = c->next;
                learn = &c->next;
                more = *p++ == ',';
                continue;
            }
        } else { /* any other key, or one written with whitespace or escapes */
            skip_ws(&p, end);
            s->key.len = 0;
            TRY(scan_string(&p, end, &s->key));
            int found = find_field(s, fields, n_fields, guess);
            c = found < 0 ? NULL : &s->columns[fields[found]];
            if (c != NULL)
                *learn = found;
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
            guess = c->next;
            learn = &c->next;
            TRY(scan_value(s, &p, end, c));
        }
        TRY(more_members(&p, end, '}', &more));
    }
    s->p = p;
    return OK;
}

/* Room in every column's values or offsets for rows up to `rows`, which end_row() then appends
 * without a check each: they are only appended to there, one entry a row. */
static int reserve_rows(Scanner *s, Py_ssize_t rows)
{
    for (Column *c = s->columns, *stop = c + s->n_columns; c < stop; c++) {
        Py_ssize_t left = rows - s->rows;
        if (c->kind == KIND_INT64)
            TRY(buf_reserve(&c->values, 8 * (size_t)left));
        else if (c->kind == KIND_STRING || c->kind == KIND_MAP || c->kind == KIND_LIST)
            TRY(buf_reserve(&c->offsets, 4 * (size_t)left));
    }
    s->reserved = rows;
    return OK;
}

/* Append this row's value (or null) to every column and get ready for the next row. */
static int end_row(Scanner *s)
{
    Py_ssize_t row = s->rows;
    if (row >= s->reserved) /* an answer's thousand rows at once, then twice the rows so far */
        TRY(reserve_rows(s, row < 1024 ? 1024 : 2 * row));
    /* (the bounds in locals: a buffer write would make the compiler reload s->n_columns) */
    for (Column *c = s->columns, *stop = c + s->n_columns; c < stop; c++) {
        int valid = c->seen && !c->is_null;
        if (!valid || c->nulls)
            TRY(put_validity(&c->validity, &c->nulls, row, valid));
        size_t at;
        int32_t offset;
        switch (c->kind) {
        case KIND_INT64: {
            int64_t value = valid ? c->int_value : 0;
            memcpy(c->values.data + c->values.len, &value, 8);
            c->values.len += 8;
            break;
        }
        case KIND_BOOL: TRY(bit_put(&c->values, row, valid && c->bool_value)); break;
        case KIND_STRING:
        case KIND_MAP:
        case KIND_LIST:
            at = c->kind == KIND_STRING ? c->data.len : (size_t)c->children;
            if (at > INT32_MAX) /* as buf_append_int32: more than 2 GiB in one answer's column */
                return DECLINE;
            offset = (int32_t)at;
            memcpy(c->offsets.data + c->offsets.len, &offset, 4);
            c->offsets.len += 4;
            break;
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
        TRY(scan_object(s, s->top, s->n_top, &s->first_top, 1));
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

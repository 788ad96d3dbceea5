/* Item values into their columns, one row per item object.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_ITEMS_H
#define AUDITOR_COLUMNAR_ITEMS_H

#include "json.h"

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
            && memcmp(c->data.data + offsets[i], c->data.data + start, (size_t)len) == 0)
            return 1;
    return 0;
}

static int scan_map(Scanner *s, Column *c)
{
    int empty, more;
    TRY(open_container(s, '{', '}', &empty));
    Py_ssize_t first = c->children;
    uint64_t bloom = 0; /* one bit per key hash: a repeated key always hits a set bit */
    for (more = !empty; more;) {
        skip_ws(s);
        size_t start = c->data.len;
        TRY(scan_string(s, &c->data));
        TRY(buf_append_int32(&c->child_offsets, c->data.len));
        uint64_t bit = key_bit(c->data.data + start, c->data.len - start);
        if ((bloom & bit) && repeats_key(c, first, c->children))
            return DECLINE;
        bloom |= bit;
        TRY(expect(s, ':'));
        skip_ws(s);
        int64_t value = 0;
        int present = !(s->p < s->end && *s->p == 'n');
        if (present)
            TRY(scan_int64(s, &value));
        else
            TRY(literal(s, "null", 4));
        TRY(bit_put(&c->child_validity, c->children, present));
        c->child_nulls += !present;
        TRY(buf_append_int64(&c->child_values, value));
        c->children++;
        TRY(more_members(s, '}', &more));
    }
    return OK;
}

static int scan_list(Scanner *s, Column *c)
{
    int empty, more;
    TRY(open_container(s, '[', ']', &empty));
    for (more = !empty; more;) {
        skip_ws(s);
        TRY(scan_string(s, &c->data)); /* a null element is declined here */
        TRY(buf_append_int32(&c->child_offsets, c->data.len));
        c->children++;
        TRY(more_members(s, ']', &more));
    }
    return OK;
}

static int scan_object(Scanner *s, const int *fields, int n_fields, int object_depth);

/* The value for column `c` at s->p (after the key's colon and any whitespace). */
static int scan_value(Scanner *s, Column *c)
{
    c->seen = 1;
    if (s->p < s->end && *s->p == 'n') {
        c->is_null = 1;
        return literal(s, "null", 4);
    }
    switch (c->kind) {
    case KIND_INT64: return scan_int64(s, &c->int_value);
    case KIND_STRING: return scan_string(s, &c->data);
    case KIND_BOOL:
        if (s->p < s->end && *s->p == 't') { c->bool_value = 1; return literal(s, "true", 4); }
        c->bool_value = 0;
        return literal(s, "false", 5);
    case KIND_MAP: return scan_map(s, c);
    case KIND_LIST: return scan_list(s, c);
    case KIND_OBJECT:
        return scan_object(s, COLUMN_INDEX + c->first_child, c->n_children, 1);
    }
    return DECLINE;
}

/* An object whose keys are the columns `fields` (keys it does not name are skipped). */
static int scan_object(Scanner *s, const int *fields, int n_fields, int object_depth)
{
    int empty, more;
    TRY(open_container(s, '{', '}', &empty));
    int guess = 0; /* the API sends keys in a fixed order: try the field after the last one */
    for (more = !empty; more;) {
        skip_ws(s);
        Column *c = NULL;
        if (guess < n_fields) { /* the usual case: the expected key, written plainly */
            Column *expected = &s->columns[fields[guess]];
            size_t n = (size_t)expected->key_len;
            if (expected->plain_key && (size_t)(s->end - s->p) > n + 1 && s->p[0] == '"'
                && s->p[n + 1] == '"' && memcmp(s->p + 1, expected->key, n) == 0) {
                c = expected;
                guess++;
                s->p += n + 2;
            }
        }
        if (c == NULL) {
            s->key.len = 0;
            TRY(scan_string(s, &s->key));
        }
        for (int tried = 0, i = guess; c == NULL && tried < n_fields; tried++, i++) {
            if (i >= n_fields)
                i = 0;
            Column *candidate = &s->columns[fields[i]];
            if ((size_t)candidate->key_len == s->key.len
                && memcmp(candidate->key, s->key.data, s->key.len) == 0) {
                c = candidate;
                guess = i + 1;
                break;
            }
        }
        TRY(expect(s, ':'));
        skip_ws(s);
        if (c == NULL)
            TRY(skip_value(s, object_depth));
        else if (c->seen) /* a key given twice */
            return DECLINE;
        else
            TRY(scan_value(s, c));
        TRY(more_members(s, '}', &more));
    }
    return OK;
}

/* Append this row's value (or null) to every column and get ready for the next row. */
static int end_row(Scanner *s)
{
    Py_ssize_t row = s->rows;
    for (int i = 0; i < s->n_columns; i++) {
        Column *c = &s->columns[i];
        int valid = c->seen && !c->is_null;
        TRY(bit_put(&c->validity, row, valid));
        c->nulls += !valid;
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
    skip_ws(s);
    if (s->p < s->end && *s->p == 'n') /* "items": null */
        return literal(s, "null", 4);
    int empty, more;
    TRY(open_container(s, '[', ']', &empty));
    for (more = !empty; more;) {
        TRY(scan_object(s, s->top, s->n_top, 1));
        TRY(end_row(s));
        TRY(more_members(s, ']', &more));
    }
    return OK;
}

static int scan_items(Scanner *s)
{
    TRY(scan_items_value(s));
    skip_ws(s);
    return s->p == s->end ? OK : DECLINE;
}

#endif /* AUDITOR_COLUMNAR_ITEMS_H */

/* One Arrow column being built per layout entry, and the scanner's state.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_COLUMNS_H
#define AUDITOR_COLUMNAR_COLUMNS_H

#include "buffers.h"

typedef struct {
    int kind;
    const char *key; /* UTF-8, owned by the layout's str objects */
    Py_ssize_t key_len;
    int plain_key; /* no character JSON would escape: the raw text of the key can be compared */
    char *quoted;  /* plain keys: `"key":`, as compact JSON writes it (quoted_len bytes), or NULL */
    Py_ssize_t quoted_len;
    int next;  /* the key expected after this one: its place among the object's fields (learnt) */
    int first; /* OBJECT: the place of the key expected first in it (learnt) */
    int parent;
    int first_child, n_children; /* OBJECT: its children are columns [first, first + n) */

    /* this row */
    int seen, is_null;
    int64_t int_value;
    int bool_value;

    /* all rows */
    Py_ssize_t nulls;
    Buf validity; /* bitmap */
    Buf values;   /* INT64: int64s; BOOL: bitmap */
    Buf offsets;  /* STRING, MAP, LIST: int32, rows + 1 */
    Buf data;     /* STRING: text; MAP: keys' text; LIST: elements' text */
    Buf child_offsets; /* MAP keys, LIST elements: int32, entries + 1 */
    Buf child_values;  /* MAP: int64 values */
    Buf child_validity;
    Py_ssize_t children, child_nulls; /* MAP entries / LIST elements */
} Column;

typedef struct {
    const unsigned char *p, *end; /* the position: up to date at calls and returns (items.h) */
    Column *columns;
    int n_columns;
    int *top; /* indices of the item's own fields */
    int n_top;
    int first_top; /* the place among top of the key expected first in an item (learnt) */
    Buf key; /* scratch: the key being matched */
    Py_ssize_t rows;
    Py_ssize_t reserved; /* rows the columns' values and offsets have room for (end_row) */
} Scanner;

/* COLUMN_INDEX[i] == i (set up when the module is loaded): the field list of a nested object is
 * the run of it that starts at its first child, since children are contiguous. */
static int COLUMN_INDEX[MAX_COLUMNS];

static void columns_free(Column *columns, int n)
{
    for (int i = 0; i < n; i++) {
        Column *c = &columns[i];
        free(c->validity.data);
        free(c->values.data);
        free(c->offsets.data);
        free(c->data.data);
        free(c->child_offsets.data);
        free(c->child_values.data);
        free(c->child_validity.data);
        free(c->quoted);
    }
}

#endif /* AUDITOR_COLUMNAR_COLUMNS_H */

/* The scanned columns handed to pyarrow through the Arrow C data interface: no copy, one import.
 * Part of auditor.protocol._columnar: module.c includes each header once.
 *
 * export_batch() turns the columns into one ArrowArray: a struct array of `rows` rows whose
 * children are the layout's columns (OBJECT columns left out: their children are columns of
 * their own), each array owning the scanner's buffers (taken out of the Bufs, which are left
 * empty). pyarrow imports it with RecordBatch._import_from_c(address, schema) and calls the
 * release callback when the last Arrow buffer goes; the layout's schema (columnar.py) gives the
 * types, so only the buffers are described here:
 *
 *   INT64   [validity, values]            BOOL  [validity, value bits]
 *   STRING  [validity, offsets, data]
 *   MAP     [validity, offsets] + entries: struct (no validity) of
 *                                 keys STRING [-, offsets, data] and values INT64 [validity, values]
 *   LIST    [validity, offsets] + elements STRING [-, offsets, data]
 *
 * A validity bitmap is NULL when the column has no nulls. Before this, each buffer was copied
 * into a bytes object and wrapped by ~25 pyarrow calls an answer (~0.25 ms, ~0.5 in a run).
 */
#ifndef AUDITOR_COLUMNAR_ARROW_H
#define AUDITOR_COLUMNAR_ARROW_H

#include "columns.h"

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
/* As published in the Arrow specification ("The Arrow C data interface"). */
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif

enum { MAX_BUFFERS = 3 };

/* What an exported array owns: its buffers' memory and its children. */
typedef struct {
    const void *buffers[MAX_BUFFERS];
    void *owned[MAX_BUFFERS];
    struct ArrowArray **children;
} Owned;

/* An empty buffer still needs an address (of at least the 8 bytes an empty offsets or values
 * buffer may be read for); this one belongs to nobody. */
static const int64_t EMPTY_BUFFER[2] = {0, 0};

static void release_array(struct ArrowArray *array)
{
    if (array == NULL || array->release == NULL)
        return;
    Owned *owned = array->private_data;
    for (int64_t i = 0; i < array->n_children; i++) {
        struct ArrowArray *child = owned->children[i];
        if (child != NULL) {
            release_array(child);
            free(child);
        }
    }
    for (int i = 0; i < MAX_BUFFERS; i++)
        free(owned->owned[i]);
    free(owned->children);
    free(owned);
    array->release = NULL;
}

/* Make `array` an array of `length` rows with room for its buffers and children; NO_MEMORY with
 * `array` left released-looking (release NULL) when allocation fails. */
static int array_init(struct ArrowArray *array, int64_t length, int64_t null_count, int n_buffers,
                      int64_t n_children)
{
    memset(array, 0, sizeof *array);
    Owned *owned = calloc(1, sizeof *owned);
    struct ArrowArray **children = n_children ? calloc((size_t)n_children, sizeof *children) : NULL;
    if (owned == NULL || (n_children && children == NULL)) {
        free(owned);
        free(children);
        return NO_MEMORY;
    }
    owned->children = children;
    array->length = length;
    array->null_count = null_count;
    array->n_buffers = n_buffers;
    array->n_children = n_children;
    array->buffers = owned->buffers;
    array->children = children;
    array->private_data = owned;
    array->release = release_array;
    return OK;
}

/* A new child of `parent` at `index`, initialised like array_init. */
static struct ArrowArray *child_init(struct ArrowArray *parent, int64_t index, int64_t length,
                                     int64_t null_count, int n_buffers, int64_t n_children)
{
    struct ArrowArray *child = malloc(sizeof *child);
    if (child == NULL)
        return NULL;
    if (array_init(child, length, null_count, n_buffers, n_children) != OK) {
        free(child);
        return NULL;
    }
    ((Owned *)parent->private_data)->children[index] = child;
    return child;
}

/* Buffer `i` of `array` is `b`'s memory, which the array now owns (b is left empty). What the
 * buffer grew by but did not fill is given back first (in place: a shrinking realloc does not
 * copy): the batch is kept until its row group is written, a few dozen answers later. */
static void give_buffer(struct ArrowArray *array, int i, Buf *b)
{
    Owned *owned = array->private_data;
    if (b->data != NULL && b->cap - b->len > 256) {
        char *fitted = realloc(b->data, b->len ? b->len : 1);
        if (fitted != NULL)
            b->data = fitted;
    }
    owned->buffers[i] = b->data != NULL ? b->data : (const void *)EMPTY_BUFFER;
    owned->owned[i] = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
}

/* The validity bitmap of `n` rows with `nulls` nulls as buffer 0 (NULL when there are none). */
static int give_validity(struct ArrowArray *array, Buf *b, Py_ssize_t n, Py_ssize_t nulls)
{
    if (nulls == 0)
        return OK; /* buffers[0] stays NULL */
    TRY(bit_put(b, n ? n - 1 : 0, 0)); /* cover every row */
    give_buffer(array, 0, b);
    return OK;
}

/* A string array without nulls: buffers 1 and 2 from an offsets and a data buffer. */
static void give_strings(struct ArrowArray *array, Buf *offsets, Buf *data)
{
    give_buffer(array, 1, offsets);
    give_buffer(array, 2, data);
}

/* Child `index` of `parent`: the strings of column c's map keys or list elements. */
static int give_child_strings(struct ArrowArray *parent, int64_t index, Column *c)
{
    struct ArrowArray *strings = child_init(parent, index, c->children, 0, 3, 0);
    if (strings == NULL)
        return NO_MEMORY;
    give_strings(strings, &c->child_offsets, &c->data);
    return OK;
}

static int export_column(struct ArrowArray *parent, int64_t index, Column *c, Py_ssize_t rows)
{
    int n_buffers = c->kind == KIND_STRING ? 3 : 2;
    int n_children = c->kind == KIND_MAP || c->kind == KIND_LIST;
    struct ArrowArray *array = child_init(parent, index, rows, c->nulls, n_buffers, n_children);
    if (array == NULL)
        return NO_MEMORY;
    TRY(give_validity(array, &c->validity, rows, c->nulls));
    switch (c->kind) {
    case KIND_INT64:
        give_buffer(array, 1, &c->values);
        return OK;
    case KIND_BOOL:
        TRY(bit_put(&c->values, rows ? rows - 1 : 0, 0));
        give_buffer(array, 1, &c->values);
        return OK;
    case KIND_STRING:
        give_strings(array, &c->offsets, &c->data);
        return OK;
    case KIND_MAP: {
        give_buffer(array, 1, &c->offsets);
        struct ArrowArray *entries = child_init(array, 0, c->children, 0, 1, 2);
        if (entries == NULL)
            return NO_MEMORY;
        TRY(give_child_strings(entries, 0, c)); /* the keys */
        struct ArrowArray *values = child_init(entries, 1, c->children, c->child_nulls, 2, 0);
        if (values == NULL)
            return NO_MEMORY;
        TRY(give_validity(values, &c->child_validity, c->children, c->child_nulls));
        give_buffer(values, 1, &c->child_values);
        return OK;
    }
    case KIND_LIST:
        give_buffer(array, 1, &c->offsets);
        return give_child_strings(array, 0, c); /* the elements */
    }
    return DECLINE; /* not reached: OBJECT columns are not exported */
}

/* The columns as one struct array of `rows` rows into `batch` (released again on failure). */
static int export_batch(struct ArrowArray *batch, Column *columns, int n_columns, Py_ssize_t rows)
{
    int64_t exported = 0;
    for (int i = 0; i < n_columns; i++)
        exported += columns[i].kind != KIND_OBJECT;
    TRY(array_init(batch, rows, 0, 1, exported));
    for (int i = 0, k = 0; i < n_columns; i++) {
        if (columns[i].kind == KIND_OBJECT)
            continue;
        int rc = export_column(batch, k++, &columns[i], rows);
        if (rc != OK) {
            release_array(batch);
            return rc;
        }
    }
    return OK;
}

#endif /* AUDITOR_COLUMNAR_ARROW_H */

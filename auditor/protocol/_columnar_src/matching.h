/* An answer's items joined to the targets they answer, in the usual case: every item's url is one
 * of the targets exactly as sent, and no two items answer the same one. Python's sets did this
 * with a str per url, three passes and the hashing of each; here it is one pass over the url
 * column's bytes. Anything else (a url that is not a target as sent, one given twice) is left to
 * auditor/protocol/matching.py, the reference.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_MATCHING_H
#define AUDITOR_COLUMNAR_MATCHING_H

#include "common.h"

#define XXH_INLINE_ALL /* only XXH3_64bits is used: static, inlined, nothing exported */
#include "../../targets/vendor/xxhash/xxhash.h"

typedef struct {
    const char *text; /* the target's UTF-8 (owned by its str); NULL: an empty slot */
    Py_ssize_t len;
    Py_ssize_t first; /* the target's first index in the list */
    int hit;          /* an item's url is this target */
} TargetSlot;

typedef struct {
    TargetSlot *slots;
    size_t mask; /* slots - 1: a power of two, at least twice the targets */
} TargetTable;

/* The slot of `text`: its own, or the empty one where it would go. */
static TargetSlot *target_slot(const TargetTable *t, const char *text, Py_ssize_t len)
{
    for (size_t i = (size_t)XXH3_64bits(text, (size_t)len) & t->mask;; i = (i + 1) & t->mask) {
        TargetSlot *slot = &t->slots[i];
        if (slot->text == NULL
            || (slot->len == len && memcmp(slot->text, text, (size_t)len) == 0))
            return slot;
    }
}

/* A table of the targets' texts; where[j] is target j's slot (repeats share one). 1: done,
 * 0: a target is not a str that encodes to UTF-8 (no Python error set), -1: out of memory. */
static int target_table(PyObject *targets, TargetTable *t, TargetSlot **where)
{
    Py_ssize_t n = PyList_GET_SIZE(targets);
    size_t size = 8;
    while (size < 2 * (size_t)n)
        size *= 2;
    t->slots = calloc(size, sizeof(TargetSlot));
    if (t->slots == NULL)
        return -1;
    t->mask = size - 1;
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *target = PyList_GET_ITEM(targets, j);
        Py_ssize_t len;
        const char *text = PyUnicode_Check(target) ? PyUnicode_AsUTF8AndSize(target, &len) : NULL;
        if (text == NULL) {
            PyErr_Clear(); /* a lone surrogate, say: the reference copes with it */
            return 0;
        }
        TargetSlot *slot = target_slot(t, text, len);
        if (slot->text == NULL)
            *slot = (TargetSlot){text, len, j, 0};
        where[j] = slot;
    }
    return 1;
}

/* owners[i]: the target that row i of the url column (int32 offsets into `data`) is, each target
 * at most once; 1 when every row is one, 0 when not (the reference decides), -1 for offsets
 * outside the data. */
static int own_rows(const TargetTable *t, PyObject *targets, const int32_t *offsets,
                    const char *data, Py_ssize_t data_len, Py_ssize_t n, PyObject *owners)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t start = offsets[i], end = offsets[i + 1];
        if (start < 0 || end < start || end > data_len)
            return -1;
        TargetSlot *slot = target_slot(t, data + start, end - start);
        if (slot->text == NULL || slot->hit)
            return 0;
        slot->hit = 1;
        PyList_SET_ITEM(owners, i, Py_NewRef(PyList_GET_ITEM(targets, slot->first)));
    }
    return 1;
}

/* The targets no row is, in their order (a repeated one as often as it is listed). */
static PyObject *missing_targets(PyObject *targets, TargetSlot *const *where)
{
    PyObject *missing = PyList_New(0);
    for (Py_ssize_t j = 0; missing != NULL && j < PyList_GET_SIZE(targets); j++)
        if (!where[j]->hit && PyList_Append(missing, PyList_GET_ITEM(targets, j)) < 0)
            Py_CLEAR(missing);
    return missing;
}

#endif /* AUDITOR_COLUMNAR_MATCHING_H */

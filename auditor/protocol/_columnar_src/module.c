/*
 * auditor.protocol._columnar: an answer's result items, scanned straight into Arrow buffers.
 *
 * decode(buffer, layout) -> (rows, columns) | None
 * decode_answer(body, layout) -> (spans..., results, spans..., (rows, columns)) | None
 *
 * decode() reads `buffer`, the raw JSON value of `result.items` (any bytes-like object);
 * decode_answer() reads a whole answer with one task and at most one result (answer.h), its
 * scalars returned as spans of their text. `layout` is a sequence of (key, kind, parent) triples,
 * one per column, as auditor/protocol/columnar.py builds them from the declared Arrow schema:
 * `key` is the item field's name (str), `kind` one of the KIND_* codes below and `parent` the
 * index of the OBJECT column a child belongs to, or -1 for a field of the item itself. Children
 * come after their parent.
 *
 * The result is one tuple per column, in layout order (None for an OBJECT column, whose children
 * carry its data), with the Arrow buffers as bytes:
 *
 *   INT64   (nulls, validity, values)
 *   BOOL    (nulls, validity, values)              values: a bitmap
 *   STRING  (nulls, validity, offsets, data)
 *   MAP     (nulls, validity, offsets, key_offsets, key_data, entries, value_nulls,
 *            value_validity, values)                map<string, int64>
 *   LIST    (nulls, validity, offsets, element_offsets, element_data, elements)
 *                                                   list<string>, elements never null
 *
 * validity is None when nulls is 0; offsets are int32, little-endian as the machine's.
 *
 * None means "not like this": the scanner declines anything it does not decode exactly as the
 * reference path would (auditor/protocol/envelope.py, then auditor/write/flatten.py), and the
 * caller decodes the same bytes that way instead. Declined: malformed JSON or UTF-8, lone
 * surrogates, an item that is not an object, a value of another type than its column's (floats
 * for integers included, since the reference accepts 12.0), integers beyond int64, a key given
 * twice in an item or in a map, null inside a list, nesting deeper than MAX_DEPTH in skipped
 * values; for decode_answer(), also more than one task or result, a key of the envelope given
 * twice, or a missing status code. So the fast path can only be faster, never different:
 * tests/test_protocol_columnar.py checks that on generated answers.
 *
 * Missing keys and JSON null give nulls; keys the layout does not name are skipped (but still
 * checked to be valid JSON).
 */
#include "answer.h"
#include "timestamps.h"

/* --- Python ---------------------------------------------------------------------------------- */

/* The bitmap as bytes covering exactly `n` bits, or None when nothing is null. */
static PyObject *validity_of(Buf *b, Py_ssize_t n, Py_ssize_t nulls)
{
    if (nulls == 0)
        Py_RETURN_NONE;
    if (bit_put(b, n ? n - 1 : 0, 0) != OK)
        return PyErr_NoMemory();
    return PyBytes_FromStringAndSize(b->data, (Py_ssize_t)((n + 7) / 8));
}

static PyObject *column_result(Column *c, Py_ssize_t rows)
{
    PyObject *validity = validity_of(&c->validity, rows, c->nulls), *out = NULL;
    if (validity == NULL)
        return NULL;
    switch (c->kind) {
    case KIND_INT64:
        out = Py_BuildValue("(nON)", c->nulls, validity, bytes_of(&c->values));
        break;
    case KIND_BOOL:
        if (bit_put(&c->values, rows ? rows - 1 : 0, 0) != OK) {
            PyErr_NoMemory();
            break;
        }
        out = Py_BuildValue("(nOy#)", c->nulls, validity, c->values.data,
                            (Py_ssize_t)((rows + 7) / 8));
        break;
    case KIND_STRING:
        out = Py_BuildValue("(nONN)", c->nulls, validity, bytes_of(&c->offsets), bytes_of(&c->data));
        break;
    case KIND_MAP: {
        PyObject *value_validity = validity_of(&c->child_validity, c->children, c->child_nulls);
        if (value_validity == NULL)
            break;
        out = Py_BuildValue("(nONNNnnNN)", c->nulls, validity, bytes_of(&c->offsets),
                            bytes_of(&c->child_offsets), bytes_of(&c->data), c->children,
                            c->child_nulls, value_validity, bytes_of(&c->child_values));
        break;
    }
    case KIND_LIST:
        out = Py_BuildValue("(nONNNn)", c->nulls, validity, bytes_of(&c->offsets),
                            bytes_of(&c->child_offsets), bytes_of(&c->data), c->children);
        break;
    default:
        out = Py_NewRef(Py_None);
    }
    Py_DECREF(validity);
    return out;
}

/* Read the layout into columns; -1 with a Python exception when it is malformed. */
static int read_layout(PyObject *layout, Column *columns, int *top, int *n_columns, int *n_top)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(layout);
    if (n > MAX_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "too many columns in the layout");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *spec = PySequence_Fast_GET_ITEM(layout, i), *key;
        Column *c = &columns[i];
        if (!PyArg_ParseTuple(spec, "Uii", &key, &c->kind, &c->parent))
            return -1;
        c->key = PyUnicode_AsUTF8AndSize(key, &c->key_len);
        if (c->key == NULL)
            return -1;
        c->plain_key = 1;
        for (Py_ssize_t k = 0; k < c->key_len; k++)
            if ((unsigned char)c->key[k] < 0x20 || c->key[k] == '"' || c->key[k] == '\\')
                c->plain_key = 0;
        if (c->kind < KIND_INT64 || c->kind > KIND_OBJECT || c->parent >= i
            || (c->parent >= 0 && (columns[c->parent].kind != KIND_OBJECT
                                   || columns[c->parent].parent >= 0 || c->kind == KIND_OBJECT))) {
            PyErr_Format(PyExc_ValueError, "layout entry %zd is not (key, kind, parent)", i);
            return -1;
        }
        if (c->parent < 0) {
            top[(*n_top)++] = (int)i;
        } else {
            Column *parent = &columns[c->parent];
            if (parent->n_children == 0)
                parent->first_child = (int)i;
            else if (parent->first_child + parent->n_children != i) {
                PyErr_Format(PyExc_ValueError, "layout entry %zd: children must be contiguous", i);
                return -1;
            }
            parent->n_children++;
        }
        if ((c->kind == KIND_STRING || c->kind == KIND_MAP || c->kind == KIND_LIST)
            && buf_append_int32(&c->offsets, 0) != OK)
            return -1;
        if ((c->kind == KIND_MAP || c->kind == KIND_LIST) && buf_append_int32(&c->child_offsets, 0) != OK)
            return -1;
    }
    *n_columns = (int)n;
    return 0;
}

static PyObject *span_of(Span span)
{
    if (span.start < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(nn)", span.start, span.end);
}

/* decode() and decode_answer(): scan `buffer` with `layout`'s columns (without the GIL), then
 * build (rows, columns) -- and, for a whole answer, the spans before them. */
static PyObject *run(PyObject *args, const char *format, int whole_answer)
{
    Py_buffer view;
    PyObject *layout_arg, *layout = NULL, *columns_out = NULL, *result = NULL;
    Column columns[MAX_COLUMNS];
    int top[MAX_COLUMNS];
    Scanner s = {0};
    Answer a;
    int n_columns = 0, rc = OK;

    if (!PyArg_ParseTuple(args, format, &view, &layout_arg))
        return NULL;
    memset(columns, 0, sizeof columns);
    answer_init(&a);
    layout = PySequence_Fast(layout_arg, "layout must be a sequence");
    if (layout == NULL || read_layout(layout, columns, top, &n_columns, &s.n_top) < 0)
        goto done;

    s.p = view.buf;
    s.end = s.p + view.len;
    s.columns = columns;
    s.n_columns = n_columns;
    s.top = top;
    Py_BEGIN_ALLOW_THREADS
    rc = whole_answer ? scan_answer(&s, &a) : scan_items(&s);
    Py_END_ALLOW_THREADS
    if (rc == NO_MEMORY) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc == DECLINE) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    columns_out = PyTuple_New(n_columns);
    if (columns_out == NULL)
        goto done;
    for (int i = 0; i < n_columns; i++) {
        PyObject *column = column_result(&columns[i], s.rows);
        if (column == NULL)
            goto done;
        PyTuple_SET_ITEM(columns_out, i, column);
    }
    if (!whole_answer)
        result = Py_BuildValue("(nO)", s.rows, columns_out);
    else
        result = Py_BuildValue("(NNNNNiNN(nO))", span_of(a.status_code), span_of(a.task_id),
                               span_of(a.task_status_code), span_of(a.task_cost),
                               span_of(a.task_data), a.results, span_of(a.total_count),
                               span_of(a.search_after_token), s.rows, columns_out);
done:
    Py_XDECREF(columns_out);
    Py_XDECREF(layout);
    columns_free(columns, MAX_COLUMNS); /* all zeroed first: the unused ones hold nothing */
    free(s.key.data);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *decode(PyObject *module, PyObject *args)
{
    (void)module;
    return run(args, "y*O:decode", 0);
}

static PyObject *decode_answer(PyObject *module, PyObject *args)
{
    (void)module;
    return run(args, "y*O:decode_answer", 1);
}

static PyObject *py_api_timestamps(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *validity_arg, *result = NULL;
    Py_buffer validity = {0}, offsets = {0}, text = {0};
    Py_ssize_t offset, n;
    if (!PyArg_ParseTuple(args, "Oy*y*nn:api_timestamps", &validity_arg, &offsets, &text, &offset, &n))
        return NULL;
    if (validity_arg != Py_None && PyObject_GetBuffer(validity_arg, &validity, PyBUF_SIMPLE) < 0)
        goto done;
    if (offset < 0 || n < 0 || offsets.len < (offset + n + 1) * (Py_ssize_t)sizeof(int32_t)
        || (validity.buf && validity.len < (offset + n + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "buffers too short for the rows asked for");
        goto done;
    }
    PyObject *values = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    PyObject *valid = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
    if (values == NULL || valid == NULL) {
        Py_XDECREF(values);
        Py_XDECREF(valid);
        goto done;
    }
    Py_ssize_t nulls = api_timestamps(validity.buf, offsets.buf, text.buf, text.len, offset, n,
                                      (int64_t *)PyBytes_AS_STRING(values),
                                      (unsigned char *)PyBytes_AS_STRING(valid));
    if (nulls == -2) {
        Py_DECREF(values);
        Py_DECREF(valid);
        PyErr_SetString(PyExc_ValueError, "offsets outside the text");
    } else if (nulls < 0) {
        Py_DECREF(values);
        Py_DECREF(valid);
        result = Py_NewRef(Py_None);
    } else if (nulls == 0) {
        Py_DECREF(valid);
        result = Py_BuildValue("(nON)", nulls, Py_None, values);
    } else {
        result = Py_BuildValue("(nNN)", nulls, valid, values);
    }
done:
    if (validity.buf)
        PyBuffer_Release(&validity);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&text);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(buffer, layout) -> (rows, columns) | None\n\n"
     "Scan the JSON array of result items in `buffer` into Arrow buffers, one column per\n"
     "(key, kind, parent) entry of `layout`; None when the items are not exactly as declared."},
    {"decode_answer", decode_answer, METH_VARARGS,
     "decode_answer(body, layout) -> (status_code, task_id, task_status_code, task_cost,\n"
     "    task_data, results, total_count, search_after_token, (rows, columns)) | None\n\n"
     "A whole answer with one task and at most one result: the (start, end) offsets of the\n"
     "values named (None where absent), `results` -1 (null or absent), 0 or 1, and the result's\n"
     "items scanned as decode() scans them (no rows without a result). None: not like that."},
    {"api_timestamps", py_api_timestamps, METH_VARARGS,
     "api_timestamps(validity, offsets, text, offset, n) -> (nulls, validity, values) | None\n\n"
     "Rows [offset, offset + n) of an Arrow string array (its validity bitmap or None, int32\n"
     "offsets and text buffers) read as the API's timestamps (\"2019-11-15 12:57:46 +00:00\"):\n"
     "int64 microseconds since the epoch, blank text and nulls as nulls (validity None when\n"
     "there are none). None when a value is in any other form (timestamps.h)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_columnar",
    "JSON result items straight into Arrow buffers (see auditor/protocol/columnar.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__columnar(void)
{
    for (int c = 0x20; c < 0x80; c++)
        PLAIN[c] = c != '"' && c != '\\';
    for (int i = 0; i < MAX_COLUMNS; i++)
        COLUMN_INDEX[i] = i;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "KIND_INT64", KIND_INT64) < 0
        || PyModule_AddIntConstant(m, "KIND_STRING", KIND_STRING) < 0
        || PyModule_AddIntConstant(m, "KIND_BOOL", KIND_BOOL) < 0
        || PyModule_AddIntConstant(m, "KIND_MAP", KIND_MAP) < 0
        || PyModule_AddIntConstant(m, "KIND_LIST", KIND_LIST) < 0
        || PyModule_AddIntConstant(m, "KIND_OBJECT", KIND_OBJECT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

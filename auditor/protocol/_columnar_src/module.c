/*
 * auditor.protocol._columnar: an answer's result items, scanned straight into Arrow buffers.
 *
 * decode(buffer, layout) -> (rows, (capsule, address)) | None
 * decode_answer(body, layout) -> (spans..., results, spans..., (rows, (capsule, address))) | None
 *
 * decode() reads `buffer`, the raw JSON value of `result.items` (any bytes-like object);
 * decode_answer() reads a whole answer with one task and at most one result (answer.h), its
 * scalars returned as spans of their text. `layout` is a sequence of (key, kind, parent) triples,
 * one per column, as auditor/protocol/columnar.py builds them from the declared Arrow schema:
 * `key` is the item field's name (str), `kind` one of the KIND_* codes below and `parent` the
 * index of the OBJECT column a child belongs to, or -1 for a field of the item itself. Children
 * come after their parent.
 *
 * The columns come back as one Arrow C data interface struct array at `address` (arrow.h): its
 * children are the layout's columns but OBJECT ones (whose children carry their data), in
 * layout order, the buffers the scanner built, not copied. The capsule owns it until
 * pyarrow imports it (RecordBatch._import_from_c with the layout's schema); the array is freed
 * with the capsule if it never is, and with its last Arrow buffer if it is.
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
#include "arrow.h"
#include "matching.h"
#include "timestamps.h"

/* --- Python ---------------------------------------------------------------------------------- */

/* The capsule that owns an exported batch until pyarrow has imported it (which moves it out,
 * leaving release NULL); one never imported is released here. */
static const char BATCH_CAPSULE[] = "auditor._columnar.batch";

static void free_batch(PyObject *capsule)
{
    struct ArrowArray *batch = PyCapsule_GetPointer(capsule, BATCH_CAPSULE);
    if (batch != NULL) {
        release_array(batch);
        free(batch);
    }
}

/* (capsule, address) of the columns exported as one struct array (arrow.h). */
static PyObject *batch_of(Column *columns, int n_columns, Py_ssize_t rows)
{
    struct ArrowArray *batch = malloc(sizeof *batch);
    if (batch == NULL || export_batch(batch, columns, n_columns, rows) != OK) {
        free(batch);
        return PyErr_NoMemory();
    }
    PyObject *capsule = PyCapsule_New(batch, BATCH_CAPSULE, free_batch);
    if (capsule == NULL) {
        release_array(batch);
        free(batch);
        return NULL;
    }
    return Py_BuildValue("(NK)", capsule, (unsigned long long)(uintptr_t)batch);
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
        if (c->plain_key) {
            c->quoted_len = c->key_len + 3;
            c->quoted = malloc((size_t)c->quoted_len);
            if (c->quoted == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            c->quoted[0] = '"';
            memcpy(c->quoted + 1, c->key, (size_t)c->key_len);
            memcpy(c->quoted + 1 + c->key_len, "\":", 2);
        }
        if (c->kind < KIND_INT64 || c->kind > KIND_OBJECT || c->parent >= i
            || (c->parent >= 0 && (columns[c->parent].kind != KIND_OBJECT
                                   || columns[c->parent].parent >= 0 || c->kind == KIND_OBJECT))) {
            PyErr_Format(PyExc_ValueError, "layout entry %zd is not (key, kind, parent)", i);
            return -1;
        }
        if (c->parent < 0) {
            top[(*n_top)++] = (int)i;
            c->next = *n_top; /* until an item shows another order: the layout's */
        } else {
            Column *parent = &columns[c->parent];
            if (parent->n_children == 0)
                parent->first_child = (int)i;
            else if (parent->first_child + parent->n_children != i) {
                PyErr_Format(PyExc_ValueError, "layout entry %zd: children must be contiguous", i);
                return -1;
            }
            c->next = ++parent->n_children;
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
    columns_out = batch_of(columns, n_columns, s.rows);
    if (columns_out == NULL)
        goto done;
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

/* exact_owners(offsets, text, offset, n, targets) -> (owners, missing) | None: see matching.h. */
static PyObject *py_exact_owners(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer offsets = {0}, text = {0};
    Py_ssize_t offset, n;
    PyObject *targets, *owners = NULL, *missing = NULL, *result = NULL;
    TargetTable table = {0};
    TargetSlot **where = NULL;
    if (!PyArg_ParseTuple(args, "y*y*nnO!:exact_owners", &offsets, &text, &offset, &n,
                          &PyList_Type, &targets))
        return NULL;
    if (offset < 0 || n < 0 || offsets.len < (offset + n + 1) * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "buffers too short for the rows asked for");
        goto done;
    }
    where = PyMem_Malloc(sizeof(TargetSlot *) * (size_t)(PyList_GET_SIZE(targets) + 1));
    owners = PyList_New(n);
    if (where == NULL || owners == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    int built = target_table(targets, &table, where);
    int owned = built > 0 ? own_rows(&table, targets, (const int32_t *)offsets.buf + offset,
                                     text.buf, text.len, n, owners) : built;
    if (built < 0)
        PyErr_NoMemory();
    else if (owned < 0)
        PyErr_SetString(PyExc_ValueError, "offsets outside the text");
    else if (owned == 0)
        result = Py_NewRef(Py_None);
    else if ((missing = missing_targets(targets, where)) != NULL)
        result = PyTuple_Pack(2, owners, missing);
done:
    Py_XDECREF(owners);
    Py_XDECREF(missing);
    free(table.slots);
    PyMem_Free(where);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&text);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(buffer, layout) -> (rows, (capsule, address)) | None\n\n"
     "Scan the JSON array of result items in `buffer` into Arrow buffers, one column per\n"
     "(key, kind, parent) entry of `layout` (OBJECT entries but through their children), and\n"
     "export them as one Arrow C data interface struct array at `address`, owned by `capsule`\n"
     "until pyarrow imports it; None when the items are not exactly as declared."},
    {"decode_answer", decode_answer, METH_VARARGS,
     "decode_answer(body, layout) -> (status_code, task_id, task_status_code, task_cost,\n"
     "    task_data, results, total_count, search_after_token, (rows, (capsule, address))) | None\n\n"
     "A whole answer with one task and at most one result: the (start, end) offsets of the\n"
     "values named (None where absent), `results` -1 (null or absent), 0 or 1, and the result's\n"
     "items scanned as decode() scans them (no rows without a result). None: not like that."},
    {"api_timestamps", py_api_timestamps, METH_VARARGS,
     "api_timestamps(validity, offsets, text, offset, n) -> (nulls, validity, values) | None\n\n"
     "Rows [offset, offset + n) of an Arrow string array (its validity bitmap or None, int32\n"
     "offsets and text buffers) read as the API's timestamps (\"2019-11-15 12:57:46 +00:00\"):\n"
     "int64 microseconds since the epoch, blank text and nulls as nulls (validity None when\n"
     "there are none). None when a value is in any other form (timestamps.h)."},
    {"exact_owners", py_exact_owners, METH_VARARGS,
     "exact_owners(offsets, text, offset, n, targets) -> (owners, missing) | None\n\n"
     "Rows [offset, offset + n) of an Arrow string array without nulls (int32 offsets and text\n"
     "buffers), the items' urls, joined to `targets` (a list of str) when each row is one of them\n"
     "exactly, and no two rows the same: `owners` the target of each row, `missing` the targets\n"
     "no row is, in their order. None otherwise (matching.h)."},
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

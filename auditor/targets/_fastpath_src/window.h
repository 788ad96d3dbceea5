/* _fastpath: a window's array work: first occurrences by key, string gathering (take_strings), dealing
 * small domains over requests (deal). Part of _fastpath.c, which includes it once (see the top there). */

/* first_occurrences(keys) -> (first, repeats, originals): see the method table. One pass over
 * the keys with an open-addressing table of positions (int32, -1 empty; a position's key is
 * read from `keys`, so the table is 4 bytes a slot and at most 2/3 full). The GIL is released
 * for the pass: the keys are a buffer the caller holds still, nothing else is touched. */
static PyObject *first_occurrences(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *result = NULL, *first = NULL;
    Buf repeats = {0}, originals = {0};
    int32_t *table = NULL;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(uint64_t);
    if (view.len % (Py_ssize_t)sizeof(uint64_t) || (uintptr_t)view.buf % sizeof(uint64_t)) {
        PyErr_SetString(PyExc_ValueError, "keys must be an aligned buffer of uint64");
        goto done;
    }
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "more than 2**31 - 1 keys");
        goto done;
    }
    int bits = 4;
    while (((size_t)1 << bits) * 2 < (size_t)n * 3)
        bits++;
    size_t mask = ((size_t)1 << bits) - 1;
    table = malloc((mask + 1) * sizeof *table);
    first = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    if (table == NULL || first == NULL) {
        if (table == NULL)
            PyErr_NoMemory();
        goto done;
    }
    memset(table, 0xff, (mask + 1) * sizeof *table);
    const uint64_t *keys = view.buf;
    int32_t *firsts = (int32_t *)PyBytes_AS_STRING(first);
    Py_ssize_t n_first = 0;
    int rc = OK;
    Py_BEGIN_ALLOW_THREADS
    for (int32_t i = 0; i < (int32_t)n && rc == OK; i++) {
        uint64_t key = keys[i];
        /* Fibonacci hashing: the top bits of key * 2**64 / phi, whatever the keys are (a
         * replaced key function may give small or patterned ones). */
        size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
        int32_t at;
        while ((at = table[slot]) >= 0 && keys[at] != key)
            slot = (slot + 1) & mask;
        if (at < 0) {
            table[slot] = i;
            firsts[n_first++] = i;
        } else if ((rc = buf_append(&repeats, &i, sizeof i)) == OK) {
            rc = buf_append(&originals, &at, sizeof at);
        }
    }
    Py_END_ALLOW_THREADS
    if (rc != OK) {
        PyErr_NoMemory();
        goto done;
    }
    if (_PyBytes_Resize(&first, n_first * (Py_ssize_t)sizeof(int32_t)) < 0)
        goto done; /* first is NULL now */
    result = Py_BuildValue("(ONN)", first, bytes_of(&repeats), bytes_of(&originals));
done:
    Py_XDECREF(first);
    free(table), free(repeats.data), free(originals.data);
    PyBuffer_Release(&view);
    return result;
}

/* The offsets of strings [offset, offset + length) of an Arrow string array (its int32 offsets and
 * data buffers), checked once so that they can be used without checks: aligned, enough of them
 * (`length` at least `min_length`), each string inside the data. NULL with an error set if not. */
static const int32_t *string_offsets(const Py_buffer *offsets, const Py_buffer *data, Py_ssize_t offset,
                                     Py_ssize_t length, Py_ssize_t min_length)
{
    const int32_t *in = offsets->buf;
    if (offset < 0 || length < min_length || (size_t)offsets->len < (size_t)(offset + length + 1) * sizeof(int32_t)
        || (uintptr_t)in % sizeof(int32_t)) {
        PyErr_Format(PyExc_ValueError, "offsets must be an aligned buffer of int32 holding offset + length + 1, "
                     "length >= %zd", min_length);
        return NULL;
    }
    in += offset;
    for (Py_ssize_t i = 0; i < length; i++)
        if (in[i] < 0 || in[i + 1] < in[i] || in[i + 1] > data->len) {
            PyErr_SetString(PyExc_ValueError, "offsets outside the data");
            return NULL;
        }
    return in;
}

/* take_strings(offsets, data, offset, length, indices): see the method table. */
static PyObject *take_strings(PyObject *self, PyObject *args)
{
    Py_buffer offsets_view, data_view, indices_view;
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "y*y*nny*:take_strings", &offsets_view, &data_view, &offset, &length,
                          &indices_view))
        return NULL;
    PyObject *result = NULL, *new_offsets = NULL, *new_data = NULL;
    const int64_t *indices = indices_view.buf;
    Py_ssize_t n = indices_view.len / (Py_ssize_t)sizeof(int64_t);
    const int32_t *in = string_offsets(&offsets_view, &data_view, offset, length, 0);
    if (in == NULL)
        goto done;
    if (indices_view.len % (Py_ssize_t)sizeof(int64_t) || (n && (uintptr_t)indices % sizeof(int64_t))) {
        PyErr_SetString(PyExc_ValueError, "indices must be an aligned buffer of int64");
        goto done;
    }
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t at = indices[i];
        if (at < 0 || at >= length) {
            PyErr_Format(PyExc_IndexError, "index %lld out of range for %zd strings", (long long)at, length);
            goto done;
        }
        total += (size_t)(in[at + 1] - in[at]);
    }
    if (total > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "more than 2 GiB of strings taken");
        goto done;
    }
    /* Written straight into the bytes objects that are returned. */
    new_offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int32_t));
    new_data = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (new_offsets == NULL || new_data == NULL)
        goto done;
    int32_t *out = (int32_t *)PyBytes_AS_STRING(new_offsets), end = 0;
    char *to = PyBytes_AS_STRING(new_data);
    const char *from = data_view.buf;
    out[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t at = indices[i];
        int32_t size = in[at + 1] - in[at];
        memcpy(to + end, from + in[at], (size_t)size);
        out[i + 1] = end += size;
    }
    result = PyTuple_Pack(2, new_offsets, new_data);
done:
    Py_XDECREF(new_offsets), Py_XDECREF(new_data);
    PyBuffer_Release(&offsets_view), PyBuffer_Release(&data_view), PyBuffer_Release(&indices_view);
    return result;
}

/* joined_lines(offsets, data, offset, length): see the method table. */
static PyObject *joined_lines(PyObject *self, PyObject *args)
{
    Py_buffer offsets_view, data_view;
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "y*y*nn:joined_lines", &offsets_view, &data_view, &offset, &length))
        return NULL;
    PyObject *result = NULL;
    const int32_t *in = string_offsets(&offsets_view, &data_view, offset, length, 1);
    if (in == NULL)
        goto done;
    const char *from = (const char *)data_view.buf + in[0];
    size_t size = (size_t)(in[length] - in[0]);
    if (memchr(from, '\n', size) != NULL) { /* a string holding a newline: no line of its own */
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(size + (size_t)length - 1));
    if (result == NULL)
        goto done;
    char *to = PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < length; i++) {
        size_t n = (size_t)(in[i + 1] - in[i]);
        memcpy(to, from, n);
        to += n, from += n;
        if (i + 1 < length)
            *to++ = '\n';
    }
done:
    PyBuffer_Release(&offsets_view), PyBuffer_Release(&data_view);
    return result;
}

/* deal(small, load): see the method table. */
static PyObject *deal(PyObject *self, PyObject *args)
{
    Py_buffer small_view, load_view;
    if (!PyArg_ParseTuple(args, "y*w*:deal", &small_view, &load_view))
        return NULL;
    PyObject *result = NULL;
    int64_t *order = NULL, *spare = NULL;
    const int64_t *small = small_view.buf;
    int64_t *load = load_view.buf;
    Py_ssize_t n = small_view.len / 8, bins = load_view.len / 8;
    if (small_view.len % 8 || load_view.len % 8 || (n && (uintptr_t)small % 8) || (bins && (uintptr_t)load % 8)) {
        PyErr_SetString(PyExc_ValueError, "small and load must be aligned buffers of int64");
        goto done;
    }
    if (n && !bins) {
        PyErr_SetString(PyExc_ValueError, "no requests to deal over");
        goto done;
    }
    /* Non-negative sizes and loads only (a radix sort of the loads); else Python deals. */
    for (Py_ssize_t i = 0; i < n; i++)
        if (small[i] < 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    for (Py_ssize_t i = 0; i < bins; i++)
        if (load[i] < 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, n * 8);
    order = malloc((size_t)(bins ? bins : 1) * sizeof *order);
    spare = malloc((size_t)(bins ? bins : 1) * sizeof *spare);
    if (bytes == NULL || order == NULL || spare == NULL) {
        Py_XDECREF(bytes);
        if (bytes != NULL)
            PyErr_NoMemory();
        goto done;
    }
    int64_t *small_bin = (int64_t *)PyBytes_AS_STRING(bytes);
    for (Py_ssize_t start = 0; start < n; start += bins) {
        /* The requests in a stable order of their loads: least loaded first, ties by request. A
         * byte a pass, from the lowest, for as many bytes as the largest load has. */
        uint64_t top = 0;
        for (Py_ssize_t i = 0; i < bins; i++) {
            order[i] = i;
            top |= (uint64_t)load[i];
        }
        for (int shift = 0; shift == 0 || (shift < 64 && top >> shift); shift += 8) {
            Py_ssize_t counts[257] = {0};
            for (Py_ssize_t i = 0; i < bins; i++)
                counts[(((uint64_t)load[order[i]] >> shift) & 0xff) + 1]++;
            for (int d = 0; d < 256; d++)
                counts[d + 1] += counts[d];
            for (Py_ssize_t i = 0; i < bins; i++)
                spare[counts[((uint64_t)load[order[i]] >> shift) & 0xff]++] = order[i];
            int64_t *swap = order;
            order = spare, spare = swap;
        }
        Py_ssize_t k = n - start < bins ? n - start : bins;
        for (Py_ssize_t i = 0; i < k; i++) {
            small_bin[start + i] = order[i];
            load[order[i]] = (int64_t)((uint64_t)load[order[i]] + (uint64_t)small[start + i]);
        }
    }
    result = bytes;
done:
    free(order), free(spare);
    PyBuffer_Release(&small_view), PyBuffer_Release(&load_view);
    return result;
}

/* _fastpath: an ASCII block of a text list split into line spans (split_block). Part of _fastpath.c, which
 * includes it once (see the top there). */

/* One physical line s[0:n] stripped, and without its comment (read.py's _comment_free) when
 * `comments`: where what is left starts in s, and its length (0: nothing left). */
static size_t kept_part(const char *s, size_t n, int comments, size_t *at)
{
    size_t from = 0;
    while (from < n && is_space((unsigned char)s[from]))
        from++;
    s += from, n -= from;
    *at = from;
    n = rstrip_space(s, n);
    if (comments && n && memchr(s, '#', n) != NULL) {
        if (s[0] == '#')
            n = 0;
        /* A comment after a space, then one after a tab: _comment_free cuts them in that order. */
        for (const char *before = " \t"; n && *before; before++) {
            for (size_t i = 0; i + 1 < n; i++) {
                if (s[i] == *before && s[i + 1] == '#') {
                    n = rstrip_space(s, i);
                    break;
                }
            }
        }
    }
    return n;
}

/* split_block(block, number) -> (spans, line numbers, physical lines): see the method table. */
static PyObject *split_block(PyObject *self, PyObject *args)
{
    PyObject *block;
    Py_ssize_t number;
    if (!PyArg_ParseTuple(args, "Un:split_block", &block, &number))
        return NULL;
    if (!PyUnicode_IS_ASCII(block)) {
        PyErr_SetString(PyExc_ValueError, "split_block() takes ASCII text only");
        return NULL;
    }
    const char *s = (const char *)PyUnicode_1BYTE_DATA(block);
    size_t n = (size_t)PyUnicode_GET_LENGTH(block);
    /* read.py: a "\r" followed by anything but "\r" or "\n" makes every "\r" a line end. */
    int cr_ends = 0;
    for (const char *cr = memchr(s, '\r', n); cr != NULL && !cr_ends;
         cr = memchr(cr + 1, '\r', n - (size_t)(cr + 1 - s)))
        cr_ends = cr + 1 < s + n && cr[1] != '\r' && cr[1] != '\n';
    int comments = memchr(s, '#', n) != NULL;
    Buf spans = {0}, numbers = {0};
    int rc = OK;
    int64_t physical = 0;
    for (size_t start = 0; rc == OK;) {
        const char *nl = memchr(s + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - s) : n;
        size_t last = end; /* with cr_ends, a line's trailing "\r"s end it; the others split it */
        if (cr_ends)
            while (last > start && s[last - 1] == '\r')
                last--;
        for (size_t piece = start; rc == OK;) {
            const char *cr = cr_ends ? memchr(s + piece, '\r', last - piece) : NULL;
            size_t piece_end = cr ? (size_t)(cr - s) : cr_ends ? last : end, at;
            size_t kept = kept_part(s + piece, piece_end - piece, comments, &at);
            physical++;
            if (kept) {
                int64_t span[2] = {(int64_t)(piece + at), (int64_t)(piece + at + kept)}, line = number + physical;
                rc = buf_append(&spans, span, sizeof span);
                if (rc == OK)
                    rc = buf_append(&numbers, &line, sizeof line);
            }
            if (cr == NULL)
                break;
            piece = piece_end + 1;
        }
        if (nl == NULL)
            break;
        start = end + 1;
    }
    PyObject *result = rc == OK ? Py_BuildValue("(NNL)", bytes_of(&spans), bytes_of(&numbers), (long long)physical)
                                : PyErr_NoMemory();
    free(spans.data), free(numbers.data);
    return result;
}

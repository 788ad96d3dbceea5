/*
 * auditor.targets._fastpath: a batch of target lines normalised, keyed and given domain ids; an
 * ASCII block of a text list split into lines (split_block: read.py's _split_lines in one pass,
 * as spans of the block); a window's first occurrences of each key (first_occurrences:
 * builder.py's sort, by hash); strings gathered from an Arrow string array (take_strings:
 * pyarrow's take, without pyarrow.compute) or joined by newlines (joined_lines: a chunk's text);
 * and small domains dealt over requests (deal: packer.py's _deal).
 *
 * normalise(texts, state) -> (offsets, data, keys, domain_ids, rejects)
 * normalise_block(block, spans, state) -> the same, for the lines block[start:end] of an ASCII
 *     block (read.py's BlockTexts): no str is made for a line but those the reference is asked
 *     about
 *
 * `texts` is a list of str (lines as read); `state` the tuple (host_cache, host_info, normalise,
 * invalid, domain_ids, key_of, suffixes, cache_size, memo, answers) that auditor/plan/lines.py
 * builds:
 *
 *   host_cache   dict raw host -> (host, bare host, registrable domain), read and filled here
 *   host_info    callable raw host -> that tuple, or ("", reason, message); fills host_cache
 *   normalise    normalise_with_domain(text) -> (target, registrable domain): the reference
 *   invalid      the InvalidTarget class
 *   domain_ids   dict registrable domain -> int id, in order of first appearance; grown here
 *   key_of       auditor.plan.dedup.key_of_bytes: the planner's 64-bit key of a target's UTF-8;
 *                None when that is XXH3-64 itself, which is then computed here (the vendored
 *                xxhash.h, the same function and output as the xxhash package's)
 *   suffixes     SuffixRules.table (auditor/targets/domains.py), read into the memo (suffix_fields)
 *   cache_size   how many hosts host_cache holds before it is emptied
 *   memo         a HostMemo (below) that goes with domain_ids: one per BatchNormaliser
 *   answers      dict line -> the reference's answer for it, read and filled here (see
 *                remembered_answer), emptied when it holds MAX_ANSWERS: one per BatchNormaliser
 *
 * The result: the accepted targets as an Arrow string array's buffers (offsets: int32, data), their
 * keys (uint64) and domain ids (int32) as bytes, and the rejected lines as a list of
 * (index in texts, InvalidTarget).
 *
 * This is normalise_with_domain's own fast path (auditor/targets/normalise.py) written again in C,
 * for lines that are printable ASCII: strip the debris, find the scheme and the host, look the host
 * up, check the path, cut a fragment, build the target. Every line it is not sure of -- not ASCII,
 * over-long, a host the cache does not vouch for, a path with anything but printable characters, a
 * target over MAX_TARGET_LENGTH -- is passed to `normalise` itself, whose answer (or
 * InvalidTarget) is taken as it is, and remembered for the same line. A host not in the cache is
 * checked here too when it is plain (normalise.py's _check_host for ASCII letters, digits, '_',
 * '-' and dots, not ending in a digit, and passing); any other goes to `host_info`. So the fast path can only be faster, never different:
 * tests/test_plan_lines.py compares the two on generated lines.
 */
#include "../protocol/_columnar_src/buffers.h" /* Buf: growable byte buffers, bytes_of() */

#define XXH_INLINE_ALL /* only XXH3_64bits is used: static, inlined, nothing exported */
#include "vendor/xxhash/xxhash.h"

enum { MAX_LINE_LENGTH = 4 * 2048, MAX_TARGET_LENGTH = 2048 };
enum { MAX_ANSWERS = 4096 }; /* the reference's answers remembered (see remembered_answer) */

static unsigned char STRIP[128]; /* the ASCII part of normalise.py's _STRIP */

/* Python's str.isspace() for an ASCII character (what str.strip() removes). */
static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* The length of s[0:n] without its trailing white space (str.rstrip() for ASCII). */
static size_t rstrip_space(const char *s, size_t n)
{
    while (n && is_space((unsigned char)s[n - 1]))
        n--;
    return n;
}

#include "_fastpath_src/memo.h"

typedef struct {
    PyObject *host_cache, *host_info, *normalise, *invalid, *domain_ids, *key_of, *suffixes;
    Py_ssize_t cache_size;
    HostMemo *memo;
    PyObject *answers;
} State;

typedef struct {
    Buf offsets, data, keys, ids;
    PyObject *rejects;
} Out;

static int lower_equals(const unsigned char *s, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

/* domain_ids[domain], given the next id if it has none yet; -1 with an error set on failure. */
static int32_t domain_id(const State *st, PyObject *domain)
{
    PyObject *id = PyDict_GetItemWithError(st->domain_ids, domain); /* borrowed */
    if (id == NULL) {
        if (PyErr_Occurred())
            return -1;
        id = PyLong_FromSsize_t(PyDict_GET_SIZE(st->domain_ids));
        if (id == NULL || PyDict_SetItem(st->domain_ids, domain, id) < 0) {
            Py_XDECREF(id);
            return -1;
        }
        Py_DECREF(id); /* the dict holds it */
    }
    long value = PyLong_AsLong(id);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (value < 0 || value > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "domain ids must be between 0 and 2**31 - 1");
        return -1;
    }
    return (int32_t)value;
}

/* key_of(target's bytes), read as an unsigned 64-bit int; -1 with an error set on failure. */
static int key_by_call(PyObject *key_of, const char *target, Py_ssize_t n, uint64_t *k)
{
    PyObject *bytes = PyBytes_FromStringAndSize(target, n);
    if (bytes == NULL)
        return -1;
    PyObject *key = PyObject_CallOneArg(key_of, bytes);
    Py_DECREF(bytes);
    if (key == NULL)
        return -1;
    /* An int in [0, 2**64) is read by its low 64 bits: PyLong_AsUnsignedLongLong would go through
     * _PyLong_AsByteArray, a sixth of this function's instructions. Anything else still goes
     * the exact way, which raises as the Python path does. */
    if (PyLong_CheckExact(key) && _PyLong_Sign(key) >= 0 && _PyLong_NumBits(key) <= 64)
        *k = PyLong_AsUnsignedLongLongMask(key);
    else
        *k = PyLong_AsUnsignedLongLong(key);
    Py_DECREF(key);
    return *k == (uint64_t)-1 && PyErr_Occurred() ? -1 : 0;
}

/* Append one accepted target (UTF-8 `target`, `n` bytes) with its registrable domain, whose id
 * is `*id` when that is not -1 (and is stored there once known, when `id` is not NULL). */
static int accept(const State *st, Out *out, const char *target, Py_ssize_t n, PyObject *domain,
                  int32_t *id)
{
    if (buf_append(&out->data, target, (size_t)n) != OK) {
        PyErr_NoMemory();
        return -1;
    }
    int rc = buf_append_int32(&out->offsets, out->data.len);
    if (rc != OK) {
        if (rc == NO_MEMORY)
            PyErr_NoMemory();
        else
            PyErr_SetString(PyExc_OverflowError, "more than 2 GiB of targets in one batch");
        return -1;
    }
    uint64_t k;
    if (st->key_of == Py_None)
        k = XXH3_64bits(target, (size_t)n);
    else if (key_by_call(st->key_of, target, n, &k) < 0)
        return -1;
    if (buf_append(&out->keys, &k, sizeof k) != OK) {
        PyErr_NoMemory();
        return -1;
    }
    int32_t v = id != NULL ? *id : -1;
    if (v < 0) {
        v = domain_id(st, domain);
        if (v < 0)
            return -1;
        if (id != NULL)
            *id = v;
    }
    if (buf_append(&out->ids, &v, sizeof v) != OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* normalise(text): a new reference to its (target, domain) tuple, or (`*rejected` set) to the
 * InvalidTarget it raised, without its frames; NULL with any other error set. */
static PyObject *reference_answer(const State *st, PyObject *text, int *rejected)
{
    PyObject *result = PyObject_CallOneArg(st->normalise, text);
    *rejected = result == NULL;
    if (result != NULL || !PyErr_ExceptionMatches(st->invalid))
        return result;
    PyObject *type, *exc, *traceback;
    PyErr_Fetch(&type, &exc, &traceback);
    PyErr_NormalizeException(&type, &exc, &traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    PyException_SetTraceback(exc, Py_None); /* its frames are not worth keeping */
    return exc;
}

/* A new InvalidTarget with the reason and message of `exc`, one. */
static PyObject *invalid_again(const State *st, PyObject *exc)
{
    PyObject *reason = PyObject_GetAttrString(exc, "reason");
    PyObject *message = reason ? PyObject_GetAttrString(exc, "message") : NULL;
    PyObject *again = message ? PyObject_CallFunctionObjArgs(st->invalid, reason, message, NULL) : NULL;
    Py_XDECREF(reason);
    Py_XDECREF(message);
    return again;
}

/* reference_answer(), remembered in `answers` by the line's text: junk lines recur (the same
 * "localhost:8080" or "not a url" thousands of times in a list), and the reference costs ~30,000
 * instructions a line, ten times what this file spends on a line itself. The reference is a pure
 * function of the text, so its answer is the same the next time; a remembered reject is given
 * again as a new InvalidTarget with the same reason and message (each reject its own, as from the
 * reference). Only exact str lines are remembered, with a tuple or an InvalidTarget itself. */
static PyObject *remembered_answer(const State *st, PyObject *text, int *rejected)
{
    if (!PyUnicode_CheckExact(text))
        return reference_answer(st, text, rejected);
    PyObject *answer = PyDict_GetItemWithError(st->answers, text); /* borrowed */
    if (answer != NULL) {
        *rejected = !PyTuple_CheckExact(answer);
        if (!*rejected)
            return Py_NewRef(answer);
        Py_INCREF(answer);
        PyObject *again = invalid_again(st, answer);
        Py_DECREF(answer);
        return again;
    }
    if (PyErr_Occurred())
        return NULL;
    answer = reference_answer(st, text, rejected);
    if (answer == NULL)
        return NULL;
    if (!(*rejected ? Py_IS_TYPE(answer, (PyTypeObject *)st->invalid) : PyTuple_CheckExact(answer)))
        return answer;
    if (PyDict_GET_SIZE(st->answers) >= MAX_ANSWERS)
        PyDict_Clear(st->answers);
    if (PyDict_SetItem(st->answers, text, answer) < 0)
        Py_CLEAR(answer);
    return answer;
}

/* The reference, for line `index`: its target, or its InvalidTarget recorded as a reject. */
static int by_reference(const State *st, Out *out, PyObject *text, Py_ssize_t index)
{
    int rejected;
    PyObject *answer = remembered_answer(st, text, &rejected);
    if (answer == NULL)
        return -1;
    int rc = -1;
    if (rejected) {
        PyObject *reject = Py_BuildValue("(nO)", index, answer);
        rc = reject == NULL ? -1 : PyList_Append(out->rejects, reject);
        Py_XDECREF(reject);
    } else if (PyTuple_Check(answer) && PyTuple_GET_SIZE(answer) == 2) {
        Py_ssize_t n;
        const char *target = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(answer, 0), &n);
        if (target != NULL)
            rc = accept(st, out, target, n, PyTuple_GET_ITEM(answer, 1), NULL);
    } else {
        PyErr_SetString(PyExc_TypeError, "normalise() must return a (target, domain) tuple");
    }
    Py_DECREF(answer);
    return rc;
}

static PyObject *ascii_str(const char *s, size_t n)
{
    return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, s, (Py_ssize_t)n);
}

/* suffixes.get(s[:n]): a new reference, or NULL (with an error set only if there was one). */
static PyObject *suffix_entry(const State *st, const char *s, size_t n)
{
    PyObject *key = ascii_str(s, n);
    if (key == NULL)
        return NULL;
    PyObject *entry = PyDict_GetItemWithError(st->suffixes, key);
    Py_DECREF(key);
    Py_XINCREF(entry);
    return entry;
}

static long entry_field(PyObject *entry, Py_ssize_t i)
{
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 4)
        return -1;
    return PyLong_AsLong(PyTuple_GET_ITEM(entry, i));
}

/* The memo's own copy of the suffix table `st->suffixes` made anew: 0, or -1 with an error set.
 * An entry that is not an ASCII str with a 4-tuple of ints in [0, 2**31) makes it unusable. */
static int read_suffixes(const State *st)
{
    HostMemo *m = st->memo;
    Py_CLEAR(m->suffix_dict);
    free(m->suffix_slots);
    m->suffix_slots = NULL;
    m->suffix_arena.len = 0;
    m->suffixes_usable = 0;
    Py_ssize_t size = PyDict_GET_SIZE(st->suffixes);
    size_t slots = 16;
    while (slots * 2 < (size_t)size * 3) /* at most 2/3 full: 16,384 slots, 512 KB, for the shipped list */
        slots *= 2;
    m->suffix_slots = calloc(slots, sizeof(SuffixSlot));
    if (m->suffix_slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    m->suffix_mask = slots - 1;
    m->suffix_dict = Py_NewRef(st->suffixes);
    m->suffix_size = size;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(st->suffixes, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_COMPACT_ASCII(key) || PyUnicode_GET_LENGTH(key) == 0
            || PyUnicode_GET_LENGTH(key) > 255 || !PyTuple_CheckExact(value) || PyTuple_GET_SIZE(value) != 4)
            return 0;
        int32_t fields[4];
        for (int f = 0; f < 4; f++) {
            PyObject *item = PyTuple_GET_ITEM(value, f);
            long v = PyLong_CheckExact(item) ? PyLong_AsLong(item) : -1;
            if (v == -1 && PyErr_Occurred())
                PyErr_Clear();
            if (v < 0 || v > INT32_MAX)
                return 0;
            fields[f] = (int32_t)v;
        }
        const char *text = (const char *)PyUnicode_1BYTE_DATA(key);
        size_t n = (size_t)PyUnicode_GET_LENGTH(key), at = m->suffix_arena.len;
        if (buf_append(&m->suffix_arena, text, n) != OK || at > UINT32_MAX) {
            PyErr_NoMemory();
            return -1;
        }
        uint64_t h = XXH3_64bits(text, n);
        size_t i = (size_t)h & m->suffix_mask;
        while (m->suffix_slots[i].len) /* the dict's keys are distinct */
            i = (i + 1) & m->suffix_mask;
        m->suffix_slots[i] = (SuffixSlot){h, (uint32_t)at, (uint32_t)n, {fields[0], fields[1], fields[2], fields[3]}};
    }
    m->suffixes_usable = 1;
    return 0;
}

/* The public-suffix and ICANN lengths the suffix table gives suffix s[:n] (the fields for a name
 * that is the suffix when `entire`, else for a longer one): 1 (`*p`, `*i` set), 0 when the suffix
 * is not there, -1 (an error set, or not: not a table of SuffixRules, and Python should check the
 * host). The table is read into the memo once (SuffixRules.table never changes once built;
 * another dict, or another size, is read again): a hash of the bytes and a comparison, where the
 * dict took a new str, its SipHash and a look-up, two or three times a new host. */
static int suffix_fields(const State *st, const char *s, size_t n, int entire, long *p, long *i)
{
    HostMemo *m = st->memo;
    if ((m->suffix_dict != st->suffixes || m->suffix_size != PyDict_GET_SIZE(st->suffixes))
        && read_suffixes(st) < 0)
        return -1;
    if (m->suffixes_usable) {
        uint64_t h = XXH3_64bits(s, n);
        for (size_t k = (size_t)h & m->suffix_mask;; k = (k + 1) & m->suffix_mask) {
            const SuffixSlot *slot = &m->suffix_slots[k];
            if (!slot->len)
                return 0;
            if (slot->hash == h && slot->len == n && memcmp(m->suffix_arena.data + slot->at, s, n) == 0) {
                *p = slot->fields[entire ? 0 : 1];
                *i = slot->fields[entire ? 2 : 3];
                return 1;
            }
        }
    }
    PyObject *entry = suffix_entry(st, s, n);
    if (entry == NULL)
        return PyErr_Occurred() ? -1 : 0;
    *p = entry_field(entry, entire ? 0 : 1);
    *i = entry_field(entry, entire ? 2 : 3);
    Py_DECREF(entry);
    return *p < 0 || *i < 0 ? -1 : 1;
}

/* normalise.py's _check_host for a plain host (see the top): the new (host, bare, registrable)
 * tuple, or NULL -- with no error set when the host is not plain, and Python should check it. */
static PyObject *plain_host(const State *st, PyObject *key, const unsigned char *raw, size_t n)
{
    char host[256];
    if (n == 0 || n > 254)
        return NULL;
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = raw[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A', changed = 1;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return NULL;
        host[i] = (char)c;
    }
    if (host[n - 1] == '.')
        n--, changed = 1;
    if (n == 0 || n > 253 || host[0] == '.' || host[0] == '-' || host[n - 1] == '.' || host[n - 1] == '-'
        || (host[n - 1] >= '0' && host[n - 1] <= '9'))
        return NULL;
    /* dots[k]: where the dot before the last k + 1 labels is; -1 past the first label. */
    Py_ssize_t dots[128];
    int n_dots = 0;
    size_t label = 0;
    for (size_t i = n; i-- > 0;) {
        if (host[i] == '.') {
            if (host[i + 1] == '.' || host[i + 1] == '-' || host[i - 1] == '-')
                return NULL;
            dots[n_dots++] = (Py_ssize_t)i, label = 0;
        } else if (++label > 63) {
            return NULL;
        }
    }
    if (n_dots == 0)
        return NULL; /* a single label */
    dots[n_dots] = -1;
    /* SuffixRules.split: walk the suffixes from the top-level label down while the table has
     * them; the longest suffix with a rule decides. */
    long icann = 0, public = 0;
    for (int k = 0; k <= n_dots; k++) {
        size_t from = (size_t)(dots[k] + 1);
        int entire = dots[k] < 0;
        long p, i;
        int found = suffix_fields(st, host + from, n - from, entire, &p, &i);
        if (found < 0)
            return NULL; /* an error; or not a table of SuffixRules, and Python will say */
        if (found == 0)
            break;
        public = p ? p : public;
        icann = i ? i : icann;
        if (entire)
            break;
    }
    if (public == 0)
        public = 1;
    size_t start = public <= n_dots ? (size_t)(dots[public] + 1) : 0;
    if (icann == 0 || (start == 0 && n_dots + 1 == icann))
        return NULL; /* an unknown top-level domain, or a public suffix: errors, Python says */
    size_t bare = 0;
    while (n - bare >= 4 + (n - start) && memcmp(host + bare, "www.", 4) == 0)
        bare += 4;

    PyObject *host_str = changed ? ascii_str(host, n) : Py_NewRef(key);
    PyObject *bare_str = bare ? ascii_str(host + bare, n - bare) : Py_XNewRef(host_str);
    PyObject *domain = start ? ascii_str(host + start, n - start) : Py_XNewRef(host_str);
    if (host_str == NULL || bare_str == NULL || domain == NULL) {
        Py_XDECREF(host_str), Py_XDECREF(bare_str), Py_XDECREF(domain);
        return NULL;
    }
    PyObject *info = PyTuple_Pack(3, host_str, bare_str, domain);
    Py_DECREF(host_str), Py_DECREF(bare_str), Py_DECREF(domain);
    return info;
}

/* The host check's (host, bare, registrable) for `raw`, or NULL with no error when it failed. */
static PyObject *host_of(const State *st, const unsigned char *raw, size_t n)
{
    PyObject *key = ascii_str((const char *)raw, n);
    if (key == NULL)
        return NULL;
    PyObject *info = PyDict_GetItemWithError(st->host_cache, key);
    if (info != NULL) {
        Py_INCREF(info);
    } else if (!PyErr_Occurred()) {
        info = plain_host(st, key, raw, n);
        if (info != NULL) {
            if (PyDict_GET_SIZE(st->host_cache) >= st->cache_size)
                PyDict_Clear(st->host_cache);
            if (PyDict_SetItem(st->host_cache, key, info) < 0)
                Py_CLEAR(info);
        } else if (!PyErr_Occurred()) {
            info = PyObject_CallOneArg(st->host_info, key);
        }
    }
    Py_DECREF(key);
    return info;
}

/* PyUnicode_AsUTF8AndSize(), read in place for an exact ASCII str (the host check's are): a
 * function call and its checks a line saved, twice. */
static inline const char *utf8_of(PyObject *text, Py_ssize_t *n)
{
    if (PyUnicode_CheckExact(text) && PyUnicode_IS_COMPACT_ASCII(text)) {
        *n = PyUnicode_GET_LENGTH(text);
        return (const char *)PyUnicode_1BYTE_DATA(text);
    }
    return PyUnicode_AsUTF8AndSize(text, n);
}

/* A host check through the memo (check_host): the (host, bare, registrable) tuple, borrowed
 * from the memo, or owned when the host could not be remembered; its host and bare host as
 * bytes; and its memo entry (NULL when not remembered). */
typedef struct {
    PyObject *info;
    int owned;
    HostBytes bytes;
    MemoEntry *entry;
} HostCheck;

/* The host and bare host of a host check's tuple, as bytes; 0, or -1 with an error set. */
static int tuple_host(PyObject *info, HostBytes *hb)
{
    hb->host = utf8_of(PyTuple_GET_ITEM(info, 0), &hb->host_n);
    hb->bare = hb->host ? utf8_of(PyTuple_GET_ITEM(info, 1), &hb->bare_n) : NULL;
    return hb->bare == NULL ? -1 : 0;
}

/* host_of(), through the memo, into `*hc` (release it with release_host()): 1; 0 when the host is
 * for Python to check; -1 with an error set. A remembered host's bytes come from its record. */
static int check_host(const State *st, const unsigned char *raw, size_t n, HostCheck *hc)
{
    HostMemo *memo = st->memo;
    uint64_t h = memo_hash(raw, n);
    if (memo->slots != NULL) {
        MemoEntry *e = memo_slot(memo, raw, n, h);
        if (e->info != NULL) {
            *hc = (HostCheck){e->info, 0, {0}, e};
            return memo_host(memo, e, &hc->bytes) || tuple_host(e->info, &hc->bytes) == 0 ? 1 : -1;
        }
    }
    PyObject *info = host_of(st, raw, n);
    if (info == NULL)
        return PyErr_Occurred() ? -1 : 0;
    *hc = (HostCheck){info, 1, {0}, NULL};
    if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 3) {
        PyErr_SetString(PyExc_TypeError, "host_info() must return a 3-tuple");
        Py_DECREF(info);
        return -1;
    }
    if (tuple_host(info, &hc->bytes) < 0) {
        Py_DECREF(info);
        return -1;
    }
    if (n > UINT16_MAX) /* never, with lines of MAX_LINE_LENGTH: not remembered */
        return 1;
    const HostBytes *hb = &hc->bytes; /* in the record too when the bare host ends the host */
    int in_record = hb->host_n < HOST_IN_TUPLE && hb->bare_n <= hb->host_n
                    && memcmp(hb->host + (hb->host_n - hb->bare_n), hb->bare, (size_t)hb->bare_n) == 0;
    hc->entry = memo_put(memo, raw, n, h, info, in_record ? hb : NULL);
    Py_DECREF(info); /* the memo's own reference keeps it (and the bytes read from it) */
    if (hc->entry == NULL)
        return -1;
    hc->owned = 0;
    return 1;
}

static void release_host(HostCheck *hc)
{
    if (hc->owned)
        Py_DECREF(hc->info);
}

/* Whether ASCII s[0:n] holds a byte that the fast path leaves to the reference in a path: white
 * space or a control (up to ' '), DEL, or a backslash. Eight bytes a step, by the word tests "has
 * a byte less than n" and "has a zero byte" of Bit Twiddling Hacks, which are exact as to whether
 * there is one (a borrow only ever comes from a byte that is one). */
static int has_unsafe_byte(const unsigned char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, backslash;
        memcpy(&x, s + i, 8);
        backslash = x ^ (ones * '\\');
        if ((((x - ones * (' ' + 1)) & ~x)                 /* a byte below '!' */
             | (x + ones)                                  /* DEL, the only ASCII byte above '~' */
             | ((backslash - ones) & ~backslash)) & highs) /* a zero byte: a backslash */
            return 1;
    }
    for (; i < n; i++)
        if (s[i] <= ' ' || s[i] == 0x7f || s[i] == '\\')
            return 1;
    return 0;
}

/* One line for the reference: `text`, or when that is NULL (a line of a block, see
 * normalise_block) a str made of its ASCII bytes s[0:n] now -- only lines the fast path is not
 * sure of need one. */
static int line_by_reference(const State *st, Out *out, PyObject *text, const unsigned char *s, size_t n,
                             Py_ssize_t index)
{
    if (text != NULL)
        return by_reference(st, out, text, index);
    text = ascii_str((const char *)s, n);
    if (text == NULL)
        return -1;
    int rc = by_reference(st, out, text, index);
    Py_DECREF(text);
    return rc;
}

/* Line `index`, the ASCII s[0:n] (`text` as a str, or NULL: see line_by_reference):
 * the fast path, or the reference. */
static int ascii_line(const State *st, Out *out, PyObject *text, const unsigned char *s, size_t n,
                      Py_ssize_t index)
{
    const unsigned char *line = s;
    size_t line_n = n;
    while (n && STRIP[s[0]])
        s++, n--;
    while (n && STRIP[s[n - 1]])
        n--;
    if (n > MAX_LINE_LENGTH)
        return line_by_reference(st, out, text, line, line_n, index);

    const char *scheme = "";
    size_t start = 0;
    if (n >= 8 && lower_equals(s, "https://", 8))
        scheme = "https", start = 8;
    else if (n >= 7 && lower_equals(s, "http://", 7))
        scheme = "http", start = 7;
    const unsigned char *slash = memchr(s + start, '/', n - start);
    size_t host_end = slash ? (size_t)(slash - s) : n;
    const unsigned char *tail = s + host_end;
    size_t tail_n = n - host_end;
    if (has_unsafe_byte(tail, tail_n))
        return line_by_reference(st, out, text, line, line_n, index);

    HostCheck checked;
    int found = check_host(st, s + start, host_end - start, &checked);
    if (found <= 0)
        return found < 0 ? -1 : line_by_reference(st, out, text, line, line_n, index);
    int32_t *id = checked.entry ? &checked.entry->domain_id : NULL;
    int rc = -1;
    const char *host = checked.bytes.host, *bare = checked.bytes.bare;
    Py_ssize_t host_n = checked.bytes.host_n, bare_n = checked.bytes.bare_n;
    /* the domain's str, only until the domain has its id: the tuple is not touched after that */
    PyObject *domain = id != NULL && *id >= 0 ? NULL : PyTuple_GET_ITEM(checked.info, 2);
    if (host_n == 0) { /* a bad host: the reference says why */
        rc = line_by_reference(st, out, text, line, line_n, index);
        goto done;
    }

    const unsigned char *hash = memchr(tail, '#', tail_n);
    if (hash != NULL) {
        tail_n = (size_t)(hash - tail);
        while (tail_n && STRIP[tail[tail_n - 1]])
            tail_n--;
    }
    if (!*scheme && (tail_n == 0 || (tail_n == 1 && tail[0] == '/'))) {
        rc = accept(st, out, bare, bare_n, domain, id); /* a domain target */
        goto done;
    }
    if (!*scheme)
        scheme = "https";
    size_t scheme_n = strlen(scheme);
    size_t length = scheme_n + 3 + (size_t)host_n + (tail_n ? tail_n : 1);
    if (length > MAX_TARGET_LENGTH) { /* too long: the reference raises */
        rc = line_by_reference(st, out, text, line, line_n, index);
        goto done;
    }
    char target[MAX_TARGET_LENGTH], *w = target;
    memcpy(w, scheme, scheme_n), w += scheme_n;
    memcpy(w, "://", 3), w += 3;
    memcpy(w, host, (size_t)host_n), w += host_n;
    if (tail_n)
        memcpy(w, tail, tail_n), w += tail_n;
    else
        *w++ = '/';
    rc = accept(st, out, target, (Py_ssize_t)(w - target), domain, id);
done:
    release_host(&checked);
    return rc;
}

/* Line `index` of a list: the fast path for ASCII, or the reference. */
static int one_line(const State *st, Out *out, PyObject *text, Py_ssize_t index)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "lines must be str");
        return -1;
    }
    if (!PyUnicode_IS_ASCII(text))
        return by_reference(st, out, text, index);
    return ascii_line(st, out, text, PyUnicode_1BYTE_DATA(text), (size_t)PyUnicode_GET_LENGTH(text), index);
}

/* The state tuple (see the top) read into `st`, holding its memo and answers (callbacks cannot
 * take them away: the tuple is ours to read only); 0, or -1 with an error set. */
static int read_state(PyObject *state, State *st)
{
    if (!PyTuple_Check(state)) {
        PyErr_SetString(PyExc_TypeError, "the state must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(state, "O!OOO!O!OO!nO!O!:normalise", &PyDict_Type, &st->host_cache, &st->host_info,
                          &st->normalise, &PyType_Type, &st->invalid, &PyDict_Type, &st->domain_ids,
                          &st->key_of, &PyDict_Type, &st->suffixes, &st->cache_size, &HostMemoType, &st->memo,
                          &PyDict_Type, &st->answers))
        return -1;
    Py_INCREF(st->memo);
    Py_INCREF(st->answers);
    return 0;
}

static int out_start(Out *out)
{
    *out = (Out){0};
    out->rejects = PyList_New(0);
    if (out->rejects == NULL)
        return -1;
    if (buf_append_int32(&out->offsets, 0) != OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* normalise()'s result from `out` (NULL when `ok` is 0), which is emptied, and `st` let go. */
static PyObject *out_finish(Out *out, State *st, int ok)
{
    PyObject *result = NULL;
    if (ok)
        result = Py_BuildValue("(NNNNO)", bytes_of(&out->offsets), bytes_of(&out->data),
                               bytes_of(&out->keys), bytes_of(&out->ids), out->rejects);
    free(out->offsets.data), free(out->data.data), free(out->keys.data), free(out->ids.data);
    Py_XDECREF(out->rejects);
    Py_DECREF(st->memo);
    Py_DECREF(st->answers);
    return result;
}

static PyObject *normalise(PyObject *self, PyObject *args)
{
    PyObject *texts, *state;
    State st;
    if (!PyArg_ParseTuple(args, "O!O:normalise", &PyList_Type, &texts, &state) || read_state(state, &st) < 0)
        return NULL;
    Out out;
    int ok = out_start(&out) == 0;
    for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(texts); i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        Py_INCREF(text); /* the list could change under a callback */
        ok = one_line(&st, &out, text, i) == 0;
        Py_DECREF(text);
        if (ok && PyList_GET_SIZE(texts) <= i) {
            PyErr_SetString(PyExc_RuntimeError, "the list of lines changed during normalise()");
            ok = 0;
        }
    }
    return out_finish(&out, &st, ok);
}

/* normalise_block(block, spans, state): see the method table. Each line is read where it is in
 * the block; a str is made only for a line the reference is asked about. */
static PyObject *normalise_block(PyObject *self, PyObject *args)
{
    PyObject *block, *state;
    Py_buffer view;
    State st;
    if (!PyArg_ParseTuple(args, "Uy*O:normalise_block", &block, &view, &state))
        return NULL;
    if (read_state(state, &st) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Out out;
    int ok = out_start(&out) == 0;
    const int64_t *spans = view.buf; /* the buffer is held, so it cannot change under a callback */
    Py_ssize_t n_lines = view.len / (Py_ssize_t)(2 * sizeof(int64_t));
    if (ok && !PyUnicode_IS_ASCII(block)) {
        PyErr_SetString(PyExc_ValueError, "normalise_block() takes an ASCII block only");
        ok = 0;
    } else if (ok && (view.len % (Py_ssize_t)(2 * sizeof(int64_t))
                      || (view.len && (uintptr_t)view.buf % sizeof(int64_t)))) { /* an empty array's may be odd */
        PyErr_SetString(PyExc_ValueError, "spans must be an aligned buffer of int64 (start, end) pairs");
        ok = 0;
    }
    const unsigned char *s = ok ? PyUnicode_1BYTE_DATA(block) : NULL;
    int64_t size = (int64_t)PyUnicode_GET_LENGTH(block);
    for (Py_ssize_t i = 0; ok && i < n_lines; i++) {
        int64_t start = spans[2 * i], end = spans[2 * i + 1];
        if (start < 0 || end < start || end > size) {
            PyErr_SetString(PyExc_ValueError, "a span outside the block");
            ok = 0;
        } else {
            ok = ascii_line(&st, &out, NULL, s + start, (size_t)(end - start), i) == 0;
        }
    }
    PyBuffer_Release(&view);
    return out_finish(&out, &st, ok);
}

#include "_fastpath_src/split.h"
#include "_fastpath_src/window.h"

static PyMethodDef methods[] = {
    {"normalise", normalise, METH_VARARGS,
     "normalise(texts, state) -> (offsets, data, keys, domain_ids, rejects)\n\n"
     "Normalise a list of lines as normalise_with_domain does, keyed and with domain ids (see\n"
     "auditor/plan/lines.py)."},
    {"normalise_block", normalise_block, METH_VARARGS,
     "normalise_block(block, spans, state) -> (offsets, data, keys, domain_ids, rejects)\n\n"
     "normalise() for the lines block[start:end] of an ASCII str, (start, end) the int64 pairs of\n"
     "the buffer `spans` (as split_block gives them): no str is made for a line the fast path\n"
     "is sure of."},
    {"split_block", split_block, METH_VARARGS,
     "split_block(block, number) -> (spans, line numbers, physical lines)\n\n"
     "An ASCII block of a text list as auditor/targets/read.py's _split_lines splits it: where the\n"
     "stripped lines that are not empty or comments are in the block (int64 start, end pairs, as\n"
     "bytes), their numbers on from `number` (int64, as bytes), and how many physical lines it has."},
    {"take_strings", take_strings, METH_VARARGS,
     "take_strings(offsets, data, offset, length, indices) -> (offsets, data)\n\n"
     "The strings at `indices` (int64) of an Arrow string array without nulls -- its int32\n"
     "offsets and data buffers, its offset and length -- as the new array's two buffers, in\n"
     "the order of `indices`: pyarrow's take (auditor/plan/builder.py) without pyarrow.compute."},
    {"joined_lines", joined_lines, METH_VARARGS,
     "joined_lines(offsets, data, offset, length) -> bytes, or None\n\n"
     "The strings of an Arrow string array without nulls (its int32 offsets and data buffers, its\n"
     "offset and length, at least 1) joined by newlines: '\\n'.join(strings).encode() without a\n"
     "str a string (auditor/plan/builder.py's chunk texts). None when a string holds a newline."},
    {"deal", deal, METH_VARARGS,
     "deal(small, load) -> bytes of int64, or None\n\n"
     "auditor/plan/packer.py's _deal on int64 buffers: each domain of `small` (largest first) to\n"
     "a request, in rounds of one domain a request, the largest to the least loaded (ties: the\n"
     "lower request); `load` (writable) is updated in place. None, and nothing changed, when a\n"
     "size or a load is negative."},
    {"first_occurrences", first_occurrences, METH_O,
     "first_occurrences(keys) -> (first, repeats, originals)\n\n"
     "For a buffer of uint64 keys (a planning window's, auditor/plan/builder.py), as int32 bytes:\n"
     "the position of each key's first occurrence, the positions of the other occurrences, and\n"
     "for each of those the first occurrence of its key; all in ascending order of position."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fastpath",
    "Target lines normalised in batches (see auditor/plan/lines.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastpath(void)
{
    for (int c = 0; c < 128; c++) /* _STRIP: white space, quotes and punctuation */
        STRIP[c] = (unsigned char)is_space((unsigned char)c);
    for (const char *c = "\"'`<>,;"; *c; c++)
        STRIP[(unsigned char)*c] = 1;
    if (PyType_Ready(&HostMemoType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddObjectRef(module, "HostMemo", (PyObject *)&HostMemoType) < 0)
        Py_CLEAR(module);
    return module;
}

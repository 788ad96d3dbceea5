/*
 * auditor.protocol._columnar: the JSON array of an answer's result items, scanned straight into
 * Arrow buffers.
 *
 * decode(buffer, layout) -> (rows, columns) | None
 *
 * `buffer` holds the raw JSON value of `result.items` (a bytes-like object: msgspec.Raw slices
 * it out of the answer without copying). `layout` is a sequence of (key, kind, parent) triples,
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
 * values. So the fast path can only be faster, never different; tests/test_protocol_columnar.py
 * checks that on generated answers.
 *
 * Missing keys and JSON null give nulls; keys the layout does not name are skipped (but still
 * checked to be valid JSON).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_INT64 = 0, KIND_STRING = 1, KIND_BOOL = 2, KIND_MAP = 3, KIND_LIST = 4, KIND_OBJECT = 5 };
enum { OK = 0, DECLINE = 1, NO_MEMORY = 2 };
#define MAX_DEPTH 64
#define MAX_COLUMNS 128

#define TRY(expr) do { int rc_ = (expr); if (rc_ != OK) return rc_; } while (0)

/* --- growable byte buffers ------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_grow(Buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return NO_MEMORY;
    b->data = data;
    b->cap = cap;
    return OK;
}

static inline int buf_reserve(Buf *b, size_t extra)
{
    return b->len + extra <= b->cap ? OK : buf_grow(b, extra);
}

static inline int buf_append(Buf *b, const void *src, size_t n)
{
    TRY(buf_reserve(b, n));
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return OK;
}

/* buf_append for the short runs of text most strings are: no call into the C library. */
static inline int buf_append_text(Buf *b, const unsigned char *src, size_t n)
{
    if (n > 32)
        return buf_append(b, src, n);
    TRY(buf_reserve(b, n));
    char *dst = b->data + b->len;
    b->len += n;
    if (n >= 8) { /* 8-byte moves, the last one overlapping */
        for (size_t i = 0; i + 8 < n; i += 8)
            memcpy(dst + i, src + i, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n > 0) {
        dst[0] = (char)src[0];
        dst[n / 2] = (char)src[n / 2];
        dst[n - 1] = (char)src[n - 1];
    }
    return OK;
}

static inline int buf_append_int32(Buf *b, size_t value)
{
    if (value > INT32_MAX) /* more than 2 GiB of text in one answer's column */
        return DECLINE;
    int32_t v = (int32_t)value;
    return buf_append(b, &v, sizeof v);
}

static inline int buf_append_int64(Buf *b, int64_t value)
{
    return buf_append(b, &value, sizeof value);
}

/* Set bit `index` of a bitmap to `value`, growing it with zero bytes as needed. */
static inline int bit_put(Buf *b, Py_ssize_t index, int value)
{
    size_t byte = (size_t)index >> 3;
    if (byte >= b->len) {
        TRY(buf_reserve(b, byte + 1 - b->len));
        memset(b->data + b->len, 0, byte + 1 - b->len);
        b->len = byte + 1;
    }
    if (value)
        b->data[byte] |= (char)(1u << (index & 7));
    return OK;
}

/* --- columns --------------------------------------------------------------------------------- */

typedef struct {
    int kind;
    const char *key; /* UTF-8, owned by the layout's str objects */
    Py_ssize_t key_len;
    int plain_key; /* no character JSON would escape: the raw text of the key can be compared */
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
    const unsigned char *p, *end;
    Column *columns;
    int n_columns;
    int *top; /* indices of the item's own fields */
    int n_top;
    Buf key; /* scratch: the key being matched */
    Py_ssize_t rows;
} Scanner;

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
    }
}

/* --- JSON lexing ----------------------------------------------------------------------------- */

static inline void skip_ws(Scanner *s)
{
    /* compact JSON has none: one comparison settles the usual case */
    while (s->p < s->end && *s->p <= ' '
           && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static inline int expect(Scanner *s, char c)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != (unsigned char)c)
        return DECLINE;
    s->p++;
    return OK;
}

static int literal(Scanner *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return DECLINE;
    s->p += n;
    return OK;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static int utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    Py_ssize_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF)
        return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
        return left >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
        return left >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80
               && (p[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

static int hex4(const unsigned char *p)
{
    int value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        value <<= 4;
        if (c >= '0' && c <= '9') value |= c - '0';
        else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
        else return -1;
    }
    return value;
}

static int append_code_point(Buf *out, unsigned int cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = 0xC0 | (cp >> 6); u[1] = 0x80 | (cp & 0x3F); n = 2; }
    else if (cp < 0x10000) {
        u[0] = 0xE0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 0x3F); u[2] = 0x80 | (cp & 0x3F);
        n = 3;
    } else {
        u[0] = 0xF0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 0x3F);
        u[2] = 0x80 | ((cp >> 6) & 0x3F); u[3] = 0x80 | (cp & 0x3F); n = 4;
    }
    return buf_append(out, u, n);
}

/* An escape sequence at p (p[0] == '\\'); appends what it stands for to out (if not NULL). */
static int unescape(const unsigned char **pp, const unsigned char *end, Buf *out)
{
    const unsigned char *p = *pp;
    if (end - p < 2)
        return DECLINE;
    char c;
    switch (p[1]) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
        if (end - p < 6)
            return DECLINE;
        int cp = hex4(p + 2);
        if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return DECLINE;
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* needs its low surrogate */
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return DECLINE;
            int low = hex4(p + 2);
            if (low < 0xDC00 || low > 0xDFFF)
                return DECLINE;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
        }
        *pp = p;
        return out ? append_code_point(out, (unsigned int)cp) : OK;
    }
    default:
        return DECLINE;
    }
    *pp = p + 2;
    return out ? buf_append(out, &c, 1) : OK;
}

/* Whether the 8 bytes at p are all plain string content: printable ASCII but '"' and '\\'.
 * (Each test is the classic "has a zero byte" bit trick; a false positive only makes the caller
 * look at those bytes one by one.) */
static inline int plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t v, quote, backslash;
    memcpy(&v, p, sizeof v);
    quote = v ^ (ones * '"');
    backslash = v ^ (ones * '\\');
    return (((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote)
            | ((backslash - ones) & ~backslash) | v) & highs ? 0 : 1;
}

/* PLAIN[c]: whether byte c stands for itself inside a JSON string and is ASCII (set up when
 * the module is loaded). */
static unsigned char PLAIN[256];

/* The string at s->p (which must be '"'), decoded and appended to out (checked only if NULL). */
static int scan_string(Scanner *s, Buf *out)
{
    const unsigned char *p = s->p, *end = s->end;
    if (p >= end || *p != '"')
        return DECLINE;
    p++;
    for (;;) {
        const unsigned char *run = p;
        while (end - p >= 8 && plain8(p))
            p += 8;
        while (p < end && PLAIN[*p])
            p++;
        if (out && p > run)
            TRY(buf_append_text(out, run, (size_t)(p - run)));
        if (p >= end)
            return DECLINE;
        if (*p == '"') {
            s->p = p + 1;
            return OK;
        }
        if (*p == '\\') {
            TRY(unescape(&p, end, out));
            continue;
        }
        if (*p < 0x20) /* control characters must be escaped */
            return DECLINE;
        int n = utf8_sequence(p, end);
        if (n == 0)
            return DECLINE;
        if (out)
            TRY(buf_append(out, p, (size_t)n));
        p += n;
    }
}

/* A JSON integer that fits int64; fractions and exponents are declined (see the top). */
static int scan_int64(Scanner *s, int64_t *value)
{
    const unsigned char *p = s->p, *end = s->end;
    int negative = p < end && *p == '-';
    if (negative)
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return DECLINE;
    uint64_t acc = 0;
    if (*p == '0') {
        p++;
    } else {
        const unsigned char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            acc = acc * 10 + (unsigned)(*p++ - '0'); /* wraps past 19 digits: checked below */
        if (p - digits > 18) { /* 18 digits always fit; more are checked the slow way */
            uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
            acc = 0;
            for (const unsigned char *q = digits; q < p; q++) {
                unsigned digit = (unsigned)(*q - '0');
                if (acc > (limit - digit) / 10)
                    return DECLINE;
                acc = acc * 10 + digit;
            }
        }
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return DECLINE;
    *value = negative ? (int64_t)(0 - acc) : (int64_t)acc;
    s->p = p;
    return OK;
}

static int skip_number(Scanner *s)
{
    const unsigned char *p = s->p, *end = s->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return DECLINE;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9') p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return DECLINE;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return DECLINE;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    s->p = p;
    return OK;
}

/* Any JSON value, checked and thrown away (a field the layout does not name). */
static int skip_value(Scanner *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end || depth > MAX_DEPTH)
        return DECLINE;
    switch (*s->p) {
    case '"': return scan_string(s, NULL);
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    case '{':
    case '[': {
        int is_object = *s->p == '{';
        char close = is_object ? '}' : ']';
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return OK;
        }
        for (;;) {
            if (is_object) {
                skip_ws(s);
                TRY(scan_string(s, NULL));
                TRY(expect(s, ':'));
            }
            TRY(skip_value(s, depth + 1));
            skip_ws(s);
            if (s->p < s->end && *s->p == ',') { s->p++; continue; }
            return expect(s, close);
        }
    }
    default: return skip_number(s);
    }
}

/* --- values into columns --------------------------------------------------------------------- */

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
    TRY(expect(s, '{'));
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return OK;
    }
    Py_ssize_t first = c->children;
    uint64_t bloom = 0; /* one bit per key hash: a repeated key always hits a set bit */
    for (;;) {
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
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        return expect(s, '}');
    }
}

static int scan_list(Scanner *s, Column *c)
{
    TRY(expect(s, '['));
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return OK;
    }
    for (;;) {
        skip_ws(s);
        TRY(scan_string(s, &c->data)); /* a null element is declined here */
        TRY(buf_append_int32(&c->child_offsets, c->data.len));
        c->children++;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        return expect(s, ']');
    }
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
    case KIND_OBJECT: {
        int fields[MAX_COLUMNS];
        for (int i = 0; i < c->n_children; i++)
            fields[i] = c->first_child + i;
        return scan_object(s, fields, c->n_children, 1);
    }
    }
    return DECLINE;
}

/* An object whose keys are the columns `fields` (keys it does not name are skipped). */
static int scan_object(Scanner *s, const int *fields, int n_fields, int object_depth)
{
    TRY(expect(s, '{'));
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return OK;
    }
    int guess = 0; /* the API sends keys in a fixed order: try the field after the last one */
    for (;;) {
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
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        return expect(s, '}');
    }
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
    if (s->p < s->end && *s->p == 'n') { /* "items": null */
        TRY(literal(s, "null", 4));
    } else {
        TRY(expect(s, '['));
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
        } else {
            for (;;) {
                TRY(scan_object(s, s->top, s->n_top, 1));
                TRY(end_row(s));
                skip_ws(s);
                if (s->p < s->end && *s->p == ',') { s->p++; skip_ws(s); continue; }
                return expect(s, ']');
            }
        }
    }
    return OK;
}

static int scan_items(Scanner *s)
{
    TRY(scan_items_value(s));
    skip_ws(s);
    return s->p == s->end ? OK : DECLINE;
}

/* --- whole answers --------------------------------------------------------------------------- */

/* A value's JSON text: body[start:end]; start < 0 when the key was not there. */
typedef struct {
    Py_ssize_t start, end;
} Span;

/* What decode_answer reads of an answer with one task and at most one result. */
typedef struct {
    Span status_code, tasks;
    Span task_id, task_status_code, task_cost, task_data, task_result;
    int results; /* -1: "result" null or absent; else 0 or 1 */
    Span items, total_count, search_after_token;
} Answer;

static int key_is(const Scanner *s, const char *name)
{
    size_t n = strlen(name);
    return s->key.len == n && memcmp(s->key.data, name, n) == 0;
}

/* Note where the value at s->p starts and ends, checking it is JSON (a key seen twice: declined). */
static int value_span(Scanner *s, const unsigned char *body, Span *span)
{
    if (span->start >= 0)
        return DECLINE;
    skip_ws(s);
    span->start = s->p - body;
    TRY(skip_value(s, 1));
    span->end = s->p - body;
    return OK;
}

/* An object's members: `member` reads the value of each key (in s->key), or skips it. */
typedef int (*MemberReader)(Scanner *s, const unsigned char *body, Answer *a);

static int scan_members(Scanner *s, const unsigned char *body, Answer *a, MemberReader member)
{
    TRY(expect(s, '{'));
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return OK;
    }
    for (;;) {
        skip_ws(s);
        s->key.len = 0;
        TRY(scan_string(s, &s->key));
        TRY(expect(s, ':'));
        skip_ws(s);
        TRY(member(s, body, a));
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        return expect(s, '}');
    }
}

static int result_member(Scanner *s, const unsigned char *body, Answer *a)
{
    if (key_is(s, "items")) {
        if (a->items.start >= 0)
            return DECLINE;
        a->items.start = s->p - body;
        TRY(scan_items_value(s));
        a->items.end = s->p - body;
        return OK;
    }
    if (key_is(s, "total_count"))
        return value_span(s, body, &a->total_count);
    if (key_is(s, "search_after_token"))
        return value_span(s, body, &a->search_after_token);
    return skip_value(s, 1);
}

static int task_member(Scanner *s, const unsigned char *body, Answer *a)
{
    if (key_is(s, "id"))
        return value_span(s, body, &a->task_id);
    if (key_is(s, "status_code"))
        return value_span(s, body, &a->task_status_code);
    if (key_is(s, "cost"))
        return value_span(s, body, &a->task_cost);
    if (key_is(s, "data"))
        return value_span(s, body, &a->task_data);
    if (!key_is(s, "result"))
        return skip_value(s, 1);
    if (a->task_result.start >= 0)
        return DECLINE;
    a->task_result.start = s->p - body;
    if (s->p < s->end && *s->p == 'n') {
        TRY(literal(s, "null", 4));
    } else { /* one result object at most: live endpoints answer one */
        TRY(expect(s, '['));
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            a->results = 0;
        } else {
            TRY(scan_members(s, body, a, result_member));
            a->results = 1;
            TRY(expect(s, ']'));
        }
    }
    a->task_result.end = s->p - body;
    return OK;
}

static int answer_member(Scanner *s, const unsigned char *body, Answer *a)
{
    if (key_is(s, "status_code"))
        return value_span(s, body, &a->status_code);
    if (!key_is(s, "tasks"))
        return skip_value(s, 1);
    if (a->tasks.start >= 0)
        return DECLINE;
    a->tasks.start = s->p - body;
    TRY(expect(s, '['));
    TRY(scan_members(s, body, a, task_member)); /* exactly one task */
    TRY(expect(s, ']'));
    a->tasks.end = s->p - body;
    return OK;
}

static int scan_answer(Scanner *s, Answer *a)
{
    const unsigned char *body = s->p;
    TRY(scan_members(s, body, a, answer_member));
    skip_ws(s);
    if (s->p != s->end || a->status_code.start < 0 || a->tasks.start < 0
        || a->task_status_code.start < 0)
        return DECLINE;
    return OK;
}

/* --- Python ---------------------------------------------------------------------------------- */

static PyObject *bytes_of(const Buf *b)
{
    return PyBytes_FromStringAndSize(b->len ? b->data : "", (Py_ssize_t)b->len);
}

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
    memset(&a, 0xff, sizeof a); /* every span absent (start -1), results -1 */
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
    columns_free(columns, n_columns ? n_columns : MAX_COLUMNS);
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

/* JSON lexing: whitespace, literals, strings (UTF-8 checked, escapes decoded), numbers, skipping.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_JSON_H
#define AUDITOR_COLUMNAR_JSON_H

#include "columns.h"

/* The lexing helpers take the position by address (pp) and the end of the input, and are inline:
 * a caller keeps its position in a local, which stores into the columns' buffers (char *, which
 * may alias anything, a Scanner's p included) do not force back to memory after each write. */

static inline void skip_ws(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (p < end && *p > ' ') /* compact JSON has none: one comparison settles the usual case */
        return;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    *pp = p;
}

/* Whether the byte at p is c. */
static inline int at(const unsigned char *p, const unsigned char *end, char c)
{
    return p < end && *p == (unsigned char)c;
}

static inline int expect(const unsigned char **pp, const unsigned char *end, char c)
{
    if (!at(*pp, end, c)) { /* whitespace first? (compact JSON: the byte is there at once) */
        skip_ws(pp, end);
        if (!at(*pp, end, c))
            return DECLINE;
    }
    (*pp)++;
    return OK;
}

static inline int literal(const unsigned char **pp, const unsigned char *end, const char *word,
                          size_t n)
{
    if ((size_t)(end - *pp) < n || memcmp(*pp, word, n) != 0)
        return DECLINE;
    *pp += n;
    return OK;
}

/* The opening bracket of an array or object; *empty tells whether it closes at once (then
 * consumed too). Loops over members end with more_members(). */
static inline int open_container(const unsigned char **pp, const unsigned char *end, char open,
                                 char close, int *empty)
{
    TRY(expect(pp, end, open));
    skip_ws(pp, end);
    *empty = at(*pp, end, close);
    if (*empty)
        (*pp)++;
    return OK;
}

/* After a member: *more is set past a comma; otherwise the closing bracket must follow. */
static inline int more_members(const unsigned char **pp, const unsigned char *end, char close,
                               int *more)
{
    if (!at(*pp, end, ',')) /* (compact JSON: a comma at once, between members) */
        skip_ws(pp, end);
    *more = at(*pp, end, ',');
    if (*more) {
        (*pp)++;
        return OK;
    }
    return expect(pp, end, close);
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

/* PLAIN[c]: whether byte c stands for itself inside a JSON string and is ASCII (set up when
 * the module is loaded). */
static unsigned char PLAIN[256];

/* Past the PLAIN bytes at *pp, appended to out (if not NULL). Eight at a time while eight are
 * left: a byte-at-a-time loop was a fifth of a scan, and its exit a third of the scan's
 * mispredicted branches. */
#if HAVE_SWAR
/* The top bit of each byte of the word that is '"' or '\\' (zero after the xor), below 0x20, or not
 * ASCII. A borrow only runs from a flagged byte to the ones after it, so the lowest flagged byte
 * is the first that is not PLAIN. */
static inline uint64_t unplain_bytes(uint64_t bytes)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = bytes ^ (ones * '"'), backslash = bytes ^ (ones * '\\');
    return (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)
            | ((bytes - ones * 0x20) & ~bytes) | bytes) & highs;
}
#endif

static inline int plain_run(const unsigned char **pp, const unsigned char *end, Buf *out)
{
    const unsigned char *p = *pp;
#if HAVE_SWAR
    while (end - p >= 8) {
        uint64_t bytes;
        memcpy(&bytes, p, 8);
        uint64_t stop = unplain_bytes(bytes);
        size_t n = stop ? (size_t)(__builtin_ctzll(stop) >> 3) : 8;
        if (out) { /* all eight stored, the plain ones counted */
            TRY(buf_reserve(out, 8));
            memcpy(out->data + out->len, &bytes, 8);
            out->len += n;
        }
        p += n;
        if (n < 8) {
            *pp = p;
            return OK;
        }
    }
#endif
    const unsigned char *run = p;
    while (p < end && PLAIN[*p])
        p++;
    if (out && p > run)
        TRY(buf_append_text(out, run, (size_t)(p - run)));
    *pp = p;
    return OK;
}

/* The rest of a string, from p inside it: escapes, non-ASCII and the plain runs between them;
 * *next is set past the closing quote. Out of line: most strings end at their first plain run. */
static int string_rest(const unsigned char *p, const unsigned char *end, Buf *out,
                       const unsigned char **next)
{
    for (;;) {
        if (p >= end)
            return DECLINE;
        if (*p == '"') {
            *next = p + 1;
            return OK;
        }
        if (*p == '\\') {
            TRY(unescape(&p, end, out));
        } else {
            if (*p < 0x20) /* control characters must be escaped */
                return DECLINE;
            int n = utf8_sequence(p, end);
            if (n == 0)
                return DECLINE;
            if (out)
                TRY(buf_append(out, p, (size_t)n));
            p += n;
        }
        TRY(plain_run(&p, end, out));
    }
}

/* The string at *pp (which must be '"'), decoded and appended to out (checked only if NULL). */
static inline int scan_string(const unsigned char **pp, const unsigned char *end, Buf *out)
{
    const unsigned char *p = *pp, *past;
    if (p >= end || *p != '"')
        return DECLINE;
    p++;
    TRY(plain_run(&p, end, out));
    if (p < end && *p == '"') {
        *pp = p + 1;
        return OK;
    }
    TRY(string_rest(p, end, out, &past)); /* (past is a copy: *pp may be the caller's local) */
    *pp = past;
    return OK;
}

/* The value of 1-8 digits (the first in the low byte, '0'-'9' less '0' each) in the top n bytes of
 * x, zeros below: pairs, quads, the whole (SWAR). */
static inline uint32_t digits_value(uint64_t x)
{
    x = x * 10 + (x >> 8);
    x = (((x & 0x000000FF000000FFULL) * 0x000F424000000064ULL)
         + (((x >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
    return (uint32_t)x;
}

/* Up to seven digits at *pp read eight bytes at a time (SWAR): most integers of an answer are
 * short counts, and a digit at a time was a fifth of a scan. Returns 1 with the value in *acc and
 * *pp past the digits, or 0 (nothing read) when fewer than 8 bytes are left or all 8 are digits:
 * the caller's loop then reads them. Only where bytes are known to be little-endian. */
static inline int short_digits(const unsigned char **pp, const unsigned char *end, uint64_t *acc)
{
#if HAVE_SWAR
    if (end - *pp < 8)
        return 0;
    uint64_t bytes, x;
    memcpy(&bytes, *pp, 8); /* (*pp)[0] in the low byte */
    x = bytes - 0x3030303030303030ULL; /* each digit byte becomes 0-9 */
    /* A byte's top bit in `x` is set for a byte below '0' or from 0xB0, in bytes + 0x46 for one
     * from ':' to 0xAF: together, every byte but a digit. Borrows and carries only run from a
     * non-digit to the bytes after it, so the lowest flagged byte is the first non-digit. */
    uint64_t other = (x | (bytes + 0x4646464646464646ULL)) & 0x8080808080808080ULL;
    if (other == 0)
        return 0;
    int n = __builtin_ctzll(other) >> 3; /* digits before it: 1-7 (the caller saw one) */
    *acc = digits_value(x << (8 * (8 - n))); /* the digits in the top bytes: "000" + digits */
    *pp += n;
    return 1;
#else
    (void)pp, (void)end, (void)acc;
    return 0;
#endif
}

/* A count as compact JSON writes it inside an object, read whole from one eight-byte word: 1-7
 * digits (no sign, no leading zero unless the count is 0) and straight after them ',' or '}'. Returns
 * 1 with the value and *pp past the digits (at the ',' or '}'), else 0 with nothing read (the
 * general path decides): the word answers at once what scan_int64 checks byte by byte (what ends
 * the number cannot be '.', 'e', 'E' or a digit), and most integers of an answer are such counts. */
static inline int short_count(const unsigned char **pp, const unsigned char *end, int64_t *value)
{
#if HAVE_SWAR
    if (end - *pp < 8)
        return 0;
    uint64_t bytes, x;
    memcpy(&bytes, *pp, 8);
    x = bytes - 0x3030303030303030ULL;
    /* as in short_digits: the lowest flagged byte is the first that is not a digit */
    uint64_t other = (x | (bytes + 0x4646464646464646ULL)) & 0x8080808080808080ULL;
    if (other == 0)
        return 0;
    int n = __builtin_ctzll(other) >> 3;
    unsigned after = (unsigned)(bytes >> (8 * n)) & 0xFF;
    if (n == 0 || (after != ',' && after != '}') || (n > 1 && (bytes & 0xFF) == '0'))
        return 0;
    *value = (int64_t)digits_value(x << (8 * (8 - n)));
    *pp += n;
    return 1;
#else
    (void)pp, (void)end, (void)value;
    return 0;
#endif
}

/* A JSON integer that fits int64; fractions and exponents are declined (see the top). */
static inline int scan_int64(const unsigned char **pp, const unsigned char *end, int64_t *value)
{
    if (short_count(pp, end, value))
        return OK;
    const unsigned char *p = *pp;
    int negative = p < end && *p == '-';
    if (negative)
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return DECLINE;
    uint64_t acc = 0;
    if (*p == '0') {
        p++;
    } else if (!short_digits(&p, end, &acc)) {
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
    *pp = p;
    return OK;
}

static int skip_number(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
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
    *pp = p;
    return OK;
}

/* Any JSON value, checked and thrown away (a field the layout does not name). */
static int skip_value(const unsigned char **pp, const unsigned char *end, int depth)
{
    skip_ws(pp, end);
    if (*pp >= end || depth > MAX_DEPTH)
        return DECLINE;
    switch (**pp) {
    case '"': return scan_string(pp, end, NULL);
    case 't': return literal(pp, end, "true", 4);
    case 'f': return literal(pp, end, "false", 5);
    case 'n': return literal(pp, end, "null", 4);
    case '{':
    case '[': {
        int is_object = **pp == '{', empty, more;
        char close = is_object ? '}' : ']';
        TRY(open_container(pp, end, (char)**pp, close, &empty));
        for (more = !empty; more;) {
            if (is_object) {
                skip_ws(pp, end);
                TRY(scan_string(pp, end, NULL));
                TRY(expect(pp, end, ':'));
            }
            TRY(skip_value(pp, end, depth + 1));
            TRY(more_members(pp, end, close, &more));
        }
        return OK;
    }
    default: return skip_number(pp, end);
    }
}

#endif /* AUDITOR_COLUMNAR_JSON_H */

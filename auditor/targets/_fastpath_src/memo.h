/* _fastpath: the host memo (HostMemo) and its copy of the suffix table's entries. Part of _fastpath.c,
 * which includes it once (see the top there). */

/* HostMemo: the raw hosts of one BatchNormaliser's lines, each with its host check's tuple (as
 * host_cache gave it) and its registrable domain's id (as domain_ids gave it), in a table of our
 * own. A heavy-tailed list repeats hosts: a line whose raw host is remembered costs a hash of its
 * bytes and a comparison, instead of a str built for the host, its SipHash and two dictionary
 * look-ups (a third of this file's instructions a line, callgrind). The answers are the same:
 * the tuple is what host_cache held or host_info returned for that host, a pure function of it,
 * and a domain's id never changes once domain_ids has given it. A memo lives as long as its
 * normaliser (one planning window) and is emptied when it holds `capacity` hosts.
 *
 * Each raw host has a record in the arena: its bytes, then the tuple's host and bare host again
 * as bytes (a uint16 length, or HOST_IN_TUPLE; a uint16 offset of the bare host, a suffix of the
 * host; the host's bytes). A line of a remembered host reads them there, next to the key it was
 * just compared with, and touches neither the tuple nor its strs: with a hundred thousand hosts
 * in a list, each of those objects is one more cache miss a line (perf: a sixth of the
 * normaliser's time went to reading them and to the tuple's reference count). */
typedef struct { /* 24 bytes: a memo of 2**17 hosts has 2**18 of them */
    PyObject *info;    /* the (host, bare, registrable) tuple; a strong reference */
    uint32_t hash;     /* the top half of the raw host's XXH3 (the bottom half finds the slot) */
    uint32_t key_at;   /* the raw host's record in the arena: key_len bytes of it, then the host */
    int32_t domain_id; /* -1 until a target of this host has been accepted */
    uint16_t key_len;  /* a raw host is at most MAX_LINE_LENGTH bytes */
} MemoEntry;

enum { HOST_IN_TUPLE = 0xFFFF }; /* a record without the host's bytes: read the tuple's strs */

/* A host check's host and bare host as bytes (the bare host is the host without its "www."s). */
typedef struct {
    const char *host, *bare;
    Py_ssize_t host_n, bare_n;
} HostBytes;

/* A suffix of the suffix table (SuffixRules.table) in a table of our own: its bytes in the
 * arena and its four lengths. */
typedef struct {
    uint64_t hash;
    uint32_t at, len; /* len 0: an empty slot (the table has no empty suffix) */
    int32_t fields[4];
} SuffixSlot;

typedef struct {
    PyObject_HEAD
    MemoEntry *slots; /* open addressing, linear probing; NULL until first used */
    size_t mask, count, capacity;
    Buf arena;
    /* The suffix table as last read (see suffix_fields): the dict, its size then, and its
     * entries; `suffixes_usable` 0 when an entry was not a str with four ints, which leaves
     * every look-up to the dict itself. */
    PyObject *suffix_dict;
    Py_ssize_t suffix_size;
    int suffixes_usable;
    SuffixSlot *suffix_slots;
    size_t suffix_mask;
    Buf suffix_arena;
} HostMemo;

static uint64_t memo_hash(const unsigned char *s, size_t n)
{
    return XXH3_64bits(s, n); /* 8 bytes a step, where FNV-1a took one */
}

static void memo_clear(HostMemo *m)
{
    if (m->slots != NULL)
        for (size_t i = 0; i <= m->mask; i++)
            Py_CLEAR(m->slots[i].info);
    m->count = 0;
    m->arena.len = 0;
}

/* The entry of raw host `s` (`n` bytes, hash `h`), or the empty slot where it would go. */
static MemoEntry *memo_slot(HostMemo *m, const unsigned char *s, size_t n, uint64_t h)
{
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        MemoEntry *e = &m->slots[i];
        if (e->info == NULL
            || (e->hash == (uint32_t)(h >> 32) && e->key_len == n && memcmp(m->arena.data + e->key_at, s, n) == 0))
            return e;
    }
}

/* The host and bare host `e` remembers, from its record; 0 when they are only in its tuple. */
static inline int memo_host(const HostMemo *m, const MemoEntry *e, HostBytes *hb)
{
    const char *record = m->arena.data + e->key_at + e->key_len;
    uint16_t host_n, bare_at;
    memcpy(&host_n, record, 2);
    if (host_n == HOST_IN_TUPLE)
        return 0;
    memcpy(&bare_at, record + 2, 2);
    hb->host = record + 4, hb->host_n = host_n;
    hb->bare = hb->host + bare_at, hb->bare_n = host_n - bare_at;
    return 1;
}

/* Remember `info` for raw host `s`, with its host and bare host `hb` in the record (NULL: only in
 * the tuple); its entry, or NULL with an error set. Empties a full memo. */
static MemoEntry *memo_put(HostMemo *m, const unsigned char *s, size_t n, uint64_t h, PyObject *info,
                           const HostBytes *hb)
{
    if (m->slots == NULL) {
        size_t slots = 16;
        while (slots < 2 * m->capacity)
            slots *= 2;
        m->slots = calloc(slots, sizeof(MemoEntry));
        if (m->slots == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        m->mask = slots - 1;
    }
    size_t record = n + 4 + (hb != NULL ? (size_t)hb->host_n : 0);
    if (m->count >= m->capacity || m->arena.len + record > UINT32_MAX)
        memo_clear(m);
    size_t at = m->arena.len;
    uint16_t lengths[2] = {HOST_IN_TUPLE, 0};
    if (hb != NULL)
        lengths[0] = (uint16_t)hb->host_n, lengths[1] = (uint16_t)(hb->host_n - hb->bare_n);
    if (buf_append(&m->arena, s, n) != OK || buf_append(&m->arena, lengths, sizeof lengths) != OK
        || (hb != NULL && buf_append(&m->arena, hb->host, (size_t)hb->host_n) != OK)) {
        m->arena.len = at;
        PyErr_NoMemory();
        return NULL;
    }
    MemoEntry *e = memo_slot(m, s, n, h);
    *e = (MemoEntry){Py_NewRef(info), (uint32_t)(h >> 32), (uint32_t)at, -1, (uint16_t)n};
    m->count++;
    return e;
}

static PyObject *memo_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t capacity;
    static char *names[] = {"capacity", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n:HostMemo", names, &capacity))
        return NULL;
    if (capacity < 1 || capacity > (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "capacity must be between 1 and 2**24");
        return NULL;
    }
    HostMemo *m = (HostMemo *)type->tp_alloc(type, 0);
    if (m != NULL)
        m->capacity = (size_t)capacity;
    return (PyObject *)m;
}

static void memo_dealloc(HostMemo *m)
{
    memo_clear(m);
    Py_CLEAR(m->suffix_dict);
    free(m->suffix_slots);
    free(m->suffix_arena.data);
    free(m->slots);
    free(m->arena.data);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static Py_ssize_t memo_length(HostMemo *m)
{
    return (Py_ssize_t)m->count; /* how many raw hosts are remembered */
}

static PySequenceMethods memo_as_sequence = {.sq_length = (lenfunc)memo_length};

static PyTypeObject HostMemoType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "auditor.targets._fastpath.HostMemo",
    .tp_basicsize = sizeof(HostMemo),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "HostMemo(capacity): the raw hosts one BatchNormaliser has seen (see _fastpath.c).",
    .tp_new = memo_new,
    .tp_dealloc = (destructor)memo_dealloc,
    .tp_as_sequence = &memo_as_sequence,
};

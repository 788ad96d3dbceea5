/* _fastpath: the host memo (HostMemo) and its copy of the suffix table's entries. Part of _fastpath.c,
 * which includes it once (see the top there). */

/* HostMemo: the raw hosts of one BatchNormaliser's lines, each with its host check's tuple (as
 * host_cache gave it) and its registrable domain's id (as domain_ids gave it), in a table of our
 * own. A heavy-tailed list repeats hosts: a line whose raw host is remembered costs a hash of its
 * bytes and a comparison, instead of a str built for the host, its SipHash and two dictionary
 * look-ups (a third of this file's instructions a line, callgrind). The answers are the same:
 * the tuple is what host_cache held or host_info returned for that host, a pure function of it,
 * and a domain's id never changes once domain_ids has given it. A memo lives as long as its
 * normaliser (one planning window) and is emptied when it holds `capacity` hosts. */
typedef struct { /* 24 bytes: a memo of 2**17 hosts has 2**18 of them */
    PyObject *info;    /* the (host, bare, registrable) tuple; a strong reference */
    uint32_t hash;     /* the top half of the raw host's XXH3 (the bottom half finds the slot) */
    uint32_t key_at;   /* the raw host's bytes in the arena: key_len of them from key_at */
    int32_t domain_id; /* -1 until a target of this host has been accepted */
    uint16_t key_len;  /* a raw host is at most MAX_LINE_LENGTH bytes */
} MemoEntry;

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

/* Remember `info` for raw host `s`; its entry, or NULL with an error set. Empties a full memo. */
static MemoEntry *memo_put(HostMemo *m, const unsigned char *s, size_t n, uint64_t h, PyObject *info)
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
    if (m->count >= m->capacity || m->arena.len + n > UINT32_MAX)
        memo_clear(m);
    size_t at = m->arena.len;
    if (buf_append(&m->arena, s, n) != OK) {
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

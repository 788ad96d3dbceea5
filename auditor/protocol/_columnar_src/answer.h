/* Whole answers: one task, at most one result, scalars as spans of their text.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_ANSWER_H
#define AUDITOR_COLUMNAR_ANSWER_H

#include "items.h"

/* A value's JSON text: body[start:end]; start < 0 when the key was not there. */
typedef struct {
    Py_ssize_t start, end;
} Span;

/* What decode_answer reads of an answer with one task and at most one result. */
typedef struct {
    Span status_code, task_id, task_status_code, task_cost, task_data, total_count,
        search_after_token;
    int results; /* -1: "result" null or absent; else 0 or 1 */
    int seen_tasks, seen_result, seen_items; /* (a key given twice is declined) */
} Answer;

static void answer_init(Answer *a)
{
    const Span absent = {-1, -1};
    *a = (Answer){absent, absent, absent, absent, absent, absent, absent, -1, 0, 0, 0};
}

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
    skip_ws(&s->p, s->end);
    span->start = s->p - body;
    TRY(skip_value(&s->p, s->end, 1));
    span->end = s->p - body;
    return OK;
}

/* An object's members: `member` reads the value of each key (in s->key), or skips it. */
typedef int (*MemberReader)(Scanner *s, const unsigned char *body, Answer *a);

static int scan_members(Scanner *s, const unsigned char *body, Answer *a, MemberReader member)
{
    int empty, more;
    TRY(open_container(&s->p, s->end, '{', '}', &empty));
    for (more = !empty; more;) {
        skip_ws(&s->p, s->end);
        s->key.len = 0;
        TRY(scan_string(&s->p, s->end, &s->key));
        TRY(expect(&s->p, s->end, ':'));
        skip_ws(&s->p, s->end);
        TRY(member(s, body, a));
        TRY(more_members(&s->p, s->end, '}', &more));
    }
    return OK;
}

static int result_member(Scanner *s, const unsigned char *body, Answer *a)
{
    if (key_is(s, "items")) {
        if (a->seen_items++)
            return DECLINE;
        return scan_items_value(s);
    }
    if (key_is(s, "total_count"))
        return value_span(s, body, &a->total_count);
    if (key_is(s, "search_after_token"))
        return value_span(s, body, &a->search_after_token);
    return skip_value(&s->p, s->end, 1);
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
        return skip_value(&s->p, s->end, 1);
    if (a->seen_result++)
        return DECLINE;
    if (s->p < s->end && *s->p == 'n')
        return literal(&s->p, s->end, "null", 4);
    int empty; /* one result object at most: live endpoints answer one */
    TRY(open_container(&s->p, s->end, '[', ']', &empty));
    a->results = 0;
    if (!empty) {
        TRY(scan_members(s, body, a, result_member));
        a->results = 1;
        TRY(expect(&s->p, s->end, ']'));
    }
    return OK;
}

static int answer_member(Scanner *s, const unsigned char *body, Answer *a)
{
    if (key_is(s, "status_code"))
        return value_span(s, body, &a->status_code);
    if (!key_is(s, "tasks"))
        return skip_value(&s->p, s->end, 1);
    if (a->seen_tasks++)
        return DECLINE;
    TRY(expect(&s->p, s->end, '['));
    TRY(scan_members(s, body, a, task_member)); /* exactly one task */
    return expect(&s->p, s->end, ']');
}

static int scan_answer(Scanner *s, Answer *a)
{
    const unsigned char *body = s->p;
    TRY(scan_members(s, body, a, answer_member));
    skip_ws(&s->p, s->end);
    if (s->p != s->end || a->status_code.start < 0 || !a->seen_tasks
        || a->task_status_code.start < 0)
        return DECLINE;
    return OK;
}

#endif /* AUDITOR_COLUMNAR_ANSWER_H */

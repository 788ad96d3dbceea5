/* Includes, codes and limits shared by every part.
 * Part of auditor.protocol._columnar: module.c includes each header once. */
#ifndef AUDITOR_COLUMNAR_COMMON_H
#define AUDITOR_COLUMNAR_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_INT64 = 0, KIND_STRING = 1, KIND_BOOL = 2, KIND_MAP = 3, KIND_LIST = 4, KIND_OBJECT = 5 };
enum { OK = 0, DECLINE = 1, NO_MEMORY = 2 };
#define MAX_DEPTH 64
#define MAX_COLUMNS 128

/* Eight bytes read as one little-endian word, tested and combined at once (integers, strings):
 * only where the compiler has __builtin_ctzll and bytes are known to be little-endian. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HAVE_SWAR 1
#else
#define HAVE_SWAR 0
#endif

#define TRY(expr) do { int rc_ = (expr); if (rc_ != OK) return rc_; } while (0)

#endif /* AUDITOR_COLUMNAR_COMMON_H */

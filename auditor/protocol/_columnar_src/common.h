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

#define TRY(expr) do { int rc_ = (expr); if (rc_ != OK) return rc_; } while (0)

#endif /* AUDITOR_COLUMNAR_COMMON_H */

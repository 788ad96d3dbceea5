/* The API's timestamps ("2019-11-15 12:57:46 +00:00") as microseconds since the epoch, UTC.
 * Part of auditor.protocol._columnar: module.c includes each header once.
 *
 * Only that exact form is read here: four-digit year 1000-9999, a real calendar day, 00-23 hours,
 * 00-59 minutes and seconds, and the offset +00:00, which is what the API sends. Anything else
 * (another offset, ISO 8601, a leap second, a day that does not exist) is left to the general
 * parser (pyarrow's strptime, in auditor/write/flatten.py), which is the reference. */
#ifndef AUDITOR_COLUMNAR_TIMESTAMPS_H
#define AUDITOR_COLUMNAR_TIMESTAMPS_H

#include "common.h"

#define API_TIMESTAMP_LEN 26 /* "YYYY-MM-DD HH:MM:SS +00:00" */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The number written by the n digits at p, or -1 if one of them is not a digit. */
static int digits(const unsigned char *p, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

/* `text` (n bytes) in the API's form, as microseconds since the epoch; 0 if it is not. */
static int api_timestamp(const unsigned char *text, Py_ssize_t n, int64_t *micros)
{
    static const int month_days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n != API_TIMESTAMP_LEN || text[4] != '-' || text[7] != '-' || text[10] != ' '
        || text[13] != ':' || text[16] != ':' || memcmp(text + 19, " +00:00", 7) != 0)
        return 0;
    int year = digits(text, 4), month = digits(text + 5, 2), day = digits(text + 8, 2);
    int hour = digits(text + 11, 2), minute = digits(text + 14, 2), second = digits(text + 17, 2);
    if (year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23
        || minute < 0 || minute > 59 || second < 0 || second > 59)
        return 0;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month] + (month == 2 && leap))
        return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *micros = seconds * 1000000;
    return 1;
}

/* Rows [offset, offset + n) of an Arrow string array (validity bitmap or NULL, int32 offsets,
 * text of text_len bytes): each one's microseconds into values[], and its validity into valid[]
 * (blank text is a null, as in flatten). Returns the number of nulls, -1 when a value is not in
 * the API's form, -2 when an offset points outside the text. */
static Py_ssize_t api_timestamps(const unsigned char *validity, const int32_t *offsets,
                                 const unsigned char *text, Py_ssize_t text_len, Py_ssize_t offset,
                                 Py_ssize_t n, int64_t *values, unsigned char *valid)
{
    Py_ssize_t nulls = 0;
    memset(valid, 0, (size_t)(n + 7) / 8);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t row = offset + i;
        int32_t start = offsets[row], end = offsets[row + 1];
        if (start < 0 || end < start || end > text_len)
            return -2;
        values[i] = 0;
        if ((validity && !(validity[row >> 3] >> (row & 7) & 1)) || start == end) {
            nulls++;
            continue;
        }
        if (!api_timestamp(text + start, end - start, &values[i]))
            return -1;
        valid[i >> 3] |= (unsigned char)(1u << (i & 7));
    }
    return nulls;
}

#endif /* AUDITOR_COLUMNAR_TIMESTAMPS_H */

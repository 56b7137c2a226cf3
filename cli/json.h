/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON written as it is made: an object on one line; an array
 * at the top with each element on a line of its own, so that a line-based
 * reader (the shell completion) can take one element at a time.
 */
#ifndef TESSERA_CLI_JSON_H
#define TESSERA_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 4

struct json {
    FILE *out; /* set this; the rest starts zeroed */
    unsigned depth;
    bool written[JSON_DEPTH_MAX + 1]; /* a member or element at this depth */
    char closing[JSON_DEPTH_MAX + 1]; /* ']' or '}' at this depth */
};

/* Each value goes into the array open (key NULL) or the object open, under
 * key. json_end closes the array or object opened last. */
void json_begin_array(struct json *j, const char *key);
void json_begin_object(struct json *j, const char *key);
void json_end(struct json *j);
/* NULL is written as null. Bytes that are not UTF-8 become U+FFFD. */
void json_string(struct json *j, const char *key, const char *value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_bool(struct json *j, const char *key, bool value);

#endif

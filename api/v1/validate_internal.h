/*
 * validate_internal: the field readers validate.c and validate_release.c share. Each
 * fills struct api_error on a refusal (400 for a wrong type, 422 for a broken rule).
 */
#ifndef CMDB_API_VALIDATE_INTERNAL_H
#define CMDB_API_VALIDATE_INTERNAL_H

#include "api/v1/validate.h"

#define JSON_INT_MAX 9007199254740991LL /* 2^53 - 1 */

/* Fills e with status and the formatted message; returns -1. */
int validate_fail(struct api_error *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 400 naming the first member of obj that allowed (NULL-terminated) does not list. */
int validate_only(const cJSON *obj, const char *const *allowed, struct api_error *e);
/* A whole number in [min, max]: 1 absent, 0 present and valid, -1 invalid. */
int validate_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out,
                 struct api_error *e);
/* A string of at most maxlen bytes (pointing into obj): 1 absent, 0 valid, -1 invalid. */
int validate_string(const cJSON *obj, const char *name, size_t maxlen, const char **out,
                    struct api_error *e);
/* A boolean as 1 or 0: 1 absent, 0 valid, -1 invalid. */
int validate_bool(const cJSON *obj, const char *name, int *out, struct api_error *e);
/* rc of a reader, with "absent" (1) turned into 422 "<name> is required (<what>)". */
int validate_require(int rc, const char *name, const char *what, struct api_error *e);
/* 422 naming both when both members are given. */
int validate_one_of(const cJSON *body, const char *a, const char *b, struct api_error *e);

#endif

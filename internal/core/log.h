/*
 * log: one-line, timestamped log records on stderr, safe from any thread. Text (the
 * default): "2026-11-22T04:39:32.123Z level component: message". JSON
 * (CMDB_LOG_FORMAT=json): one object per line, {"time", "level", "module", "msg"} and
 * "release_id" / "node_id" when the record is about one.
 */
#ifndef CMDB_LOG_H
#define CMDB_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT = 0, LOG_JSON };

/* Records below this level are dropped; default LOG_INFO. Set before threads start. */
void log_set_level(enum log_level level);
/* Default LOG_TEXT. Set before threads start. */
void log_set_format(enum log_format format);

/* A record about release_id (and node_id) when they are not 0. */
void log_rel(enum log_level level, const char *component, int64_t release_id, int64_t node_id,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(comp, ...) log_msg(LOG_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_msg(LOG_ERROR, comp, __VA_ARGS__)

/*
 * Writes s escaped as the inside of a JSON string into out (always terminated when len > 0;
 * cut short when it does not fit) and returns the length the whole escape needs.
 */
size_t log_json_escape(const char *s, char *out, size_t len);

#endif

/*
 * duration: how long, written the way an operator writes it ("30s", "10m", "2h", "1h30m"),
 * parsed into milliseconds within the caller's bounds and printed back the same way. Used
 * by windows, @every schedules and bakes. Pure: no I/O, no globals.
 */
#ifndef CMDB_DURATION_H
#define CMDB_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_ERR_MAX  128 /* a message always fits a buffer of this size */
#define DURATION_TEXT_MAX 24  /* duration_format's longest output, with its terminator */
#define DURATION_DIGITS   15  /* at most this many digits in one number */

#define DURATION_SECOND_MS INT64_C(1000)
#define DURATION_MINUTE_MS INT64_C(60000)
#define DURATION_HOUR_MS   INT64_C(3600000)

/*
 * Parses s: one or more parts of a decimal number and a unit, h, m or s, the units in
 * that order and each at most once ("90m", "1h30m", "2h15s", "0045s"). Unlike Go's
 * time.ParseDuration there is no sign, no fraction ("1.5h": write "1h30m"), no unit below
 * a second (ms, us, ns), no repeated or reordered unit, and no unitless "0"; what it
 * accepts means what Go means. Whitespace is not allowed anywhere.
 *
 * The result is a whole number of seconds in [min_ms, max_ms] (0 <= min_ms <= max_ms).
 * Returns 0 with *out_ms set; CMDB_EINVAL with a message in err ("unknown unit 'd' at
 * position 2: use h, m or s", "longer than 24h") that names no field: the caller
 * prefixes it ("bake: ..."). *out_ms is untouched on error.
 */
int duration_parse(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out_ms, char *err,
                   size_t errlen);

/*
 * Writes ms (>= 0) in the form duration_parse reads, largest units first, zero parts left
 * out: 5400000 -> "1h30m", 3600000 -> "1h", 7215000 -> "2h15s", 0 -> "0s". A part below
 * a second is dropped. buf of DURATION_TEXT_MAX bytes holds any value; a shorter one gets
 * a terminated prefix.
 */
void duration_format(int64_t ms, char *buf, size_t len);

#endif

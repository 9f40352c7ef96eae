/*
 * poll: when to ask an agent again about a task. The delay grows with the task's age
 * (a tenth of the time since dispatch), between a floor and a ceiling: a quick apply
 * is noticed within a few tens of milliseconds, a slow one costs few requests, and
 * the time between an agent finishing and us noticing stays under about 10% of the
 * apply time (or the floor). The benchmark's floor driver uses the same schedule.
 */
#ifndef CMDB_POLL_H
#define CMDB_POLL_H

#include <stdint.h>

/* Delay before the next poll of a task dispatched elapsed_ms ago; in [min_ms, max_ms]. */
int release_poll_delay_ms(int64_t elapsed_ms, int min_ms, int max_ms);

#endif

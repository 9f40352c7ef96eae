/*
 * civil: epoch days <-> proleptic Gregorian dates, the algorithms of Howard Hinnant's
 * "chrono-Compatible Low-Level Date Algorithms" (eras of 400 years, March-based years).
 * Pure; every function is total on the values tz.h allows.
 */
#include "tz/tz.h"

#define DAY_MS INT64_C(86400000)

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t tz_days_from_civil(int64_t year, int month, int day)
{
	int64_t y = month <= 2 ? year - 1 : year;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, struct tz_civil *out)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int month = (int)(mp < 10 ? mp + 3 : mp - 9);

	out->year = (int)(yoe + era * 400 + (month <= 2));
	out->month = month;
	out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	/* 1970-01-01 was a Thursday. */
	out->weekday = (int)(days - floor_div(days + 4, 7) * 7 + 4);
}

void tz_civil_from_ms(int64_t ms, struct tz_civil *out)
{
	int64_t days = floor_div(ms, DAY_MS);
	int64_t in_day = ms - days * DAY_MS;

	tz_civil_from_days(days, out);
	out->hour = (int)(in_day / 3600000);
	out->minute = (int)(in_day / 60000 % 60);
	out->second = (int)(in_day / 1000 % 60);
	out->ms = (int)(in_day % 1000);
}

int64_t tz_ms_from_civil(const struct tz_civil *c)
{
	return tz_days_from_civil(c->year, c->month, c->day) * DAY_MS + c->hour * INT64_C(3600000) +
	       c->minute * INT64_C(60000) + c->second * INT64_C(1000) + c->ms;
}

int tz_month_days(int64_t year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 ? 28 + leap : days[month - 1];
}

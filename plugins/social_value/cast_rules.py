"""What a landed text value must look like for staging to cast it: one definition, two readers.

The setup creates SQL functions in schema `svw_cast` (create_functions). Staging casts every
timestamp, number and boolean with them (`svw_cast.to_utc(...)`, `to_number`, …), and the loader
checks every stage row with the same functions before the merge (loader.Stage), so a value
staging could not cast, or would cast to something it does not mean, is quarantined with its
reason instead of landing: relative words ('yesterday', 'now', 'epoch', 'infinity'), other date
orders ('15/09/2026', '09/15/2026'), impossible days, years outside FIRST_YEAR–LAST_YEAR, events
later than a day after their landing, non-numbers, booleans outside true/false/1/0. On a value
that breaks the rules anyway (landed before them), a staging function gives NULL rather than
raise. Landing tables declare their cast columns (RawTable.casts) with the kinds below.

The functions are single SQL expressions, so Postgres inlines them into the calling query: no
function call per row, and shapes are read with one anchored regular expression each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

SCHEMA = "svw_cast"
FIRST_YEAR, LAST_YEAR = 1990, 2099  # before any of the sources existed; after, a typo (9999)
FUTURE_SLACK = "1 day"  # an event may carry a clock a little ahead of the loader's


@dataclass(frozen=True)
class Kind:
    """How staging reads a column: `function` casts it, `problem` says why it cannot (NULL if it
    can). An event is a moment that has happened, so not later than its landing + FUTURE_SLACK:
    `moment` reads a value that has no problem (the cast without the check, read once)."""

    name: str
    function: str
    problem: str
    moment: str | None = None

    @property
    def event(self) -> bool:
        return self.moment is not None


TIMESTAMP = Kind("timestamp", "to_utc", "date_time_problem", moment="utc_of")
UNIX_TIME = Kind("unix time", "unix_to_utc", "unix_time_problem", moment="unix_utc_of")
DAY = Kind("day", "to_date", "date_time_problem", moment="date_of")  # a day that has happened
PLANNED_DATE = Kind("planned date", "to_date", "date_time_problem")  # a close or end date: ahead is fine
NUMBER = Kind("number", "to_number", "number_problem")
INTEGER = Kind("integer", "to_integer", "integer_problem")
BOOLEAN = Kind("boolean", "to_boolean", "boolean_problem")
KINDS = (TIMESTAMP, UNIX_TIME, DAY, PLANNED_DATE, NUMBER, INTEGER, BOOLEAN)

# ISO 8601 as the sources write it, year first (so no day/month order to guess): a date, or a date
# and time (seconds and fraction optional) with an optional zone; '/' for Yammer's REST form. No
# capturing groups: they send Postgres's regular expressions down a path several times slower.
_MONTH_DAY = "(?:0[1-9]|1[0-2]){0}(?:0[1-9]|[12][0-9]|3[01])"
_ISO = ("^[0-9]{4}(?:" + "|".join(sep + _MONTH_DAY.format(sep) for sep in "-/") + ")"
        "(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,9})?)?"
        " ?(?:Z|[+-](?:0[0-9]|1[0-4])(?::?[0-5][0-9])?)?)?$")
_EPOCH_FIRST = int(datetime(FIRST_YEAR, 1, 1, tzinfo=UTC).timestamp())
_EPOCH_LAST = int(datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC).timestamp()) - 1
_RELATIVE = "('now', 'today', 'yesterday', 'tomorrow', 'epoch', 'infinity', '-infinity', 'allballs')"

FUNCTIONS = f"""
create schema if not exists {SCHEMA};

create or replace function {SCHEMA}.date_time_problem(value text) returns text
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is null then null
        when trim(value) !~ '{_ISO}' then case
            when lower(trim(value)) in {_RELATIVE}
                then 'a relative word, whose date depends on when it is read'
            when trim(value) ~ '^[0-9]{{1,2}}[-/.][0-9]{{1,2}}[-/.][0-9]{{2,4}}'
                then 'day and month in an order that must be guessed (write YYYY-MM-DD)'
            else 'not an ISO 8601 date or timestamp (YYYY-MM-DD, then hh:mm[:ss] and a zone)'
        end
        when substr(trim(value), 1, 4)::integer not between {FIRST_YEAR} and {LAST_YEAR}
            then 'year outside {FIRST_YEAR}-{LAST_YEAR}'
        when substr(trim(value), 9, 2) > '28' and case
            when substr(trim(value), 6, 2) = '02' then substr(trim(value), 9, 2) > '29'
                or substr(trim(value), 1, 4)::integer % 4 <> 0
                or (substr(trim(value), 1, 4)::integer % 100 = 0
                    and substr(trim(value), 1, 4)::integer % 400 <> 0)
            else substr(trim(value), 6, 2) in ('04', '06', '09', '11') and substr(trim(value), 9, 2) > '30'
        end then 'no such day in the calendar'
    end
$$;

-- The *_of functions read a value that passed its check (they raise on others; NULL if blank):
-- a value without a zone is UTC (the sources say so); one with a zone is converted.
create or replace function {SCHEMA}.utc_of(value text) returns timestamptz
language sql stable parallel safe as $$
    select case
        when nullif(trim(value), '') is null then null
        when right(trim(value), 1) = 'Z' or strpos(substr(trim(value), 11), '+') > 0
            or strpos(substr(trim(value), 11), '-') > 0 then trim(value)::timestamptz
        else trim(value)::timestamp at time zone 'UTC'
    end
$$;

-- As Postgres casts a timestamp to a date: the day as written (a zone does not move it).
create or replace function {SCHEMA}.date_of(value text) returns date
language sql stable parallel safe as $$
    select left(nullif(trim(value), ''), 10)::date
$$;

create or replace function {SCHEMA}.to_utc(value text) returns timestamptz
language sql stable parallel safe as $$
    select case
        when nullif(trim(value), '') is not null and {SCHEMA}.date_time_problem(value) is null
            then {SCHEMA}.utc_of(value)
    end
$$;

create or replace function {SCHEMA}.to_date(value text) returns date
language sql stable parallel safe as $$
    select case
        when nullif(trim(value), '') is not null and {SCHEMA}.date_time_problem(value) is null
            then {SCHEMA}.date_of(value)
    end
$$;

-- Seconds since 1970 as Slack writes them ('1458980525.000012').
create or replace function {SCHEMA}.unix_time_problem(value text) returns text
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is null then null
        when trim(value) !~ '^[0-9]{{1,11}}(\\.[0-9]{{1,9}})?$' then 'not a Unix time in seconds'
        when trim(value)::numeric not between {_EPOCH_FIRST} and {_EPOCH_LAST}
            then 'year outside {FIRST_YEAR}-{LAST_YEAR}'
    end
$$;

create or replace function {SCHEMA}.unix_utc_of(value text) returns timestamptz
language sql immutable parallel safe as $$
    select to_timestamp(nullif(trim(value), '')::numeric)
$$;

create or replace function {SCHEMA}.unix_to_utc(value text) returns timestamptz
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is not null and {SCHEMA}.unix_time_problem(value) is null
            then {SCHEMA}.unix_utc_of(value)
    end
$$;

create or replace function {SCHEMA}.number_problem(value text) returns text
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is null then null
        when trim(value) !~ '^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]{{1,3}})?$'
            then 'not a number (digits, one decimal point, no thousands separators)'
    end
$$;

create or replace function {SCHEMA}.to_number(value text) returns numeric
language sql immutable parallel safe as $$
    select case when {SCHEMA}.number_problem(value) is null then nullif(trim(value), '')::numeric end
$$;

create or replace function {SCHEMA}.integer_problem(value text) returns text
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is null then null
        -- most counts: a regular expression of one state is read several times faster
        when value ~ '^[0-9]+$' and length(value) < 10 then null
        when trim(value) !~ '^[+-]?[0-9]{{1,10}}$' then 'not a whole number'
        when trim(value)::bigint not between -2147483648 and 2147483647 then 'a whole number too large'
    end
$$;

create or replace function {SCHEMA}.to_integer(value text) returns integer
language sql immutable parallel safe as $$
    select case when {SCHEMA}.integer_problem(value) is null then nullif(trim(value), '')::integer end
$$;

create or replace function {SCHEMA}.boolean_problem(value text) returns text
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is null then null
        when lower(trim(value)) not in ('true', 'false', '1', '0') then 'not one of true, false, 1, 0'
    end
$$;

-- NULL when absent: staging says what absent means (coalesce(..., false)).
create or replace function {SCHEMA}.to_boolean(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when nullif(trim(value), '') is null or {SCHEMA}.boolean_problem(value) is not null then null
        else lower(trim(value)) in ('true', '1')
    end
$$;
"""


def create_functions(conn: psycopg.Connection) -> None:
    """Create or replace the functions (the setup's owner runs this); loader and transformer use them."""
    conn.execute(FUNCTIONS)
    conn.execute(f"grant usage on schema {SCHEMA} to loader, transformer")

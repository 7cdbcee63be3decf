"""An independent reference implementation of METRICS.md, in plain Python, from the RAW tables only.

It never reads staging, core or marts: the point is a second, separately written computation of
every published number, so `tests/test_metrics_independent.py` can compare it with
marts.metric_values row by row. Raw columns are read by name; values are text as landed.
Arithmetic is exact (Fraction), medians follow percentile_cont(0.5).

Literal readings chosen where METRICS.md leaves room (the dbt models should agree or say why not):

Months and org units
- Months run from the first to the last month holding any event: any landed message (Viva Engage
  or Slack, whatever its kind), any Graph activity report row (report day), any activity event,
  the CloseDate of a closed non-deleted opportunity, any stage change (OpportunityHistory
  CreatedDate) of a non-deleted opportunity, the EndDate of a non-deleted project that has
  ended (EndDate on or before the CRM's as-of day, its latest SystemModstamp: the dbt model's
  documented choice), any survey response (partial ones too) by its creation date.
- Org units: 'ALL' plus every non-blank (trimmed) department of the Viva Engage user directory.
  Every metric has a row for every org unit and month (CRM and survey metrics too: a department
  that owns no opportunity shows 0 / 0), except active_departments ('ALL' only).
- A department row whose registered_users < 5 has value, numerator, denominator NULL, suppressed.
  Complementary suppression (the dbt model's documented choice beyond METRICS.md): where 'ALL'
  minus the visible departments leaves fewer than 5 registered people while some department is
  hidden, the visible department with the fewest registered users (then the first by name) is
  hidden as well.

Persons
- A person is a Viva Engage user or a non-bot Slack member with an email, identified by the HMAC
  of the trimmed, lower-cased email (the same key everywhere). Department: from the Viva Engage
  directory (Slack-only persons have none: 'ALL' only).
- Registered in a month: joined_at before the month ends and neither deleted_at nor suspended_at
  before it starts. A Viva Engage user without joined_at counts as joined since ever. Slack-only
  persons (Slack exports carry no join dates) are registered from their first landed message and,
  once deleted, until their last one; one who never wrote is not registered (the dbt model's
  documented choice, which a Slack-only organisation shows).
- registered_users ("registered at the end of the period") uses that shared definition of
  registered in a period: someone who leaves mid-month still counts in that month.
- active_users counts every person with an activity, registered or not (METRICS.md promises the
  two coincide; the reference does not force it: the simulator has view events and Slack
  reactions of people before they joined, so adoption_rate can exceed 1).

Messages
- Human: Viva Engage sender_type 'user' (any case) whose sender_id is a known user; Slack messages
  with a `user` that is a person and no bot_id. Not human: message_type/subtype system, join or
  tombstone, which for Slack means the subtypes in SLACK_NOT_HUMAN; deleted (deleted_at or
  deleted_by_id set; Slack tombstone / message_deleted).
- Viva Engage thread starter: replied_to_id empty; thread = thread_id. Slack: thread = (channel,
  thread_ts or ts); a message whose thread_ts is absent or equal to its ts starts it.
- Slack times: `ts` seconds since the epoch, UTC.

Activity
- likes: Graph Liked Count (empty = 0) per report day; Slack reactions: one like per (reaction,
  user) on any landed message, dated by that message's ts (Slack keeps no reaction time).
- reads: Graph Read Count plus event_type 'view'; downloads: event_type 'download'. Other event
  types (share, ...) are no activity. Events and Graph rows of emails that are no person count
  nowhere; concealed Graph rows (32-hex principal names) count in 'ALL' likes and reads (hence in
  the 'ALL' numerator of actions_per_active_user) and in no person-based metric.
- A person is active in a month with a post, reply, like, read or download in it.

Teams
- groups: Viva Engage groups created before the month ends and not (deleted = true with
  updated_at before the month ends), plus Slack public channels (is_private not true) created
  before the month ends; archived channels are not deleted. A group's department is its creator's.
- active_groups: Viva Engage groups (any group_id of a human message) and Slack public channels
  with a human message in the month; department = the group creator's.
- cross_department_threads: threads whose human messages of the month come from >= 2 departments;
  a department row counts the threads it wrote in.

Content
- questions: posts with message_type 'question' or whose text, after repeatedly removing trailing
  white space, URLs (http(s)://..., www...., Slack <http...>) and hashtags (the grammar below),
  ends in '?'. answered_questions / response_rate / median_hours_to_first_answer: a reply by a
  different person, whenever it came; counted in the question's (post's) month; department =
  the asker's.
- Hashtags: the text is NFC-normalised, then '#' + a maximal run of Unicode letters, decimal digits,
  '_' or '-' holding a letter, the '#' not preceded by a letter, digit, '&' or '/'; compared
  lower-cased. hashtag_messages: human messages with any hashtag.

Added value
- Registry (the dbt seed's defaults): intranetwerkt customer_impact, watdeklantvindt
  customer_feedback, gedoe pain_point, opgelost resolution.
- pain_points_resolved: a pain point whose thread holds a human resolution-tagged message created
  strictly later; counted in the pain point's month; hours to the first such message.
- median_days_to_quote: month of the first 'Proposal/Price Quote' history row (METRICS.md's own
  definition "first reached ... in the period"; its cohort sentence also names 'quoted' - the
  metric's definition wins here), days from the opportunity's CreatedDate.
- Socially supported: a maximal ASCII alphanumeric run of 15 or 18 characters in a human message
  (Viva Engage or Slack) whose first 15 characters equal the opportunity Id's, the message's UTC
  date on or before the CloseDate.
- Opportunity department = owner's (Salesforce User.Email lower-cased -> person). Projects:
  non-deleted, EndDate in the month; a project of a deleted opportunity is left out, one whose
  opportunity is unknown counts in 'ALL' and as not supported; projects lacking revenue or cost
  are left out.
- Surveys: survey_responses = completed responses of any survey (SurveyMonkey response_status
  'completed', Qualtrics Finished 1/true), month of creation (SurveyMonkey date_created, Qualtrics
  StartDate). csat / nps count every answer to the mapped question, partial responses included,
  in the response's creation month; the score is the first number in the choice text. Department =
  the account owner's. Which question is CSAT/NPS: SURVEY_QUESTION_MAP below.

Missing sources and configurable choices
- A source is missing when none of its raw tables in SOURCE_TABLES holds a row. A metric is not
  measured when every source that can feed it (METRIC_FEEDERS, read from the definitions above)
  is missing: its rows have value, numerator and denominator NULL (suppression is unchanged).
- reporting_start (the dbt var): months before its month are left out of the range.
- dormant_after_months N (the dbt var): a person counts as registered in a month only if they
  were active (the activity above) in it or the N - 1 months before, or joined in them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import psycopg


def _project_var(name: str) -> int:
    """A numeric var of dbt_project.yml, so the reference follows the project's setting."""
    text = (Path(__file__).resolve().parents[1] / "dbt" / "dbt_project.yml").read_text()
    return int(re.search(rf"^\s+{name}:\s*(\d+)", text, re.M).group(1))


MIN_GROUP_SIZE = _project_var("min_group_size")
MINUTES_SAVED_PER_ANSWER = 15
ALL = "ALL"
QUOTE_STAGE = "Proposal/Price Quote"
HASHTAG_REGISTRY = {"intranetwerkt": "customer_impact", "watdeklantvindt": "customer_feedback",
                    "gedoe": "pain_point", "opgelost": "resolution"}
NOT_HUMAN_TYPES = {"system", "join", "tombstone"}
SLACK_NOT_HUMAN = {
    "bot_message", "channel_join", "group_join", "channel_leave", "group_leave", "tombstone",
    "message_deleted", "channel_topic", "group_topic", "channel_purpose", "group_purpose",
    "channel_name", "group_name", "channel_archive", "group_archive", "channel_unarchive",
    "group_unarchive"}

# ---------------------------------------------------------------------------------------------
# SURVEY QUESTION MAP — configuration, not code (METRICS.md). Stand-in for the dbt seed
# dbt/seeds/survey_question_map.csv until it exists: the simulator's survey_world constants.
# (source, survey or file, question / field) -> role; account: where a response names its account.
SURVEY_QUESTION_MAP = {
    ("surveymonkey", "812340001"): "csat",  # survey_world.CSAT_QUESTION_ID
    ("surveymonkey", "812340002"): "nps",  # survey_world.NPS_QUESTION_ID
    ("qualtrics", "Q1"): "csat",
    ("qualtrics", "Q2"): "nps",
}
SURVEYMONKEY_ACCOUNT_VARIABLE = "account_id"  # custom_variables key
QUALTRICS_ACCOUNT_FIELD = "AccountId"  # embedded data field
# ---------------------------------------------------------------------------------------------

COUNT, RATIO, MEDIAN, NPS = "count", "ratio", "median", "nps"
METRICS: dict[str, tuple[int, str]] = {
    "registered_users": (1, COUNT), "active_users": (1, COUNT), "contributing_users": (1, COUNT),
    "adoption_rate": (1, RATIO), "contribution_rate": (1, RATIO),
    "groups": (2, COUNT), "active_groups": (2, COUNT), "active_departments": (2, COUNT),
    "cross_department_threads": (2, COUNT),
    "posts": (3, COUNT), "replies": (3, COUNT), "likes": (3, COUNT), "reads": (3, COUNT),
    "downloads": (3, COUNT), "actions_per_active_user": (3, RATIO),
    "questions": (4, COUNT), "answered_questions": (4, COUNT), "answer_rate": (4, RATIO),
    "median_hours_to_first_answer": (4, MEDIAN), "response_rate": (4, RATIO),
    "hashtag_messages": (4, COUNT),
    "customer_impact_messages": (5, COUNT), "customer_feedback_messages": (5, COUNT),
    "pain_points": (5, COUNT), "pain_points_resolved": (5, COUNT),
    "median_hours_to_resolution": (5, MEDIAN), "hours_saved": (5, COUNT),
    "opportunities_closed": (5, COUNT), "opportunities_won": (5, COUNT), "win_rate": (5, RATIO),
    "win_rate_social": (5, RATIO), "win_rate_other": (5, RATIO), "median_days_to_quote": (5, MEDIAN),
    "delivery_margin": (5, RATIO), "delivery_margin_social": (5, RATIO),
    "delivery_margin_other": (5, RATIO), "survey_responses": (5, COUNT), "csat": (5, RATIO),
    "nps": (5, NPS),
}


# Which raw tables make a source present, and which sources can feed each metric: read from the
# definitions above (persons and messages come from Viva Engage and Slack; likes from Graph and
# Slack reactions; reads from Graph and view events; downloads from events).
SOURCE_TABLES = {
    "viva_engage": [("raw_viva_engage", "users"), ("raw_viva_engage", "messages")],
    "msgraph": [("raw_msgraph", "yammer_activity_user_detail")],
    "slack": [("raw_slack", "users"), ("raw_slack", "messages")],
    "activity_events": [("raw_activity_events", "events")],
    "salesforce": [("raw_salesforce", "opportunities")],
    "surveymonkey": [("raw_surveymonkey", "responses")],
    "qualtrics": [("raw_qualtrics", "responses")],
}
INTRANET = ("viva_engage", "slack")
CRM = ("salesforce",)
SURVEYS = ("surveymonkey", "qualtrics")
METRIC_FEEDERS: dict[str, tuple[str, ...]] = {
    **{metric: INTRANET for metric, (level, _) in METRICS.items() if level < 5},
    "likes": ("msgraph", "slack"), "reads": ("msgraph", "activity_events"),
    "downloads": ("activity_events",),
    **{metric: INTRANET for metric in ("customer_impact_messages", "customer_feedback_messages",
                                       "pain_points", "pain_points_resolved",
                                       "median_hours_to_resolution", "hours_saved")},
    **{metric: CRM for metric in ("opportunities_closed", "opportunities_won", "win_rate",
                                  "win_rate_social", "win_rate_other", "median_days_to_quote",
                                  "delivery_margin", "delivery_margin_social", "delivery_margin_other")},
    **{metric: SURVEYS for metric in ("survey_responses", "csat", "nps")},
}


def present_sources(conn: psycopg.Connection) -> set[str]:
    """The sources with at least one row in one of their raw tables."""
    return {source for source, tables in SOURCE_TABLES.items()
            if any(_table_exists(conn, schema, table) and conn.execute(
                f'select exists (select 1 from "{schema}"."{table}")').fetchone()[0]
                for schema, table in tables)}


# --- small parsers --------------------------------------------------------------------------

def parse_time(text: str | None) -> datetime | None:
    """ISO-8601 (Z, +00:00, +0000, no offset = UTC) or the REST form '2013/03/13 21:08:48 +0000'."""
    if not text or not text.strip():
        return None
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.strptime(value, "%Y/%m/%d %H:%M:%S %z")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def slack_time(ts: str) -> datetime:
    seconds, _, fraction = ts.partition(".")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micros)


def is_true(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1", "t", "yes")


def blank(text: str | None) -> bool:
    return not (text or "").strip()


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    return (datetime(month.year, month.month, 1, tzinfo=UTC),
            datetime.combine(next_month(month), datetime.min.time(), UTC))


def hours_between(start: datetime, end: datetime) -> Fraction:
    delta = end - start
    return (Fraction(delta.days * 86_400 + delta.seconds) + Fraction(delta.microseconds, 1_000_000)) / 3600


def person_key(email: str, key: str) -> str:
    return hmac.new(key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def median(values: list[Fraction]) -> Fraction | None:
    """percentile_cont(0.5): the middle value, or the mean of the two middle ones."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# --- text rules -----------------------------------------------------------------------------

def _is_tag_char(char: str) -> bool:
    return char.isalpha() or unicodedata.category(char) == "Nd" or char in "_-"


def hashtag_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, lower-cased tag) of each hashtag in NFC-normalised `text` (METRICS.md grammar)."""
    position = 0
    while (start := text.find("#", position)) >= 0:
        end = start + 1
        while end < len(text) and _is_tag_char(text[end]):
            end += 1
        before = text[start - 1] if start else ""
        blocked = bool(before) and (before.isalpha() or unicodedata.category(before) == "Nd"
                                    or before in "&/")
        run = text[start + 1:end]
        if not blocked and any(char.isalpha() for char in run):
            yield start, end, run.lower()
        position = max(end, start + 1)


def hashtags(text: str | None) -> set[str]:
    return {tag for _, _, tag in hashtag_spans(unicodedata.normalize("NFC", text or ""))}


_TRAILING_URL = re.compile(r"(?:^|(?<=\s))(?:<https?://[^>]*>|(?:https?://|www\.)\S+)$", re.IGNORECASE)


def looks_like_question(text: str | None) -> bool:
    """Ends in '?' once trailing hashtags, URLs and white space are removed."""
    rest = unicodedata.normalize("NFC", text or "")
    while True:
        rest = rest.rstrip()
        url = _TRAILING_URL.search(rest)
        if url:
            rest = rest[:url.start()]
            continue
        tail = [span for span in hashtag_spans(rest) if span[1] == len(rest)]
        if tail:
            rest = rest[:tail[0][0]]
            continue
        return rest.endswith("?")


_ID_TOKEN = re.compile(r"[A-Za-z0-9]+")


def salesforce_id_prefixes(text: str | None) -> set[str]:
    """First 15 characters of every whole 15- or 18-character alphanumeric token in `text`."""
    return {token[:15] for token in _ID_TOKEN.findall(text or "") if len(token) in (15, 18)}


def survey_score(text: str | None) -> int | None:
    """A choice's score is the number in its text ('5 - Zeer tevreden' -> 5), not its position."""
    found = re.search(r"\d+", text or "")
    return int(found.group()) if found else None


# --- what is read from raw ------------------------------------------------------------------

@dataclass
class Person:
    key: str
    department: str | None = None
    # (joined, left) pairs; None joined = since ever, None left = still there.
    spells: list[tuple[datetime | None, datetime | None]] = field(default_factory=list)

    def registered(self, month: date) -> bool:
        start, end = month_bounds(month)
        return any((joined is None or joined < end) and (left is None or left >= start)
                   for joined, left in self.spells)


@dataclass(frozen=True)
class Message:
    platform: str
    thread: tuple[str, ...]
    group: tuple[str, str] | None  # ('viva_engage', id) or ('slack', channel) for public channels
    person: str
    created: datetime
    is_starter: bool
    is_question_type: bool
    text: str


@dataclass
class Raw:
    persons: dict[str, Person]
    departments: list[str]
    messages: list[Message]
    event_months: set[date]


def _rows(conn: psycopg.Connection, query: str, name: str) -> Iterator[dict]:
    """Rows as dicts through a server-side cursor (big tables stream)."""
    with conn.cursor(name=f"ref_{name}") as cursor:
        cursor.itersize = 5000
        cursor.execute(query)
        columns = None
        for row in cursor:
            columns = columns or [column.name for column in cursor.description]
            yield dict(zip(columns, row, strict=True))


def _table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',)).fetchone()[0]


def _select(conn: psycopg.Connection, schema: str, table: str) -> Iterator[dict]:
    if not _table_exists(conn, schema, table):
        return iter(())
    return _rows(conn, f'select * from "{schema}"."{table}"', f"{schema}_{table}")


def read_persons(conn: psycopg.Connection, key: str
                 ) -> tuple[dict[str, Person], dict[str, str], dict[str, str], list[str]]:
    """Persons by key, Viva Engage user id -> key, Slack user id -> key, the directory's departments."""
    persons: dict[str, Person] = {}
    ve_ids: dict[str, str] = {}
    departments: set[str] = set()
    for user in _select(conn, "raw_viva_engage", "users"):
        if blank(user["email"]):
            continue
        pkey = person_key(user["email"], key)
        person = persons.setdefault(pkey, Person(pkey))
        department = (user["department"] or "").strip() or None
        if department:
            departments.add(department)
            person.department = person.department or department
        ends = [t for t in (parse_time(user["deleted_at"]), parse_time(user["suspended_at"])) if t]
        person.spells.append((parse_time(user["joined_at"]), min(ends) if ends else None))
        ve_ids[user["id"]] = pkey
    slack_ids: dict[str, str] = {}
    slack_only: dict[str, bool] = {}  # person key -> deleted
    for member in _select(conn, "raw_slack", "users"):
        if is_true(member["is_bot"]) or blank(member["email"]):
            continue
        pkey = person_key(member["email"], key)
        if pkey not in persons:
            persons[pkey] = Person(pkey)
            slack_only[pkey] = is_true(member["deleted"])
        slack_ids[member["id"]] = pkey
    # A Slack-only member is registered from their first landed message and, once deleted, until
    # their last one; one who never wrote has no known registration.
    written: dict[str, list[datetime]] = {}
    for row in _select(conn, "raw_slack", "messages"):
        pkey = slack_ids.get(row["user"] or "")
        if pkey in slack_only:
            moment = slack_time(row["ts"])
            first, last = written.get(pkey, (moment, moment))
            written[pkey] = [min(first, moment), max(last, moment)]
    for pkey, (first, last) in written.items():
        persons[pkey].spells.append((first, last if slack_only[pkey] else None))
    return persons, ve_ids, slack_ids, sorted(departments)


def read_messages(conn: psycopg.Connection, ve_ids: dict[str, str], slack_ids: dict[str, str],
                  event_months: set[date]) -> list[Message]:
    """Human messages of both platforms (and every message's month into event_months)."""
    out = []
    for row in _select(conn, "raw_viva_engage", "messages"):
        created = parse_time(row["created_at"])
        if created is None:
            continue
        event_months.add(month_of(created))
        kind = (row["message_type"] or "").strip().lower()
        human = ((row["sender_type"] or "").strip().lower() == "user" and row["sender_id"] in ve_ids
                 and kind not in NOT_HUMAN_TYPES and blank(row["deleted_at"]) and blank(row["deleted_by_id"]))
        if human:
            group = ("viva_engage", row["group_id"]) if not blank(row["group_id"]) else None
            out.append(Message("viva_engage", ("viva_engage", row["thread_id"] or row["id"]), group,
                               ve_ids[row["sender_id"]], created, blank(row["replied_to_id"]),
                               kind == "question", row["body"] or ""))
    public = {row["id"] for row in _select(conn, "raw_slack", "channels") if not is_true(row["is_private"])}
    for row in _select(conn, "raw_slack", "messages"):
        created = slack_time(row["ts"])
        event_months.add(month_of(created))
        subtype = (row["subtype"] or "").strip().lower()
        human = (row["user"] in slack_ids and blank(row["bot_id"]) and subtype not in SLACK_NOT_HUMAN
                 and (row["type"] or "message") == "message")
        if human:
            thread_ts = row["thread_ts"] or row["ts"]
            group = ("slack", row["channel_id"]) if row["channel_id"] in public else None
            out.append(Message("slack", ("slack", row["channel_id"], thread_ts), group,
                               slack_ids[row["user"]], created, thread_ts == row["ts"], False,
                               row["text"] or ""))
    return out


# --- the tally: what each (metric, month, org unit) row is made of --------------------------

@dataclass
class Tally:
    counts: dict = field(default_factory=lambda: defaultdict(Fraction))
    numerators: dict = field(default_factory=lambda: defaultdict(Fraction))
    denominators: dict = field(default_factory=lambda: defaultdict(Fraction))
    samples: dict = field(default_factory=lambda: defaultdict(list))
    # Active persons per (month, org unit): level 2's active_departments reads them.
    active_people: dict = field(default_factory=lambda: defaultdict(set))

    def count(self, metric: str, month: date, units: Iterable[str], amount: Fraction | int = 1) -> None:
        for unit in units:
            self.counts[metric, month, unit] += amount

    def ratio(self, metric: str, month: date, units: Iterable[str], numerator: Fraction | int,
              denominator: Fraction | int) -> None:
        for unit in units:
            self.numerators[metric, month, unit] += numerator
            self.denominators[metric, month, unit] += denominator

    def sample(self, metric: str, month: date, units: Iterable[str], value: Fraction) -> None:
        for unit in units:
            self.samples[metric, month, unit].append(value)


def units_of(department: str | None) -> tuple[str, ...]:
    return (ALL, department) if department else (ALL,)


# --- metric families ------------------------------------------------------------------------

def users_and_activity(conn: psycopg.Connection, key: str, raw: Raw, tally: Tally,
                       slack_ids: dict[str, str]) -> None:
    """Levels 1 and 3: posts, replies, likes, reads, downloads; active and contributing persons."""
    active = tally.active_people
    contributing: dict[tuple[date, str], set[str]] = defaultdict(set)
    persons = raw.persons

    def act(metric: str, month: date, pkey: str, amount: int) -> None:
        units = units_of(persons[pkey].department)
        tally.count(metric, month, units, amount)
        if amount > 0:
            for unit in units:
                active[month, unit].add(pkey)

    for message in raw.messages:
        month = month_of(message.created)
        act("posts" if message.is_starter else "replies", month, message.person, 1)
        for unit in units_of(persons[message.person].department):
            contributing[month, unit].add(message.person)
    for row in _select(conn, "raw_slack", "messages"):
        for reaction in json.loads(row["reactions"]) if row["reactions"] else []:
            for user in reaction.get("users") or []:
                if user in slack_ids:
                    act("likes", month_of(slack_time(row["ts"])), slack_ids[user], 1)
    concealed = re.compile(r"[0-9A-Fa-f]{32}")
    for row in _select(conn, "raw_msgraph", "yammer_activity_user_detail"):
        day = date.fromisoformat(row["report_refresh_date"].strip()[:10])
        raw.event_months.add(month_of(day))
        likes, reads = int(row["liked_count"] or 0), int(row["read_count"] or 0)
        upn = (row["user_principal_name"] or "").strip()
        if concealed.fullmatch(upn):
            tally.count("likes", month_of(day), (ALL,), likes)
            tally.count("reads", month_of(day), (ALL,), reads)
            continue
        pkey = person_key(upn, key) if upn else None
        if pkey in persons:
            act("likes", month_of(day), pkey, likes)
            act("reads", month_of(day), pkey, reads)
    for row in _select(conn, "raw_activity_events", "events"):
        moment = parse_time(row["occurred_at"])
        if moment is None:
            continue
        raw.event_months.add(month_of(moment))
        metric = {"view": "reads", "download": "downloads"}.get((row["event_type"] or "").strip().lower())
        pkey = person_key(row["user_email"], key) if not blank(row["user_email"]) else None
        if metric and pkey in persons:
            act(metric, month_of(moment), pkey, 1)
    for (month, unit), people in active.items():
        tally.count("active_users", month, (unit,), len(people))
    for (month, unit), people in contributing.items():
        tally.count("contributing_users", month, (unit,), len(people))


def months_back(month: date, n: int) -> date:
    for _ in range(n):
        month = date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)
    return month


def registered(raw: Raw, months: list[date], tally: Tally, dormant_after_months: int | None = None) -> None:
    for month in months:
        window = [months_back(month, n) for n in range(dormant_after_months or 0)]
        since = datetime.combine(window[-1], datetime.min.time(), UTC) if window else None
        for person in raw.persons.values():
            if not person.registered(month):
                continue
            if window and not (
                    any(person.key in tally.active_people.get((earlier, ALL), ()) for earlier in window)
                    or any(joined is not None and joined >= since for joined, _ in person.spells)):
                continue  # dormant: no activity and no registration in the window
            tally.count("registered_users", month, units_of(person.department))


def teams(conn: psycopg.Connection, raw: Raw, months: list[date], tally: Tally,
          ve_ids: dict[str, str], slack_ids: dict[str, str]) -> None:
    """Level 2: groups, active groups, active departments, cross-department threads."""
    creator_department: dict[tuple[str, str], str | None] = {}
    existing: list[tuple[tuple[str, str], datetime | None, datetime | None]] = []
    for row in _select(conn, "raw_viva_engage", "groups"):
        group = ("viva_engage", row["id"])
        creator = ve_ids.get(row["created_by_id"] or "")
        creator_department[group] = raw.persons[creator].department if creator else None
        deleted = parse_time(row["updated_at"]) if is_true(row["deleted"]) else None
        existing.append((group, parse_time(row["created_at"]), deleted))
    for row in _select(conn, "raw_slack", "channels"):
        if is_true(row["is_private"]):
            continue
        group = ("slack", row["id"])
        creator = slack_ids.get(row["creator"] or "")
        creator_department[group] = raw.persons[creator].department if creator else None
        created = datetime.fromtimestamp(int(row["created"]), UTC) if not blank(row["created"]) else None
        existing.append((group, created, None))
    for month in months:
        _, end = month_bounds(month)
        for group, created, deleted in existing:
            if (created is None or created < end) and not (deleted is not None and deleted < end):
                tally.count("groups", month, units_of(creator_department[group]))
    active_groups: set[tuple[date, tuple[str, str]]] = set()
    thread_departments: dict[tuple[date, tuple[str, ...]], set[str]] = defaultdict(set)
    for message in raw.messages:
        month = month_of(message.created)
        if message.group:
            active_groups.add((month, message.group))
        department = raw.persons[message.person].department
        if department:
            thread_departments[month, message.thread].add(department)
    for month, group in active_groups:
        tally.count("active_groups", month, units_of(creator_department.get(group)))
    for (month, _), departments in thread_departments.items():
        if len(departments) >= 2:
            tally.count("cross_department_threads", month, (ALL, *departments))
    for (month, unit), people in tally.active_people.items():
        if unit != ALL and people:
            tally.count("active_departments", month, (ALL,))


def content_and_hashtags(raw: Raw, tally: Tally) -> None:
    """Level 4 and the hashtag half of level 5 (cohorts: the question's / post's month)."""
    threads: dict[tuple[str, ...], list[Message]] = defaultdict(list)
    for message in raw.messages:
        threads[message.thread].append(message)
    for message in raw.messages:
        month = month_of(message.created)
        units = units_of(raw.persons[message.person].department)
        tags = hashtags(message.text)
        if tags:
            tally.count("hashtag_messages", month, units)
        outcomes = {HASHTAG_REGISTRY[tag] for tag in tags if tag in HASHTAG_REGISTRY}
        for outcome, metric in (("customer_impact", "customer_impact_messages"),
                                ("customer_feedback", "customer_feedback_messages"),
                                ("pain_point", "pain_points")):
            if outcome in outcomes:
                tally.count(metric, month, units)
        if "pain_point" in outcomes:
            resolutions = [other.created for other in threads[message.thread]
                           if other.created > message.created
                           and "resolution" in {HASHTAG_REGISTRY.get(t) for t in hashtags(other.text)}]
            if resolutions:
                tally.count("pain_points_resolved", month, units)
                tally.sample("median_hours_to_resolution", month, units,
                             hours_between(message.created, min(resolutions)))
        if not message.is_starter:
            continue
        answers = [other.created for other in threads[message.thread]
                   if not other.is_starter and other.person != message.person]
        tally.ratio("response_rate", month, units, 1 if answers else 0, 1)
        if message.is_question_type or looks_like_question(message.text):
            tally.count("questions", month, units)
            tally.ratio("answer_rate", month, units, 1 if answers else 0, 1)
            if answers:
                tally.count("answered_questions", month, units)
                tally.count("hours_saved", month, units, Fraction(MINUTES_SAVED_PER_ANSWER, 60))
                tally.sample("median_hours_to_first_answer", month, units,
                             hours_between(message.created, min(answers)))


def crm(conn: psycopg.Connection, key: str, raw: Raw, tally: Tally) -> None:
    """Level 5 CRM metrics: closed/won, win rates, days to quote, delivery margins."""
    owner_department: dict[str, str | None] = {}
    for user in _select(conn, "raw_salesforce", "users"):
        person = raw.persons.get(person_key(user["Email"], key)) if not blank(user["Email"]) else None
        owner_department[user["Id"]] = person.department if person else None
    first_mention: dict[str, date] = {}
    for message in raw.messages:
        for prefix in salesforce_id_prefixes(message.text):
            day = message.created.date()
            first_mention[prefix] = min(day, first_mention.get(prefix, day))
    opportunities: dict[str, dict] = {}
    deleted: set[str] = set()
    for row in _select(conn, "raw_salesforce", "opportunities"):
        if is_true(row["IsDeleted"]):
            deleted.add(row["Id"])
            continue
        close = date.fromisoformat(row["CloseDate"][:10]) if not blank(row["CloseDate"]) else None
        mention = first_mention.get(row["Id"][:15])
        opportunities[row["Id"]] = {
            "close": close, "created": parse_time(row["CreatedDate"]),
            "department": owner_department.get(row["OwnerId"] or ""),
            "supported": bool(mention and close and mention <= close)}
        if is_true(row["IsClosed"]) and close:
            raw.event_months.add(month_of(close))
            units = units_of(opportunities[row["Id"]]["department"])
            won = 1 if is_true(row["IsWon"]) else 0
            tally.count("opportunities_closed", month_of(close), units)
            tally.count("opportunities_won", month_of(close), units, won)
            tally.ratio("win_rate", month_of(close), units, won, 1)
            split = "win_rate_social" if opportunities[row["Id"]]["supported"] else "win_rate_other"
            tally.ratio(split, month_of(close), units, won, 1)
    first_quote: dict[str, datetime] = {}
    for row in _select(conn, "raw_salesforce", "opportunity_history"):
        if row["OpportunityId"] not in opportunities or is_true(row["IsDeleted"]):
            continue
        moment = parse_time(row["CreatedDate"])
        if moment is None:
            continue
        raw.event_months.add(month_of(moment))
        if (row["StageName"] or "").strip() == QUOTE_STAGE:
            earlier = first_quote.get(row["OpportunityId"])
            first_quote[row["OpportunityId"]] = min(moment, earlier) if earlier else moment
    for opportunity_id, quoted in first_quote.items():
        opportunity = opportunities[opportunity_id]
        if opportunity["created"] is None:
            continue
        days = hours_between(opportunity["created"], quoted) / 24
        tally.sample("median_days_to_quote", month_of(quoted), units_of(opportunity["department"]), days)
    # A project has ended once its EndDate is on or before the CRM's as-of day (the latest
    # SystemModstamp of opportunities and projects): a planned end in the future is no event yet.
    as_of = max(filter(None, (parse_time(row["SystemModstamp"])
                              for table in ("opportunities", "projects")
                              for row in _select(conn, "raw_salesforce", table))), default=None)
    for row in _select(conn, "raw_salesforce", "projects"):
        if is_true(row["IsDeleted"]) or row["OpportunityId"] in deleted or blank(row["EndDate"]):
            continue
        end_day = date.fromisoformat(row["EndDate"][:10])
        if as_of is None or end_day > as_of.date():
            continue
        end = month_of(end_day)
        raw.event_months.add(end)
        if blank(row["Revenue"]) or blank(row["Cost"]):
            continue
        revenue, cost = Fraction(row["Revenue"]), Fraction(row["Cost"])
        opportunity = opportunities.get(row["OpportunityId"] or "", {"department": None, "supported": False})
        units = units_of(opportunity["department"])
        tally.ratio("delivery_margin", end, units, revenue - cost, revenue)
        split = "delivery_margin_social" if opportunity["supported"] else "delivery_margin_other"
        tally.ratio(split, end, units, revenue - cost, revenue)


def surveys(conn: psycopg.Connection, key: str, raw: Raw, tally: Tally) -> None:
    """Level 5 survey metrics: completed responses, csat and nps by response creation month."""
    owner_department: dict[str, str | None] = {}
    for user in _select(conn, "raw_salesforce", "users"):
        person = raw.persons.get(person_key(user["Email"], key)) if not blank(user["Email"]) else None
        owner_department[user["Id"]] = person.department if person else None
    account_department = {row["Id"]: owner_department.get(row["OwnerId"] or "")
                           for row in _select(conn, "raw_salesforce", "accounts")}
    responses: dict[tuple[str, str], tuple[date, tuple[str, ...]]] = {}
    for row in _select(conn, "raw_surveymonkey", "responses"):
        created = parse_time(row["created_at"] or row["date_created"])
        if created is None:
            continue
        variables = json.loads(row["custom_variables"]) if row["custom_variables"] else {}
        account = (variables or {}).get(SURVEYMONKEY_ACCOUNT_VARIABLE)
        responses["surveymonkey", row["id"]] = (month_of(created), units_of(account_department.get(account)))
        raw.event_months.add(month_of(created))
        if (row["response_status"] or "").strip().lower() == "completed":
            tally.count("survey_responses", month_of(created), units_of(account_department.get(account)))
    qualtrics_accounts = {row["ResponseId"]: row["value"] for row in _select(conn, "raw_qualtrics", "answers")
                          if row["field"] == QUALTRICS_ACCOUNT_FIELD}
    for row in _select(conn, "raw_qualtrics", "responses"):
        created = parse_time(row["start_at"] or row["StartDate"])
        if created is None:
            continue
        units = units_of(account_department.get(qualtrics_accounts.get(row["ResponseId"], "")))
        responses["qualtrics", row["ResponseId"]] = (month_of(created), units)
        raw.event_months.add(month_of(created))
        if is_true(row["Finished"]):
            tally.count("survey_responses", month_of(created), units)
    answers = [("surveymonkey", row["response_id"], row["question_id"], row["choice_text"] or row["text"])
               for row in _select(conn, "raw_surveymonkey", "answers")]
    answers += [("qualtrics", row["ResponseId"], row["field"], row["value"])
                for row in _select(conn, "raw_qualtrics", "answers")]
    for source, response_id, question, text in answers:
        role = SURVEY_QUESTION_MAP.get((source, question))
        score = survey_score(text)
        if role is None or score is None or (source, response_id) not in responses:
            continue
        month, units = responses[source, response_id]
        if role == "csat" and 1 <= score <= 5:
            tally.ratio("csat", month, units, 1 if score >= 4 else 0, 1)
        elif role == "nps" and 0 <= score <= 10:
            tally.ratio("nps", month, units, 1 if score >= 9 else -1 if score <= 6 else 0, 1)


# --- assembling metric_values rows ----------------------------------------------------------

@dataclass(frozen=True)
class Row:
    metric_key: str
    level: int
    period_start: date
    org_unit: str
    value: Fraction | None
    numerator: Fraction | None
    denominator: Fraction | None
    suppressed: bool


def month_range(months: set[date]) -> list[date]:
    if not months:
        return []
    out, month = [], min(months)
    while month <= max(months):
        out.append(month)
        month = next_month(month)
    return out


def metric_row(metric: str, month: date, unit: str, tally: Tally, suppressed: bool) -> Row:
    level, kind = METRICS[metric]
    if suppressed:
        return Row(metric, level, month, unit, None, None, None, True)
    cell = (metric, month, unit)
    if kind == COUNT:
        return Row(metric, level, month, unit, tally.counts.get(cell, Fraction(0)), None, None, False)
    if kind == MEDIAN:
        values = tally.samples.get(cell, [])
        return Row(metric, level, month, unit, median(values), None, Fraction(len(values)), False)
    numerator = tally.numerators.get(cell, Fraction(0))
    denominator = tally.denominators.get(cell, Fraction(0))
    scale = 100 if kind == NPS else 1
    value = scale * numerator / denominator if denominator else None
    return Row(metric, level, month, unit, value, numerator, denominator, False)


def _derived_ratios(tally: Tally, months: list[date], units: list[str]) -> None:
    """Ratios of counts (adoption, contribution, actions per active user)."""
    for month in months:
        for unit in units:
            counts = {name: tally.counts.get((name, month, unit), Fraction(0)) for name in (
                "active_users", "registered_users", "contributing_users", "posts", "replies", "likes",
                "reads", "downloads")}
            tally.ratio("adoption_rate", month, (unit,), counts["active_users"], counts["registered_users"])
            tally.ratio("contribution_rate", month, (unit,), counts["contributing_users"],
                        counts["active_users"])
            actions = sum(counts[name] for name in ("posts", "replies", "likes", "reads", "downloads"))
            tally.ratio("actions_per_active_user", month, (unit,), actions, counts["active_users"])


def reference_rows(conn: psycopg.Connection, pseudonym_key: str,
                   min_group_size: int = MIN_GROUP_SIZE, reporting_start: date | None = None,
                   dormant_after_months: int | None = None) -> list[Row]:
    """Every metric_values row METRICS.md defines, computed from the raw tables (with the dbt vars
    reporting_start and dormant_after_months as given; None: unset)."""
    persons, ve_ids, slack_ids, departments = read_persons(conn, pseudonym_key)
    event_months: set[date] = set()
    raw = Raw(persons, departments, read_messages(conn, ve_ids, slack_ids, event_months), event_months)
    tally = Tally()
    users_and_activity(conn, pseudonym_key, raw, tally, slack_ids)
    content_and_hashtags(raw, tally)
    crm(conn, pseudonym_key, raw, tally)
    surveys(conn, pseudonym_key, raw, tally)
    months = month_range(raw.event_months)
    if reporting_start:
        months = [month for month in months if month >= month_of(reporting_start)]
    registered(raw, months, tally, dormant_after_months)
    teams(conn, raw, months, tally, ve_ids, slack_ids)
    units = [ALL, *departments]
    _derived_ratios(tally, months, units)
    present = present_sources(conn)
    rows = []
    for month in months:
        hidden = hidden_units(month, departments, tally, min_group_size)
        for unit in units:
            for metric in METRICS:
                if metric == "active_departments" and unit != ALL:
                    continue
                row = metric_row(metric, month, unit, tally, unit in hidden)
                if not present & set(METRIC_FEEDERS[metric]):  # not measured: NULL, not 0
                    row = Row(metric, row.level, month, unit, None, None, None, row.suppressed)
                rows.append(row)
    return rows


def hidden_units(month: date, departments, tally: Tally, min_group_size: int) -> set[str]:
    """The small departments of `month`, plus a complement when 'ALL' minus the rest would
    leave a group of fewer than min_group_size registered people."""
    registered = {unit: tally.counts.get(("registered_users", month, unit), 0) for unit in departments}
    hidden = {unit for unit, count in registered.items() if count < min_group_size}
    shown = sorted((count, unit) for unit, count in registered.items() if unit not in hidden)
    rest = tally.counts.get(("registered_users", month, ALL), 0) - sum(count for count, _ in shown)
    if hidden and shown and rest < min_group_size:
        hidden.add(shown[0][1])
    return hidden

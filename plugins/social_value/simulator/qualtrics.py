"""Qualtrics CSV exports as the survey platform writes them, for the file drop (see simulator/drops.py).

New format: three header rows (export tags; Dutch question text; `{"ImportId":"QID1"}`), one row per
response of survey_world's "qualtrics" population: Q1 = the CSAT choice text, Q2 = the NPS score
with Q2_NPS_GROUP (1 detractor, 2 passive, 3 promoter), Q3_TEXT = the comment, AccountId = embedded
data. `legacy=True` writes the old form: UTF-8 BOM, V1..V10 tags named in the second header row,
no RecordedDate, and every row ending with a comma (an empty column without a name), as real
legacy exports do.

Format faults: bom, crlf, quoted_newlines (a newline inside a quoted comment), nul and invalid_utf8
(in some comments), extra_columns (an unknown column, and some rows with one field too many),
missing_columns (optional columns left out, and some rows one field short), date_formats (three
date forms), empty_numbers (Progress and Duration as ""), duplicates (some rows exported twice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from social_value.simulator import survey_world as sw
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

FILE = "qualtrics/klanttevredenheid.csv"

NEW_COLUMNS = [  # (export tag, Dutch question text, ImportId)
    ("StartDate", "Begindatum", "startDate"), ("EndDate", "Einddatum", "endDate"),
    ("Status", "Type antwoord", "status"), ("IPAddress", "IP-adres", "ipAddress"),
    ("Progress", "Voortgang", "progress"), ("Duration (in seconds)", "Duur (in seconden)", "duration"),
    ("Finished", "Voltooid", "finished"), ("RecordedDate", "Registratiedatum", "recordedDate"),
    ("ResponseId", "Antwoord-ID", "_recordId"), ("RecipientLastName", "Achternaam ontvanger",
                                                 "recipientLastName"),
    ("RecipientFirstName", "Voornaam ontvanger", "recipientFirstName"),
    ("RecipientEmail", "E-mailadres ontvanger", "recipientEmail"),
    ("ExternalReference", "Externe gegevensreferentie", "externalDataReference"),
    ("LocationLatitude", "Breedtegraad locatie", "locationLatitude"),
    ("LocationLongitude", "Lengtegraad locatie", "locationLongitude"),
    ("DistributionChannel", "Distributiekanaal", "distributionChannel"),
    ("UserLanguage", "Gebruikerstaal", "userLanguage"),
    ("Q1", sw.CSAT_HEADING, "QID1"), ("Q2", sw.NPS_HEADING, "QID2"),
    ("Q2_NPS_GROUP", f"{sw.NPS_HEADING} - Groep", "QID2_NPS_GROUP"),
    ("Q3_TEXT", sw.COMMENT_HEADING, "QID3_TEXT"), ("AccountId", "AccountId", "AccountId"),
]
EXTRA_COLUMN = ("Q_RecaptchaScore", "Q_RecaptchaScore", "Q_RecaptchaScore")
OPTIONAL_COLUMNS = {"ExternalReference", "UserLanguage", "Q2_NPS_GROUP"}  # missing_columns leaves them out
LEGACY_META = [("V1", "ResponseID"), ("V2", "ResponseSet"), ("V3", "Name"), ("V4", "ExternalDataReference"),
               ("V5", "EmailAddress"), ("V6", "IPAddress"), ("V7", "Status"), ("V8", "StartDate"),
               ("V9", "EndDate"), ("V10", "Finished")]
LEGACY_QUESTIONS = [("Q1", sw.CSAT_HEADING), ("Q2", sw.NPS_HEADING), ("Q3", sw.COMMENT_HEADING),
                    ("AccountId", "AccountId")]


def nps_group(score: int) -> str:
    return "3" if score >= 9 else "2" if score >= 7 else "1"


# Which rows a fault touches; tests use these to compute exact expected counts.
def has_nul(response: sw.SurveyResponse) -> bool:
    return response.comment is not None and response.n % 10 == 4


def has_invalid_utf8(response: sw.SurveyResponse) -> bool:
    return response.comment is not None and response.n % 10 == 6


def is_ragged(response: sw.SurveyResponse) -> bool:
    """With extra_columns/missing_columns this row has one field too many or too few."""
    return response.n % 15 == 7


def is_repeated(response: sw.SurveyResponse) -> bool:
    """With duplicates this row is exported a second time at the end of the file."""
    return response.n % 20 == 0


def _date(moment: datetime, n: int, faults: Faults) -> str:
    if "date_formats" in faults and n % 3 == 1:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if "date_formats" in faults and n % 3 == 2:
        return moment.astimezone(timezone(timedelta(hours=2))).strftime("%Y/%m/%d %H:%M:%S %z")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _values(scale: Scale, response: sw.SurveyResponse, faults: Faults) -> dict[str, str]:
    comment = response.comment or ""
    if "quoted_newlines" in faults and comment and response.n % 4 == 1:
        comment = comment.replace(" ", "\n", 1)
    if "nul" in faults and has_nul(response):
        comment = comment[:3] + "\x00" + comment[3:]
    if "invalid_utf8" in faults and has_invalid_utf8(response):
        comment = comment[:3] + "\udcff" + comment[3:]  # written as the lone byte 0xFF
    answered = sum(v is not None for v in (response.csat, response.nps, response.comment))
    empty = "empty_numbers" in faults and response.n % 7 == 3
    return {
        "StartDate": _date(response.created, response.n, faults),
        "EndDate": _date(response.modified, response.n, faults),
        "Status": "0", "IPAddress": f"192.0.2.{response.n % 250 + 1}",
        "Progress": "" if empty else ("100" if response.completed else str(int(100 * answered / 4))),
        "Duration (in seconds)": "" if empty else str(response.duration_seconds),
        "Finished": "1" if response.completed else "0",
        "RecordedDate": _date(response.modified, response.n, faults),
        "ResponseId": sw.qualtrics_response_id(scale, response.n),
        "RecipientLastName": "", "RecipientFirstName": "", "RecipientEmail": "", "ExternalReference": "",
        "LocationLatitude": "52.0907", "LocationLongitude": "5.1214",
        "DistributionChannel": "anonymous", "UserLanguage": "NL",
        "Q1": sw.CSAT_TEXTS[response.csat] if response.csat is not None else "",
        "Q2": str(response.nps) if response.nps is not None else "",
        "Q2_NPS_GROUP": nps_group(response.nps) if response.nps is not None else "",
        "Q3_TEXT": comment, "AccountId": response.account_id, "Q_RecaptchaScore": "0.9",
    }


def columns(faults: Faults) -> list[tuple[str, str, str]]:
    chosen = [c for c in NEW_COLUMNS if "missing_columns" not in faults or c[0] not in OPTIONAL_COLUMNS]
    return [*chosen, EXTRA_COLUMN] if "extra_columns" in faults else chosen


def rows(scale: Scale, faults: Faults, legacy: bool = False) -> Iterator[list[str]]:
    """Every line of the export as fields, header rows first."""
    if legacy:
        tags = [tag for tag, _ in LEGACY_META] + [tag for tag, _ in LEGACY_QUESTIONS]
        yield tags
        yield [label for _, label in LEGACY_META] + [text for _, text in LEGACY_QUESTIONS]
    else:
        chosen = columns(faults)
        yield [tag for tag, _, _ in chosen]
        yield [text for _, text, _ in chosen]
        yield [f'{{"ImportId":"{import_id}"}}' for _, _, import_id in chosen]
    repeated = []
    for response in sw.responses(scale, "qualtrics"):
        values = _values(scale, response, faults)
        if legacy:
            line = [values["ResponseId"], "Default Response Set", "", "", "", values["IPAddress"],
                    values["Status"], values["StartDate"], values["EndDate"], values["Finished"],
                    values["Q1"], values["Q2"], values["Q3_TEXT"], values["AccountId"]]
        else:
            line = [values[tag] for tag, _, _ in columns(faults)]
            if is_ragged(response) and "extra_columns" in faults:
                line.append("stray")
            elif is_ragged(response) and "missing_columns" in faults:
                line.pop()
        if "duplicates" in faults and is_repeated(response):
            repeated.append(line)
        yield line
    yield from repeated  # a re-export repeats records


def write_export(path: Path, scale: Scale, faults: Faults, legacy: bool = False) -> None:
    """Write one export; a legacy export always starts with a BOM, a new one with `bom` only."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if "crlf" in faults else "\n")
    with path.open("wb") as out:
        if legacy or "bom" in faults:
            out.write(b"\xef\xbb\xbf")
        for line in rows(scale, faults, legacy):
            writer.writerow([*line, ""] if legacy else line)
            out.write(buffer.getvalue().encode("utf-8", "surrogateescape"))
            buffer.seek(0)
            buffer.truncate()


def _write_new(path: Path, scale: Scale, faults: Faults) -> None:
    write_export(path, scale, faults)


DROPS = {FILE: _write_new}

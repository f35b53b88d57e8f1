"""Templates to text: Jinja2 templates a landlord can replace, in a language where a translation exists.

Templates live in ``letters/templates/<language>/<name>.html.j2`` and extend the shared page layout
``_page.html.j2``. A landlord's own folder (``templates`` in the delivery settings) is searched
first with the same layout, so replacing one letter, the labels, the layout or the stylesheet means
dropping one file there; nothing else changes. Each letter defines four blocks:

- ``subject``: the heading (and the email subject);
- ``summary``: one or two sentences for an SMS or the top of an email;
- ``body``: the letter, used for the standard and large-print variants;
- ``easy_read``: the same message in easy-read style (short sentences, one idea per line).

Wording that several letters share (closure reasons, where a not-ASB report was passed, dates)
lives in ``labels.toml`` per language, so a translation is a folder of files, not a code change.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from casefile.types import LANGUAGE_PATTERN

TEMPLATES = Path(__file__).parent / "templates"
SUFFIX = ".html.j2"
VARIANTS = ("standard", "large-print", "easy-read")
_LANGUAGE = re.compile(LANGUAGE_PATTERN)
_TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Every letter the lifecycle sends (statemachine/lifecycle.py `_letter`), and to whom.
LETTERS: dict[str, str] = {
    "acknowledgement": "reporter",
    #: A report added to a case already open about the same matter (issue 12 item 6): it says so.
    "acknowledgement_attached": "reporter",
    "early_support": "reporter",
    "not_asb_outcome": "reporter",
    "action_plan": "reporter",
    "unable_to_contact": "reporter",
    "enquiry_closed": "reporter",
    "initial_letter_reported_person": "reported_person",
    "warning_letter": "reported_person",
    "acceptable_behaviour_contract": "reported_person",
    "good_neighbour_agreement": "reported_person",
    "legal_warning": "reported_person",
    "letter_before_action": "reported_person",
    "case_closed_reporter": "reporter",
    "satisfaction_survey": "reporter",
    "case_closed_reported_person": "reported_person",
}


#: Documents other than letters (letters/templates/documents/<name>.html.j2): they share the renderer,
#: its sandbox, labels and stylesheet, but not the letter's page (no envelope window, no "Dear ...").
DOCUMENTS = frozenset({"chronology"})


class TemplateMissing(LookupError):
    """No template of that name in the landlord's folder or the shipped ones."""


@dataclass(frozen=True)
class Rendered:
    template: str
    language: str
    variant: str
    subject: str
    summary: str
    html: str

    @property
    def text(self) -> str:
        return html_to_text(self.html)


class _Text(HTMLParser):
    """HTML to readable plain text, for the text part of an email and Notify's email body."""

    BLOCKS = {"p", "div", "h1", "h2", "h3", "li", "tr", "section", "header", "aside", "main", "br", "table", "ul",
              "ol", "dt", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        #: The tag whose subtree is being left out (the page furniture: letterhead, window, column), and depth.
        self.skipping: str | None = None
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            self.depth += tag == self.skipping
            return
        if tag in ("style", "head", "script") or any(name == "data-print-only" for name, _ in attrs):
            self.skipping, self.depth = tag, 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping:
                self.depth -= 1
                if self.depth == 0:
                    self.skipping = None
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


class _ConfinedLoader(FileSystemLoader):
    """A FileSystemLoader that serves only files which, resolved (symlinks followed), lie inside the
    configured template folders: the landlord's and the shipped one. Jinja already refuses ``..`` in a
    template name; this also refuses a symlink, or an absolute name, leading anywhere else."""

    def __init__(self, searchpath: list[str], roots: list[Path]) -> None:
        super().__init__(searchpath)
        self.roots = [root.resolve() for root in roots]

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if not any(Path(filename).resolve().is_relative_to(root) for root in self.roots):
            raise TemplateNotFound(template)
        return source, filename, uptodate


class Renderer:
    """Renders letters from the landlord's templates first, then the shipped ones.

    Templates are code, and a landlord's own folder is outside this project's review, so they run in
    Jinja2's immutable sandbox: no attribute starting with an underscore, no calls to unsafe methods,
    no changing values passed in (issue 9 item 1). A language only ever selects one of the folders
    that exist; a person's language, however it reached the case file, is never joined to a path.
    """

    def __init__(self, override: Path | None = None) -> None:
        self.override = override
        self._envs: dict[str, Environment] = {}

    def _roots(self) -> list[Path]:
        return [p for p in (self.override, TEMPLATES) if p is not None]

    def languages(self) -> frozenset[str]:
        """The language folders that exist (only names that are language codes count)."""
        found: set[str] = set()
        for root in self._roots():
            if root.is_dir():
                found.update(p.name for p in root.iterdir() if p.is_dir() and _LANGUAGE.fullmatch(p.name))
        return frozenset(found | {"en"})

    def _known(self, language: str | None) -> str:
        """The folder for a wanted language: one of languages() (never the input itself), trying the code
        with its region (cy-GB) and then without (cy), else English."""
        if not language or not _LANGUAGE.fullmatch(language):
            return "en"
        known = self.languages()
        for wanted in (language, language.split("-")[0]):
            for folder in known:
                if folder == wanted:
                    return folder
        return "en"

    def search_path(self, language: str) -> list[str]:
        """Language folder, then English, then the shared layout; the landlord's before ours at each step."""
        language = self._known(language)
        folders = [language, "en"] if language != "en" else ["en"]
        return [str(root / folder) for folder in folders for root in self._roots()] + [str(r) for r in self._roots()]

    def has(self, template: str, language: str) -> bool:
        if not _TEMPLATE_NAME.fullmatch(template):
            return False
        folder = self._known(language)
        if folder != language:
            return False
        return any((root / folder / f"{template}{SUFFIX}").is_file() for root in self._roots())

    def names(self) -> list[str]:
        found = {p.name.removesuffix(SUFFIX) for root in self._roots() for p in (root / "en").glob(f"*{SUFFIX}")}
        return sorted(n for n in found if not n.startswith("_") and _TEMPLATE_NAME.fullmatch(n))

    def language_for(self, template: str, wanted: str | None) -> str:
        """The person's language when that letter has been translated, else English."""
        folder = self._known(wanted)
        if folder != "en" and self.has(template, folder):
            return folder
        return "en"

    def labels(self, language: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        language = self._known(language)
        for folder in (["en", language] if language != "en" else ["en"]):
            for root in reversed(self._roots()):  # shipped first, the landlord's overriding
                path = root / folder / "labels.toml"
                if path.is_file() and any(path.resolve().is_relative_to(r.resolve()) for r in self._roots()):
                    merged = _merge(merged, tomllib.loads(path.read_text(encoding="utf-8")))
        return merged

    def env(self, language: str) -> Environment:
        language = self._known(language)
        if language not in self._envs:
            env = ImmutableSandboxedEnvironment(
                loader=_ConfinedLoader(self.search_path(language), self._roots()), autoescape=True,
                undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            )
            env.filters["longdate"] = _longdate
            env.filters["shortdate"] = _shortdate
            env.filters["every"] = _every
            env.filters["fill"] = _fill
            env.filters["clock"] = _clock
            env.filters["briefdate"] = _briefdate
            self._envs[language] = env
        return self._envs[language]

    def render(self, template: str, context: dict[str, Any], language: str | None = None,
               variant: str = "standard") -> Rendered:
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
        if not self.has(template, "en"):
            raise TemplateMissing(f"no letter template {template!r}; known: {', '.join(self.names())}")
        lang = self.language_for(template, language)
        labels = self.labels(lang)
        env = self.env(lang)
        jinja_template = env.get_template(f"{template}{SUFFIX}")
        full = {**context, "template": template, "language": lang, "variant": variant, "labels": labels}
        markup = jinja_template.render(full)
        block_context = jinja_template.new_context(full)

        def block(name: str) -> str:
            if name not in jinja_template.blocks:
                return ""
            text = Markup("".join(jinja_template.blocks[name](block_context))).striptags()
            return html.unescape(" ".join(text.split()))

        return Rendered(template=template, language=lang, variant=variant, subject=block("subject"),
                        summary=block("summary"), html=markup)


    def render_document(self, name: str, context: dict[str, Any], language: str | None = None) -> str:
        """A document's HTML (a chronology for a court bundle): ``documents/<name>.html.j2``, the
        landlord's copy first, then a translation's, then ours. Only names in DOCUMENTS are rendered:
        the name picks a file, so it is never taken from outside."""
        if name not in DOCUMENTS:
            raise TemplateMissing(f"no document template {name!r}; known: {', '.join(sorted(DOCUMENTS))}")
        lang = self._known(language)
        full = {**context, "template": name, "language": lang, "variant": "standard", "labels": self.labels(lang)}
        return self.env(lang).get_template(f"documents/{name}{SUFFIX}").render(full)


@lru_cache(maxsize=8)
def renderer(override: Path | None = None) -> Renderer:
    return Renderer(override)


def _local(value: date | datetime, zone: str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone)).date() if value.tzinfo else value.date()
    return value


@pass_context
def _longdate(context: Context, value: date | datetime | None) -> str:
    """'Monday 2 March 2026' in the letter's language (names from labels.toml)."""
    if value is None:
        return ""
    labels = context.get("labels", {})
    day = _local(value, str(context.get("zone", "Europe/London")))
    days = labels.get("dates", {}).get("days") or ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                                   "Saturday", "Sunday"]
    months = labels.get("dates", {}).get("months") or ["January", "February", "March", "April", "May", "June",
                                                       "July", "August", "September", "October", "November",
                                                       "December"]
    return f"{days[day.weekday()]} {day.day} {months[day.month - 1]} {day.year}"


@pass_context
def _shortdate(context: Context, value: date | datetime | None) -> str:
    """'2 March 2026'."""
    if value is None:
        return ""
    return _longdate(context, value).split(" ", 1)[1]


@pass_context
def _every(context: Context, spec: dict[str, Any] | None) -> str:
    """{'count': 2, 'unit': 'weeks'} as 'every 2 weeks', in the letter's language."""
    words: dict[str, str] = context.get("labels", {}).get("every", {})
    if not spec:
        return words.get("month", "every month")
    count, unit = int(spec["count"]), str(spec["unit"])
    if count == 1:
        singular = unit[:-1]
        return words.get(singular, f"every {singular.replace('_', ' ')}")
    return _fill(words.get(unit, "every {n} " + unit.replace("_", " ")), n=count)


@pass_context
def _briefdate(context: Context, value: date | datetime | None) -> str:
    """'2 Mar 2026', for a table's date column (labels.toml `dates.months_short`, else 3 letters)."""
    if value is None:
        return ""
    dates = context.get("labels", {}).get("dates", {})
    day = _local(value, str(context.get("zone", "Europe/London")))
    short = dates.get("months_short") or [m[:3] for m in (dates.get("months") or [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December"])]
    return f"{day.day} {short[day.month - 1]} {day.year}"


@pass_context
def _clock(context: Context, value: datetime | None) -> str:
    """'22:30', in the landlord's time zone."""
    if value is None:
        return ""
    zone = ZoneInfo(str(context.get("zone", "Europe/London")))
    return (value.astimezone(zone) if value.tzinfo else value).strftime("%H:%M")


def _fill(text: str, **values: Any) -> str:
    """A label with {placeholders} filled in: `labels.contact_named | fill(name=officer.name)`.

    Plain names only: str.format would follow `{name.__class__...}` in a landlord's labels.toml, which
    is as much outside review as its templates."""
    given = {k: str(v) for k, v in values.items()}
    return _PLACEHOLDER.sub(lambda m: given.get(m.group(1), m.group(0)), str(text))

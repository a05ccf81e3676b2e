"""From what Moodle logs to the event types of SPEC §2.2.

Three ways in, one way out: a Moodle event class name (``\\core\\event\\course_viewed``,
as ``logstore_standard_log.eventname`` and xAPI's event-info extension carry it), or,
for the Logs report downloads, the row's *Description* (Moodle never translates it,
so it identifies the event in every language) and, when the description is missing or
unknown, the row's localised *Event name*. All three resolve to a class name, and the
class name to a type:

- the 15 events the plugin observes map as SPEC §2.2 says;
- any other ``...\\event\\course_module_viewed`` is ``module_viewed``;
- everything else is ``other`` (the class name stays in metadata, nothing is dropped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from ssea_core.importers.times import plain

#: SPEC §2.2: the Moodle events the plugin observes, by class name (lower case).
STANDARD_EVENTS: Mapping[str, str] = {
    "\\core\\event\\user_loggedin": "user_login",
    "\\core\\event\\user_loggedout": "user_logout",
    "\\core\\event\\user_enrolment_created": "user_enrolled",
    "\\core\\event\\course_viewed": "course_viewed",
    "\\mod_resource\\event\\course_module_viewed": "resource_viewed",
    "\\mod_url\\event\\course_module_viewed": "resource_viewed",
    "\\mod_page\\event\\course_module_viewed": "page_viewed",
    "\\mod_quiz\\event\\attempt_started": "quiz_attempted",
    "\\mod_quiz\\event\\attempt_submitted": "quiz_submitted",
    "\\mod_assign\\event\\assessable_submitted": "assignment_submitted",
    "\\mod_forum\\event\\post_created": "forum_post_created",
    "\\core\\event\\user_graded": "grade_updated",
    "\\core\\event\\grade_item_updated": "grade_item_updated",
    "\\core\\event\\course_completed": "course_completed",
    "\\core\\event\\course_module_completion_updated": "module_completed",
}

#: Types whose subject is the user the event is about (Moodle's ``relateduserid``),
#: not the one who acted: the graded, enrolled or completing student. Importers put
#: that user in ``user_id`` and the actor in ``metadata.actor_id``.
SUBJECT_IS_RELATED_USER: frozenset[str] = frozenset(
    {"grade_updated", "user_enrolled", "module_completed", "course_completed"}
)

_MODULE_VIEWED = "\\event\\course_module_viewed"
_VIEWED_MODULE = "\\mod_{}\\event\\course_module_viewed"


def event_class(name: str) -> str:
    """A class name in the one spelling used here: leading backslash, lower case."""
    text = name.strip().lower().replace("/", "\\")
    return text if text.startswith("\\") else "\\" + text


def type_for_class(name: str) -> str:
    """The SPEC event type of a Moodle event class name."""
    canonical = event_class(name)
    known = STANDARD_EVENTS.get(canonical)
    if known is not None:
        return known
    if canonical.endswith(_MODULE_VIEWED):
        return "module_viewed"
    return "other"


# Descriptions are English in every language pack: they come from the event classes.
_DESCRIPTION_CLASSES: tuple[tuple[str, str], ...] = (
    (r"has logged in\b", "\\core\\event\\user_loggedin"),
    (r"has logged out\b", "\\core\\event\\user_loggedout"),
    (
        r"enrolled the user with id '\d+' using the enrolment method",
        "\\core\\event\\user_enrolment_created",
    ),
    (
        r"viewed the (?:section number '[^']*' of the )?course with id",
        "\\core\\event\\course_viewed",
    ),
    (
        r"has started the attempt with id '\d+' for the quiz",
        "\\mod_quiz\\event\\attempt_started",
    ),
    (
        r"has submitted the attempt with id '\d+' for the quiz",
        "\\mod_quiz\\event\\attempt_submitted",
    ),
    (
        r"has submitted the submission with id '\d+' for the assignment",
        "\\mod_assign\\event\\assessable_submitted",
    ),
    (
        r"has created the post with id '\d+' in the discussion",
        "\\mod_forum\\event\\post_created",
    ),
    (
        r"updated the grade with id '\d+' for the user with id",
        "\\core\\event\\user_graded",
    ),
    (r"updated a grade item with id", "\\core\\event\\grade_item_updated"),
    (r"completed the course with id", "\\core\\event\\course_completed"),
    (
        r"updated the completion state for the course module with id",
        "\\core\\event\\course_module_completion_updated",
    ),
    # Not SPEC events, but some language packs give them the same event name as
    # one (Spanish prints "Usuario matriculado en curso" for both): the description
    # must win over the name.
    (
        r"updated the enrolment for the user with id",
        "\\core\\event\\user_enrolment_updated",
    ),
    (r"unenrolled the user with id", "\\core\\event\\user_enrolment_deleted"),
)
# One alternation, tried once per row: group ``c<i>`` is the i-th class above.
_DESCRIPTIONS = re.compile(
    "|".join(
        f"(?P<c{index}>{pattern})"
        for index, (pattern, _) in enumerate(_DESCRIPTION_CLASSES)
    )
)
_VIEWED_CLASS = re.compile(r"^\\mod_([a-z0-9_]+)\\event\\course_module_viewed$")
_MODULE_VIEW = re.compile(r"viewed the '(?P<modname>[a-z0-9_]+)' activity with course")

#: Event names as the Logs report prints them (English and the Spanish pack seen in
#: real exports), compared without case and accents. Only used when the description
#: says nothing; extend with the ``event_names`` option of the importer.
EVENT_NAMES: Mapping[str, str] = {
    plain(name): cls
    for name, cls in (
        ("User has logged in", "\\core\\event\\user_loggedin"),
        ("User logged out", "\\core\\event\\user_loggedout"),
        ("User enrolled in course", "\\core\\event\\user_enrolment_created"),
        ("Course viewed", "\\core\\event\\course_viewed"),
        ("Course module viewed", "\\core\\event\\course_module_viewed"),
        ("Quiz attempt started", "\\mod_quiz\\event\\attempt_started"),
        ("Quiz attempt submitted", "\\mod_quiz\\event\\attempt_submitted"),
        (
            "A submission has been submitted.",
            "\\mod_assign\\event\\assessable_submitted",
        ),
        ("Post created", "\\mod_forum\\event\\post_created"),
        ("User graded", "\\core\\event\\user_graded"),
        ("Grade item updated", "\\core\\event\\grade_item_updated"),
        ("Course completed", "\\core\\event\\course_completed"),
        (
            "Course activity completion updated",
            "\\core\\event\\course_module_completion_updated",
        ),
        ("Curso visto", "\\core\\event\\course_viewed"),
        ("Módulo de curso visto", "\\core\\event\\course_module_viewed"),
        ("Ha comenzado el intento", "\\mod_quiz\\event\\attempt_started"),
        ("Intento enviado", "\\mod_quiz\\event\\attempt_submitted"),
        ("Se ha enviado una entrega", "\\mod_assign\\event\\assessable_submitted"),
        ("Mensaje creado", "\\mod_forum\\event\\post_created"),
        ("Usuario calificado", "\\core\\event\\user_graded"),
        (
            "Finalización de actividad de curso actualizada",
            "\\core\\event\\course_module_completion_updated",
        ),
        # The Spanish pack prints this name for enrolment updates too; the
        # description tells them apart when there is one.
        ("Usuario matriculado en curso", "\\core\\event\\user_enrolment_created"),
    )
}  # fmt: skip

#: Localised names of the *Component* column for the module kinds SPEC names.
_COMPONENT_MODULES: Mapping[str, str] = {
    plain(name): modname
    for names, modname in (
        (
            ("File", "Archivo", "Fichier", "Datei", "Plik", "Ficheiro", "Arquivo"),
            "resource",
        ),
        (("URL",), "url"),
        (("Page", "Página", "Seite", "Strona"), "page"),
    )
    for name in names
}  # fmt: skip


def viewed_modname(class_name: str | None) -> str | None:
    """The module kind of a ``\\mod_X\\event\\course_module_viewed`` class, or None."""
    found = _VIEWED_CLASS.match(class_name or "")
    return found[1] if found else None


def module_name(description: str) -> str | None:
    """The module kind a module-view description names (``resource``, ``quiz``)."""
    found = _MODULE_VIEW.search(description)
    return found["modname"] if found else None


def classify_row(
    description: str,
    event_name: str,
    component: str,
    extra_names: Mapping[str, str] | None = None,
) -> tuple[str | None, str]:
    """The Moodle event class (when it can be told) and SPEC type of a report row.

    ``extra_names`` maps more event names (compared as :func:`plain` text) to a class
    name or directly to an event type.
    """
    if description:
        modname = module_name(description)
        if modname is not None:
            return _typed(_VIEWED_MODULE.format(modname))
        found = _DESCRIPTIONS.search(description)
        if found is not None and found.lastgroup is not None:
            return _typed(_DESCRIPTION_CLASSES[int(found.lastgroup[1:])][1])
    if event_name.strip().startswith("\\"):
        return _typed(event_class(event_name))
    key = _name_key(event_name)
    named = (extra_names or {}).get(key) or EVENT_NAMES.get(key)
    if named is None:
        return None, "other"
    if "\\" not in named:
        return None, named
    if named == "\\core\\event\\course_module_viewed":
        modname = _COMPONENT_MODULES.get(plain(component.strip()))
        if modname is not None:
            return _typed(_VIEWED_MODULE.format(modname))
    return _typed(named)


@lru_cache(maxsize=1024)
def _name_key(event_name: str) -> str:
    return plain(event_name.strip())


def _typed(name: str) -> tuple[str, str]:
    return name, type_for_class(name)

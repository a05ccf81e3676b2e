"""What part of a tenant a request may read: the result of the policy.

Invariants:
- A scope only ever narrows. ``Scope()`` is the whole tenant (admin, manager, API key);
  ``course_ids`` keeps the rows of those courses whose user is a student there (a
  teacher's view); ``user_id`` keeps one user's rows (a student's view, or a profile).
  Both together keep that user's student rows in those courses.
- Every read of the dashboard takes a scope; there is no read without one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows a request may see; None in a field means "not narrowed by it"."""

    course_ids: frozenset[str] | None = None
    user_id: str | None = None

    @property
    def whole_tenant(self) -> bool:
        """True when nothing is narrowed (admin, manager, API key)."""
        return self.course_ids is None and self.user_id is None

    def allows_course(self, course_id: str) -> bool:
        """Whether a course named in a path lies in the scope's courses."""
        return self.course_ids is None or course_id in self.course_ids

    def narrowed_to_user(self, user_id: str) -> Scope:
        """The same scope, further narrowed to one user's rows."""
        return Scope(course_ids=self.course_ids, user_id=user_id)


WHOLE_TENANT = Scope()

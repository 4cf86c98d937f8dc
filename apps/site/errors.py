"""Refusals of the site's own services, each with a code and a plain message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict


class QuestionnaireIncomplete(Conflict):
    code = "questionnaire_incomplete"
    default_message = _("Some questions are not answered yet.")

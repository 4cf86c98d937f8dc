"""Template helpers for the prepatient site."""

from __future__ import annotations

import secrets
from typing import Any

from django import template
from django.urls import translate_url
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def submit_once() -> str:
    """A fresh token in every rendered form: the server handles each token once."""
    return format_html('<input type="hidden" name="once" value="{}">', secrets.token_hex(16))


@register.inclusion_tag("site/_error_summary.html")
def error_summary(form: Any) -> dict[str, Any]:
    """A list of what needs fixing at the top of a form, each linking to its field."""
    fields = [(form[name], errors) for name, errors in form.errors.items()
              if name != "__all__" and name in form.fields]
    return {"form": form, "field_errors": fields,
            "non_field_errors": form.non_field_errors()}


@register.simple_tag(takes_context=True)
def this_page_in(context: Any, lang_code: str) -> str:
    """This page's path in another language (/about/ <-> /en/about/), for the switch.

    The switch view lives outside the language-prefixed URLs, so it cannot
    translate an /en/ path itself; the page, rendered in its own language, can.
    """
    request = context.get("request")
    return translate_url(request.get_full_path(), lang_code) if request else "/"

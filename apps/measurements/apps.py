from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from apps.programs import vocabulary


class MeasurementsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.measurements"
    label = "measurements"
    verbose_name = _("Measurements")

    def ready(self) -> None:
        # The kinds of event it publishes, and its receivers of other apps' signals.
        from apps.measurements import events, receivers, selectors  # noqa: F401
        # What a programme definition may name: the measurement types, in their units.
        vocabulary.register_measures(selectors.measure_units)
        vocabulary.register_value_reader(selectors.value_in_stored_unit)
        vocabulary.register_ranges(selectors.measure_ranges)

# The 5m and 15m candle tables of the chart's intraday timeframes. Their names follow CANDLE_TABLE
# (btc_eur_1h -> btc_eur_5m, btc_eur_15m; see apps.orderblocks.domain.timeframes.intraday_table_name)
# and, like the 1h table, they are created only when missing. Unapplying leaves them in place.

from django.conf import settings
from django.db import migrations, models

from apps.orderblocks.domain.timeframes import intraday_table_name


class CreateModelUnlessTableExists(migrations.CreateModel):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.name)
        if model._meta.db_table in schema_editor.connection.introspection.table_names():
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        return None

    def describe(self):
        return f"Create model {self.name} (unless its table exists)"


def candle_fields():
    return [
        ("open_time_ms", models.BigIntegerField(primary_key=True, serialize=False)),
        ("open", models.DecimalField(decimal_places=8, max_digits=24)),
        ("high", models.DecimalField(decimal_places=8, max_digits=24)),
        ("low", models.DecimalField(decimal_places=8, max_digits=24)),
        ("close", models.DecimalField(decimal_places=8, max_digits=24)),
        ("volume", models.DecimalField(decimal_places=8, max_digits=30)),
    ]


class Migration(migrations.Migration):
    dependencies = [("orderblocks", "0001_initial")]

    operations = [
        CreateModelUnlessTableExists(
            name="Candle5m",
            fields=candle_fields(),
            options={
                "db_table": intraday_table_name(settings.CONFIG.candle_table, "5m"),
                "ordering": ["open_time_ms"],
                "abstract": False,
            },
        ),
        CreateModelUnlessTableExists(
            name="Candle15m",
            fields=candle_fields(),
            options={
                "db_table": intraday_table_name(settings.CONFIG.candle_table, "15m"),
                "ordering": ["open_time_ms"],
                "abstract": False,
            },
        ),
    ]

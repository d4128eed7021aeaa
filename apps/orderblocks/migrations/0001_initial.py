# The candle table's name is the CANDLE_TABLE setting, and the table is created only when missing so
# an existing OHLCV table can be used as it is. Unapplying leaves the candle table in place (it may
# hold data this service did not write).

from django.conf import settings
from django.db import migrations, models


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


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        CreateModelUnlessTableExists(
            name="Candle",
            fields=[
                ("open_time_ms", models.BigIntegerField(primary_key=True, serialize=False)),
                ("open", models.DecimalField(decimal_places=8, max_digits=24)),
                ("high", models.DecimalField(decimal_places=8, max_digits=24)),
                ("low", models.DecimalField(decimal_places=8, max_digits=24)),
                ("close", models.DecimalField(decimal_places=8, max_digits=24)),
                ("volume", models.DecimalField(decimal_places=8, max_digits=30)),
            ],
            options={
                "db_table": settings.CONFIG.candle_table,
                "ordering": ["open_time_ms"],
            },
        ),
        migrations.CreateModel(
            name="OrderBlock",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("symbol", models.CharField(max_length=20)),
                ("direction", models.CharField(max_length=7)),
                ("created_ts_ms", models.BigIntegerField()),
                ("valid_from_ts_ms", models.BigIntegerField()),
                ("valid_to_ts_ms", models.BigIntegerField(null=True)),
                ("price_low", models.DecimalField(decimal_places=8, max_digits=24)),
                ("price_high", models.DecimalField(decimal_places=8, max_digits=24)),
                ("atr14", models.DecimalField(decimal_places=8, max_digits=24)),
                ("bos_level", models.DecimalField(decimal_places=8, max_digits=24)),
                ("bos_ts_ms", models.BigIntegerField()),
                ("touched_ts_ms", models.BigIntegerField(null=True)),
                ("status", models.CharField(max_length=8)),
            ],
            options={
                "db_table": "order_blocks_1h",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("symbol", "direction", "created_ts_ms"), name="ob_unique_symbol_dir_created"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="OrderBlockRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("symbol", models.CharField(max_length=20, unique=True)),
                ("computed_through_ts_ms", models.BigIntegerField()),
                ("candles_through", models.BigIntegerField()),
                ("params", models.CharField(max_length=200)),
                ("mode", models.CharField(max_length=12)),
                ("finished_at_ms", models.BigIntegerField()),
            ],
            options={
                "db_table": "order_blocks_1h_runs",
            },
        ),
    ]

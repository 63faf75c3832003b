"""Excel import and export: guessed mapping, preview and dry run, rejects, duplicates, undo."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, RecordSection, hookimpl

from .mapping import ALIASES


@hookimpl
def crm_migrations():
    from .schema import migrations

    return migrations


@hookimpl
def crm_field_aliases():
    return ALIASES


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import ImportPage

        return ImportPage(workspace=ws)

    return [Page("excel", "Import / export", view, icon="file-import", order=50)]


@hookimpl
def crm_personal_data(workspace):
    """Values of spreadsheet columns kept as custom fields of a contact (removed on erasure)."""
    contacts = "table_name = 'contacts'"
    return [PersonalData("excel_custom_fields", "row_id", ("name", "value"), where=contacts, remove=True)]


@hookimpl
def crm_record_sections(workspace, table, record_id):
    """Spreadsheet columns an import kept as custom fields: shown and edited on the record page."""
    if table not in ("contacts", "organizations", "deals"):
        return None
    from .execute import custom_fields

    if not custom_fields(workspace, table, int(record_id)):
        return None

    def view():
        from .record_fields import CustomFieldsSection

        return CustomFieldsSection(workspace=workspace, table=table, record_id=int(record_id))

    return [RecordSection("Custom fields", view, order=20, key="excel.custom-fields")]

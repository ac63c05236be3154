from django.urls import path

from evidence.views import connections, items, register

urlpatterns = [
    # The register
    path("evidence/", register.evidence_list, name="evidence_list"),
    path("evidence/bulk/", register.evidence_bulk, name="evidence_bulk"),
    # Adding evidence
    path("evidence/new/", items.evidence_new, name="evidence_new"),
    path("evidence/upload/", items.evidence_upload, name="evidence_upload"),
    path("evidence/link/", items.evidence_link_create, name="evidence_link_create"),
    path("evidence/note/", items.evidence_note_create, name="evidence_note_create"),
    path("evidence/suggest-controls/", items.evidence_suggest_controls, name="evidence_suggest_controls"),
    path("evidence/check-duplicate/", items.evidence_check_duplicate, name="evidence_check_duplicate"),
    # One item
    path("evidence/<int:evidence_id>/", items.evidence_detail, name="evidence_detail"),
    path("evidence/<int:evidence_id>/edit/", items.evidence_edit, name="evidence_edit"),
    path("evidence/<int:evidence_id>/revise/", items.evidence_revise, name="evidence_revise"),
    path("evidence/<int:evidence_id>/submit/", items.evidence_submit, name="evidence_submit"),
    path("evidence/<int:evidence_id>/review/", items.evidence_review, name="evidence_review"),
    path("evidence/<int:evidence_id>/controls/", items.evidence_controls, name="evidence_controls"),
    path("evidence/<int:evidence_id>/reuse/", items.evidence_reuse, name="evidence_reuse"),
    path("evidence/<int:evidence_id>/delete/", items.evidence_delete, name="evidence_delete"),
    path(
        "evidence/revisions/<int:evidencerevision_id>/download/",
        items.evidence_revision_download,
        name="evidence_revision_download",
    ),
    # Automated collection
    path("evidence/connections/", connections.connection_list, name="evidence_connections"),
    path("evidence/connections/<str:provider>/connect/", connections.connection_connect, name="connection_connect"),
    path("evidence/connections/<str:provider>/callback/", connections.connection_callback, name="connection_callback"),
    path(
        "evidence/connections/<int:connection_id>/disconnect/",
        connections.connection_disconnect,
        name="connection_disconnect",
    ),
    path("evidence/connections/<int:connection_id>/run/", connections.connection_run, name="connection_run"),
    path("evidence/runs/<int:collectionrun_id>/", connections.run_detail, name="collection_run_detail"),
]

from django.urls import path

from accounts import views

urlpatterns = [
    path("organisations/new/", views.organisation_create, name="organisation_create"),
    path("organisations/switch/", views.organisation_switch, name="organisation_switch"),
    path("settings/", views.settings_organisation, name="settings_organisation"),
    path("settings/logo/", views.organisation_logo, name="organisation_logo"),
    path("settings/members/", views.settings_members, name="settings_members"),
    path("settings/members/leave/", views.membership_leave, name="membership_leave"),
    path("settings/members/<int:membership_id>/role/", views.membership_role_update, name="membership_role_update"),
    path("settings/members/<int:membership_id>/remove/", views.membership_remove, name="membership_remove"),
    path("settings/invitations/", views.invitation_create, name="invitation_create"),
    path("settings/invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"),
    path("settings/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/audit/", views.audit_log, name="audit_log"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]

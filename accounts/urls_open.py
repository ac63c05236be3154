"""Links that open a page in a given organisation; included from config/urls.py."""

from django.urls import path

from accounts import views_switch

urlpatterns = [
    path("go/<int:organisation_id>/", views_switch.organisation_open, name="organisation_open"),
]

from django.urls import path

from evidence import views

urlpatterns = [
    path("evidence/", views.evidence_list, name="evidence_list"),
]

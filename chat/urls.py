from django.urls import path

from chat import views

urlpatterns = [
    path("assistant/", views.assistant, name="assistant"),
]

from django.urls import path

from compliance import views

urlpatterns = [
    path("frameworks/", views.framework_list, name="framework_list"),
]

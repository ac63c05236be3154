from django.urls import path

from policies import views

urlpatterns = [
    path("policies/", views.policy_list, name="policy_list"),
]

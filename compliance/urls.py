from django.urls import path

from compliance import views

urlpatterns = [
    path("frameworks/", views.framework_list, name="framework_list"),
    path("frameworks/search/", views.control_search, name="control_search"),
    path("frameworks/<str:framework_slug>/", views.framework_detail, name="framework_detail"),
    path("frameworks/<str:framework_slug>/controls/<str:control_ref>/", views.control_detail, name="control_detail"),
]

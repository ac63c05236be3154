"""The framework library in the API, under /api/v1/."""

from django.urls import path

from compliance import api

urlpatterns = [
    path("frameworks/", api.FrameworkList.as_view(), name="api_framework_list"),
    path("frameworks/<str:framework_slug>/", api.FrameworkDetail.as_view(), name="api_framework_detail"),
    path("frameworks/<str:framework_slug>/groups/", api.GroupList.as_view(), name="api_group_list"),
    path("controls/", api.ControlList.as_view(), name="api_control_list"),
    path("controls/<int:control_id>/", api.ControlDetail.as_view(), name="api_control_detail"),
    path("mappings/", api.MappingList.as_view(), name="api_mapping_list"),
]

from django.urls import path

from webhooks import apis

urlpatterns = [
    path(
        "webhook-endpoints",
        apis.WebhookEndpointListCreateApi.as_view(),
        name="webhook-endpoints",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>",
        apis.WebhookEndpointDetailApi.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/rotate-secret",
        apis.WebhookEndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/deliveries",
        apis.DeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/deliveries/<str:delivery_id>/retry",
        apis.DeliveryRetryApi.as_view(),
        name="webhook-delivery-retry",
    ),
    path("events", apis.EventListApi.as_view(), name="events"),
]

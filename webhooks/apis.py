from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerflow.api import ApiView, parse
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from webhooks import selectors, services
from webhooks.serializers import (
    DeliverySerializer,
    EventQuerySerializer,
    EventSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWithSecretSerializer,
)

EXAMPLE_ENDPOINT = {
    "url": "https://example.com/ledgerflow/webhooks",
    "events": ["transaction.posted", "transaction.reversed"],
    "description": "Accounting sync",
}
# As read back: never with the secret.
EXAMPLE_ENDPOINT_READ = {
    "id": "we_3f9a1c0b7d2e4a5b6c7d8e9f",
    **EXAMPLE_ENDPOINT,
    "is_active": True,
    "created_at": "2026-01-05T10:00:00Z",
}
EXAMPLE_ENDPOINT_RESPONSE = {
    **EXAMPLE_ENDPOINT_READ,
    "secret": "whsec_5b1e0c3a9f8d7e6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817060f1e",
}
EXAMPLE_DELIVERY = {
    "id": "dlv_0a1b2c3d4e5f60718293a4b5",
    "event": "8c4f5a2e-1d3b-4c6a-9e7f-0b1a2c3d4e5f",
    "endpoint": EXAMPLE_ENDPOINT_RESPONSE["id"],
    "status": "pending",
    "attempts": 3,
    "last_status_code": 503,
    "last_error": "HTTP 503 Service Unavailable",
    "next_attempt_at": "2026-01-05T10:00:07Z",
    "created_at": "2026-01-05T10:00:00Z",
    "delivered_at": None,
}
EXAMPLE_EVENT = {
    "id": EXAMPLE_DELIVERY["event"],
    "type": "transaction.posted",
    "created_at": "2026-01-05T10:00:00Z",
    "data": {"id": "txn_4d5e6f708192a3b4c5d6e7f8", "kind": "transfer", "amount": "12.50"},
}
SECRET_NOTE = (
    "The `secret` appears only in this response: store it to verify signatures. It is never "
    "stored for an idempotent replay: a retry with the same `Idempotency-Key` answers the "
    "same status and endpoint without `secret` (rotate the secret if the first answer was lost)."
)
# Tells ledgerflow.idempotency (by attribute name: webhooks imports no other app) which response
# fields must not be kept in the idempotency record.
UNSTORED_FIELDS = ("secret",)


def with_secret(body: dict, status_code: int) -> Response:
    response = Response(body, status=status_code)
    # Read by name in ledgerflow.idempotency; DRF's Response declares no such attribute.
    response.idempotency_omit = UNSTORED_FIELDS  # type: ignore[attr-defined]
    return response


class WebhookEndpointListCreateApi(ApiView, generics.ListAPIView):
    serializer_class = WebhookEndpointSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.endpoints_of(self.request.user)

    @extend_schema(
        operation_id="list_webhook_endpoints",
        summary="List your webhook endpoints",
        description=(
            "Your endpoints, newest first, cursor-paginated; any authenticated user. Secrets "
            "are never listed."
        ),
        responses={200: WebhookEndpointSerializer(many=True), **problem_responses(401)},
        examples=[OpenApiExample("An endpoint", response_only=True, value=EXAMPLE_ENDPOINT_READ)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="create_webhook_endpoint",
        summary="Register a webhook endpoint",
        description=(
            "`events` empty or absent subscribes to every event type. The URL must be http(s) "
            "and resolve to public addresses (422 `validation_error` on `url` otherwise). "
            + SECRET_NOTE
        ),
        request=WebhookEndpointCreateSerializer,
        responses={
            201: WebhookEndpointWithSecretSerializer,
            **problem_responses(400, 401, 422),
        },
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Subscribe", request_only=True, value=EXAMPLE_ENDPOINT),
            OpenApiExample("Created", response_only=True, value=EXAMPLE_ENDPOINT_RESPONSE),
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(WebhookEndpointCreateSerializer, request)
        endpoint = services.create_endpoint(actor=request.user, **data)
        return with_secret(
            WebhookEndpointWithSecretSerializer(endpoint).data, status.HTTP_201_CREATED
        )


class WebhookEndpointDetailApi(ApiView):
    @extend_schema(
        operation_id="get_webhook_endpoint",
        summary="A webhook endpoint of yours",
        description=(
            "One of your endpoints, without its secret; someone else's is 404 `not_found`."
        ),
        responses={200: WebhookEndpointSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("An endpoint", response_only=True, value=EXAMPLE_ENDPOINT_READ)],
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_for(request.user, endpoint_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="update_webhook_endpoint",
        summary="Change a webhook endpoint",
        description=(
            "Send only the fields to change on one of your endpoints (someone else's: 404). A "
            "new URL is checked like on create (422 `validation_error`)."
        ),
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, **problem_responses(400, 401, 404, 422)},
        examples=[
            OpenApiExample("Pause", request_only=True, value={"is_active": False}),
            OpenApiExample(
                "Paused", response_only=True, value={**EXAMPLE_ENDPOINT_READ, "is_active": False}
            ),
        ],
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_for(request.user, endpoint_id)
        data = parse(WebhookEndpointUpdateSerializer, request, partial=True)
        endpoint = services.update_endpoint(actor=request.user, endpoint=endpoint, **data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="delete_webhook_endpoint",
        summary="Delete a webhook endpoint",
        description=(
            "Deletes one of your endpoints (someone else's: 404); its delivery log goes with "
            "it and nothing more is sent to it."
        ),
        responses={204: None, **problem_responses(401, 404)},
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_for(request.user, endpoint_id)
        services.delete_endpoint(actor=request.user, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretApi(ApiView):
    @extend_schema(
        operation_id="rotate_webhook_endpoint_secret",
        summary="Replace the signing secret",
        description="Every attempt from now on, retries included, is signed with the new "
        "secret. Someone else's endpoint is 404 `not_found`. " + SECRET_NOTE,
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer, **problem_responses(401, 404)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[OpenApiExample("Rotated", response_only=True, value=EXAMPLE_ENDPOINT_RESPONSE)],
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_for(request.user, endpoint_id)
        endpoint = services.rotate_endpoint_secret(actor=request.user, endpoint=endpoint)
        return with_secret(WebhookEndpointWithSecretSerializer(endpoint).data, status.HTTP_200_OK)


class DeliveryListApi(ApiView, generics.ListAPIView):
    serializer_class = DeliverySerializer
    filter_backends: list = []

    def get_queryset(self):
        endpoint = selectors.endpoint_for(self.request.user, self.kwargs["endpoint_id"])
        return selectors.deliveries_of(endpoint)

    @extend_schema(
        operation_id="list_webhook_deliveries",
        summary="Delivery log of one of your endpoints",
        description=(
            "Deliveries to one of your endpoints (someone else's: 404), newest first: status, "
            "attempts, last HTTP status or error, next attempt."
        ),
        responses={200: DeliverySerializer(many=True), **problem_responses(401, 404)},
        examples=[
            OpenApiExample("A retrying delivery", response_only=True, value=EXAMPLE_DELIVERY)
        ],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class DeliveryRetryApi(ApiView):
    @extend_schema(
        operation_id="retry_webhook_delivery",
        summary="Retry a failed delivery",
        description=(
            "Makes a `failed` delivery `pending` again and sends it now; attempts are kept, so "
            "this is one more attempt. Any other status is 409 `invalid_state`."
        ),
        request=None,
        responses={200: DeliverySerializer, **problem_responses(401, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Queued again",
                response_only=True,
                value={**EXAMPLE_DELIVERY, "attempts": 10, "last_status_code": None},
            )
        ],
    )
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        delivery = selectors.delivery_for(request.user, endpoint_id, delivery_id)
        delivery = services.retry_delivery(actor=request.user, delivery_id=delivery.pk)
        return Response(DeliverySerializer(delivery).data)


class EventListApi(ApiView, generics.ListAPIView):
    serializer_class = EventSerializer
    filter_backends: list = []

    def get_queryset(self):
        query = parse(EventQuerySerializer, self.request, data=self.request.query_params)
        return selectors.events_for(self.request.user, event_type=query.get("type"))

    def get_serializer_context(self):
        if getattr(self, "swagger_fake_view", False):
            return super().get_serializer_context()
        return {
            **super().get_serializer_context(),
            "shown_to": selectors.event_scope(self.request.user),
        }

    @extend_schema(
        operation_id="list_events",
        summary="Events visible to you, newest first",
        description=(
            "For catch-up polling next to webhooks: events about accounts you own (staff: all). "
            "Items are exactly the webhook bodies."
        ),
        parameters=[EventQuerySerializer],
        responses={200: EventSerializer(many=True), **problem_responses(400, 401)},
        examples=[OpenApiExample("An event", response_only=True, value=EXAMPLE_EVENT)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.models import EVENT_TYPES, Delivery, Event, WebhookEndpoint
from webhooks.representations import event_data


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "description", "created_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """Only the create and rotate-secret responses carry the signing secret."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        default=list,
        help_text="Event types to receive; empty or absent = all.",
    )
    description = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default=""
    )
    is_active = serializers.BooleanField(required=False, default=True)


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    event = serializers.UUIDField(source="event_id", read_only=True)
    endpoint = serializers.CharField(source="endpoint.public_id", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "endpoint",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
        ]


class EventSerializer(serializers.Serializer):
    """The same dict as a webhook body (`webhooks.representations.event_data`)."""

    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    created_at = serializers.DateTimeField()
    # The event's `data` field shadows Serializer.data in the stubs (DRF keeps declared fields
    # apart, in _declared_fields): the field is the documented name in the API.
    data = serializers.SerializerMethodField()  # type: ignore[assignment]

    def to_representation(self, event: Event) -> dict:
        # context["shown_to"] from webhooks.selectors.event_scope(viewer); without it the
        # least revealing view (0 is nobody's user id).
        return event_data(event, self.context.get("shown_to", 0))

    @extend_schema_field(serializers.DictField())
    def get_data(self, event: Event) -> dict:
        return event.payload_for(self.context.get("shown_to", 0))


class EventQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=EVENT_TYPES, required=False)

from django.contrib.auth import get_user_model
from rest_framework import serializers

from gimlet import services
from gimlet.api.scoping import SlugRelatedField
from gimlet.models import Membership, Role, Tenant

# Enough for a team's shared inboxes; a longer list belongs in a mailing list.
MAX_ALERT_EMAILS = 20


def acting_user(serializer):
    return serializer.context["request"].user


class TenantSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=Role.choices,
        read_only=True,
        help_text="The caller's role in the tenant; admin for superusers.",
    )
    alert_emails = serializers.ListField(
        child=serializers.EmailField(),
        max_length=MAX_ALERT_EMAILS,
        required=False,
        help_text="Extra addresses that receive the tenant's alerts, besides "
        "its admins.",
    )

    class Meta:
        model = Tenant
        fields = ["slug", "name", "role", "alert_emails", "created_at"]
        read_only_fields = ["slug", "created_at"]

    def update(self, instance, validated_data):
        return services.tenant_update(
            tenant=instance, actor=acting_user(self), **validated_data
        )


class TenantCreateSerializer(TenantSerializer):
    class Meta(TenantSerializer.Meta):
        read_only_fields = ["created_at"]

    def create(self, validated_data):
        tenant = services.tenant_create(actor=acting_user(self), **validated_data)
        # Only superusers create tenants, and they act as admins of all.
        tenant.role = Role.ADMIN
        return tenant


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]
        read_only_fields = ["created_at"]

    def update(self, instance, validated_data):
        return services.membership_update(
            membership=instance,
            actor=acting_user(self),
            role=validated_data.get("role", instance.role),
        )


class MembershipCreateSerializer(MembershipSerializer):
    username = SlugRelatedField(
        source="user",
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        help_text="The user name of an existing, active user.",
        # A text input: a select would list every user of the platform.
        style={"base_template": "input.html"},
        error_messages={
            "does_not_exist": "No active user named {value} was found. Check "
            "the spelling, or ask a platform admin to create the user first."
        },
    )

    class Meta(MembershipSerializer.Meta):
        validators = []

    def create(self, validated_data):
        return services.membership_add(
            tenant=self.context["tenant"],
            actor=acting_user(self),
            user=validated_data["user"],
            role=validated_data.get("role", Role.MEMBER),
        )

"""Filters on related objects that cost no query of their own.

django-filter's ModelChoiceFilter reads the related row to validate an id
before it filters, one query per filtered request, and makes each form
depend on the request. `ReferenceFilter` checks only the value's form and
filters on it. Whether the object exists among the user's tenants matters
only when the filtered list comes out empty: a row in the user's tenants
that points at the object proves it is there. `FilterBackend` keeps the
filterset on the view so that the list can call `check_references()` then,
and report an id of another tenant exactly like an id that does not exist.
"""

import copy

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django_filters import rest_framework as filters
from django_filters.filters import BooleanFilter, QuerySetRequestMixin
from rest_framework import exceptions

from gimlet.api.scoping import filter_by_tenant


class ReferenceField(forms.Field):
    """A related object's id or other unique field, in that field's form."""

    default_error_messages = {"invalid_choice": "%(value)s not found."}

    def __init__(self, *, model_field, **kwargs):
        self.model_field = model_field
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            if "\x00" in str(value):
                # PostgreSQL cannot compare text with a NUL character.
                raise ValidationError("NUL character")
            return self.model_field.to_python(value)
        except ValidationError:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            ) from None


class ReferenceFilter(filters.Filter):
    """Filter on the id (or `to_field_name`) of an object of the user's tenants.

    `model` is the related model and `tenant_path` the lookup from it to its
    Tenant ("pk" for Tenant itself).
    """

    field_class = ReferenceField

    def __init__(self, *, model, tenant_path, to_field_name="pk", **kwargs):
        self.related_model = model
        self.tenant_path = tenant_path
        self.to_field_name = to_field_name
        name = model._meta.verbose_name
        kwargs.setdefault("error_messages", {}).setdefault(
            "invalid_choice", f"{name[:1].upper()}{name[1:]} %(value)s not found."
        )
        if to_field_name == "pk":
            kwargs["model_field"] = model._meta.pk
        else:
            kwargs["model_field"] = model._meta.get_field(to_field_name)
        super().__init__(**kwargs)

    def filter(self, queryset, value):
        if value is None:
            return queryset
        # Django reads "<fk>__pk" from the foreign key column, without a join.
        return queryset.filter(**{f"{self.field_name}__{self.to_field_name}": value})

    def exists(self, request, value):
        """Return whether the user may see the object that `value` names."""
        visible = self.related_model._base_manager.filter(**{self.to_field_name: value})
        return filter_by_tenant(visible, request, self.tenant_path).exists()


class StrictBooleanField(forms.NullBooleanField):
    """A boolean of true or false (or 1 or 0): any other value is invalid.

    Django's NullBooleanField reads a value it does not know as None, so a
    filter such as `?expiring=maybe` would be ignored without a word.
    """

    widget = forms.Select(
        choices=[("", "---------"), ("true", "true"), ("false", "false")]
    )

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise ValidationError("Enter true or false.", code="invalid")


class StrictBooleanFilter(BooleanFilter):
    """A boolean filter that rejects values it does not recognise.

    Built on django-filter's own BooleanFilter: the one for DRF reads the
    query through a widget that turns unknown values into None first.
    """

    field_class = StrictBooleanField


class SlugReferenceFilter(ReferenceFilter, filters.CharFilter):
    """A `ReferenceFilter` on a text field, documented as a string."""


class SharedFields(dict):
    """Form fields that every instance of a form uses as they are.

    Django's form deep-copies its class's fields for each instance, so that
    an instance may change its own. A filter form never does, and copying
    the choice fields and their widgets costs more than validating them.
    """

    def __deepcopy__(self, memo):
        return dict(self)


class FilterSet(filters.FilterSet):
    """A FilterSet whose `ReferenceFilter`s are checked on demand.

    When no filter depends on the request (ModelChoiceFilter and its kin
    do), every request gets the same form. Then the form class is built
    once per FilterSet class, and neither the filters nor the form's fields
    are deep-copied for each request.
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if not self._request_independent():
            super().__init__(data, queryset, request=request, prefix=prefix)
            return
        # django-filter deep-copies every filter for each request, because
        # a filter that reads the request changes its own state. These do
        # not, so a shallow copy per request is enough.
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, base in self.base_filters.items():
            filter_ = copy.copy(base)
            if filter_.method is not None:
                # Bind the method filter to this copy, not to the base.
                filter_.method = filter_.method
            filter_.model = queryset.model
            filter_.parent = self
            self.filters[name] = filter_

    @classmethod
    def _request_independent(cls):
        independent = cls.__dict__.get("_independent")
        if independent is None:
            independent = not any(
                isinstance(filter_, QuerySetRequestMixin)
                for filter_ in cls.base_filters.values()
            )
            cls._independent = independent
        return independent

    def get_form_class(self):
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            if self._request_independent():
                form_class.base_fields = SharedFields(form_class.base_fields)
                cls._form_class = form_class
        return form_class

    def check_references(self):
        """Raise "not found" for a reference to an object the user may not see."""
        for name, filter_ in self.filters.items():
            if not isinstance(filter_, ReferenceFilter):
                continue
            value = self.form.cleaned_data.get(name)
            if value is not None and not filter_.exists(self.request, value):
                message = self.form.fields[name].error_messages["invalid_choice"]
                raise exceptions.ValidationError({name: [message % {"value": value}]})


class FilterBackend(filters.DjangoFilterBackend):
    """DRF's django-filter backend, leaving the filterset on the view."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        view.filterset = filterset
        return filterset

"""Fill in and submit admin forms as a browser would, from the page's HTML.

Reading the form from the page keeps the tests independent of how the
admin lays its fields out: hidden inputs such as the inline formsets'
management forms are sent as the page has them.
"""

from html.parser import HTMLParser

SKIPPED_TYPES = {"submit", "button", "image", "reset", "file"}


class FormParser(HTMLParser):
    """Collect the fields of every <form> on a page, by form id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.fields = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.fields = {}
            self.forms.append((attrs.get("id"), self.fields))
            return
        if self.fields is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in SKIPPED_TYPES:
                return
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.fields[name] = attrs.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self.select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self.select and "selected" in attrs:
            self.fields[self.select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self.textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self.textarea and self.fields is not None:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.fields = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(page, form_id=None):
    """Return the fields of the form `form_id`, or of the largest form."""
    parser = FormParser()
    parser.feed(page)
    if form_id is not None:
        return next(fields for found, fields in parser.forms if found == form_id)
    return max((fields for _, fields in parser.forms), key=len, default={})


def submit(client, url, values, *, form_id=None, drop=(), **extra):
    """GET `url`, fill its form with `values`, POST it; return the response."""
    page = client.get(url, **extra)
    assert page.status_code == 200, (url, page.status_code)
    data = form_fields(page.content.decode(), form_id)
    for name in drop:
        data.pop(name, None)
    data.update(values)
    return client.post(url, data, **extra)


def admin_form_errors(response):
    """Return {field: [messages]} of the admin form on a re-rendered page."""
    context = response.context
    if context is None or "adminform" not in context:
        return {}
    errors = dict(context["adminform"].form.errors)
    for formset in context.get("inline_admin_formsets", []):
        for form_errors in formset.formset.errors:
            errors.update(form_errors)
        if formset.formset.non_form_errors():
            errors["__formset__"] = formset.formset.non_form_errors()
    return errors

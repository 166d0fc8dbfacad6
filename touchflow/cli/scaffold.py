"""`touchflow init DIR`: a new project that validates and previews at once, its messages
extending the layouts in init_layouts/ (whole HTML documents, a footer)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from touchflow.errors import UserError

FILES: dict[str, str] = {
    "touchflow.yaml": """\
# touchflow project settings; every key is explained in docs/configuration.md.
name: My Shop
timezone: Europe/Berlin        # for customers without their own time zone
locale: en
country: DE                    # public holidays for customers without a country
send_time: "09:00"             # date-based rules send at this local time unless they say `at`
store: .touchflow/store.sqlite3
sample: sample                 # demo data, loaded into an empty store

email:
  from: "My Shop <hello@example.com>"
  postal_address: "1 Main Street, 10115 Berlin, Germany"   # shown in marketing footers

vars:
  shop_name: My Shop

customer_attributes:
  tags: list

events:
  purchase_completed: {order_id: string, total: string}
""",
    "rules/thank-you.yaml": """\
# One rule per list item; see docs/rules.md for every key.
- id: purchase-thank-you
  description: Thank the customer two hours after a purchase.
  category: transactional
  trigger:
    event: purchase_completed
    occurrence: event.data.order_id
  send: 2 hours after
  action:
    template: thank_you
""",
    "message_templates/thank_you/subject.txt": (
        "Thank you for your order, {{ customer.first_name }}\n"
    ),
    "message_templates/thank_you/body.txt": """\
{% extends "base.txt" %}
{% block content %}
Hello {{ customer.first_name }},

thank you for order {{ event.data.order_id }} ({{ event.data.total }}) on
{{ event.at | date('long') }}.

{{ vars.shop_name }}
{% endblock %}
""",
    "message_templates/thank_you/body.html": """\
{% extends "base.html" %}
{% block content %}
<p>Hello {{ customer.first_name }},</p>
<p>thank you for order {{ event.data.order_id }} ({{ event.data.total }}) on
{{ event.at | date('long') }}.</p>
<p>{{ vars.shop_name }}</p>
{% endblock %}
""",
    "sample/customers.jsonl": (
        '{"id": "c-1", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", '
        '"timezone": "Europe/London", "country": "GB", "customer_since": "{{ date(-400) }}", '
        '"consent_marketing": true, "tags": ["vip"]}\n'
    ),
    "sample/events.jsonl": (
        '{"id": "e-1", "type": "purchase_completed", "customer": "c-1", '
        "\"at\": \"{{ at(days=1, time='10:00', tz='Europe/London') }}\", "
        '"data": {"order_id": "o-1", "total": "£42.00"}}\n'
    ),
    ".gitignore": ".touchflow/\npreview-eml/\n",
}


# The layouts every message extends (docs/rules.md §8.5): the sample project's own, kept
# beside this module as files (a test compares them with the sample's).
LAYOUTS = ("base.html", "base.txt")


def starter_files() -> dict[str, str]:
    layouts = resources.files("touchflow.cli") / "init_layouts"
    return {
        **FILES,
        **{f"message_templates/_layouts/{n}": (layouts / n).read_text("utf-8") for n in LAYOUTS},
    }


def scaffold(directory: Path) -> list[Path]:
    """Write the starter files; refuse to overwrite anything."""
    files = starter_files()
    clashes = [name for name in files if (directory / name).exists()]
    if clashes:
        raise UserError(f"{directory} already has {', '.join(clashes)}; choose an empty directory")
    created = []
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    return created

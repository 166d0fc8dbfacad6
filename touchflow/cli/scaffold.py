"""`touchflow init DIR`: a new project that validates and previews at once."""

from __future__ import annotations

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
Hello {{ customer.first_name }},

thank you for order {{ event.data.order_id }} ({{ event.data.total }}) on
{{ event.at | date('long') }}.

{{ vars.shop_name }}
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


def scaffold(directory: Path) -> list[Path]:
    """Write the starter files; refuse to overwrite anything."""
    clashes = [name for name in FILES if (directory / name).exists()]
    if clashes:
        raise UserError(f"{directory} already has {', '.join(clashes)}; choose an empty directory")
    created = []
    for name, text in FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    return created

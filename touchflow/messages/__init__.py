"""Messages: render templates, compose RFC 5322 bytes, sign them, and unsubscribe links."""

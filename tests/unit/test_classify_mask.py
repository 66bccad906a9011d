"""mask_value: keeps the format, never the value."""

from __future__ import annotations

import pytest

from assay.classify import mask_value


@pytest.mark.parametrize(
    ("label", "raw", "masked"),
    [
        ("email", "jane.doe@example.com", "j***@e***.com"),
        ("email", "mkim1@mail.example.co.uk", "m***@m***.uk"),
        ("email", "a@b.io", "***@***.io"),
        ("email", "not-an-email", "n***"),
        ("phone", "+33 1 99 00 76 61", "+** * ** ** ** 61"),
        ("phone", "(617) 555-0128", "(***) ***-**28"),
        ("card_number", "4111 1111 1111 1111", "**** **** **** 1111"),
        ("card_number", "378282246310005", "***********0005"),
        ("ip_address", "192.0.2.206", "192.*.*.*"),
        ("ip_address", "2001:db8::42", "2001:*:*:*"),
        ("ip_address", "fe80::1%eth0", "fe80:*:*:*"),  # a scope id made ipaddress.exploded raise
        ("ip_address", "999.1.1.1", "9***"),
        ("postal_code", "SW1A 1AA", "S*** ***"),
        ("postal_code", "30693", "3****"),
        ("person_name", "Sofia de Vries", "S*** d*** V***"),
        ("person_name", "Li", "L***"),
        ("address", "98 rue des Écoles", "# r*** d*** É***"),
        ("address", "Hauptstraße 93", "H*** #"),
        ("product_title", "Acme Sofa", "A***"),
        ("email", "   ", ""),
        ("person_name", "X", "***"),
    ],
)
def test_mask_value(label: str, raw: str, masked: str) -> None:
    assert mask_value(label, raw) == masked
    if raw.strip():
        assert raw.strip() not in mask_value(label, raw)


def test_masks_do_not_leak_length_of_words() -> None:
    assert mask_value("person_name", "Al Bo") == mask_value("person_name", "Alexandra Bonaparte")

"""Shared error helpers of core."""

from __future__ import annotations

import pytest

from tinhso.core.errors import InvalidInput, require_values


def test_a_partial_update_may_leave_out_but_not_null_a_required_field() -> None:
    require_values({"comment": None, "name_vi": "Sở Y tế"}, ("name_vi", "code"))
    with pytest.raises(InvalidInput) as raised:
        require_values({"name_vi": None}, ("name_vi",))
    error = raised.value
    assert [item.field for item in error.errors] == ["name_vi"]
    assert "name_vi" in error.message.vi
    assert "name_vi" in error.message.en

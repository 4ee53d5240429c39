"""The fixed prompts of a flow, found for rendering ahead of calls."""

from __future__ import annotations

from pathlib import Path

from dialog.flow_loader import load_flow
from dialog.prompts import is_static, static_prompts

CLINIC = Path(__file__).resolve().parents[2] / "config" / "flows" / "clinic.yaml"


def test_the_clinic_prompts_without_fields() -> None:
    spec = load_flow(CLINIC).spec
    prompts = static_prompts(spec)
    assert "Thank you for calling Riverside Clinic. This call may be recorded." in prompts
    assert spec.escalation.unavailable.strip() in prompts
    assert spec.reprompt.no_match in prompts
    assert all("{" not in p for p in prompts)
    assert len(prompts) == len(set(prompts))
    # the menu greets the caller by name: rendered per call, not ahead
    assert spec.states["main_menu"].say not in prompts


def test_is_static() -> None:
    assert is_static("Goodbye.")
    assert not is_static("Hello {appointment.patient_name}.")
    assert not is_static("Bad {field")

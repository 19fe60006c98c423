"""Built-in VIF plug providers: ``dummy`` (tests, reference comparison) and
``representor`` (SmartNIC/DPU VF representor ports)."""

from __future__ import annotations

import fireflytx

EXPECTED = {
    "CompensationError", "CompensationPolicy", "DefinitionError", "FireflyTxError", "FireflyTxSettings",
    "FromStep", "InputValidationError", "JavaExecutionError", "SagaContext", "SagaEngine", "SagaResult",
    "SagaSpec", "SagaStatus", "StepError", "StepFailedError", "StepOutcome", "StepSpec", "StepStatus",
    "StepTimeoutError", "UnsupportedResultError", "__version__", "compensation_step", "definition_of",
    "saga", "saga_step", "sub_saga", "SubSagaFailedError", "UnknownSagaError",
    "TccCancelError", "TccConfirmError", "TccContext", "TccEngine", "TccParticipantOutcome",
    "TccParticipantStatus", "TccPhaseOutcome", "TccPhaseStatus", "TccResult", "TccSpec", "TccStatus",
    "TccInputs", "UnknownParticipantError",
    "cancel_method", "confirm_method", "tcc", "tcc_definition_of", "tcc_participant", "try_method",
    "JournalError", "RecordedFailure", "TransactionCancelledError",
    "EngineError", "EngineFullError", "EngineNotStartedError", "GraphvizNotFoundError", "JarsError",
    "JavaNotFoundError", "JvmStartError", "RenderError", "SettingsFileError", "TransactionError",
    "WorkersStoppedError", "ParticipantView", "PhaseView", "StepView", "UnitStatus",
    "FanOutError", "FanOutItem",
}


def test_listeners_module_is_public() -> None:
    import fireflytx.listeners as listeners

    assert set(listeners.__all__) == {
        "AttemptFinished", "AttemptStarted", "Decision", "DecisionMade", "Journal", "Observer", "Phase",
        "RunEvent", "TransactionFinished", "TransactionKind", "TransactionStarted",
    }


def test_public_names_are_pinned() -> None:
    assert set(fireflytx.__all__) == EXPECTED
    for name in fireflytx.__all__:
        assert getattr(fireflytx, name) is not None


def test_every_public_error_class_is_exported_from_the_package() -> None:
    from fireflytx import errors

    missing = [name for name in errors.__all__ if getattr(fireflytx, name, None) is not getattr(errors, name)]
    assert missing == []
    for name in errors.__all__:
        assert issubclass(getattr(fireflytx, name), fireflytx.FireflyTxError)


def test_importing_fireflytx_does_not_start_or_import_the_jvm() -> None:
    import subprocess
    import sys

    code = "import sys, fireflytx; print('jpype' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

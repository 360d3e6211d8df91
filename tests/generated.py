"""Running schemathesis's generated cases for one operation, and tallying the answers.

Shared by the two contract tests: the service's own OpenAPI document
(``test_schemathesis.py``) and the ASTM F3548 document (``test_dss_schemathesis.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

__all__ = ["Tally", "run_generated"]


@dataclass
class Tally:
    cases: int = 0
    statuses: dict[str, set[int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    #: Runs of invalid input for operations that take none: nothing in them can be spoilt.
    nothing_invalid: list[str] = field(default_factory=list)


def run_generated(
    operation: Any,
    mode: GenerationMode,
    strategy: Any,
    call: Callable[[Any], Any],
    label: str,
    tally: Tally,
    max_examples: int,
) -> None:
    """Call and check every generated case of ``strategy``; failures go in ``tally``."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        tally.cases += 1
        response = call(case)
        tally.statuses.setdefault(operation.label, set()).add(response.status_code)

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Schemathesis's own runner drops the negative mode of such operations likewise:
        # no parameters, or only path strings without constraints, and no body.
        tally.nothing_invalid.append(label)
    # Every failing run is reported, not only the first. Schemathesis raises a FailureGroup,
    # a BaseExceptionGroup that ``except Exception`` would let through.
    except (Exception, BaseExceptionGroup) as exc:
        tally.failures[label] = f"{type(exc).__name__}: {exc}"

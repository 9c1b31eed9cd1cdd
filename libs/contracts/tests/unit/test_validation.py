"""Validators reject what a consumer could not act on."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from tradelab_contracts.auth import (
    AUTH_REQUEST_ADAPTER,
    AuthError,
    AuthErrorCode,
    AuthReply,
    RefreshSession,
    RegisterUser,
)
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.montecarlo import MonteCarloMethod, RunMonteCarlo
from tradelab_contracts.optimization import (
    Constraint,
    Objective,
    ParameterRange,
    RunOptimization,
    RunOptimizationChunk,
)
from tradelab_contracts.sealed import SealedSecret

OWNER = UUID(int=1)
JOB = UUID(int=2)
SHA = "0" * 64
REPLY_TO = "gateway.rpc.reply-gw-1.v1"
SEALED = {"kid": "k1", "nonce": "A" * 16, "ciphertext": "B" * 32}


@pytest.mark.parametrize(
    "options",
    [
        {"fee_rate": -1},
        {"fee_rate": 0.5},
        {"slippage_bps": 2_000},
        {"stop_loss": 1.0},
        {"sizing": "fraction", "size": 1.5},
        {"size": 0},
        {"fill_at": "same_bar_high"},
        {"fees": 0.001},
    ],
    ids=str,
)
def test_engine_options_refuse_out_of_range_or_unknown_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EngineOptions.model_validate(options)


def test_engine_options_allow_many_units_when_sizing_by_units() -> None:
    options = EngineOptions(sizing="units", size=150, whole_units=True)

    assert options.size == 150
    assert options.fill_at == "next_open"
    assert options.both_hit_rule == "stop_first"


def _monte_carlo(**fields: Any) -> RunMonteCarlo:
    base = {"simulation_id": JOB, "owner_id": OWNER, "n_simulations": 100, "seed": 1}
    return RunMonteCarlo.model_validate(base | fields)


def test_bootstrap_monte_carlo_without_a_source_run_is_refused() -> None:
    with pytest.raises(ValidationError, match="source_run_id"):
        _monte_carlo(method=MonteCarloMethod.BOOTSTRAP_TRADES)


def test_price_path_monte_carlo_needs_the_dataset_and_strategy() -> None:
    with pytest.raises(ValidationError, match="dataset_uri"):
        _monte_carlo(method="gbm_paths", dataset_id=str(JOB), strategy="sma_cross")

    study = _monte_carlo(
        method="gbm_paths",
        dataset_id=str(JOB),
        dataset_uri="file:///d.parquet",
        dataset_sha256=SHA,
        strategy="sma_cross",
    )
    assert study.priority == "normal"


def test_monte_carlo_refuses_more_than_a_million_simulations() -> None:
    with pytest.raises(ValidationError, match="n_simulations"):
        _monte_carlo(method="bootstrap_returns", source_run_id=str(JOB), n_simulations=1_000_001)


def test_auth_request_union_parses_the_command_named_by_kind() -> None:
    payload = json.dumps({"kind": "refresh", "refresh_token": SEALED, "reply_to": REPLY_TO})

    request = AUTH_REQUEST_ADAPTER.validate_json(payload)

    assert isinstance(request, RefreshSession)
    assert request.refresh_token.kid == SEALED["kid"]


def test_auth_request_refuses_a_secret_in_clear() -> None:
    payload = json.dumps({"kind": "refresh", "refresh_token": "opaque", "reply_to": REPLY_TO})

    with pytest.raises(ValidationError, match="refresh_token"):
        AUTH_REQUEST_ADAPTER.validate_json(payload)


def test_sealed_secret_repr_shows_the_key_id_only() -> None:
    sealed = SealedSecret.model_validate(SEALED)

    assert SEALED["ciphertext"] not in repr(sealed)
    assert SEALED["nonce"] not in repr(sealed)


def test_auth_request_union_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValidationError, match="kind"):
        AUTH_REQUEST_ADAPTER.validate_python({"kind": "delete_user", "reply_to": REPLY_TO})


def test_registration_refuses_an_empty_password_and_a_malformed_email() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterUser.model_validate({"email": "no-at-sign", "password": "", "reply_to": REPLY_TO})

    assert {e["loc"][0] for e in caught.value.errors()} == {"email", "password"}


def test_auth_reply_carries_an_error_exactly_when_not_ok() -> None:
    error = AuthError(code=AuthErrorCode.THROTTLED, message="slow down", retry_after_s=30)

    with pytest.raises(ValidationError, match="exactly when"):
        AuthReply(request_id=JOB, ok=False)
    with pytest.raises(ValidationError, match="exactly when"):
        AuthReply(request_id=JOB, ok=True, error=error)
    assert AuthReply(request_id=JOB, ok=False, error=error).error == error


def test_parameter_range_includes_its_stop_and_drops_float_noise() -> None:
    assert ParameterRange(start=5, stop=50, step=5).values() == list(range(5, 55, 5))
    assert ParameterRange(start=0.1, stop=0.3, step=0.1).values() == [0.1, 0.2, 0.3]
    assert ParameterRange(start=1, stop=2, step=0.4).count() == 3


def test_parameter_range_refuses_a_stop_below_start_and_a_zero_step() -> None:
    with pytest.raises(ValidationError, match="below start"):
        ParameterRange(start=10, stop=5, step=1)
    with pytest.raises(ValidationError, match="greater than 0"):
        ParameterRange(start=1, stop=5, step=0)


def _optimization(**fields: Any) -> RunOptimization:
    base = {
        "optimization_id": JOB,
        "owner_id": OWNER,
        "dataset_id": JOB,
        "dataset_uri": "file:///d.parquet",
        "dataset_sha256": SHA,
        "strategy": "sma_cross",
        "parameter_space": {"fast": [5, 10], "slow": {"start": 20, "stop": 60, "step": 20}},
        "objective": {"metric": "sharpe"},
    }
    return RunOptimization.model_validate(base | fields)


def test_optimization_defaults_to_grid_search_and_parses_ranges() -> None:
    optimization = _optimization(search={"kind": "random", "n_samples": 10, "seed": 3})

    assert optimization.search.kind == "random"
    assert optimization.parameter_space["slow"] == ParameterRange(start=20, stop=60, step=20)
    assert _optimization().search.kind == "grid"


def test_optimization_constraint_must_name_parameters_of_the_space() -> None:
    with pytest.raises(ValidationError, match="'medium'"):
        _optimization(constraints=[{"left": "fast", "op": "<", "right": "medium"}])

    ok = _optimization(constraints=[Constraint(left="fast", op=">=", right=5)])
    assert ok.constraints[0].right == 5


def test_optimization_refuses_an_empty_parameter_space_and_a_seedless_random_search() -> None:
    with pytest.raises(ValidationError, match="parameter_space"):
        _optimization(parameter_space={})
    with pytest.raises(ValidationError, match="seed"):
        _optimization(search={"kind": "random", "n_samples": 10})


def test_optimization_chunk_index_must_be_below_the_chunk_count() -> None:
    with pytest.raises(ValidationError, match="chunk_index"):
        RunOptimizationChunk(
            optimization_id=JOB,
            owner_id=OWNER,
            chunk_index=4,
            chunk_count=4,
            combinations=[{"fast": 5}],
            dataset_uri="file:///d.parquet",
            dataset_sha256=SHA,
            strategy="sma_cross",
            options=EngineOptions(),
            objective=Objective(metric="sharpe"),
        )

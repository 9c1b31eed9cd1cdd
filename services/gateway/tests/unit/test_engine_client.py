"""The gateway expects each engine request's own reply class, and refuses another before sending."""

from uuid import UUID

import pytest
from faststream.kafka import KafkaBroker

from tradelab_contracts.engine_rpc import BacktestReply, GetBacktest, OptimizationReply
from tradelab_gateway.adapters.engine_rpc import EngineRpcClient
from tradelab_gateway.adapters.rpc import RpcClient


@pytest.mark.asyncio
async def test_expecting_another_reply_class_than_the_contract_names_is_refused() -> None:
    # Never connected: the refusal comes before anything is published.
    client = EngineRpcClient(RpcClient(KafkaBroker("127.0.0.1:1"), "gw-test", timeout_s=1.0))
    command = GetBacktest(reply_to=client.reply_topic, owner_id=UUID(int=1), run_id=UUID(int=2))

    with pytest.raises(TypeError, match="GetBacktest is answered by BacktestReply"):
        await client.call(command, OptimizationReply)
    assert BacktestReply.model_fields["kind"].default == "engine.backtest"

"""Every Kafka client the services and benchmarks build gets the settings' security: a producer, consumer or admin
client built without it would reach a secured cluster unauthenticated and fail only there. Read from the source
(the call sites), so a new client or a new adapter taking a bootstrap address cannot forget it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
# A deliberately bare aiokafka consumer: the dispatch benchmark's floor, given only a bootstrap address.
BARE = {"bench/dispatch_floor.py"}


def _name(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)]


def _sources() -> list[tuple[str, Path]]:
    files = sorted([*(REPO / "services").rglob("*.py"), *(REPO / "bench").rglob("*.py")])
    return [(str(f.relative_to(REPO)), f) for f in files if str(f.relative_to(REPO)) not in BARE]


def test_every_client_is_built_with_the_security_options() -> None:
    unsecured = []
    for name, path in _sources():
        for call in _calls(path):
            if _name(call) not in CLIENTS:
                continue
            spread = [k.value for k in call.keywords if k.arg is None]
            secured = any(isinstance(v, ast.Call) and _name(v) == "security_options" for v in spread)
            if not secured and not (name == "services/common/kafka.py" and spread):  # durable_producer's options
                unsecured.append(f"{name}:{call.lineno} {_name(call)}")
    assert not unsecured, f"built without **security_options(...): {unsecured}"


def test_every_call_given_a_bootstrap_address_is_given_the_security_too() -> None:
    forgotten = []
    for name, path in _sources():
        for call in _calls(path):
            arguments = [*call.args, *(k.value for k in call.keywords)]
            if _name(call) in CLIENTS or not any("bootstrap" in ast.unparse(a) for a in arguments):
                continue
            if not any("security" in ast.unparse(a) for a in arguments) and "security" not in {
                k.arg for k in call.keywords
            }:
                forgotten.append(f"{name}:{call.lineno} {ast.unparse(call)[:100]}")
    assert not forgotten, f"given a bootstrap address but not the Kafka security: {forgotten}"

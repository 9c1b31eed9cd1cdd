"""Strict validation of Kubernetes objects against the official Python client's API models.

The walk follows each model's ``attribute_map`` (wire names) and ``openapi_types``: a field the
API does not have, a value of the wrong type or a missing required field is reported with its path.
The client's own (pydantic) validation then runs on the whole object as a second opinion.
"""

import re
from typing import Any

import kubernetes.client
from pydantic import BaseModel, ValidationError

# The kinds these manifests may use, by API group, so that a wrong group (a Service under apps/v1)
# fails even though a model of that name exists.
KNOWN_KINDS: dict[str, set[str]] = {
    "": {"Namespace", "ConfigMap", "Secret", "Service", "PersistentVolumeClaim"},
    "apps": {"Deployment"},
    "autoscaling": {"HorizontalPodAutoscaler"},
    "batch": {"Job"},
}

_LIST = re.compile(r"List\[(?P<item>.+)\]")
_DICT = re.compile(r"Dict\[str, (?P<value>.+)\]")


def model_class(api_version: str, kind: str) -> type[BaseModel]:
    """Return the client model of ``apiVersion``/``kind`` (``apps/v1`` Deployment: V1Deployment).

    Raises
    ------
    ValueError
        For a kind outside `KNOWN_KINDS` or a version the client has no model for.
    """
    group, _, version = api_version.rpartition("/")
    if kind not in KNOWN_KINDS.get(group, set()):
        msg = f"unexpected kind {kind!r} in API group {group or 'core'!r}"
        raise ValueError(msg)
    name = version[:1].upper() + version[1:] + kind
    cls = getattr(kubernetes.client, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        msg = f"the Kubernetes client has no model {name} for {api_version} {kind}"
        raise ValueError(msg)
    return cls


def _scalar_problem(value: Any, type_name: str, path: str) -> str | None:
    if type_name == "object":  # IntOrString and free-form values: the model check decides
        return None
    expected: dict[str, tuple[type, ...]] = {
        "str": (str,),
        "datetime": (str,),
        "bytes": (str,),
        "int": (int,),
        "float": (int, float),
        "bool": (bool,),
    }
    if type_name not in expected:
        return f"{path}: unknown type {type_name}"
    wrong_bool = isinstance(value, bool) and type_name != "bool"
    if wrong_bool or not isinstance(value, expected[type_name]):
        return f"{path}: expected {type_name}, got {type(value).__name__} {value!r}"
    return None


def _class_table(model: type[BaseModel], name: str) -> dict[str, str]:
    """Read one of the generated class-level tables (``attribute_map``, ``openapi_types``)."""
    table = getattr(model, name)
    assert isinstance(table, dict), f"{model.__name__}.{name} is not a table"
    return {str(key): str(value) for key, value in table.items()}


def _model_problems(value: Any, model: type[BaseModel], path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({model.__name__}), got {type(value).__name__}"]
    attribute_map = _class_table(model, "attribute_map")
    openapi_types = _class_table(model, "openapi_types")
    attribute_of = {wire: attribute for attribute, wire in attribute_map.items()}
    problems = [
        f"{path}.{key}: no such field in {model.__name__}"
        for key in value
        if key not in attribute_of
    ]
    for attribute, field in model.model_fields.items():
        if field.is_required() and value.get(attribute_map[attribute]) is None:
            problems.append(f"{path}.{attribute_map[attribute]}: required, missing")
    for key, item in value.items():
        if key in attribute_of and item is not None:
            problems += type_problems(item, openapi_types[attribute_of[key]], f"{path}.{key}")
    return problems


def type_problems(value: Any, type_name: str, path: str) -> list[str]:
    """List what is wrong with ``value`` as an instance of the client type ``type_name``."""
    if match := _LIST.fullmatch(type_name):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [
            problem
            for i, item in enumerate(value)
            for problem in type_problems(item, match["item"], f"{path}[{i}]")
        ]
    if match := _DICT.fullmatch(type_name):
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping, got {type(value).__name__}"]
        return [
            problem
            for key, item in value.items()
            for problem in type_problems(item, match["value"], f"{path}.{key}")
        ]
    model = getattr(kubernetes.client, type_name, None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return _model_problems(value, model, path)
    problem = _scalar_problem(value, type_name, path)
    return [problem] if problem else []


def object_problems(document: dict[str, Any]) -> list[str]:
    """List what is wrong with one manifest object (empty when the API would accept its shape)."""
    name = document.get("metadata", {}).get("name", "?")
    where = f"{document.get('kind')}/{name}"
    try:
        model = model_class(str(document.get("apiVersion")), str(document.get("kind")))
    except ValueError as exc:
        return [f"{where}: {exc}"]
    problems = _model_problems(document, model, where)
    if not problems:
        try:
            model.model_validate(document)
        except ValidationError as exc:
            problems.append(f"{where}: {exc}")
    return problems

"""Run a pipeline's components in graph order, without the copies ``Pipeline.run`` makes between them.

``Pipeline.run`` deep-copies every value it hands to a component (the caller's inputs and each output passed on),
so that a component that changes its input cannot change what another one sees. On the ask pipeline that copying
costs more than ranking and composing together: ranked documents with their records, then typed records, then the
answer, copied at each hop. The components of the query pipelines never change their inputs (each returns new
documents and dicts: ``dataclasses.replace``, ``{**meta, ...}``, new citation dicts in the translator), which
``tests/pipelines/test_fast_path.py`` checks on real questions.

:class:`FastPath` reads its plan from the pipeline's graph — the order of the components, which output feeds which
input, which inputs are optional and their defaults — so the ``Pipeline`` stays the one definition (built by
:mod:`pipelines.query`, used by tests, evaluation and ``dumps()``): a changed connection changes the fast path too.
It runs a component under the same conditions as Haystack does in an acyclic graph with plain sockets: when all its
mandatory inputs are there and something triggered it (an input from the caller, an output of a predecessor, or no
possible sender at all); an optional input nobody gave gets the socket's default. Graphs beyond that (loops,
variadic sockets, connections that convert types) are refused when the plan is made, not answered differently.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx
from haystack import Pipeline
from haystack.core.errors import PipelineRuntimeError

#: Defaults of these types are passed as they are; any other default is copied for every run, as Haystack does,
#: so that a component which fills a default list cannot change the next run's default.
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, frozenset)


@dataclass(frozen=True)
class _Step:
    """One component of the plan and where each of its inputs comes from."""

    name: str
    instance: Any
    #: (input socket, sending component, its output socket)
    connected: tuple[tuple[str, str, str], ...]
    #: the input sockets in ``connected``
    connected_sockets: frozenset[str]
    mandatory: frozenset[str]
    #: optional input sockets, their defaults, and whether a run gets a copy (a mutable default)
    defaults: tuple[tuple[str, Any, bool], ...]
    #: outputs another component receives: left out of the result unless the caller asks for the component
    consumed: frozenset[str]


def _is_immutable(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_immutable(v) for v in value)
    return isinstance(value, _IMMUTABLE)


class FastPath:
    """Runs a pipeline's components directly, in graph order, passing outputs to inputs without copying them.

    Same inputs and the same result as ``Pipeline.run`` for the pipelines it accepts, without the deep copies:
    the caller's values and the components' outputs are handed on as they are, so a component must not change
    its inputs (none of the query pipeline's components do).

    Usage:
    ```python
    pipeline = build_query_pipeline(settings, index)
    fast = FastPath(pipeline)                       # warms the pipeline up; refuses graphs it cannot run
    fast.run({"language_detector": {"text": q}, ...}, include_outputs_from={"ranker"})
    ask(fast, "Wo finde ich einen Dolmetscher?")   # anything that calls ``pipeline.run`` takes it
    ```
    """

    def __init__(self, pipeline: Pipeline) -> None:
        """
        :param pipeline: the pipeline whose graph is run; it stays the definition (changes to it after this
            call are not seen: make a new ``FastPath``).
        :raises ValueError: for a graph this runner does not handle (a loop, a variadic socket, a connection
            that converts types).
        """
        self.pipeline = pipeline
        self._steps = self._plan(pipeline)
        self._sockets = {step.name: set(step.mandatory) | {s for s, _, _ in step.defaults} for step in self._steps}
        pipeline.warm_up()

    @staticmethod
    def _plan(pipeline: Pipeline) -> tuple[_Step, ...]:
        graph = pipeline.graph
        if not networkx.is_directed_acyclic_graph(graph):
            raise ValueError("the fast path runs acyclic pipelines only")
        steps = []
        # Haystack's own tie-break for acyclic graphs: the lexicographical topological order.
        for name in networkx.lexicographical_topological_sort(graph):
            node = graph.nodes[name]
            variadic = [s for s, socket in node["input_sockets"].items() if socket.is_variadic]
            if variadic:
                raise ValueError(f"the fast path cannot run {name}: variadic inputs {variadic}")
            connected = []
            for sender, _, edge in graph.in_edges(name, data=True):
                if edge.get("conversion_strategy") is not None:
                    raise ValueError(f"the fast path cannot run {sender} -> {name}: the connection converts types")
                connected.append((edge["to_socket"].name, sender, edge["from_socket"].name))
            sockets = node["input_sockets"]
            steps.append(_Step(
                name=name, instance=node["instance"], connected=tuple(connected),
                connected_sockets=frozenset(socket for socket, _, _ in connected),
                mandatory=frozenset(s for s, socket in sockets.items() if socket.is_mandatory),
                defaults=tuple((s, socket.default_value, not _is_immutable(socket.default_value))
                               for s, socket in sockets.items() if not socket.is_mandatory),
                consumed=frozenset(edge["from_socket"].name for _, _, edge in graph.out_edges(name, data=True)),
            ))
        return tuple(steps)

    def _check(self, data: dict[str, dict[str, Any]]) -> None:
        for name, given in data.items():
            if name not in self._sockets:
                raise ValueError(f"Component named '{name}' not found in the pipeline.")
            unknown = set(given) - self._sockets[name]
            if unknown:
                raise ValueError(f"Inputs {sorted(unknown)} not found in component '{name}'.")
        for step in self._steps:
            given = data.get(step.name, {})
            missing = step.mandatory - step.connected_sockets - given.keys()
            if missing:
                raise ValueError(f"Missing mandatory input {sorted(missing)} for component '{step.name}'.")
            twice = step.connected_sockets & given.keys()
            if twice:
                raise ValueError(f"Inputs {sorted(twice)} of '{step.name}' are connected: the pipeline sets them.")

    def run(self, data: dict[str, dict[str, Any]], include_outputs_from: set[str] | None = None) -> dict[str, Any]:
        """Run the pipeline's components on ``data``.

        :param data: inputs per component, ``{"component": {"socket": value}}`` (Haystack's nested form).
        :param include_outputs_from: components whose every output is returned, also those passed on.
        :returns: as ``Pipeline.run``: per component that ran, the outputs no other component receives (or all of
            them for the components in ``include_outputs_from``); components with nothing left are left out.
        :raises ValueError: for inputs Haystack would refuse (unknown component or socket, a missing mandatory
            input, a value for a connected input).
        :raises PipelineRuntimeError: when a component fails (wrapping its exception, as ``Pipeline.run`` does)
            or returns something other than a mapping.
        """
        self._check(data)
        include = include_outputs_from or set()
        produced: dict[str, Mapping[str, Any]] = {}
        result: dict[str, Any] = {}
        for step in self._steps:
            given = data.get(step.name)
            inputs = dict(given) if given else {}
            from_predecessor = False
            for socket, sender, output in step.connected:
                outputs = produced.get(sender)
                if outputs is not None and output in outputs:
                    inputs[socket] = outputs[output]
                    from_predecessor = True
            triggered = from_predecessor or bool(given) or not step.connected
            if not triggered or not step.mandatory <= inputs.keys():
                continue  # Haystack leaves such a component out as well
            for socket, default, mutable in step.defaults:
                if socket not in inputs:
                    inputs[socket] = copy.deepcopy(default) if mutable else default
            outputs = self._run_component(step, inputs)
            produced[step.name] = outputs
            if step.name in include:
                result[step.name] = outputs
            else:
                left = {key: value for key, value in outputs.items() if key not in step.consumed}
                if left:
                    result[step.name] = left
        return result

    @staticmethod
    def _run_component(step: _Step, inputs: dict[str, Any]) -> Mapping[str, Any]:
        try:
            outputs = step.instance.run(**inputs)
        except PipelineRuntimeError:
            raise
        except Exception as error:
            # Wrapped as Pipeline.run wraps it: callers (e.g. the API's retry on a dropped build) look at the cause.
            raise PipelineRuntimeError.from_exception(step.name, type(step.instance), error) from error
        if not isinstance(outputs, Mapping):
            raise PipelineRuntimeError.from_invalid_output(step.name, type(step.instance), outputs)
        return outputs

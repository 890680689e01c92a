"""No import cycle in the service, counting the imports made only for the type checker (issue 29):
modules in a cycle cannot be read, tested or moved one without the others. import-linter's
contracts (pyproject.toml, `lint-imports`) keep the capability packages layered, but see only the
imports made at run time; these tests count `TYPE_CHECKING` imports too, for every module and for
the parts of the core (its packages and loose modules) taken whole."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grimp
import pytest

PACKAGES = ("telephony", "routes", "workers", "ivr")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)


def cycles(nodes: Iterable[str], imported_by: Callable[[str], set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's, without recursion),
    each sorted: every node of one reaches every other through imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def enter(node: str, work: list) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(imported_by(node)))))

    for start in sorted(nodes):
        if start in index:
            continue
        work: list = []
        enter(start, work)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    enter(child, work)
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def describe(component: list[str], imported_by: Callable[[str], set[str]]) -> str:
    """Who imports whom inside one cycle, to see which import to take out."""
    members = set(component)
    edges = [f"  {a} -> {b}" for a in component for b in sorted(imported_by(a) & members)]
    return f"{len(component)} in one cycle:\n" + "\n".join(edges)


LIFECYCLE = "telephony.lifecycle"


def part_of_core(module: str) -> str:
    """telephony.escalation.warm_transfer -> telephony.escalation; a loose module is its own part,
    and so is the pure lifecycle (every part may import its states and events; it imports none)."""
    if module == LIFECYCLE:
        return module
    return ".".join(module.split(".")[:2])


def test_no_module_is_in_an_import_cycle_even_counting_type_checking_imports(graph):
    def imported_by(module: str) -> set[str]:
        return graph.find_modules_directly_imported_by(module) & graph.modules

    found = cycles(graph.modules, imported_by)
    assert not found, "\n\n".join(describe(c, imported_by) for c in found)


def test_no_two_parts_of_the_core_import_each_other_even_counting_type_checking_imports(graph):
    """escalation <-> hold, escalation <-> records (issue 29): a package importing one that
    imports it, directly or round a longer loop, is a back-edge."""
    parts: dict[str, set[str]] = {}
    for module in graph.modules:
        if module.startswith("telephony."):
            part = parts.setdefault(part_of_core(module), set())
            part |= {
                part_of_core(m)
                for m in graph.find_modules_directly_imported_by(module)
                if m.startswith("telephony.") and part_of_core(m) != part_of_core(module)
            }

    found = cycles(parts, lambda part: parts[part])
    assert not found, "\n\n".join(describe(c, lambda part: parts[part]) for c in found)


def test_the_lifecycle_imports_nothing_of_the_service_even_for_the_type_checker(graph):
    """The rules of one escalation's life are read, drawn and tested alone (issue 29)."""
    assert graph.find_modules_directly_imported_by("telephony.lifecycle") == set()

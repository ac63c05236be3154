"""Every environment variable the settings read is documented in `.env.example` and the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list", "env_required"}
# Read by something other than config/settings.py, but documented beside the rest.
DOCUMENTED_ELSEWHERE = {"PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY", "POSTGRES_PASSWORD"}


def variables_read_by_settings() -> set[str]:
    tree = ast.parse((BASE_DIR / "config" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ENV_READERS
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def variables_in_env_example() -> set[str]:
    text = (BASE_DIR / ".env.example").read_text()
    # Both `NAME=value` and commented-out `# NAME=value` count as documented.
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def variables_in_readme_table() -> set[str]:
    text = (BASE_DIR / "README.md").read_text()
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", text, flags=re.MULTILINE))


def test_settings_read_a_plausible_number_of_variables():
    # Guards the parser itself: if it found nothing, the checks below would pass vacuously.
    names = variables_read_by_settings()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "GREENLIGHT_ENV"} <= names


def test_every_setting_variable_is_in_env_example():
    missing = variables_read_by_settings() - variables_in_env_example()
    assert not missing, f"Add to .env.example: {sorted(missing)}"


def test_every_setting_variable_is_in_the_readme_configuration_table():
    missing = variables_read_by_settings() - variables_in_readme_table()
    assert not missing, f"Add to the README configuration table: {sorted(missing)}"


def test_env_example_lists_nothing_the_project_no_longer_reads():
    stale = variables_in_env_example() - variables_read_by_settings() - DOCUMENTED_ELSEWHERE
    assert not stale, f"Remove from .env.example (nothing reads them): {sorted(stale)}"
